"""tapegrad's random number generator.

One global :class:`numpy.random.Generator` feeds every random draw in
tapegrad (``rand``, ``randn``, initialisers, dropout masks, data shuffling that
is not given its own generator), so :func:`manual_seed` makes a run
reproducible.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_generator = np.random.Generator(np.random.PCG64(0))


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator; returns it."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    _generator = np.random.Generator(np.random.PCG64(int(seed)))
    return _generator


def default_generator() -> np.random.Generator:
    """The global generator (changes identity after :func:`manual_seed`)."""
    return _generator


def get_rng_state() -> dict[str, Any]:
    """A picklable snapshot of the global generator's state."""
    return dict(_generator.bit_generator.state)


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a state returned by :func:`get_rng_state`."""
    _generator.bit_generator.state = state
