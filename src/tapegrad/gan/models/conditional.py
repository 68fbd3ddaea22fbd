"""Conditional models: :class:`ConditionalGenerator`, :class:`ConditionalDiscriminator`
(labels concatenated as features or channels) and :class:`ProjectionDiscriminator`
(Miyato & Koyama 2018)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...nn import init
from ...nn.embedding import Embedding
from ...nn.linear import Linear
from ...nn.module import Module
from ...nn.utils.spectral_norm import spectral_norm as _spectral_norm
from ...ops.shape import cat
from ...tensor import Tensor
from ._base import (
    GeneratorBase,
    _check_input,
    _check_labels,
    _dcgan_layout,
    _positive_int,
    _shape,
    apply_spectral_norm,
    dcgan_init_,
)
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .mlp import MLPDiscriminator, MLPGenerator


def balanced_labels(n: int, n_classes: int) -> np.ndarray:
    """int64 ``(n,)`` labels for sampling a conditional G: every class in equal sorted
    blocks (sizes differing by at most one), so a grid of ``n_classes**2`` samples,
    ``n_classes`` a row, shows class r in row r."""
    return (np.arange(n) * n_classes // n).astype(np.int64)


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
