"""Gradient clipping: ``clip_grad_norm_``, ``clip_grad_value_``, ``get_total_norm``,
``clip_grads_with_norm_``, with PyTorch's formulas.

They act in place on the raw arrays of ``p.grad`` (nothing is recorded) and
skip parameters whose ``grad`` is None.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ...backend import xp
from ...tensor import Tensor, _wrap

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Any]:
    return [p.grad._array for p in _as_list(parameters) if p.grad is not None]


def _vector_norm(a: Any, norm_type: float) -> Any:
    """The ``norm_type``-norm of ``a`` flattened, as a 0-d array of a's dtype."""
    a = a.reshape(-1)
    if norm_type == math.inf:
        return xp.abs(a).max() if a.size else xp.zeros((), a.dtype)
    if norm_type == -math.inf:
        return xp.abs(a).min() if a.size else xp.full((), math.inf, a.dtype)
    if norm_type == 2:
        return xp.sqrt(xp.dot(a, a))
    if norm_type == 1:
        return xp.abs(a).sum()
    if norm_type == 0:
        return (a != 0).sum().astype(a.dtype)
    p = a.dtype.type(norm_type)
    return (xp.abs(a) ** p).sum() ** (1 / p)


def get_total_norm(
    tensors: Tensor | Iterable[Tensor],
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` viewed as one vector (a 0-d Tensor).

    This is the norm of the vector of per-tensor norms, as in PyTorch.
    """
    arrays = [t._array for t in _as_list(tensors)]
    norm_type = float(norm_type)
    if not arrays:
        return _wrap(xp.zeros((), dtype=np.float32))
    dtype = np.result_type(*[a.dtype for a in arrays])
    norms = xp.stack([_vector_norm(a, norm_type).astype(dtype) for a in arrays])
    total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the gradients "
            "by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return _wrap(total)


def clip_grads_with_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    total_norm: Tensor | float,
    foreach: bool | None = None,
) -> None:
    """Scale every gradient by ``min(1, max_norm / (total_norm + 1e-6))``, in place."""
    tn = float(total_norm.item() if isinstance(total_norm, Tensor) else total_norm)
    coef = min(float(max_norm) / (tn + 1e-6), 1.0)
    # An infinite total norm gives coef 0 and NaN for infinite entries, as in PyTorch.
    with np.errstate(invalid="ignore"):
        for g in _grads(parameters):
            g *= g.dtype.type(coef)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Rescale gradients in place so that their joint ``norm_type``-norm is at most ``max_norm``.

    Every gradient is multiplied by ``min(1, max_norm / (total_norm + 1e-6))``.
    Returns the total norm before clipping (a 0-d Tensor). With
    ``error_if_nonfinite`` a NaN or infinite total norm raises a RuntimeError.
    """
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return _wrap(xp.zeros((), dtype=np.float32))
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``, in place."""
    c = float(clip_value)
    for g in _grads(parameters):
        np.clip(g, -c, c, out=g)
