"""E7: one linear layer, its forward pass and a backward step in NumPy.

From the backpropagation algorithm tutorial, §5 (docs/tutorials.md).

What the tutorial intended: ``output = x . weights`` for x = [1, 2, 3], target
y = [5], weights of shape (3, 1); the loss ``mean((output - y)^2)``; one
gradient step with learning rate 0.01.

What was wrong: the "gradient" ``-2 * (y - forward(x, weights))`` ignores the
input, so every weight gets the same update whatever input it multiplies (the
gradient of ``x . w`` with respect to ``w_i`` is ``x_i``); its shape (1,) only
broadcasts onto the (3, 1) weights by accident; ``backward`` reads a global x.

What this script does: a linear layer ``Y = X W + b`` on a batch ``X (N, in)``,
``W (in, out)``, ``b (out,)``, with the chain rule written out:

    L = mean((Y - T)^2)            G = dL/dY = 2 (Y - T) / (N * out)
    dL/dW = X^T G  (in, out)       dL/db = sum_n G  (out,)       dL/dX = G W^T  (N, in)

The gradients are compared with tapegrad's autograd, then a few steps show the
loss falling.

Run:  python examples/seeds/e07_linear_layer.py [--steps 20] [--lr 0.01]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import tapegrad as tg

X = np.array([[1.0, 2.0, 3.0]])  # (1, 3): one sample, three features
T = np.array([[5.0]])  # (1, 1): its target


def forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``x (N, in) @ w (in, out) + b (out,)`` -> ``(N, out)``."""
    return x @ w + b


def backward(
    x: np.ndarray, w: np.ndarray, y: np.ndarray, t: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """Loss ``mean((y - t)^2)`` and its gradients ``W (in, out)``, ``b (out,)``, ``x (N, in)``."""
    loss = float(np.mean((y - t) ** 2))
    g = 2.0 * (y - t) / y.size  # dL/dY
    return loss, {"W": x.T @ g, "b": g.sum(axis=0), "x": g @ w.T}


def autograd_backward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, t: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """The same loss and gradients from tapegrad's autograd (dtype of the inputs)."""
    xt, wt, bt = (tg.tensor(a, requires_grad=True) for a in (x, w, b))
    loss = tg.nn.functional.mse_loss(xt @ wt + bt, tg.tensor(t))
    loss.backward()
    return loss.item(), {"W": wt.grad.numpy(), "b": bt.grad.numpy(), "x": xt.grad.numpy()}


def train(steps: int = 20, lr: float = 0.01, seed: int = 0) -> dict[str, Any]:
    """Gradient descent on (X, T) from random weights ``W (3, 1)`` and ``b = 0``.

    Returns ``losses`` (before each step), ``W``, ``b``, ``max_grad_diff`` (largest
    |hand - autograd| over all steps).
    """
    rng = np.random.default_rng(seed)
    w = rng.random((3, 1))
    b = np.zeros(1)
    losses, diff = [], 0.0
    for _ in range(steps):
        y = forward(X, w, b)
        loss, g = backward(X, w, y, T)
        _, ag = autograd_backward(X, w, b, T)
        diff = max(diff, *(float(np.abs(g[k] - ag[k]).max()) for k in g))
        losses.append(loss)
        w = w - lr * g["W"]
        b = b - lr * g["b"]
    return {"losses": losses, "W": w, "b": b, "max_grad_diff": diff}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    w = rng.random((3, 1))
    y = forward(X, w, np.zeros(1))
    loss, g = backward(X, w, y, T)
    print(f"x = {X.ravel()}, target {T.ravel()}, W = {w.ravel().round(4)}, b = 0")
    print(f"forward: y = x W + b = {y.ravel().round(4)}, loss = {loss:.4f}")
    print(f"dL/dW = x^T * 2 (y - t) = {g['W'].ravel().round(4)}  (proportional to x)")
    print(f"dL/db = {g['b'].round(4)}")
    r = train(a.steps, a.lr, a.seed)
    print(f"\n{a.steps} steps of lr {a.lr}: loss {r['losses'][0]:.4f} -> {r['losses'][-1]:.6f}")
    print(f"W = {r['W'].ravel().round(4)}, b = {r['b'].round(4)}")
    print(f"largest |hand - tapegrad autograd| gradient difference: {r['max_grad_diff']:.1e}")


if __name__ == "__main__":
    main()
