"""A differentially private conditional GAN: ``train_dp_gan``.

Only the discriminator D ever sees real data, so only D's updates are made
private (as in DP-GAN and GS-WGAN): each D step is a DP-SGD step on a
Poisson-sampled batch of real images (with their labels) beside a batch of
generated ones. The generator G learns only through D, so G, its samples and
everything computed from them are post-processing of D's private updates and
carry the same (epsilon, delta) guarantee.

Following "Private GANs, revisited" (Bie, Kamath and Zhang, 2023) the recipe
takes many D steps per G step (``d_steps_per_g``), keeps D small, and spends
the budget on a fixed number of D steps: the noise multiplier is the smallest
whose epsilon after ``d_steps`` steps is ``epsilon``. Training stops when that
budget is spent (or earlier at ``max_seconds``, with the epsilon actually
spent recorded).

G is conditional (``ConditionalGenerator``), so the synthetic data carries
labels; D is a projection discriminator of Linear layers with no BatchNorm.
Without ``epsilon`` (``None``) the same recipe trains without clipping or
noise: the non-private reference.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import random as _random
from .._atomic import atomic_write_bytes
from ..autograd.functional import grad as _grad
from ..autograd.grad_mode import no_grad
from ..gan.models import ConditionalGenerator, ProjectionDiscriminator
from ..nn import init
from ..nn.activation import LeakyReLU
from ..nn.containers import Sequential
from ..nn.conv import Conv2d
from ..nn.embedding import Embedding
from ..nn.linear import Linear
from ..nn.module import Module
from ..ops.loss import binary_cross_entropy_with_logits
from ..optim.adam import Adam
from ..serialization import save
from ..tensor import Tensor, _wrap
from .accountant import compute_epsilon, noise_multiplier_for_epsilon
from .optimizer import DPOptimizer, PoissonSampler

__all__ = ["DPGANConfig", "train_dp_gan", "synthesize", "load_mnist_for_dp"]


@dataclass
class DPGANConfig:
    """Everything that defines a private GAN run (recorded in its ``config.json``).

    Attributes:
        epsilon: the privacy budget; None trains without privacy.
        delta: the delta of (epsilon, delta)-DP (keep it below 1 / dataset size).
        d_steps: how many D steps the budget is spread over.
        d_steps_per_g: D steps per G step.
        batch_size: the expected real batch (Poisson sampling rate
            ``batch_size / N``); also the number of generated samples per step.
        max_grad_norm: C, the per-sample clipping norm of D's gradient.
        noise_multiplier: sigma; None picks the smallest that spends ``epsilon``
            in ``d_steps`` steps.
        z_dim, g_hidden: G's noise size and hidden widths (an MLP).
        d_arch: ``'conv'`` (:class:`SmallConvDiscriminator`, channels ``d_hidden``)
            or ``'mlp'`` (a projection discriminator with hidden widths ``d_hidden``).
        lr_g, lr_d, betas: Adam settings of both players.
        drift: weight of a per-sample penalty ``drift * logit^2`` on D's logits
            (real and fake), which keeps them from growing without bound when the
            noisy D separates real from fake; it is part of each sample's loss,
            so it is clipped with it.
        ema: exponential moving average of G's weights used for sampling (0: off).
        max_seconds: stop earlier after this much wall time (None: no limit).
        seed: seeds the models, the batches and the generated samples.
        noise_seed: seeds D's privacy noise; None (the default) draws it from
            fresh operating-system entropy, as a real release must: noise that
            can be regenerated from a known seed protects nothing.
        accountant: ``'rdp'`` or ``'pld'``.
    """

    epsilon: float | None = 10.0
    delta: float = 1e-5
    d_steps: int = 12000
    d_steps_per_g: int = 4
    batch_size: int = 1024
    max_grad_norm: float = 1.0
    noise_multiplier: float | None = None
    z_dim: int = 64
    g_hidden: tuple[int, ...] = (256, 512)
    d_arch: str = "mlp"
    d_hidden: tuple[int, ...] = (256, 128)
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    drift: float = 0.0
    betas: tuple[float, float] = (0.5, 0.999)
    ema: float = 0.999
    max_seconds: float | None = None
    seed: int = 0
    noise_seed: int | None = None
    accountant: str = "rdp"
    log_every: int = 500

    def check(self) -> None:
        """Raise ValueError naming the first bad field."""
        who = "DPGANConfig"
        if self.epsilon is not None and not self.epsilon > 0:
            raise ValueError(f"{who}: epsilon must be > 0 (or None), got {self.epsilon!r}")
        if not 0 < self.delta < 1:
            raise ValueError(f"{who}: delta must be in (0, 1), got {self.delta!r}")
        for name in ("d_steps", "d_steps_per_g", "batch_size", "z_dim", "log_every"):
            v = getattr(self, name)
            if not (isinstance(v, int) and v > 0):
                raise ValueError(f"{who}: {name} must be a positive int, got {v!r}")
        if not self.max_grad_norm > 0:
            raise ValueError(f"{who}: max_grad_norm must be > 0, got {self.max_grad_norm!r}")
        if self.noise_multiplier is not None and not self.noise_multiplier > 0:
            raise ValueError(f"{who}: noise_multiplier must be > 0, got {self.noise_multiplier!r}")
        if self.d_arch not in ("conv", "mlp"):
            raise ValueError(f"{who}: d_arch must be 'conv' or 'mlp', got {self.d_arch!r}")
        if self.d_arch == "conv" and len(self.d_hidden) != 2:
            raise ValueError(f"{who}: d_arch 'conv' takes two channel counts, got {self.d_hidden}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"{who}: ema must be in [0, 1), got {self.ema!r}")


def load_mnist_for_dp(root: str | os.PathLike[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's 60,000 training images scaled to [-1, 1] (N, 1, 28, 28) float32, labels (N,).

    ``root`` (or ``$TAPEGRAD_DATA``) is where the files are looked for.
    """
    from ..data.mnist import load_mnist_arrays

    images, labels = load_mnist_arrays(train=True, root=root)
    x = images.astype(np.float32)[:, None] / np.float32(127.5) - np.float32(1.0)
    return x, labels.astype(np.int64)


def _d_loss(out: Tensor, target: Any) -> Tensor:
    """Summed logistic loss of D's logits (N, 1) against 1 (real) / 0 (fake)."""
    return binary_cross_entropy_with_logits(out.reshape(-1), target, reduction="sum")


def _d_loss_with_drift(drift: float) -> Callable[[Tensor, Any], Tensor]:
    if drift == 0:
        return _d_loss

    def loss(out: Tensor, target: Any) -> Tensor:
        return _d_loss(out, target) + drift * (out * out).sum()

    return loss


class SmallConvDiscriminator(Module):
    """A small conditional D for 28x28 images, without normalisation layers.

    ``h = flatten(LeakyReLU(Conv(c2, 4, 2, 1)(LeakyReLU(Conv(c1, 4, 2, 1)(x)))))``
    (N, c2 * 7 * 7); ``logit = psi(h) + <embed(y), h>`` (the projection
    discriminator's conditioning, with spatial positions kept). Few parameters
    (26,000 at c1, c2 = 16, 32) keep the DP noise per parameter small.
    """

    def __init__(
        self, n_classes: int, image_shape: tuple[int, ...] = (1, 28, 28), channels=(16, 32)
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        if (h, w) != (28, 28):
            raise ValueError(f"SmallConvDiscriminator: needs 28x28 images, got {image_shape}")
        c1, c2 = channels
        self.features = Sequential(
            Conv2d(c, c1, 4, 2, 1), LeakyReLU(0.2), Conv2d(c1, c2, 4, 2, 1), LeakyReLU(0.2)
        )
        self.feature_dim = c2 * 49
        self.psi = Linear(self.feature_dim, 1)
        self.embed = Embedding(n_classes, self.feature_dim)
        init.xavier_uniform_(self.embed.weight)

    def forward(self, x: Tensor, y: Any) -> Tensor:
        """``x`` (N, C, 28, 28), ``y`` (N,) ints -> logits (N, 1)."""
        h = self.features(x).reshape(x.shape[0], self.feature_dim)
        return self.psi(h) + (self.embed(y) * h).sum(1, keepdim=True)


def _build(cfg: DPGANConfig, n_classes: int, image_shape: tuple[int, ...]) -> tuple[Module, Module]:
    G = ConditionalGenerator(
        n_classes, z_dim=cfg.z_dim, image_shape=image_shape, arch="mlp", hidden=cfg.g_hidden
    )
    D: Module
    if cfg.d_arch == "conv":
        D = SmallConvDiscriminator(n_classes, image_shape, tuple(cfg.d_hidden))
    else:
        D = ProjectionDiscriminator(
            n_classes, image_shape=image_shape, arch="mlp", hidden=cfg.d_hidden
        )
    return G, D


class _EMA:
    """A moving average of G's parameters, swapped in for sampling."""

    def __init__(self, G: Module, decay: float) -> None:
        self.decay = decay
        self.params = list(G.parameters())
        self.shadow = [p._array.copy() for p in self.params]
        self.updates = 0

    def update(self) -> None:
        # The decay ramps up as (1 + t) / (10 + t) so that a short run's average
        # does not keep most of the random initial weights.
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for s, p in zip(self.shadow, self.params):
            s += (1 - d) * (p._array - s)

    def copy_to(self, G: Module) -> None:
        for s, p in zip(self.shadow, G.parameters()):
            p._array[...] = s


def synthesize(
    G: Module, n_per_class: int, n_classes: int = 10, seed: int = 0, batch: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    """``n_per_class`` samples of each class from a conditional G.

    Returns:
        images (n_classes * n_per_class, *image_shape) float32 in [-1, 1], labels (same N,).
    """
    gen = np.random.Generator(np.random.PCG64(seed))
    labels = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    out = []
    with no_grad():
        for i in range(0, labels.shape[0], batch):
            y = labels[i : i + batch]
            z = G.sample_z(y.shape[0], gen)
            out.append(np.asarray(G(z, _wrap(y)).data, dtype=np.float32))
    return np.concatenate(out), labels


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=str) + "\n").encode())


def train_dp_gan(
    cfg: DPGANConfig,
    images: np.ndarray,
    labels: np.ndarray,
    out_dir: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Module, Module, dict[str, Any]]:
    """Train a conditional GAN whose D is trained with DP-SGD (or without privacy).

    Args:
        cfg: the recipe.
        images: private training images (N, C, H, W) float32 in [-1, 1].
        labels: their classes (N,) ints in [0, n_classes).
        out_dir: if given, ``config.json`` (the recipe, the privacy spent, the
            time), ``G.safetensors`` (the EMA generator) and ``log.jsonl`` go there.
        log: called with one progress line every ``cfg.log_every`` D steps.

    Returns:
        (G, D, report): G with the EMA weights swapped in, D, and the report dict
        (``epsilon``, ``delta``, ``noise_multiplier``, ``sample_rate``,
        ``d_steps_done``, ``g_steps_done``, ``wall_s``, ``cpu_s``...).
    """
    cfg.check()
    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    if images.ndim != 4 or labels.shape != (images.shape[0],):
        raise ValueError(
            f"train_dp_gan: images must be (N, C, H, W) with labels (N,), got "
            f"{images.shape} and {labels.shape}"
        )
    n = images.shape[0]
    n_classes = int(labels.max()) + 1
    q = cfg.batch_size / n
    if not q <= 1:
        raise ValueError(f"train_dp_gan: batch_size {cfg.batch_size} exceeds the {n} images")
    private = cfg.epsilon is not None
    if private and cfg.delta >= 1 / n:
        raise ValueError(f"train_dp_gan: delta {cfg.delta} must be below 1/N = {1 / n:.2g}")
    sigma = 0.0
    if private:
        assert cfg.epsilon is not None
        sigma = (
            cfg.noise_multiplier
            if cfg.noise_multiplier is not None
            else noise_multiplier_for_epsilon(
                cfg.epsilon,
                sample_rate=q,
                steps=cfg.d_steps,
                delta=cfg.delta,
                accountant=cfg.accountant,
            )
        )
    _random.manual_seed(cfg.seed)
    G, D = _build(cfg, n_classes, tuple(images.shape[1:]))
    opt_g = Adam(G.parameters(), lr=cfg.lr_g, betas=cfg.betas)
    opt_d = Adam(D.parameters(), lr=cfg.lr_d, betas=cfg.betas)
    d_loss = _d_loss_with_drift(cfg.drift)
    noise_rng = np.random.default_rng(cfg.noise_seed)  # None: OS entropy
    dp = DPOptimizer(opt_d, cfg.max_grad_norm, sigma, cfg.batch_size, generator=noise_rng)
    sampler = PoissonSampler(n, q, generator=cfg.seed + 2)
    fake_rng = np.random.Generator(np.random.PCG64(cfg.seed + 3))
    ema = _EMA(G, cfg.ema) if cfg.ema > 0 else None
    b = cfg.batch_size
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    logf = open(out / "log.jsonl", "w") if out is not None else None  # noqa: SIM115
    t0, c0 = time.perf_counter(), time.process_time()
    d_done = g_done = 0
    stopped = "budget spent" if private else "step count reached"
    try:
        while d_done < cfg.d_steps:
            if cfg.max_seconds is not None and time.perf_counter() - t0 > cfg.max_seconds:
                stopped = f"time limit {cfg.max_seconds:g} s"
                break
            idx = sampler.sample()
            y_fake = fake_rng.integers(0, n_classes, b)
            with no_grad():
                x_fake = G(G.sample_z(b, fake_rng), _wrap(y_fake)).data
            x = _wrap(np.concatenate([images[idx], x_fake]))
            y = _wrap(np.concatenate([labels[idx], y_fake]))
            target = _wrap(np.concatenate([np.ones(len(idx)), np.zeros(b)]).astype(np.float32))
            if private:
                dp.zero_grad()
                dp.private_step(D, d_loss, (x, y), target)
            else:
                opt_d.zero_grad()
                (d_loss(D(x, y), target) / b).backward()
                opt_d.step()
            d_done += 1
            if d_done % cfg.d_steps_per_g == 0:
                yg = _wrap(fake_rng.integers(0, n_classes, b))
                logits = D(G(G.sample_z(b, fake_rng), yg), yg).reshape(-1)
                loss_g = binary_cross_entropy_with_logits(logits, _wrap(np.ones(b, np.float32)))
                gs = _grad(loss_g, list(G.parameters()))
                for p, g in zip(G.parameters(), gs):
                    p.grad = g
                opt_g.step()
                g_done += 1
                if ema is not None:
                    ema.update()
            if d_done % cfg.log_every == 0 or d_done == cfg.d_steps:
                rec = {
                    "d_step": d_done,
                    "g_step": g_done,
                    "wall_s": round(time.perf_counter() - t0, 1),
                    "real_batch": int(len(idx)),
                    "d_norm_median": float(np.median(dp.last_norms))
                    if private and dp.last_norms is not None and dp.last_norms.size
                    else None,
                }
                if private:
                    rec["epsilon"] = compute_epsilon(
                        noise_multiplier=sigma,
                        sample_rate=q,
                        steps=d_done,
                        delta=cfg.delta,
                        accountant=cfg.accountant,
                    )
                log(json.dumps(rec))
                if logf is not None:
                    logf.write(json.dumps(rec) + "\n")
                    logf.flush()
    finally:
        if logf is not None:
            logf.close()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    spent = (
        compute_epsilon(
            noise_multiplier=sigma,
            sample_rate=q,
            steps=d_done,
            delta=cfg.delta,
            accountant=cfg.accountant,
        )
        if private
        else math.inf
    )
    if ema is not None:
        ema.copy_to(G)
    report = {
        "config": asdict(cfg),
        "private": private,
        "epsilon": spent if private else None,
        "target_epsilon": cfg.epsilon,
        "delta": cfg.delta if private else None,
        "noise_multiplier": sigma,
        "sample_rate": q,
        "sampling": "Poisson",
        "accountant": cfg.accountant if private else None,
        "d_steps_done": d_done,
        "g_steps_done": g_done,
        "stopped": stopped,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "n_train": n,
    }
    if out is not None:
        save(G.state_dict(), out / "G.safetensors")
        save(D.state_dict(), out / "D.safetensors")
        _write_json(out / "config.json", report)
    return G, D, report
