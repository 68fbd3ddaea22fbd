"""2-D convolution (``conv2d``) and the three Functions of the convolution family.

Why three Functions: a convolution is bilinear in (input, weight), so its
derivatives are convolutions again. ``Conv2dFunction``,
``ConvTranspose2dFunction`` and ``Conv2dGradWeightFunction`` each express their
backward with the other two, which makes every derivative of every order
exact, for inputs and weights alike. The array work is in ``conv_kernels``.
"""

from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..tensor import Tensor, as_tensor
from .conv_kernels import _conv_adj, _conv_fwd, _conv_wgrad, _ConvGeom
from .namespace import namespace
from .shape import squeeze, unsqueeze
from .spatial_args import _batched, _pair, _shape

__all__ = ["conv2d"]


def _bias_grad(gy: Tensor) -> Tensor:
    """gy (N, O, Ho, Wo) summed to (O,), the bias gradient.

    On arrays the sum runs with a float64 accumulator: gy is usually
    channels-last, where NumPy would add one value after another in float32.
    """
    F = namespace()
    return F.tensor(F.sum(F.value(gy), (0, 2, 3)))


class Conv2dFunction(Function):
    keep_inputs = True

    def __init__(self, geom: _ConvGeom) -> None:
        self.geom = geom
        self.cols = None

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        """x (N, C, H, W) conv w (O, C/groups, kh, kw) + b (O,) -> (N, O, Ho, Wo)."""
        # While a graph is recorded, the columns stay on the node for the weight
        # gradient: one im2col per step instead of two. (Held from forward to
        # backward; the weight gradient drops them before the input gradient
        # allocates its own columns.)
        keep: list[Any] | None = [] if state.enabled else None
        y = _conv_fwd(x, w, b, self.geom, keep)
        if keep:
            self.cols = keep[0]
        return y

    def backward(self, gy: Any) -> Any:
        """dL/dx: a transposed convolution of gy; dL/dw: gy against x; dL/db: gy summed."""
        assert self.inputs is not None
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        cols, self.cols = self.cols, None
        gw = Conv2dGradWeightFunction(self.geom, cols)(x, gy) if need[1] else None
        del cols
        gx = ConvTranspose2dFunction(self.geom)(gy, w) if need[0] else None
        if len(need) == 3:
            return gx, gw, (_bias_grad(gy) if need[2] else None)
        return gx, gw


class ConvTranspose2dFunction(Function):
    """The adjoint of ``Conv2dFunction(geom)`` in its input: (N, O, Ho, Wo) -> (N, C, H, W)."""

    keep_inputs = True

    def __init__(self, geom: _ConvGeom) -> None:
        self.geom = geom

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        """x (N, O, Ho, Wo) with w (O, C/groups, kh, kw) -> (N, C, H, W), + b."""
        return _conv_adj(x, w, b, self.geom)

    def backward(self, gy: Any) -> Any:
        """dL/dx: a convolution of gy with w; dL/dw: gy against x; dL/db: gy summed."""
        assert self.inputs is not None
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        gx = Conv2dFunction(self.geom)(gy, w) if need[0] else None
        # <gy, A_w^T x> = <A_w gy, x>: the weight gradient of a conv of gy against x.
        gw = Conv2dGradWeightFunction(self.geom)(gy, x) if need[1] else None
        if len(need) == 3:
            return gx, gw, (_bias_grad(gy) if need[2] else None)
        return gx, gw


class Conv2dGradWeightFunction(Function):
    """d/dw <conv2d(x, w), gy>: bilinear in (x, gy), so its derivatives are convolutions."""

    keep_inputs = True

    def __init__(self, geom: _ConvGeom, cols: Any = None) -> None:
        self.geom = geom
        self.cols = cols  # x's columns from the forward pass, used once

    def forward(self, x: Any, gy: Any) -> Any:
        """The weight gradient (O, C/groups, kh, kw) of a conv of x with gy."""
        cols, self.cols = self.cols, None
        return _conv_wgrad(x, gy, self.geom, cols)

    def backward(self, ggw: Any) -> Any:
        """Gradients of x and gy: a transposed convolution and a convolution with ggw."""
        assert self.inputs is not None
        x, gy = self.inputs
        nx, ngy = self.needs_input_grad
        gx = ConvTranspose2dFunction(self.geom)(gy, ggw) if nx else None
        ggy = Conv2dFunction(self.geom)(x, ggw) if ngy else None
        return gx, ggy


def _check_bias(op: str, bias: Any, n_out: int) -> Tensor | None:
    if bias is None:
        return None
    bias = as_tensor(bias)
    if bias.shape != (n_out,):
        raise ValueError(f"{op}: bias {_shape(bias)} should have shape ({n_out},)")
    return bias


def conv2d(
    input: Any,  # noqa: A002 - PyTorch's name
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation, like ``torch.nn.functional.conv2d``.

    Args:
        input: (N, C, H, W) or unbatched (C, H, W).
        weight: (O, C/groups, kH, kW).
        bias: (O,) or None.
        stride, dilation: int or (h, w).
        padding: int, (h, w), ``'valid'`` (none) or ``'same'`` (output size =
            input size; stride 1 only; an odd total goes to the bottom/right).
        groups: split the channels into this many independent convolutions.

    Returns:
        (N, O, Ho, Wo) with Ho = (H + 2*pad - dilation*(kH-1) - 1) // stride + 1
        (or (O, Ho, Wo) for an unbatched input).
    """
    op = "conv2d"
    x, w = as_tensor(input), as_tensor(weight)
    if not _batched(op, x):
        return squeeze(conv2d(unsqueeze(x, 0), w, bias, stride, padding, dilation, groups), 0)
    if w.ndim != 4:
        raise ValueError(f"{op}: weight must be 4-D (O, C/groups, kH, kW), got {_shape(w)}")
    n, c, h, w_in = x.shape
    o, cg, kh, kw = w.shape
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"{op}: groups must be positive, got {groups}")
    if c % groups:
        raise ValueError(
            f"{op}: input {_shape(x)} has {c} channels, not divisible by groups={groups}"
        )
    if o % groups:
        raise ValueError(
            f"{op}: weight {_shape(w)} has {o} output channels, not divisible by groups={groups}"
        )
    if c != cg * groups:
        raise ValueError(
            f"{op}: input {_shape(x)} has {c} channels but weight {_shape(w)} expects "
            f"{cg * groups} (groups={groups})"
        )
    s = _pair(stride, "stride", op)
    d = _pair(dilation, "dilation", op)
    if min(s) < 1 or min(d) < 1:
        raise ValueError(f"{op}: stride {s} and dilation {d} must be positive")
    eh, ew = d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0, 0, 0)
        elif padding == "same":
            if s != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride {s}")
            pads = ((eh - 1) // 2, eh // 2, (ew - 1) // 2, ew // 2)
        else:
            raise ValueError(
                f"{op}: padding must be 'valid', 'same', an int or a pair, got {padding!r}"
            )
    else:
        ph, pw = _pair(padding, "padding", op)
        if ph < 0 or pw < 0:
            raise ValueError(f"{op}: padding must be non-negative, got {(ph, pw)}")
        pads = (ph, ph, pw, pw)
    hp, wp = h + pads[0] + pads[1], w_in + pads[2] + pads[3]
    if hp < eh or wp < ew:
        raise ValueError(
            f"{op}: kernel {(kh, kw)} (dilated to {(eh, ew)}) is larger than the padded "
            f"input {(hp, wp)} of input {_shape(x)}"
        )
    out_hw = ((hp - eh) // s[0] + 1, (wp - ew) // s[1] + 1)
    b = _check_bias(op, bias, o)
    geom = _ConvGeom((kh, kw), s, pads, d, groups, (h, w_in), out_hw)
    if b is None:
        return Conv2dFunction(geom)(x, w)
    return Conv2dFunction(geom)(x, w, b)
