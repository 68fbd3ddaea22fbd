"""E1 (article 000 §4.1): linear regression trained by hand-written backpropagation.

What the article intended: fit ``y_pred = X w + b`` to X = 1..5, y = 1..5 with
the mean squared error ``L = mean((y_pred - y)^2)``, random initial w and b,
learning rate 0.01, 1000 epochs, computing the gradient by hand.

What was wrong: the article's gradient ``dw = -2 * (y_pred - y).dot(X)`` and
``db = -2 * mean(y_pred - y)`` has the wrong sign (so each "descent" step climbs
the loss) and ``dw`` sums instead of averaging over the samples, so training
diverges.

What this script does: the correct gradient, derived by the chain rule,

    dL/dw = 2/n * X^T (y_pred - y)        dL/db = 2/n * sum(y_pred - y),

is computed in NumPy (float64) and, at every step, compared with tapegrad's
autograd gradient of the same loss. Training converges to w ~ 1, b ~ 0. The
article's formula is also run, clearly labelled, to show that it diverges.

Run:  python examples/seeds/e01_linear_regression.py [--epochs 1000] [--lr 0.01]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import tapegrad as tg

X = np.arange(1.0, 6.0).reshape(5, 1)  # (5, 1): the article's inputs 1..5
Y = np.arange(1.0, 6.0)  # (5,): targets 1..5


def loss_and_grad(
    w: np.ndarray, b: np.ndarray, x: np.ndarray = X, y: np.ndarray = Y
) -> tuple[float, np.ndarray, np.ndarray]:
    """MSE loss and its hand-derived gradient for ``y_pred = x @ w + b``.

    Shapes: w (d,), b (1,), x (n, d), y (n,). Returns ``(loss, dw (d,), db (1,))``.
    """
    n = x.shape[0]
    r = x @ w + b - y  # residuals (n,)
    loss = float(np.mean(r**2))
    dw = 2.0 / n * (x.T @ r)
    db = np.array([2.0 / n * r.sum()])
    return loss, dw, db


def article_grad(
    w: np.ndarray, b: np.ndarray, x: np.ndarray = X, y: np.ndarray = Y
) -> tuple[float, np.ndarray, np.ndarray]:
    """The article's (wrong) formula, kept only to demonstrate that it diverges."""
    r = x @ w + b - y
    loss = float(np.mean(r**2))
    return loss, -2.0 * r.dot(x), np.array([-2.0 * np.mean(r)])


def autograd_grad(
    w: np.ndarray, b: np.ndarray, x: np.ndarray = X, y: np.ndarray = Y
) -> tuple[float, np.ndarray, np.ndarray]:
    """The same loss and gradient computed by tapegrad's reverse-mode autograd (float64)."""
    wt = tg.tensor(w, requires_grad=True)
    bt = tg.tensor(b, requires_grad=True)
    loss = ((tg.tensor(x) @ wt + bt - tg.tensor(y)) ** 2).mean()
    loss.backward()
    return loss.item(), wt.grad.numpy(), bt.grad.numpy()


def train(
    epochs: int = 1000,
    lr: float = 0.01,
    seed: int = 0,
    gradient: str = "correct",
    check_every: int = 1,
    verbose: bool = False,
) -> dict[str, Any]:
    """Gradient descent on (X, Y) from a random start.

    Args:
        gradient: ``"correct"`` (hand-derived, checked against autograd every
            ``check_every`` steps) or ``"article"`` (the article's formula).
        check_every: 0 disables the autograd comparison.

    Returns a dict: ``w``, ``b`` (floats), ``w0``, ``b0`` (the start), ``losses``
    (one per epoch, before the update), ``max_grad_diff`` (largest absolute
    difference between hand and autograd gradients), ``diverged`` (bool).
    """
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(1)
    b = rng.standard_normal(1)
    w0, b0 = float(w[0]), float(b[0])
    step = loss_and_grad if gradient == "correct" else article_grad
    losses: list[float] = []
    max_diff = 0.0
    diverged = False
    for epoch in range(epochs):
        loss, dw, db = step(w, b)
        losses.append(loss)
        if not np.isfinite(loss) or loss > 1e12:
            diverged = True
            if verbose:
                print(f"  epoch {epoch:4d}: loss {loss:.3e} -> diverged, stopping")
            break
        if gradient == "correct" and check_every and epoch % check_every == 0:
            _, gw, gb = autograd_grad(w, b)
            max_diff = max(max_diff, float(np.abs(gw - dw).max()), float(np.abs(gb - db).max()))
        if verbose and epoch % max(1, epochs // 10) == 0:
            print(f"  epoch {epoch:4d}: loss {loss:.6g}  w {w[0]: .5f}  b {b[0]: .5f}")
        w = w - lr * dw
        b = b - lr * db
    return {
        "w": float(w[0]),
        "b": float(b[0]),
        "w0": w0,
        "b0": b0,
        "losses": losses,
        "max_grad_diff": max_diff,
        "diverged": diverged,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    print("Correct gradient dL/dw = 2/n X^T (y_pred - y), dL/db = 2/n sum(y_pred - y):")
    r = train(a.epochs, a.lr, a.seed, "correct", verbose=True)
    print(
        f"  result: w = {r['w']:.5f}, b = {r['b']:.5f} (exact fit: w = 1, b = 0); "
        f"final loss {r['losses'][-1]:.3g}"
    )
    print(f"  largest |hand - autograd| gradient difference: {r['max_grad_diff']:.2e}")

    print("\nDEMONSTRATION OF THE ARTICLE'S BUG (wrong sign, sum instead of mean):")
    bad = train(a.epochs, a.lr, a.seed, "article", verbose=True)
    state = "diverged" if bad["diverged"] else "did not diverge"
    print(f"  the article's update {state} after {len(bad['losses'])} epochs")


if __name__ == "__main__":
    main()
