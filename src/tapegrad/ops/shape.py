"""Shape ops: reshape, transpose, broadcasting, joining, splitting, padding, indexing.

Each op's backward is another shape op (reshape undoes reshape, ``sum_to``
undoes ``broadcast_to``, ``cat`` undoes ``split``, a scatter-add undoes a
gather and the other way round), so all are twice (indeed infinitely)
differentiable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd.broadcast import broadcast_to, sum_to
from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..backend import xp
from ..tensor import Tensor, as_tensor

__all__ = [
    "sum_to",
    "broadcast_to",
    "expand",
    "reshape",
    "view",
    "permute",
    "transpose",
    "swapaxes",
    "unsqueeze",
    "squeeze",
    "flatten",
    "flip",
    "repeat",
    "tile",
    "cat",
    "concat",
    "stack",
    "split",
    "chunk",
    "unbind",
    "pad",
    "getitem",
    "setitem",
    "gather",
    "index_select",
    "masked_fill",
    "narrow",
]


def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept ``f(2, 3)`` and ``f((2, 3))`` alike."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _axis(dim: int, ndim: int, op: str) -> int:
    """``dim`` as a non-negative axis; a 0-d tensor accepts 0 and -1, like PyTorch."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dims")
    return dim % n


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """Like ``torch.Tensor.expand``: -1 keeps a dim's size."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: {len(sizes)} sizes given for a tensor of {x.ndim} dims")
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return broadcast_to(x, shape)


# ---------------------------------------------------------------- reshape
class Reshape(Function):
    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x):
        return x.reshape(self.shape)

    def backward(self, gy):
        return reshape(gy, self.in_shapes[0])


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """x with a new shape of the same size; one entry may be -1."""
    shape = _shape_arg(shape)
    if shape == x.shape:
        return x
    try:
        return Reshape(shape)(x)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} "
            f"({x.data.size} elements) into {shape}"
        ) from None


view = reshape


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` (inclusive) into one; a 0-d tensor gives shape (1,)."""
    if x.ndim == 0:
        _axis(start_dim, 0, "flatten")
        _axis(end_dim, 0, "flatten")
        return reshape(x, (1,))
    s, e = _axis(start_dim, x.ndim, "flatten"), _axis(end_dim, x.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x.shape
    n = 1
    for v in shape[s : e + 1]:
        n *= v
    return reshape(x, shape[:s] + (n,) + shape[e + 1 :])


class Transpose(Function):
    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        return Transpose(tuple(np.argsort(self.axes)))(gy)


def permute(x: Tensor, *dims: Any) -> Tensor:
    """Reorder the axes: output axis i is input axis ``dims[i]``."""
    dims = _shape_arg(dims)
    if sorted(d % max(x.ndim, 1) for d in dims) != list(range(x.ndim)) or len(dims) != x.ndim:
        raise ValueError(f"permute: {dims} is not a permutation of the {x.ndim} dims of {x.shape}")
    dims = tuple(d % x.ndim for d in dims)
    if dims == tuple(range(x.ndim)):
        return x
    return Transpose(dims)(x)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two axes."""
    a, b = _axis(dim0, x.ndim, "transpose"), _axis(dim1, x.ndim, "transpose")
    if x.ndim < 2:
        return x
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, *axes)


swapaxes = transpose


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert an axis of size 1 at ``dim`` (negative counts from the end of the result)."""
    nd = x.ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(f"unsqueeze: dim {dim} is out of range for a result of {nd} dims")
    d = dim % nd
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """Remove axes of size 1 (all, or those in ``dim`` that have size 1)."""
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    drop = {_axis(d, x.ndim, "squeeze") for d in dims}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in drop and s == 1)))


# ------------------------------------------------------------ flip, repeat
def _dims_arg(dims: tuple[Any, ...]) -> tuple[int, ...]:
    """Accept ``f(0, 1)``, ``f((0, 1))`` and ``f([0, 1])`` alike."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return tuple(int(d) for d in dims)


class Flip(Function):
    def __init__(self, dims: tuple[int, ...]) -> None:
        self.dims = dims

    def forward(self, x):
        return xp.flip(x, axis=self.dims)

    def backward(self, gy):
        return Flip(self.dims)(gy)


def flip(x: Tensor, *dims: Any) -> Tensor:
    """x with the order of elements reversed along each of ``dims`` (ints, a tuple or a list)."""
    ds = tuple(sorted({_axis(d, x.ndim, "flip") for d in _dims_arg(dims)}))
    if not ds or x.ndim == 0:
        return x
    return Flip(ds)(x)


class Repeat(Function):
    """``np.tile`` of x (already of ``len(reps)`` dims)."""

    def __init__(self, reps: tuple[int, ...]) -> None:
        self.reps = reps

    def forward(self, x):
        return xp.tile(x, self.reps)

    def backward(self, gy):
        # Split each output axis into (repeat, size) and sum the copies.
        shape = self.in_shapes[0]
        inter = tuple(v for r, s in zip(self.reps, shape) for v in (r, s))
        ones = tuple(v for s in shape for v in (1, s))
        return reshape(sum_to(reshape(gy, inter), ones), shape)


def repeat(x: Tensor, *sizes: Any) -> Tensor:
    """``torch.Tensor.repeat``: x tiled ``sizes[i]`` times along dim i.

    ``len(sizes)`` must be at least ``x.ndim``; extra leading sizes add dims.
    The result has shape ``sizes[i] * x.shape[i]`` (x's shape left-padded with 1s).
    """
    reps = _shape_arg(sizes)
    if len(reps) < x.ndim:
        raise ValueError(
            f"repeat: {len(reps)} repeat sizes given for a tensor of {x.ndim} dims "
            f"(shape {tuple(x.shape)}); give at least {x.ndim}"
        )
    if any(r < 0 for r in reps):
        raise ValueError(f"repeat: sizes must be non-negative, got {reps}")
    x = reshape(x, (1,) * (len(reps) - x.ndim) + tuple(x.shape))
    if all(r == 1 for r in reps):
        return x
    return Repeat(reps)(x)


def tile(x: Tensor, *dims: Any) -> Tensor:
    """``torch.tile``: like :func:`repeat`, but fewer ``dims`` than x's dims are padded with 1s."""
    reps = _shape_arg(dims)
    if len(reps) < x.ndim:
        reps = (1,) * (x.ndim - len(reps)) + reps
    return repeat(x, *reps)


# ---------------------------------------------------- joining and splitting
class Cat(Function):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, *xs):
        return xp.concatenate(xs, axis=self.dim)

    def backward(self, gy):
        sizes = tuple(s[self.dim] for s in self.in_shapes)
        return Split(sizes, self.dim)(gy)


class Split(Function):
    """Several outputs: consecutive pieces of ``sizes`` along ``dim``."""

    def __init__(self, sizes: tuple[int, ...], dim: int) -> None:
        self.sizes, self.dim = sizes, dim

    def forward(self, x):
        key = [slice(None)] * x.ndim
        outs = []
        start = 0
        for s in self.sizes:
            key[self.dim] = slice(start, start + s)
            outs.append(x[tuple(key)])
            start += s
        return tuple(outs)

    def backward(self, *gys):
        return Cat(self.dim)(*gys)


class Stack(Function):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, *xs):
        return xp.stack(xs, axis=self.dim)

    def backward(self, gy):
        return Unbind(self.dim)(gy)


class Unbind(Function):
    """Several outputs: the slices ``x[..., i, ...]`` along ``dim``."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x):
        key: list[Any] = [slice(None)] * x.ndim
        outs = []
        for i in range(x.shape[self.dim]):
            key[self.dim] = i
            outs.append(x[tuple(key)])
        return tuple(outs)

    def backward(self, *gys):
        return Stack(self.dim)(*gys)


def _tensor_list(tensors: Any, op: str) -> list[Tensor]:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expects a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: expects a non-empty list of tensors")
    return [t if type(t) is Tensor else as_tensor(t) for t in tensors]


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing ``dim``; all other sizes must match.

    Returns a tensor whose size along ``dim`` is the sum of the inputs'.
    """
    ts = _tensor_list(tensors, "cat")
    t0 = ts[0]
    d = _axis(dim, t0.ndim, "cat")
    for i, t in enumerate(ts):
        if (
            t.ndim != t0.ndim
            or t.ndim == 0
            or any(a != b for k, (a, b) in enumerate(zip(t.shape, t0.shape)) if k != d)
        ):
            raise ValueError(
                f"cat: tensor 0 has shape {tuple(t0.shape)} but tensor {i} has shape "
                f"{tuple(t.shape)}; all sizes must match except along dim {dim}"
            )
    return Cat(d)(*ts)


concat = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shape tensors along a new ``dim`` (of size ``len(tensors)``)."""
    ts = _tensor_list(tensors, "stack")
    t0 = ts[0]
    nd = t0.ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(f"stack: dim {dim} is out of range for a result of {nd} dims")
    for i, t in enumerate(ts):
        if t.shape != t0.shape:
            raise ValueError(
                f"stack: tensor 0 has shape {tuple(t0.shape)} but tensor {i} has shape "
                f"{tuple(t.shape)}; stack (along dim {dim}) needs equal shapes"
            )
    return Stack(dim % nd)(*ts)


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """``torch.split``: pieces along ``dim``.

    An int gives pieces of that size (the last one may be smaller); a list
    gives pieces of those sizes, which must add up to the size of ``dim``.
    Returns a tuple of tensors (views of x's data).
    """
    d = _axis(dim, x.ndim, "split")
    if x.ndim == 0:
        raise ValueError("split: cannot split a 0-d tensor")
    n = x.shape[d]
    s = split_size_or_sections
    if isinstance(s, (int, np.integer)):
        s = int(s)
        if s <= 0 and n > 0:
            raise ValueError(f"split: split size must be positive, got {s}")
        sizes = (s,) * (n // s) + ((n % s,) if n % s else ()) if n else (0,)
    else:
        sizes = tuple(int(v) for v in s)
        if sum(sizes) != n or any(v < 0 for v in sizes):
            raise ValueError(
                f"split: sizes {list(sizes)} must be non-negative and add up to {n}, the "
                f"size of dim {dim} of a tensor of shape {tuple(x.shape)}"
            )
    return Split(sizes, d)(x)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """``torch.chunk``: at most ``chunks`` pieces of size ``ceil(n / chunks)`` along ``dim``.

    The last piece may be smaller, and fewer pieces come back when the size
    does not allow ``chunks`` of them.
    """
    if chunks <= 0:
        raise ValueError(f"chunk: number of chunks must be positive, got {chunks}")
    d = _axis(dim, x.ndim, "chunk")
    if x.ndim == 0:
        raise ValueError("chunk: cannot chunk a 0-d tensor")
    n = x.shape[d]
    if n == 0:
        return Split((0,) * chunks, d)(x)
    return split(x, -(-n // chunks), d)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of x along ``dim``, each without that dim."""
    d = _axis(dim, x.ndim, "unbind")
    if x.ndim == 0:
        raise ValueError("unbind: cannot unbind a 0-d tensor")
    return Unbind(d)(x)


# ---------------------------------------------------------------- padding
class PadConstant(Function):
    """Pad (or, for negative widths, crop) each axis by ``(before, after)``, filling ``value``."""

    def __init__(self, widths: tuple[tuple[int, int], ...], value: Any) -> None:
        self.widths, self.value = widths, value

    def forward(self, x):
        crop = tuple(slice(max(-b, 0), n - max(-a, 0)) for (b, a), n in zip(self.widths, x.shape))
        x = x[crop]
        out_shape = tuple(n + max(b, 0) + max(a, 0) for (b, a), n in zip(self.widths, x.shape))
        inner = tuple(slice(max(b, 0), max(b, 0) + n) for (b, _), n in zip(self.widths, x.shape))
        y = xp.full(out_shape, self.value, dtype=x.dtype)
        y[inner] = x
        return y

    def backward(self, gy):
        return PadConstant(tuple((-b, -a) for b, a in self.widths), 0)(gy)


def _pad_index(n: int, before: int, after: int, mode: str) -> Any:
    """Source positions of a padded axis of size ``n`` for a non-constant mode."""
    p = xp.arange(-before, n + after)
    if mode == "replicate":
        return xp.clip(p, 0, n - 1)
    if mode == "circular":
        return p % n
    # reflect: mirror about the edge elements, which are not repeated
    period = 2 * (n - 1)
    p = xp.abs(p) % period if period else xp.zeros_like(p)
    return xp.where(p >= n, period - p, p)


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:  # noqa: A002
    """``torch.nn.functional.pad``: pad the last ``len(pad) // 2`` dims.

    ``pad`` is ``(left, right)`` for the last dim, then ``(top, bottom)`` for
    the one before, and so on. ``mode``: ``'constant'`` (fill ``value``;
    negative widths crop), ``'reflect'`` (mirror without repeating the edge;
    widths must be smaller than the dim), ``'replicate'`` (repeat the edge)
    or ``'circular'`` (wrap around).
    """
    pads = [int(p) for p in pad]
    if len(pads) % 2 or len(pads) // 2 > x.ndim:
        raise ValueError(
            f"pad: {len(pads)} pad widths given for a tensor of shape {tuple(x.shape)}; "
            f"give an even number, at most {2 * x.ndim}"
        )
    widths = [(0, 0)] * x.ndim
    for i in range(len(pads) // 2):
        widths[x.ndim - 1 - i] = (pads[2 * i], pads[2 * i + 1])
    for (b, a), n in zip(widths, x.shape):
        if n + b + a < 0:
            raise ValueError(f"pad: widths {pads} leave a negative size for shape {x.shape}")
    if mode == "constant":
        if all(w == (0, 0) for w in widths):
            return x
        return PadConstant(tuple(widths), value)(x)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(
            f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}"
        )
    # A non-constant pad is a gather along each padded axis: index_select, whose
    # backward is a scatter-add, so repeated source positions accumulate.
    out = x
    for d, ((b, a), n) in enumerate(zip(widths, x.shape)):
        if b == 0 and a == 0:
            continue
        if mode == "reflect" and (b >= n or a >= n):
            raise ValueError(
                f"pad: reflect padding ({b}, {a}) must be smaller than the size {n} of dim {d} "
                f"(tensor of shape {tuple(x.shape)})"
            )
        if n == 0 or (mode == "circular" and (b > n or a > n)):
            raise ValueError(
                f"pad: {mode} padding ({b}, {a}) of dim {d} of size {n} is not possible "
                f"(tensor of shape {tuple(x.shape)})"
            )
        out = IndexSelect(d, _pad_index(n, b, a, mode))(out)
    return out


# ---------------------------------------------------------------- indexing
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
            k = k.data
        elif isinstance(k, np.ndarray) and xp is not np:
            k = xp.asarray(k)
        elif isinstance(k, (list, tuple)):
            k = [v.data if isinstance(v, Tensor) else v for v in k]
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


class GetItem(Function):
    def __init__(self, key: tuple[Any, ...], adv: bool) -> None:
        self.key, self.adv = key, adv

    def forward(self, x):
        return x[self.key]

    def backward(self, gy):
        return IndexPut(self.key, self.adv, self.in_shapes[0])(gy)


class IndexPut(Function):
    """zeros(shape) with g placed at ``[key]`` (added, where integer arrays may repeat)."""

    def __init__(self, key: tuple[Any, ...], adv: bool, shape: tuple[int, ...]) -> None:
        self.key, self.adv, self.shape = key, adv, shape

    def forward(self, g):
        if self.adv:
            return _scatter_key(self.shape, self.key, g)
        z = xp.zeros(self.shape, dtype=g.dtype)
        z[self.key] = g
        return z

    def backward(self, gg):
        return GetItem(self.key, self.adv)(gg)


def getitem(x: Tensor, key: Any) -> Tensor:
    """``x[key]`` with NumPy's rules: ints, slices (any step), None, Ellipsis,
    integer arrays (lists, arrays, int tensors) and boolean masks, in any mix.

    Basic indexing gives a view of x's data. Gradients of repeated integer
    indices accumulate.
    """
    k, adv = _norm_key(key, "getitem")
    try:
        return GetItem(k, adv)(x)
    except IndexError as e:
        raise _index_error(e, "getitem", x.shape) from None


def setitem(x: Tensor, key: Any, value: Any) -> None:
    """``x[key] = value`` in place (value: a Tensor, array or scalar, broadcast to x[key]).

    Only for tensors outside autograd: a tensor that requires grad can be
    written only under ``no_grad`` (like a parameter update).
    """
    if state.enabled and x.requires_grad:
        raise RuntimeError(
            "setitem: in-place assignment to a tensor that requires grad is not recorded by "
            "autograd; do it under tapegrad.no_grad(), or build a new tensor (e.g. with "
            "where, cat or masked_fill)"
        )
    k, _ = _norm_key(key, "setitem")
    v = value.data if isinstance(value, Tensor) else value
    try:
        x.data[k] = v
    except IndexError as e:
        raise _index_error(e, "setitem", x.shape) from None
    except ValueError as e:
        if not x.data.flags.writeable:
            raise ValueError(
                "setitem: this tensor's memory is read-only (a broadcast view); clone() it first"
            ) from None
        raise ValueError(
            f"setitem: a value of shape {np.shape(v)} cannot be assigned to the selection "
            f"of a tensor of shape {tuple(x.shape)} ({e})"
        ) from None


class Gather(Function):
    def __init__(self, dim: int, index: Any) -> None:
        self.dim, self.index = dim, index

    def forward(self, x):
        idx = self.index
        if any(a != b for d, (a, b) in enumerate(zip(idx.shape, x.shape)) if d != self.dim):
            # torch uses only the leading part of x where index is smaller
            x = x[
                tuple(
                    slice(None) if d == self.dim else slice(0, s) for d, s in enumerate(idx.shape)
                )
            ]
        return xp.take_along_axis(x, idx, axis=self.dim)

    def backward(self, gy):
        return ScatterAdd(self.dim, self.index, self.in_shapes[0])(gy)


class ScatterAdd(Function):
    """zeros(shape) with g added along ``dim`` at ``index`` (the adjoint of gather)."""

    def __init__(self, dim: int, index: Any, shape: tuple[int, ...], unique: bool = False) -> None:
        self.dim, self.index, self.shape, self.unique = dim, index, shape, unique

    def forward(self, g):
        size = int(np.prod(self.shape, dtype=np.int64))
        z = xp.zeros(size, dtype=g.dtype)
        flat = _flat_positions(self.index, self.dim, self.shape).reshape(-1)
        if self.unique:
            z[flat] = g.reshape(-1)
        else:
            np.add.at(z, flat, xp.ascontiguousarray(g).reshape(-1))
        return z.reshape(self.shape)

    def backward(self, gg):
        return Gather(self.dim, self.index)(gg)


def _int_index(index: Any, op: str) -> Any:
    a = index.data if isinstance(index, Tensor) else xp.asarray(index)
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
        return reshape(Gather(0, idx)(reshape(x, (1,))), ())
    _check_range(idx, x.shape[d], d, "gather", x.shape)
    return Gather(d, idx)(x)


class IndexSelect(Function):
    def __init__(self, dim: int, index: Any) -> None:
        self.dim, self.index = dim, index

    def forward(self, x):
        return xp.take(x, self.index, axis=self.dim)

    def backward(self, gy):
        return IndexAdd(self.dim, self.index, self.in_shapes[0])(gy)


class IndexAdd(Function):
    """zeros(shape) with the slices of g added at ``index`` along ``dim``."""

    def __init__(self, dim: int, index: Any, shape: tuple[int, ...]) -> None:
        self.dim, self.index, self.shape = dim, index, shape

    def forward(self, g):
        return _index_add(self.shape, self.dim, self.index, g)

    def backward(self, gg):
        return IndexSelect(self.dim, self.index)(gg)


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
        return reshape(IndexSelect(0, idx)(reshape(x, (1,))), idx.shape if idx.size != 1 else ())
    _check_range(idx, x.shape[d], d, "index_select", x.shape)
    return IndexSelect(d, idx)(x)


def masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    """x with ``value`` where the boolean ``mask`` (broadcast to x's shape) is true.

    ``value`` is a number or a 0-d tensor (which then receives the gradient of
    the filled positions).
    """
    from .elementwise import where

    m = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
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
    return GetItem(key, False)(x)
