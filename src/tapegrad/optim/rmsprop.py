"""``RMSprop``: gradient scaled by a running root mean square."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..backend import xp
from .adam import _lerp_
from .optimizer import Optimizer, _check_nonneg, _decayed_grad

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, PyTorch's ``torch.optim.RMSprop`` update::

        g = -grad if maximize else grad
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        if centered: a = a + (1 - alpha) * (g - a);  avg = sqrt(v - a * a) + eps
        else:        avg = sqrt(v) + eps
        if momentum > 0: buf = momentum * buf + g / avg;  p = p - lr * buf
        else:            p = p - lr * g / avg

    Args:
        params: Tensors or parameter groups (dicts), see :class:`Optimizer`.
        lr: learning rate (>= 0).
        alpha: smoothing constant of the squared-gradient average (>= 0).
        eps: added to the denominator (>= 0).
        weight_decay: L2 penalty (>= 0).
        momentum: momentum factor (>= 0).
        centered: normalize by an estimate of the gradient's variance.
        maximize: ascend the objective instead of descending.

    State per parameter: ``'step'`` (int), ``'square_avg'``, with momentum
    ``'momentum_buffer'``, when centered ``'grad_avg'``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_nonneg("RMSprop", "learning rate lr", group["lr"])
        _check_nonneg("RMSprop", "eps", group["eps"])
        _check_nonneg("RMSprop", "momentum", group["momentum"])
        _check_nonneg("RMSprop", "weight_decay", group["weight_decay"])
        _check_nonneg("RMSprop", "alpha", group["alpha"])

    def _step_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        alpha = float(group["alpha"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        momentum = float(group["momentum"])
        centered = bool(group["centered"])
        maximize = bool(group["maximize"])
        for p, pd, gd in self._grads(group):
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["square_avg"] = xp.zeros_like(pd)
            state["step"] += 1
            g, owned = _decayed_grad(pd, gd, weight_decay, maximize)
            v = state["square_avg"]

            tmp = xp.multiply(g, g)
            tmp *= 1 - alpha
            v *= alpha
            v += tmp
            # avg reuses tmp's memory
            if centered:
                a = state.get("grad_avg")
                if a is None:
                    a = state["grad_avg"] = xp.zeros_like(pd)
                _lerp_(a, g, 1 - alpha, tmp)
                xp.multiply(a, a, out=tmp)
                xp.subtract(v, tmp, out=tmp)
                avg = xp.sqrt(tmp, out=tmp)
            else:
                avg = xp.sqrt(v, out=tmp)
            avg += eps

            if momentum > 0:
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = xp.zeros_like(pd)
                buf *= momentum
                xp.divide(g, avg, out=avg)
                buf += avg
                xp.multiply(buf, lr, out=avg)
                pd -= avg
            else:
                # p += (-lr * g) / avg, PyTorch's addcdiv order
                d = xp.multiply(g, -lr, out=g if owned else None)
                d /= avg
                pd += d
