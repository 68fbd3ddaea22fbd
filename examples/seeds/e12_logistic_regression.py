"""E12: logistic regression trained by backpropagation.

From the backpropagation algorithm tutorial, programming problem 5 (docs/tutorials.md).

What the tutorial intended: ``p = sigmoid(x . w)`` on x = [[1, 2], [4, 5]],
labels y = [0, 1], trained by gradient steps (learning rate 0.01, 1000 epochs).

What was wrong: it minimises the squared error of a sigmoid, whose gradient
``(p - y) p (1 - p)`` vanishes exactly when the model is confidently wrong
(p near 0 or 1), and the "gradient" has no input term (it is subtracted from
every weight alike); ``train`` never keeps the weights.

What this script does: logistic regression with the binary cross-entropy
(the negative log-likelihood of a Bernoulli label),

    z = X w + b,  p = sigmoid(z),  L = -mean(y log p + (1 - y) log(1 - p))
    dL/dz = (p - y) / N,  dL/dw = X^T dL/dz,  dL/db = sum dL/dz

checked against tapegrad's ``binary_cross_entropy_with_logits`` autograd; it
learns the article's two points and a linearly separable toy set (two Gaussian
blobs). It also prints both losses' gradients at a confidently wrong prediction,
showing why MSE on a sigmoid learns slowly.

Run:  python examples/seeds/e12_logistic_regression.py [--epochs 1000] [--lr 0.1]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import tapegrad as tg

X_ARTICLE = np.array([[1.0, 2.0], [4.0, 5.0]])
Y_ARTICLE = np.array([0.0, 1.0])


def blobs(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two separable Gaussian blobs in 2-D: ``X (n, 2)``, labels ``y (n,)`` in {0, 1}."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 2).astype(np.float64)
    centres = np.where(y[:, None] == 1, [2.0, 2.0], [-2.0, -1.0])
    return centres + 0.7 * rng.standard_normal((n, 2)), y


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def bce_and_grads(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float
) -> tuple[float, np.ndarray, float]:
    """``(loss, dL/dw (d,), dL/db)`` of the mean binary cross-entropy."""
    z = x @ w + b
    # log(sigmoid(z)) = -logaddexp(0, -z): stable for large |z|
    loss = float(np.mean(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)))
    dz = (sigmoid(z) - y) / len(y)
    return loss, x.T @ dz, float(dz.sum())


def autograd_grads(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float
) -> tuple[float, np.ndarray, float]:
    """The same from tapegrad (float64), through ``binary_cross_entropy_with_logits``."""
    wt = tg.tensor(w, requires_grad=True)
    bt = tg.tensor(np.array(b), requires_grad=True)
    z = tg.tensor(x) @ wt + bt
    loss = tg.nn.functional.binary_cross_entropy_with_logits(z, tg.tensor(y))
    loss.backward()
    return loss.item(), wt.grad.numpy(), float(bt.grad.item())


def train(
    x: np.ndarray, y: np.ndarray, epochs: int = 1000, lr: float = 0.1, seed: int = 0
) -> dict[str, Any]:
    """Full-batch gradient descent on the BCE.

    Returns ``w``, ``b``, ``losses``, ``accuracy`` (threshold 0.5 on the training
    set) and ``max_grad_diff`` (|hand - autograd|, checked every 50 epochs).
    """
    rng = np.random.default_rng(seed)
    w = 0.1 * rng.standard_normal(x.shape[1])
    b = 0.0
    losses, diff = [], 0.0
    for epoch in range(epochs):
        loss, dw, db = bce_and_grads(x, y, w, b)
        if epoch % 50 == 0:
            _, gw, gb = autograd_grads(x, y, w, b)
            diff = max(diff, float(np.abs(gw - dw).max()), abs(gb - db))
        losses.append(loss)
        w, b = w - lr * dw, b - lr * db
    acc = float(np.mean((x @ w + b > 0) == (y == 1)))
    return {"w": w, "b": b, "losses": losses, "accuracy": acc, "max_grad_diff": diff}


def gradient_at(z: float, y: float) -> dict[str, float]:
    """dL/dz of BCE and of the article's MSE-on-sigmoid for one logit ``z`` and label ``y``."""
    p = float(sigmoid(np.array(z)))
    return {"p": p, "bce": p - y, "mse": 2 * (p - y) * p * (1 - p)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    r = train(X_ARTICLE, Y_ARTICLE, a.epochs, a.lr, a.seed)
    p = sigmoid(X_ARTICLE @ r["w"] + r["b"])
    print("Article data x = [[1, 2], [4, 5]], y = [0, 1]:")
    print(f"  BCE {r['losses'][0]:.4f} -> {r['losses'][-1]:.4f}; p = {p.round(3)}")
    print(f"  |hand - autograd| gradient difference: {r['max_grad_diff']:.1e}")

    x, y = blobs(seed=a.seed)
    r = train(x, y, a.epochs, a.lr, a.seed)
    print("\nTwo Gaussian blobs (200 points, separable):")
    print(f"  BCE {r['losses'][0]:.4f} -> {r['losses'][-1]:.4f}; accuracy {r['accuracy']:.3f}")
    print(f"  w = {r['w'].round(3)}, b = {r['b']:.3f}")

    g = gradient_at(-6.0, 1.0)
    print("\nWhy BCE and not MSE: a confidently wrong prediction (label 1, logit -6):")
    print(f"  p = {g['p']:.4f}; dL/dz: BCE {g['bce']:.4f}, MSE on sigmoid {g['mse']:.5f}")


if __name__ == "__main__":
    main()
