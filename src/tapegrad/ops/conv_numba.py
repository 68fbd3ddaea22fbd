"""Compiled im2col and col2im of the channels-last convolution kernels (optional: Numba).

These two data-movement loops are the only compiled code in tapegrad; every
derivative is still written once, in NumPy, in conv_kernels.py, which calls
them in place of its slice copies when Numba is installed (see
``conv_kernels.numba_status``). Both give bit-identical results to the NumPy
code they replace: im2col only copies, and col2im adds each input element's
contributions in the same kernel-offset order, starting from zero, in the
same dtype. They are compiled single-threaded, without fastmath, and cached
on disk, so only the first process on a machine pays the compile time.
"""

from __future__ import annotations

from typing import Any

import numba


def _jit(fn: Any) -> Any:
    """fn compiled by Numba in nopython mode, cached on disk where a cache folder is writable.

    Numba caches next to this file, or in the user's cache folder when the
    install folder is read-only; with neither writable it refuses to cache,
    and the kernel is then compiled in every process instead.
    """
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # pragma: no cover - no writable cache folder
        return numba.njit(nogil=True)(fn)


@_jit
def im2col_nhwc(src, cols, sh, sw, dh, dw, pt, pl):  # pragma: no cover - compiled
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
def _window(t, stride, n_out):  # pragma: no cover - compiled
    """The output o < n_out whose window starts at padded position t (o * stride == t), else -1."""
    if t < 0:
        return -1
    o = t // stride
    if o * stride != t or o >= n_out:
        return -1
    return o


@_jit
def col2im_nhwc(cols, out, sh, sw, dh, dw, pt, pl):  # pragma: no cover - compiled
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
