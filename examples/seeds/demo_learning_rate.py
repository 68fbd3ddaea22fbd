"""Demonstration: how the learning rate changes training.

From the backpropagation and GANs tutorial, §6 Q4, and the backpropagation algorithm
tutorial, interview question 6 (docs/tutorials.md).

The tutorials say: too small a learning rate trains slowly, too large a one makes
training unstable. This script shows it on a model where the boundary can be
computed exactly: linear regression (tapegrad ``nn.Linear(2, 1)``, MSE, full-batch
SGD) on 200 noisy points. Its loss is a quadratic with Hessian
``H = 2/n A^T A`` (A = the inputs with a column of ones), and gradient descent

    theta_{k+1} - theta* = (I - lr H) (theta_k - theta*)

converges exactly when ``lr < 2 / lambda_max(H)``. The same model is trained
with learning rates from 1e-4 to 1 and the loss curves are printed: the smallest
rates barely move, the middle ones converge (fastest near ``1 / lambda_max``),
and rates above ``2 / lambda_max`` diverge.

Run:  python examples/seeds/demo_learning_rate.py [--epochs 100] [--lrs 1e-4 1e-3 1e-2 0.1 1]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import nn, optim

LRS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def make_data(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``x (n, 2)`` (features of different scales) and ``y (n, 1)``, linear + noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2)) * np.array([1.0, 0.5]) + np.array([0.5, -0.2])
    y = x @ np.array([[2.0], [-3.0]]) + 0.5 + 0.1 * rng.standard_normal((n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def hessian(x: np.ndarray) -> np.ndarray:
    """The (constant) Hessian of the MSE in (w1, w2, b): ``2/n A^T A`` in float64."""
    a = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    return 2.0 / len(x) * a.T @ a


def train(lr: float, epochs: int = 100, seed: int = 0) -> dict[str, Any]:
    """Full-batch SGD at one learning rate, always from the same initial weights.

    Returns ``losses`` (epochs + 1 values: before training and after each epoch;
    non-finite or huge values end the run), ``diverged`` and ``theta0`` (w1, w2, b).
    """
    x, y = make_data(seed=seed)
    tg.manual_seed(seed)
    model = nn.Linear(2, 1)
    theta0 = np.concatenate([model.weight.detach().numpy().ravel(), model.bias.detach().numpy()])
    opt = optim.SGD(model.parameters(), lr=lr)
    xt, yt = tg.tensor(x), tg.tensor(y)
    losses = []
    diverged = False
    for epoch in range(epochs + 1):
        loss = nn.functional.mse_loss(model(xt), yt)
        losses.append(loss.item())
        if not np.isfinite(losses[-1]) or losses[-1] > 1e10:
            diverged = True
            break
        if epoch == epochs:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {"losses": losses, "diverged": diverged, "theta0": theta0.astype(np.float64)}


def predicted_losses(lr: float, epochs: int, theta0: np.ndarray, seed: int = 0) -> np.ndarray:
    """The exact loss curve of gradient descent on this quadratic, in float64, from theory:
    ``L_k = L* + 1/2 e_k^T H e_k`` with ``e_k = (I - lr H)^k (theta0 - theta*)``."""
    x, y = make_data(seed=seed)
    a = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    yy = y.astype(np.float64).ravel()
    theta_star = np.linalg.lstsq(a, yy, rcond=None)[0]
    l_star = float(np.mean((a @ theta_star - yy) ** 2))
    h = hessian(x)
    m = np.eye(3) - lr * h
    e = theta0 - theta_star
    out = []
    for _ in range(epochs + 1):
        out.append(l_star + 0.5 * e @ h @ e)
        e = m @ e
    return np.array(out)


def sweep(lrs: Sequence[float] = LRS, epochs: int = 100, seed: int = 0) -> dict[float, Any]:
    """:func:`train` for every learning rate."""
    return {lr: train(lr, epochs, seed) for lr in lrs}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--lrs", type=float, nargs="+", default=list(LRS))
    a = p.parse_args()
    lam = float(np.linalg.eigvalsh(hessian(make_data()[0])).max())
    print(f"largest Hessian eigenvalue {lam:.3f}: GD converges iff lr < 2/lambda = {2 / lam:.3f}")
    marks = [e for e in (0, 1, 5, 20, 50, a.epochs) if e <= a.epochs]
    print(f"{'lr':>8} | " + " ".join(f"{'ep ' + str(e):>10}" for e in marks) + " | verdict")
    for lr, r in sweep(a.lrs, a.epochs).items():
        cells = [f"{r['losses'][e]:10.4g}" if e < len(r["losses"]) else f"{'-':>10}" for e in marks]
        if r["diverged"] or r["losses"][-1] > r["losses"][0]:
            verdict = "diverges (lr too large)"
        elif r["losses"][-1] > 0.5 * r["losses"][0]:
            verdict = "too slow (lr too small)"
        else:
            verdict = "converges"
        print(f"{lr:8.0e} | " + " ".join(cells) + f" | {verdict}")


if __name__ == "__main__":
    main()
