"""Indexing ops: ``x[key]`` and ``x[key] = v``, gather and scatter, index_select,
masked_fill and narrow.

A read's backward scatters (adds) the gradient into the positions it read; a
scatter's backward gathers. Both are ops in their own right, so indexing is
differentiable to any order.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor
from ._args import axis as _axis
from .elementwise import cast, keep_where, where
from .inplace import apply_inplace
from .shape import reshape

__all__ = ["getitem", "setitem", "index_put", "gather", "index_select", "masked_fill", "narrow"]


def _index_error(e: Exception, op: str, shape: tuple[int, ...]) -> IndexError:
    msg = re.sub(r"\baxis (\d+)", r"dim \1", str(e))
    return IndexError(f"{op}: {msg} (tensor of shape {tuple(shape)})")


def _norm_key(key: Any, op: str) -> tuple[tuple[Any, ...], bool]:
    """The key as a tuple of NumPy index items; and whether it holds integer arrays.

    Integer arrays may repeat positions, so the backward must accumulate.
    """
    if type(key) is not tuple:
        key = (key,)
    out = []
    adv = False
    for k in key:
        if isinstance(k, (int, slice)) or k is None or k is Ellipsis:
            out.append(k)
            continue
        if isinstance(k, Tensor):
            k = k._array
        elif isinstance(k, np.ndarray) and xp is not np:
            k = xp.asarray(k)
        elif isinstance(k, (list, tuple)):
            k = [v._array if isinstance(v, Tensor) else v for v in k]
            k = xp.asarray(k)
            if k.size == 0:
                k = k.astype(np.int64)
        if isinstance(k, xp.ndarray):
            kind = k.dtype.kind
            if kind == "b":
                pass
            elif kind in "iu":
                if k.ndim == 0:
                    k = int(k)
                else:
                    adv = True
            else:
                raise IndexError(
                    f"{op}: tensors used as indices must be integer or boolean, got {k.dtype}"
                )
        elif isinstance(k, np.integer):
            k = int(k)
        elif not isinstance(k, (bool, np.bool_)):
            raise IndexError(f"{op}: cannot index with {type(k).__name__} {k!r:.60}")
        out.append(k)
    return tuple(out), adv


def _flat_positions(index: Any, dim: int, shape: tuple[int, ...]) -> Any:
    """Flat (C-order) positions in ``shape`` of the elements ``index`` selects along ``dim``.

    ``index`` has the same number of dims as ``shape``; on every other dim its
    element at position i refers to position i (an open grid), as in gather.
    """
    flat = None
    stride = 1
    nd = len(shape)
    for d in range(nd - 1, -1, -1):
        if d == dim:
            part = index * stride
        else:
            part = xp.arange(index.shape[d]).reshape((-1,) + (1,) * (nd - 1 - d)) * stride
        flat = part if flat is None else flat + part
        stride *= shape[d]
    return flat


def _index_add(shape: tuple[int, ...], dim: int, index: Any, g: Any) -> Any:
    """zeros(shape) with ``g`` added at positions ``index`` (1-D) along ``dim``.

    ``g`` has ``shape`` with ``len(index)`` in place of ``shape[dim]``.
    Repeated indices accumulate. A 1-D ``np.add.at`` on flat positions is many
    times faster than ``np.add.at`` on rows.
    """
    outer = int(np.prod(shape[:dim], dtype=np.int64))
    inner = int(np.prod(shape[dim + 1 :], dtype=np.int64))
    n = shape[dim]
    flat = (
        (xp.arange(outer).reshape(-1, 1, 1) * n + index.reshape(1, -1, 1)) * inner
        + xp.arange(inner).reshape(1, 1, -1)
    ).reshape(-1)
    z = xp.zeros(outer * n * inner, dtype=g.dtype)
    np.add.at(z, flat, xp.ascontiguousarray(g).reshape(-1))
    return z.reshape(shape)


def _scatter_key(shape: tuple[int, ...], key: tuple[Any, ...], g: Any) -> Any:
    """zeros(shape) with ``g`` added at ``x[key]``, accumulating repeated positions."""
    nd = len(shape)
    # One integer array among full slices (x[idx], x[:, idx], x[..., idx]): rows.
    if all(isinstance(k, xp.ndarray) or k is Ellipsis or k == slice(None) for k in key):
        full = key
        if Ellipsis in [k for k in key if not isinstance(k, xp.ndarray)]:
            e = next(i for i, k in enumerate(key) if k is Ellipsis)
            full = key[:e] + (slice(None),) * (nd - len(key) + 1) + key[e + 1 :]
        arrays = [i for i, k in enumerate(full) if isinstance(k, xp.ndarray)]
        if len(arrays) == 1 and len(full) <= nd and full[arrays[0]].dtype.kind in "iu":
            pos = arrays[0]
            n = shape[pos]
            idx = full[pos]
            idx = xp.where(idx < 0, idx + n, idx).reshape(-1)
            gshape = shape[:pos] + (idx.size,) + shape[pos + 1 :]
            return _index_add(shape, pos, idx, g.reshape(gshape))
    # Integers and integer arrays on every dim: flat positions.
    if len(key) == nd and all(
        type(k) is int or (isinstance(k, xp.ndarray) and k.dtype.kind in "iu") for k in key
    ):
        flat = np.ravel_multi_index(key, shape, mode="wrap")
        z = xp.zeros(int(np.prod(shape, dtype=np.int64)), dtype=g.dtype)
        np.add.at(z, flat.reshape(-1), xp.broadcast_to(g, flat.shape).reshape(-1))
        return z.reshape(shape)
    z = xp.zeros(shape, dtype=g.dtype)
    np.add.at(z, key, g)
    return z


class GetItemFunction(Function):
    def __init__(self, key: tuple[Any, ...], adv: bool) -> None:
        self.key, self.adv = key, adv

    def forward(self, x: Any) -> Any:
        """``x[key]`` on the array (basic or advanced indexing)."""
        return x[self.key]

    def backward(self, gy: Any) -> Any:
        """dL/dx: zeros of the input's shape with gy placed (added) at ``[key]``."""
        return IndexPutFunction(self.key, self.adv, self.in_shapes[0])(gy)


class IndexPutFunction(Function):
    """zeros(shape) with g placed at ``[key]`` (added, where integer arrays may repeat)."""

    def __init__(self, key: tuple[Any, ...], adv: bool, shape: tuple[int, ...]) -> None:
        self.key, self.adv, self.shape = key, adv, shape

    def forward(self, g: Any) -> Any:
        """Zeros of ``shape`` with g placed at ``[key]``, repeated indices summed."""
        if self.adv:
            return _scatter_key(self.shape, self.key, g)
        z = xp.zeros(self.shape, dtype=g.dtype)
        z[self.key] = g
        return z

    def backward(self, gg: Any) -> Any:
        """dL/dg: ``gg[key]``."""
        return GetItemFunction(self.key, self.adv)(gg)


def _torch_order(key: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    """PyTorch's reading of a key that mixes integers with index arrays, as two keys.

    NumPy counts an integer as one more index array, so ``t[0, :, [0, 1]]``
    puts the indexed dim first (shape (2, 3) for t of shape (2, 3, 4));
    PyTorch selects with the integers first and then indexes what is left
    (shape (3, 2)). Returns ``(basic key, advanced key)`` to apply one after
    the other, or None when both readings agree (no integer, or no array).
    """
    arrays = [k for k in key if isinstance(k, xp.ndarray) and k.ndim > 0]
    if not arrays or not any(type(k) is int for k in key):
        return None
    first: list[Any] = []
    second: list[Any] = []
    for k in key:
        if type(k) is int:
            first.append(k)
        elif isinstance(k, xp.ndarray) and k.ndim > 0:
            n = k.ndim if k.dtype.kind == "b" else 1
            first.extend([slice(None)] * n)
            second.append(k)
        elif k is Ellipsis:
            first.append(k)
            second.append(k)
        else:  # slices, None, 0-d boolean arrays: applied first, then kept whole
            first.append(k)
            second.append(slice(None))
    return tuple(first), tuple(second)


def getitem(x: Tensor, key: Any) -> Tensor:
    """``x[key]`` with PyTorch's rules: ints, slices (any step), None, Ellipsis,
    integer arrays (lists, arrays, int tensors) and boolean masks, in any mix.

    Basic indexing gives a view of x's data. Gradients of repeated integer
    indices accumulate. Integers mixed with index arrays are applied first,
    as PyTorch does (``t[0, :, [0, 1]]`` has shape (3, 2) for t of shape (2, 3, 4)).
    """
    k, adv = _norm_key(key, "getitem")
    if not adv and not any(i is Ellipsis or isinstance(i, xp.ndarray) for i in k):
        # NumPy returns a copied scalar for a full integer key; x[0, ...] is a view,
        # so that x[0].mul_(2) changes x, as in PyTorch
        k = k + (Ellipsis,)
    split = _torch_order(k)
    try:
        if split is not None:
            return GetItemFunction(split[1], True)(GetItemFunction(split[0], False)(x))
        return GetItemFunction(k, adv)(x)
    except IndexError as e:
        raise _index_error(e, "getitem", x.shape) from None


class IndexPutValueFunction(Function):
    """x with ``value`` written at ``x[key]``, out of place: ``(x, value)``.

    x gets the gradient outside the written positions, value the gradient at
    them (the engine sums it to value's shape where value was broadcast).
    """

    def __init__(self, key: tuple[Any, ...]) -> None:
        self.key = key

    def forward(self, x: Any, value: Any) -> Any:
        """A copy of x with ``value`` (cast to x's dtype) written at ``[key]``."""
        self.value_dtype = value.dtype
        out = x.copy()
        _put(out, self.key, value.astype(x.dtype, copy=False))
        return out

    def backward(self, g: Any) -> Any:
        """dL/dx: g with 0 at ``[key]``; dL/dvalue: ``g[key]`` in value's dtype."""
        nx, nv = self.needs_input_grad
        gx = gv = None
        if nx:
            keep = xp.ones(g.shape, dtype=bool)
            _put(keep, self.key, False)
            gx = keep_where(g, keep)
        if nv:
            gv = getitem(g, self.key)
            if gv.dtype != self.value_dtype:
                gv = cast(gv, self.value_dtype)
        return gx, gv


def _put(a: Any, key: tuple[Any, ...], v: Any) -> None:
    split = _torch_order(key)
    if split is None:
        a[key] = v
    else:
        a[split[0]][split[1]] = v


def index_put(x: Tensor, key: Any, value: Any) -> Tensor:
    """x with ``value`` (broadcast, cast to x's dtype) at ``x[key]``; a new tensor."""
    k, _ = _norm_key(key, "setitem")
    if (
        isinstance(value, Tensor)
        and value.dtype != x.dtype
        and any(isinstance(i, xp.ndarray) and i.dtype.kind in "iu" and i.ndim > 0 for i in k)
    ):
        # PyTorch's index_put_ (index arrays or masks) does not convert a tensor value
        raise RuntimeError(
            "Index put requires the source and destination dtypes match, got "
            f"{x.dtype} for the destination and {value.dtype} for the source."
        )
    v = value if isinstance(value, Tensor) else Tensor(xp.asarray(value))
    try:
        return IndexPutValueFunction(k)(x, v)
    except IndexError as e:
        raise _index_error(e, "setitem", x.shape) from None
    except ValueError as e:
        raise ValueError(
            f"setitem: a value of shape {tuple(v.shape)} cannot be assigned to the selection "
            f"of a tensor of shape {tuple(x.shape)} ({e})"
        ) from None


def setitem(x: Tensor, key: Any, value: Any) -> None:
    """``x[key] = value`` in place (value: a Tensor, array or number, broadcast to x[key]).

    Recorded by autograd like PyTorch's ``index_put_``: x's old value gets
    the gradient outside the written positions, ``value`` the gradient at them.
    """
    apply_inplace(x, "setitem", lambda s: index_put(s, key, value))


class GatherFunction(Function):
    def __init__(self, dim: int, index: Any) -> None:
        self.dim, self.index = dim, index

    def forward(self, x: Any) -> Any:
        """``x`` gathered along ``dim`` at ``index`` (``torch.gather``): index's shape."""
        idx = self.index
        if any(a != b for d, (a, b) in enumerate(zip(idx.shape, x.shape)) if d != self.dim):
            # torch uses only the leading part of x where index is smaller
            x = x[
                tuple(
                    slice(None) if d == self.dim else slice(0, s) for d, s in enumerate(idx.shape)
                )
            ]
        return xp.take_along_axis(x, idx, axis=self.dim)

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy scatter-added along ``dim`` at ``index`` into the input's shape."""
        return ScatterAddFunction(self.dim, self.index, self.in_shapes[0])(gy)


class ScatterAddFunction(Function):
    """zeros(shape) with g added along ``dim`` at ``index`` (the adjoint of gather)."""

    def __init__(self, dim: int, index: Any, shape: tuple[int, ...], unique: bool = False) -> None:
        self.dim, self.index, self.shape, self.unique = dim, index, shape, unique

    def forward(self, g: Any) -> Any:
        """Zeros of ``shape`` with g added along ``dim`` at ``index``."""
        size = int(np.prod(self.shape, dtype=np.int64))
        z = xp.zeros(size, dtype=g.dtype)
        flat = _flat_positions(self.index, self.dim, self.shape).reshape(-1)
        if self.unique:
            z[flat] = g.reshape(-1)
        else:
            np.add.at(z, flat, xp.ascontiguousarray(g).reshape(-1))
        return z.reshape(self.shape)

    def backward(self, gg: Any) -> Any:
        """dL/dg: gg gathered along ``dim`` at ``index``."""
        return GatherFunction(self.dim, self.index)(gg)


def _int_index(index: Any, op: str) -> Any:
    a = index._array if isinstance(index, Tensor) else xp.asarray(index)
    if a.dtype.kind not in "iu":
        if a.size == 0:
            return a.astype(np.int64)
        raise TypeError(f"{op}: index must be an integer tensor, got {a.dtype}")
    return a


def _check_range(idx: Any, n: int, d: int, op: str, shape: tuple[int, ...]) -> None:
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise IndexError(
            f"{op}: index {bad} is out of range for dim {d} of size {n} "
            f"(tensor of shape {tuple(shape)})"
        )


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """``torch.gather``: ``out[i][j][k] = x[index[i][j][k]][j][k]`` (for dim 0).

    ``index`` is an integer tensor with x's number of dims, no larger than x
    on the other dims. Returns a tensor of index's shape.
    """
    idx = _int_index(index, "gather")
    d = _axis(dim, x.ndim, "gather")
    if idx.ndim != x.ndim or any(
        a > b for k, (a, b) in enumerate(zip(idx.shape, x.shape)) if k != d
    ):
        raise ValueError(
            f"gather: index of shape {tuple(idx.shape)} does not fit a tensor of shape "
            f"{tuple(x.shape)} along dim {dim} (same number of dims, and no larger on the "
            "other dims)"
        )
    if x.ndim == 0:
        idx = idx.reshape(1)
        _check_range(idx, 1, 0, "gather", x.shape)
        return reshape(GatherFunction(0, idx)(reshape(x, (1,))), ())
    _check_range(idx, x.shape[d], d, "gather", x.shape)
    return GatherFunction(d, idx)(x)


class IndexSelectFunction(Function):
    def __init__(self, dim: int, index: Any) -> None:
        self.dim, self.index = dim, index

    def forward(self, x: Any) -> Any:
        """The slices of x at ``index`` along ``dim`` (``torch.index_select``)."""
        return xp.take(x, self.index, axis=self.dim)

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy's slices added at ``index`` along ``dim`` into the input's shape."""
        return IndexAddFunction(self.dim, self.index, self.in_shapes[0])(gy)


class IndexAddFunction(Function):
    """zeros(shape) with the slices of g added at ``index`` along ``dim``."""

    def __init__(self, dim: int, index: Any, shape: tuple[int, ...]) -> None:
        self.dim, self.index, self.shape = dim, index, shape

    def forward(self, g: Any) -> Any:
        """Zeros of ``shape`` with g's slices added at ``index`` along ``dim``."""
        return _index_add(self.shape, self.dim, self.index, g)

    def backward(self, gg: Any) -> Any:
        """dL/dg: gg's slices at ``index`` along ``dim``."""
        return IndexSelectFunction(self.dim, self.index)(gg)


def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    """The slices of x at positions ``index`` (1-D integers) along ``dim``.

    Returns x's shape with ``len(index)`` in place of ``x.shape[dim]``.
    """
    idx = _int_index(index, "index_select")
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {tuple(idx.shape)}")
    idx = idx.reshape(-1)
    d = _axis(dim, x.ndim, "index_select")
    if x.ndim == 0:
        _check_range(idx, 1, 0, "index_select", x.shape)
        return reshape(
            IndexSelectFunction(0, idx)(reshape(x, (1,))), idx.shape if idx.size != 1 else ()
        )
    _check_range(idx, x.shape[d], d, "index_select", x.shape)
    return IndexSelectFunction(d, idx)(x)


def masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    """x with ``value`` where the boolean ``mask`` (broadcast to x's shape) is true.

    ``value`` is a number or a 0-d tensor (which then receives the gradient of
    the filled positions).
    """
    m = mask._array if isinstance(mask, Tensor) else xp.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"masked_fill: mask must be boolean, got {m.dtype}")
    try:
        ok = np.broadcast_shapes(m.shape, x.shape) == x.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"masked_fill: mask of shape {tuple(m.shape)} cannot be broadcast to the "
            f"tensor's shape {tuple(x.shape)}"
        )
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ValueError(f"masked_fill: value must be a number or 0-d tensor, got {value.shape}")
    # the value takes x's dtype (PyTorch: masked_fill never promotes)
    if isinstance(value, Tensor):
        value = value if value.dtype == x.dtype else cast(value, x.dtype)
    else:
        value = Tensor(np.asarray(value).astype(x.dtype))
    return where(m, value, x)


def narrow(x: Tensor, dim: int, start: int, length: int) -> Tensor:
    """The slice ``start:start + length`` of x along ``dim`` (a view)."""
    d = _axis(dim, x.ndim, "narrow")
    n = x.shape[d]
    if start < 0:
        start += n
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise IndexError(
            f"narrow: start {start} and length {length} do not fit dim {dim} of size {n} "
            f"(tensor of shape {tuple(x.shape)})"
        )
    key = (slice(None),) * d + (slice(start, start + length),)
    return GetItemFunction(key, False)(x)
