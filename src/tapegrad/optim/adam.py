"""``Adam`` and ``AdamW``: adaptive moment estimation (with decoupled weight decay)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..backend import xp
from .adam_kernel import adam_scalars, fused_adam
from .optimizer import Optimizer, _check_nonneg, _check_unit, _decayed_grad

__all__ = ["Adam", "AdamW"]


def _lerp_(m: Any, g: Any, weight: float, tmp: Any) -> None:
    """``m += weight * (g - m)`` in place, in PyTorch's two forms.

    PyTorch's lerp uses ``m + w * (g - m)`` for ``|w| < 0.5`` and
    ``g + (w - 1) * (g - m)`` otherwise (``w - 1`` in the array's precision);
    following it keeps the rounding close. ``tmp`` is scratch of ``m``'s shape.
    """
    xp.subtract(g, m, out=tmp)
    w = np.float32(weight) if m.dtype == np.float32 else np.float64(weight)
    if abs(w) < 0.5:
        tmp *= weight
        m += tmp
    else:
        tmp *= float(w - w.dtype.type(1))
        xp.add(g, tmp, out=m)


class Adam(Optimizer):
    """Adam, PyTorch's ``torch.optim.Adam`` update (``t`` counts this parameter's steps)::

        g = -grad if maximize else grad
        if decoupled_weight_decay: p = p * (1 - lr * weight_decay)
        else:                      g = g + weight_decay * p
        m = m + (1 - beta1) * (g - m)
        v = beta2 * v + (1 - beta2) * g * g
        vmax = max(vmax, v)                       # amsgrad only; used instead of v
        denom = sqrt(v) / sqrt(1 - beta2 ** t) + eps
        p = p - (lr / (1 - beta1 ** t)) * m / denom

    Args:
        params: Tensors or parameter groups (dicts), see :class:`Optimizer`.
        lr: learning rate (>= 0).
        betas: decay rates of the first and second moments, each in [0, 1).
        eps: added to the denominator (>= 0).
        weight_decay: L2 penalty, or decoupled decay rate for AdamW (>= 0).
        amsgrad: use the running maximum of the second moment.
        maximize: ascend the objective instead of descending.
        decoupled_weight_decay: decay the weights directly (AdamW).

    State per parameter: ``'step'`` (int), ``'exp_avg'``, ``'exp_avg_sq'`` and
    with amsgrad ``'max_exp_avg_sq'``, arrays of the parameter's shape and dtype.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        _check_nonneg(name, "learning rate lr", group["lr"])
        _check_nonneg(name, "eps", group["eps"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        _check_unit(name, "beta1 (betas[0])", betas[0])
        _check_unit(name, "beta2 (betas[1])", betas[1])
        _check_nonneg(name, "weight_decay", group["weight_decay"])

    def _step_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        beta1, beta2 = (float(b) for b in group["betas"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        amsgrad = bool(group["amsgrad"])
        maximize = bool(group["maximize"])
        decoupled = bool(group["decoupled_weight_decay"])
        scalars: dict[tuple[Any, int], tuple[Any, ...]] = {}  # per (dtype, step), for fused_adam
        for p, pd, gd in self._grads(group):
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = xp.zeros_like(pd)
                state["exp_avg_sq"] = xp.zeros_like(pd)
            state["step"] = t = state["step"] + 1
            m = state["exp_avg"]
            v = state["exp_avg_sq"]

            if weight_decay != 0 and decoupled:
                pd *= 1 - lr * weight_decay
                g, owned = _decayed_grad(pd, gd, 0.0, maximize)
            else:
                g, owned = _decayed_grad(pd, gd, weight_decay, maximize)

            bias_correction1 = 1 - beta1**t
            bias_correction2 = 1 - beta2**t
            step_size = lr / bias_correction1
            if not amsgrad:
                key = (pd.dtype, t)
                sc = scalars.get(key)
                if sc is None:
                    sc = scalars[key] = adam_scalars(
                        pd.dtype, beta1, beta2, eps, step_size, bias_correction2
                    )
                if fused_adam(pd, g, m, v, sc):
                    continue  # one compiled pass, bit-identical to the lines below

            tmp = xp.empty_like(pd)
            _lerp_(m, g, 1 - beta1, tmp)
            v *= beta2
            xp.multiply(g, g, out=tmp)
            tmp *= 1 - beta2
            v += tmp
            if amsgrad:
                vmax = state.get("max_exp_avg_sq")
                if vmax is None:  # amsgrad switched on after the state was made
                    vmax = state["max_exp_avg_sq"] = xp.zeros_like(pd)
                xp.maximum(vmax, v, out=vmax)
                v = vmax
            # denom = sqrt(v) / sqrt(bc2) + eps, reusing g's buffer when it is ours
            denom = g if owned else xp.empty_like(pd)
            xp.sqrt(v, out=denom)
            denom /= bias_correction2**0.5
            denom += eps
            # p += (-step_size * m) / denom, PyTorch's addcdiv order
            xp.multiply(m, -step_size, out=tmp)
            tmp /= denom
            pd += tmp


class AdamW(Adam):
    """Adam with decoupled weight decay (PyTorch's ``torch.optim.AdamW``):
    ``p = p * (1 - lr * weight_decay)`` before the Adam update, and the decay
    never enters the moments. Same arguments as :class:`Adam`; the default
    ``weight_decay`` is ``1e-2``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load as Adam does, keeping the weight decay decoupled."""
        super().load_state_dict(state_dict)
        # An AdamW stays AdamW whatever the saved groups say (as in PyTorch).
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
