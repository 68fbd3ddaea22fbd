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


class Generator:
    """A random number generator of its own, like ``torch.Generator``.

    ``g = tapegrad.Generator().manual_seed(42)`` and pass ``generator=g`` to the
    random constructors, ``randperm``, ``random_split``, samplers and
    ``DataLoader``; draws from ``g`` leave the global generator untouched.
    The numbers differ from PyTorch's (a NumPy PCG64 stream).

    Args:
        device: accepted for PyTorch scripts; must be the device tapegrad runs on.
    """

    def __init__(self, device: Any = "cpu") -> None:
        self._seed = 67280421310721  # PyTorch's default seed
        self.numpy = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        """Reseed; returns self."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            raise TypeError(f"Generator.manual_seed expects an int, got {type(seed).__name__}")
        self._seed = int(seed)
        self.numpy = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        """Reseed from the operating system's entropy; returns the new seed."""
        entropy = np.random.SeedSequence().entropy  # a 128-bit int when drawn from the OS
        s = int(entropy) % (2**63)  # type: ignore[arg-type]
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed this generator was last seeded with."""
        return self._seed

    def get_state(self) -> dict[str, Any]:
        """A copy of the NumPy bit generator's state, for ``set_state``."""
        return dict(self.numpy.bit_generator.state)

    def set_state(self, state: dict[str, Any]) -> Generator:
        """Restore a state from ``get_state``; returns this generator."""
        self.numpy.bit_generator.state = state
        return self


def numpy_generator(generator: Any, who: str) -> np.random.Generator:
    """The NumPy generator behind ``generator``: None gives the global one."""
    if generator is None:
        return _generator
    if isinstance(generator, Generator):
        return generator.numpy
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(
        f"{who}: generator must be a tapegrad.Generator or a numpy.random.Generator, "
        f"got {type(generator).__name__}"
    )
