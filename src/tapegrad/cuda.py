"""``tapegrad.cuda``: whether tensors can live on a CUDA GPU in this process.

True only when tapegrad runs on the CuPy backend (``TAPEGRAD_BACKEND=cupy``)
and CuPy sees a GPU. With the NumPy backend it is False even on a machine with
a GPU, because tensors cannot be moved there; ``.cuda()`` and
``.to("cuda")`` then raise an error saying so.
"""

from __future__ import annotations

from . import backend

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all"]


def device_count() -> int:
    """How many GPUs tensors can use: 1 under CuPy with a GPU, else 0."""
    if backend.name != "cupy":
        return 0
    try:  # pragma: no cover - needs a GPU
        return 1 if backend.xp.cuda.runtime.getDeviceCount() > 0 else 0
    except Exception:  # pragma: no cover - CuPy without a usable driver
        return 0


def is_available() -> bool:
    """Whether ``.cuda()`` can work here (see the module docstring)."""
    return device_count() > 0


def manual_seed(seed: int) -> None:
    """Accepted for PyTorch scripts; no effect, as in PyTorch without CUDA.

    tapegrad draws every random number from its one generator, seeded by
    :func:`tapegrad.manual_seed`, whichever backend computes.
    """


def manual_seed_all(seed: int) -> None:
    """Accepted for PyTorch scripts; no effect (see :func:`manual_seed`)."""
