"""Checkpoints: :func:`save` and :func:`load` in the safetensors format.

A checkpoint is a plain `safetensors <https://github.com/huggingface/safetensors>`_
file. Every array in the saved object (a :class:`~tapegrad.Tensor`, a NumPy
array or a NumPy scalar) becomes one safetensors tensor named by its key path
joined with dots (``{"fc": {"weight": w}}`` -> ``"fc.weight"``; list items by
their index), so a model's ``state_dict()`` is stored under exactly its own
keys and other tools (``safetensors.torch.load_file``) read it directly. The
rest of the object (dicts, lists, tuples, ``int``, ``float``, ``str``,
``bool``, ``None``, and which arrays were Tensors) is stored as JSON in the
file's metadata under ``"tapegrad.structure"``, so :func:`load` rebuilds it.

A safetensors file written by another tool (no tapegrad metadata) loads as a
flat ``dict`` from tensor name to :class:`~tapegrad.Tensor`, ready for
``load_state_dict``.

Writes are atomic (see :mod:`tapegrad._atomic`): an interrupted :func:`save`
leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_path
from .backend import to_numpy
from .tensor import Tensor

__all__ = ["save", "load"]

FORMAT_KEY = "tapegrad.format"
STRUCTURE_KEY = "tapegrad.structure"
FORMAT_VERSION = "1"

# dtypes that safetensors' NumPy API reads and writes
_SUPPORTED_DTYPES = frozenset(
    np.dtype(d)
    for d in (
        np.float16,
        np.float32,
        np.float64,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.bool_,
        np.complex64,
    )
)
_PLAIN = (bool, int, float, str, type(None))
# safetensors' own limit on the JSON header, checked here to give a clear message
_MAX_HEADER = 100_000_000


def _show(parts: list[str]) -> str:
    return repr(".".join(parts)) if parts else "<root>"


class _Encoder:
    """Walks an object: collects its arrays by dotted name, returns its JSON structure."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _name(self, parts: list[str]) -> str:
        base = ".".join(parts) if parts else "tensor"
        name, i = base, 1
        # {"a.b": x, "a": {"b": y}} both flatten to "a.b": keep both, suffix the later one
        while name in self.arrays:
            name, i = f"{base}#{i}", i + 1
        return name

    def _array(self, arr: np.ndarray, parts: list[str]) -> str:
        arr = np.asarray(arr)
        if arr.dtype not in _SUPPORTED_DTYPES:
            raise TypeError(
                f"tapegrad.save: the array at key path {_show(parts)} has dtype {arr.dtype}, "
                f"which safetensors cannot store (supported: "
                f"{', '.join(sorted(str(d) for d in _SUPPORTED_DTYPES))})"
            )
        name = self._name(parts)
        # safetensors writes the raw buffer, so it must be C-contiguous (and
        # np.ascontiguousarray would turn a 0-d array into 1-d)
        self.arrays[name] = arr if arr.flags.c_contiguous else arr.copy(order="C")
        return name

    def encode(self, obj: Any, parts: list[str]) -> dict[str, Any]:
        if isinstance(obj, Tensor):
            name = self._array(to_numpy(obj._array), parts)
            return {"tensor": name, "requires_grad": bool(obj.requires_grad)}
        if isinstance(obj, np.ndarray):
            return {"ndarray": self._array(obj, parts)}
        if isinstance(obj, np.generic):
            return {"npscalar": self._array(np.asarray(obj), parts)}
        if isinstance(obj, _PLAIN):
            return {"value": obj}
        if isinstance(obj, dict):
            items = []
            for k, v in obj.items():
                if not isinstance(k, (str, int)) or isinstance(k, bool):
                    raise TypeError(
                        f"tapegrad.save: dict keys must be str or int; the dict at key path "
                        f"{_show(parts)} has a key of type {type(k).__name__}: {k!r:.60}"
                    )
                items.append([k, self.encode(v, [*parts, str(k)])])
            return {"dict": items}
        if isinstance(obj, (list, tuple)):
            kind = "list" if isinstance(obj, list) else "tuple"
            return {kind: [self.encode(v, [*parts, str(i)]) for i, v in enumerate(obj)]}
        raise TypeError(
            f"tapegrad.save: cannot save an object of type {type(obj).__module__}."
            f"{type(obj).__qualname__} at key path {_show(parts)}; supported: Tensor, "
            f"numpy array or scalar, dict, list, tuple, int, float, str, bool, None"
        )


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` to ``path`` as a safetensors file, atomically.

    Args:
        obj: a Tensor, a NumPy array, or nested dicts (str or int keys), lists and
            tuples of those and of ``int``, ``float``, ``str``, ``bool``, ``None``
            and NumPy scalars (a model's or optimizer's ``state_dict()``).
        path: destination file; its folder must exist. Conventionally ``*.safetensors``.

    Raises:
        TypeError: for an object, dict key or array dtype that cannot be stored; the
            message names its key path (e.g. ``'layers.0.weight'``) and type.
    """
    enc = _Encoder()
    structure = enc.encode(obj, [])
    metadata = {
        FORMAT_KEY: FORMAT_VERSION,
        STRUCTURE_KEY: json.dumps(structure, separators=(",", ":")),
    }
    from safetensors.numpy import save_file  # deferred: import tapegrad stays light

    with atomic_path(path) as tmp:
        save_file(enc.arrays, tmp, metadata=metadata)


def _read_header(path: Path) -> dict[str, Any]:
    """The parsed JSON header of a safetensors file; ValueError saying what is wrong."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError(
                f"tapegrad.load: {path} is not a safetensors file: it is {size} bytes long, "
                f"shorter than the 8-byte header length"
            )
        (n,) = struct.unpack("<Q", head)
        if n > size - 8 or n > _MAX_HEADER:
            hint = ""
            if head[:4] == b"PK\x03\x04":
                hint = " (it looks like a zip archive, e.g. a torch.save file)"
            raise ValueError(
                f"tapegrad.load: {path} is not a safetensors file{hint}: its first 8 bytes "
                f"give a header length of {n} bytes but the file is {size} bytes long"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(
            f"tapegrad.load: {path} is not a safetensors file: its header is not valid JSON ({e})"
        ) from None
    if not isinstance(header, dict):
        raise ValueError(
            f"tapegrad.load: {path} is not a safetensors file: its header is a "
            f"{type(header).__name__}, not a JSON object"
        )
    return header


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], path: Path) -> None:
        self.arrays = arrays
        self.path = path

    def _get(self, name: Any) -> np.ndarray:
        if name not in self.arrays:
            raise ValueError(
                f"tapegrad.load: {self.path} is damaged: its structure refers to a tensor "
                f"{name!r} that the file does not hold"
            )
        return self.arrays[name]

    def decode(self, node: Any) -> Any:
        if not isinstance(node, dict) or len(node) == 0:
            raise ValueError(
                f"tapegrad.load: {self.path} has a malformed structure entry {node!r:.80}"
            )
        if "value" in node:
            return node["value"]
        if "tensor" in node:
            arr = self._get(node["tensor"])
            t = Tensor(arr)
            if node.get("requires_grad") and arr.dtype.kind == "f":
                t.requires_grad_(True)
            return t
        if "ndarray" in node:
            return self._get(node["ndarray"])
        if "npscalar" in node:
            return self._get(node["npscalar"])[()]
        if "dict" in node:
            return {k: self.decode(v) for k, v in node["dict"]}
        if "list" in node:
            return [self.decode(v) for v in node["list"]]
        if "tuple" in node:
            return tuple(self.decode(v) for v in node["tuple"])
        raise ValueError(f"tapegrad.load: {self.path} has an unknown structure entry {node!r:.80}")


def load(path: str | os.PathLike[str]) -> Any:
    """Read a file written by :func:`save` (or any safetensors file).

    Returns:
        The saved object: dicts, lists, tuples and plain values as saved; arrays saved
        from Tensors as :class:`~tapegrad.Tensor` (with their ``requires_grad``), arrays
        saved as NumPy arrays as NumPy arrays. A safetensors file without tapegrad
        metadata (e.g. from ``safetensors.torch.save_file``) gives a ``dict`` from
        tensor name to Tensor.

    Raises:
        FileNotFoundError: no file at ``path`` (the message names it).
        ValueError: the file is not a readable safetensors file (the message names
            the path and what is wrong), or holds a dtype NumPy has no type for
            (``bfloat16``: convert it to float32 before saving).
    """
    p = Path(os.fspath(path))
    if not p.exists():
        raise FileNotFoundError(f"tapegrad.load: no such file: {p}")
    if p.is_dir():
        raise IsADirectoryError(f"tapegrad.load: {p} is a folder, not a checkpoint file")
    header = _read_header(p)
    meta = header.get("__metadata__") or {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt = info.get("dtype") if isinstance(info, dict) else None
        if dt in ("BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2"):
            raise ValueError(
                f"tapegrad.load: {p}: tensor {name!r} has dtype {dt}, which NumPy cannot hold; "
                f"convert it (e.g. to float32) before saving"
            )

    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(p, framework="np") as f:
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, KeyError, TypeError) as e:
        raise ValueError(f"tapegrad.load: {p} is not a valid safetensors file: {e}") from None

    if STRUCTURE_KEY not in meta:
        return {k: Tensor(v) for k, v in arrays.items()}
    try:
        structure = json.loads(meta[STRUCTURE_KEY])
    except json.JSONDecodeError as e:
        raise ValueError(
            f"tapegrad.load: {p} is damaged: its {STRUCTURE_KEY!r} metadata is not valid JSON ({e})"
        ) from None
    return _Decoder(arrays, p).decode(structure)
