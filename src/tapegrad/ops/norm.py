"""Normalisation: ``batch_norm``, ``layer_norm``, ``group_norm``.

Batch statistics are computed inside one fused Function (:class:`NormalizeFunction`)
whose forward makes a few passes over the input and whose backward is the
closed form

    gx = inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)),
    g_hat = gy * weight,

with the means over the normalised axes. When no graph is recorded (an
ordinary ``backward()``) that formula is evaluated directly on arrays, from the
mean and inverse standard deviation saved by forward. When a graph is recorded
(``create_graph=True``) the same formula is written in tapegrad ops and
``x_hat`` is recomputed from the input Tensor, so the gradient is itself
differentiable in the input, the weight, the bias and ``gy``: second
derivatives are exact, not the "constant statistics" shortcut.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..backend import xp
from ..tensor import Tensor, _wrap
from .elementwise import rsqrt
from .reduce import sum as _sum
from .shape import reshape

__all__ = [
    "batch_norm",
    "layer_norm",
    "group_norm",
]


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(x.shape)


def _numel(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _sum_acc(a: Any, axes: tuple[int, ...]) -> Any:
    """Sum over ``axes`` (keepdims) accumulated in float64, returned in a's dtype.

    NumPy sums pairwise only along a contiguous axis: over the outer axes of a
    channels-last batch (N, C, H, W) in (N, H, W, C) memory it adds one value
    after another, and float32 batch-norm sums of 10^4 terms lose 4-5 digits,
    which the centred gradient formula then amplifies. A float64 accumulator
    costs about the same time (measured) and keeps them exact to float32.
    """
    if a.dtype.itemsize >= 8 or a.dtype.kind != "f":
        return a.sum(axis=axes, keepdims=True)
    return a.sum(axis=axes, keepdims=True, dtype=xp.float64).astype(a.dtype)


def _mean(a: Any, axes: tuple[int, ...]) -> Any:
    """Mean over ``axes`` (keepdims), accumulated as :func:`_sum_acc` does."""
    if a.size == 0:
        return a.mean(axis=axes, keepdims=True)
    s = _sum_acc(a, axes)
    s *= 1.0 / (a.size // s.size)
    return s


class NormalizeFunction(Function):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` with mean and biased var over ``axes``.

    Inputs: ``x``, then ``weight`` if ``has_w``, then ``bias`` if ``has_b``.
    ``param_shape`` is the shape weight and bias are viewed as to broadcast
    against ``x`` (``None``: they broadcast as they are); ``param_axes`` are
    the axes of ``x`` their gradients are summed over. After the call, the
    instance holds ``mean`` and ``var`` (biased, keepdims arrays) for running
    statistics.
    """

    keep_inputs = True

    def __init__(
        self,
        axes: tuple[int, ...],
        eps: float,
        has_w: bool,
        has_b: bool,
        param_shape: tuple[int, ...] | None,
        param_axes: tuple[int, ...],
    ) -> None:
        self.axes, self.eps = axes, eps
        self.has_w, self.has_b = has_w, has_b
        self.param_shape, self.param_axes = param_shape, param_axes

    def _view(self, p: Any) -> Any:
        return p if self.param_shape is None else p.reshape(self.param_shape)

    def forward(self, x, *params):
        axes = self.axes
        # Trailing normalised axes (layer and group norm) are handled as rows of a
        # 2-D view, where einsum gives the sums of products in one pass.
        self.rows = rows = axes[0] == x.ndim - len(axes) and x.size > 0 and self.param_shape is None
        if rows:
            k = x.size // _numel(x.shape[: axes[0]])
            x2 = x.reshape(-1, k)
            mean = x2.mean(axis=1, keepdims=True)
            y = x2 - mean
            var = xp.einsum("ij,ij->i", y, y)[:, None]
            var *= 1.0 / k
        else:
            mean = _mean(x, axes)
            y = x - mean
            var = _mean(y * y, axes)
        inv = 1.0 / (var + self.eps) ** 0.5
        self.mean, self.var, self.inv = mean, var, inv
        self.count = x.size // max(mean.size, 1) if x.size else 0
        y *= inv
        if rows:
            y = y.reshape(x.shape)
        if self.has_w:
            y *= self._view(params[0])
        if self.has_b:
            y += self._view(params[-1])
        return y

    def backward(self, gy):
        if state.enabled:
            return self._backward_graph(gy)
        return self._backward_arrays(gy)

    def _backward_arrays(self, gy):
        """The closed form on arrays (no graph is being recorded)."""
        inputs = self.inputs
        need = self.needs_input_grad
        axes, paxes, n = self.axes, self.param_axes, self.count
        g = gy._array
        if self.rows:
            return self._backward_rows(g)
        xhat = (inputs[0]._array - self.mean) * self.inv
        w = self._view(inputs[1]._array) if self.has_w else None
        gx = gw = gb = None
        if paxes == axes:
            # Weight constant over the normalised axes (batch norm): one pair of sums
            # serves the weight, the bias and the input.
            s1 = _sum_acc(g, axes)
            s2 = _sum_acc(g * xhat, axes)
            if self.has_w and need[1]:
                gw = s2.reshape(inputs[1].shape)
            if self.has_b and need[-1]:
                gb = s1.reshape(inputs[-1].shape)
            if need[0]:
                scale = self.inv if w is None else self.inv * w
                gx = g - s1 * (1.0 / n)
                gx -= xhat * (s2 * (1.0 / n))
                gx *= scale
        else:
            if self.has_w and need[1]:
                gw = (g * xhat).sum(axis=paxes).reshape(inputs[1].shape)
            if self.has_b and need[-1]:
                gb = g.sum(axis=paxes).reshape(inputs[-1].shape)
            if need[0]:
                gh = g if w is None else g * w
                gx = gh - gh.mean(axis=axes, keepdims=True)
                gx -= xhat * (gh * xhat).mean(axis=axes, keepdims=True)
                gx *= self.inv
        return self._pack(
            None if gx is None else _wrap(gx),
            None if gw is None else _wrap(gw),
            None if gb is None else _wrap(gb),
        )

    def _backward_rows(self, g):
        """The closed form on (M, K) views, for trailing normalised axes."""
        inputs = self.inputs
        need = self.needs_input_grad
        k = self.count
        shape = inputs[0].shape
        g2 = g.reshape(-1, k)
        xhat = inputs[0]._array.reshape(-1, k) - self.mean
        xhat *= self.inv
        gx = gw = gb = None
        if self.has_w and need[1]:
            gw = _wrap(xp.einsum("ij,ij->j", g2, xhat).reshape(inputs[1].shape))
        if self.has_b and need[-1]:
            gb = _wrap(g2.sum(axis=0).reshape(inputs[-1].shape))
        if need[0]:
            # gx is written into an array of x's shape through a 2-D view of it, so
            # the result owns its memory (a leaf's .grad need not be copied).
            out = xp.empty(shape, dtype=g.dtype)
            gx = out.reshape(-1, k)
            if self.has_w:
                xp.multiply(g2, inputs[1]._array.reshape(-1), out=gx)  # g_hat
                gh = gx
            else:
                gh = g2
            m2 = xp.einsum("ij,ij->i", gh, xhat)[:, None]
            m2 *= 1.0 / k
            xp.subtract(gh, gh.mean(axis=1, keepdims=True), out=gx)
            xhat *= m2
            gx -= xhat
            gx *= self.inv
            gx = _wrap(out)
        return self._pack(gx, gw, gb)

    def _backward_graph(self, gy):
        """The same closed form in tapegrad ops, recomputing the statistics from x."""
        inputs = self.inputs
        need = self.needs_input_grad
        axes, paxes = self.axes, self.param_axes
        x = inputs[0]
        xc = x - x.mean(axes, keepdim=True)
        inv = rsqrt((xc * xc).mean(axes, keepdim=True) + self.eps)
        xhat = xc * inv
        gx = gw = gb = None
        if self.has_w and need[1]:
            gw = reshape(_sum(gy * xhat, paxes), inputs[1].shape)
        if self.has_b and need[-1]:
            gb = reshape(_sum(gy, paxes), inputs[-1].shape)
        if need[0]:
            gh = gy
            if self.has_w:
                w = inputs[1]
                gh = gy * (w if self.param_shape is None else reshape(w, self.param_shape))
            gx = inv * (
                gh - gh.mean(axes, keepdim=True) - xhat * (gh * xhat).mean(axes, keepdim=True)
            )
        return self._pack(gx, gw, gb)

    def _pack(self, gx, gw, gb):
        out = (gx,)
        if self.has_w:
            out += (gw,)
        if self.has_b:
            out += (gb,)
        return out if len(out) > 1 else out[0]


class BatchNormEvalFunction(Function):
    """``x * scale + shift`` with ``scale = weight / sqrt(running_var + eps)``.

    Inputs: ``x``, then ``weight``/``bias`` if given. The running statistics
    are constants (``rm`` and ``inv`` arrays of ``param_shape``).
    """

    keep_inputs = True

    def __init__(
        self, rm: Any, inv: Any, has_w: bool, has_b: bool, param_shape: tuple[int, ...]
    ) -> None:
        self.rm, self.inv = rm, inv
        self.has_w, self.has_b, self.param_shape = has_w, has_b, param_shape

    def forward(self, x, *params):
        ps = self.param_shape
        scale = self.inv * params[0].reshape(ps) if self.has_w else self.inv
        shift = -self.rm * scale
        if self.has_b:
            shift += params[-1].reshape(ps)
        y = x * scale
        y += shift
        return y

    def backward(self, gy):
        inputs = self.inputs
        need = self.needs_input_grad
        ps = self.param_shape
        axes = tuple(i for i in range(gy.ndim) if i != 1)
        inv = _wrap(self.inv)
        gx = gw = gb = None
        if need[0]:
            scale = reshape(inputs[1], ps) * inv if self.has_w else inv
            gx = gy * scale
        if self.has_w and need[1]:
            xhat = (inputs[0] - _wrap(self.rm)) * inv
            gw = reshape(_sum(gy * xhat, axes), inputs[1].shape)
        if self.has_b and need[-1]:
            gb = reshape(_sum(gy, axes), inputs[-1].shape)
        out = (gx,)
        if self.has_w:
            out += (gw,)
        if self.has_b:
            out += (gb,)
        return out if len(out) > 1 else out[0]


def batch_norm(
    input: Tensor,  # noqa: A002 - torch's name
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation over the channel axis 1 of ``input`` (N, C, *).

    In training, each channel is normalised with the mean and biased variance
    of the batch (over N and every axis after C), and ``running_mean`` /
    ``running_var`` (if given) are updated in place:
    ``r = (1 - momentum) * r + momentum * batch_stat``, with the unbiased
    variance, as PyTorch does. Outside training the running statistics are
    used, which makes it an affine map. ``weight`` and ``bias`` have shape (C,).

    Returns a tensor of ``input``'s shape.
    """
    op = "batch_norm"
    if input.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C, *), got {_shape(input)}")
    c = input.shape[1]
    for what, p in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if p is not None and _shape(p) != (c,):
            raise ValueError(
                f"{op}: {what} has shape {_shape(p)} but input of shape {_shape(input)} "
                f"has {c} channels"
            )
    ps = (1, c) + (1,) * (input.ndim - 2)
    params = tuple(p for p in (weight, bias) if p is not None)
    has_w, has_b = weight is not None, bias is not None
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError(f"{op}: running_mean and running_var are needed outside training")
        rm = running_mean._array.reshape(ps)
        inv = 1.0 / (running_var._array.reshape(ps) + eps) ** 0.5
        return BatchNormEvalFunction(rm, inv, has_w, has_b, ps)(input, *params)

    axes = (0,) + tuple(range(2, input.ndim))
    n = math.prod(input.shape[:1] + input.shape[2:])
    if n == 1:  # PyTorch's test: empty inputs pass (and give empty outputs)
        raise ValueError(
            f"{op}: Expected more than 1 value per channel when training, "
            f"got input of shape {_shape(input)}"
        )
    if input._array.size == 0:  # nothing to normalise; the statistics stay as they are
        return input * 1.0
    fn = NormalizeFunction(axes, eps, has_w, has_b, ps, axes)
    y = fn(input, *params)
    if running_mean is not None:
        rm = running_mean._array
        rm *= 1.0 - momentum
        rm += momentum * fn.mean.reshape(c)
    if running_var is not None:
        rv = running_var._array
        rv *= 1.0 - momentum
        rv += (momentum * n / (n - 1)) * fn.var.reshape(c)
    return y


def layer_norm(
    input: Tensor,  # noqa: A002 - torch's name
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` axes of ``input``.

    Each sample is normalised with its own mean and biased variance over those
    axes, then scaled by ``weight`` and shifted by ``bias`` (both of shape
    ``normalized_shape``, elementwise). Returns a tensor of ``input``'s shape.
    """
    op = "layer_norm"
    ns = (int(normalized_shape),) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(ns)
    if k == 0 or input.ndim < k or _shape(input)[input.ndim - k :] != ns:
        raise ValueError(
            f"{op}: input of shape {_shape(input)} does not end with normalized_shape {ns}"
        )
    for what, p in (("weight", weight), ("bias", bias)):
        if p is not None and _shape(p) != ns:
            raise ValueError(f"{op}: {what} has shape {_shape(p)}, expected normalized_shape {ns}")
    axes = tuple(range(input.ndim - k, input.ndim))
    params = tuple(p for p in (weight, bias) if p is not None)
    fn = NormalizeFunction(
        axes, eps, weight is not None, bias is not None, None, tuple(range(input.ndim - k))
    )
    return fn(input, *params)


def group_norm(
    input: Tensor,  # noqa: A002 - torch's name
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise (N, C, *) over groups of C / num_groups channels and the axes after C.

    ``weight`` and ``bias`` (shape (C,)) scale and shift per channel. Returns
    a tensor of ``input``'s shape.
    """
    op = "group_norm"
    if input.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C, *), got {_shape(input)}")
    n, c = input.shape[0], input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise ValueError(
            f"{op}: {c} channels of input of shape {_shape(input)} cannot be split "
            f"into {num_groups} groups"
        )
    for what, p in (("weight", weight), ("bias", bias)):
        if p is not None and _shape(p) != (c,):
            raise ValueError(
                f"{op}: {what} has shape {_shape(p)} but input of shape {_shape(input)} "
                f"has {c} channels"
            )
    xg = reshape(input, (n, num_groups, -1))
    y = reshape(NormalizeFunction((2,), eps, False, False, None, (0, 1))(xg), _shape(input))
    ps = (1, c) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = y * reshape(weight, ps)
    if bias is not None:
        y = y + reshape(bias, ps)
    return y
