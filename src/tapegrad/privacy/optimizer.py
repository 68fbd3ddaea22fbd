"""DP-SGD: ``DPOptimizer`` (clip, noise, average, step) and ``PoissonSampler``.

A private step (Abadi et al. 2016, "Deep learning with differential privacy"):

1. each sample's gradient, over all parameters jointly, is clipped to norm
   ``max_grad_norm`` (C);
2. the clipped gradients are summed and Gaussian noise of standard deviation
   ``noise_multiplier * C`` is added to every coordinate;
3. the result is divided by the *expected* batch size, so the divisor does not
   depend on which samples were drawn;
4. the wrapped optimizer steps with that gradient.

Batches are drawn by Poisson sampling (:class:`PoissonSampler`): each example
joins a batch independently with probability ``sample_rate``, so batch sizes
vary around ``sample_rate * N``. That is the sampling the accountant
(:func:`~tapegrad.privacy.compute_epsilon`) analyses; shuffled fixed-size
batches are *not* what it accounts for, and this module does not offer them.

The noise comes from a NumPy ``Generator`` (PCG64), which is fine for research
but is not a cryptographically secure source; a deployment protecting real
people should draw the noise from a secure generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ..backend import xp
from ..nn.module import Module
from ..optim.optimizer import Optimizer
from ..tensor import Tensor, _wrap
from ..utils.data._rng import resolve_generator
from .grad_sample import clipped_grad_sum

__all__ = ["DPOptimizer", "PoissonSampler", "clip_and_sum"]


def clip_and_sum(
    per_sample: Sequence[Tensor | None], max_grad_norm: float
) -> tuple[list[Any], Any]:
    """Clip each sample's gradient (over all tensors jointly) to ``max_grad_norm`` and sum.

    Args:
        per_sample: tensors of shape (N, *param shape), e.g. from
            :func:`~tapegrad.privacy.per_sample_grads` (None entries are skipped).
        max_grad_norm: C.

    Returns:
        (sums, norms): the clipped sums, one array (or None) per entry, and
        the unclipped per-sample norms (N,).
    """
    arrays = [
        None if g is None else (g._array if isinstance(g, Tensor) else xp.asarray(g))
        for g in per_sample
    ]
    present = [a for a in arrays if a is not None]
    if not present:
        raise ValueError("clip_and_sum: no per-sample gradients given")
    n = present[0].shape[0]
    for a in present:
        if a.shape[0] != n:
            raise ValueError(
                "clip_and_sum: per-sample gradients disagree on the batch size: "
                f"{n} and {a.shape[0]}"
            )
    sq = sum((a.reshape(n, -1).astype(xp.float64) ** 2).sum(1) for a in present)
    norms = xp.sqrt(sq)
    scale = xp.minimum(1.0, max_grad_norm / (norms + 1e-6))
    sums = [None if a is None else xp.tensordot(scale.astype(a.dtype), a, 1) for a in arrays]
    return sums, norms


class DPOptimizer:
    """Wrap ``optimizer`` so that each step is a DP-SGD step.

    Args:
        optimizer: any tapegrad optimizer (SGD, Adam...); its hyperparameters
            and state are used unchanged.
        max_grad_norm: C, the per-sample clipping norm over all parameters.
        noise_multiplier: sigma; the noise standard deviation is ``sigma * C``.
        expected_batch_size: the divisor of the noisy sum (``sample_rate * N``
            with Poisson sampling).
        generator: the noise source (None: tapegrad's global generator; an int
            seeds a fresh one). Noise that can be regenerated from a known seed
            protects nothing: for a real release pass
            ``numpy.random.default_rng()`` (fresh OS entropy).

    Use either ``step(per_sample)`` with per-sample gradients aligned with the
    optimizer's parameters (in ``param_groups`` order), or
    ``private_step(model, loss_fn, inputs, targets)``, which computes the
    clipped sum without forming large per-sample tensors. A gradient already in
    a parameter's ``.grad`` when a step starts is kept and added to the private
    gradient: use it only for terms that do not touch private data.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_grad_norm: float,
        noise_multiplier: float,
        expected_batch_size: int | None = None,
        generator: Any = None,
    ) -> None:
        who = "DPOptimizer"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{who}: optimizer must be a tapegrad Optimizer, got {type(optimizer).__name__}"
            )
        if not (isinstance(max_grad_norm, (int, float)) and max_grad_norm > 0):
            raise ValueError(f"{who}: max_grad_norm must be > 0, got {max_grad_norm!r}")
        if not (isinstance(noise_multiplier, (int, float)) and noise_multiplier >= 0):
            raise ValueError(f"{who}: noise_multiplier must be >= 0, got {noise_multiplier!r}")
        if expected_batch_size is not None and not (
            isinstance(expected_batch_size, int) and expected_batch_size > 0
        ):
            raise ValueError(
                f"{who}: expected_batch_size must be a positive int, got {expected_batch_size!r}"
            )
        self.optimizer = optimizer
        self.max_grad_norm = float(max_grad_norm)
        self.noise_multiplier = float(noise_multiplier)
        self.expected_batch_size = expected_batch_size
        self.generator = resolve_generator(generator, who)
        #: unclipped per-sample norms of the last step, a NumPy array (N,)
        self.last_norms: np.ndarray | None = None
        self.steps = 0

    @property
    def params(self) -> list[Tensor]:
        """The wrapped optimizer's parameters, in ``param_groups`` order."""
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The wrapped optimizer's parameter groups."""
        return self.optimizer.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the wrapped optimizer's gradients (None by default)."""
        self.optimizer.zero_grad(set_to_none)

    def _finish(self, sums: Sequence[Any], batch_size: int) -> None:
        params = self.params
        if len(sums) != len(params):
            raise ValueError(
                f"DPOptimizer: got {len(sums)} gradients for the optimizer's "
                f"{len(params)} parameters"
            )
        divisor = self.expected_batch_size if self.expected_batch_size is not None else batch_size
        if divisor <= 0:
            raise ValueError(
                "DPOptimizer: an empty batch needs expected_batch_size to scale the noise"
            )
        std = self.noise_multiplier * self.max_grad_norm
        for p, s in zip(params, sums):
            if s is None:
                continue
            if tuple(s.shape) != tuple(p.shape):
                raise ValueError(
                    f"DPOptimizer: a gradient of shape {tuple(s.shape)} for a parameter of shape "
                    f"{tuple(p.shape)} (per-sample gradients must follow the optimizer's order)"
                )
            noise = self.generator.standard_normal(p.shape) * std if std > 0 else 0.0
            g = ((s + noise) / divisor).astype(p._array.dtype)
            p.grad = _wrap(g) if p.grad is None else _wrap(p.grad._array + g)
        self.optimizer.step()
        self.steps += 1

    def step(self, per_sample: Sequence[Tensor | None]) -> None:
        """One DP-SGD step from per-sample gradients (N, *shape) in the optimizer's order."""
        sums, norms = clip_and_sum(per_sample, self.max_grad_norm)
        self.last_norms = np.asarray(norms)
        self._finish(sums, int(norms.shape[0]))

    def private_step(
        self,
        model: Module,
        loss_fn: Callable[[Any, Any], Tensor],
        inputs: Any,
        targets: Any,
    ) -> None:
        """One DP-SGD step on the summed loss ``loss_fn(model(inputs), targets)``.

        ``model.parameters()`` must be the optimizer's parameters in the same order.
        An empty batch (possible under Poisson sampling) is a step of noise alone.
        """
        params = self.params
        mparams = list(model.parameters())
        if [id(p) for p in mparams] != [id(p) for p in params]:
            raise ValueError(
                "DPOptimizer.private_step: the model's parameters are not the optimizer's "
                "(build the optimizer with model.parameters())"
            )
        first = inputs[0] if isinstance(inputs, (tuple, list)) else inputs
        if int(first.shape[0]) == 0:
            self.last_norms = np.zeros(0)
            self._finish([xp.zeros(p.shape, dtype=p._array.dtype) for p in params], 0)
            return
        grads, norms = clipped_grad_sum(model, loss_fn, inputs, targets, self.max_grad_norm)
        self.last_norms = np.asarray(norms)
        self._finish([None if g is None else g._array for g in grads], int(norms.shape[0]))

    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimizer's state and the number of private steps taken."""
        return {"optimizer": self.optimizer.state_dict(), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from ``state_dict``."""
        self.optimizer.load_state_dict(state["optimizer"])
        self.steps = int(state["steps"])


class PoissonSampler:
    """Batches of indices in ``range(n)``, each index in a batch with probability ``sample_rate``.

    Iterating gives ``round(1 / sample_rate)`` batches (one expected pass over
    the data); batch sizes vary and may be 0.

    Args:
        n: the dataset size.
        sample_rate: q in (0, 1].
        generator: None (tapegrad's global generator), an int seed or a NumPy Generator.
    """

    def __init__(self, n: int, sample_rate: float, generator: Any = None) -> None:
        if not (isinstance(n, int) and n > 0):
            raise ValueError(f"PoissonSampler: n must be a positive int, got {n!r}")
        if not (isinstance(sample_rate, (int, float)) and 0 < sample_rate <= 1):
            raise ValueError(f"PoissonSampler: sample_rate must be in (0, 1], got {sample_rate!r}")
        self.n = n
        self.sample_rate = float(sample_rate)
        self.generator = resolve_generator(generator, "PoissonSampler")

    def sample(self) -> np.ndarray:
        """One batch: the sorted indices (int64) that joined it."""
        return np.flatnonzero(self.generator.random(self.n) < self.sample_rate)

    def __len__(self) -> int:
        return max(1, math.floor(1 / self.sample_rate + 0.5))

    def __iter__(self) -> Iterator[np.ndarray]:
        for _ in range(len(self)):
            yield self.sample()
