"""``Adagrad``: gradient scaled by the root of the summed squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..backend import xp
from .optimizer import Optimizer, _check_nonneg, _decayed_grad

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, PyTorch's ``torch.optim.Adagrad`` update (``t`` counts this
    parameter's steps)::

        g = -grad if maximize else grad
        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        p = p - clr * g / (sqrt(s) + eps)

    Args:
        params: Tensors or parameter groups (dicts), see :class:`Optimizer`.
        lr: learning rate (>= 0).
        lr_decay: learning-rate decay (>= 0).
        weight_decay: L2 penalty (>= 0).
        initial_accumulator_value: starting value of the sum ``s`` (>= 0).
        eps: added to the denominator (>= 0).
        maximize: ascend the objective instead of descending.

    State per parameter, made at construction as in PyTorch: ``'step'`` (int)
    and ``'sum'``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group; each parameter's sum of squares starts at the initial value."""
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self._init_state(p, group)

    def _init_state(self, p: Any, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        state["step"] = 0
        state["sum"] = xp.full_like(p._array, float(group["initial_accumulator_value"]))
        return state

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonneg("Adagrad", "learning rate lr", group["lr"])
        _check_nonneg("Adagrad", "lr_decay", group["lr_decay"])
        _check_nonneg("Adagrad", "weight_decay", group["weight_decay"])
        _check_nonneg("Adagrad", "initial_accumulator_value", group["initial_accumulator_value"])
        _check_nonneg("Adagrad", "eps", group["eps"])

    def _step_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        lr_decay = float(group["lr_decay"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        maximize = bool(group["maximize"])
        for p, pd, gd in self._grads(group):
            state = self.state[p]
            if not state:  # e.g. a state dict saved before this parameter existed
                state = self._init_state(p, group)
            state["step"] = t = state["step"] + 1
            g, owned = _decayed_grad(pd, gd, weight_decay, maximize)
            clr = lr / (1 + (t - 1) * lr_decay)
            s = state["sum"]

            std = xp.multiply(g, g)
            s += std
            xp.sqrt(s, out=std)
            std += eps
            # p += (-clr * g) / std, PyTorch's addcdiv order
            d = xp.multiply(g, -clr, out=g if owned else None)
            d /= std
            pd += d
