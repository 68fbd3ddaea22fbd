"""DCGAN (Radford et al. 2016): a 28x28 form (7x7 start, two stride-2 layers) and a
power-of-two form (4x4 start, one stride-2 layer per doubling). Layers followed by
BatchNorm have no bias; weights drawn as in the paper (:func:`dcgan_init_`)."""

from __future__ import annotations

from collections.abc import Sequence

from ...nn.activation import LeakyReLU, ReLU, Tanh
from ...nn.containers import Sequential
from ...nn.conv import Conv2d, ConvTranspose2d
from ...nn.linear import Linear
from ...nn.module import Module
from ...nn.normalization import BatchNorm1d, BatchNorm2d
from ...tensor import Tensor
from ._base import (
    GeneratorBase,
    _check_input,
    _dcgan_layout,
    _positive_int,
    apply_spectral_norm,
    dcgan_init_,
)


class DCGANGenerator(GeneratorBase):
    """``(N, z_dim) -> (N, C, S, S)`` in [-1, 1] by transposed convolutions.

    S = 28: Linear(z, 2ngf*7*7) -> BN -> ReLU -> ConvT(2ngf, ngf, 4, 2, 1) -> BN -> ReLU
    -> ConvT(ngf, C, 4, 2, 1) -> tanh.
    S = 2^k >= 16: ConvT(z, ngf*2^(k-3), 4, 1, 0) to 4x4 -> BN -> ReLU, then
    ConvT(4, 2, 1) + BN + ReLU halving the channels per doubling down to ngf at
    S/2, then ConvT(ngf, C, 4, 2, 1) -> tanh (the classic DCGAN: ngf*8 at 4x4 for 64).

    Args:
        z_dim: noise size; ``z`` may also be ``(N, z_dim, 1, 1)``.
        image_shape: ``(C, S, S)``; other sizes raise ValueError at construction.
        ngf: width multiplier (64 in the paper).
        init_weights: apply :func:`dcgan_init_` (default True).
    """

    def __init__(
        self,
        z_dim: int = 100,
        image_shape: Sequence[int] = (1, 28, 28),
        ngf: int = 64,
        init_weights: bool = True,
    ) -> None:
        super().__init__()
        who = "DCGANGenerator"
        self.z_dim = _positive_int(z_dim, "z_dim", who)
        ngf = _positive_int(ngf, "ngf", who)
        c, s, n_up = _dcgan_layout(image_shape, who)
        self.image_shape = (c, s, s)
        self.ngf = ngf
        if n_up == 0:
            self._start: tuple[int, ...] = (2 * ngf, 7, 7)
            self.project: Module | None = Sequential(
                Linear(self.z_dim, 2 * ngf * 49, bias=False), BatchNorm1d(2 * ngf * 49), ReLU()
            )
            self.net = Sequential(
                ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False),
                BatchNorm2d(ngf),
                ReLU(),
                ConvTranspose2d(ngf, c, 4, 2, 1),
                Tanh(),
            )
        else:
            self._start = (self.z_dim, 1, 1)
            self.project = None
            ch = ngf * 2 ** (n_up - 1)
            layers: list[Module] = [
                ConvTranspose2d(self.z_dim, ch, 4, 1, 0, bias=False),
                BatchNorm2d(ch),
                ReLU(),
            ]
            for _ in range(n_up - 1):
                layers += [ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False)]
                layers += [BatchNorm2d(ch // 2), ReLU()]
                ch //= 2
            layers += [ConvTranspose2d(ch, c, 4, 2, 1), Tanh()]
            self.net = Sequential(*layers)
        if init_weights:
            dcgan_init_(self)

    def forward(self, z: Tensor) -> Tensor:
        """``(N, z_dim)`` or ``(N, z_dim, 1, 1)`` -> ``(N, C, S, S)``."""
        z = self._check_z(z)
        h = z if self.project is None else self.project(z)
        return self.net(h.reshape((z.shape[0],) + self._start))


class DCGANDiscriminator(Module):
    """``(N, C, S, S) -> (N, 1)`` logits by strided convolutions.

    S = 28: Conv(C, ndf, 4, 2, 1) -> LeakyReLU(0.2) -> Conv(ndf, 2ndf, 4, 2, 1) -> BN
    -> LeakyReLU -> flatten -> Linear(2ndf*7*7, 1).
    S = 2^k >= 16: Conv(C, ndf, 4, 2, 1) -> LeakyReLU, then Conv(4, 2, 1) + BN +
    LeakyReLU doubling the channels per halving down to 4x4, then Conv(ch, 1, 4, 1, 0).
    ``features`` is the convolutional stack (output ``(N, feature_dim, s, s)``) and
    ``head`` the last layer.

    Args:
        image_shape: ``(C, S, S)``; other sizes raise ValueError at construction.
        ndf: width multiplier (64 in the paper).
        batch_norm: BatchNorm in D (turn off for WGAN-GP, whose penalty is per sample).
        spectral_norm: spectral normalisation on every Conv2d/Linear.
        negative_slope: the LeakyReLU slope.
        init_weights: apply :func:`dcgan_init_` (default True).
    """

    def __init__(
        self,
        image_shape: Sequence[int] = (1, 28, 28),
        ndf: int = 64,
        batch_norm: bool = True,
        spectral_norm: bool = False,
        negative_slope: float = 0.2,
        init_weights: bool = True,
    ) -> None:
        super().__init__()
        who = "DCGANDiscriminator"
        ndf = _positive_int(ndf, "ndf", who)
        c, s, n_up = _dcgan_layout(image_shape, who)
        self.image_shape = (c, s, s)
        self.ndf = ndf

        def block(cin: int, cout: int) -> list[Module]:
            if batch_norm:
                return [Conv2d(cin, cout, 4, 2, 1, bias=False), BatchNorm2d(cout)]
            return [Conv2d(cin, cout, 4, 2, 1)]

        layers: list[Module] = [Conv2d(c, ndf, 4, 2, 1), LeakyReLU(negative_slope)]
        ch = ndf
        for _ in range(1 if n_up == 0 else n_up - 1):
            layers += block(ch, 2 * ch) + [LeakyReLU(negative_slope)]
            ch *= 2
        self.features = Sequential(*layers)
        self.feature_dim = ch
        if n_up == 0:
            self.head: Module = Linear(ch * 49, 1)
        else:
            self.head = Conv2d(ch, 1, 4, 1, 0)
        if init_weights:
            dcgan_init_(self)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, C, S, S) -> (N, 1)``."""
        x = _check_input(x, "DCGANDiscriminator", "x")
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(
                f"DCGANDiscriminator: expected input (N, *{self.image_shape}), got {x.shape}"
            )
        h = self.features(x)
        n = x.shape[0]
        if isinstance(self.head, Linear):
            h = h.reshape(n, -1)
        return self.head(h).reshape(n, 1)
