"""Devices (``tapegrad.device``): where tensors live, under PyTorch's names, honestly.

tapegrad computes on one device per process, chosen by its array backend: the
CPU with NumPy (the default), or the first CUDA GPU with CuPy
(``TAPEGRAD_BACKEND=cupy``). Asking for any other device raises an error that
says which device is available; nothing is silently ignored. So a PyTorch
script's ``x.to(device)`` works unchanged when ``device`` comes from
``tapegrad.device("cuda" if tapegrad.cuda.is_available() else "cpu")``.
"""

from __future__ import annotations

from typing import Any

from . import backend

__all__ = ["device", "current_device", "check_device", "split_to_args"]

_TYPES = ("cpu", "cuda")


class device:  # noqa: N801 - PyTorch's name
    """A device: ``type`` ('cpu' or 'cuda') and an optional ``index``.

    ``tapegrad.device("cuda:0")``, ``device("cuda", 0)``, ``device("cpu")``.
    Compares equal to another device or to its string (``"cpu"``).
    """

    __slots__ = ("type", "index")
    type: str
    index: int | None

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type  # torch.device(0) is cuda:0
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string or a device, got {type!r}")
        name, sep, idx = type.partition(":")
        if name not in _TYPES:
            raise RuntimeError(
                f"device: expected one of {', '.join(_TYPES)} at the start of the device "
                f"string, got {type!r}"
            )
        if sep:
            if index is not None or not idx.isdigit():
                raise RuntimeError(f"device: invalid device string {type!r}")
            index = int(idx)
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"device: index must be a non-negative int, got {index!r}")
        self.type = name
        self.index = index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type={self.type!r})"
        return f"device(type={self.type!r}, index={self.index})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self) -> tuple[Any, ...]:
        return (device, (self.type, self.index))


def current_device() -> device:
    """The device every tensor of this process lives on: cpu, or cuda:0 under CuPy."""
    return device("cpu") if backend.name == "numpy" else device("cuda", 0)


def check_device(dev: Any, who: str) -> device:
    """``dev`` as a device, if tensors can be there; else a RuntimeError naming what is."""
    d = device(dev)
    here = current_device()
    if d.type == here.type and d.index in (None, here.index):
        return here
    if backend.name == "numpy":
        why = (
            "tapegrad is running on the NumPy backend, which computes on the CPU only "
            "(a CUDA GPU needs CuPy and TAPEGRAD_BACKEND=cupy)"
        )
    else:  # pragma: no cover - needs a GPU
        why = "tapegrad is running on the CuPy backend, which keeps every tensor on cuda:0"
    raise RuntimeError(
        f"{who}: device '{d}' is not available: {why}; the available device is '{here}'"
    )


def _is_device(a: Any) -> bool:
    return isinstance(a, (device, str)) or (isinstance(a, int) and not isinstance(a, bool))


def split_to_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """``(dtype, device)`` from the arguments of ``Tensor.to``/``Module.to``.

    Accepts ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(tensor)``
    and the keywords ``dtype=``, ``device=`` (``non_blocking=``, ``copy=`` and
    ``memory_format=`` are accepted and have no effect).
    """
    dtype, dev = kwargs.get("dtype"), kwargs.get("device")
    unknown = set(kwargs) - {"dtype", "device", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(unknown)}")
    for a in args:
        if hasattr(a, "_array"):  # a tensor: take its dtype (and device)
            dtype = a.dtype
        elif _is_device(a) and a is not None and dev is None and not isinstance(a, bool):
            dev = a
        elif a is not None and not isinstance(a, bool):
            dtype = a
    return dtype, dev
