"""Turning a ``generator`` argument into a NumPy Generator."""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import random as _random


def resolve_generator(generator: Any, who: str) -> np.random.Generator:
    """``generator`` as a :class:`numpy.random.Generator`.

    ``None`` gives tapegrad's global generator (looked up now, so a later
    :func:`tapegrad.manual_seed` is honoured); an ``int`` seeds a fresh PCG64;
    a NumPy Generator is used as it is, a :class:`tapegrad.Generator` through
    its NumPy generator.
    """
    if generator is None:
        return _random.default_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, _random.Generator):
        return generator.numpy
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.Generator(np.random.PCG64(int(generator)))
    raise TypeError(
        f"{who}: generator must be None, an int seed, a tapegrad.Generator or a "
        f"numpy.random.Generator, "
        f"got {type(generator).__name__}"
    )
