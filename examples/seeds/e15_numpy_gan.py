"""E15: a GAN trained by backpropagation, in NumPy and in tapegrad.

From the backpropagation algorithm tutorial, programming problem 8 (docs/tutorials.md).

What the tutorial intended: a generator G and a discriminator D, trained by
backpropagation with the adversarial objective of the deep learning and GANs tutorial, §3.5.2:

    L_D = -1/2 E_x[log D(x)] - 1/2 E_z[log(1 - D(G(z)))]
    L_G = -1/2 E_z[log D(G(z))]          (the non-saturating generator loss)

What was wrong: G and D are both fitted by squared error toward the same fixed
target y = 0, so there is no game at all: D never sees real data, G's loss does
not depend on D, and the "gradients" have no input terms.

What this script does, in two parts:

1. ``numpy_gan``: the smallest GAN whose gradients fit on a page, on 1-D data
   x ~ N(3, 0.5^2). G(z) = a + s z with z ~ N(0, 1); D(x) = sigmoid(w2 x^2 + w1 x + c),
   a quadratic logistic discriminator, which can represent the optimal
   discriminator between two Gaussians (the log density ratio is quadratic).
   With u = w2 x^2 + w1 x + c:

       dL_D/du = -1/2 (1 - D(x_real)) / n   on real samples,   +1/2 D(x_fake) / n on fakes
       dL_D/dw = sum dL_D/du * (x^2, x, 1)
       dL_G/du = -1/2 (1 - D(G(z))) / n,  dL_G/dx = dL_G/du * (2 w2 x + w1),
       dL_G/da = sum dL_G/dx,  dL_G/ds = sum dL_G/dx * z

   Updates alternate (5 D steps per G step, Adam written out in NumPy). At the
   equilibrium G matches the data (a = 3, |s| = 0.5) and D(x) = 1/2 everywhere.
2. ``tapegrad_gan``: MLPs in tapegrad on 2-D Gaussian data (the same data the
   VAE of ``demo_gan_vs_vae.py`` fits), D trained with BCE (real = 1,
   fake = 0), G with the non-saturating loss, alternating Adam updates.

Run:  python examples/seeds/e15_numpy_gan.py [--steps 6000] [--tg-steps 1500]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import nn, optim

DATA_MEAN, DATA_STD = 3.0, 0.5  # the 1-D data of the NumPy GAN
MEAN_2D = np.array([2.0, -1.0])  # the 2-D data of the tapegrad GAN (and of the VAE demo)
STD_2D = np.array([0.5, 1.0])


def sample_2d(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points of the 2-D Gaussian N(MEAN_2D, diag(STD_2D^2)), float32 ``(n, 2)``."""
    return (MEAN_2D + STD_2D * rng.standard_normal((n, 2))).astype(np.float32)


def sigmoid(u: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-u))


# ---------------------------------------------------------------- NumPy GAN
def d_logit(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The discriminator's logit ``w2 x^2 + w1 x + c`` for ``w = (w2, w1, c)``."""
    return w[0] * x**2 + w[1] * x + w[2]


def d_loss_grad(w: np.ndarray, x_real: np.ndarray, x_fake: np.ndarray) -> tuple[float, np.ndarray]:
    """L_D and dL_D/dw (3,), written out by the chain rule."""
    ur, uf = d_logit(w, x_real), d_logit(w, x_fake)
    # -log sigmoid(u) = logaddexp(0, -u), -log(1 - sigmoid(u)) = logaddexp(0, u)
    loss = 0.5 * np.mean(np.logaddexp(0, -ur)) + 0.5 * np.mean(np.logaddexp(0, uf))
    gr = -0.5 * (1.0 - sigmoid(ur)) / len(x_real)
    gf = 0.5 * sigmoid(uf) / len(x_fake)
    grad = np.array(
        [gr @ x_real**2 + gf @ x_fake**2, gr @ x_real + gf @ x_fake, gr.sum() + gf.sum()]
    )
    return float(loss), grad


def g_loss_grad(theta: np.ndarray, w: np.ndarray, z: np.ndarray) -> tuple[float, np.ndarray]:
    """L_G (non-saturating) and dL_G/dtheta for ``theta = (a, s)``, ``G(z) = a + s z``."""
    x = theta[0] + theta[1] * z
    u = d_logit(w, x)
    loss = 0.5 * np.mean(np.logaddexp(0, -u))
    gx = -0.5 * (1.0 - sigmoid(u)) / len(z) * (2.0 * w[0] * x + w[1])
    return float(loss), np.array([gx.sum(), gx @ z])


def autograd_gan_grads(
    theta: np.ndarray, w: np.ndarray, x_real: np.ndarray, z: np.ndarray
) -> dict[str, np.ndarray]:
    """dL_D/dw and dL_G/dtheta from tapegrad's autograd (float64), same formulas as above."""
    F = nn.functional
    wt = tg.tensor(w, requires_grad=True)
    tt = tg.tensor(theta, requires_grad=True)
    xr, zt = tg.tensor(x_real), tg.tensor(z)

    def logit(v: tg.Tensor) -> tg.Tensor:
        return wt[0] * v * v + wt[1] * v + wt[2]

    fake = tt[0] + tt[1] * zt
    ones, zeros = tg.ones(len(x_real), dtype=tg.float64), tg.zeros(len(z), dtype=tg.float64)
    loss_d = 0.5 * F.binary_cross_entropy_with_logits(logit(xr), ones) + 0.5 * (
        F.binary_cross_entropy_with_logits(logit(fake.detach()), zeros)
    )
    (gw,) = tg.grad(loss_d, [wt])
    loss_g = 0.5 * F.binary_cross_entropy_with_logits(logit(fake), tg.ones_like(fake))
    (gt,) = tg.grad(loss_g, [tt])
    return {"w": gw.numpy(), "theta": gt.numpy()}


class NumpyAdam:
    """Adam (Kingma and Ba, 2015) on one NumPy parameter vector."""

    def __init__(self, size: int, lr: float, betas: tuple[float, float] = (0.5, 0.999)) -> None:
        self.lr, (self.b1, self.b2) = lr, betas
        self.m, self.v, self.t = np.zeros(size), np.zeros(size), 0

    def step(self, grad: np.ndarray) -> np.ndarray:
        """The update to subtract from the parameters."""
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * grad
        self.v = self.b2 * self.v + (1 - self.b2) * grad**2
        m_hat, v_hat = self.m / (1 - self.b1**self.t), self.v / (1 - self.b2**self.t)
        return self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)


def numpy_gan(
    steps: int = 6000,
    d_steps: int = 5,
    batch: int = 256,
    lr_d: float = 0.05,
    lr_g: float = 0.002,
    seed: int = 0,
    log_every: int = 0,
) -> dict[str, Any]:
    """Train the 1-D GAN from G = N(0, 1), D = constant 1/2.

    Returns ``theta`` (a, s), ``w`` (w2, w1, c), ``history`` (rows of step, a, |s|,
    L_D, L_G every ``max(1, steps // 20)`` steps), ``gen_mean`` and ``gen_std``
    (of 10,000 generated samples).
    """
    rng = np.random.default_rng(seed)
    theta = np.array([0.0, 1.0])
    w = np.zeros(3)
    opt_d, opt_g = NumpyAdam(3, lr_d), NumpyAdam(2, lr_g)
    history = []
    every = max(1, steps // 20)
    for step in range(steps):
        for _ in range(d_steps):
            x_real = DATA_MEAN + DATA_STD * rng.standard_normal(batch)
            x_fake = theta[0] + theta[1] * rng.standard_normal(batch)
            loss_d, gw = d_loss_grad(w, x_real, x_fake)
            w = w - opt_d.step(gw)
        loss_g, gt = g_loss_grad(theta, w, rng.standard_normal(batch))
        theta = theta - opt_g.step(gt)
        if step % every == 0 or step == steps - 1:
            history.append((step, theta[0], abs(theta[1]), loss_d, loss_g))
        if log_every and step % log_every == 0:
            print(
                f"  step {step:5d}: G = {theta[0]:.3f} + {abs(theta[1]):.3f} z   "
                f"L_D {loss_d:.4f}  L_G {loss_g:.4f}"
            )
    samples = theta[0] + theta[1] * rng.standard_normal(10_000)
    return {
        "theta": theta,
        "w": w,
        "history": history,
        "gen_mean": float(samples.mean()),
        "gen_std": float(samples.std()),
    }


# ---------------------------------------------------------------- tapegrad GAN (2-D)
def build_gan(hidden: int = 32, z_dim: int = 2) -> tuple[nn.Module, nn.Module]:
    """Generator ``(N, z_dim) -> (N, 2)`` and discriminator ``(N, 2) -> (N, 1)`` logits."""
    g = nn.Sequential(
        nn.Linear(z_dim, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, 2),
    )
    d = nn.Sequential(
        nn.Linear(2, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden),
        nn.LeakyReLU(0.2),
        nn.Linear(hidden, 1),
    )
    return g, d


def tapegrad_gan(
    steps: int = 1500,
    batch: int = 128,
    lr: float = 5e-4,
    z_dim: int = 2,
    r1: float = 0.0,
    seed: int = 0,
    log_every: int = 0,
) -> dict[str, Any]:
    """Train the 2-D GAN. Returns ``G``, ``D``, ``start`` and ``end`` (each a dict with
    ``mean`` (2,) and ``std`` (2,) of 5,000 generated points), ``d_real``/``d_fake``
    (mean D outputs of the last batch) and ``losses`` (rows of L_D, L_G).

    ``r1 > 0`` adds the R1 penalty ``r1/2 E||grad_x D_logit(x_real)||^2`` to D's loss
    (Mescheder et al., 2018): plain GAN updates circle around the equilibrium
    instead of converging, and the penalty damps that. It needs the gradient of
    a gradient (``create_graph=True``)."""
    F = nn.functional
    tg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    G, D = build_gan(z_dim=z_dim)
    opt_g = optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    ones, zeros = tg.ones(batch, 1), tg.zeros(batch, 1)

    def stats() -> dict[str, np.ndarray]:
        with tg.no_grad():
            x = G(tg.randn(5000, z_dim)).numpy()
        return {"mean": x.mean(0), "std": x.std(0)}

    start = stats()
    losses = []
    for step in range(steps):
        real = tg.tensor(sample_2d(batch, rng), requires_grad=r1 > 0)
        fake = G(tg.randn(batch, z_dim))
        d_real, d_fake = D(real), D(fake.detach())  # detach: the D step must not update G
        loss_d = 0.5 * F.binary_cross_entropy_with_logits(d_real, ones) + 0.5 * (
            F.binary_cross_entropy_with_logits(d_fake, zeros)
        )
        if r1 > 0:
            (gx,) = tg.grad(d_real.sum(), [real], create_graph=True)
            loss_d = loss_d + 0.5 * r1 * (gx**2).sum(dim=1).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        # G step: a fresh forward through the updated D; -1/2 log D(G(z)) = 1/2 BCE(., 1)
        loss_g = 0.5 * F.binary_cross_entropy_with_logits(D(fake), ones)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        losses.append((loss_d.item(), loss_g.item()))
        if log_every and step % log_every == 0:
            s = stats()
            print(
                f"  step {step:5d}: L_D {losses[-1][0]:.4f}  L_G {losses[-1][1]:.4f}  "
                f"mean {s['mean'].round(2)}  std {s['std'].round(2)}"
            )
    with tg.no_grad():
        dr = float(tg.sigmoid(d_real).mean().item())
        df = float(tg.sigmoid(d_fake).mean().item())
    return {
        "G": G,
        "D": D,
        "start": start,
        "end": stats(),
        "d_real": dr,
        "d_fake": df,
        "losses": losses,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=6000, help="NumPy GAN generator steps")
    ap.add_argument("--tg-steps", type=int, default=1500, help="tapegrad GAN steps")
    ap.add_argument("--r1", type=float, default=0.0, help="R1 penalty weight (e.g. 5)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    print(f"NumPy GAN on N({DATA_MEAN}, {DATA_STD}^2); G(z) = a + s z, quadratic logistic D")
    rng = np.random.default_rng(a.seed)
    theta, w = np.array([0.3, 1.2]), rng.standard_normal(3)
    x_real, z = 3 + 0.5 * rng.standard_normal(64), rng.standard_normal(64)
    ref = autograd_gan_grads(theta, w, x_real, z)
    diff = max(
        float(np.abs(d_loss_grad(w, x_real, theta[0] + theta[1] * z)[1] - ref["w"]).max()),
        float(np.abs(g_loss_grad(theta, w, z)[1] - ref["theta"]).max()),
    )
    print(f"  hand-written gradients vs tapegrad autograd: max difference {diff:.1e}")
    r = numpy_gan(a.steps, seed=a.seed, log_every=max(1, a.steps // 6))
    print(
        f"  generated samples: mean {r['gen_mean']:.3f}, std {r['gen_std']:.3f} "
        f"(data: {DATA_MEAN}, {DATA_STD}); D's weights {r['w'].round(3)} (0 = D(x) = 1/2)"
    )
    print(f"\ntapegrad MLP GAN on a 2-D Gaussian, mean {MEAN_2D}, std {STD_2D}:")
    r = tapegrad_gan(a.tg_steps, r1=a.r1, seed=a.seed, log_every=max(1, a.tg_steps // 6))
    print(
        f"  generated: mean {r['end']['mean'].round(3)}, std {r['end']['std'].round(3)}; "
        f"D(x) {r['d_real']:.3f}, D(G(z)) {r['d_fake']:.3f}"
    )
    if a.r1 == 0:
        print(
            "  (plain GAN updates circle around the equilibrium rather than settle on it; "
            "--r1 5 adds the R1 penalty, which damps that)"
        )


if __name__ == "__main__":
    main()
