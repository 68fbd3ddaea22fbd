"""GAN generators and discriminators, and ``build_models(name, ...)`` to make a matched pair.

Every discriminator returns raw outputs of shape ``(N, 1)`` (logits or critic values;
no sigmoid: the losses in :mod:`tapegrad.gan.losses` take logits). Every generator
has ``z_dim`` and ``sample_z(n)``, and maps ``(N, z_dim)`` noise to samples in
[-1, 1] (tanh) for images, or unbounded 2-D points for the mixture models.

Families:

* ``MLPGenerator`` / ``MLPDiscriminator``: the backpropagation and GANs tutorial's
  MNIST GAN, corrected (G z -> 128 LeakyReLU(0.2) -> 784 tanh; D 784 -> 128 -> 64 -> 1 logit).
* ``DCGANGenerator`` / ``DCGANDiscriminator`` (Radford et al. 2016): a 28x28 form
  (7x7 start, two stride-2 layers) and a power-of-two form (16, 32, 64, 128, ...:
  4x4 start, one stride-2 layer per doubling). Layers followed by BatchNorm have
  no bias (BatchNorm's shift replaces it). Weights drawn as in the DCGAN paper
  (:func:`dcgan_init_`).
* ``MixtureGenerator`` / ``MixtureDiscriminator``: the 2-D ring/grid experiments of
  PacGAN (Lin et al. 2018), with packing.
* ``ConditionalGenerator``, ``ConditionalDiscriminator`` (labels concatenated as
  features or channels) and ``ProjectionDiscriminator`` (Miyato & Koyama 2018).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import random as _random
from ..backend import xp
from ..nn import init
from ..nn.activation import LeakyReLU, ReLU, Tanh
from ..nn.containers import Sequential
from ..nn.conv import Conv2d, ConvTranspose2d
from ..nn.embedding import Embedding
from ..nn.linear import Linear
from ..nn.module import Module
from ..nn.normalization import BatchNorm1d, BatchNorm2d
from ..nn.utils.spectral_norm import spectral_norm as _spectral_norm
from ..ops.shape import cat
from ..tensor import Tensor, _wrap

__all__ = [
    "GeneratorBase",
    "MLPGenerator",
    "MLPDiscriminator",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "MixtureGenerator",
    "MixtureDiscriminator",
    "ConditionalGenerator",
    "ConditionalDiscriminator",
    "ProjectionDiscriminator",
    "dcgan_init_",
    "apply_spectral_norm",
    "dcgan_valid_sizes",
    "MODELS",
    "build_models",
]


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


# ------------------------------------------------------------------ generators


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


class ConditionalGenerator(GeneratorBase):
    """``(z (N, z_dim), y (N,) ints) -> samples``: a backbone generator fed ``[z, embed(y)]``.

    Args:
        n_classes: number of labels.
        z_dim: noise size (``z_dim`` of this model; the backbone sees ``z_dim + embed_dim``).
        image_shape: sample shape.
        arch: ``'mlp'`` (an :class:`MLPGenerator` backbone) or ``'dcgan'``
            (a :class:`DCGANGenerator` backbone).
        embed_dim: label embedding size (default ``n_classes``).
        **kw: passed to the backbone (``hidden``, ``ngf``...).
    """

    def __init__(
        self,
        n_classes: int,
        z_dim: int = 100,
        image_shape: Sequence[int] = (1, 28, 28),
        arch: str = "mlp",
        embed_dim: int | None = None,
        **kw: Any,
    ) -> None:
        super().__init__()
        who = "ConditionalGenerator"
        self.n_classes = _positive_int(n_classes, "n_classes", who)
        self.z_dim = _positive_int(z_dim, "z_dim", who)
        self.embed_dim = _positive_int(
            self.n_classes if embed_dim is None else embed_dim, "embed_dim", who
        )
        self.embed = Embedding(self.n_classes, self.embed_dim)
        if arch == "mlp":
            self.backbone: GeneratorBase = MLPGenerator(
                self.z_dim + self.embed_dim, image_shape, **kw
            )
        elif arch == "dcgan":
            self.backbone = DCGANGenerator(self.z_dim + self.embed_dim, image_shape, **kw)
        else:
            raise ValueError(f"{who}: arch must be 'mlp' or 'dcgan', got {arch!r}")
        self.arch = arch
        self.image_shape = self.backbone.image_shape

    def forward(self, z: Tensor, y: Any) -> Tensor:
        """Samples of class ``y`` (N,) from noise ``z`` (N, z_dim): ``(N, *image_shape)``."""
        z = self._check_z(z)
        labels = _check_labels(y, z.shape[0], self.n_classes, "ConditionalGenerator")
        return self.backbone(cat([z, self.embed(labels)], 1))


# ------------------------------------------------------------------ discriminators
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


def _backbone_d(arch: str, image_shape: Any, who: str, **kw: Any) -> Module:
    if arch == "mlp":
        return MLPDiscriminator(image_shape, **kw)
    if arch == "dcgan":
        return DCGANDiscriminator(image_shape, **kw)
    raise ValueError(f"{who}: arch must be 'mlp' or 'dcgan', got {arch!r}")


class ConditionalDiscriminator(Module):
    """``(x, y) -> (N, 1)`` logits, the label given as extra input (cGAN, Mirza & Osindero 2014).

    ``'mlp'``: ``[flatten(x), embed(y)]`` into an :class:`MLPDiscriminator`.
    ``'dcgan'``: ``embed(y)`` broadcast over the image as ``embed_dim`` extra channels,
    into a :class:`DCGANDiscriminator` with ``C + embed_dim`` input channels.

    Args:
        n_classes: number of labels.
        image_shape: the sample shape (``(C, S, S)`` for ``'dcgan'``).
        arch: ``'mlp'`` or ``'dcgan'``.
        embed_dim: label embedding size (default ``n_classes``).
        **kw: passed to the backbone (``hidden``, ``ndf``, ``batch_norm``,
            ``spectral_norm``...). With ``spectral_norm`` the embedding is normalised too.
    """

    def __init__(
        self,
        n_classes: int,
        image_shape: Sequence[int] = (1, 28, 28),
        arch: str = "mlp",
        embed_dim: int | None = None,
        **kw: Any,
    ) -> None:
        super().__init__()
        who = "ConditionalDiscriminator"
        self.n_classes = _positive_int(n_classes, "n_classes", who)
        self.embed_dim = _positive_int(
            self.n_classes if embed_dim is None else embed_dim, "embed_dim", who
        )
        self.image_shape = _shape(image_shape, who)
        self.arch = arch
        self.embed = Embedding(self.n_classes, self.embed_dim)
        if arch == "mlp":
            inner: Any = (math.prod(self.image_shape) + self.embed_dim,)
        elif arch == "dcgan":
            c, s, _ = _dcgan_layout(self.image_shape, who)
            inner = (c + self.embed_dim, s, s)
        else:
            inner = None
        self.backbone = _backbone_d(arch, inner, who, **kw)
        if kw.get("spectral_norm"):
            _spectral_norm(self.embed)

    def forward(self, x: Tensor, y: Any) -> Tensor:
        """``x`` (N, *image_shape), ``y`` (N,) ints -> ``(N, 1)``."""
        who = "ConditionalDiscriminator"
        x = _check_input(x, who, "x")
        n = x.shape[0]
        if x._array.size != n * math.prod(self.image_shape):
            raise ValueError(f"{who}: expected input (N, *{self.image_shape}), got {x.shape}")
        e = self.embed(_check_labels(y, n, self.n_classes, who))
        if self.arch == "mlp":
            return self.backbone(cat([x.reshape(n, -1), e], 1))
        x = x.reshape((n,) + self.image_shape)
        s = self.image_shape[1:]
        maps = e.reshape(n, self.embed_dim, 1, 1).expand(n, self.embed_dim, *s)
        return self.backbone(cat([x, maps], 1))


class ProjectionDiscriminator(Module):
    """The projection discriminator (Miyato & Koyama 2018):
    ``logit = psi(phi(x)) + <embed(y), phi(x)>``.

    ``phi`` is a backbone's ``features`` (for ``'dcgan'`` followed by a sum over the
    spatial positions, the paper's global sum pooling), of size ``feature_dim``;
    ``psi`` is Linear(feature_dim, 1) and ``embed`` an Embedding(n_classes,
    feature_dim) initialised Glorot-uniform as in the authors' code.

    Args:
        n_classes: number of labels.
        image_shape: the sample shape.
        arch: ``'mlp'`` or ``'dcgan'`` feature extractor.
        spectral_norm: spectral normalisation on every layer, psi and the embedding.
        **kw: passed to the backbone (``hidden``, ``ndf``, ``batch_norm``...).
    """

    def __init__(
        self,
        n_classes: int,
        image_shape: Sequence[int] = (1, 28, 28),
        arch: str = "dcgan",
        spectral_norm: bool = False,
        **kw: Any,
    ) -> None:
        super().__init__()
        who = "ProjectionDiscriminator"
        self.n_classes = _positive_int(n_classes, "n_classes", who)
        self.image_shape = _shape(image_shape, who)
        self.arch = arch
        backbone = _backbone_d(arch, self.image_shape, who, **kw)
        self.features = backbone.features
        self.feature_dim = backbone.feature_dim
        self.psi = Linear(self.feature_dim, 1)
        if arch == "dcgan":
            dcgan_init_(self.psi)
        self.embed = Embedding(self.n_classes, self.feature_dim)
        init.xavier_uniform_(self.embed.weight)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor, y: Any) -> Tensor:
        """``x`` (N, *image_shape), ``y`` (N,) ints -> ``(N, 1)``."""
        who = "ProjectionDiscriminator"
        x = _check_input(x, who, "x")
        n = x.shape[0]
        if self.arch == "mlp":
            x = x.reshape(n, -1)
        if x._array.size != n * math.prod(self.image_shape) or (
            self.arch == "dcgan" and tuple(x.shape[1:]) != self.image_shape
        ):
            raise ValueError(f"{who}: expected input (N, *{self.image_shape}), got {x.shape}")
        h = self.features(x)
        if h.ndim == 4:
            h = h.sum((2, 3))
        e = self.embed(_check_labels(y, n, self.n_classes, who))
        return self.psi(h) + (e * h).sum(1, keepdim=True)


# ------------------------------------------------------------------ registry
MODELS = ("mlp", "dcgan", "mixture", "cgan-mlp", "cdcgan", "projection")

_G_ONLY = frozenset({"ngf"})
_D_ONLY = frozenset({"ndf", "pack", "batch_norm", "spectral_norm"})


def _split_kwargs(kw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    g: dict[str, Any] = {}
    d: dict[str, Any] = {}
    for k, v in kw.items():
        if k.startswith("g_"):
            g[k[2:]] = v
        elif k.startswith("d_"):
            d[k[2:]] = v
        elif k in _G_ONLY:
            g[k] = v
        elif k in _D_ONLY:
            d[k] = v
        else:
            g[k] = v
            d[k] = v
    return g, d


def build_models(
    name: str,
    image_shape: Sequence[int],
    z_dim: int,
    n_classes: int | None = None,
    **kw: Any,
) -> tuple[Module, Module]:
    """A generator and a discriminator that fit together: ``(G, D)``.

    Args:
        name: one of :data:`MODELS`: ``'mlp'``, ``'dcgan'``, ``'mixture'``
            (``image_shape=(data_dim,)``), ``'cgan-mlp'``, ``'cdcgan'``,
            ``'projection'`` (a conditional generator, ``arch='dcgan'`` by default,
            with a :class:`ProjectionDiscriminator`).
        image_shape: the sample shape, e.g. ``(1, 28, 28)`` or ``(2,)``.
        z_dim: the noise size.
        n_classes: number of labels (required for the conditional names).
        **kw: keyword arguments for the constructors. A ``g_`` or ``d_`` prefix sends
            one to G or D only (``g_hidden=(256,)``, ``d_hidden=(256, 128)``);
            ``ngf`` goes to G; ``ndf``, ``pack``, ``batch_norm`` and ``spectral_norm``
            to D; anything else to both (``arch``, ``embed_dim``).

    Raises ValueError for an unknown name (listing the valid ones) or a missing
    ``n_classes``.
    """
    if name not in MODELS:
        raise ValueError(f"unknown GAN model {name!r}; valid names: {', '.join(MODELS)}")
    gk, dk = _split_kwargs(kw)
    conditional = name in ("cgan-mlp", "cdcgan", "projection")
    if conditional and n_classes is None:
        raise ValueError(f"build_models: {name!r} is conditional and needs n_classes")
    if name == "mlp":
        return MLPGenerator(z_dim, image_shape, **gk), MLPDiscriminator(image_shape, **dk)
    if name == "dcgan":
        return DCGANGenerator(z_dim, image_shape, **gk), DCGANDiscriminator(image_shape, **dk)
    if name == "mixture":
        shape = _shape(image_shape, "build_models('mixture')", rank=1)
        return (
            MixtureGenerator(z_dim, shape[0], **gk),
            MixtureDiscriminator(shape[0], **dk),
        )
    assert n_classes is not None
    if name == "projection":
        arch = gk.pop("arch", "dcgan")
        dk.pop("arch", None)
        return (
            ConditionalGenerator(n_classes, z_dim, image_shape, arch=arch, **gk),
            ProjectionDiscriminator(n_classes, image_shape, arch=arch, **dk),
        )
    arch = "mlp" if name == "cgan-mlp" else "dcgan"
    return (
        ConditionalGenerator(n_classes, z_dim, image_shape, arch=arch, **gk),
        ConditionalDiscriminator(n_classes, image_shape, arch=arch, **dk),
    )
