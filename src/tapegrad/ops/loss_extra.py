"""Robust regression losses and the KL divergence: ``smooth_l1_loss``,
``huber_loss``, ``kl_div``.

Written in differentiable tapegrad ops, so gradients of every order (for the
input, and for the target where PyTorch gives it one) follow.
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor, as_tensor
from .elementwise import abs as _abs
from .elementwise import exp, log, where
from .reduce import mean
from .reduce import sum as _sum

__all__ = ["smooth_l1_loss", "huber_loss", "kl_div"]


def _reduce(loss: Tensor, reduction: str, op: str, batch: int | None = None) -> Tensor:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return _sum(loss)
    if reduction == "mean":
        return mean(loss)
    if reduction == "batchmean" and batch is not None:
        return _sum(loss) / batch
    allowed = "'none', 'mean', 'sum'" + (", 'batchmean'" if batch is not None else "")
    raise ValueError(f"{op}: reduction must be one of {allowed}, got {reduction!r}")


def _pair(op: str, input: Any, target: Any) -> tuple[Tensor, Tensor]:  # noqa: A002
    x, t = as_tensor(input), as_tensor(target)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be a floating-point tensor, got {x.dtype}")
    if t.shape != x.shape:
        raise ValueError(
            f"{op}: target shape {tuple(t.shape)} does not match input shape {tuple(x.shape)}"
        )
    return x, t


def smooth_l1_loss(
    input: Any,  # noqa: A002 - PyTorch's name
    target: Any,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    x, t = _pair("smooth_l1_loss", input, target)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    d = x - t
    ad = _abs(d)
    loss = ad if beta == 0 else where(ad < beta, 0.5 * d * d / beta, ad - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(
    input: Any,  # noqa: A002 - PyTorch's name
    target: Any,
    reduction: str = "mean",
    delta: float = 1.0,
) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target)."""
    x, t = _pair("huber_loss", input, target)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    d = x - t
    ad = _abs(d)
    loss = where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))
    return _reduce(loss, reduction, "huber_loss")


def kl_div(
    input: Any,  # noqa: A002 - PyTorch's name
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Pointwise KL divergence target (log target - input); input holds log-probabilities.

    With ``log_target`` the target is given as log-probabilities too. Terms with
    target 0 are 0, and their gradient for the target is -input (PyTorch gives
    NaN there, where d(t log t)/dt is unbounded); a negative target gives NaN.
    ``reduction='batchmean'`` (the true KL divergence per sample) divides the
    sum by the batch size; ``'mean'`` divides by the element count.
    """
    if size_average is not None or reduce is not None:
        raise ValueError("kl_div: size_average and reduce are deprecated; use reduction")
    x, t = _pair("kl_div", input, target)
    if log_target:
        loss = exp(t) * (t - x)
    else:
        nz = t != 0
        # t log t with 0 at t == 0; the inner where keeps log's argument away from 0
        tlogt = where(nz, t * log(where(nz, t, 1.0)), 0.0)
        loss = tlogt - t * x
    batch = x.shape[0] if x.ndim else 1
    return _reduce(loss, reduction, "kl_div", batch)
