"""``Adamax``: Adam with the infinity norm in place of the second moment
(Kingma and Ba, 2015), PyTorch's update rule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..backend import xp
from .adam import _lerp_
from .optimizer import Optimizer, _check_nonneg, _check_unit, _decayed_grad

__all__ = ["Adamax"]


def _check_betas(name: str, betas: Any) -> None:
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
    _check_unit(name, "beta1 (betas[0])", betas[0])
    _check_unit(name, "beta2 (betas[1])", betas[1])


class Adamax(Optimizer):
    """Adamax, ``torch.optim.Adamax``'s update (``t`` counts this parameter's steps)::

        g = (-grad if maximize else grad) + weight_decay * p
        m = m + (1 - beta1) * (g - m)
        u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1 ** t) * m / u

    State per parameter: ``'step'``, ``'exp_avg'`` (m), ``'exp_inf'`` (u).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        _check_nonneg(name, "learning rate lr", group["lr"])
        _check_nonneg(name, "eps", group["eps"])
        _check_betas(name, group["betas"])
        _check_nonneg(name, "weight_decay", group["weight_decay"])

    def _step_group(self, group: dict[str, Any]) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        for p, pd, gd in self._grads(group):
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = xp.zeros_like(pd)
                state["exp_inf"] = xp.zeros_like(pd)
            state["step"] = t = state["step"] + 1
            g, _ = _decayed_grad(pd, gd, float(group["weight_decay"]), bool(group["maximize"]))
            m, u = state["exp_avg"], state["exp_inf"]
            _lerp_(m, g, 1 - beta1, xp.empty_like(pd))
            u *= beta2
            xp.maximum(u, xp.abs(g) + eps, out=u)
            clr = lr / (1 - beta1**t)
            pd += -clr * (m / u)
