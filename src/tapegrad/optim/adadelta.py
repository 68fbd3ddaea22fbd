"""``Adadelta``: per-coordinate step sizes from running averages of squared
gradients and squared updates (Zeiler, 2012), PyTorch's update rule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..backend import xp
from .optimizer import Optimizer, _check_nonneg, _decayed_grad

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta, ``torch.optim.Adadelta``'s update::

        g = (-grad if maximize else grad) + weight_decay * p
        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta

    Args:
        params: Tensors or parameter groups (dicts).
        lr: scales the update (default 1.0).
        rho: decay rate of the running averages, in [0, 1].
        eps: added inside the square roots (>= 0).
        weight_decay: L2 penalty (>= 0).
        maximize: ascend the objective instead.

    State per parameter: ``'step'``, ``'square_avg'`` (v), ``'acc_delta'`` (u).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        _check_nonneg(name, "learning rate lr", group["lr"])
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"{name}: rho must be in [0, 1], got {group['rho']!r}")
        _check_nonneg(name, "eps", group["eps"])
        _check_nonneg(name, "weight_decay", group["weight_decay"])

    def _step_group(self, group: dict[str, Any]) -> None:
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        for p, pd, gd in self._grads(group):
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["square_avg"] = xp.zeros_like(pd)
                state["acc_delta"] = xp.zeros_like(pd)
            state["step"] += 1
            g, _ = _decayed_grad(pd, gd, float(group["weight_decay"]), bool(group["maximize"]))
            v, u = state["square_avg"], state["acc_delta"]
            v *= rho
            v += (1 - rho) * (g * g)
            std = xp.sqrt(v + eps)
            delta = xp.sqrt(u + eps)
            delta /= std
            delta *= g
            u *= rho
            u += (1 - rho) * (delta * delta)
            pd -= lr * delta
