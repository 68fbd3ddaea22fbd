"""Resizing: ``interpolate`` (nearest, nearest-exact, linear, bilinear, bicubic, area)
and ``upsample``.

Every mode is a linear map of the input: integer-factor nearest upsampling is
pixel repetition (its adjoint a block sum), the others are matrix products with
constant per-axis matrices, so gradients of every order are exact.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor, _wrap, as_tensor
from .linalg import matmul
from .pooling import adaptive_avg_pool2d
from .shape import squeeze, unsqueeze
from .spatial_args import _shape

__all__ = ["interpolate", "upsample"]


class _Repeat2dFunction(Function):
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
        return _BlockSum2dFunction(self.fh, self.fw)(gy)


class _BlockSum2dFunction(Function):
    """Sum over (fh, fw) blocks: the adjoint of _Repeat2dFunction."""

    def __init__(self, fh: int, fw: int) -> None:
        self.fh, self.fw = fh, fw

    def forward(self, x):
        fh, fw = self.fh, self.fw
        out = x[:, :, ::fh, ::fw].copy()
        for k in range(1, fh * fw):
            out += x[:, :, k // fw :: fh, k % fw :: fw]
        return out

    def backward(self, gy):
        return _Repeat2dFunction(self.fh, self.fw)(gy)


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
    if mode == "bicubic":
        return xp.asarray(_bicubic_matrix(size, out, sc, d, align_corners, dt))
    src = sc * d if align_corners else np.maximum(sc * (d + dt.type(0.5)) - dt.type(0.5), 0)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    i1 = np.minimum(i0 + 1, size - 1)
    lam = src - i0
    m = np.zeros((out, size), dtype=dt)
    np.add.at(m, (dst, i0), 1 - lam)
    np.add.at(m, (dst, i1), lam)
    return xp.asarray(m)


def _cubic_weights(t: Any, a: float = -0.75) -> list[Any]:
    """Keys' cubic convolution weights (a = -0.75, as PyTorch) for taps at -1, 0, 1, 2."""

    def near(x: Any) -> Any:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: Any) -> Any:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _bicubic_matrix(size: int, out: int, sc: Any, d: Any, align_corners: bool, dt: Any) -> Any:
    """(out, size) bicubic matrix; taps beyond the edges repeat the edge, as in PyTorch."""
    # unlike linear modes, PyTorch does not clamp a negative source coordinate here
    src = sc * d if align_corners else sc * (d + dt.type(0.5)) - dt.type(0.5)
    i0 = np.floor(src).astype(np.int64)
    t = (src - i0).astype(dt)
    m = np.zeros((out, size), dtype=dt)
    rows = np.arange(out)
    for k, wk in zip(range(-1, 3), _cubic_weights(t)):
        np.add.at(m, (rows, np.clip(i0 + k, 0, size - 1)), wk)
    return m


def _nearest_factor(size: int, out: int, scale: float | None) -> int | None:
    """The integer factor f when nearest resizing is exactly pixel repetition."""
    if out % size:
        return None
    f = out // size
    m = _resize_matrix("nearest", size, out, scale, False, np.float64)
    ok = bool((xp.argmax(m, axis=1) == xp.arange(out) // f).all())
    return f if ok else None


_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "area")


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
            (N, C, H, W) for 'nearest', 'nearest-exact', 'bilinear', 'bicubic', 'area'.
        size: output spatial size (int or tuple), or
        scale_factor: multiplier(s); the output size is floor(in * scale)
            and, unless ``recompute_scale_factor``, 1/scale maps output
            to source coordinates (as in PyTorch).
        align_corners: for 'linear'/'bilinear'/'bicubic' (default False).

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
    if (mode == "linear" and nsp != 1) or (mode in ("bilinear", "bicubic") and nsp != 2):
        raise ValueError(f"{op}: mode {mode!r} does not take a {x.ndim}-D input {_shape(x)}")
    if align_corners is not None and mode not in ("linear", "bilinear", "bicubic"):
        raise ValueError(
            f"{op}: align_corners can only be set with 'linear', 'bilinear' or 'bicubic'"
        )
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
        f0, f1 = fs
        if f0 is not None and f1 is not None:
            if f0 == f1 == 1:
                return x
            return _Repeat2dFunction(f0, f1)(x)
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
