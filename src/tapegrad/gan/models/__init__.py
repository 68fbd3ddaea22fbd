"""GAN generators and discriminators, and ``build_models(name, ...)`` to make a matched pair.

Every discriminator returns raw outputs of shape ``(N, 1)`` (logits or critic values;
no sigmoid: the losses in :mod:`tapegrad.gan.losses` take logits). Every generator
has ``z_dim`` and ``sample_z(n)``, and maps ``(N, z_dim)`` noise to samples in
[-1, 1] (tanh) for images, or unbounded 2-D points for the mixture models.

Families:

* ``MLPGenerator`` / ``MLPDiscriminator``: the backpropagation and GANs tutorial's
  MNIST GAN, corrected (G z -> 128 LeakyReLU(0.2) -> 784 tanh; D 784 -> 128 -> 64 -> 1).
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

from collections.abc import Sequence
from typing import Any

from ...nn.module import Module
from ._base import (
    GeneratorBase,
    _shape,
    apply_spectral_norm,
    dcgan_init_,
    dcgan_valid_sizes,
)
from .conditional import (
    ConditionalDiscriminator,
    ConditionalGenerator,
    ProjectionDiscriminator,
    balanced_labels,
)
from .dcgan import DCGANDiscriminator, DCGANGenerator
from .mixture import MixtureDiscriminator, MixtureGenerator
from .mlp import MLPDiscriminator, MLPGenerator

__all__ = [
    "GeneratorBase",
    "balanced_labels",
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
    "CONDITIONAL_MODELS",
    "DCGAN_D_MODELS",
    "build_models",
]

# ------------------------------------------------------------------ registry
MODELS = ("mlp", "dcgan", "mixture", "cgan-mlp", "cdcgan", "projection")
#: the names whose models take labels: ``G(z, y)``, ``D(x, y)``
CONDITIONAL_MODELS = ("cgan-mlp", "cdcgan", "projection")
#: the names whose D is a DCGANDiscriminator (batch norm in D mixes a batch's samples)
DCGAN_D_MODELS = ("dcgan", "cdcgan", "projection")

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
    conditional = name in CONDITIONAL_MODELS
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
