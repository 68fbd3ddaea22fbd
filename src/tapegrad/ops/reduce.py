"""Reductions: sum, mean, max/min, amax/amin, var/std, prod, argmax/argmin, norm, any/all.

Every reduction takes ``dim`` (or NumPy's ``axis``) as an int, a tuple or
None (all axes), and ``keepdim`` (or ``keepdims``). Backward passes are
written in tapegrad ops on the kept input/output tensors, so each reduction
is twice differentiable where it has a second derivative.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from ..autograd.function import Function
from ..backend import xp
from ..tensor import ReturnTypes, Tensor, _wrap, as_tensor
from ._args import norm_dims as _norm_dims
from ._args import reduced_shape as _reduced_shape
from .indexing import ScatterAddFunction
from .namespace import ArrayNamespace, namespace
from .shape import reshape

__all__ = [
    "sum",
    "mean",
    "max",
    "min",
    "amax",
    "amin",
    "var",
    "std",
    "prod",
    "argmax",
    "argmin",
    "norm",
    "any",
    "all",
]


def _args(dim: Any, keepdim: bool, kw: dict[str, Any], op: str) -> tuple[Any, bool]:
    """Accept NumPy's ``axis``/``keepdims`` as aliases of ``dim``/``keepdim``."""
    if "axis" in kw:
        dim = kw.pop("axis")
    if "keepdims" in kw:
        keepdim = kw.pop("keepdims")
    if kw:
        raise TypeError(f"{op}: unexpected arguments {sorted(kw)}")
    return dim, bool(keepdim)


def _kept_shape(in_shape: tuple[int, ...], dims: tuple[int, ...] | None) -> tuple[int, ...]:
    """The shape of a keepdim=True reduction over ``dims``."""
    if dims is None:
        return (1,) * len(in_shape)
    return tuple(1 if i in dims else s for i, s in enumerate(in_shape))


def _count(shape: tuple[int, ...], dims: tuple[int, ...] | None) -> int:
    n = 1
    for i, s in enumerate(shape):
        if dims is None or i in dims:
            n *= s
    return n


def _expand(F: ArrayNamespace, g: Any, shape: tuple[int, ...], dims: Any, keepdim: bool) -> Any:
    """The gradient ``g`` of a reduced output broadcast back over the input's shape."""
    if not keepdim:
        g = F.reshape(g, _kept_shape(shape, dims))
    return F.broadcast_to(g, shape)


def _expand_grad(gy: Tensor, shape: tuple[int, ...], dims: Any, keepdim: bool) -> Tensor:
    """:func:`_expand` of the Tensor ``gy``; without a recorded graph, on its array."""
    F = namespace()
    return F.tensor(_expand(F, F.value(gy), shape, dims, keepdim))


def _float_input(x: Tensor, op: str) -> Tensor:
    """x itself; PyTorch refuses bool and integer tensors here, and so do we."""
    d = x._array.dtype
    if d.kind in "biu":
        if op == "mean":
            raise RuntimeError(
                "mean(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {d} (pass dtype=..., or convert with .float())"
            )
        raise RuntimeError(
            f"{op}: expected a floating point or complex tensor as input, got {d} "
            "(convert it with .float())"
        )
    return x


# -------------------------------------------------------------- sum, mean
class SumFunction(Function):
    def __init__(self, dims: tuple[int, ...] | None, keepdim: bool) -> None:
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x: Any) -> Any:
        """Sum of the array over ``dims`` (int64 for bool and integer inputs)."""
        # bool and every integer dtype sum to int64, as in PyTorch (NumPy: uint64 for uints)
        dt = np.int64 if x.dtype.kind in "biu" else None
        return x.sum(axis=self.dims, keepdims=self.keepdim, dtype=dt)

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy broadcast back to the input's shape."""
        return _expand_grad(gy, self.in_shapes[0], self.dims, self.keepdim)


def sum(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (all axes when None). Booleans and integers sum to int64."""
    dim, keepdim = _args(dim, keepdim, kw, "sum")
    return SumFunction(_norm_dims(dim, x.ndim, "sum"), keepdim)(x)


class MeanFunction(Function):
    def __init__(self, dims: tuple[int, ...] | None, keepdim: bool, n: int) -> None:
        self.dims, self.keepdim, self.n = dims, keepdim, n

    def forward(self, x: Any) -> Any:
        """Mean of the array over ``dims`` (the sum divided by ``n``)."""
        # bool and every integer dtype sum to int64, as in PyTorch (NumPy: uint64 for uints)
        dt = np.int64 if x.dtype.kind in "biu" else None
        return x.sum(axis=self.dims, keepdims=self.keepdim, dtype=dt) / self.n

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy / n broadcast back to the input's shape."""
        return _expand_grad(gy, self.in_shapes[0], self.dims, self.keepdim) * (1.0 / self.n)


def mean(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
    """Mean over ``dim`` (all axes when None) of a float tensor; ``dtype=`` converts first.

    Bool and integer tensors raise, as in PyTorch (pass ``dtype=tapegrad.float32``).

    The mean of an empty selection is NaN, as in PyTorch.
    """
    dtype = kw.pop("dtype", None)
    dim, keepdim = _args(dim, keepdim, kw, "mean")
    dims = _norm_dims(dim, x.ndim, "mean")
    if dtype is not None and np.dtype(dtype) != x._array.dtype:
        from .elementwise import cast

        x = cast(x, dtype)
    x = _float_input(x, "mean")
    n = _count(x.shape, dims)
    if n == 0:
        return SumFunction(dims, keepdim)(x) * float("nan")
    return MeanFunction(dims, keepdim, n)(x)


# ------------------------------------------------------------ max and min
class AMaxFunction(Function):
    """Max (or min) over ``dims``; the gradient is shared evenly among tied extremes.

    Backward reads the result (as PyTorch's amax does), so it counts as kept:
    changing the result in place makes backward raise."""

    keep_inputs = True
    keep_outputs = True

    def __init__(self, dims: tuple[int, ...] | None, keepdim: bool, is_max: bool) -> None:
        self.dims, self.keepdim, self.is_max = dims, keepdim, is_max

    def forward(self, x: Any) -> Any:
        """Max (or min) of the array over ``dims``; keeps it for backward."""
        f = xp.max if self.is_max else xp.min
        y = xp.asarray(f(x, axis=self.dims, keepdims=True))
        self.y = y
        return y if self.keepdim else y.reshape(_reduced_shape(x.shape, self.dims))

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy shared evenly among the elements equal to the extreme, else 0."""
        assert self.inputs is not None
        x, y = self.inputs[0]._array, self.y
        hit = x == y
        if y.dtype.kind == "f" and xp.isnan(y).any():
            hit |= xp.isnan(x) & xp.isnan(y)
        count = hit.sum(axis=self.dims, keepdims=True)
        w = hit / count.astype(gy._array.dtype)
        return _expand_grad(gy, x.shape, self.dims, self.keepdim) * _wrap(w.astype(gy._array.dtype))


class MaxDimFunction(Function):
    """Max (or min) along one dim; the gradient goes to the returned index only."""

    def __init__(self, dim: int, keepdim: bool, is_max: bool) -> None:
        self.dim, self.keepdim, self.is_max = dim, keepdim, is_max

    def forward(self, x: Any) -> Any:
        """Max (or min) along ``dim``; keeps the argmax (argmin) for backward."""
        d = self.dim
        if self.is_max:
            idx, y = xp.argmax(x, axis=d, keepdims=True), xp.max(x, axis=d, keepdims=self.keepdim)
        else:
            idx, y = xp.argmin(x, axis=d, keepdims=True), xp.min(x, axis=d, keepdims=self.keepdim)
        self.idx = idx
        return y

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy scattered to the position of the returned index, 0 elsewhere."""
        if not self.keepdim:
            gy = reshape(gy, self.idx.shape)
        return ScatterAddFunction(self.dim, self.idx, self.in_shapes[0], unique=True)(gy)


def _empty_error(op: str, x: Tensor, dims: Any) -> None:
    if x._array.size == 0 and (dims is None or builtins.any(x.shape[d] == 0 for d in dims)):
        raise ValueError(
            f"{op}: cannot reduce over an empty dim (tensor of shape {tuple(x.shape)}, dim {dims})"
        )


def _max_min(x: Tensor, dim: Any, keepdim: bool, kw: dict[str, Any], is_max: bool) -> Any:
    op = "max" if is_max else "min"
    if isinstance(dim, Tensor):
        from .elementwise import maximum, minimum

        return maximum(x, dim) if is_max else minimum(x, dim)
    dim, keepdim = _args(dim, keepdim, kw, op)
    if dim is None:
        _empty_error(op, x, None)
        return AMaxFunction(None, False, is_max)(x)
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int (use amax/amin for several dims), got {dim!r}")
    d = _norm_dims(dim, x.ndim, op)
    if d is None:  # a 0-d tensor is its own max, at index 0
        return ReturnTypes(reshape(x, ()), _wrap(xp.zeros((), dtype=np.int64)))
    _empty_error(op, x, d)
    f = MaxDimFunction(d[0], keepdim, is_max)
    values = f(x)
    idx = f.idx if keepdim else f.idx.reshape(values.shape)
    return ReturnTypes(values, _wrap(idx.astype(np.int64, copy=False)))


def max(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:  # noqa: A001
    """The largest element (dim None: a 0-d tensor; the gradient is split among ties),
    or, along an int ``dim``, ``ReturnTypes(values, indices)`` (the gradient goes to
    the returned index, the first of tied maxima). ``max(x, other_tensor)`` is
    :func:`maximum`.
    """
    return _max_min(x, dim, keepdim, kw, True)


def min(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:  # noqa: A001
    """Like :func:`max`, for the smallest element."""
    return _max_min(x, dim, keepdim, kw, False)


def amax(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
    """Max over ``dim`` (an int, a tuple; None or () for all); ties share the gradient."""
    dim, keepdim = _args(dim, keepdim, kw, "amax")
    dims = _norm_dims(None if dim == () or dim == [] else dim, x.ndim, "amax")
    _empty_error("amax", x, dims)
    return AMaxFunction(dims, keepdim, True)(x)


def amin(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
    """Min over ``dim`` (an int, a tuple; None or () for all); ties share the gradient."""
    dim, keepdim = _args(dim, keepdim, kw, "amin")
    dims = _norm_dims(None if dim == () or dim == [] else dim, x.ndim, "amin")
    _empty_error("amin", x, dims)
    return AMaxFunction(dims, keepdim, False)(x)


def _arg(x: Tensor, dim: Any, keepdim: bool, kw: dict[str, Any], is_max: bool) -> Tensor:
    op = "argmax" if is_max else "argmin"
    dim, keepdim = _args(dim, keepdim, kw, op)
    f = xp.argmax if is_max else xp.argmin
    if dim is None:
        _empty_error(op, x, None)
        return _wrap(f(x._array, keepdims=keepdim).astype(np.int64, copy=False))
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int or None, got {dim!r}")
    d = _norm_dims(dim, x.ndim, op)
    if d is None:
        return _wrap(xp.zeros((), dtype=np.int64))
    _empty_error(op, x, d)
    return _wrap(f(x._array, axis=d[0], keepdims=keepdim).astype(np.int64, copy=False))


def argmax(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
    """int64 indices of the largest elements along ``dim`` (None: into the flattened tensor)."""
    return _arg(x, dim, keepdim, kw, True)


def argmin(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
    """int64 indices of the smallest elements along ``dim`` (None: into the flattened tensor)."""
    return _arg(x, dim, keepdim, kw, False)


# -------------------------------------------------------------- var, std
class VarFunction(Function):
    keep_inputs = True

    def __init__(self, dims: tuple[int, ...] | None, keepdim: bool, ddof: float) -> None:
        self.dims, self.keepdim, self.ddof = dims, keepdim, ddof

    def forward(self, x: Any) -> Any:
        """Variance of the array over ``dims`` with ``ddof`` subtracted from the count."""
        dims = self.dims
        d = x - x.mean(axis=dims, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (d * d).sum(axis=dims, keepdims=self.keepdim) / self.denom(x.shape)

    def denom(self, shape: tuple[int, ...]) -> float:
        """The divisor of the variance for an input of ``shape``: count - ddof, at least 0."""
        return builtins.max(_count(shape, self.dims) - self.ddof, 0)

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * 2 (x - mean) / (n - ddof)."""
        assert self.inputs is not None
        (x,) = self.inputs
        dims = self.dims
        n = _count(x.shape, dims)
        if n == 0:  # an empty reduction: x has no elements to send a gradient to
            return _wrap(xp.zeros(x.shape, dtype=gy._array.dtype))
        den = self.denom(x.shape)
        scale = 2.0 / den if den else float("inf")
        centred = x - MeanFunction(dims, True, n)(x)
        return _expand_grad(gy, x.shape, dims, self.keepdim) * centred * scale


def _correction(dim: Any, kw: dict[str, Any], op: str) -> tuple[Any, float]:
    """PyTorch's ``correction``/``unbiased`` (and NumPy's ``ddof``); the default is 1."""
    if isinstance(dim, bool):  # the legacy positional form var(x, unbiased)
        if kw.get("unbiased") is not None:
            raise TypeError(f"{op}: unbiased given twice (positionally and by keyword)")
        kw["unbiased"] = dim
        dim = None
    given = [k for k in ("correction", "unbiased", "ddof") if kw.get(k) is not None]
    if len(given) > 1:
        raise TypeError(f"{op}: give only one of correction, unbiased and ddof, got {given}")
    c = 1.0
    if "correction" in given:
        c = kw["correction"]
    elif "unbiased" in given:
        c = 1.0 if kw["unbiased"] else 0.0
    elif "ddof" in given:
        c = kw["ddof"]
    for k in ("correction", "unbiased", "ddof"):
        kw.pop(k, None)
    return dim, c


def var(
    x: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, **kw: Any
) -> Tensor:
    """Variance over ``dim``: ``sum((x - mean)**2) / (N - correction)``.

    PyTorch's signatures: ``var(x, dim, unbiased, keepdim)`` positionally,
    ``var(x, unbiased)``, or the keyword ``correction`` (default 1, Bessel's
    correction; ``unbiased=False`` is 0); NumPy's ``ddof`` also works.
    Returns x's shape without the reduced dims (kept as 1 with ``keepdim``).
    """
    return _var(x, dim, unbiased, keepdim, kw, "var")


def _var(x: Tensor, dim: Any, unbiased: Any, keepdim: bool, kw: dict[str, Any], op: str) -> Tensor:
    if unbiased is not None:
        if not isinstance(unbiased, bool):
            raise TypeError(f"{op}: unbiased must be a bool, got {unbiased!r}")
        if kw.get("unbiased") is not None:
            raise TypeError(f"{op}: unbiased given twice (positionally and by keyword)")
        kw["unbiased"] = unbiased
    dim, c = _correction(dim, kw, op)
    dim, keepdim = _args(dim, keepdim, kw, op)
    return VarFunction(_norm_dims(dim, x.ndim, op), keepdim, c)(_float_input(x, op))


def std(
    x: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, **kw: Any
) -> Tensor:
    """Standard deviation: the square root of :func:`var` (same signatures)."""
    from .elementwise import sqrt

    return sqrt(_var(x, dim, unbiased, keepdim, kw, "std"))


# ------------------------------------------------------------------ prod
class ProdFunction(Function):
    """Product over ``dims``; the gradient is right where the input has zeros."""

    keep_inputs = True
    keep_outputs = True

    def __init__(self, dims: tuple[int, ...] | None, keepdim: bool) -> None:
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x: Any) -> Any:
        """Product of the array over ``dims`` (int64 for bool and integer inputs)."""
        dt = np.int64 if x.dtype.kind in "biu" else None
        return x.prod(axis=self.dims, keepdims=self.keepdim, dtype=dt)

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy times the product of the other elements (exact where x has zeros)."""
        assert self.inputs is not None
        F = namespace()
        (x,) = F.inputs(self)
        dims, shape = self.dims, self.in_shapes[0]
        g = _expand(F, F.value(gy), shape, dims, self.keepdim)
        zero = self.inputs[0]._array == 0
        if not zero.any():
            y = F.output(self)
            if not self.keepdim:
                y = F.reshape(y, _kept_shape(shape, dims))
            return F.grads(g * y / x)
        return F.grads(g * _prod_others(F, x, zero, dims))


def _prod_others(F: ArrayNamespace, x: Any, zero: Any, dims: tuple[int, ...] | None) -> Any:
    """prod_{j != i} x_j for each i of each slice, in ``F``.

    With Z the zeros of a slice: the product is (product of the non-zeros except
    x_i) * (product of the zeros except x_i). The second factor is written so that
    its value and first derivative are exact for up to two zeros; with three or
    more both are 0.
    """
    nz = F.where(zero, 1.0, x)
    p_nz = F.prod(nz, dims, True)
    z = zero.sum(axis=dims, keepdims=True)
    xz = F.where(zero, x, 0.0)
    s = F.sum(xz, dims, True)
    one_zero = F.where(zero, 1.0, s)
    two_zeros = F.where(zero, s - x, (s * s - F.sum(xz * xz, dims, True)) * 0.5)
    zs = F.where(z == 0, 1.0, F.where(z == 1, one_zero, F.where(z == 2, two_zeros, 0.0)))
    return p_nz / nz * zs


def prod(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
    """Product over ``dim`` (all axes when None); correct gradients with zeros in x."""
    dim, keepdim = _args(dim, keepdim, kw, "prod")
    return ProdFunction(_norm_dims(dim, x.ndim, "prod"), keepdim)(x)


# ------------------------------------------------------------------ norm
class Norm2Function(Function):
    """sqrt(sum(x**2)); its gradient x / norm is taken as 0 where the norm is 0."""

    keep_inputs = True
    keep_outputs = True

    def __init__(self, dims: tuple[int, ...] | None, keepdim: bool) -> None:
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x: Any) -> Any:
        """sqrt(sum(x ** 2)) of the array over ``dims``."""
        if self.dims is None and not self.keepdim:
            v = x.reshape(-1)
            return xp.sqrt(xp.asarray(xp.dot(v, v)))
        return xp.sqrt((x * x).sum(axis=self.dims, keepdims=self.keepdim))

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * x / norm, 0 where the norm is 0."""
        assert self.inputs is not None
        from .elementwise import where

        (x,) = self.inputs
        r = self.output()
        if not self.keepdim:
            r = reshape(r, _kept_shape(x.shape, self.dims))
        r = where(r._array == 0, 1.0, r)
        return _expand_grad(gy, x.shape, self.dims, self.keepdim) * x / r


class NormPFunction(Function):
    """(sum |x|**p)**(1/p) for a finite p; the gradient is 0 where the norm is 0."""

    keep_inputs = True
    keep_outputs = True

    def __init__(self, p: float, dims: tuple[int, ...] | None, keepdim: bool) -> None:
        self.p, self.dims, self.keepdim = p, dims, keepdim

    def forward(self, x: Any) -> Any:
        """(sum abs(x) ** p) ** (1/p) of the array over ``dims``."""
        s = (xp.abs(x) ** self.p).sum(axis=self.dims, keepdims=self.keepdim)
        return s ** (1.0 / self.p)

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * sign(x) abs(x) ** (p-1) / norm ** (p-1), 0 where the norm is 0."""
        assert self.inputs is not None
        from .elementwise import abs as _abs
        from .elementwise import sign, where

        (x,) = self.inputs
        p = self.p
        r = self.output()
        if not self.keepdim:
            r = reshape(r, _kept_shape(x.shape, self.dims))
        r = where(r._array == 0, 1.0, r)
        g = _expand_grad(gy, x.shape, self.dims, self.keepdim)
        return g * sign(x) * _abs(x) ** (p - 1) / r ** (p - 1)


def norm(x: Tensor, p: Any = 2, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
    """Vector p-norm over ``dim`` (all elements when None), like ``torch.norm``.

    ``p``: 2 (or ``'fro'``, or None), 1, ``inf`` (largest |x|), ``-inf``
    (smallest |x|), 0 (number of non-zeros, no gradient) or any other number.
    The gradient of the 2-norm (and of p > 1) at the zero vector is 0, as in
    PyTorch.
    """
    from .elementwise import abs as _abs

    dim, keepdim = _args(dim, keepdim, kw, "norm")
    dims = _norm_dims(dim, x.ndim, "norm")
    if p is None or p == "fro":
        p = 2
    if isinstance(p, str):
        raise ValueError(f"norm: p must be a number or 'fro', got {p!r}")
    x = _float_input(x, "norm")
    if p == 2:
        return Norm2Function(dims, keepdim)(x)
    if p == 1:
        return sum(_abs(x), dims, keepdim)
    if p == math.inf:
        return amax(_abs(x), dims, keepdim)
    if p == -math.inf:
        return amin(_abs(x), dims, keepdim)
    if p == 0:
        return _wrap((x._array != 0).sum(axis=dims, keepdims=keepdim).astype(x.dtype))
    return NormPFunction(float(p), dims, keepdim)(x)


def _logical(
    x: Tensor, dim: Any, keepdim: bool, kw: dict[str, Any], is_any: bool, op: str
) -> Tensor:
    x = as_tensor(x)
    if kw.get("out", 0) is None:  # np.any(tensor) passes out=None
        del kw["out"]
    dim, keepdim = _args(dim, keepdim, kw, op)
    dims = _norm_dims(dim, x.ndim, op)
    a = x._array != 0
    f = a.any if is_any else a.all
    return _wrap(f(axis=dims, keepdims=keepdim))


def any(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:  # noqa: A001
    """Whether any element (over ``dim``, or all of them) is non-zero; a bool tensor."""
    return _logical(x, dim, keepdim, kw, True, "any")


def all(x: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:  # noqa: A001
    """Whether every element (over ``dim``, or all of them) is non-zero; a bool tensor."""
    return _logical(x, dim, keepdim, kw, False, "all")
