"""Image patches: ``unfold`` (im2col), ``fold`` (col2im), ``pixel_shuffle`` and
``pixel_unshuffle``.

``unfold`` and ``fold`` are each other's adjoint, so each one's backward is the
other: gradients of every order are exact. ``pixel_shuffle`` and its inverse
are a reshape, a permutation and a reshape.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor, as_tensor
from .shape import permute, reshape, squeeze, unsqueeze
from .spatial_args import _pair

__all__ = ["unfold", "fold", "pixel_shuffle", "pixel_unshuffle"]


class _Geom(NamedTuple):
    k: tuple[int, int]
    d: tuple[int, int]
    p: tuple[int, int]
    s: tuple[int, int]
    size: tuple[int, int]  # the image's (H, W)
    out: tuple[int, int]  # the number of block positions (Ho, Wo)


def _geom(op: str, size: Any, kernel_size: Any, dilation: Any, padding: Any, stride: Any) -> _Geom:
    k, d = _pair(kernel_size, "kernel_size", op), _pair(dilation, "dilation", op)
    p, s = _pair(padding, "padding", op), _pair(stride, "stride", op)
    if min(k) < 1 or min(d) < 1 or min(s) < 1 or min(p) < 0:
        raise ValueError(
            f"{op}: kernel_size {k}, dilation {d}, stride {s} must be positive "
            f"and padding {p} non-negative"
        )
    out = tuple(
        (n + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for n, kk, dd, pp, ss in zip(size, k, d, p, s)
    )
    if min(out) < 1:
        raise ValueError(
            f"{op}: kernel {k} (dilation {d}) does not fit a padded image of size "
            f"{tuple(size)} with padding {p}"
        )
    return _Geom(k, d, p, s, tuple(size), out)


def _window(g: _Geom, i: int, j: int) -> tuple[slice, slice]:
    """The padded-image positions block element (i, j) takes, for every block position."""
    (dh, dw), (sh, sw), (ho, wo) = g.d, g.s, g.out
    return (
        slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
        slice(j * dw, j * dw + sw * (wo - 1) + 1, sw),
    )


class UnfoldFunction(Function):
    """(N, C, H, W) -> (N, C*kh*kw, Ho*Wo)."""

    def __init__(self, g: _Geom) -> None:
        self.g = g

    def forward(self, x: Any) -> Any:
        """Sliding blocks of x: (N, C, H, W) -> (N, C*kh*kw, Ho*Wo)."""
        g = self.g
        (kh, kw), (ph, pw) = g.k, g.p
        n, c = x.shape[:2]
        xp_ = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
        cols = xp.empty((n, c, kh, kw) + g.out, dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                cols[:, :, i, j] = xp_[(slice(None), slice(None)) + _window(g, i, j)]
        return cols.reshape(n, c * kh * kw, -1)

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy folded back, overlapping blocks summed."""
        return FoldFunction(self.g)(gy)


class FoldFunction(Function):
    """(N, C*kh*kw, Ho*Wo) -> (N, C, H, W), summing overlapping values."""

    def __init__(self, g: _Geom) -> None:
        self.g = g

    def forward(self, cols: Any) -> Any:
        """Blocks back into an image: (N, C*kh*kw, Ho*Wo) -> (N, C, H, W), overlaps summed."""
        g = self.g
        (kh, kw), (ph, pw), (h, w) = g.k, g.p, g.size
        n = cols.shape[0]
        c = cols.shape[1] // (kh * kw)
        blocks = cols.reshape((n, c, kh, kw) + g.out)
        img = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
        for i in range(kh):
            for j in range(kw):
                img[(slice(None), slice(None)) + _window(g, i, j)] += blocks[:, :, i, j]
        return img[:, :, ph : ph + h, pw : pw + w].copy()

    def backward(self, gy: Any) -> Any:
        """dL/dcols: gy unfolded into blocks."""
        return UnfoldFunction(self.g)(gy)


def unfold(
    input: Any,  # noqa: A002 - PyTorch's name
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Tensor:
    """Sliding blocks of (N, C, H, W) as columns: (N, C*kh*kw, L), L the block count.

    Column l holds block l (row-major over block positions), its rows ordered by
    channel, then kernel row, then kernel column, as in ``torch.nn.functional.unfold``.
    An unbatched (C, H, W) gives (C*kh*kw, L).
    """
    op = "unfold"
    x = as_tensor(input)
    if x.ndim == 3:
        return squeeze(unfold(unsqueeze(x, 0), kernel_size, dilation, padding, stride), 0)
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 3-D or 4-D input, got shape {tuple(x.shape)}")
    return UnfoldFunction(_geom(op, x.shape[2:], kernel_size, dilation, padding, stride))(x)


def fold(
    input: Any,  # noqa: A002 - PyTorch's name
    output_size: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Tensor:
    """Columns (N, C*kh*kw, L) back to an image (N, C, *output_size), summing overlaps.

    The adjoint of :func:`unfold`; an unbatched (C*kh*kw, L) gives (C, H, W).
    """
    op = "fold"
    x = as_tensor(input)
    if x.ndim == 2:
        return squeeze(
            fold(unsqueeze(x, 0), output_size, kernel_size, dilation, padding, stride), 0
        )
    if x.ndim != 3:
        raise ValueError(f"{op}: expected a 2-D or 3-D input, got shape {tuple(x.shape)}")
    g = _geom(op, _pair(output_size, "output_size", op), kernel_size, dilation, padding, stride)
    kk = g.k[0] * g.k[1]
    if x.shape[1] % kk or x.shape[2] != g.out[0] * g.out[1]:
        raise ValueError(
            f"{op}: input of shape {tuple(x.shape)} does not fit: dim 1 must be divisible by "
            f"the kernel's {kk} elements and dim 2 must be the {g.out[0] * g.out[1]} blocks "
            f"of an output of size {g.size}"
        )
    return FoldFunction(g)(x)


def pixel_shuffle(input: Any, upscale_factor: int) -> Tensor:  # noqa: A002
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r), r = ``upscale_factor``."""
    x, r = as_tensor(input), int(upscale_factor)
    if x.ndim < 3 or x.shape[-3] % (r * r):
        raise ValueError(
            f"pixel_shuffle: input of shape {tuple(x.shape)} needs at least 3 dims and "
            f"channels divisible by upscale_factor**2 = {r * r}"
        )
    *lead, c, h, w = x.shape
    nb = len(lead)
    y = reshape(x, (*lead, c // (r * r), r, r, h, w))
    y = permute(y, *range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)
    return reshape(y, (*lead, c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Any, downscale_factor: int) -> Tensor:  # noqa: A002
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W): the inverse of :func:`pixel_shuffle`."""
    x, r = as_tensor(input), int(downscale_factor)
    if x.ndim < 3 or x.shape[-1] % r or x.shape[-2] % r:
        raise ValueError(
            f"pixel_unshuffle: input of shape {tuple(x.shape)} needs at least 3 dims and a "
            f"height and width divisible by downscale_factor = {r}"
        )
    *lead, c, h, w = x.shape
    nb = len(lead)
    y = reshape(x, (*lead, c, h // r, r, w // r, r))
    y = permute(y, *range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)
    return reshape(y, (*lead, c * r * r, h // r, w // r))
