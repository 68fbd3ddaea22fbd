"""Array kernels of 2-D convolution: im2col, col2im and the three matrix-product forms.

All take and return NumPy arrays (no graph). A convolution is computed by
copying the input's sliding windows into a column matrix (im2col) and one
matrix product with the weight; its adjoint in the input (conv_transpose2d,
and the input gradient of conv2d) is one matrix product into columns, then one
strided add per kernel offset back onto the image (col2im); the weight
gradient is a matrix product of the output gradient with the columns.

Two layouts: with many input channels the columns are built channels-last
(NHWC), where every kernel offset's copy moves runs of C contiguous values and
the products read the columns without a transpose; with few channels the
columns are built channel-major, (C*kH*kW, N*Ho*Wo), where the runs are image
rows. Both process the batch in chunks whose columns stay in the CPU's cache.

The channels-last im2col and col2im run as compiled loops (numba_kernels.py,
chosen by compiled.py) when Numba is installed, else as one NumPy slice copy
or add per kernel offset; both give bit-identical results.
"""

from __future__ import annotations

from typing import Any

from ..backend import xp
from .compiled import kernels_for

_as_strided = xp.lib.stride_tricks.as_strided


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

    Returns (N, O, Ho, Wo) in (N, Ho, Wo, O) memory order without groups (the
    product of the transposed columns with the transposed weight writes it
    directly), as the channels-last kernels do, so the layers that follow see
    one layout; grouped, in (O, N, Ho, Wo) order. NumPy's elementwise ops keep
    the order. With ``keep`` (a list), the column matrix is appended to it for
    the weight gradient, when the batch fitted in one chunk.
    """
    if _use_nhwc(x.shape[1], g):
        return _conv_fwd_nhwc(x, w, b, g)
    n = x.shape[0]
    o = w.shape[0]
    grp = g.groups
    ho, wo = g.out_hw
    span = ho * wo
    chunks = _batch_chunks(n, x.shape[1] * g.k[0] * g.k[1] * span)
    dtype = xp.result_type(x.dtype, w.dtype)
    if grp == 1:
        y = xp.empty((n * span, o), dtype=dtype)
    else:
        y = xp.empty((o, n * span), dtype=dtype)
    for sl in chunks:
        cols = _im2col(x[sl], g)
        if keep is not None and len(chunks) == 1:
            keep.append(cols)
        cs = slice(sl.start * span, sl.stop * span)
        if grp == 1:
            xp.matmul(cols.T, w.reshape(o, -1).T, out=y[cs])
        else:
            xp.matmul(
                w.reshape(grp, o // grp, -1),
                cols.reshape(grp, -1, cols.shape[1]),
                out=y.reshape(grp, o // grp, -1)[:, :, cs],
            )
    if grp == 1:
        if b is not None:
            y += b
        return y.reshape(n, ho, wo, o).transpose(0, 3, 1, 2)
    if b is not None:
        y += b[:, None]
    return y.reshape(o, n, ho, wo).transpose(1, 0, 2, 3)


def _by_channel(gy: Any) -> Any:
    """gy (N, O, Ho, Wo) as the (O, N*Ho*Wo) matrix, columns in (n, ho, wo) order.

    A view when gy's memory is (N, Ho, Wo, O) or (O, N, Ho, Wo) ordered, else a copy.
    """
    o = gy.shape[1]
    v = gy.transpose(0, 2, 3, 1)
    if v.flags.c_contiguous:
        return v.reshape(-1, o).T
    return gy.transpose(1, 0, 2, 3).reshape(o, -1)


def _conv_adj(gy: Any, w: Any, b: Any, g: _ConvGeom) -> Any:
    """The adjoint of conv2d in its input (= conv_transpose2d): gy (N, O, Ho, Wo) -> (N, C, H, W).

    A matrix product gives every kernel offset's contribution (columns), then
    kH*kW strided adds put them back on the padded image (col2im). Large
    problems are done in chunks of channels (of samples when grouped), so the
    columns stay within _COLS_MAX. Returns a strided view of a padded buffer.
    """
    n, o, ho, wo = gy.shape
    grp = g.groups
    c = w.shape[1] * grp
    if _use_nhwc(c, g):
        return _conv_adj_nhwc(gy, w, b, g)
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
        gy_t = _by_channel(gy)
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
    if _use_nhwc(x.shape[1], g):
        return _conv_wgrad_nhwc(x, gy, g)
    n = x.shape[0]
    o = gy.shape[1]
    grp = g.groups
    cg = x.shape[1] // grp
    kh, kw = g.k
    span = g.out_hw[0] * g.out_hw[1]
    gy_t = _by_channel(gy)
    if cols is not None:
        chunks = [slice(0, n)]
    else:
        chunks = _batch_chunks(n, x.shape[1] * kh * kw * span)
    gw: Any = None
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


# ------------------------------------------------ channels-last (NHWC) kernels
#: Fewest input channels for which the channels-last kernels are used: each
#: kernel offset's copy then moves runs of C contiguous values. With fewer
#: channels the runs are too short and the channel-major kernels above win.
_NHWC_MIN_C = 8
#: Most elements of one chunk's column matrix in the channels-last kernels
#: (1 MiB in float32): the columns of a chunk of about 8 images stay in the L2
#: cache between the copy that writes them and the product that reads them.
_NHWC_COLS = 1 << 18


def _use_nhwc(c: int, g: _ConvGeom) -> bool:
    """True when a convolution with ``c`` input channels runs the channels-last kernels."""
    return g.groups == 1 and c >= _NHWC_MIN_C


def _nhwc(x: Any) -> Any:
    """x (N, C, H, W) as a C-contiguous (N, H, W, C) array: a view when its memory already is."""
    v = x.transpose(0, 2, 3, 1)
    return v if v.flags.c_contiguous else xp.ascontiguousarray(v)


def _chunk_len(n: int, per_sample: int) -> int:
    """Samples per chunk so that a chunk's columns hold at most _NHWC_COLS elements."""
    return max(1, min(n, _NHWC_COLS // max(per_sample, 1)))


def _weight_matrix(w: Any) -> Any:
    """w (O, C, kH, kW) as the (kH*kW*C, O) matrix of the channels-last columns (a copy)."""
    o = w.shape[0]
    return xp.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(-1, o)


def _offsets(g: _ConvGeom) -> list[tuple[int, int, slice, slice]]:
    """(i, j, rows, cols) per kernel offset: the padded-input slices that offset reads."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = g.k, g.stride, g.dilation, g.out_hw
    return [
        (
            i,
            j,
            slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
            slice(j * dw, j * dw + sw * (wo - 1) + 1, sw),
        )
        for i in range(kh)
        for j in range(kw)
    ]


class _NhwcCols:
    """Builds the channels-last columns (m, Ho, Wo, kH, kW, C) of chunks of x (N, H, W, C).

    The padded copy of a chunk and the column buffer are allocated once and
    reused for every chunk; the padding border is written once and stays zero.
    The compiled kernel, when on, reads x directly and needs no padded copy.
    """

    def __init__(self, xn: Any, g: _ConvGeom, m: int) -> None:
        n, h, w, c = xn.shape
        pt, pb, pl, pr = g.pads
        (kh, kw), (ho, wo) = g.k, g.out_hw
        self.xn, self.g, self.offsets = xn, g, _offsets(g)
        self.nb = kernels_for(xn)
        self.pad = None
        if g.pads != (0, 0, 0, 0) and self.nb is None:
            self.pad = xp.zeros((m, h + pt + pb, w + pl + pr, c), dtype=xn.dtype)
        self.cols = xp.empty((m, ho, wo, kh, kw, c), dtype=xn.dtype)

    def __call__(self, s0: int, s1: int) -> Any:
        """Columns of samples [s0, s1) as a (k*Ho*Wo, kH*kW*C) matrix (a view of the buffer)."""
        k = s1 - s0
        src = self.xn[s0:s1]
        cols = self.cols[:k]
        if self.nb is not None:
            g = self.g
            self.nb.im2col_nhwc(src, cols, *g.stride, *g.dilation, g.pads[0], g.pads[2])
            return cols.reshape(k * cols.shape[1] * cols.shape[2], -1)
        if self.pad is not None:
            pt, _, pl, _ = self.g.pads
            h, w = src.shape[1:3]
            self.pad[:k, pt : pt + h, pl : pl + w] = src
            src = self.pad[:k]
        for i, j, rows, cs in self.offsets:
            cols[:, :, :, i, j] = src[:, rows, cs]
        return cols.reshape(k * cols.shape[1] * cols.shape[2], -1)


def _conv_fwd_nhwc(x: Any, w: Any, b: Any, g: _ConvGeom) -> Any:
    """conv2d on arrays, channels-last: returns (N, O, Ho, Wo) in (N, Ho, Wo, O) memory."""
    n = x.shape[0]
    o = w.shape[0]
    ho, wo = g.out_hw
    xn = _nhwc(x)
    wm = _weight_matrix(w)
    y = xp.empty((n, ho, wo, o), dtype=xp.result_type(x.dtype, w.dtype))
    m = _chunk_len(n, ho * wo * wm.shape[0])
    cols = _NhwcCols(xn, g, m)
    for s0 in range(0, n, m):
        s1 = min(n, s0 + m)
        xp.matmul(cols(s0, s1), wm, out=y[s0:s1].reshape(-1, o))
    if b is not None:
        y += b
    return y.transpose(0, 3, 1, 2)


def _conv_adj_nhwc(gy: Any, w: Any, b: Any, g: _ConvGeom) -> Any:
    """The adjoint of conv2d in its input, channels-last: gy (N, O, Ho, Wo) -> (N, C, H, W).

    Per chunk of samples: one product gives the columns, then one add per
    kernel offset (col2im) onto a zeroed padded buffer whose interior is copied
    to the output. Returns (N, C, H, W) in (N, H, W, C) memory.
    """
    n, o, ho, wo = gy.shape
    c = w.shape[1]
    kh, kw = g.k
    h, w_ = g.in_hw
    pt, pb, pl, pr = g.pads
    gyn = _nhwc(gy)
    wmt = _weight_matrix(w).T  # (O, kH*kW*C)
    dtype = xp.result_type(gy.dtype, w.dtype)
    out = xp.empty((n, h, w_, c), dtype=dtype)
    m = _chunk_len(n, ho * wo * wmt.shape[1])
    cols = xp.empty((m, ho, wo, kh, kw, c), dtype=dtype)
    nb = kernels_for(cols)
    if nb is None:
        pad = xp.empty((m, h + pt + pb, w_ + pl + pr, c), dtype=dtype)
    offsets = _offsets(g)
    for s0 in range(0, n, m):
        s1 = min(n, s0 + m)
        k = s1 - s0
        xp.matmul(gyn[s0:s1].reshape(-1, o), wmt, out=cols[:k].reshape(k * ho * wo, -1))
        if nb is not None:
            nb.col2im_nhwc(cols[:k], out[s0:s1], *g.stride, *g.dilation, pt, pl)
            continue
        tgt = pad[:k]
        tgt.fill(0)
        for i, j, rows, cs in offsets:
            tgt[:, rows, cs] += cols[:k, :, :, i, j]
        out[s0:s1] = tgt[:, pt : pt + h, pl : pl + w_]
    if b is not None:
        out += b
    return out.transpose(0, 3, 1, 2)


def _conv_wgrad_nhwc(x: Any, gy: Any, g: _ConvGeom) -> Any:
    """Gradient of conv2d in its weight, channels-last: (O, C, kH, kW), C-contiguous."""
    n, c = x.shape[:2]
    o = gy.shape[1]
    kh, kw = g.k
    ho, wo = g.out_hw
    gyn = _nhwc(gy)
    m = _chunk_len(n, ho * wo * kh * kw * c)
    cols = _NhwcCols(_nhwc(x), g, m)
    gw: Any = None
    part: Any = None
    for s0 in range(0, n, m):
        s1 = min(n, s0 + m)
        a, bm = cols(s0, s1).T, gyn[s0:s1].reshape(-1, o)
        if gw is None:
            gw = a @ bm
        else:
            part = xp.matmul(a, bm, out=part)
            gw += part
    return xp.ascontiguousarray(gw.reshape(kh, kw, c, o).transpose(3, 2, 0, 1))
