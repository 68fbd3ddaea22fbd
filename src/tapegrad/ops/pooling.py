"""2-D pooling: max, average and adaptive average pooling (NCHW, PyTorch's arguments).

Max pooling's backward scatters the gradient to the argmax positions with a
Function whose backward gathers (and the other way round); when the windows
tile a channels-last input, both the pool and its scatter run as compiled
loops where Numba is on (compiled.py), with the same results. Average pooling and
adaptive average pooling are linear maps; their backward is the adjoint map,
built from Functions that are each other's backward or from matrix products
with constant matrices.
"""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..backend import xp
from ..tensor import Tensor, _wrap, as_tensor
from .compiled import kernels_for
from .linalg import matmul
from .shape import squeeze, unsqueeze
from .spatial_args import _batched, _pair, _shape

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]

_as_strided = xp.lib.stride_tricks.as_strided


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


class _ScatterFunction(Function):
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
        return _GatherFunction(self.pos, self.in_shapes[0], self.unique)(gg)


class _GatherFunction(Function):
    """Elements of x at flat positions ``pos``, in ``shape``: the adjoint of _ScatterFunction."""

    def __init__(self, pos: Any, shape: tuple[int, ...], unique: bool) -> None:
        self.pos, self.shape, self.unique = pos, shape, unique

    def forward(self, x):
        return x.reshape(-1)[self.pos].reshape(self.shape)

    def backward(self, g):
        return _ScatterFunction(self.pos, self.in_shapes[0], self.unique)(g)


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


def _nhwc_view(a: Any) -> Any:
    """a (N, C, H, W) as a C-contiguous (N, H, W, C) view, or None when its memory is not."""
    v = a.transpose(0, 2, 3, 1)
    return v if v.flags.c_contiguous else None


def _memory_order(a: Any) -> tuple[int, ...]:
    """a's axes from the outermost in memory to the innermost (ties keep axis order)."""
    return tuple(sorted(range(a.ndim), key=lambda i: (-a.strides[i], i)))


class _TileScatterFunction(Function):
    """Tiled max pool's input gradient: each window's value goes to its argmax cell.

    ``arg`` (N, C, Ho, Wo, uint8) holds the kernel offset of each window's maximum.
    """

    def __init__(self, arg: Any, geom: _PoolGeom, shape: tuple[int, ...]) -> None:
        self.arg, self.geom, self.shape = arg, geom, shape

    def forward(self, gy):
        (ho, wo), (kh, kw) = self.geom.out_hw, self.geom.k
        covered = self.shape[2:] == (ho * kh, wo * kw)
        # The gradient takes the input's memory order (arg has it: channels-last
        # after a convolution); one pass to put gy in that order beats mixed
        # orders in each pass below.
        perm = _memory_order(self.arg)
        out = (xp.empty if covered else xp.zeros)([self.shape[i] for i in perm], dtype=gy.dtype)
        back = tuple(int(i) for i in np.argsort(perm))
        out = out.transpose(back)
        if _memory_order(gy) != perm:
            gy = xp.ascontiguousarray(gy.transpose(perm)).transpose(back)
        # gy * 0 would put NaN beside an infinite gradient; masked copies are
        # exact there, and slow, so they are kept for that case.
        exact = not xp.isfinite(gy).all()
        nb = kernels_for(gy)
        views = [_nhwc_view(a) for a in (gy, self.arg, out)]
        if nb is not None and all(v is not None for v in views):
            nb.maxpool_scatter_nhwc(*views, kh, kw, exact)
            return out
        view = _tile_view(out, self.geom, writeable=True)
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
        return _TileGatherFunction(self.arg, self.geom)(gg)


class _TileGatherFunction(Function):
    """The adjoint of :class:`_TileScatterFunction`: each window's value at its argmax cell."""

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
        return _TileScatterFunction(self.arg, self.geom, self.in_shapes[0])(g)


class MaxPool2dFunction(Function):
    """Max over windows; remembers the argmax (first maximum in row-major window order)."""

    def __init__(self, geom: _PoolGeom, want_index: bool) -> None:
        self.geom, self.want_index = geom, want_index
        self.arg: Any = None

    def forward(self, x: Any) -> Any:
        """Window maxima: (N, C, H, W) -> (N, C, Ho, Wo); keeps the argmax if asked."""
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
        nb, xn = kernels_for(x), _nhwc_view(x)
        if nb is not None and xn is not None:
            best = xp.empty((x.shape[0], *g.out_hw, x.shape[1]), dtype=x.dtype)
            arg = xp.empty(best.shape, dtype=xp.uint8)
            nb.maxpool_tiled_nhwc(xn, best, arg, kh, kw)
            if self.want_index:
                self.arg = arg.transpose(0, 3, 1, 2)
            return best.transpose(0, 3, 1, 2)
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

    def backward(self, gy: Any) -> Any:
        """dL/dx: each gy value at its window's argmax, summed where windows overlap."""
        g = self.geom
        if self.arg.dtype == xp.uint8:  # the tiled path made it
            return _TileScatterFunction(self.arg, g, self.in_shapes[0])(gy)
        n, c, h, w = self.in_shapes[0]
        plane = xp.arange(n * c, dtype=xp.int64).reshape(n, c, 1, 1) * (h * w)
        pos = (plane + self.index()).reshape(-1)
        (kh, kw), (sh, sw), (dh, dw) = g.k, g.stride, g.dilation
        unique = sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1
        return _ScatterFunction(pos, (n, c, h, w), unique)(gy)


# Overloads only tell a type checker that return_indices=True gives a pair.
@overload
def max_pool2d(
    input: Any,  # noqa: A002
    kernel_size: Any,
    stride: Any = ...,
    padding: Any = ...,
    dilation: Any = ...,
    ceil_mode: bool = ...,
    return_indices: Literal[False] = ...,
) -> Tensor: ...
@overload
def max_pool2d(
    input: Any,  # noqa: A002
    kernel_size: Any,
    stride: Any = ...,
    padding: Any = ...,
    dilation: Any = ...,
    ceil_mode: bool = ...,
    *,
    return_indices: Literal[True],
) -> tuple[Tensor, Tensor]: ...
@overload
def max_pool2d(
    input: Any,  # noqa: A002
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    return_indices: bool,
) -> Tensor | tuple[Tensor, Tensor]: ...
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
        if isinstance(out, tuple):  # return_indices
            return squeeze(out[0], 0), squeeze(out[1], 0)
        return squeeze(out, 0)
    g = _pool_geom(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    want = bool(return_indices) or (state.enabled and x.requires_grad)
    fn = MaxPool2dFunction(g, want)
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


class AvgPool2dFunction(Function):
    """y = (window sums of x) * inv: a linear map; its backward is _AvgPoolAdjFunction."""

    def __init__(self, geom: _PoolGeom, inv: Any) -> None:
        self.geom, self.inv = geom, inv

    def forward(self, x: Any) -> Any:
        """Window sums times ``inv``: (N, C, H, W) -> (N, C, Ho, Wo)."""
        y = _window_sum(x, self.geom)
        y *= self.inv
        return y

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy * inv spread over each window."""
        return _AvgPoolAdjFunction(self.geom, self.inv)(gy)


class _AvgPoolAdjFunction(Function):
    """The adjoint of AvgPool2dFunction: spread gy * inv back over each window."""

    def __init__(self, geom: _PoolGeom, inv: Any) -> None:
        self.geom, self.inv = geom, inv

    def forward(self, gy):
        return _window_sum_adj(gy * self.inv, self.geom)

    def backward(self, gg):
        return AvgPool2dFunction(self.geom, self.inv)(gg)


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
    return AvgPool2dFunction(g, inv)(x)


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
