"""The learning-rate anneal of :class:`~tapegrad.gan.trainer.Trainer`: over the final
``anneal`` fraction of a run both learning rates fall linearly to 0.

The rates are a function of the step alone (and of the run's step target), so a run
resumed from a checkpoint continues the same schedule.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ANNEAL_EVERY", "check_anneal", "anneal_factor", "set_annealed_rates"]

#: during the anneal the learning rates are set every this many steps
ANNEAL_EVERY = 10


def check_anneal(anneal: float) -> float:
    """``anneal`` as a float; ValueError unless it is in [0, 1]."""
    if not 0.0 <= anneal <= 1.0:
        raise ValueError(f"Trainer: anneal must be in [0, 1], got {anneal}")
    return float(anneal)


def anneal_factor(step: int, total: int, anneal: float) -> float:
    """The learning-rate multiplier at ``step`` (0-based) of a ``total``-step run: 1
    before the last ``n = round(anneal * total)`` steps, then ``(total - s) / n`` where
    ``s`` is the first step of the current :data:`ANNEAL_EVERY`-step chunk."""
    n_anneal = int(round(anneal * total))
    start = total - n_anneal
    if not n_anneal or step < start:
        return 1.0
    return (total - (start + (step - start) // ANNEAL_EVERY * ANNEAL_EVERY)) / n_anneal


def set_annealed_rates(trainer: Any, total: int) -> None:
    """Set every param group's ``lr`` of the trainer's two optimizers to its initial rate
    (``trainer._lr0``) times :func:`anneal_factor` at ``trainer.step`` of ``total``."""
    factor = anneal_factor(trainer.step, total, trainer.anneal)
    for opt, lr0 in zip((trainer.opt_g, trainer.opt_d), trainer._lr0):
        for group in opt.param_groups:
            group["lr"] = lr0 * factor
