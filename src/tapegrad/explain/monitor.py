"""``GradientMonitor``: how much gradient reaches each layer, and how much each layer moves.

Call :meth:`GradientMonitor.step` once per training step, after the optimizer's
step (the gradients are still in ``.grad`` then). For each layer (each module
that owns parameters directly, named as in ``model.named_modules()``) it records

- the gradient norm ``||dL/dtheta||`` over the layer's parameters, and
- the update-to-weight ratio ``||theta_t - theta_{t-1}|| / ||theta_{t-1}||``: how far
  the step moved the layer relative to its size (about 1e-3 is the usual healthy
  range for SGD/Adam; far below, the layer is not learning; near 1, one step
  rewrites it).

It warns (:class:`GradientWarning`, once per layer and kind, and in
:attr:`GradientMonitor.alerts`) when a layer's gradient **vanishes** or
**explodes**. The thresholds (all arguments of the constructor):

============================  =========  ==============================================
condition                     default    meaning
============================  =========  ==============================================
``grad_norm < vanish_abs``    1e-7       no usable gradient reaches the layer
``grad_norm / largest <``     1e-4       the layer gets 10,000x less gradient than the
``vanish_rel``                           layer that gets the most, in the same step
``grad_norm > explode_abs``   1e3        (or not finite) the gradient has blown up
``update ratio >``            1.0        one step moved the layer by more than its own
``explode_ratio``                        norm
============================  =========  ==============================================

:meth:`GradientMonitor.plot` draws the records by layer and time.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..nn.module import Module


class GradientWarning(UserWarning):
    """A layer's gradient vanished or exploded (see :class:`GradientMonitor`)."""


@dataclass
class Alert:
    """One threshold crossing: ``kind`` is ``"vanishing"`` or ``"exploding"``."""

    step: int
    layer: str
    kind: str
    value: float
    rule: str


def _norm(arrays: list[np.ndarray]) -> float:
    return math.sqrt(sum(float(np.square(a, dtype=np.float64).sum()) for a in arrays))


class GradientMonitor:
    """Record per-layer gradient norms and update-to-weight ratios of ``model``.

    Args:
        model: the Module being trained.
        vanish_abs, vanish_rel, explode_abs, explode_ratio: the warning
            thresholds (see the module docstring).
        warn: issue :class:`GradientWarning` (alerts are recorded either way).

    Attributes:
        layers: layer names, input side first (registration order).
        kinds: each layer's class name (``"Linear"``, ``"BatchNorm1d"``, ...).
        steps: the step number of each record.
        grad_norms: ``(records, layers)`` array of gradient norms (NaN where a
            layer had no gradient).
        update_ratios: ``(records, layers)`` array of update-to-weight ratios.
        alerts: every :class:`Alert` raised.
    """

    def __init__(
        self,
        model: Module,
        *,
        vanish_abs: float = 1e-7,
        vanish_rel: float = 1e-4,
        explode_abs: float = 1e3,
        explode_ratio: float = 1.0,
        warn: bool = True,
    ) -> None:
        self._groups: list[tuple[str, list[Any]]] = []
        self.kinds: list[str] = []
        for name, m in model.named_modules():
            ps = [p for p in m._parameters.values() if p is not None and p.requires_grad]
            if ps:
                self._groups.append((name or type(m).__name__, ps))
                self.kinds.append(type(m).__name__)
        if not self._groups:
            raise ValueError("GradientMonitor: the model has no trainable parameters")
        self.layers = [n for n, _ in self._groups]
        self.vanish_abs, self.vanish_rel = vanish_abs, vanish_rel
        self.explode_abs, self.explode_ratio = explode_abs, explode_ratio
        self.warn = warn
        self.steps: list[int] = []
        self._grad: list[np.ndarray] = []
        self._ratio: list[np.ndarray] = []
        self.alerts: list[Alert] = []
        self._warned: set[tuple[str, str]] = set()
        self._prev = self._snapshot()
        self._count = 0

    def _snapshot(self) -> list[list[np.ndarray]]:
        return [[np.array(p._array, copy=True) for p in ps] for _, ps in self._groups]

    @property
    def grad_norms(self) -> np.ndarray:
        """Gradient norm of each layer at each recorded step: ``(steps, layers)``."""
        return np.array(self._grad).reshape(len(self._grad), len(self.layers))

    @property
    def update_ratios(self) -> np.ndarray:
        """``|update| / |weight|`` of each layer at each recorded step: ``(steps, layers)``."""
        return np.array(self._ratio).reshape(len(self._ratio), len(self.layers))

    def step(self, step: int | None = None) -> list[Alert]:
        """Record this step (call after ``optimizer.step()``); returns the new alerts."""
        step = self._count if step is None else int(step)
        self._count = step + 1
        now = self._snapshot()
        grads = np.full(len(self.layers), np.nan)
        ratios = np.full(len(self.layers), np.nan)
        for i, (_, ps) in enumerate(self._groups):
            gs = [np.asarray(p.grad._array) for p in ps if p.grad is not None]
            if gs:
                grads[i] = _norm(gs)
            w = _norm(self._prev[i])
            if w > 0:
                ratios[i] = _norm([a - b for a, b in zip(now[i], self._prev[i])]) / w
        self._prev = now
        self.steps.append(step)
        self._grad.append(grads)
        self._ratio.append(ratios)
        return self._check(step, grads, ratios)

    def _check(self, step: int, grads: np.ndarray, ratios: np.ndarray) -> list[Alert]:
        new: list[Alert] = []
        finite = grads[np.isfinite(grads)]
        largest = float(finite.max()) if finite.size else 0.0
        for name, g, r in zip(self.layers, grads, ratios):
            if np.isnan(g) and not np.isnan(r):
                continue  # no gradient this step (a frozen or unused layer)
            if not np.isfinite(g) or g > self.explode_abs:
                new.append(
                    Alert(step, name, "exploding", float(g), f"grad norm > {self.explode_abs:g}")
                )
            elif r > self.explode_ratio:
                new.append(
                    Alert(
                        step, name, "exploding", float(r), f"update ratio > {self.explode_ratio:g}"
                    )
                )
            elif g < self.vanish_abs:
                new.append(
                    Alert(step, name, "vanishing", float(g), f"grad norm < {self.vanish_abs:g}")
                )
            elif largest > 0 and g / largest < self.vanish_rel:
                new.append(
                    Alert(
                        step,
                        name,
                        "vanishing",
                        float(g),
                        f"grad norm / largest layer's ({largest:.3g}) < {self.vanish_rel:g}",
                    )
                )
        self.alerts += new
        if self.warn:
            for a in new:
                if (a.layer, a.kind) not in self._warned:
                    self._warned.add((a.layer, a.kind))
                    warnings.warn(
                        f"step {a.step}: layer {a.layer!r} gradient {a.kind} "
                        f"({a.value:.3g}; {a.rule})",
                        GradientWarning,
                        stacklevel=3,
                    )
        return new

    def summary(self) -> dict[str, Any]:
        """Plain numbers for JSON: layers, steps, norms, ratios and alerts."""
        return {
            "layers": list(self.layers),
            "steps": list(self.steps),
            "grad_norms": [[None if np.isnan(v) else float(v) for v in r] for r in self._grad],
            "update_ratios": [[None if np.isnan(v) else float(v) for v in r] for r in self._ratio],
            "alerts": [a.__dict__ for a in self.alerts],
        }

    def plot(self, path: str, title: str | None = None) -> None:
        """Save a PNG: gradient norm and update-to-weight ratio by layer (rows, input
        side at the top) and step (columns), on log colour scales, and the last
        step's gradient norm per layer. Uses matplotlib's Agg backend; the figure is
        closed afterwards."""
        if not self.steps:
            raise ValueError("GradientMonitor.plot: nothing recorded yet (call step())")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), dpi=100)
        try:
            for ax, data, label in (
                (axes[0], self.grad_norms, "log10 gradient norm"),
                (axes[1], self.update_ratios, "log10 update / weight (white: no change)"),
            ):
                with np.errstate(divide="ignore", invalid="ignore"):
                    img = np.log10(np.where(data > 0, data, np.nan)).T
                im = ax.imshow(
                    img,
                    aspect="auto",
                    interpolation="nearest",
                    cmap="viridis",
                    extent=(
                        self.steps[0] - 0.5,
                        self.steps[-1] + 0.5,
                        len(self.layers) - 0.5,
                        -0.5,
                    ),
                )
                fig.colorbar(im, ax=ax, label=label)
                ax.set_xlabel("step")
                ax.set_ylabel("layer name (input side at top)")
                ax.set_title(label)
            ticks = np.linspace(0, len(self.layers) - 1, min(len(self.layers), 8)).round()
            for ax in axes[:2]:
                ax.set_yticks(ticks)
                ax.set_yticklabels([self.layers[int(t)] for t in ticks], fontsize=7)
            last = self.grad_norms[-1]
            axes[2].semilogy(np.arange(len(self.layers)), last, "o-")
            axes[2].set_xlabel("layer index (input side = 0)")
            axes[2].set_ylabel("gradient norm")
            axes[2].set_title(f"gradient norm by layer, step {self.steps[-1]}")
            axes[2].grid(True, which="both", alpha=0.3)
            if title:
                fig.suptitle(title)
            fig.tight_layout()
            fig.savefig(path)
        finally:
            plt.close(fig)
