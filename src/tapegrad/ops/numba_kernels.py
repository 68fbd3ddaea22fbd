"""Compiled loops (optional: Numba): conv im2col/col2im, tiled max pool, channel sums,
Adam's update.

These loops are the only compiled code in tapegrad. They move data, pick
maxima, add columns and update Adam's state; every derivative is still
written once, in NumPy, in the modules that call them (conv_kernels.py,
pooling.py, namespace.py; optim/adam_kernel.py for Adam) in place of their
NumPy operations when compiled.py says so. Their results are
bit-identical to the NumPy code they replace: im2col and the pool's gradient
only copy (the pool's writes ``g * 0`` where NumPy's multiply does), and
col2im adds each input element's contributions in the same kernel-offset
order, starting from +0.0, in the same dtype. The channel sums add in
NumPy's order for a channels-last batch (from +0.0, one row after another),
in float64. Adam's update does per element the NumPy form's operations in
its order and precision. The max pool keeps NumPy's ``maximum`` rule (NaN wins; on equal
values the later window element is kept), which NumPy itself follows in its
SIMD loops; where a window's maximum is a zero held as both +0.0 and -0.0,
NumPy's scalar loop (on CPUs or array tails that use it) may keep the other
sign. They are compiled single-threaded, without fastmath, and cached on
disk, so only the first process on a machine pays the compile time.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np


def _jit(fn: Any, **options: Any) -> Any:
    """fn compiled by Numba in nopython mode (with ``options``, e.g. ``error_model``),
    cached on disk where a cache folder is writable.

    Numba caches next to this file, or in the user's cache folder when the
    install folder is read-only; with neither writable it refuses to cache,
    and the kernel is then compiled in every process instead.
    """
    try:
        return numba.njit(cache=True, nogil=True, **options)(fn)
    except RuntimeError:  # pragma: no cover - no writable cache folder
        return numba.njit(nogil=True, **options)(fn)


@_jit
def im2col_nhwc(
    src: Any, cols: Any, sh: int, sw: int, dh: int, dw: int, pt: int, pl: int
) -> None:  # pragma: no cover - compiled
    """Fill cols (k, Ho, Wo, kH, kW, C) with the windows of src (k, H, W, C).

    Row ``pt + ih`` of the zero-padded input is row ``ih`` of src; a window
    element outside src is zero. Returns nothing (cols is written in place).
    """
    k, h, w, c = src.shape
    ho, wo, kh, kw = cols.shape[1], cols.shape[2], cols.shape[3], cols.shape[4]
    for n in range(k):
        for oh in range(ho):
            for ow in range(wo):
                for i in range(kh):
                    ih = oh * sh + i * dh - pt
                    for j in range(kw):
                        iw = ow * sw + j * dw - pl
                        dst = cols[n, oh, ow, i, j]
                        if 0 <= ih < h and 0 <= iw < w:
                            s = src[n, ih, iw]
                            for ch in range(c):
                                dst[ch] = s[ch]
                        else:
                            for ch in range(c):
                                dst[ch] = 0


@_jit
def _window(t: int, stride: int, n_out: int) -> int:  # pragma: no cover - compiled
    """The output o < n_out whose window starts at padded position t (o * stride == t), else -1."""
    if t < 0:
        return -1
    o = t // stride
    if o * stride != t or o >= n_out:
        return -1
    return o


@_jit
def col2im_nhwc(
    cols: Any, out: Any, sh: int, sw: int, dh: int, dw: int, pt: int, pl: int
) -> None:  # pragma: no cover - compiled
    """Write into out (k, H, W, C) the sums of the columns cols (k, Ho, Wo, kH, kW, C).

    The adjoint of im2col_nhwc: each element starts from zero and adds its
    contributions in kernel-offset order (i, then j), as the NumPy col2im
    does with one add per offset; the padding border is never formed.
    """
    k, h, w, c = out.shape
    ho, wo, kh, kw = cols.shape[1], cols.shape[2], cols.shape[3], cols.shape[4]
    for n in range(k):
        for y in range(h):
            for x in range(w):
                acc = out[n, y, x]
                for ch in range(c):
                    acc[ch] = 0
                for i in range(kh):
                    oh = _window(y + pt - i * dh, sh, ho)
                    if oh < 0:
                        continue
                    for j in range(kw):
                        ow = _window(x + pl - j * dw, sw, wo)
                        if ow < 0:
                            continue
                        s = cols[n, oh, ow, i, j]
                        for ch in range(c):
                            acc[ch] += s[ch]


@_jit
def maxpool_tiled_nhwc(
    x: Any, best: Any, arg: Any, kh: int, kw: int
) -> None:  # pragma: no cover - compiled
    """Maxima best and argmax arg (uint8 offset i*kw + j) of x's kH x kW tiles.

    x (N, H, W, C); best and arg (N, Ho, Wo, C), written. The running maximum
    follows np.maximum(best, v): best is kept when greater or NaN, else v; arg
    is the first offset whose value equals the maximum (the last if none does).
    """
    n_, ho, wo, c = best.shape
    last = kh * kw - 1
    for n in range(n_):
        for oh in range(ho):
            for ow in range(wo):
                b = best[n, oh, ow]
                a = arg[n, oh, ow]
                s = x[n, oh * kh, ow * kw]
                for ch in range(c):
                    b[ch] = s[ch]
                for k in range(1, last + 1):
                    s = x[n, oh * kh + k // kw, ow * kw + k % kw]
                    for ch in range(c):
                        if not (b[ch] > s[ch] or b[ch] != b[ch]):
                            b[ch] = s[ch]
                for ch in range(c):
                    a[ch] = last
                for k in range(last - 1, -1, -1):
                    s = x[n, oh * kh + k // kw, ow * kw + k % kw]
                    for ch in range(c):
                        if s[ch] == b[ch]:
                            a[ch] = k


@_jit
def maxpool_scatter_nhwc(
    gy: Any, arg: Any, out: Any, kh: int, kw: int, exact: bool
) -> None:  # pragma: no cover - compiled
    """Write each tile of out (N, H, W, C) from gy (N, Ho, Wo, C): gy at offset arg, else zero.

    The zero is ``g * 0`` (signed like g), as NumPy's multiply by the hit mask
    gives, unless ``exact`` (some gy is not finite), when it is +0.0. Cells
    outside every tile are left as they are.
    """
    n_, ho, wo, c = gy.shape
    for n in range(n_):
        for oh in range(ho):
            for ow in range(wo):
                g = gy[n, oh, ow]
                a = arg[n, oh, ow]
                for k in range(kh * kw):
                    o = out[n, oh * kh + k // kw, ow * kw + k % kw]
                    for ch in range(c):
                        if a[ch] == k:
                            o[ch] = g[ch]
                        elif exact:
                            o[ch] = 0
                        else:
                            o[ch] = g[ch] * 0


@_jit
def channel_sums_f64(a: Any, out: Any) -> None:  # pragma: no cover - compiled
    """out[c] = the float64 sum of column c of a (R, C): +0.0, then row after row.

    The order NumPy's ``a.sum(axis=(0, 2, 3), dtype=float64)`` follows on a
    channels-last batch (its cast goes through a buffer, so the sums start
    from the identity +0.0, not from row 0), so the bits are the same.
    """
    r, c = a.shape
    for j in range(c):
        out[j] = 0.0
    for i in range(r):
        row = a[i]
        for j in range(c):
            out[j] += row[j]


def _adam_update(
    p: Any, g: Any, m: Any, v: Any, w: Any, wm1: Any, small: bool, b2: Any, omb2: Any,
    rbc2: Any, eps: Any, neg_step: Any,
) -> None:  # pragma: no cover - compiled  # fmt: skip
    """One Adam step over flat arrays, in place; the scalars have the arrays' dtype.

    Per element, the operations of the NumPy form (optim/adam.py) in its order:
    ``m += w * (g - m)`` (or ``m = g + (w - 1) * (g - m)`` for ``w >= 0.5``, as
    PyTorch's lerp), ``v = v * b2 + (g * g) * (1 - b2)``,
    ``p += (m * -step) / (sqrt(v) / sqrt(bc2) + eps)``.
    """
    for i in range(p.shape[0]):
        gi = g[i]
        d = gi - m[i]
        if small:
            mi = m[i] + d * w
        else:
            mi = gi + d * wm1
        vi = v[i] * b2 + (gi * gi) * omb2
        den = np.sqrt(vi) / rbc2 + eps
        p[i] = p[i] + (mi * neg_step) / den
        m[i] = mi
        v[i] = vi


# error_model="numpy": x / 0 gives inf as in NumPy, and the loop vectorizes (Numba's
# Python model tests every divisor and raises).
adam_update = _jit(_adam_update, error_model="numpy")


@_jit
def centered_square_sums_f64(a: Any, mean: Any, out: Any) -> None:  # pragma: no cover
    """out[c] = the float64 sum over rows of ``(a[:, c] - mean[c]) ** 2`` of a (R, C).

    The difference and its square are rounded in a's dtype, then added from +0.0
    row after row in float64: NumPy's ``y = x - mean``, ``y * y`` and its channel
    sum (:func:`channel_sums_f64`), in one pass without the two temporaries.
    """
    r, c = a.shape
    for j in range(c):
        out[j] = 0.0
    for i in range(r):
        row = a[i]
        for j in range(c):
            d = row[j] - mean[j]
            out[j] += d * d


@_jit
def normalize_rows(
    a: Any, mean: Any, inv: Any, w: Any, b: Any, has_w: bool, has_b: bool, out: Any
) -> None:  # pragma: no cover - compiled
    """out = ((a - mean) * inv) * w + b per column of a (R, C), each step rounded in
    a's dtype: batch norm's ``y = x - mean; y *= inv; y *= w; y += b`` in one pass."""
    r, c = a.shape
    for i in range(r):
        row = a[i]
        o = out[i]
        for j in range(c):
            y = (row[j] - mean[j]) * inv[j]
            if has_w:
                y = y * w[j]
            if has_b:
                y = y + b[j]
            o[j] = y
