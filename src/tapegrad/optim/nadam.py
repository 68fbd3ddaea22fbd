"""``NAdam`` and ``RAdam``: Adam with Nesterov momentum (Dozat, 2016) and
rectified Adam (Liu et al., 2019), PyTorch's update rules."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..backend import xp
from .adam import _lerp_
from .adamax import _check_betas
from .optimizer import Optimizer, _check_nonneg, _decayed_grad

__all__ = ["NAdam", "RAdam"]


class _AdamLike(Optimizer):
    def _check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        _check_nonneg(name, "learning rate lr", group["lr"])
        _check_nonneg(name, "eps", group["eps"])
        _check_betas(name, group["betas"])
        _check_nonneg(name, "weight_decay", group["weight_decay"])

    def _moments(self, group: dict[str, Any], p: Any, pd: Any, gd: Any) -> tuple[Any, ...]:
        """Advance step, decay and both moments; returns (state, g, m, v)."""
        beta1, beta2 = (float(b) for b in group["betas"])
        state = self.state[p]
        if not state:
            self._init_state(state, pd)
        state["step"] += 1
        lr, wd = float(group["lr"]), float(group["weight_decay"])
        if wd != 0 and group["decoupled_weight_decay"]:
            pd *= 1 - lr * wd
            wd = 0.0
        g, _ = _decayed_grad(pd, gd, wd, bool(group["maximize"]))
        m, v = state["exp_avg"], state["exp_avg_sq"]
        _lerp_(m, g, 1 - beta1, xp.empty_like(pd))
        v *= beta2
        v += (1 - beta2) * (g * g)
        return state, g, m, v

    def _init_state(self, state: dict[str, Any], pd: Any) -> None:
        state["step"] = 0
        state["exp_avg"] = xp.zeros_like(pd)
        state["exp_avg_sq"] = xp.zeros_like(pd)


class NAdam(_AdamLike):
    """NAdam, ``torch.optim.NAdam``'s update (``t`` counts this parameter's steps)::

        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay)); prod_t = mu_1 ... mu_t
        m, v as in Adam;  denom = sqrt(v / (1 - beta2 ** t)) + eps
        p = p - lr (1 - mu_t) / (1 - prod_t) g / denom
              - lr mu_{t+1} / (1 - prod_t mu_{t+1}) m / denom

    ``prod_t`` is kept in float32 (``'mu_product'``), as PyTorch keeps it.
    State per parameter: ``'step'``, ``'mu_product'``, ``'exp_avg'``, ``'exp_avg_sq'``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _init_state(self, state: dict[str, Any], pd: Any) -> None:
        super()._init_state(state, pd)
        state["mu_product"] = np.float32(1.0)

    def _step_group(self, group: dict[str, Any]) -> None:
        lr, eps, md = float(group["lr"]), float(group["eps"]), float(group["momentum_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        for p, pd, gd in self._grads(group):
            state, g, m, v = self._moments(group, p, pd, gd)
            t = state["step"]
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * md))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * md))
            state["mu_product"] = prod = np.float32(state["mu_product"] * np.float32(mu))
            denom = xp.sqrt(v / (1 - beta2**t))
            denom += eps
            prod_next = float(prod) * mu_next
            pd += (-lr * (1.0 - mu) / (1.0 - float(prod))) * (g / denom)
            pd += ((-lr * mu_next) / (1.0 - prod_next)) * (m / denom)


class RAdam(_AdamLike):
    """RAdam, ``torch.optim.RAdam``'s update (``t`` counts this parameter's steps)::

        m, v as in Adam;  rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2 ** t / (1 - beta2 ** t)
        if rho_t > 5: p = p - lr m / (1 - beta1 ** t) * r_t sqrt(1 - beta2 ** t) / (sqrt(v) + eps)
        else:         p = p - lr m / (1 - beta1 ** t)

    with the rectification r_t = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t)).
    State per parameter: ``'step'``, ``'exp_avg'``, ``'exp_avg_sq'``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _step_group(self, group: dict[str, Any]) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        for p, pd, gd in self._grads(group):
            state, _, m, v = self._moments(group, p, pd, gd)
            t = state["step"]
            bc1, bc2 = 1 - beta1**t, 1 - beta2**t
            corrected = m / bc1
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * t * (beta2**t) / bc2
            if rho_t > 5.0:
                rect = math.sqrt(
                    (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                )
                adaptive = bc2**0.5 / (xp.sqrt(v) + eps)
                pd -= corrected * lr * adaptive * rect
            else:
                pd -= corrected * lr
