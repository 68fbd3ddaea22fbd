"""Shape ops: reshape, transpose, broadcasting, joining, splitting.

Each op's backward is another shape op (reshape undoes reshape, ``sum_to``
undoes ``broadcast_to``, ``cat`` undoes ``split``), so all are twice (indeed
infinitely) differentiable. Indexing lives in :mod:`tapegrad.ops.indexing`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd.broadcast import broadcast_to, sum_to
from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor, as_tensor
from ._args import axis as _axis
from ._args import shape_arg as _shape_arg

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
]


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """Like ``torch.Tensor.expand``: -1 keeps a dim's size."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: {len(sizes)} sizes given for a tensor of {x.ndim} dims")
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return broadcast_to(x, shape)


# ---------------------------------------------------------------- reshape
class ReshapeFunction(Function):
    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def forward(self, x: Any) -> Any:
        """The array reshaped to ``shape`` (a view where NumPy can make one)."""
        return x.reshape(self.shape)

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy reshaped to the input's shape."""
        return reshape(gy, self.in_shapes[0])


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """x with a new shape of the same size; one entry may be -1."""
    shape = _shape_arg(shape)
    if shape == x.shape:
        return x
    try:
        return ReshapeFunction(shape)(x)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} "
            f"({x._array.size} elements) into {shape}"
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


class TransposeFunction(Function):
    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = axes

    def forward(self, x: Any) -> Any:
        """The array with its axes permuted by ``axes`` (a view)."""
        return x.transpose(self.axes)

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy permuted by the inverse of ``axes``."""
        return TransposeFunction(tuple(np.argsort(self.axes)))(gy)


def permute(x: Tensor, *dims: Any) -> Tensor:
    """Reorder the axes: output axis i is input axis ``dims[i]``."""
    dims = _shape_arg(dims)
    if sorted(d % max(x.ndim, 1) for d in dims) != list(range(x.ndim)) or len(dims) != x.ndim:
        raise ValueError(f"permute: {dims} is not a permutation of the {x.ndim} dims of {x.shape}")
    dims = tuple(d % x.ndim for d in dims)
    if dims == tuple(range(x.ndim)):
        return x
    return TransposeFunction(dims)(x)


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


class FlipFunction(Function):
    def __init__(self, dims: tuple[int, ...]) -> None:
        self.dims = dims

    def forward(self, x: Any) -> Any:
        """The array reversed along ``dims``."""
        return xp.flip(x, axis=self.dims)

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy reversed along ``dims``."""
        return FlipFunction(self.dims)(gy)


def flip(x: Tensor, *dims: Any) -> Tensor:
    """x with the order of elements reversed along each of ``dims`` (ints, a tuple or a list)."""
    ds = tuple(sorted({_axis(d, x.ndim, "flip") for d in _dims_arg(dims)}))
    if not ds or x.ndim == 0:
        return x
    return FlipFunction(ds)(x)


class RepeatFunction(Function):
    """``np.tile`` of x (already of ``len(reps)`` dims)."""

    def __init__(self, reps: tuple[int, ...]) -> None:
        self.reps = reps

    def forward(self, x: Any) -> Any:
        """The array tiled ``reps`` times along each dim (``np.tile``)."""
        return xp.tile(x, self.reps)

    def backward(self, gy: Any) -> Any:
        """dL/dx: the sum of gy's copies, back to the input's shape."""
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
    return RepeatFunction(reps)(x)


def tile(x: Tensor, *dims: Any) -> Tensor:
    """``torch.tile``: like :func:`repeat`, but fewer ``dims`` than x's dims are padded with 1s."""
    reps = _shape_arg(dims)
    if len(reps) < x.ndim:
        reps = (1,) * (x.ndim - len(reps)) + reps
    return repeat(x, *reps)


# ---------------------------------------------------- joining and splitting
class CatFunction(Function):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, *xs: Any) -> Any:
        """The arrays joined along ``dim``."""
        return xp.concatenate(xs, axis=self.dim)

    def backward(self, gy: Any) -> Any:
        """dL/dxs: gy split back into each input's extent along ``dim``."""
        sizes = tuple(s[self.dim] for s in self.in_shapes)
        return SplitFunction(sizes, self.dim)(gy)


class SplitFunction(Function):
    """Several outputs: consecutive pieces of ``sizes`` along ``dim``."""

    def __init__(self, sizes: tuple[int, ...], dim: int) -> None:
        self.sizes, self.dim = sizes, dim

    def forward(self, x: Any) -> Any:
        """A tuple of views: consecutive pieces of ``sizes`` along ``dim``."""
        key = [slice(None)] * x.ndim
        outs = []
        start = 0
        for s in self.sizes:
            key[self.dim] = slice(start, start + s)
            outs.append(x[tuple(key)])
            start += s
        return tuple(outs)

    def backward(self, *gys: Any) -> Any:
        """dL/dx: the pieces' gradients joined along ``dim``."""
        return CatFunction(self.dim)(*gys)


class StackFunction(Function):
    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, *xs: Any) -> Any:
        """The arrays (all one shape) stacked along a new axis ``dim``."""
        return xp.stack(xs, axis=self.dim)

    def backward(self, gy: Any) -> Any:
        """dL/dxs: gy unbound along ``dim``, one slice per input."""
        return UnbindFunction(self.dim)(gy)


class UnbindFunction(Function):
    """Several outputs: the slices ``x[..., i, ...]`` along ``dim``."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x: Any) -> Any:
        """A tuple of views ``x[..., i, ...]``, one per index along ``dim``."""
        key: list[Any] = [slice(None)] * x.ndim
        outs = []
        for i in range(x.shape[self.dim]):
            key[self.dim] = i
            outs.append(x[tuple(key)])
        return tuple(outs)

    def backward(self, *gys: Any) -> Any:
        """dL/dx: the slices' gradients stacked along ``dim``."""
        return StackFunction(self.dim)(*gys)


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
    return CatFunction(d)(*ts)


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
    return StackFunction(dim % nd)(*ts)


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
    return SplitFunction(sizes, d)(x)


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
        return SplitFunction((0,) * chunks, d)(x)
    return split(x, -(-n // chunks), d)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of x along ``dim``, each without that dim."""
    d = _axis(dim, x.ndim, "unbind")
    if x.ndim == 0:
        raise ValueError("unbind: cannot unbind a 0-d tensor")
    return UnbindFunction(d)(x)
