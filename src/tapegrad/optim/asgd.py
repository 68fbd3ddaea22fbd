"""``ASGD``: averaged stochastic gradient descent (Polyak and Juditsky, 1992),
PyTorch's update rule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..backend import xp
from .optimizer import Optimizer, _check_nonneg, _decayed_grad

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """ASGD, ``torch.optim.ASGD``'s update (``t`` counts this parameter's steps)::

        g = (-grad if maximize else grad) + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = p if mu == 1 else ax + mu * (p - ax)       # the running average
        eta = lr / (1 + lambd * lr * t) ** alpha;  mu = 1 / max(1, t - t0)

    ``eta`` and ``mu`` are kept in float32, as PyTorch keeps them. The averaged
    parameters are ``optimizer.state[p]['ax']``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, maximize=maximize
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        _check_nonneg(name, "learning rate lr", group["lr"])
        _check_nonneg(name, "weight_decay", group["weight_decay"])

    def _step_group(self, group: dict[str, Any]) -> None:
        lr, lambd = float(group["lr"]), float(group["lambd"])
        alpha, t0 = float(group["alpha"]), float(group["t0"])
        for p, pd, gd in self._grads(group):
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["eta"] = np.float32(lr)
                state["mu"] = np.float32(1.0)
                state["ax"] = xp.zeros_like(pd)
            state["step"] = t = state["step"] + 1
            g, _ = _decayed_grad(pd, gd, float(group["weight_decay"]), bool(group["maximize"]))
            eta = float(state["eta"])
            pd *= 1 - lambd * eta
            pd -= eta * g
            ax, mu = state["ax"], float(state["mu"])
            if mu != 1:
                ax += (pd - ax) * mu
            else:
                ax[...] = pd
            state["eta"] = np.float32(lr / ((1 + lambd * lr * t) ** alpha))
            state["mu"] = np.float32(1 / max(1, t - t0))
