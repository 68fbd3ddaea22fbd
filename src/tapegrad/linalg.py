"""``tapegrad.linalg``: norms under ``torch.linalg``'s names and signatures.

``vector_norm`` treats the chosen dims (all when None) as one flattened vector;
``matrix_norm`` takes two dims; ``norm`` is one or the other by PyTorch's rule:
with ``ord=None`` a 2-norm of the flattened dims, otherwise a vector norm over
one dim and a matrix norm over two (or over a 2-D input without ``dim``).
"""

from __future__ import annotations

import math
from typing import Any

from .ops.elementwise import abs as _abs
from .ops.elementwise import cast
from .ops.linalg import einsum, matmul
from .ops.reduce import amax, amin
from .ops.reduce import norm as _pnorm
from .ops.reduce import sum as _sum
from .tensor import Tensor, as_tensor

__all__ = ["norm", "vector_norm", "matrix_norm", "matmul", "einsum"]


def vector_norm(
    x: Tensor,
    ord: Any = 2,
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,  # noqa: A002
) -> Tensor:
    """The ``ord``-norm of x over ``dim`` (all elements when None).

    ``ord``: any number, ``inf`` (largest |x|), ``-inf`` (smallest), 0 (count of non-zeros).
    """
    x = as_tensor(x)
    if dtype is not None:
        x = cast(x, dtype)
    if isinstance(ord, str):
        raise ValueError(f"vector_norm: ord must be a number, got {ord!r}")
    return _pnorm(x, ord, dim, keepdim)


def matrix_norm(
    x: Tensor,
    ord: Any = "fro",
    dim: tuple[int, int] = (-2, -1),
    keepdim: bool = False,  # noqa: A002
) -> Tensor:
    """A matrix norm over the two dims ``dim``: ``'fro'``, 1, -1 (max/min column
    abs-sum), ``inf``, ``-inf`` (max/min row abs-sum).

    The spectral norms (2, -2, ``'nuc'``) need a singular-value decomposition,
    which tapegrad does not differentiate; they raise NotImplementedError.
    """
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_norm: needs at least 2 dims, got shape {tuple(x.shape)}")
    r, c = (d % x.ndim for d in dim)
    if r == c:
        raise ValueError(f"matrix_norm: dim {dim} must name two different dims")
    if ord == "fro":
        return _pnorm(x, 2, (r, c), keepdim)
    if ord in (1, -1, math.inf, -math.inf):
        # 1-norms sum over rows then pick a column; inf-norms the other way round
        over, pick = (r, c) if ord in (1, -1) else (c, r)
        s = _sum(_abs(x), over, keepdim=True)
        out = (amax if ord > 0 else amin)(s, pick, keepdim=True)
        return out if keepdim else _sum(out, (r, c))
    if ord in (2, -2, "nuc"):
        raise NotImplementedError(
            f"matrix_norm: ord={ord!r} needs singular values, which tapegrad does not compute; "
            "use 'fro', 1, -1, inf or -inf"
        )
    raise ValueError(f"matrix_norm: ord {ord!r} is not a matrix norm")


def norm(
    x: Tensor,
    ord: Any = None,
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,  # noqa: A002
) -> Tensor:
    """``torch.linalg.norm``: see the module docstring for which norm is taken."""
    x = as_tensor(x)
    if dtype is not None:
        x = cast(x, dtype)
    if ord is None:
        return _pnorm(x, 2, dim, keepdim)
    dims = (dim,) if isinstance(dim, int) else dim
    if dims is None:
        if x.ndim == 1:
            return vector_norm(x, ord, None, keepdim)
        if x.ndim == 2:
            return matrix_norm(x, ord, (-2, -1), keepdim)
        raise ValueError(
            f"norm: with ord={ord!r} and no dim the input must be 1-D or 2-D, got {tuple(x.shape)}"
        )
    if len(dims) == 1:
        return vector_norm(x, ord, dims[0], keepdim)
    if len(dims) == 2:
        return matrix_norm(x, ord, tuple(dims), keepdim)
    raise ValueError(f"norm: dim must be an int or two ints, got {dim!r}")
