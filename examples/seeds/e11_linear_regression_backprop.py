"""E11: linear regression trained by backpropagation.

From the backpropagation algorithm tutorial, programming problem 4 (docs/tutorials.md).

What the tutorial intended: ``output = x . weights`` on x = [[1, 2], [4, 5]],
y = [3, 7], MSE loss, gradient steps with learning rate 0.01 for 1000 epochs.

What was wrong: the gradient ``-2 (y - output)`` has no input term (it is
dL/doutput, not dL/dweights) and shape (2, 2) against weights (2, 1), so the
update broadcasts nonsense into the weights; y (2,) against output (2, 1)
broadcasts the loss into a 2x2 table; ``train`` never returns the weights.

What this script does: ``y_hat = X w + b`` with ``X (N, d)``, ``w (d,)``, scalar ``b``:

    L = mean((y_hat - y)^2),  dL/dw = 2/N X^T (y_hat - y),  dL/db = 2/N sum(y_hat - y)

checked against tapegrad's autograd, on the article's two points (an exact fit
exists, so the loss goes to 0) and on a noisy synthetic set (200 points,
y = 2 x1 - 3 x2 + 0.5 + noise), where gradient descent must reach the
least-squares solution that ``np.linalg.lstsq`` computes directly.

Run:  python examples/seeds/e11_linear_regression_backprop.py [--epochs 1000] [--lr 0.01]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import tapegrad as tg

X_ARTICLE = np.array([[1.0, 2.0], [4.0, 5.0]])
Y_ARTICLE = np.array([3.0, 7.0])


def synthetic(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``X (n, 2)`` standard normal and ``y = 2 x1 - 3 x2 + 0.5 + 0.1 noise`` ``(n,)``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2))
    return x, x @ np.array([2.0, -3.0]) + 0.5 + 0.1 * rng.standard_normal(n)


def loss_and_grads(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float
) -> tuple[float, np.ndarray, float]:
    """``(loss, dL/dw (d,), dL/db)`` for ``y_hat = x @ w + b``."""
    r = x @ w + b - y
    n = len(y)
    return float(np.mean(r**2)), 2.0 / n * (x.T @ r), 2.0 / n * float(r.sum())


def autograd_grads(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float
) -> tuple[float, np.ndarray, float]:
    """The same from tapegrad's autograd (float64)."""
    wt = tg.tensor(w, requires_grad=True)
    bt = tg.tensor(np.array(b), requires_grad=True)
    loss = tg.nn.functional.mse_loss(tg.tensor(x) @ wt + bt, tg.tensor(y))
    loss.backward()
    return loss.item(), wt.grad.numpy(), float(bt.grad.item())


def train(
    x: np.ndarray, y: np.ndarray, epochs: int = 1000, lr: float = 0.01, seed: int = 0
) -> dict[str, Any]:
    """Full-batch gradient descent. Returns ``w``, ``b``, ``losses``, ``max_grad_diff``."""
    rng = np.random.default_rng(seed)
    w = rng.random(x.shape[1])
    b = 0.0
    losses, diff = [], 0.0
    for epoch in range(epochs):
        loss, dw, db = loss_and_grads(x, y, w, b)
        if epoch % 50 == 0:  # autograd check on a schedule: it costs more than the step
            _, gw, gb = autograd_grads(x, y, w, b)
            diff = max(diff, float(np.abs(gw - dw).max()), abs(gb - db))
        losses.append(loss)
        w, b = w - lr * dw, b - lr * db
    return {"w": w, "b": b, "losses": losses, "max_grad_diff": diff}


def least_squares(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """The minimiser of the MSE, by ``np.linalg.lstsq`` on ``[x, 1]``."""
    sol = np.linalg.lstsq(np.hstack([x, np.ones((len(x), 1))]), y, rcond=None)[0]
    return sol[:-1], float(sol[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    r = train(X_ARTICLE, Y_ARTICLE, a.epochs, a.lr, a.seed)
    print("Article data x = [[1, 2], [4, 5]], y = [3, 7]:")
    print(f"  loss {r['losses'][0]:.4f} -> {r['losses'][-1]:.2e}")
    pred = X_ARTICLE @ r["w"] + r["b"]
    print(f"  w = {r['w'].round(4)}, b = {r['b']:.4f}; predictions {pred.round(4)}")
    print(f"  |hand - autograd| gradient difference: {r['max_grad_diff']:.1e}")

    x, y = synthetic(seed=a.seed)
    r = train(x, y, a.epochs, a.lr * 10, a.seed)
    w_ls, b_ls = least_squares(x, y)
    print(f"\nSynthetic data (200 points, y = 2 x1 - 3 x2 + 0.5 + noise), lr {a.lr * 10}:")
    print(
        f"  gradient descent: w = {r['w'].round(4)}, b = {r['b']:.4f}, loss {r['losses'][-1]:.5f}"
    )
    print(f"  least squares   : w = {w_ls.round(4)}, b = {b_ls:.4f}")


if __name__ == "__main__":
    main()
