"""``SGD``: stochastic gradient descent, with optional (Nesterov) momentum."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..backend import xp
from .optimizer import Optimizer, _check_nonneg, _decayed_grad

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's ``torch.optim.SGD`` update::

        g = -grad if maximize else grad
        g = g + weight_decay * p
        if momentum != 0:
            buf = g (first step)  or  buf = momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g

    Args:
        params: Tensors or parameter groups (dicts), see :class:`Optimizer`.
        lr: learning rate (>= 0).
        momentum: momentum factor (>= 0).
        dampening: dampening of the momentum.
        weight_decay: L2 penalty (>= 0).
        nesterov: Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: ascend the objective instead of descending.

    State per parameter (when momentum != 0): ``'momentum_buffer'``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonneg("SGD", "learning rate lr", group["lr"])
        _check_nonneg("SGD", "momentum", group["momentum"])
        _check_nonneg("SGD", "weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "SGD: Nesterov momentum needs momentum > 0 and dampening 0, got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def _step_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        momentum = float(group["momentum"])
        dampening = float(group["dampening"])
        weight_decay = float(group["weight_decay"])
        nesterov = bool(group["nesterov"])
        maximize = bool(group["maximize"])
        for p, pd, gd in self._grads(group):
            g, owned = _decayed_grad(pd, gd, weight_decay, maximize)
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = g if owned else g.copy()
                    state["momentum_buffer"] = buf
                else:
                    buf *= momentum
                    if dampening == 0:
                        buf += g
                    else:
                        buf += xp.multiply(g, 1 - dampening)
                if nesterov:
                    # g + momentum * buf, in a buffer of our own
                    d = xp.multiply(buf, momentum)
                    d += g
                    g, owned = d, True
                else:
                    g, owned = buf, False
            if owned:
                g *= lr
                pd -= g
            else:
                pd -= xp.multiply(g, lr)
