"""``default_collate``: a list of samples -> one batch of Tensors; ``default_convert``:
one sample's NumPy arrays -> Tensors (for a loader with ``batch_size=None``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ... import dtypes as _dtypes
from ...backend import xp
from ...tensor import Tensor, _wrap

__all__ = ["default_collate", "default_convert"]


def _stack(arrays: list[Any], where: str) -> Tensor:
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) > 1:
        raise ValueError(
            f"default_collate: cannot stack samples of different shapes {sorted(shapes)}"
            f"{where}; pass a collate_fn that pads or keeps them apart"
        )
    if xp is np:
        return _wrap(np.stack(arrays))
    return _wrap(xp.stack([xp.asarray(a) for a in arrays]))  # pragma: no cover - CuPy


def _collate(batch: Sequence[Any], where: str) -> Any:
    elem = batch[0]
    if isinstance(elem, (Tensor, np.ndarray)) or (xp is not np and isinstance(elem, xp.ndarray)):
        arrays = []
        for b in batch:
            if isinstance(b, Tensor):
                arrays.append(b._array)
            elif isinstance(b, np.ndarray) or isinstance(b, xp.ndarray):
                arrays.append(b)
            else:
                raise TypeError(
                    f"default_collate: mixed sample types {type(elem).__name__} and "
                    f"{type(b).__name__}{where}"
                )
        return _stack(arrays, where)
    if isinstance(elem, (str, bytes)) or elem is None:
        return list(batch)
    if isinstance(elem, (bool, int, float, np.generic)):
        arr = np.asarray(batch)
        if arr.dtype == object:
            raise TypeError(f"default_collate: mixed sample types in a batch of numbers{where}")
        if not isinstance(elem, np.generic):
            # Python numbers: floats take the default float dtype, ints int64, like tensor()
            if arr.dtype.kind == "f":
                arr = arr.astype(_dtypes.get_default_dtype())
            elif arr.dtype.kind in "iu":
                arr = arr.astype(np.int64)
        return _wrap(xp.asarray(arr))
    if isinstance(elem, Mapping):
        keys = list(elem.keys())
        for b in batch:
            if not isinstance(b, Mapping) or set(b.keys()) != set(keys):
                raise ValueError(
                    f"default_collate: samples are dicts with different keys{where}: "
                    f"{sorted(map(str, keys))} vs "
                    f"{sorted(map(str, b.keys())) if isinstance(b, Mapping) else type(b).__name__}"
                )
        return {k: _collate([b[k] for b in batch], f"{where} in key {k!r}") for k in keys}
    if isinstance(elem, (tuple, list)):
        n = len(elem)
        for b in batch:
            if not isinstance(b, (tuple, list)) or len(b) != n:
                raise ValueError(
                    f"default_collate: samples are sequences of different lengths{where}: "
                    f"{n} vs {len(b) if isinstance(b, (tuple, list)) else type(b).__name__}"
                )
        fields = [_collate([b[i] for b in batch], f"{where} at position {i}") for i in range(n)]
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
            return type(elem)(*fields)
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(
        f"default_collate: cannot batch samples of type {type(elem).__name__}{where}; "
        f"supported: Tensor, numpy array or scalar, int, float, bool, str, None, and "
        f"tuples, lists and dicts of those (or pass a collate_fn)"
    )


def default_collate(batch: Sequence[Any]) -> Any:
    """Combine a list of samples into one batch.

    Tensors and NumPy arrays of equal shape ``S`` are stacked into a Tensor of shape
    ``(B, *S)`` (dtype kept); Python numbers become a ``(B,)`` Tensor (floats in the
    default float dtype, ints int64, bools bool); NumPy scalars keep their dtype;
    tuples, lists, namedtuples and dicts are collated field by field (same container
    type out); strings and ``None`` are returned as a list. Batch tensors are
    constants (``requires_grad=False``).

    Raises:
        ValueError: samples of different shapes, lengths or dict keys.
        TypeError: a sample type it cannot batch.
    """
    if len(batch) == 0:
        raise ValueError("default_collate: the batch is empty")
    return _collate(batch, "")


def default_convert(sample: Any) -> Any:
    """NumPy arrays in ``sample`` (also inside tuples, lists and dicts) as Tensors;
    everything else unchanged."""
    if isinstance(sample, np.ndarray) and sample.dtype.kind in "biuf":
        return _wrap(xp.asarray(sample))
    if isinstance(sample, Mapping):
        return {k: default_convert(v) for k, v in sample.items()}
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*(default_convert(v) for v in sample))
    if isinstance(sample, (tuple, list)):
        return type(sample)(default_convert(v) for v in sample)
    return sample
