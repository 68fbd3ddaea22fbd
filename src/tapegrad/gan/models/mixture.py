"""The 2-D ring/grid models of PacGAN (Lin et al. 2018), with packing."""

from __future__ import annotations

from ...nn.activation import ReLU
from ...nn.containers import Sequential
from ...nn.linear import Linear
from ...nn.module import Module
from ...nn.normalization import BatchNorm1d
from ...tensor import Tensor
from ._base import (
    GeneratorBase,
    _check_input,
    _leaky_stack,
    _positive_int,
    apply_spectral_norm,
)


class MixtureGenerator(GeneratorBase):
    """The PacGAN 2-D generator: ``(N, z_dim) -> (N, data_dim)``.

    ``n_hidden`` layers of Linear(hidden) + BatchNorm1d + ReLU, then Linear(data_dim),
    no output activation (the ring/grid data are unbounded). ``batch_norm=False`` drops
    the BatchNorm (the hidden Linear layers then have biases): training and sampling
    are then the same function, which matters once G maps the noise steeply onto
    separate modes (docs/gan_mixture.md).
    """

    def __init__(
        self,
        z_dim: int = 2,
        data_dim: int = 2,
        hidden: int = 400,
        n_hidden: int = 4,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        who = "MixtureGenerator"
        self.z_dim = _positive_int(z_dim, "z_dim", who)
        self.data_dim = _positive_int(data_dim, "data_dim", who)
        hidden = _positive_int(hidden, "hidden", who)
        layers: list[Module] = []
        d = self.z_dim
        for _ in range(_positive_int(n_hidden, "n_hidden", who)):
            if batch_norm:
                layers += [Linear(d, hidden, bias=False), BatchNorm1d(hidden), ReLU()]
            else:
                layers += [Linear(d, hidden), ReLU()]
            d = hidden
        layers.append(Linear(d, self.data_dim))
        self.net = Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """``(N, z_dim) -> (N, data_dim)``."""
        return self.net(self._check_z(z))


class MixtureDiscriminator(Module):
    """The PacGAN 2-D discriminator: ``pack`` samples in, one logit out.

    ``features``: ``n_hidden`` layers of Linear(hidden) + LeakyReLU (in place of the
    paper's maxout), input ``data_dim * pack``; ``head``: Linear(hidden, 1).
    ``forward`` takes ``(N, data_dim)`` with N divisible by ``pack`` and packs
    consecutive samples (rows ``pack*i .. pack*i + pack - 1`` form packed sample i),
    or an already packed ``(M, data_dim * pack)``; returns ``(N // pack, 1)``.
    """

    def __init__(
        self,
        data_dim: int = 2,
        pack: int = 1,
        hidden: int = 200,
        n_hidden: int = 3,
        negative_slope: float = 0.2,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        who = "MixtureDiscriminator"
        self.data_dim = _positive_int(data_dim, "data_dim", who)
        self.pack = _positive_int(pack, "pack", who)
        hidden = _positive_int(hidden, "hidden", who)
        sizes = [hidden] * _positive_int(n_hidden, "n_hidden", who)
        self.features, self.feature_dim = _leaky_stack(
            self.data_dim * self.pack, sizes, negative_slope
        )
        self.head = Linear(self.feature_dim, 1)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, data_dim)`` (N divisible by pack) or ``(M, data_dim*pack)`` -> ``(M, 1)``."""
        who = "MixtureDiscriminator"
        x = _check_input(x, who, "x")
        width = self.data_dim * self.pack
        if x.ndim == 2 and x.shape[1] == self.data_dim and self.pack > 1:
            if x.shape[0] % self.pack:
                raise ValueError(
                    f"{who}: batch of {x.shape[0]} samples is not divisible by pack={self.pack}"
                )
            x = x.reshape(x.shape[0] // self.pack, width)
        elif x.ndim != 2 or x.shape[1] != width:
            raise ValueError(
                f"{who}: expected input (N, {self.data_dim}) or packed (M, {width}), got {x.shape}"
            )
        return self.head(self.features(x))
