"""The backpropagation and GANs tutorial's MNIST GAN, corrected: :class:`MLPGenerator`
(z -> 128 LeakyReLU(0.2) -> 784 tanh) and :class:`MLPDiscriminator` (784 -> 128 -> 64 ->
1 logit)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ...nn.activation import LeakyReLU, Tanh
from ...nn.containers import Sequential
from ...nn.linear import Linear
from ...nn.module import Module
from ...tensor import Tensor
from ._base import (
    GeneratorBase,
    _check_input,
    _leaky_stack,
    _positive_int,
    _shape,
    _sizes,
    apply_spectral_norm,
)


class MLPGenerator(GeneratorBase):
    """``(N, z_dim) -> (N, *image_shape)``: Linear + LeakyReLU per hidden size, Linear, tanh.

    Args:
        z_dim: noise size (100 in the tutorial).
        image_shape: output sample shape, e.g. ``(1, 28, 28)``.
        hidden: hidden layer sizes (default ``(128,)``).
        negative_slope: the LeakyReLU slope.
    """

    def __init__(
        self,
        z_dim: int = 100,
        image_shape: Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (128,),
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        who = "MLPGenerator"
        self.z_dim = _positive_int(z_dim, "z_dim", who)
        self.image_shape = _shape(image_shape, who)
        layers: list[Module] = []
        d = self.z_dim
        for h in _sizes(hidden, "hidden sizes", who):
            layers += [Linear(d, h), LeakyReLU(negative_slope)]
            d = h
        layers += [Linear(d, math.prod(self.image_shape)), Tanh()]
        self.net = Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """``(N, z_dim) -> (N, *image_shape)`` in [-1, 1]."""
        z = self._check_z(z)
        return self.net(z).reshape((z.shape[0],) + self.image_shape)


class MLPDiscriminator(Module):
    """``(N, *image_shape)`` or ``(N, prod(image_shape)) -> (N, 1)`` logits.

    ``features``: Linear + LeakyReLU per hidden size (default 128, 64); ``head``:
    Linear(last hidden, 1). ``feature_dim`` is the last hidden size.

    Args:
        image_shape: the sample shape (flattened on input).
        hidden: hidden layer sizes.
        negative_slope: the LeakyReLU slope.
        spectral_norm: spectral normalisation on every Linear.
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (128, 64),
        negative_slope: float = 0.2,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        who = "MLPDiscriminator"
        self.image_shape = _shape(image_shape, who)
        self.in_features = math.prod(self.image_shape)
        sizes = _sizes(hidden, "hidden sizes", who)
        self.features, self.feature_dim = _leaky_stack(self.in_features, sizes, negative_slope)
        self.head = Linear(self.feature_dim, 1)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, ...) -> (N, 1)``; each sample must have ``prod(image_shape)`` elements."""
        x = _check_input(x, "MLPDiscriminator", "x")
        n = x.shape[0]
        if x._array.size != n * self.in_features:
            raise ValueError(
                f"MLPDiscriminator: expected input (N, *{self.image_shape}) or "
                f"(N, {self.in_features}), got {x.shape}"
            )
        return self.head(self.features(x.reshape(n, self.in_features)))
