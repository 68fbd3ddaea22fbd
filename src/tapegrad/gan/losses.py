"""GAN objectives and regularisers, on the discriminator's raw outputs.

Every loss takes D's raw outputs (logits for the probabilistic losses, critic values
for WGAN and hinge), of any shape (usually ``(N, 1)``), and returns a 0-d Tensor
that is minimised: ``d_loss(real_out, fake_out)`` by D, ``g_loss(fake_out)`` by G.
Means run over every element. ``get_loss(name)`` returns the pair for a name in
:data:`LOSSES`.

Conventions (D(x) = sigmoid(logit) for the probabilistic losses):

* ``minimax`` (Goodfellow et al. 2014): D minimises
  ``-E[log D(x)] - E[log(1 - D(G(z)))] = E[softplus(-real)] + E[softplus(fake)]``,
  i.e. binary cross-entropy on real (label 1) plus on fake (label 0). The deep
  learning and GANs tutorial (docs/tutorials.md, §3.5.2) writes it with a factor 1/2
  on each term; that halves the loss and its
  gradient but changes neither the optimum nor the direction of the updates, and
  with Adam (scale invariant) not even the steps. We keep the unhalved sum, which
  is also what ``BCEWithLogits(real, 1) + BCEWithLogits(fake, 0)`` gives in PyTorch.
  G minimises the saturating ``E[log(1 - D(G(z)))] = -E[softplus(fake)]``.
* ``ns`` (non-saturating): D as minimax; G minimises ``-E[log D(G(z))] =
  E[softplus(-fake)]`` (that tutorial's "-1/2 E log D(G(z))", without the 1/2).
* ``wgan`` (Arjovsky et al. 2017): D (the critic) minimises ``E[f(fake)] - E[f(real)]``,
  G minimises ``-E[f(fake)]``; keep the critic Lipschitz with :func:`clip_weights_`
  after every critic step (``clip=0.01`` on the registry entry).
* ``wgan-gp`` (Gulrajani et al. 2017): the same losses, plus
  :func:`gradient_penalty` added to D's loss (``penalty="gp"``, ``lambda_=10``).
* ``lsgan`` (Mao et al. 2017, the a=0, b=1, c=1 form): D minimises
  ``0.5 E[(D(x) - 1)^2] + 0.5 E[D(G(z))^2]``, G minimises ``0.5 E[(D(G(z)) - 1)^2]``,
  on the raw outputs (no sigmoid).
* ``hinge`` (Lim & Ye 2017; Miyato et al. 2018): D minimises
  ``E[relu(1 - real)] + E[relu(1 + fake)]``, G minimises ``-E[fake]``.

Regularisers: :func:`gradient_penalty` (WGAN-GP) and :func:`r1_penalty` (Mescheder et
al. 2018). Both differentiate D with ``tapegrad.grad(create_graph=True)``, so their
gradient with respect to D's weights (a double backward) is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import random as _random
from ..autograd.functional import grad as _grad
from ..autograd.grad_mode import no_grad
from ..ops.activation import relu, softplus
from ..tensor import Tensor, _wrap

__all__ = [
    "GANLoss",
    "LOSSES",
    "get_loss",
    "minimax_d_loss",
    "minimax_g_loss",
    "ns_d_loss",
    "ns_g_loss",
    "wgan_d_loss",
    "wgan_g_loss",
    "lsgan_d_loss",
    "lsgan_g_loss",
    "hinge_d_loss",
    "hinge_g_loss",
    "clip_weights_",
    "gradient_penalty",
    "r1_penalty",
]


def _check(out: Any, what: str) -> Tensor:
    if not isinstance(out, Tensor):
        raise TypeError(f"{what}: expected D's output as a tapegrad Tensor, got {type(out)}")
    if out._array.dtype.kind != "f":
        raise TypeError(f"{what}: D's output must be floating, got dtype {out.dtype}")
    if out._array.size == 0:
        raise ValueError(f"{what}: D's output is empty (shape {tuple(out.shape)})")
    return out


# --------------------------------------------------------------- minimax / ns
def minimax_d_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """``-E[log D(x)] - E[log(1 - D(G(z)))]`` from logits: ``E softplus(-real) + E softplus(fake)``.

    Args: logits of D on real and on generated samples (any shapes). Returns a 0-d Tensor.
    """
    _check(real_out, "minimax_d_loss(real_out)")
    _check(fake_out, "minimax_d_loss(fake_out)")
    return softplus(-real_out).mean() + softplus(fake_out).mean()


def minimax_g_loss(fake_out: Tensor) -> Tensor:
    """The saturating generator loss ``E[log(1 - D(G(z)))] = -E softplus(fake)`` (minimised).

    Its gradient vanishes when D confidently rejects the fakes; see :func:`ns_g_loss`.
    """
    _check(fake_out, "minimax_g_loss(fake_out)")
    return -softplus(fake_out).mean()


ns_d_loss = minimax_d_loss


def ns_g_loss(fake_out: Tensor) -> Tensor:
    """The non-saturating generator loss ``-E[log D(G(z))] = E softplus(-fake)``."""
    _check(fake_out, "ns_g_loss(fake_out)")
    return softplus(-fake_out).mean()


# --------------------------------------------------------------- wgan
def wgan_d_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """The critic's loss ``E[f(fake)] - E[f(real)]`` (minus the Wasserstein estimate)."""
    _check(real_out, "wgan_d_loss(real_out)")
    _check(fake_out, "wgan_d_loss(fake_out)")
    return fake_out.mean() - real_out.mean()


def wgan_g_loss(fake_out: Tensor) -> Tensor:
    """The generator's loss ``-E[f(fake)]``."""
    _check(fake_out, "wgan_g_loss(fake_out)")
    return -fake_out.mean()


def clip_weights_(module: Any, c: float = 0.01) -> None:
    """Clamp every parameter of ``module`` to ``[-c, c]`` in place (WGAN's weight clipping).

    Call it after each critic update. Nothing is recorded; ``c`` must be positive.
    """
    if not c > 0:
        raise ValueError(f"clip_weights_: the clipping value c must be positive, got {c}")
    with no_grad():
        for p in module.parameters():
            np.clip(p._array, -c, c, out=p._array)


# --------------------------------------------------------------- lsgan
def lsgan_d_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """``0.5 E[(D(x) - 1)^2] + 0.5 E[D(G(z))^2]`` on raw outputs (targets b=1 real, a=0 fake)."""
    _check(real_out, "lsgan_d_loss(real_out)")
    _check(fake_out, "lsgan_d_loss(fake_out)")
    return ((real_out - 1.0).square().mean() + fake_out.square().mean()) * 0.5


def lsgan_g_loss(fake_out: Tensor) -> Tensor:
    """``0.5 E[(D(G(z)) - 1)^2]`` (target c=1)."""
    _check(fake_out, "lsgan_g_loss(fake_out)")
    return (fake_out - 1.0).square().mean() * 0.5


# --------------------------------------------------------------- hinge
def hinge_d_loss(real_out: Tensor, fake_out: Tensor) -> Tensor:
    """``E[relu(1 - real)] + E[relu(1 + fake)]``."""
    _check(real_out, "hinge_d_loss(real_out)")
    _check(fake_out, "hinge_d_loss(fake_out)")
    return relu(1.0 - real_out).mean() + relu(fake_out + 1.0).mean()


def hinge_g_loss(fake_out: Tensor) -> Tensor:
    """``-E[fake]``."""
    _check(fake_out, "hinge_g_loss(fake_out)")
    return -fake_out.mean()


# --------------------------------------------------------------- penalties
def _per_sample_sq_norm(g: Tensor) -> Tensor:
    """``||g_i||^2`` over all but the first dim: shape ``(N,)``."""
    return g.square().reshape(g.shape[0], -1).sum(1)


def gradient_penalty(
    D: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    lambda_: float = 10.0,
    generator: np.random.Generator | None = None,
    eps: Any = None,
) -> Tensor:
    """WGAN-GP's ``lambda_ * E[(||grad_x D(x_hat)||_2 - 1)^2]``; returns a 0-d Tensor.

    ``x_hat = eps * real + (1 - eps) * fake`` with one ``eps ~ U[0, 1)`` per sample,
    drawn as ``generator.random((N, 1, ..., 1))`` (tapegrad's global generator when
    ``generator`` is None) unless ``eps`` (broadcastable to ``real``) is given. The
    norm is over all dims of a sample. The input gradient is taken with
    ``create_graph=True``, so backward reaches D's weights through it. ``real`` and
    ``fake`` are used as given: pass ``fake.detach()`` in the critic step.

    Args:
        D: the critic (any callable Tensor -> Tensor, e.g. a Module).
        real, fake: ``(N, ...)`` batches of the same shape and floating dtype.
    """
    if tuple(real.shape) != tuple(fake.shape):
        raise ValueError(
            f"gradient_penalty: real {tuple(real.shape)} and fake {tuple(fake.shape)} "
            "must have the same shape"
        )
    if real.ndim < 1 or real.shape[0] == 0:
        raise ValueError(f"gradient_penalty: need a non-empty batch, got {tuple(real.shape)}")
    dt = real._array.dtype
    if eps is None:
        gen = _random.default_generator() if generator is None else generator
        eps = gen.random((real.shape[0],) + (1,) * (real.ndim - 1)).astype(dt)
    e = eps if isinstance(eps, Tensor) else _wrap(np.asarray(eps, dtype=dt))
    x_hat = e * real + (1.0 - e) * fake
    if not x_hat.requires_grad:
        x_hat = x_hat.detach().requires_grad_(True)
    out = D(x_hat)
    (g,) = _grad(out.sum(), x_hat, create_graph=True)
    norm = g.reshape(g.shape[0], -1).norm(2, dim=1)
    return (norm - 1.0).square().mean() * lambda_


def r1_penalty(
    D: Callable[[Tensor], Tensor] | None,
    real: Tensor,
    gamma: float = 10.0,
    real_out: Tensor | None = None,
) -> Tensor:
    """R1 (Mescheder et al. 2018): ``gamma / 2 * E[||grad_x D(x)||^2]`` on real data.

    Returns a 0-d Tensor, differentiable with respect to D's weights (double backward).
    ``real`` that does not require grad is detached and made to require it. To reuse
    D's output from the loss computation, pass ``real_out = D(real)`` where ``real``
    already required grad (D may then be None).
    """
    if real_out is None:
        if D is None:
            raise ValueError("r1_penalty: pass D, or real_out = D(real)")
        if not real.requires_grad:
            real = real.detach().requires_grad_(True)
        real_out = D(real)
    elif not real.requires_grad:
        raise ValueError(
            "r1_penalty: real_out was given but real does not require grad; call "
            "real.requires_grad_() before D(real)"
        )
    (g,) = _grad(real_out.sum(), real, create_graph=True)
    return _per_sample_sq_norm(g).mean() * (0.5 * gamma)


# --------------------------------------------------------------- registry
class GANLoss:
    """A named pair of objectives and what the training loop must add.

    Attributes:
        name: the registry name.
        d_loss: ``(real_out, fake_out) -> 0-d Tensor``, minimised by D.
        g_loss: ``fake_out -> 0-d Tensor``, minimised by G.
        penalty: ``"gp"`` when :func:`gradient_penalty` belongs in D's loss, else None.
        lambda_: the penalty weight (for ``"gp"``).
        clip: the weight-clipping value for :func:`clip_weights_` after each D step,
            or None.
    """

    def __init__(
        self,
        name: str,
        d_loss: Callable[[Tensor, Tensor], Tensor],
        g_loss: Callable[[Tensor], Tensor],
        penalty: str | None = None,
        lambda_: float = 0.0,
        clip: float | None = None,
    ) -> None:
        self.name = name
        self.d_loss = d_loss
        self.g_loss = g_loss
        self.penalty = penalty
        self.lambda_ = lambda_
        self.clip = clip

    def __repr__(self) -> str:
        extra = ""
        if self.penalty:
            extra += f", penalty={self.penalty!r}, lambda_={self.lambda_}"
        if self.clip is not None:
            extra += f", clip={self.clip}"
        return f"GANLoss({self.name!r}{extra})"


LOSSES: dict[str, GANLoss] = {
    "minimax": GANLoss("minimax", minimax_d_loss, minimax_g_loss),
    "ns": GANLoss("ns", ns_d_loss, ns_g_loss),
    "wgan": GANLoss("wgan", wgan_d_loss, wgan_g_loss, clip=0.01),
    "wgan-gp": GANLoss("wgan-gp", wgan_d_loss, wgan_g_loss, penalty="gp", lambda_=10.0),
    "lsgan": GANLoss("lsgan", lsgan_d_loss, lsgan_g_loss),
    "hinge": GANLoss("hinge", hinge_d_loss, hinge_g_loss),
}


def get_loss(name: str) -> GANLoss:
    """The :class:`GANLoss` registered as ``name``; unknown names raise ValueError."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown GAN loss {name!r}; valid names: {', '.join(LOSSES)}") from None
