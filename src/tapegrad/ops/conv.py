"""2-D convolution, transposed convolution, pooling and resizing (NCHW, PyTorch's arguments).

How a convolution is computed: the (zero-padded) input is viewed through
``as_strided`` as its sliding windows and copied once into a column matrix
(C*kH*kW, N*Ho*Wo) (im2col), then ONE matrix product per call (a batched one
over the groups) gives the output. Its adjoint (conv_transpose2d, and the
input gradient of conv2d) is one matrix product into columns, then kH*kW
strided adds back onto the image (col2im); the weight gradient is one matrix
product of the output gradient with the columns.

Why three Functions: a convolution is bilinear in (input, weight), so its
derivatives are convolutions again. ``Conv2d``, ``ConvTranspose2d`` and
``Conv2dGradWeight`` each express their backward with the other two, which
makes every derivative of every order exact, for inputs and weights alike.

Pools: max pooling's backward scatters the gradient to the argmax positions
with a Function whose backward gathers (and the other way round). Average
pooling, adaptive average pooling and resizing are linear maps; their backward
is the adjoint map, built from Functions that are each other's backward or from
matrix products with constant matrices.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..backend import xp
from ..tensor import Tensor, _wrap, as_tensor
from .linalg import matmul
from .reduce import sum as _sum
from .shape import squeeze, unsqueeze

__all__ = [
    "conv2d",
    "conv_transpose2d",
    "max_pool2d",
    "avg_pool2d",
    "adaptive_avg_pool2d",
    "interpolate",
    "upsample",
]

_as_strided = xp.lib.stride_tricks.as_strided


# ----------------------------------------------------------------- helpers
def _pair(v: Any, name: str, op: str) -> tuple[int, int]:
    """An int, or a pair of ints, as a pair (PyTorch's int-or-tuple arguments)."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return int(v), int(v)
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = (v[0], v[0])
    if (
        isinstance(v, (tuple, list))
        and len(v) == 2
        and all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in v)
    ):
        return int(v[0]), int(v[1])
    raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")


def _shape(t: Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def _batched(op: str, x: Tensor) -> bool:
    """True when x is (N, C, H, W); False for an unbatched (C, H, W); raises otherwise."""
    if x.ndim == 4:
        return True
    if x.ndim == 3:
        return False
    raise ValueError(
        f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {_shape(x)}"
    )


class _ConvGeom:
    """How a conv2d maps its input (N, C, *in_hw) to its output (N, O, *out_hw).

    ``pads`` is (top, bottom, left, right). A transposed convolution uses the
    geometry of the convolution it is the adjoint of (its output is in_hw).
    """

    __slots__ = ("k", "stride", "pads", "dilation", "groups", "in_hw", "out_hw")

    def __init__(self, k, stride, pads, dilation, groups, in_hw, out_hw) -> None:
        self.k, self.stride, self.pads, self.dilation = k, stride, pads, dilation
        self.groups, self.in_hw, self.out_hw = groups, in_hw, out_hw


# ------------------------------------------------------- raw conv kernels
#: Most elements one column matrix may hold (4 MiB in float32). A larger batch
#: is processed in chunks of samples: memory stays close to PyTorch's, and the
#: columns of a chunk are still in cache when the matrix product reads them.
#: Each chunk's product writes straight into its slice of the output.
_COLS_MAX = 1 << 20


def _batch_chunks(n: int, per_sample: int) -> list[slice]:
    """Slices of the batch whose columns fit in _COLS_MAX (one slice if all fit)."""
    if n <= 1 or n * per_sample <= _COLS_MAX:
        return [slice(0, n)]
    step = max(1, _COLS_MAX // max(per_sample, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _im2col(x: Any, g: _ConvGeom) -> Any:
    """Columns (C*kH*kW, N*Ho*Wo) of x (N, C, H, W); rows ordered (c, i, j).

    Strided convolutions copy each kernel offset straight from x, writing
    zeros only where a window hangs over the edge; with stride 1 one copy of
    the windows of a zero-padded x is faster (measured on 3x3 and 4x4 kernels).
    """
    n, c, h, w = x.shape
    kh, kw = g.k
    sh, sw = g.stride
    dh, dw = g.dilation
    pt, pb, pl, pr = g.pads
    ho, wo = g.out_hw
    if g.stride == (1, 1):
        # Channel-major (C, N, H, W) memory makes the big copy below read in order.
        xp_ = xp.zeros((c, n, h + pt + pb, w + pl + pr), dtype=x.dtype)
        xp_[:, :, pt : pt + h, pl : pl + w] = x.transpose(1, 0, 2, 3)
        s_c, s_n, s_h, s_w = xp_.strides
        win = _as_strided(
            xp_,
            (c, kh, kw, n, ho, wo),
            (s_c, dh * s_h, dw * s_w, s_n, s_h, s_w),
            writeable=False,
        )
        return xp.ascontiguousarray(win).reshape(c * kh * kw, n * ho * wo)
    cols = xp.empty((c, kh, kw, n, ho, wo), dtype=x.dtype)
    xt = x.transpose(1, 0, 2, 3)  # (C, N, H, W): in order when x came from a convolution
    for i in range(kh):
        r0, r1, rs = _valid(i * dh - pt, sh, ho, h)
        for j in range(kw):
            c0, c1, cs = _valid(j * dw - pl, sw, wo, w)
            dst = cols[:, i, j]
            if r1 <= r0 or c1 <= c0:
                dst[...] = 0
                continue
            dst[:, :, :r0] = 0
            dst[:, :, r1:] = 0
            dst[:, :, r0:r1, :c0] = 0
            dst[:, :, r0:r1, c1:] = 0
            dst[:, :, r0:r1, c0:c1] = xt[:, :, rs, cs]
    return cols.reshape(c * kh * kw, n * ho * wo)


def _valid(off: int, stride: int, n_out: int, size: int) -> tuple[int, int, slice]:
    """Outputs [o0, o1) whose input index off + stride*o lies in [0, size), and those inputs."""
    o0 = max(0, -(off // stride)) if off < 0 else 0
    o1 = min(n_out, (size - 1 - off) // stride + 1) if size - 1 - off >= 0 else 0
    if o1 <= o0:
        return 0, 0, slice(0, 0)
    start = off + stride * o0
    return o0, o1, slice(start, off + stride * (o1 - 1) + 1, stride)


def _conv_fwd(x: Any, w: Any, b: Any, g: _ConvGeom, keep: list | None = None) -> Any:
    """conv2d on arrays: x (N, C, H, W), w (O, C/G, kH, kW), b (O,) or None.

    Returns (N, O, Ho, Wo) in (O, N, Ho, Wo) memory order: NumPy's elementwise
    ops keep that order and the next convolution's im2col reads it in order,
    so a copy into (N, O, Ho, Wo) order would only cost a pass over the output.
    With ``keep`` (a list), the column matrix is appended to it for the weight
    gradient, when the batch fitted in one chunk.
    """
    n = x.shape[0]
    o = w.shape[0]
    grp = g.groups
    ho, wo = g.out_hw
    span = ho * wo
    chunks = _batch_chunks(n, x.shape[1] * g.k[0] * g.k[1] * span)
    y = xp.empty((o, n * span), dtype=xp.result_type(x.dtype, w.dtype))
    for sl in chunks:
        cols = _im2col(x[sl], g)
        if keep is not None and len(chunks) == 1:
            keep.append(cols)
        cs = slice(sl.start * span, sl.stop * span)
        if grp == 1:
            xp.matmul(w.reshape(o, -1), cols, out=y[:, cs])
        else:
            xp.matmul(
                w.reshape(grp, o // grp, -1),
                cols.reshape(grp, -1, cols.shape[1]),
                out=y.reshape(grp, o // grp, -1)[:, :, cs],
            )
    if b is not None:
        y += b[:, None]
    return y.reshape(o, n, ho, wo).transpose(1, 0, 2, 3)


def _conv_adj(gy: Any, w: Any, b: Any, g: _ConvGeom) -> Any:
    """The adjoint of conv2d in its input (= conv_transpose2d): gy (N, O, Ho, Wo) -> (N, C, H, W).

    A matrix product gives every kernel offset's contribution (columns), then
    kH*kW strided adds put them back on the padded image (col2im). Large
    problems are done in chunks of channels (of samples when grouped), so the
    columns stay within _COLS_MAX. Returns a strided view, as _conv_fwd does.
    """
    n, o, ho, wo = gy.shape
    grp = g.groups
    c = w.shape[1] * grp
    kh, kw = g.k
    kk = kh * kw
    sh, sw = g.stride
    dh, dw = g.dilation
    pt, pb, pl, pr = g.pads
    h, w_ = g.in_hw
    span = ho * wo
    if grp == 1:
        cchunks, bchunks = _batch_chunks(c, kk * n * span), [slice(0, n)]
    else:
        cchunks, bchunks = [slice(0, c)], _batch_chunks(n, c * kk * span)
    # The adds run fastest with the batch innermost (contiguous runs of N
    # rather than Wo), which costs two batch-innermost transposes: worth it
    # when the adds move more data than the transposes.
    batch_inner = len(bchunks) == 1 and kk * c * span > 2 * (o * span + c * h * w_)
    hp, wp = h + pt + pb, w_ + pl + pr
    dtype = xp.result_type(gy.dtype, w.dtype)
    if batch_inner:
        out = xp.zeros((c, hp, wp, n), dtype=dtype)
        gy_t = gy.transpose(1, 2, 3, 0).reshape(o, -1)
    else:
        out = xp.zeros((c, n, hp, wp), dtype=dtype)
        gy_t = gy.transpose(1, 0, 2, 3).reshape(o, -1)  # free when gy is (O, N, ...) ordered
    wt = w.reshape(o, -1).T if grp == 1 else w.reshape(grp, o // grp, -1).transpose(0, 2, 1)
    for bs in bchunks:
        m = bs.stop - bs.start
        g_c = gy_t if batch_inner else gy_t[:, bs.start * span : bs.stop * span]
        for cs_ in cchunks:
            if grp == 1:
                cols = wt[cs_.start * kk : cs_.stop * kk] @ g_c
            else:
                cols = wt @ g_c.reshape(grp, o // grp, -1)
            cc = cs_.stop - cs_.start
            tgt = out[cs_]
            if batch_inner:
                cols = cols.reshape(cc, kh, kw, ho, wo, m)
            else:
                cols = cols.reshape(cc, kh, kw, m, ho, wo)
                tgt = tgt[:, bs]
            for i in range(kh):
                rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
                for j in range(kw):
                    cs = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
                    if batch_inner:
                        tgt[:, rows, cs] += cols[:, i, j]
                    else:
                        tgt[:, :, rows, cs] += cols[:, i, j]
            del cols
    if batch_inner:
        out = out[:, pt : pt + h, pl : pl + w_].transpose(3, 0, 1, 2)
    else:
        out = out[:, :, pt : pt + h, pl : pl + w_].transpose(1, 0, 2, 3)
    if b is not None:
        out = out + b[:, None, None]
    return out


def _conv_wgrad(x: Any, gy: Any, g: _ConvGeom, cols: Any = None) -> Any:
    """Gradient of conv2d in its weight: (O, C/G, kH, kW) from x and gy.

    ``cols``: x's column matrix if the forward pass kept it (saves an im2col).
    """
    n = x.shape[0]
    o = gy.shape[1]
    grp = g.groups
    cg = x.shape[1] // grp
    kh, kw = g.k
    span = g.out_hw[0] * g.out_hw[1]
    gy_t = gy.transpose(1, 0, 2, 3).reshape(o, -1)  # free when gy is (O, N, ...) ordered
    if cols is not None:
        chunks = [slice(0, n)]
    else:
        chunks = _batch_chunks(n, x.shape[1] * kh * kw * span)
    gw = None
    for sl in chunks:
        if cols is None or len(chunks) > 1:
            cols = _im2col(x[sl], g)
        g_c = gy_t[:, sl.start * span : sl.stop * span]
        if grp == 1:
            part = g_c @ cols.T
        else:
            part = g_c.reshape(grp, o // grp, -1) @ cols.reshape(grp, -1, cols.shape[1]).transpose(
                0, 2, 1
            )
        if gw is None:
            gw = part
        else:
            gw += part
    return gw.reshape(o, cg, kh, kw)


# ------------------------------------------------------ conv Functions
class Conv2d(Function):
    keep_inputs = True

    def __init__(self, geom: _ConvGeom) -> None:
        self.geom = geom
        self.cols = None

    def forward(self, x, w, b=None):
        # While a graph is recorded, the columns stay on the node for the weight
        # gradient: one im2col per step instead of two. (Held from forward to
        # backward; the weight gradient drops them before the input gradient
        # allocates its own columns.)
        keep = [] if state.enabled else None
        y = _conv_fwd(x, w, b, self.geom, keep)
        if keep:
            self.cols = keep[0]
        return y

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        cols, self.cols = self.cols, None
        gw = Conv2dGradWeight(self.geom, cols)(x, gy) if need[1] else None
        del cols
        gx = ConvTranspose2d(self.geom)(gy, w) if need[0] else None
        if len(need) == 3:
            return gx, gw, (_sum(gy, (0, 2, 3)) if need[2] else None)
        return gx, gw


class ConvTranspose2d(Function):
    """The adjoint of ``Conv2d(geom)`` in its input: (N, O, Ho, Wo) -> (N, C, H, W)."""

    keep_inputs = True

    def __init__(self, geom: _ConvGeom) -> None:
        self.geom = geom

    def forward(self, x, w, b=None):
        return _conv_adj(x, w, b, self.geom)

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        need = self.needs_input_grad
        gx = Conv2d(self.geom)(gy, w) if need[0] else None
        # <gy, A_w^T x> = <A_w gy, x>: the weight gradient of a conv of gy against x.
        gw = Conv2dGradWeight(self.geom)(gy, x) if need[1] else None
        if len(need) == 3:
            return gx, gw, (_sum(gy, (0, 2, 3)) if need[2] else None)
        return gx, gw


class Conv2dGradWeight(Function):
    """d/dw <conv2d(x, w), gy>: bilinear in (x, gy), so its derivatives are convolutions."""

    keep_inputs = True

    def __init__(self, geom: _ConvGeom, cols: Any = None) -> None:
        self.geom = geom
        self.cols = cols  # x's columns from the forward pass, used once

    def forward(self, x, gy):
        cols, self.cols = self.cols, None
        return _conv_wgrad(x, gy, self.geom, cols)

    def backward(self, ggw):
        x, gy = self.inputs
        nx, ngy = self.needs_input_grad
        gx = ConvTranspose2d(self.geom)(gy, ggw) if nx else None
        ggy = Conv2d(self.geom)(x, ggw) if ngy else None
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
        return Conv2d(geom)(x, w)
    return Conv2d(geom)(x, w, b)


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
        return ConvTranspose2d(geom)(x, w)
    return ConvTranspose2d(geom)(x, w, b)


# -------------------------------------------------------------- pooling
def _pool_len(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's pooled length (a last window must start inside input or left padding)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (span + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


class _PoolGeom:
    """Windows of a pool: kernel, stride, padding, dilation, input and output sizes."""

    __slots__ = ("k", "stride", "pad", "dilation", "in_hw", "out_hw")

    def __init__(self, k, stride, pad, dilation, in_hw, out_hw) -> None:
        self.k, self.stride, self.pad, self.dilation = k, stride, pad, dilation
        self.in_hw, self.out_hw = in_hw, out_hw

    def padded_hw(self) -> tuple[int, int]:
        """Padded size big enough for every window (ceil_mode's may hang over)."""
        (h, w), (ho, wo) = self.in_hw, self.out_hw
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.k, self.stride, self.pad, self.dilation
        return (
            max(h + 2 * ph, (ho - 1) * sh + dh * (kh - 1) + 1),
            max(w + 2 * pw, (wo - 1) * sw + dw * (kw - 1) + 1),
        )


def _pool_geom(
    op: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil: bool
) -> _PoolGeom:
    k = _pair(kernel_size, "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else None
    s = s or _pair(stride, "stride", op)
    p = _pair(padding, "padding", op)
    d = _pair(dilation, "dilation", op)
    if min(k) < 1 or min(s) < 1 or min(d) < 1 or min(p) < 0:
        raise ValueError(
            f"{op}: kernel_size {k}, stride {s}, dilation {d} must be positive and "
            f"padding {p} non-negative"
        )
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{op}: padding {p} should be at most half of kernel_size {k}")
    h, w = x.shape[-2:]
    out = (
        _pool_len(h, k[0], s[0], p[0], d[0], ceil),
        _pool_len(w, k[1], s[1], p[1], d[1], ceil),
    )
    if min(out) < 1:
        raise ValueError(
            f"{op}: input {_shape(x)} is too small for kernel_size {k}, dilation {d}, "
            f"padding {p}: output size would be {out}"
        )
    return _PoolGeom(k, s, p, d, (h, w), out)


def _windows(xpad: Any, g: _PoolGeom) -> Any:
    """Read-only view (N, C, Ho, Wo, kH, kW) of the windows of a padded input."""
    n, c = xpad.shape[:2]
    s_n, s_c, s_h, s_w = xpad.strides
    (sh, sw), (dh, dw) = g.stride, g.dilation
    return _as_strided(
        xpad,
        (n, c) + g.out_hw + g.k,
        (s_n, s_c, sh * s_h, sw * s_w, dh * s_h, dw * s_w),
        writeable=False,
    )


def _padded(x: Any, g: _PoolGeom, fill: Any) -> Any:
    hp, wp = g.padded_hw()
    (h, w), (ph, pw) = g.in_hw, g.pad
    if (hp, wp) == (h, w):
        return x
    out = xp.full(x.shape[:2] + (hp, wp), fill, dtype=x.dtype)
    out[:, :, ph : ph + h, pw : pw + w] = x
    return out


class _Scatter(Function):
    """Put g's elements at flat positions ``pos`` of a zero array (summing repeats)."""

    def __init__(self, pos: Any, shape: tuple[int, ...], unique: bool) -> None:
        self.pos, self.shape, self.unique = pos, shape, unique

    def forward(self, g):
        size = int(np.prod(self.shape))
        if self.unique:
            out = xp.zeros(size, dtype=g.dtype)
            out[self.pos] = g.reshape(-1)
        else:
            out = xp.bincount(self.pos, weights=g.reshape(-1), minlength=size).astype(g.dtype)
        return out.reshape(self.shape)

    def backward(self, gg):
        return _Gather(self.pos, self.in_shapes[0], self.unique)(gg)


class _Gather(Function):
    """The elements of x at flat positions ``pos``, in ``shape``: the adjoint of _Scatter."""

    def __init__(self, pos: Any, shape: tuple[int, ...], unique: bool) -> None:
        self.pos, self.shape, self.unique = pos, shape, unique

    def forward(self, x):
        return x.reshape(-1)[self.pos].reshape(self.shape)

    def backward(self, g):
        return _Scatter(self.pos, self.in_shapes[0], self.unique)(g)


def _tiled(g: _PoolGeom) -> bool:
    """True when the windows tile the input: stride == kernel, no padding or dilation."""
    (ho, wo), (kh, kw), (h, w) = g.out_hw, g.k, g.in_hw
    return (
        g.stride == g.k
        and g.pad == (0, 0)
        and g.dilation == (1, 1)
        and ho * kh <= h
        and wo * kw <= w
    )


def _tile_view(x: Any, g: _PoolGeom, writeable: bool = False) -> Any:
    """View (N, C, Ho, kH, Wo, kW) of the tiled windows of x (N, C, H, W)."""
    n, c = x.shape[:2]
    (ho, wo), (kh, kw) = g.out_hw, g.k
    s_n, s_c, s_h, s_w = x.strides
    return _as_strided(
        x, (n, c, ho, kh, wo, kw), (s_n, s_c, kh * s_h, s_h, kw * s_w, s_w), writeable=writeable
    )


class _TileScatter(Function):
    """Tiled max pool's input gradient: each window's value goes to its argmax cell.

    ``arg`` (N, C, Ho, Wo, uint8) holds the kernel offset of each window's maximum.
    """

    def __init__(self, arg: Any, geom: _PoolGeom, shape: tuple[int, ...]) -> None:
        self.arg, self.geom, self.shape = arg, geom, shape

    def forward(self, gy):
        (ho, wo), (kh, kw) = self.geom.out_hw, self.geom.k
        covered = self.shape[2:] == (ho * kh, wo * kw)
        n, c, h, w = self.shape
        if self.arg.strides[0] < self.arg.strides[1]:  # (C, N, ...) memory, as the input
            out = (xp.empty if covered else xp.zeros)((c, n, h, w), dtype=gy.dtype)
            out = out.transpose(1, 0, 2, 3)
            if gy.strides[0] > gy.strides[1]:
                # One pass to the same order beats mixed orders in each pass below.
                gy = xp.ascontiguousarray(gy.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)
        else:
            out = (xp.empty if covered else xp.zeros)(self.shape, dtype=gy.dtype)
        view = _tile_view(out, self.geom, writeable=True)
        # gy * 0 would put NaN beside an infinite gradient; masked copies are
        # exact there, and slow, so they are kept for that case.
        exact = not xp.isfinite(gy).all()
        for k in range(kh * kw):
            cell = view[:, :, :, k // kw, :, k % kw]
            hit = self.arg == k
            if exact:
                cell[...] = 0
                xp.copyto(cell, gy, where=hit)
            else:
                xp.multiply(gy, hit.view(xp.uint8), out=cell)
        return out

    def backward(self, gg):
        return _TileGather(self.arg, self.geom)(gg)


class _TileGather(Function):
    """The adjoint of :class:`_TileScatter`: each window's value at its argmax cell."""

    def __init__(self, arg: Any, geom: _PoolGeom) -> None:
        self.arg, self.geom = arg, geom

    def forward(self, x):
        out = xp.zeros_like(self.arg, dtype=x.dtype)
        view = _tile_view(x, self.geom)
        kw = self.geom.k[1]
        for k in range(self.geom.k[0] * kw):
            xp.copyto(out, view[:, :, :, k // kw, :, k % kw], where=self.arg == k)
        return out

    def backward(self, g):
        return _TileScatter(self.arg, self.geom, self.in_shapes[0])(g)


class MaxPool2d(Function):
    """Max over windows; remembers the argmax (first maximum in row-major window order)."""

    def __init__(self, geom: _PoolGeom, want_index: bool) -> None:
        self.geom, self.want_index = geom, want_index
        self.arg = None

    def forward(self, x):
        g = self.geom
        kh, kw = g.k
        if _tiled(g) and kh * kw < 256:
            return self._forward_tiled(x)
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        win = _windows(_padded(x, g, fill), g)
        # One pass per kernel offset over whole arrays: reducing the small
        # window axes of the strided view directly is many times slower.
        best = win[..., 0, 0].copy()
        for k in range(1, kh * kw):
            xp.maximum(best, win[..., k // kw, k % kw], out=best)
        if self.want_index:
            # Going down, the last offset written is the first one holding the max.
            arg = xp.zeros(best.shape, dtype=xp.int8 if kh * kw < 128 else xp.int32)
            for k in range(kh * kw - 1, -1, -1):
                xp.copyto(arg, k, where=win[..., k // kw, k % kw] == best)
            self.arg = arg
        return best

    def _forward_tiled(self, x):
        # Windows that tile the input (stride == kernel, no padding): a few
        # whole-array passes over strided views, no padded copy. NumPy's masked
        # copies (copyto with where=, np.where) are ten times slower than this
        # uint8 arithmetic on these sizes.
        g = self.geom
        kh, kw = g.k
        view = _tile_view(x, g)
        planes = [view[:, :, :, k // kw, :, k % kw] for k in range(kh * kw)]
        # order="K": a convolution's output is (C, N, H, W) in memory; results
        # keep the input's order so every pass below reads memory in sequence.
        best = planes[0].copy(order="K")
        for p in planes[1:]:
            xp.maximum(best, p, out=best)
        if self.want_index:
            # arg = first k whose plane holds the max: walk down, overwriting.
            last = kh * kw - 1
            arg = xp.full_like(best, last, dtype=xp.uint8)
            for k in range(last - 1, -1, -1):
                hit = (planes[k] == best).view(xp.uint8)
                arg -= hit * (arg - xp.uint8(k))
            self.arg = arg
        return best

    def index(self) -> Any:
        """Argmax positions flattened in each (H, W) input plane, as PyTorch returns them."""
        g = self.geom
        ki, kj = xp.divmod(self.arg.astype(xp.int64), g.k[1])
        (ho, wo), w = g.out_hw, g.in_hw[1]
        rows = (xp.arange(ho) * g.stride[0] - g.pad[0])[:, None] + ki * g.dilation[0]
        cols = (xp.arange(wo) * g.stride[1] - g.pad[1])[None, :] + kj * g.dilation[1]
        return rows * w + cols

    def backward(self, gy):
        g = self.geom
        if self.arg.dtype == xp.uint8:  # the tiled path made it
            return _TileScatter(self.arg, g, self.in_shapes[0])(gy)
        n, c, h, w = self.in_shapes[0]
        plane = xp.arange(n * c, dtype=xp.int64).reshape(n, c, 1, 1) * (h * w)
        pos = (plane + self.index()).reshape(-1)
        (kh, kw), (sh, sw), (dh, dw) = g.k, g.stride, g.dilation
        unique = sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1
        return _Scatter(pos, (n, c, h, w), unique)(gy)


def max_pool2d(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max pooling, like ``torch.nn.functional.max_pool2d``.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size, stride (default kernel_size), padding (at most half the
            kernel; pads with -inf), dilation: int or (h, w).
        ceil_mode: round the output size up (a window may hang over the end).
        return_indices: also return the argmax positions, flat in each (H, W)
            plane (int64), as PyTorch does.

    Returns:
        (N, C, Ho, Wo) maxima, or (maxima, indices). Ties go to the first
        maximum of the window in row-major order, like PyTorch.
    """
    op = "max_pool2d"
    x = as_tensor(input)
    if not _batched(op, x):
        out = max_pool2d(
            unsqueeze(x, 0), kernel_size, stride, padding, dilation, ceil_mode, return_indices
        )
        if return_indices:
            return squeeze(out[0], 0), squeeze(out[1], 0)
        return squeeze(out, 0)
    g = _pool_geom(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    want = bool(return_indices) or (state.enabled and x.requires_grad)
    fn = MaxPool2d(g, want)
    y = fn(x)
    if return_indices:
        return y, _wrap(fn.index())
    return y


def _avg_divisor(
    g: _PoolGeom, count_include_pad: bool, divisor_override: int | None, dtype: Any
) -> Any:
    """1 / (the divisor of each output cell), (Ho, Wo) or a scalar: PyTorch's rule."""
    if divisor_override is not None:
        return dtype.type(1.0 / divisor_override)
    sizes = []
    for size, k, s, p, out in zip(g.in_hw, g.k, g.stride, g.pad, g.out_hw):
        start = np.arange(out) * s - p
        end = np.minimum(start + k, size + p)
        if count_include_pad:
            sizes.append(end - start)
        else:
            sizes.append(np.minimum(end, size) - np.maximum(start, 0))
    div = sizes[0][:, None] * sizes[1][None, :]
    if (div == div.flat[0]).all():
        return dtype.type(1.0 / div.flat[0])
    return xp.asarray(1.0 / div, dtype=dtype)


def _window_sum(x: Any, g: _PoolGeom) -> Any:
    """Sum of each window: one strided add per kernel offset."""
    kh, kw = g.k
    win = _windows(_padded(x, g, 0), g)
    out = win[..., 0, 0].copy()
    for k in range(1, kh * kw):
        out += win[..., k // kw, k % kw]
    return out


def _window_sum_adj(gy: Any, g: _PoolGeom) -> Any:
    """The adjoint of _window_sum: each window receives its output cell's value."""
    n, c = gy.shape[:2]
    (h, w), (ho, wo), (kh, kw) = g.in_hw, g.out_hw, g.k
    hp, wp = g.padded_hw()
    (sh, sw), (ph, pw), (dh, dw) = g.stride, g.pad, g.dilation
    disjoint = sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1
    # Windows that tile the padded input exactly write every cell: no zero fill needed.
    tiled = disjoint and (ho * sh, wo * sw) == (hp, wp) and (sh, sw) == (kh, kw)
    out = (xp.empty if tiled else xp.zeros)((n, c, hp, wp), dtype=gy.dtype)
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            cols = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
            if disjoint:
                out[:, :, rows, cols] = gy
            else:
                out[:, :, rows, cols] += gy
    return out[:, :, ph : ph + h, pw : pw + w]


class _AvgPool(Function):
    """y = (window sums of x) * inv: a linear map; its backward is _AvgPoolAdj."""

    def __init__(self, geom: _PoolGeom, inv: Any) -> None:
        self.geom, self.inv = geom, inv

    def forward(self, x):
        y = _window_sum(x, self.geom)
        y *= self.inv
        return y

    def backward(self, gy):
        return _AvgPoolAdj(self.geom, self.inv)(gy)


class _AvgPoolAdj(Function):
    """The adjoint of _AvgPool: spread gy * inv back over each window."""

    def __init__(self, geom: _PoolGeom, inv: Any) -> None:
        self.geom, self.inv = geom, inv

    def forward(self, gy):
        return _window_sum_adj(gy * self.inv, self.geom)

    def backward(self, gg):
        return _AvgPool(self.geom, self.inv)(gg)


def avg_pool2d(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """Average pooling, like ``torch.nn.functional.avg_pool2d``.

    Args:
        input: (N, C, H, W) or (C, H, W).
        kernel_size, stride (default kernel_size), padding (zeros, at most
            half the kernel): int or (h, w).
        ceil_mode: round the output size up.
        count_include_pad: count padded zeros in the divisor (the part of a
            ceil_mode window past the padding is never counted).
        divisor_override: divide every sum by this instead.

    Returns:
        (N, C, Ho, Wo) window means.
    """
    op = "avg_pool2d"
    x = as_tensor(input)
    if not _batched(op, x):
        out = avg_pool2d(
            unsqueeze(x, 0),
            kernel_size,
            stride,
            padding,
            ceil_mode,
            count_include_pad,
            divisor_override,
        )
        return squeeze(out, 0)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point input, got {x.dtype}")
    g = _pool_geom(op, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise ValueError(f"{op}: divisor_override must be non-zero")
    inv = _avg_divisor(g, count_include_pad, divisor_override, x.dtype)
    return _AvgPool(g, inv)(x)


def _adaptive_matrix(size: int, out: int, dtype: Any) -> Any:
    """(out, size) averaging matrix over PyTorch's adaptive bins [floor(i*s/o), ceil((i+1)*s/o))."""
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    j = np.arange(size)
    m = (j[None, :] >= start[:, None]) & (j[None, :] < end[:, None])
    return xp.asarray(m / (end - start)[:, None], dtype=dtype)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Tensor:  # noqa: A002
    """Adaptive average pooling, like ``torch.nn.functional.adaptive_avg_pool2d``.

    Args:
        input: (N, C, H, W) or (C, H, W).
        output_size: int or (h, w); None keeps that input size.

    Returns:
        (N, C, h, w): output cell i averages rows floor(i*H/h) to ceil((i+1)*H/h).
    """
    op = "adaptive_avg_pool2d"
    x = as_tensor(input)
    if not _batched(op, x):
        return squeeze(adaptive_avg_pool2d(unsqueeze(x, 0), output_size), 0)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point input, got {x.dtype}")
    h, w = x.shape[-2:]
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        oh = h if output_size[0] is None else output_size[0]
        ow = w if output_size[1] is None else output_size[1]
        oh, ow = _pair((oh, ow), "output_size", op)
    else:
        oh, ow = _pair(output_size, "output_size", op)
    if oh < 1 or ow < 1:
        raise ValueError(f"{op}: output_size must be positive, got {(oh, ow)}")
    if h % oh == 0 and w % ow == 0:
        return avg_pool2d(x, (h // oh, w // ow))
    y = x
    if ow != w:
        y = matmul(y, _wrap(_adaptive_matrix(w, ow, x.dtype).T))
    if oh != h:
        y = matmul(_wrap(_adaptive_matrix(h, oh, x.dtype)), y)
    return y


# -------------------------------------------------------------- resizing
class _Repeat2d(Function):
    """Nearest upsampling by integer factors: each pixel becomes an (fh, fw) block."""

    def __init__(self, fh: int, fw: int) -> None:
        self.fh, self.fw = fh, fw

    def forward(self, x):
        n, c, h, w = x.shape
        fh, fw = self.fh, self.fw
        out = xp.empty((n, c, h * fh, w * fw), dtype=x.dtype)
        # One strided copy per block offset (a broadcast + reshape copies far slower).
        for i in range(fh):
            for j in range(fw):
                out[:, :, i::fh, j::fw] = x
        return out

    def backward(self, gy):
        return _BlockSum2d(self.fh, self.fw)(gy)


class _BlockSum2d(Function):
    """Sum over (fh, fw) blocks: the adjoint of _Repeat2d."""

    def __init__(self, fh: int, fw: int) -> None:
        self.fh, self.fw = fh, fw

    def forward(self, x):
        fh, fw = self.fh, self.fw
        out = x[:, :, ::fh, ::fw].copy()
        for k in range(1, fh * fw):
            out += x[:, :, k // fw :: fh, k % fw :: fw]
        return out

    def backward(self, gy):
        return _Repeat2d(self.fh, self.fw)(gy)


def _src_scale(size: int, out: int, scale: float | None, align_corners: bool, dt: Any) -> Any:
    """PyTorch's source-index scale, in the arithmetic of its kernels (dtype dt)."""
    if align_corners:
        return dt.type((size - 1) / (out - 1)) if out > 1 else dt.type(0)
    if scale is not None and scale > 0:
        return dt.type(1.0 / scale)
    return dt.type(size) / dt.type(out)


def _resize_matrix(
    mode: str, size: int, out: int, scale: float | None, align_corners: bool, dtype: Any
) -> Any:
    """(out, size) matrix M such that resizing one axis is M @ x along it."""
    dst = np.arange(out)
    if mode in ("nearest", "nearest-exact"):
        # PyTorch computes nearest indices in float32 whatever the input dtype.
        f32 = np.dtype(np.float32)
        sc = _src_scale(size, out, scale, False, f32)
        pos = dst.astype(np.float32) + (np.float32(0.5) if mode == "nearest-exact" else 0)
        src = np.minimum(np.floor(pos * sc).astype(np.int64), size - 1)
        if mode == "nearest" and out == size:
            src = dst
        elif mode == "nearest" and out == 2 * size:
            src = dst // 2
        m = np.zeros((out, size))
        m[dst, src] = 1
        return xp.asarray(m, dtype=dtype)
    dt = np.dtype(dtype)
    sc = _src_scale(size, out, scale, align_corners, dt)
    d = dst.astype(dt)
    src = sc * d if align_corners else np.maximum(sc * (d + dt.type(0.5)) - dt.type(0.5), 0)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    i1 = np.minimum(i0 + 1, size - 1)
    lam = src - i0
    m = np.zeros((out, size), dtype=dt)
    np.add.at(m, (dst, i0), 1 - lam)
    np.add.at(m, (dst, i1), lam)
    return xp.asarray(m)


def _nearest_factor(size: int, out: int, scale: float | None) -> int | None:
    """The integer factor f when nearest resizing is exactly pixel repetition."""
    if out % size:
        return None
    f = out // size
    m = _resize_matrix("nearest", size, out, scale, False, np.float64)
    ok = bool((xp.argmax(m, axis=1) == xp.arange(out) // f).all())
    return f if ok else None


_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "area")


def interpolate(
    input: Any,  # noqa: A002 - PyTorch's name
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize, like ``torch.nn.functional.interpolate``.

    Args:
        input: (N, C, L) for 'nearest', 'nearest-exact', 'linear', 'area';
            (N, C, H, W) for 'nearest', 'nearest-exact', 'bilinear', 'area'.
        size: output spatial size (int or tuple), or
        scale_factor: multiplier(s); the output size is floor(in * scale)
            and, unless ``recompute_scale_factor``, 1/scale maps output
            to source coordinates (as in PyTorch).
        align_corners: for 'linear'/'bilinear' (default False).

    Returns:
        (N, C, *size). Every mode is a linear map of the input, so gradients
        of every order are exact.
    """
    op = "interpolate"
    x = as_tensor(input)
    if mode not in _MODES:
        raise ValueError(f"{op}: mode {mode!r} is not supported; use one of {_MODES}")
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not supported")
    nsp = x.ndim - 2
    if nsp not in (1, 2):
        raise ValueError(
            f"{op}: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, got {_shape(x)}"
        )
    if (mode == "linear" and nsp != 1) or (mode == "bilinear" and nsp != 2):
        raise ValueError(f"{op}: mode {mode!r} does not take a {x.ndim}-D input {_shape(x)}")
    if align_corners is not None and mode not in ("linear", "bilinear"):
        raise ValueError(f"{op}: align_corners can only be set with 'linear' or 'bilinear'")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point input, got {x.dtype}")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    in_sz = tuple(x.shape[2:])

    def per_dim(v: Any, name: str) -> tuple[Any, ...]:
        vs = tuple(v) if isinstance(v, (tuple, list)) else (v,) * nsp
        if len(vs) != nsp:
            raise ValueError(f"{op}: {name} {v!r} should have {nsp} entries for {_shape(x)}")
        return vs

    if size is not None:
        out_sz = tuple(int(s) for s in per_dim(size, "size"))
        scales: tuple[Any, ...] = (None,) * nsp
    else:
        sf = tuple(float(s) for s in per_dim(scale_factor, "scale_factor"))
        out_sz = tuple(int(np.floor(n * s)) for n, s in zip(in_sz, sf))
        scales = (None,) * nsp if recompute_scale_factor else sf
    if min(out_sz) < 1:
        raise ValueError(f"{op}: output size {out_sz} for input {_shape(x)} must be positive")
    if mode == "area":
        if nsp == 1:
            return squeeze(adaptive_avg_pool2d(unsqueeze(x, 2), (1, out_sz[0])), 2)
        return adaptive_avg_pool2d(x, out_sz)
    if mode == "nearest" and nsp == 2:
        fs = [_nearest_factor(n, o, s) for n, o, s in zip(in_sz, out_sz, scales)]
        if None not in fs:
            if fs == [1, 1]:
                return x
            return _Repeat2d(fs[0], fs[1])(x)
    ac = bool(align_corners)

    def identity(d: int) -> bool:
        # PyTorch copies an axis whose size is unchanged, except nearest-exact
        # with a scale_factor, whose 1/scale still moves the sample points.
        return in_sz[d] == out_sz[d] and (mode != "nearest-exact" or scales[d] is None)

    y = x
    if not identity(-1):
        mw = _resize_matrix(mode, in_sz[-1], out_sz[-1], scales[-1], ac, x.dtype)
        y = matmul(y, _wrap(mw.T))
    if nsp == 2 and not identity(0):
        mh = _resize_matrix(mode, in_sz[0], out_sz[0], scales[0], ac, x.dtype)
        y = matmul(_wrap(mh), y)
    return y


def upsample(
    input: Any,  # noqa: A002 - PyTorch's name
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    """Same as :func:`interpolate` (PyTorch's older name)."""
    return interpolate(input, size, scale_factor, mode, align_corners)
