"""The privacy accountant of DP-SGD with Poisson sampling, on Google's ``dp-accounting``.

Each step of DP-SGD is a Gaussian mechanism of noise multiplier ``sigma``
(noise standard deviation over clipping norm) applied to a batch drawn by
Poisson sampling: every example joins independently with probability
``sample_rate``. ``steps`` such steps are the ``dp-accounting`` event
``SelfComposed(PoissonSampled(sample_rate, Gaussian(sigma)), steps)``, under
add-or-remove-one neighbouring datasets. The accountant is either Rényi DP
(``'rdp'``, the "moments accountant" of Abadi et al. 2016 with its later
tighter conversion to (epsilon, delta)) or the privacy loss distribution
(``'pld'``, tighter still, slower).

``dp-accounting`` is an optional dependency: ``pip install tapegrad[privacy]``.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["compute_epsilon", "noise_multiplier_for_epsilon", "steps_for_epsilon"]

_ACCOUNTANTS = ("rdp", "pld")


def _library() -> Any:
    try:
        import dp_accounting
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise ImportError(
            "tapegrad.privacy's accountant needs Google's dp-accounting package: "
            "pip install 'tapegrad[privacy]' (or pip install dp-accounting)"
        ) from e
    return dp_accounting


def _check(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> None:
    who = "compute_epsilon"
    if not (isinstance(noise_multiplier, (int, float)) and noise_multiplier >= 0):
        raise ValueError(f"{who}: noise_multiplier must be a number >= 0, got {noise_multiplier!r}")
    if not (isinstance(sample_rate, (int, float)) and 0 < sample_rate <= 1):
        raise ValueError(f"{who}: sample_rate must be in (0, 1], got {sample_rate!r}")
    if not (isinstance(steps, int) and steps >= 0):
        raise ValueError(f"{who}: steps must be an int >= 0, got {steps!r}")
    if not (isinstance(delta, (int, float)) and 0 < delta < 1):
        raise ValueError(f"{who}: delta must be in (0, 1), got {delta!r}")


def _accountant(name: str) -> Any:
    lib = _library()
    if name == "rdp":
        return lib.rdp.RdpAccountant()
    if name == "pld":
        return lib.pld.PLDAccountant()
    raise ValueError(f"accountant must be one of {_ACCOUNTANTS}, got {name!r}")


def compute_epsilon(
    *,
    noise_multiplier: float,
    sample_rate: float,
    steps: int,
    delta: float = 1e-5,
    accountant: str = "rdp",
) -> float:
    """Epsilon of ``steps`` DP-SGD steps at ``delta``.

    Args:
        noise_multiplier: sigma, the noise standard deviation over the clipping norm.
        sample_rate: q, each example's probability of joining a batch (Poisson
            sampling; ``expected batch size / dataset size``).
        steps: how many noisy steps were taken.
        delta: the delta of (epsilon, delta)-DP.
        accountant: ``'rdp'`` or ``'pld'``.

    Returns:
        epsilon (``0.0`` for no steps, ``inf`` for noise multiplier 0).
    """
    _check(noise_multiplier, sample_rate, steps, delta)
    acc = _accountant(accountant)
    if steps == 0:
        return 0.0
    if noise_multiplier == 0:
        return math.inf
    lib = _library()
    event = lib.SelfComposedDpEvent(
        lib.PoissonSampledDpEvent(sample_rate, lib.GaussianDpEvent(noise_multiplier)), steps
    )
    acc.compose(event)
    return float(acc.get_epsilon(delta))


def _bisect(f: Any, lo: float, hi: float, iters: int) -> float:
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if f(mid):
            hi = mid
        else:
            lo = mid
    return hi


def noise_multiplier_for_epsilon(
    target_epsilon: float,
    *,
    sample_rate: float,
    steps: int,
    delta: float = 1e-5,
    accountant: str = "rdp",
    tol: float = 1e-3,
) -> float:
    """The smallest noise multiplier (within ``tol``) whose epsilon is at most ``target_epsilon``.

    Returns:
        sigma such that ``compute_epsilon(noise_multiplier=sigma, ...) <= target_epsilon``.
    """
    if not target_epsilon > 0:
        raise ValueError(
            f"noise_multiplier_for_epsilon: target_epsilon must be > 0, got {target_epsilon!r}"
        )

    def ok(sigma: float) -> bool:
        eps = compute_epsilon(
            noise_multiplier=sigma,
            sample_rate=sample_rate,
            steps=steps,
            delta=delta,
            accountant=accountant,
        )
        return eps <= target_epsilon

    hi = 1.0
    while not ok(hi):
        hi *= 2
        if hi > 1e4:
            raise ValueError(
                f"noise_multiplier_for_epsilon: epsilon {target_epsilon} is out of reach "
                f"for {steps} steps at sample rate {sample_rate} even with noise multiplier 1e4"
            )
    lo = hi / 2 if hi > 1.0 else 0.0
    iters = max(1, math.ceil(math.log2(max(hi - lo, tol) / tol)))
    return _bisect(ok, lo, hi, iters)


def steps_for_epsilon(
    target_epsilon: float,
    *,
    noise_multiplier: float,
    sample_rate: float,
    delta: float = 1e-5,
    accountant: str = "rdp",
    max_steps: int = 10_000_000,
) -> int:
    """The most DP-SGD steps whose epsilon stays at most ``target_epsilon``.

    Returns:
        an int ``T >= 0`` with ``compute_epsilon(steps=T) <= target_epsilon <
        compute_epsilon(steps=T + 1)`` (or ``max_steps`` if even that is within budget).
    """
    if not target_epsilon > 0:
        raise ValueError(f"steps_for_epsilon: target_epsilon must be > 0, got {target_epsilon!r}")

    def eps(t: int) -> float:
        return compute_epsilon(
            noise_multiplier=noise_multiplier,
            sample_rate=sample_rate,
            steps=t,
            delta=delta,
            accountant=accountant,
        )

    if eps(max_steps) <= target_epsilon:
        return max_steps
    lo, hi = 0, 1
    while eps(hi) <= target_epsilon:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if eps(mid) <= target_epsilon:
            lo = mid
        else:
            hi = mid
    return lo
