"""The softmax family: ``softmax``, ``log_softmax`` and ``logsumexp``.

Each is a fused Function whose backward is a second fused Function
(``SoftmaxBackwardFunction`` ...), itself differentiable in tapegrad ops, so first-order
backward costs one node and second derivatives are exact. All subtract the
maximum before exponentiating, so large inputs do not overflow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor, as_tensor
from ._args import as_array as _arr
from ._args import norm_dims
from ._args import reduced_shape as _reduced_shape
from .activation import _floating
from .elementwise import exp
from .reduce import sum as _sum

__all__ = ["softmax", "log_softmax", "logsumexp"]


def _axis(dim: int, x: Tensor, op: str) -> int | None:
    """``dim`` as a NumPy axis; None for a 0-d tensor (dim must then be 0 or -1)."""
    nd = x._array.ndim
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    if not -max(nd, 1) <= dim < max(nd, 1):
        raise IndexError(
            f"{op}: dim {dim} is out of range for a tensor of shape {tuple(x._array.shape)}"
        )
    return None if nd == 0 else int(dim) % nd


def _prepare(x: Any, dtype: Any) -> Tensor:
    x = x if type(x) is Tensor else as_tensor(x)
    if dtype is not None and x._array.dtype != np.dtype(dtype):
        x = x.to(dtype)
    return x


class SoftmaxFunction(Function):
    keep_outputs = True

    def __init__(self, axis: int | None) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        """exp(x - max) / sum(exp(x - max)) along ``axis`` on the array."""
        x = _floating(x)
        ax = self.axis
        y = x - x.max(axis=ax, keepdims=True, initial=-xp.inf)  # initial: empty slices
        if type(y) is not xp.ndarray:  # a 0-d input gives a NumPy scalar
            y = xp.asarray(y)
        xp.exp(y, out=y)
        y /= y.sum(axis=ax, keepdims=True)
        return y

    def backward(self, gy: Any) -> Any:
        """dL/dx = y * (gy - sum(gy * y)), through SoftmaxBackwardFunction."""
        return SoftmaxBackwardFunction(self.axis)(gy, self.output())


class SoftmaxBackwardFunction(Function):
    """y * (gy - sum(gy * y)) along the axis, from the output y."""

    keep_inputs = True

    def __init__(self, axis: int | None) -> None:
        self.axis = axis

    def forward(self, gy: Any, y: Any) -> Any:
        """y * (gy - sum(gy * y)) along ``axis`` on the arrays."""
        d = gy * y
        s = d.sum(axis=self.axis, keepdims=True)
        d -= y * s
        return d

    def backward(self, g: Any) -> Any:
        """Gradients of the inputs gy and y of the first derivative."""
        assert self.inputs is not None
        gy, y = self.inputs
        n_gy, n_y = self.needs_input_grad
        # The softmax Jacobian is symmetric, so the map gy -> gx is its own adjoint.
        d_gy = SoftmaxBackwardFunction(self.axis)(g, y) if n_gy else None
        d_y = None
        if n_y:
            ax = self.axis
            s = _sum(gy * y, ax, keepdim=True)
            d_y = g * (gy - s) - gy * _sum(g * y, ax, keepdim=True)
        return d_gy, d_y


class LogSoftmaxFunction(Function):
    keep_outputs = True

    def __init__(self, axis: int | None) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        """x - max - log(sum(exp(x - max))) along ``axis`` on the array."""
        x = _floating(x)
        ax = self.axis
        y = x - x.max(axis=ax, keepdims=True, initial=-xp.inf)  # initial: empty slices
        if type(y) is not xp.ndarray:
            y = xp.asarray(y)
        y -= xp.log(xp.exp(y).sum(axis=ax, keepdims=True))
        return y

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy - exp(y) * sum(gy), through LogSoftmaxBackwardFunction."""
        return LogSoftmaxBackwardFunction(self.axis)(gy, self.output())


class LogSoftmaxBackwardFunction(Function):
    """gy - exp(y) * sum(gy) along the axis, from the output y."""

    keep_inputs = True

    def __init__(self, axis: int | None) -> None:
        self.axis = axis

    def forward(self, gy: Any, y: Any) -> Any:
        """gy - exp(y) * sum(gy) along ``axis`` on the arrays."""
        d = _arr(xp.exp(y))
        d *= gy.sum(axis=self.axis, keepdims=True)
        xp.subtract(gy, d, out=d)
        return d

    def backward(self, g: Any) -> Any:
        """Gradients of the inputs gy and y of the first derivative."""
        assert self.inputs is not None
        gy, y = self.inputs
        n_gy, n_y = self.needs_input_grad
        ax = self.axis
        p = exp(y)
        d_gy = g - _sum(g * p, ax, keepdim=True) if n_gy else None
        d_y = -(g * p * _sum(gy, ax, keepdim=True)) if n_y else None
        return d_gy, d_y


def softmax(x: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``; same shape. Stable for any finite logits.

    ``dtype``: convert x to it first (as in PyTorch).
    """
    x = _prepare(x, dtype)
    return SoftmaxFunction(_axis(dim, x, "softmax"))(x)


def log_softmax(x: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:
    """x - logsumexp(x) along ``dim``; same shape. Stable for any finite logits."""
    x = _prepare(x, dtype)
    return LogSoftmaxFunction(_axis(dim, x, "log_softmax"))(x)


class LogSumExpFunction(Function):
    keep_inputs = True
    keep_outputs = True

    def __init__(self, dims: tuple[int, ...] | None, keepdim: bool) -> None:
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x: Any) -> Any:
        """log(sum(exp(x))) over ``dims``, shifted by the max for stability."""
        x = _floating(x)
        m = xp.asarray(x.max(axis=self.dims, keepdims=True, initial=-xp.inf))
        # an all -inf (or +inf) slice would give inf - inf; shift it by 0 instead
        xp.copyto(m, 0, where=~xp.isfinite(m))
        t = xp.asarray(x - m)
        xp.exp(t, out=t)
        s = xp.asarray(t.sum(axis=self.dims, keepdims=True))
        if s.all():
            xp.log(s, out=s)
        else:  # a slice of all -inf: log(0) = -inf is the right answer, not a warning
            with np.errstate(divide="ignore"):
                xp.log(s, out=s)
        s += m
        self.kept = s.shape
        if not self.keepdim:
            s = s.reshape(_reduced_shape(x.shape, self.dims))
        return s

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * exp(x - y), through LogSumExpBackwardFunction."""
        assert self.inputs is not None
        return LogSumExpBackwardFunction(self.dims, self.keepdim, self.kept)(
            gy, self.inputs[0], self.output()
        )


class LogSumExpBackwardFunction(Function):
    """gy * exp(x - y), with gy and y broadcast back over the reduced axes.

    x and y are separate inputs, so that in the second derivative y's part
    flows back through the LogSumExp node.
    """

    keep_inputs = True

    def __init__(self, dims: tuple[int, ...] | None, keepdim: bool, kept: tuple[int, ...]) -> None:
        self.dims, self.keepdim, self.kept = dims, keepdim, kept

    def forward(self, gy: Any, x: Any, y: Any) -> Any:
        """gy * exp(x - y), gy and y broadcast over the reduced dims."""
        d = _arr(x - y.reshape(self.kept))
        xp.exp(d, out=d)
        d *= gy.reshape(self.kept)
        return d

    def backward(self, g: Any) -> Any:
        """Gradients of the inputs gy, x and y of the first derivative."""
        assert self.inputs is not None
        gy, x, y = self.inputs
        n_gy, n_x, n_y = self.needs_input_grad
        kept = self.kept
        h = g * exp(x - y.reshape(kept))
        d_gy = _sum(h, self.dims, keepdim=self.keepdim) if n_gy else None
        if not (n_x or n_y):
            return d_gy, None, None
        hg = h * gy.reshape(kept)
        d_y = -_sum(hg, self.dims, keepdim=self.keepdim) if n_y else None
        return d_gy, (hg if n_x else None), d_y


def logsumexp(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``dim`` (an int, a tuple, or None for all axes), stable.

    Returns the reduced shape (reduced axes kept as size 1 with ``keepdim``).
    """
    x = x if type(x) is Tensor else as_tensor(x)
    return LogSumExpFunction(norm_dims(dim, x.ndim, "logsumexp", x.shape), bool(keepdim))(x)
