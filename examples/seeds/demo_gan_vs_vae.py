"""Demonstration: a GAN and a VAE on the same 2-D data.

From the backpropagation and GANs tutorial, §6 Q3 (docs/tutorials.md).

The tutorial's answer ("a VAE is an encoding model for dimensionality reduction")
misses the point that both are generative models that turn noise z ~ N(0, I)
into samples; they differ in how they are trained:

- **GAN** (``e15_numpy_gan.tapegrad_gan``): a generator and a discriminator play
  a game; there is no encoder and no likelihood: training is judged by D's
  outputs and by looking at (or measuring) samples.
- **VAE** (Kingma and Welling, 2014): an encoder q(z|x) = N(mu(x), diag sigma(x)^2)
  and a decoder p(x|z) = N(m(z), diag s^2) are trained together to maximise the
  evidence lower bound

      ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I))  <=  log p(x),

  with the expectation estimated through the **reparameterisation trick**
  ``z = mu + sigma * eps``, eps ~ N(0, I), which makes the sample a
  differentiable function of mu and sigma. The ELBO is a number in nats that
  can be compared with the data's true average log-density (known here,
  because the data are Gaussian): the ELBO approaches it from below.

The GAN here uses the R1 penalty (``--r1``, see ``e15_numpy_gan.tapegrad_gan``) so
that its samples settle instead of circling around the data.

Run:  python examples/seeds/demo_gan_vs_vae.py [--vae-steps 1500] [--gan-steps 1000] [--r1 5]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import nn, optim

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e15_numpy_gan as gan  # noqa: E402

LOG_2PI = math.log(2.0 * math.pi)


def true_log_density() -> float:
    """E_x[log p_data(x)] (minus the entropy) of the data Gaussian, in nats per point."""
    return float(-np.sum(0.5 * LOG_2PI + np.log(gan.STD_2D) + 0.5))


class VAE(nn.Module):
    """Encoder 2 -> hidden -> (mu, log sigma^2) of a ``latent``-D Gaussian; decoder
    latent -> hidden -> mean of a 2-D Gaussian whose log-variance is a learned vector."""

    def __init__(self, latent: int = 2, hidden: int = 32) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2 * latent))
        self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.Tanh(), nn.Linear(hidden, 2))
        self.dec_logvar = nn.Parameter(tg.zeros(2))
        self.latent = latent

    def encode(self, x: tg.Tensor) -> tuple[tg.Tensor, tg.Tensor]:
        h = self.enc(x)
        return h[:, : self.latent], h[:, self.latent :]

    def elbo(self, x: tg.Tensor) -> tg.Tensor:
        """Mean ELBO per point (nats), a one-sample estimate through reparameterisation."""
        mu, logvar = self.encode(x)
        eps = tg.randn(*mu.shape)
        z = mu + (0.5 * logvar).exp() * eps  # the reparameterisation trick
        m = self.dec(z)
        s2 = self.dec_logvar.exp()
        log_px = -0.5 * (((x - m) ** 2) / s2 + self.dec_logvar + LOG_2PI).sum(dim=1)
        kl = kl_to_standard_normal(mu, logvar)
        return (log_px - kl).mean()

    def sample(self, n: int) -> np.ndarray:
        """``n`` points: z ~ N(0, I), x ~ N(m(z), diag s^2). Returns ``(n, 2)``."""
        with tg.no_grad():
            m = self.dec(tg.randn(n, self.latent))
            return (m + (0.5 * self.dec_logvar).exp() * tg.randn(n, 2)).numpy()


def kl_to_standard_normal(mu: tg.Tensor, logvar: tg.Tensor) -> tg.Tensor:
    """KL(N(mu, diag e^logvar) || N(0, I)) per row, in closed form:
    ``1/2 sum(mu^2 + sigma^2 - 1 - log sigma^2)``."""
    return 0.5 * (mu**2 + logvar.exp() - 1.0 - logvar).sum(dim=1)


def train_vae(
    steps: int = 1500, batch: int = 128, lr: float = 3e-3, seed: int = 0, log_every: int = 0
) -> dict[str, Any]:
    """Maximise the ELBO with Adam. Returns ``model``, ``elbo`` (per step), ``final_elbo``
    (on 5,000 fresh points), ``mean``/``std`` of 5,000 samples."""
    tg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = VAE()
    opt = optim.Adam(model.parameters(), lr=lr)
    history = []
    for step in range(steps):
        elbo = model.elbo(tg.tensor(gan.sample_2d(batch, rng)))
        opt.zero_grad()
        (-elbo).backward()
        opt.step()
        history.append(elbo.item())
        if log_every and step % log_every == 0:
            print(f"  step {step:5d}: ELBO {elbo.item():.4f} nats/point")
    with tg.no_grad():
        final = model.elbo(tg.tensor(gan.sample_2d(5000, rng))).item()
    x = model.sample(5000)
    return {
        "model": model,
        "elbo": history,
        "final_elbo": final,
        "mean": x.mean(0),
        "std": x.std(0),
    }


def reparameterisation_check(seed: int = 0, n: int = 100_000) -> dict[str, np.ndarray]:
    """Gradients of the Monte-Carlo estimate ``mean(f(mu + sigma eps))``, f(z) = z^2, w.r.t.
    mu and sigma, by tapegrad through the reparameterisation and by the formulas
    ``mean(2 z)`` and ``mean(2 z eps)`` in NumPy, for the same eps."""
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal(n)
    mu = tg.tensor(np.array(0.7), requires_grad=True)
    sigma = tg.tensor(np.array(1.3), requires_grad=True)
    ((mu + sigma * tg.tensor(eps)) ** 2).mean().backward()
    z = 0.7 + 1.3 * eps
    return {
        "autograd": np.array([mu.grad.item(), sigma.grad.item()]),
        "formula": np.array([np.mean(2 * z), np.mean(2 * z * eps)]),
        "exact_expectation_grad": np.array([2 * 0.7, 2 * 1.3]),  # d/d(mu, sigma) of mu^2 + sigma^2
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vae-steps", type=int, default=1500)
    p.add_argument("--gan-steps", type=int, default=1000)
    p.add_argument("--r1", type=float, default=5.0, help="the GAN's R1 penalty (0: plain GAN)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(f"data: 2-D Gaussian, mean {gan.MEAN_2D}, std {gan.STD_2D}")
    print(f"true average log-density of the data: {true_log_density():.4f} nats/point\n")
    print("VAE (encoder + decoder, maximise the ELBO):")
    v = train_vae(a.vae_steps, seed=a.seed, log_every=max(1, a.vae_steps // 5))
    print(f"  final ELBO {v['final_elbo']:.4f} nats/point (a lower bound on log p(x))")
    print(f"  samples: mean {v['mean'].round(3)}, std {v['std'].round(3)}")
    print(f"\nGAN (generator + discriminator, adversarial game, no likelihood; R1 {a.r1}):")
    g = gan.tapegrad_gan(a.gan_steps, lr=1e-3, r1=a.r1, seed=a.seed)
    print(f"  D(x) {g['d_real']:.3f}, D(G(z)) {g['d_fake']:.3f} (1/2 = D cannot tell)")
    print(f"  samples: mean {g['end']['mean'].round(3)}, std {g['end']['std'].round(3)}")
    r = reparameterisation_check(a.seed)
    print("\nReparameterisation: d/d(mu, sigma) of E[z^2], z = mu + sigma eps (mu 0.7, sigma 1.3)")
    print(
        f"  tapegrad through z (100,000 draws of eps) {r['autograd'].round(4)}, "
        f"exact {r['exact_expectation_grad']}"
    )


if __name__ == "__main__":
    main()
