"""Transposed 2-D convolution (``conv_transpose2d``): the adjoint of conv2d in its input."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor, as_tensor
from .conv_kernels import _ConvGeom
from .convolution import ConvTranspose2dFunction, _check_bias
from .shape import squeeze, unsqueeze
from .spatial_args import _batched, _pair, _shape

__all__ = ["conv_transpose2d"]


def conv_transpose2d(
    input: Any,  # noqa: A002 - PyTorch's name
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Tensor:
    """Transposed 2-D convolution, like ``torch.nn.functional.conv_transpose2d``.

    The adjoint of conv2d in its input (the gradient of a conv2d).

    Args:
        input: (N, Cin, H, W) or unbatched (Cin, H, W).
        weight: (Cin, Cout/groups, kH, kW), PyTorch's layout.
        bias: (Cout,) or None.
        stride, padding, dilation: int or (h, w), those of the matching conv2d.
        output_padding: int or (h, w) added to the bottom/right of the output;
            must be smaller than stride or dilation.

    Returns:
        (N, Cout, Ho, Wo) with Ho = (H-1)*stride - 2*padding
        + dilation*(kH-1) + output_padding + 1.
    """
    op = "conv_transpose2d"
    x, w = as_tensor(input), as_tensor(weight)
    if not _batched(op, x):
        out = conv_transpose2d(
            unsqueeze(x, 0), w, bias, stride, padding, output_padding, groups, dilation
        )
        return squeeze(out, 0)
    if w.ndim != 4:
        raise ValueError(f"{op}: weight must be 4-D (Cin, Cout/groups, kH, kW), got {_shape(w)}")
    n, cin, h, w_in = x.shape
    wc, cog, kh, kw = w.shape
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"{op}: groups must be positive, got {groups}")
    if cin != wc:
        raise ValueError(
            f"{op}: input {_shape(x)} has {cin} channels but weight {_shape(w)} expects {wc} "
            f"(groups={groups})"
        )
    if cin % groups:
        raise ValueError(
            f"{op}: input {_shape(x)} has {cin} channels, not divisible by groups={groups}"
        )
    s = _pair(stride, "stride", op)
    d = _pair(dilation, "dilation", op)
    ph, pw = _pair(padding, "padding", op)
    oph, opw = _pair(output_padding, "output_padding", op)
    if min(s) < 1 or min(d) < 1 or min(ph, pw) < 0 or min(oph, opw) < 0:
        raise ValueError(
            f"{op}: stride {s} and dilation {d} must be positive, padding {(ph, pw)} and "
            f"output_padding {(oph, opw)} non-negative"
        )
    if not ((oph < s[0] or oph < d[0]) and (opw < s[1] or opw < d[1])):
        raise ValueError(
            f"{op}: output_padding {(oph, opw)} must be smaller than stride {s} or dilation {d}"
        )
    ho = (h - 1) * s[0] - 2 * ph + d[0] * (kh - 1) + oph + 1
    wo = (w_in - 1) * s[1] - 2 * pw + d[1] * (kw - 1) + opw + 1
    if ho < 1 or wo < 1:
        raise ValueError(
            f"{op}: input {_shape(x)} with weight {_shape(w)}, stride {s}, padding {(ph, pw)} "
            f"gives an empty output {(ho, wo)}"
        )
    b = _check_bias(op, bias, cog * groups)
    geom = _ConvGeom((kh, kw), s, (ph, ph, pw, pw), d, groups, (ho, wo), (h, w_in))
    if b is None:
        return ConvTranspose2dFunction(geom)(x, w)
    return ConvTranspose2dFunction(geom)(x, w, b)
