"""Normalisation: ``batch_norm``, ``layer_norm``, ``group_norm``.

Batch statistics are computed inside one fused Function (:class:`NormalizeFunction`)
whose forward makes a few passes over the input and whose backward is the
closed form

    gx = inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)),
    g_hat = gy * weight,

with the means over the normalised axes, written once against an array
namespace (:mod:`tapegrad.ops.namespace`). When no graph is recorded (an
ordinary ``backward()``) it runs on arrays, from the mean and inverse standard
deviation saved by forward. When a graph is recorded (``create_graph=True``)
it runs as tapegrad ops, with the statistics recomputed from the input Tensor,
so the gradient is itself differentiable in the input, the weight, the bias
and ``gy``: second derivatives are exact, not the "constant statistics"
shortcut.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor, _wrap
from .compiled import kernels_for
from .namespace import ARRAYS, EXACT_SUM_TERMS, ArrayNamespace, namespace
from .reduce import sum as _sum
from .shape import reshape

__all__ = [
    "batch_norm",
    "layer_norm",
    "group_norm",
    "instance_norm",
]


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(x.shape)


def _numel(shape: Sequence[int]) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


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

    def forward(self, x: Any, *params: Any) -> Any:
        """(x - mean) / sqrt(var + eps) * weight + bias over ``axes``; keeps the statistics."""
        axes = self.axes
        y = self._channels_last(x, params)
        if y is not None:
            return y
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
            mean = ARRAYS.mean(x, axes, True)
            y = x - mean
            var = ARRAYS.mean(y * y, axes, True)
        inv = 1.0 / (var + self.eps) ** 0.5
        self.mean, self.var, self.inv = mean, var, inv
        self.count = x.size // max(mean.size, 1) if x.size else 0
        y *= inv
        if rows:
            y = y.reshape(x.shape)
            kept = x.shape[: axes[0]] + (1,) * len(axes)
            self.mean, self.inv = mean.reshape(kept), inv.reshape(kept)
        if self.has_w:
            y *= self._view(ARRAYS, params[0])
        if self.has_b:
            y += self._view(ARRAYS, params[-1])
        return y

    def _channels_last(self, x: Any, params: tuple[Any, ...]) -> Any:
        """Batch norm of a channels-last float32 (N, C, H, W) batch by the compiled
        loops, three passes where the NumPy lines make seven, with the same bits
        (the same roundings in the same order, numba_kernels.py); None where they
        do not apply: no Numba, another layout, dtype or shape, or a batch short
        enough that the NumPy sums stay in float32."""
        nb = kernels_for(x)
        if nb is None or self.axes != (0, 2, 3) or x.ndim != 4 or x.dtype != xp.float32:
            return None
        n, c, h, w = x.shape
        v = x.transpose(0, 2, 3, 1)
        if n * h * w <= EXACT_SUM_TERMS or not v.flags.c_contiguous:
            return None
        if any(p.dtype != x.dtype or p.shape != (c,) or not p.flags.c_contiguous for p in params):
            return None
        x2, per_channel = v.reshape(-1, c), c / x.size
        sums = xp.empty(c, dtype=xp.float64)
        nb.channel_sums_f64(x2, sums)
        mean = sums.astype(x.dtype).reshape(1, c, 1, 1) * per_channel  # as ARRAYS.mean
        nb.centered_square_sums_f64(x2, mean.reshape(c), sums)
        var = sums.astype(x.dtype).reshape(1, c, 1, 1) * per_channel
        inv = 1.0 / (var + self.eps) ** 0.5
        self.mean, self.var, self.inv, self.count = mean, var, inv, n * h * w
        wv = params[0] if self.has_w else inv.reshape(c)  # (unused when absent)
        bv = params[-1] if self.has_b else inv.reshape(c)
        out = xp.empty((n, h, w, c), dtype=x.dtype)
        nb.normalize_rows(
            x2, mean.reshape(c), inv.reshape(c), wv, bv, self.has_w, self.has_b,
            out.reshape(-1, c),
        )  # fmt: skip
        return out.transpose(0, 3, 1, 2)

    def backward(self, gy: Any) -> Any:
        """Gradients of x, weight and bias (those given), one formula on arrays or Tensors."""
        F = namespace()
        need = self.needs_input_grad
        axes, paxes, n = self.axes, self.param_axes, self.count
        inputs = F.inputs(self)
        x, g = inputs[0], F.value(gy)
        mean, inv = F.residual((self.mean, self.inv), lambda: self._stats(F, x))
        xhat = (x - mean) * inv
        gx = gw = gb = None
        shared = paxes == axes and need[0]
        s1: Any = F.sum(g, paxes, True) if (self.has_b and need[-1]) or shared else None
        s2: Any = F.sum(g * xhat, paxes, True) if (self.has_w and need[1]) or shared else None
        if self.has_w and need[1]:
            gw = F.reshape(s2, self.in_shapes[1])
        if self.has_b and need[-1]:
            gb = F.reshape(s1, self.in_shapes[-1])
        if need[0]:
            w = self._view(F, inputs[1]) if self.has_w else None
            if paxes == axes:
                # The weight is constant over the normalised axes (batch norm): it
                # factors out of g_hat, and the parameters' sums give the two means.
                scale = inv if w is None else inv * w
                gx = (g - s1 * (1.0 / n) - xhat * (s2 * (1.0 / n))) * scale
            else:
                gh = g if w is None else g * w
                m1, m2 = F.mean(gh, axes, True), F.mean(gh * xhat, axes, True)
                gx = (gh - m1 - xhat * m2) * inv
        return self._pack(F.grads(gx), F.grads(gw), F.grads(gb))

    def _stats(self, F: ArrayNamespace, x: Any) -> tuple[Any, Any]:
        """Mean and 1 / sqrt(var + eps) over the normalised axes (keepdims), in ``F``."""
        mean = F.mean(x, self.axes, True)
        xc = x - mean
        return mean, F.rsqrt(F.mean(xc * xc, self.axes, True) + self.eps)

    def _view(self, F: ArrayNamespace, p: Any) -> Any:
        return p if self.param_shape is None else F.reshape(p, self.param_shape)

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

    def forward(self, x: Any, *params: Any) -> Any:
        """x * scale + shift per channel, from the running statistics."""
        ps = self.param_shape
        scale = self.inv * params[0].reshape(ps) if self.has_w else self.inv
        shift = -self.rm * scale
        if self.has_b:
            shift += params[-1].reshape(ps)
        y = x * scale
        y += shift
        return y

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * scale; dL/dweight and dL/dbias summed over all but dim 1."""
        assert self.inputs is not None
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
        out: tuple[Any, ...] = (gx,)
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


def instance_norm(
    input: Tensor,  # noqa: A002 - torch's name
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel of each sample of (N, C, *) over the axes after C.

    With ``use_input_stats`` the statistics are each instance's own, and the
    running statistics, when given, move towards their mean over the batch
    (the variance unbiased), as in PyTorch; otherwise the running statistics
    are used. ``weight`` and ``bias`` (C,) scale and shift per channel.
    """
    op = "instance_norm"
    if input.ndim < 3:
        raise ValueError(f"{op}: expected input of shape (N, C, L, ...), got {_shape(input)}")
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    c = input.shape[1]
    y = group_norm(input, c, weight, bias, eps)
    if running_mean is not None or running_var is not None:
        a = input._array.reshape(input.shape[0], c, -1)
        m = a.shape[-1]
        if running_mean is not None:
            rm = running_mean._array
            rm *= 1.0 - momentum
            rm += momentum * a.mean(-1).mean(0).astype(rm.dtype)
        if running_var is not None:
            rv = running_var._array
            rv *= 1.0 - momentum
            rv += momentum * a.var(-1, ddof=1 if m > 1 else 0).mean(0).astype(rv.dtype)
    return y
