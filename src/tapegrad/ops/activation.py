"""Activations, each a fused Function.

Every op computes its forward in a few NumPy passes and hands its backward to a
second fused Function (``SigmoidBackwardFunction``, ``SoftmaxBackward`` ...), so a
first-order backward costs one node per activation. Those backward Functions
are themselves differentiable, with their own backward written in tapegrad
ops, which gives exact second (and higher) derivatives; this is how PyTorch
structures ``sigmoid_backward`` and friends too.

Piecewise activations (relu, leaky_relu, hardtanh) multiply the gradient by a
constant mask, so their second derivative is zero, as in PyTorch. At the kinks
the gradient follows PyTorch: relu and hardtanh give 0 at the kink, leaky_relu
gives ``negative_slope`` at 0, elu/selu take the negative branch at 0.

The exact GELU takes ``erf`` from :mod:`tapegrad.ops.special`; the softmax
family lives in :mod:`tapegrad.ops.softmax`.

Forward passes avoid ``np.where`` on data-dependent masks (several times
slower than arithmetic) and fresh temporaries where in-place ufuncs do.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd.function import Function
from ..backend import xp
from ..dtypes import get_default_dtype
from ..tensor import Tensor, _wrap
from ._args import as_array as _arr
from .elementwise import exp, keep_where, mul_const
from .inplace import apply_inplace
from .special import erfc as _erfc

__all__ = [
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "sigmoid",
    "tanh",
    "softplus",
    "silu",
    "hardtanh",
]

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _floating(x: Any) -> Any:
    """Integer or bool arrays become the default float dtype (as in torch.sigmoid)."""
    return x if x.dtype.kind == "f" else x.astype(get_default_dtype())


def _mask(cond: Any) -> Tensor:
    """A constant boolean tensor to multiply a gradient by (bool * float keeps the
    float dtype, and a bool array is a quarter of a float32 one to allocate)."""
    return _wrap(cond)


def _sigmoid_array(x: Any) -> Any:
    """1 / (1 + exp(-x)), accurate in the tails; exp overflowing to inf gives exactly 0."""
    out = xp.empty_like(x)
    with np.errstate(over="ignore"):
        xp.negative(x, out=out)
        xp.exp(out, out=out)
    out += 1
    xp.reciprocal(out, out=out)
    return out


def _softplus_array(z: Any) -> Any:
    """log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)), overflow-free.

    NumPy's log1p (and logaddexp) are several times slower than log, so
    log1p(e) for e in (0, 1] is log(u) - ((u - 1) - e) / u with u = 1 + e:
    (u - 1) - e is exactly the rounding error of u, and this first-order
    correction leaves an error of order eps^2 (Kahan's trick).
    """
    e = _arr(xp.abs(z))
    xp.negative(e, out=e)
    xp.exp(e, out=e)
    u = _arr(e + 1.0)
    r = _arr(xp.log(u))
    c = u - 1.0
    c -= e
    c /= u
    r -= c
    r += xp.maximum(z, 0, out=u)
    return r


# ------------------------------------------------------ piecewise linear
class ReLUFunction(Function):
    keep_outputs = True

    def forward(self, x: Any) -> Any:
        """y = max(x, 0) on the array."""
        return xp.maximum(x, 0)

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy where y > 0, else 0 (so 0 at x == 0, as PyTorch)."""
        assert self._out_data is not None
        # PyTorch passes the gradient where the result is > 0, so 0 at x == 0.
        return keep_where(gy, self._out_data[0] > 0)


class LeakyReLUFunction(Function):
    keep_inputs = True

    def __init__(self, negative_slope: float) -> None:
        self.slope = negative_slope

    def forward(self, x: Any) -> Any:
        """y = x where x > 0, else negative_slope * x, on the array."""
        # arithmetic rather than np.where, which is slow on data-dependent masks
        if 0.0 <= self.slope <= 1.0:
            y = _arr(x * self.slope)
            return xp.maximum(x, y, out=y)
        y = xp.minimum(x, 0)
        y *= self.slope
        y += xp.maximum(x, 0)
        return y

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy where x > 0, else negative_slope * gy."""
        assert self.inputs is not None
        # slope at x <= 0, as PyTorch's leaky_relu_backward
        m = xp.multiply(self.inputs[0]._array > 0, 1.0 - self.slope, dtype=gy._array.dtype)
        m += self.slope
        return mul_const(gy, m)


class HardtanhFunction(Function):
    keep_inputs = True

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi

    def forward(self, x: Any) -> Any:
        """y = x clipped to [lo, hi] on the array."""
        return xp.clip(x, self.lo, self.hi)

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy where lo < x < hi, else 0 (0 at the bounds, as PyTorch)."""
        assert self.inputs is not None
        # Unlike clamp, PyTorch's hardtanh gives 0 gradient exactly at the bounds.
        x = self.inputs[0]._array
        return keep_where(gy, (x > self.lo) & (x < self.hi))


def _maybe_inplace(x: Tensor, inplace: bool, op: str, fn: Any) -> Tensor:
    """``fn(x)``, or, with ``inplace``, the same written into x (returned)."""
    if inplace:
        return apply_inplace(x, op, fn)
    return fn(x)


def relu(x: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0) elementwise; same shape and dtype. The gradient at 0 is 0.

    ``inplace=True`` overwrites x and returns it (see ``Tensor.relu_``)."""
    return _maybe_inplace(x, inplace, "relu_", ReLUFunction())


def leaky_relu(x: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else ``negative_slope * x``; the gradient at 0 is the slope."""
    return _maybe_inplace(x, inplace, "leaky_relu_", LeakyReLUFunction(negative_slope))


def hardtanh(
    x: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """x clipped to [min_val, max_val]; zero gradient outside and on the bounds."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is greater than max_val {max_val}")
    return _maybe_inplace(x, inplace, "hardtanh_", HardtanhFunction(min_val, max_val))


# ------------------------------------------------------------ elu, selu
class ELUFunction(Function):
    """scale * (x if x > 0 else alpha * (exp(x) - 1)).

    Keeps its input, as PyTorch's elu does, so changing the output in place
    (``elu(x).mul_(2)``) stays allowed; backward recomputes the output from it.
    """

    keep_inputs = True

    def __init__(self, alpha: float, scale: float) -> None:
        self.alpha, self.scale = alpha, scale

    def forward(self, x: Any) -> Any:
        """y = scale * (x if x > 0 else alpha * (exp(x) - 1)) on the array."""
        x = _floating(x)
        self.neg = x <= 0  # PyTorch's branch test
        # scale * (max(x, 0) + alpha * expm1(min(x, 0))): each part is 0 on the other side
        y = _arr(xp.minimum(x, 0))
        xp.expm1(y, out=y)
        y *= self.alpha * self.scale
        y += xp.maximum(x, 0) * self.scale if self.scale != 1.0 else xp.maximum(x, 0)
        return y

    def backward(self, gy: Any) -> Any:
        """dL/dx through ELUBackwardFunction, so it differentiates again."""
        assert self.inputs is not None
        y = ELUFunction(self.alpha, self.scale)(self.inputs[0])
        return ELUBackwardFunction(self.alpha, self.scale, self.neg)(gy, y)


class ELUBackwardFunction(Function):
    """gy * (scale if x > 0 else y + scale * alpha), from the output y."""

    keep_inputs = True

    def __init__(self, alpha: float, scale: float, neg: Any) -> None:
        self.alpha, self.scale, self.neg = alpha, scale, neg

    def forward(self, gy: Any, y: Any) -> Any:
        """gy * (scale where x > 0, else y + scale * alpha) on the arrays."""
        # y + scale * alpha where x <= 0, else scale (a where: y = inf must not give 0 * inf)
        d = xp.where(self.neg, y + self.alpha * self.scale, self.scale).astype(y.dtype, copy=False)
        d *= gy
        return d

    def backward(self, g: Any) -> Any:
        """Gradients of the inputs gy and y of the first derivative."""
        assert self.inputs is not None
        gy, y = self.inputs
        n_gy, n_y = self.needs_input_grad
        d_gy = ELUBackwardFunction(self.alpha, self.scale, self.neg)(g, y) if n_gy else None
        d_y = g * gy * _mask(self.neg) if n_y else None
        return d_gy, d_y


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def elu(x: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1); same shape and dtype."""
    return _maybe_inplace(x, inplace, "elu_", ELUFunction(alpha, 1.0))


def selu(x: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al."""
    return _maybe_inplace(x, inplace, "selu_", ELUFunction(_SELU_ALPHA, _SELU_SCALE))


# --------------------------------------------------------- sigmoid, tanh
class SigmoidFunction(Function):
    keep_outputs = True

    def forward(self, x: Any) -> Any:
        """y = 1 / (1 + exp(-x)) on the array, stable for large abs(x)."""
        return _sigmoid_array(_floating(x))

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * y * (1 - y), through SigmoidBackwardFunction."""
        return SigmoidBackwardFunction()(gy, self.output())


class SigmoidBackwardFunction(Function):
    """gy * y * (1 - y) from the output y."""

    keep_inputs = True

    def forward(self, gy: Any, y: Any) -> Any:
        """gy * y * (1 - y) on the arrays."""
        d = 1.0 - y
        d *= y
        d *= gy
        return d

    def backward(self, g: Any) -> Any:
        """Gradients of the inputs gy and y of the first derivative."""
        assert self.inputs is not None
        gy, y = self.inputs
        n_gy, n_y = self.needs_input_grad
        d_gy = SigmoidBackwardFunction()(g, y) if n_gy else None
        d_y = g * gy * (1.0 - 2.0 * y) if n_y else None
        return d_gy, d_y


class TanhFunction(Function):
    keep_outputs = True

    def forward(self, x: Any) -> Any:
        """y = tanh(x) on the array."""
        return xp.tanh(_floating(x))

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * (1 - y^2), through TanhBackwardFunction."""
        return TanhBackwardFunction()(gy, self.output())


class TanhBackwardFunction(Function):
    """gy * (1 - y^2) from the output y."""

    keep_inputs = True

    def forward(self, gy: Any, y: Any) -> Any:
        """gy * (1 - y^2) on the arrays."""
        d = _arr(y * y)
        xp.subtract(1.0, d, out=d)
        d *= gy
        return d

    def backward(self, g: Any) -> Any:
        """Gradients of the inputs gy and y of the first derivative."""
        assert self.inputs is not None
        gy, y = self.inputs
        n_gy, n_y = self.needs_input_grad
        d_gy = TanhBackwardFunction()(g, y) if n_gy else None
        d_y = g * gy * y * -2.0 if n_y else None
        return d_gy, d_y


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)) elementwise, without overflow for large negative x."""
    return SigmoidFunction()(x)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent elementwise; same shape and dtype."""
    return TanhFunction()(x)


# -------------------------------------------------------- softplus, silu
class SoftplusFunction(Function):
    keep_inputs = True

    def __init__(self, beta: float, threshold: float) -> None:
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Any) -> Any:
        """y = log(1 + exp(beta x)) / beta on the array, x where beta x > threshold."""
        x = _floating(x)
        z = x * self.beta if self.beta != 1.0 else x
        y = _softplus_array(z)
        if self.beta != 1.0:
            y /= self.beta
        xp.copyto(y, x, where=z > self.threshold)
        return y

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * sigmoid(beta x), through SoftplusBackwardFunction."""
        assert self.inputs is not None
        return SoftplusBackwardFunction(self.beta, self.threshold)(gy, self.inputs[0])


class SoftplusBackwardFunction(Function):
    """gy * sigmoid(beta x), or gy where beta x > threshold (the linear part)."""

    keep_inputs = True

    def __init__(self, beta: float, threshold: float) -> None:
        self.beta, self.threshold = beta, threshold

    def forward(self, gy: Any, x: Any) -> Any:
        """gy * sigmoid(beta x), or gy on the linear part, on the arrays."""
        z = x * self.beta
        d = _sigmoid_array(z)
        d[z > self.threshold] = 1
        d *= gy
        return d

    def backward(self, g: Any) -> Any:
        """Gradients of the inputs gy and x of the first derivative."""
        assert self.inputs is not None
        gy, x = self.inputs
        n_gy, n_x = self.needs_input_grad
        d_gy = SoftplusBackwardFunction(self.beta, self.threshold)(g, x) if n_gy else None
        d_x = None
        if n_x:
            # d/dx sigmoid(beta x) = beta s (1 - s), zero on the linear part
            s = sigmoid(x * self.beta)
            lin = x._array * self.beta > self.threshold
            d_x = g * gy * s * (1.0 - s) * self.beta * _mask(~lin)
        return d_gy, d_x


class SiLUFunction(Function):
    keep_inputs = True

    def forward(self, x: Any) -> Any:
        """y = x * sigmoid(x) on the array; keeps sigmoid(x) for backward."""
        x = _floating(x)
        self.s = _sigmoid_array(x)
        return x * self.s

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * s * (1 + x (1 - s)), through SiLUBackwardFunction."""
        assert self.inputs is not None
        return SiLUBackwardFunction(self.s)(gy, self.inputs[0])


class SiLUBackwardFunction(Function):
    """gy * s * (1 + x (1 - s)) with s = sigmoid(x), kept from the forward."""

    keep_inputs = True

    def __init__(self, s: Any) -> None:
        self.s = s

    def forward(self, gy: Any, x: Any) -> Any:
        """gy * s * (1 + x (1 - s)) on the arrays."""
        s = self.s
        d = 1.0 - s
        d *= x
        d += 1.0
        d *= s
        d *= gy
        return d

    def backward(self, g: Any) -> Any:
        """Gradients of the inputs gy and x of the first derivative."""
        assert self.inputs is not None
        gy, x = self.inputs
        n_gy, n_x = self.needs_input_grad
        d_gy = SiLUBackwardFunction(self.s)(g, x) if n_gy else None
        d_x = None
        if n_x:
            # silu'' = s (1 - s) (2 + x (1 - 2 s)), in ops so it differentiates again
            s = sigmoid(x)
            d_x = g * gy * s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))
        return d_gy, d_x


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    return SoftplusFunction(beta, threshold)(x)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish); same shape and dtype."""
    return SiLUFunction()(x)


# -------------------------------------------------------------------- gelu
_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


class GELUFunction(Function):
    keep_inputs = True

    def __init__(self, approximate: str) -> None:
        self.approximate = approximate

    def forward(self, x: Any) -> Any:
        """y = x * Phi(x) (or its tanh approximation) on the array."""
        x = _floating(x)
        if self.approximate == "none":
            # Phi(x) = erfc(-x / sqrt 2) / 2 keeps its relative accuracy for x << 0
            self.aux = _erfc(x * -_INV_SQRT2)
            self.aux *= 0.5
            return x * self.aux
        t = _arr(x * x)
        t *= _GELU_C
        t += 1.0
        t *= x
        t *= _GELU_K
        self.aux = xp.tanh(t, out=t)
        y = t + 1.0
        y *= x
        y *= 0.5
        return y

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * gelu'(x), through GELUBackwardFunction."""
        assert self.inputs is not None
        return GELUBackwardFunction(self.approximate, self.aux)(gy, self.inputs[0])


class GELUBackwardFunction(Function):
    """gy * gelu'(x); ``aux`` is Phi(x) (exact) or tanh of the inner term (tanh form)."""

    keep_inputs = True

    def __init__(self, approximate: str, aux: Any) -> None:
        self.approximate, self.aux = approximate, aux

    def forward(self, gy: Any, x: Any) -> Any:
        """gy * gelu'(x) on the arrays."""
        if self.approximate == "none":
            # Phi(x) + x phi(x)
            d = _arr(x * x)
            d *= -0.5
            xp.exp(d, out=d)
            d *= _INV_SQRT_2PI
            d *= x
            d += self.aux
        else:
            # 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2)
            t = self.aux
            d = x * x
            d *= 3.0 * _GELU_C
            d += 1.0
            d *= _GELU_K
            d *= x
            d *= 1.0 - t * t
            d += t
            d += 1.0
            d *= 0.5
        d *= gy
        return d

    def backward(self, g: Any) -> Any:
        """Gradients of the inputs gy and x of the first derivative."""
        assert self.inputs is not None
        gy, x = self.inputs
        n_gy, n_x = self.needs_input_grad
        d_gy = GELUBackwardFunction(self.approximate, self.aux)(g, x) if n_gy else None
        d_x = g * gy * _gelu_second(x, self.approximate) if n_x else None
        return d_gy, d_x


def _gelu_second(x: Tensor, approximate: str) -> Tensor:
    """gelu''(x) in tapegrad ops (so that third derivatives work too)."""
    xx = x * x
    if approximate == "none":
        # d/dx (Phi + x phi) = phi (2 - x^2)
        return exp(xx * -0.5) * _INV_SQRT_2PI * (2.0 - xx)
    # With u = k (x + c x^3) and t = tanh(u):
    # (1 - t^2) (u' - x t u'^2 + 3 k c x^2), u' = k (1 + 3 c x^2)
    t = tanh(x * (xx * _GELU_C + 1.0) * _GELU_K)
    du = (xx * (3.0 * _GELU_C) + 1.0) * _GELU_K
    return (1.0 - t * t) * (du - x * t * du * du + xx * (3.0 * _GELU_K * _GELU_C))


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF; ``approximate='tanh'`` uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). Same shape and dtype."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELUFunction(approximate)(x)
