"""Activations and the softmax family, each a fused Function.

Every op computes its forward in a few NumPy passes and hands its backward to a
second fused Function (``SigmoidBackward``, ``SoftmaxBackward`` ...), so a
first-order backward costs one node per activation. Those backward Functions
are themselves differentiable, with their own backward written in tapegrad
ops, which gives exact second (and higher) derivatives; this is how PyTorch
structures ``sigmoid_backward`` and friends too.

Piecewise activations (relu, leaky_relu, hardtanh) multiply the gradient by a
constant mask, so their second derivative is zero, as in PyTorch. At the kinks
the gradient follows PyTorch: relu and hardtanh give 0 at the kink, leaky_relu
gives ``negative_slope`` at 0, elu/selu take the negative branch at 0.

NumPy has no ``erf``; :func:`_erf` and :func:`_erfc` implement W. J. Cody's
rational Chebyshev approximations (Math. Comp. 23, 1969; netlib ``CALERF``),
accurate to about 1e-16 relative in float64, for the exact GELU; float32 takes
a faster branch-free formula good to float32's precision.

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
from ..tensor import Tensor, _wrap, as_tensor
from .elementwise import exp
from .reduce import sum as _sum

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
    "softmax",
    "log_softmax",
    "logsumexp",
]


def _floating(x: Any) -> Any:
    """Integer or bool arrays become the default float dtype (as in torch.sigmoid)."""
    return x if x.dtype.kind == "f" else x.astype(get_default_dtype())


def _mask(cond: Any) -> Tensor:
    """A constant boolean tensor to multiply a gradient by (bool * float keeps the
    float dtype, and a bool array is a quarter of a float32 one to allocate)."""
    return _wrap(cond)


def _arr(a: Any) -> Any:
    """``a`` as an array: NumPy arithmetic on 0-d arrays returns scalars, which
    cannot be written in place."""
    return a if type(a) is xp.ndarray else xp.asarray(a)


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


# -------------------------------------------------------------------- erf
# W. J. Cody's coefficients: erf on |x| <= 0.46875 (A/B), erfc on
# 0.46875 < x <= 4 (C/D) and x > 4 (P/Q, an expansion in 1/x^2).
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02)
_A3, _A4 = 3.20937758913846947e03, 1.85777706184603153e-1
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03)
_B3 = 2.84423683343917062e03
_C = (
    5.64188496988670089e-1,
    8.88314979438837594e00,
    6.61191906371416295e01,
    2.98635138197400131e02,
    8.81952221241769090e02,
    1.71204761263407058e03,
    2.05107837782607147e03,
)
_C7, _C8 = 1.23033935479799725e03, 2.15311535474403846e-8
_D = (
    1.57449261107098347e01,
    1.17693950891312499e02,
    5.37181101862009858e02,
    1.62138957456669019e03,
    3.29079923573345963e03,
    4.36261909014324716e03,
    3.43936767414372164e03,
)
_D7 = 1.23033935480374942e03
_P = (
    3.05326634961232344e-1,
    3.60344899949804439e-1,
    1.25781726111229246e-1,
    1.60837851487422766e-2,
)
_P4, _P5 = 6.58749161529837803e-4, 1.63153871373020978e-2
_Q = (
    2.56852019228982242e00,
    1.87295284992346725e00,
    5.27905102951428412e-1,
    6.05183413124413191e-2,
)
_Q4 = 2.33520497626869185e-3
_ERF_SMALL = 0.46875
_INV_SQRT_PI = 0.56418958354775628695
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _erf_small(x: Any) -> Any:
    """erf(x) for |x| <= 0.46875."""
    z = x * x
    num = z * _A4
    den = z.copy()
    for a, b in zip(_A, _B):
        num += a
        num *= z
        den += b
        den *= z
    num += _A3
    den += _B3
    num /= den
    return x * num


def _erfc_pos(y: Any) -> Any:
    """erfc(y) for y > 0.46875 (NaN stays NaN, +inf gives 0)."""
    # erfc(30) underflows to 0 in float64, so larger arguments change nothing.
    y = xp.minimum(y, 30.0)
    r = xp.empty_like(y)
    mid = y <= 4.0
    ym = y[mid]
    num = ym * _C8
    den = ym.copy()
    for c, d in zip(_C, _D):
        num += c
        num *= ym
        den += d
        den *= ym
    r[mid] = (num + _C7) / (den + _D7)
    big = ~mid
    if big.any():
        yb = y[big]
        z = 1.0 / (yb * yb)
        num = z * _P5
        den = z.copy()
        for p, q in zip(_P, _Q):
            num += p
            num *= z
            den += q
            den *= z
        r[big] = (_INV_SQRT_PI - z * (num + _P4) / (den + _Q4)) / yb
    # exp(-y^2) split as exp(-s^2) exp(-(y-s)(y+s)) with s = y rounded down to 1/16,
    # so that the square is formed without rounding error (Cody's trick).
    s = xp.trunc(y * 16.0) / 16.0
    r *= xp.exp(-s * s)
    r *= xp.exp(-(y - s) * (y + s))
    return r


def _erf(x: Any) -> Any:
    """The error function of a floating array, elementwise, in x's dtype."""
    shape = np.shape(x)
    x = xp.asarray(x).reshape(-1)
    ax = xp.abs(x)
    small = ax <= _ERF_SMALL
    out = xp.empty_like(x)
    out[small] = _erf_small(x[small])
    large = ~small
    xl = x[large]
    out[large] = xp.copysign(1.0 - _erfc_pos(xp.abs(xl)), xl)
    return out.reshape(shape)


# Numerical Recipes' erfcc (Chebyshev fit, fractional error < 1.2e-7 for every x):
# erfc(|x|) = t exp(-x^2 + P(t)), t = 1 / (1 + |x| / 2). One branch-free formula,
# accurate enough for float32 and several times faster than Cody's three ranges.
_NR = (
    0.17087277,
    -0.82215223,
    1.48851587,
    -1.13520398,
    0.27886807,
    -0.18628806,
    0.09678418,
    0.37409196,
    1.00002368,
    -1.26551223,
)


def _erfc_f32(x: Any) -> Any:
    """erfc for float32 (and smaller) arrays, to about 1e-7 relative.

    Written with three buffers and in-place ufuncs: fresh arrays (page faults)
    cost as much as the arithmetic here.
    """
    z = _arr(xp.abs(x))
    t = _arr(z * 0.5)
    t += 1.0
    xp.reciprocal(t, out=t)
    p = _arr(t * _NR[0])
    for c in _NR[1:-1]:
        p += c
        p *= t
    p += _NR[-1]
    z *= z
    p -= z
    xp.exp(p, out=p)
    p *= t
    # erfc(x) = 2 - erfc(-x) for x < 0, blended by a 0/1 mask (p is finite)
    xp.less(x, 0, out=t)
    xp.multiply(p, -2.0, out=z)
    z += 2.0
    z *= t
    p += z
    return p


def _erfc(x: Any) -> Any:
    """The complementary error function 1 - erf(x), accurate for large positive x.

    float64: Cody's approximation (about 1e-16 relative); float32: Numerical
    Recipes' formula (about 1e-7 relative, float32's own precision).
    """
    if x.dtype.itemsize <= 4:
        return _erfc_f32(x)
    shape = np.shape(x)
    x = xp.asarray(x).reshape(-1)
    ax = xp.abs(x)
    small = ax <= _ERF_SMALL
    out = xp.empty_like(x)
    out[small] = 1.0 - _erf_small(x[small])
    large = ~small
    xl = x[large]
    e = _erfc_pos(xp.abs(xl))
    out[large] = xp.where(xl < 0, 2.0 - e, e)
    return out.reshape(shape)


# ------------------------------------------------------ piecewise linear
class ReLU(Function):
    keep_outputs = True

    def forward(self, x):
        return xp.maximum(x, 0)

    def backward(self, gy):
        # PyTorch passes the gradient where the result is > 0, so 0 at x == 0.
        return gy * _mask(self._out_data[0] > 0)


class LeakyReLU(Function):
    keep_inputs = True

    def __init__(self, negative_slope: float) -> None:
        self.slope = negative_slope

    def forward(self, x):
        # arithmetic rather than np.where, which is slow on data-dependent masks
        if 0.0 <= self.slope <= 1.0:
            y = _arr(x * self.slope)
            return xp.maximum(x, y, out=y)
        y = xp.minimum(x, 0)
        y *= self.slope
        y += xp.maximum(x, 0)
        return y

    def backward(self, gy):
        # slope at x <= 0, as PyTorch's leaky_relu_backward
        m = (self.inputs[0].data > 0).astype(gy.data.dtype)
        m *= 1.0 - self.slope
        m += self.slope
        return gy * _wrap(m)


class Hardtanh(Function):
    keep_inputs = True

    def __init__(self, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return xp.clip(x, self.lo, self.hi)

    def backward(self, gy):
        # Unlike clamp, PyTorch's hardtanh gives 0 gradient exactly at the bounds.
        x = self.inputs[0].data
        return gy * _mask((x > self.lo) & (x < self.hi))


def relu(x: Tensor) -> Tensor:
    """max(x, 0) elementwise; same shape and dtype. The gradient at 0 is 0."""
    return ReLU()(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else ``negative_slope * x``; the gradient at 0 is the slope."""
    return LeakyReLU(negative_slope)(x)


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val]; zero gradient outside and on the bounds."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is greater than max_val {max_val}")
    return Hardtanh(min_val, max_val)(x)


# ------------------------------------------------------------ elu, selu
class ELU(Function):
    """scale * (x if x > 0 else alpha * (exp(x) - 1))."""

    keep_outputs = True

    def __init__(self, alpha: float, scale: float) -> None:
        self.alpha, self.scale = alpha, scale

    def forward(self, x):
        x = _floating(x)
        self.neg = x <= 0  # PyTorch's branch test
        # scale * (max(x, 0) + alpha * expm1(min(x, 0))): each part is 0 on the other side
        y = _arr(xp.minimum(x, 0))
        xp.expm1(y, out=y)
        y *= self.alpha * self.scale
        y += xp.maximum(x, 0) * self.scale if self.scale != 1.0 else xp.maximum(x, 0)
        return y

    def backward(self, gy):
        return ELUBackward(self.alpha, self.scale, self.neg)(gy, self.output())


class ELUBackward(Function):
    """gy * (scale if x > 0 else y + scale * alpha), from the output y."""

    keep_inputs = True

    def __init__(self, alpha: float, scale: float, neg: Any) -> None:
        self.alpha, self.scale, self.neg = alpha, scale, neg

    def forward(self, gy, y):
        # (y + scale * alpha - scale) * [x <= 0] + scale, by arithmetic on the mask
        d = y + (self.alpha * self.scale - self.scale)
        d *= self.neg
        d += self.scale
        d *= gy
        return d

    def backward(self, g):
        gy, y = self.inputs
        n_gy, n_y = self.needs_input_grad
        d_gy = ELUBackward(self.alpha, self.scale, self.neg)(g, y) if n_gy else None
        d_y = g * gy * _mask(self.neg) if n_y else None
        return d_gy, d_y


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1); same shape and dtype."""
    return ELU(alpha, 1.0)(x)


def selu(x: Tensor) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al."""
    return ELU(_SELU_ALPHA, _SELU_SCALE)(x)


# --------------------------------------------------------- sigmoid, tanh
class Sigmoid(Function):
    keep_outputs = True

    def forward(self, x):
        return _sigmoid_array(_floating(x))

    def backward(self, gy):
        return SigmoidBackward()(gy, self.output())


class SigmoidBackward(Function):
    """gy * y * (1 - y) from the output y."""

    keep_inputs = True

    def forward(self, gy, y):
        d = 1.0 - y
        d *= y
        d *= gy
        return d

    def backward(self, g):
        gy, y = self.inputs
        n_gy, n_y = self.needs_input_grad
        d_gy = SigmoidBackward()(g, y) if n_gy else None
        d_y = g * gy * (1.0 - 2.0 * y) if n_y else None
        return d_gy, d_y


class Tanh(Function):
    keep_outputs = True

    def forward(self, x):
        return xp.tanh(_floating(x))

    def backward(self, gy):
        return TanhBackward()(gy, self.output())


class TanhBackward(Function):
    """gy * (1 - y^2) from the output y."""

    keep_inputs = True

    def forward(self, gy, y):
        d = _arr(y * y)
        xp.subtract(1.0, d, out=d)
        d *= gy
        return d

    def backward(self, g):
        gy, y = self.inputs
        n_gy, n_y = self.needs_input_grad
        d_gy = TanhBackward()(g, y) if n_gy else None
        d_y = g * gy * y * -2.0 if n_y else None
        return d_gy, d_y


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)) elementwise, without overflow for large negative x."""
    return Sigmoid()(x)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent elementwise; same shape and dtype."""
    return Tanh()(x)


# -------------------------------------------------------- softplus, silu
class Softplus(Function):
    keep_inputs = True

    def __init__(self, beta: float, threshold: float) -> None:
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        x = _floating(x)
        z = x * self.beta if self.beta != 1.0 else x
        y = _softplus_array(z)
        if self.beta != 1.0:
            y /= self.beta
        xp.copyto(y, x, where=z > self.threshold)
        return y

    def backward(self, gy):
        return SoftplusBackward(self.beta, self.threshold)(gy, self.inputs[0])


class SoftplusBackward(Function):
    """gy * sigmoid(beta x), or gy where beta x > threshold (the linear part)."""

    keep_inputs = True

    def __init__(self, beta: float, threshold: float) -> None:
        self.beta, self.threshold = beta, threshold

    def forward(self, gy, x):
        z = x * self.beta
        d = _sigmoid_array(z)
        d[z > self.threshold] = 1
        d *= gy
        return d

    def backward(self, g):
        gy, x = self.inputs
        n_gy, n_x = self.needs_input_grad
        d_gy = SoftplusBackward(self.beta, self.threshold)(g, x) if n_gy else None
        d_x = None
        if n_x:
            # d/dx sigmoid(beta x) = beta s (1 - s), zero on the linear part
            s = sigmoid(x * self.beta)
            lin = x.data * self.beta > self.threshold
            d_x = g * gy * s * (1.0 - s) * self.beta * _mask(~lin)
        return d_gy, d_x


class SiLU(Function):
    keep_inputs = True

    def forward(self, x):
        x = _floating(x)
        self.s = _sigmoid_array(x)
        return x * self.s

    def backward(self, gy):
        return SiLUBackward(self.s)(gy, self.inputs[0])


class SiLUBackward(Function):
    """gy * s * (1 + x (1 - s)) with s = sigmoid(x), kept from the forward."""

    keep_inputs = True

    def __init__(self, s: Any) -> None:
        self.s = s

    def forward(self, gy, x):
        s = self.s
        d = 1.0 - s
        d *= x
        d += 1.0
        d *= s
        d *= gy
        return d

    def backward(self, g):
        gy, x = self.inputs
        n_gy, n_x = self.needs_input_grad
        d_gy = SiLUBackward(self.s)(g, x) if n_gy else None
        d_x = None
        if n_x:
            # silu'' = s (1 - s) (2 + x (1 - 2 s)), in ops so it differentiates again
            s = sigmoid(x)
            d_x = g * gy * s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s))
        return d_gy, d_x


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    return Softplus(beta, threshold)(x)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish); same shape and dtype."""
    return SiLU()(x)


# -------------------------------------------------------------------- gelu
_GELU_K = math.sqrt(2.0 / math.pi)
_GELU_C = 0.044715


class GELU(Function):
    keep_inputs = True

    def __init__(self, approximate: str) -> None:
        self.approximate = approximate

    def forward(self, x):
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

    def backward(self, gy):
        return GELUBackward(self.approximate, self.aux)(gy, self.inputs[0])


class GELUBackward(Function):
    """gy * gelu'(x); ``aux`` is Phi(x) (exact) or tanh of the inner term (tanh form)."""

    keep_inputs = True

    def __init__(self, approximate: str, aux: Any) -> None:
        self.approximate, self.aux = approximate, aux

    def forward(self, gy, x):
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

    def backward(self, g):
        gy, x = self.inputs
        n_gy, n_x = self.needs_input_grad
        d_gy = GELUBackward(self.approximate, self.aux)(g, x) if n_gy else None
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
    return GELU(approximate)(x)


# ------------------------------------------------------- softmax family
def _axis(dim: int, x: Tensor, op: str) -> int | None:
    """``dim`` as a NumPy axis; None for a 0-d tensor (dim must then be 0 or -1)."""
    nd = x.data.ndim
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    if not -max(nd, 1) <= dim < max(nd, 1):
        raise IndexError(
            f"{op}: dim {dim} is out of range for a tensor of shape {tuple(x.data.shape)}"
        )
    return None if nd == 0 else int(dim) % nd


def _prepare(x: Any, dtype: Any) -> Tensor:
    x = x if type(x) is Tensor else as_tensor(x)
    if dtype is not None and x.data.dtype != np.dtype(dtype):
        x = x.to(dtype)
    return x


class Softmax(Function):
    keep_outputs = True

    def __init__(self, axis: int | None) -> None:
        self.axis = axis

    def forward(self, x):
        x = _floating(x)
        ax = self.axis
        y = x - x.max(axis=ax, keepdims=True)
        if type(y) is not xp.ndarray:  # a 0-d input gives a NumPy scalar
            y = xp.asarray(y)
        xp.exp(y, out=y)
        y /= y.sum(axis=ax, keepdims=True)
        return y

    def backward(self, gy):
        return SoftmaxBackward(self.axis)(gy, self.output())


class SoftmaxBackward(Function):
    """y * (gy - sum(gy * y)) along the axis, from the output y."""

    keep_inputs = True

    def __init__(self, axis: int | None) -> None:
        self.axis = axis

    def forward(self, gy, y):
        d = gy * y
        s = d.sum(axis=self.axis, keepdims=True)
        d -= y * s
        return d

    def backward(self, g):
        gy, y = self.inputs
        n_gy, n_y = self.needs_input_grad
        # The softmax Jacobian is symmetric, so the map gy -> gx is its own adjoint.
        d_gy = SoftmaxBackward(self.axis)(g, y) if n_gy else None
        d_y = None
        if n_y:
            ax = self.axis
            s = _sum(gy * y, ax, keepdim=True)
            d_y = g * (gy - s) - gy * _sum(g * y, ax, keepdim=True)
        return d_gy, d_y


class LogSoftmax(Function):
    keep_outputs = True

    def __init__(self, axis: int | None) -> None:
        self.axis = axis

    def forward(self, x):
        x = _floating(x)
        ax = self.axis
        y = x - x.max(axis=ax, keepdims=True)
        if type(y) is not xp.ndarray:
            y = xp.asarray(y)
        y -= xp.log(xp.exp(y).sum(axis=ax, keepdims=True))
        return y

    def backward(self, gy):
        return LogSoftmaxBackward(self.axis)(gy, self.output())


class LogSoftmaxBackward(Function):
    """gy - exp(y) * sum(gy) along the axis, from the output y."""

    keep_inputs = True

    def __init__(self, axis: int | None) -> None:
        self.axis = axis

    def forward(self, gy, y):
        d = _arr(xp.exp(y))
        d *= gy.sum(axis=self.axis, keepdims=True)
        xp.subtract(gy, d, out=d)
        return d

    def backward(self, g):
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
    return Softmax(_axis(dim, x, "softmax"))(x)


def log_softmax(x: Tensor, dim: int = -1, dtype: Any = None) -> Tensor:
    """x - logsumexp(x) along ``dim``; same shape. Stable for any finite logits."""
    x = _prepare(x, dtype)
    return LogSoftmax(_axis(dim, x, "log_softmax"))(x)


def _dims(dim: Any, x: Tensor, op: str) -> tuple[int, ...] | None:
    nd = x.data.ndim
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = set()
    for d in dims:
        if not -max(nd, 1) <= d < max(nd, 1):
            raise IndexError(
                f"{op}: dim {d} is out of range for a tensor of shape {tuple(x.data.shape)}"
            )
        out.add(int(d) % max(nd, 1))
    if nd == 0:
        return None
    return tuple(sorted(out))


class LogSumExp(Function):
    keep_inputs = True
    keep_outputs = True

    def __init__(self, dims: tuple[int, ...] | None, keepdim: bool) -> None:
        self.dims, self.keepdim = dims, keepdim

    def forward(self, x):
        x = _floating(x)
        m = xp.asarray(x.max(axis=self.dims, keepdims=True))
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

    def backward(self, gy):
        return LogSumExpBackward(self.dims, self.keepdim, self.kept)(
            gy, self.inputs[0], self.output()
        )


def _reduced_shape(shape: tuple[int, ...], dims: tuple[int, ...] | None) -> tuple[int, ...]:
    if dims is None:
        return ()
    return tuple(s for i, s in enumerate(shape) if i not in dims)


class LogSumExpBackward(Function):
    """gy * exp(x - y), with gy and y broadcast back over the reduced axes.

    x and y are separate inputs, so that in the second derivative y's part
    flows back through the LogSumExp node.
    """

    keep_inputs = True

    def __init__(self, dims: tuple[int, ...] | None, keepdim: bool, kept: tuple[int, ...]) -> None:
        self.dims, self.keepdim, self.kept = dims, keepdim, kept

    def forward(self, gy, x, y):
        d = _arr(x - y.reshape(self.kept))
        xp.exp(d, out=d)
        d *= gy.reshape(self.kept)
        return d

    def backward(self, g):
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
    return LogSumExp(_dims(dim, x, "logsumexp"), bool(keepdim))(x)
