"""What the GAN model families share: argument checks, DCGAN initialisation and sizes,
spectral norm on every layer, and :class:`GeneratorBase`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ... import random as _random
from ...backend import xp
from ...nn import init
from ...nn.activation import LeakyReLU
from ...nn.containers import Sequential
from ...nn.conv import Conv2d, ConvTranspose2d
from ...nn.embedding import Embedding
from ...nn.linear import Linear
from ...nn.module import Module
from ...nn.normalization import BatchNorm1d, BatchNorm2d
from ...nn.utils.spectral_norm import spectral_norm as _spectral_norm
from ...tensor import Tensor, _wrap


# ------------------------------------------------------------------ helpers
def _positive_int(v: Any, what: str, who: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError(f"{who}: {what} must be a positive int, got {v!r}")
    return int(v)


def _shape(v: Any, who: str, rank: int | None = None) -> tuple[int, ...]:
    if isinstance(v, (int, np.integer)):
        v = (v,)
    try:
        shape = tuple(v)
    except TypeError:
        raise ValueError(f"{who}: image_shape must be a tuple of ints, got {v!r}") from None
    if not shape or any(
        isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s <= 0 for s in shape
    ):
        raise ValueError(f"{who}: image_shape must be positive ints, got {v!r}")
    if rank is not None and len(shape) != rank:
        raise ValueError(f"{who}: image_shape must have {rank} entries, got {shape}")
    return tuple(int(s) for s in shape)


def _sizes(v: Any, what: str, who: str) -> tuple[int, ...]:
    if isinstance(v, (int, np.integer)):
        v = (v,)
    return tuple(_positive_int(s, what, who) for s in v)


def _check_input(x: Any, who: str, what: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: expected {what} as a tapegrad Tensor, got {type(x).__name__}")
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"{who}: expected a non-empty batch, got {what} of shape {x.shape}")
    return x


def _check_labels(y: Any, n: int, n_classes: int, who: str) -> Any:
    """``y`` as an int array of shape ``(n,)`` with values in ``[0, n_classes)``."""
    arr = y._array if isinstance(y, Tensor) else xp.asarray(y)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{who}: labels must be integers, got dtype {arr.dtype}")
    if arr.shape != (n,):
        raise ValueError(
            f"{who}: labels must have shape ({n},) for a batch of {n}, got {arr.shape}"
        )
    if n and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(
            f"{who}: labels must be in [0, {n_classes}), got values in [{arr.min()}, {arr.max()}]"
        )
    return arr


def dcgan_init_(module: Module) -> Module:
    """The DCGAN paper's initialisation, in place; returns ``module``.

    Conv2d, ConvTranspose2d and Linear weights from N(0, 0.02) with zero bias;
    BatchNorm weights from N(1, 0.02) with zero bias (the PyTorch DCGAN example's
    ``weights_init``, extended to Linear). Draws from tapegrad's global generator.
    """
    for m in module.modules():
        if isinstance(m, (Conv2d, ConvTranspose2d, Linear)):
            w = m._parameters.get("weight")
            if w is None:  # spectral norm already applied: initialise the raw weight
                w = m._parameters["weight_orig"]
            assert w is not None
            init.normal_(w, 0.0, 0.02)
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, (BatchNorm1d, BatchNorm2d)):
            if m.weight is not None:
                init.normal_(m.weight, 1.0, 0.02)
            if m.bias is not None:
                init.zeros_(m.bias)
    return module


def apply_spectral_norm(module: Module) -> Module:
    """:func:`~tapegrad.nn.utils.spectral_norm` on every Linear, Conv2d, ConvTranspose2d
    and Embedding inside ``module`` (in place); returns ``module``."""
    for m in list(module.modules()):
        if isinstance(m, (Linear, Conv2d, ConvTranspose2d, Embedding)):
            _spectral_norm(m)
    return module


def dcgan_valid_sizes(limit: int = 256) -> list[int]:
    """The image sizes the DCGAN models accept, up to ``limit``: 28 and powers of two >= 16."""
    return sorted({28} | {2**k for k in range(4, int(math.log2(max(limit, 16))) + 1)})


def _dcgan_layout(image_shape: Any, who: str) -> tuple[int, int, int]:
    """``(channels, size, n_up)`` for a DCGAN image shape; n_up = stride-2 layers (0: 28 form)."""
    shape = _shape(image_shape, who, rank=3)
    c, h, w = shape
    if h != w:
        raise ValueError(f"{who}: images must be square, got image_shape {shape}")
    valid = "28 or a power of two >= 16 (16, 32, 64, 128, ...)"
    if h == 28:
        return c, h, 0
    if h < 16 or h & (h - 1):
        raise ValueError(f"{who}: image size {h} is not supported; valid sizes are {valid}")
    return c, h, int(math.log2(h)) - 2


def _leaky_stack(in_dim: int, sizes: Sequence[int], slope: float) -> tuple[Sequential, int]:
    """Linear + LeakyReLU layers of the given widths; returns them and the last width."""
    layers: list[Module] = []
    d = in_dim
    for h in sizes:
        layers += [Linear(d, h), LeakyReLU(slope)]
        d = h
    return Sequential(*layers), d


class GeneratorBase(Module):
    """What every generator shares: ``z_dim`` and :meth:`sample_z`."""

    z_dim: int

    def sample_z(
        self, n: int, generator: np.random.Generator | None = None, dtype: Any = None
    ) -> Tensor:
        """``(n, z_dim)`` standard normal noise in the model's dtype (or ``dtype``)."""
        gen = _random.default_generator() if generator is None else generator
        if dtype is None:
            p = next(self.parameters(), None)
            dtype = p.dtype if p is not None else np.float32
        return _wrap(xp.asarray(gen.standard_normal((n, self.z_dim))).astype(dtype))

    def _check_z(self, z: Any) -> Tensor:
        who = type(self).__name__
        _check_input(z, who, "z")
        if z.ndim == 4 and z.shape[2:] == (1, 1):
            z = z.reshape(z.shape[0], z.shape[1])
        if z.ndim != 2 or z.shape[1] != self._in_dim:
            raise ValueError(f"{who}: expected z of shape (N, {self._in_dim}), got {z.shape}")
        return z

    @property
    def _in_dim(self) -> int:
        return self.z_dim
