"""E2 (the backpropagation and GANs tutorial, §4.2): a fully connected GAN on MNIST.

What the tutorial intended: generator z(100) -> 128 leaky ReLU -> 784 tanh ->
28x28; discriminator 784 -> 128 leaky ReLU -> 64 leaky ReLU -> 1 sigmoid; Adam
with learning rate 2e-4 and beta1 0.5; batch 128; uniform noise; the minimax
game of the backpropagation and GANs tutorial, §3.2.

What was wrong: ``tf.loglikelihood`` does not exist; the discriminator's loss
only ever sees real images (no fakes), so there is no game; the generator's
loss does not pass through the discriminator; images are scaled to [0, 1]
while the generator's tanh emits [-1, 1] (D could tell them apart by range
alone); the placeholders are never fed; the code is TensorFlow 1 API.

What this script does: the same architecture in tapegrad, with
- images scaled to [-1, 1], the generator's range;
- D's last layer emitting a logit, and the sigmoid folded into a
  binary-cross-entropy-with-logits loss (numerically stable);
- D's loss on real (label 1) AND generated (label 0) images,
  ``L_D = -1/2 E[log D(x)] - 1/2 E[log(1 - D(G(z)))]``; fakes are detached so the
  D step does not touch G;
- G's non-saturating loss ``L_G = -1/2 E[log D(G(z))]``, through a fresh forward
  pass of the just-updated D;
- noise z uniform in [-1, 1] (``--noise normal`` for N(0, 1)).

It trains for ``--steps`` steps (a short default; a few thousand steps give
recognisable digits), reports D(x), D(G(z)) and both losses, and saves a grid of
samples (PNG if Pillow is installed, else ``.npy``). Data: the MNIST training
split if found (``--data``, ``$TAPEGRAD_DATA`` or the cache), else the test
split shipped with tapegrad. tapegrad will get a full GAN toolkit
(``tapegrad.gan``); this example is deliberately self-contained.

Run:  python examples/seeds/e02_mnist_gan.py [--steps 200] [--out samples] [--data DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import nn, optim

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seedutil import mnist_scaled, save_grid  # noqa: E402

Z_DIM = 100


def build_generator(z_dim: int = Z_DIM) -> nn.Sequential:
    """``(N, z_dim) -> (N, 1, 28, 28)`` in [-1, 1]."""
    return nn.Sequential(
        nn.Linear(z_dim, 128),
        nn.LeakyReLU(0.2),
        nn.Linear(128, 784),
        nn.Tanh(),
        nn.Unflatten(1, (1, 28, 28)),
    )


def build_discriminator() -> nn.Sequential:
    """``(N, 1, 28, 28) -> (N, 1)`` logits (D(x) = sigmoid(logit))."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 128),
        nn.LeakyReLU(0.2),
        nn.Linear(128, 64),
        nn.LeakyReLU(0.2),
        nn.Linear(64, 1),
    )


def noise(n: int, kind: str = "uniform", z_dim: int = Z_DIM) -> tg.Tensor:
    """``(n, z_dim)`` noise: uniform in [-1, 1] or standard normal."""
    if kind == "uniform":
        return tg.rand(n, z_dim) * 2.0 - 1.0
    return tg.randn(n, z_dim)


def train(
    steps: int = 200,
    batch_size: int = 128,
    lr: float = 2e-4,
    beta1: float = 0.5,
    noise_kind: str = "uniform",
    root: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    log_every: int = 0,
) -> dict[str, Any]:
    """Alternating D and G Adam steps on MNIST.

    Returns ``G``, ``D``, ``history`` (one dict per step: ``loss_d``, ``loss_g``,
    ``d_real`` = mean D(x), ``d_fake`` = mean D(G(z)) before the D step), ``note``
    (which data) and ``seconds``.
    """
    F = nn.functional
    tg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images, _, note = mnist_scaled(root, limit)
    G, D = build_generator(), build_discriminator()
    opt_g = optim.Adam(G.parameters(), lr=lr, betas=(beta1, 0.999))
    opt_d = optim.Adam(D.parameters(), lr=lr, betas=(beta1, 0.999))
    ones, zeros = tg.ones(batch_size, 1), tg.zeros(batch_size, 1)
    history = []
    t0 = time.perf_counter()
    for step in range(steps):
        real = tg.tensor(images[rng.integers(0, len(images), batch_size)])
        fake = G(noise(batch_size, noise_kind))
        logit_real, logit_fake = D(real), D(fake.detach())
        loss_d = 0.5 * F.binary_cross_entropy_with_logits(logit_real, ones) + 0.5 * (
            F.binary_cross_entropy_with_logits(logit_fake, zeros)
        )
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()

        loss_g = 0.5 * F.binary_cross_entropy_with_logits(D(fake), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

        with tg.no_grad():
            row = {
                "loss_d": loss_d.item(),
                "loss_g": loss_g.item(),
                "d_real": tg.sigmoid(logit_real).mean().item(),
                "d_fake": tg.sigmoid(logit_fake).mean().item(),
            }
        history.append(row)
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(
                f"  step {step:5d}: L_D {row['loss_d']:.4f}  L_G {row['loss_g']:.4f}  "
                f"D(x) {row['d_real']:.3f}  D(G(z)) {row['d_fake']:.3f}  "
                f"({time.perf_counter() - t0:.0f} s)"
            )
    return {"G": G, "D": D, "history": history, "note": note, "seconds": time.perf_counter() - t0}


def sample(G: nn.Module, n: int = 64, noise_kind: str = "uniform") -> np.ndarray:
    """``n`` generated images ``(n, 1, 28, 28)`` in [-1, 1]."""
    with tg.no_grad():
        return G(noise(n, noise_kind)).numpy()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--noise", choices=["uniform", "normal"], default="uniform")
    p.add_argument("--data", default=None, help="folder holding the MNIST IDX files")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out",
        default=str(Path(tempfile.gettempdir()) / "tapegrad_e02_samples"),
        help="where to save the sample grid (suffix .png or .npy is added)",
    )
    a = p.parse_args()
    r = train(
        a.steps,
        a.batch_size,
        a.lr,
        noise_kind=a.noise,
        root=a.data,
        seed=a.seed,
        log_every=max(1, a.steps // 10),
    )
    print(f"data: {r['note']}; {a.steps} steps in {r['seconds']:.1f} s")
    path = save_grid(sample(r["G"], 64, a.noise), a.out)
    print(f"64 samples saved to {path}")


if __name__ == "__main__":
    main()
