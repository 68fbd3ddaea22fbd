"""Loss modules: thin Modules over the functions of :mod:`tapegrad.ops.loss`.

Every loss takes ``reduction`` (``'mean'``, the default, ``'sum'`` or
``'none'``). Class or element weights are registered as buffers (``weight``,
``pos_weight``), as in PyTorch, so they follow ``to(dtype)`` and appear in
``state_dict()`` when given.
"""

from __future__ import annotations

from typing import Any

from ..ops import loss as _loss
from ..ops import loss_extra as _loss_x
from ..tensor import Tensor, as_tensor
from .module import Module

__all__ = [
    "MSELoss",
    "L1Loss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "SmoothL1Loss",
    "HuberLoss",
    "KLDivLoss",
]

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {_REDUCTIONS}, got {reduction!r}"
            )
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.register_buffer("weight", None if weight is None else as_tensor(weight))


class MSELoss(_Loss):
    """Mean squared error ``(input - target)**2``; input and target have the same shape."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """``input`` and ``target`` of one shape -> the loss, reduced by ``reduction``."""
        return _loss.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``|input - target|``; input and target have the same shape."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """``input`` and ``target`` of one shape -> the loss, reduced by ``reduction``."""
        return _loss.l1_loss(input, target, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities ``input`` in [0, 1] against ``target``
    (same shape); ``weight`` rescales each element's loss (broadcastable)."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """``input`` and ``target`` of one shape -> the loss, reduced by ``reduction``."""
        return _loss.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of ``sigmoid(input)``, computed stably from logits.

    ``pos_weight`` weights the positive term (per class, broadcast over the
    last dim); ``weight`` rescales each element's loss.
    """

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(reduction)
        self.register_buffer("weight", None if weight is None else as_tensor(weight))
        self.register_buffer("pos_weight", None if pos_weight is None else as_tensor(pos_weight))

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """``input`` and ``target`` of one shape -> the loss, reduced by ``reduction``."""
        return _loss.binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits ``(N, C)`` / ``(N, C, d1, ...)`` / ``(C,)`` against class
    indices (or class probabilities of the input's shape).

    Args:
        weight: per-class weight ``(C,)``.
        ignore_index: targets equal to it contribute nothing (and are not counted
            in the mean).
        reduction: ``'mean'`` (weighted mean), ``'sum'`` or ``'none'``.
        label_smoothing: mix the target with the uniform distribution by this amount.
    """

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Logits ``(N, C, *)``, targets ``(N, *)`` -> the loss, reduced by ``reduction``."""
        return _loss.cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities ``(N, C)`` / ``(N, C, d1, ...)`` / ``(C,)``
    at the target class indices; ``weight`` and ``ignore_index`` as in CrossEntropyLoss."""

    def __init__(
        self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Log-probs ``(N, C, *)``, targets ``(N, *)`` -> the loss, reduced by ``reduction``."""
        return _loss.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class SmoothL1Loss(_Loss):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Smooth L1 loss of ``input`` against ``target`` (same shape), reduced as set."""
        return _loss_x.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """Huber loss of ``input`` against ``target`` (same shape), reduced as set."""
        return _loss_x.huber_loss(input, target, self.reduction, self.delta)


class KLDivLoss(Module):
    """KL divergence of log-probabilities ``input`` from ``target`` (see ``F.kl_div``).

    ``reduction`` may also be ``'batchmean'``, the true KL divergence per sample.
    """

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__()
        if reduction not in _REDUCTIONS + ("batchmean",):
            raise ValueError(
                f"KLDivLoss: reduction {reduction!r} is not one of {_REDUCTIONS + ('batchmean',)}"
            )
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """KL divergence with log-probabilities ``input`` against ``target``, reduced as set."""
        return _loss_x.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
