"""One backward formula, two ways to run it: on NumPy arrays or on Tensors.

A fused op's backward is written once, as a function of a small *array
namespace* ``F`` (Chainer's and JAX's way): arithmetic with the operators
``+ - * / **`` and unary ``-``, and the functions of :class:`ArrayNamespace`
(``F.exp``, ``F.sum(x, axes, keepdims)``, ``F.where`` ...). Both namespaces
have the same methods:

- :data:`ARRAYS` runs them on NumPy arrays: the fast path of an ordinary
  ``backward()``, where no graph of the backward is recorded;
- :data:`TENSORS` runs them as tapegrad ops on Tensors: the path taken when
  ``create_graph=True``, so the gradient is itself differentiable.

:func:`namespace` picks the one for the pass now running. A backward reads::

    def backward(self, gy):
        F = namespace()
        x, t = F.inputs(self)          # arrays, or the input Tensors
        g = 2.0 * (x - t) * F.value(gy)
        return F.grads(g, -g)          # always Tensors (or None) for the engine

Constants the forward saved (a mask, a class weight) enter a formula through
``F.const``; a boolean mask given to ``F.where`` stays an array in both.
A value of the forward pass that the formula needs (a softmax, the gates of
an LSTM step) enters through ``F.residual(saved, recompute)``: the array
forward kept on the fast path, recomputed from the input Tensors in ``F`` when
the gradient must be differentiable.
Formulas never update a value in place (``a -= b``): on a Tensor that is an
in-place op, not a new node.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..autograd.grad_mode import state
from ..backend import xp
from ..tensor import Tensor, _wrap
from . import activation as _act
from . import elementwise as _ew
from . import shape as _sh
from .compiled import kernels_for

__all__ = ["ArrayNamespace", "TensorNamespace", "ARRAYS", "TENSORS", "namespace"]


# Sums of more terms than this, in float32 or float16, are accumulated in float64.
EXACT_SUM_TERMS = 1024


def _sum_f64(a: Any, axes: Any, keepdims: bool) -> Any:
    """Sum over ``axes``; long float32 and float16 sums accumulated in float64.

    NumPy sums pairwise only along a contiguous axis; over the outer axes of a
    channels-last batch (batch-norm statistics, a convolution's bias gradient)
    it adds one value after another, and float32 sums of 10^4 terms lose 4-5
    digits. A float64 accumulator costs about the same time there; on short
    sums (a linear layer's bias gradient over a batch of 64) it would double
    the time for nothing, so it is used above ``EXACT_SUM_TERMS`` terms.
    """
    if a.dtype.kind != "f" or a.dtype.itemsize >= 8:
        return a.sum(axis=axes, keepdims=keepdims)
    if axes is None:
        terms = a.size
    else:
        terms = 1
        for ax in (axes,) if isinstance(axes, int) else axes:
            terms *= a.shape[ax]
    if terms <= EXACT_SUM_TERMS:
        return a.sum(axis=axes, keepdims=keepdims)
    if axes == (0, 2, 3) and a.ndim == 4:
        sums = _channel_sums(a)
        if sums is not None:
            return sums.reshape((1, -1, 1, 1) if keepdims else (-1,)).astype(a.dtype)
    return a.sum(axis=axes, keepdims=keepdims, dtype=xp.float64).astype(a.dtype, copy=False)


def _channel_sums(a: Any) -> Any:
    """float64 sums over (N, H, W) of a channels-last (N, C, H, W) batch, compiled; else None.

    NumPy casts such a sum to float64 through a buffer, at a third of the
    speed of one compiled pass; both add the rows in the same order.
    """
    nb = kernels_for(a)
    v = a.transpose(0, 2, 3, 1)
    if nb is None or a.size == 0 or not v.flags.c_contiguous:
        return None
    out = xp.empty(a.shape[1], dtype=xp.float64)
    nb.channel_sums_f64(v.reshape(-1, a.shape[1]), out)
    return out


class ArrayNamespace:
    """The formula's functions on NumPy arrays (no graph)."""

    # ------------------------------------------------ entering and leaving
    def value(self, t: Tensor) -> Any:
        """The array of Tensor ``t``."""
        return t._array

    def inputs(self, fn: Any) -> list[Any]:
        """The arrays of the node's kept inputs (``keep_inputs``)."""
        return [x._array for x in fn.inputs]

    def output(self, fn: Any, i: int = 0) -> Any:
        """The array of the node's output ``i`` (``keep_outputs``)."""
        return fn._out_data[i]

    def const(self, a: Any) -> Any:
        """A constant array saved by forward, as a value of this namespace."""
        return a

    def residual(self, saved: Any, recompute: Any) -> Any:
        """A value of the forward pass that the backward formula needs.

        On arrays it is ``saved``, the array forward kept; on Tensors it is
        ``recompute()``, the same value as a differentiable function of the
        inputs, so that second derivatives are exact.
        """
        return saved

    def tensor(self, v: Any) -> Tensor:
        """A value of this namespace as a Tensor."""
        return _wrap(v)

    def grads(self, *gs: Any) -> Any:
        """The gradients as the engine wants them: Tensors or None; one unpacked."""
        if len(gs) == 1:
            return None if gs[0] is None else _wrap(gs[0])
        return tuple([None if g is None else _wrap(g) for g in gs])

    # ----------------------------------------------------------- elementwise
    def exp(self, x: Any) -> Any:
        """e**x, elementwise."""
        return xp.exp(x)

    def log(self, x: Any) -> Any:
        """Natural logarithm (log 0 is -inf, without a warning)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.log(x)

    def log1p(self, x: Any) -> Any:
        """log(1 + x), exact for small x."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.log1p(x)

    def tanh(self, x: Any) -> Any:
        """Hyperbolic tangent."""
        return xp.tanh(x)

    def sigmoid(self, x: Any) -> Any:
        """1 / (1 + exp(-x)), from exp(-|x|), which never overflows."""
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1.0, e) / (1.0 + e)

    def softplus(self, x: Any) -> Any:
        """log(1 + exp(x)), without overflow."""
        return xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(x, 0)

    def rsqrt(self, x: Any) -> Any:
        """1 / sqrt(x)."""
        return 1.0 / xp.sqrt(x)

    def clamp_min(self, x: Any, lo: float) -> Any:
        """max(x, lo) elementwise."""
        return xp.maximum(x, lo)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        """``a`` where the boolean array ``cond`` holds, else ``b``."""
        return xp.where(cond, a, b)

    # ------------------------------------------------------------ reductions
    def sum(self, x: Any, axes: Any = None, keepdims: bool = False) -> Any:
        """Sum over ``axes`` (long float32 sums accumulated in float64)."""
        return _sum_f64(x, axes, keepdims)

    def mean(self, x: Any, axes: Any = None, keepdims: bool = False) -> Any:
        """Mean over ``axes`` (accumulated as :meth:`sum`)."""
        s = _sum_f64(x, axes, keepdims)
        return s * (s.size / x.size) if x.size else x.mean(axis=axes, keepdims=keepdims)

    def prod(self, x: Any, axes: Any = None, keepdims: bool = False) -> Any:
        """Product over ``axes``."""
        return x.prod(axis=axes, keepdims=keepdims)

    # ----------------------------------------------------------------- shape
    def reshape(self, x: Any, shape: Sequence[int]) -> Any:
        """``x`` with ``shape`` (same number of elements)."""
        return x.reshape(shape)

    def broadcast_to(self, x: Any, shape: Sequence[int]) -> Any:
        """``x`` broadcast to ``shape``."""
        return xp.broadcast_to(x, shape)

    def mT(self, x: Any) -> Any:  # noqa: N802 - PyTorch's name
        """The last two axes swapped."""
        return x.swapaxes(-1, -2)

    def cat(self, xs: Sequence[Any], axis: int) -> Any:
        """The values joined along ``axis``."""
        return xp.concatenate(xs, axis=axis)

    def split(self, x: Any, sizes: Sequence[int], axis: int) -> list[Any]:
        """``x`` cut along ``axis`` into pieces of ``sizes`` (views)."""
        lead = (slice(None),) * (axis % x.ndim)
        out, start = [], 0
        for n in sizes:
            out.append(x[lead + (slice(start, start + n),)])
            start += n
        return out

    def stack(self, xs: Sequence[Any], axis: int) -> Any:
        """Same-shape values joined along a new ``axis``."""
        return xp.stack(xs, axis=axis)

    def unbind(self, x: Any, axis: int) -> list[Any]:
        """The slices of ``x`` along ``axis``, each without that axis (views on arrays)."""
        return list(xp.moveaxis(x, axis, 0))

    # ---------------------------------------------------------------- others
    def matmul(self, a: Any, b: Any) -> Any:
        """The matrix product ``a @ b`` (batched)."""
        return a @ b

    def softmax(self, x: Any, axis: int) -> Any:
        """exp(x) / sum(exp(x)) along ``axis``, shifted by the max for stability."""
        e = xp.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)


class TensorNamespace(ArrayNamespace):
    """The same functions as tapegrad ops on Tensors (a graph is recorded)."""

    def value(self, t: Tensor) -> Any:
        """Tensor ``t`` itself."""
        return t

    def inputs(self, fn: Any) -> list[Any]:
        """The node's kept input Tensors (``keep_inputs``)."""
        return list(fn.inputs)

    def output(self, fn: Any, i: int = 0) -> Any:
        """The node's output ``i`` as a Tensor (``keep_outputs``)."""
        return fn.output(i)

    def const(self, a: Any) -> Any:
        """A constant array saved by forward, as a Tensor without gradient."""
        return _wrap(a)

    def residual(self, saved: Any, recompute: Any) -> Any:
        """The forward value, recomputed in tapegrad ops so it is differentiable."""
        return recompute()

    def tensor(self, v: Any) -> Tensor:
        """``v``, already a Tensor."""
        return v

    def grads(self, *gs: Any) -> Any:
        """The gradients as the engine wants them: a tuple, or one unpacked."""
        return gs if len(gs) > 1 else gs[0]

    def exp(self, x: Any) -> Any:
        """tapegrad.exp(x)."""
        return _ew.exp(x)

    def log(self, x: Any) -> Any:
        """tapegrad.log(x)."""
        return _ew.log(x)

    def log1p(self, x: Any) -> Any:
        """tapegrad.log1p(x)."""
        return _ew.log1p(x)

    def tanh(self, x: Any) -> Any:
        """tapegrad.tanh(x)."""
        return _act.tanh(x)

    def sigmoid(self, x: Any) -> Any:
        """tapegrad.sigmoid(x)."""
        return _act.sigmoid(x)

    def softplus(self, x: Any) -> Any:
        """tapegrad.nn.functional.softplus(x) (beta 1)."""
        return _act.softplus(x)

    def rsqrt(self, x: Any) -> Any:
        """tapegrad.rsqrt(x)."""
        return _ew.rsqrt(x)

    def clamp_min(self, x: Any, lo: float) -> Any:
        """tapegrad.clamp(x, min=lo)."""
        return _ew.clamp(x, min=lo)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        """tapegrad.where(cond, a, b)."""
        return _ew.where(cond, a, b)

    def sum(self, x: Any, axes: Any = None, keepdims: bool = False) -> Any:
        """Sum of x over ``axes``."""
        return x.sum(axes, keepdim=keepdims)

    def mean(self, x: Any, axes: Any = None, keepdims: bool = False) -> Any:
        """Mean of x over ``axes``."""
        return x.mean(axes, keepdim=keepdims)

    def prod(self, x: Any, axes: Any = None, keepdims: bool = False) -> Any:
        """Product of x over ``axes``."""
        return x.prod(axes, keepdim=keepdims)

    def reshape(self, x: Any, shape: Sequence[int]) -> Any:
        """x reshaped to ``shape``."""
        return _sh.reshape(x, tuple(shape))

    def broadcast_to(self, x: Any, shape: Sequence[int]) -> Any:
        """x broadcast to ``shape``."""
        return _sh.broadcast_to(x, tuple(shape))

    def mT(self, x: Any) -> Any:  # noqa: N802
        """x with its last two dims swapped."""
        return _sh.transpose(x, -1, -2)

    def cat(self, xs: Sequence[Any], axis: int) -> Any:
        """The Tensors ``xs`` joined along ``axis``."""
        return _sh.cat(list(xs), axis)

    def split(self, x: Any, sizes: Sequence[int], axis: int) -> list[Any]:
        """x cut into pieces of ``sizes`` along ``axis``."""
        return list(x.split(list(sizes), axis))

    def stack(self, xs: Sequence[Any], axis: int) -> Any:
        """The Tensors ``xs`` stacked along a new ``axis``."""
        return _sh.stack(list(xs), axis)

    def unbind(self, x: Any, axis: int) -> list[Any]:
        """The slices of x along ``axis``, that axis removed."""
        return list(_sh.unbind(x, axis))

    def matmul(self, a: Any, b: Any) -> Any:
        """a @ b."""
        return a @ b

    def softmax(self, x: Any, axis: int) -> Any:
        """Softmax of x along ``axis``."""
        return x.softmax(axis)


ARRAYS = ArrayNamespace()
TENSORS = TensorNamespace()


def namespace() -> ArrayNamespace:
    """:data:`TENSORS` while a graph is recorded (``create_graph``), else :data:`ARRAYS`."""
    return TENSORS if state.enabled else ARRAYS
