"""E8-E10: sigmoid networks trained by hand-written backprop.

From the backpropagation algorithm tutorial, programming problems 1-3
(docs/tutorials.md).

What the tutorial intended:
- E8 (problem 1): one sigmoid layer, ``output = sigmoid(x . weights)`` for
  x = [1, 2, 3], target 0, weights (4, 1), MSE loss, one backward step;
- E9 (problem 2): the same layer trained in a loop on x = [[1, 2, 3], [4, 5, 6]],
  y = [0, 1];
- E10 (problem 3): a network with a hidden layer (3 sigmoid units) and a sigmoid
  output, trained by backprop.

What was wrong: the (4, 1) weights do not match the 3 inputs (``np.dot`` fails);
the gradient ``-2 (y - out) out (1 - out)`` has no input term (it is dL/dz, not
dL/dW) and is subtracted from every weight alike; ``train`` never keeps the
updated weights; in E10 the hidden layer's "gradient" is computed with the
hidden output as the *target* of the output layer, and then applied twice.

What this script does: the (4, 1) weights become 3 weights plus a bias (the same
as appending a constant 1 to x), and the chain rule is written out:

    z = x W + b, out = sigmoid(z), L = mean((out - y)^2)
    dL/dz = 2 (out - y) / N * out (1 - out)        dL/dW = x^T dL/dz,  dL/db = sum dL/dz

and for the two-layer network the error reaches the hidden layer through the
output weights, ``dL/dz1 = (dL/dz2 W2^T) * h (1 - h)``. Every gradient is
compared with tapegrad's autograd; the tests also compare with PyTorch.

Run:  python examples/seeds/e08_e10_sigmoid_mlp.py [--epochs 2000] [--lr 1.0] [--data xor]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import tapegrad as tg

X1 = np.array([[1.0, 2.0, 3.0]])  # E8: (1, 3)
Y1 = np.array([[0.0]])  # (1, 1)
X2 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # E9, E10: (2, 3)
Y2 = np.array([[0.0], [1.0]])  # (2, 1)
X_XOR = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y_XOR = np.array([[0.0], [1.0], [1.0], [0.0]])


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


# ---------------------------------------------------------------- one sigmoid layer
def layer_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sigmoid(x (N, in) @ w (in, out) + b (out,))`` -> ``(N, out)``."""
    return sigmoid(x @ w + b)


def layer_backward(
    x: np.ndarray, out: np.ndarray, y: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """MSE loss of a sigmoid layer's output and the gradients for ``W`` and ``b``."""
    loss = float(np.mean((out - y) ** 2))
    dz = 2.0 * (out - y) / out.size * out * (1.0 - out)
    return loss, {"W": x.T @ dz, "b": dz.sum(axis=0)}


def train_layer(
    x: np.ndarray, y: np.ndarray, epochs: int, lr: float, seed: int = 0
) -> dict[str, Any]:
    """Gradient descent for one sigmoid layer. Returns ``losses``, ``W``, ``b``, ``out``."""
    rng = np.random.default_rng(seed)
    w = rng.random((x.shape[1], y.shape[1]))
    b = np.zeros(y.shape[1])
    losses = []
    for _ in range(epochs):
        out = layer_forward(x, w, b)
        loss, g = layer_backward(x, out, y)
        losses.append(loss)
        w, b = w - lr * g["W"], b - lr * g["b"]
    return {"losses": losses, "W": w, "b": b, "out": layer_forward(x, w, b)}


# ---------------------------------------------------------------- two layers
def init_two_layer(n_in: int, hidden: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``W1 (n_in, hidden)``, ``b1 (hidden,)``, ``W2 (hidden, 1)``, ``b2 (1,)``, U(-1, 1)."""
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.uniform(-1, 1, (n_in, hidden)),
        "b1": rng.uniform(-1, 1, hidden),
        "W2": rng.uniform(-1, 1, (hidden, 1)),
        "b2": rng.uniform(-1, 1, 1),
    }


def two_layer_forward(x: np.ndarray, p: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Hidden activations ``h (N, hidden)`` and output ``out (N, 1)``."""
    h = sigmoid(x @ p["W1"] + p["b1"])
    return {"h": h, "out": sigmoid(h @ p["W2"] + p["b2"])}


def two_layer_backward(
    x: np.ndarray, y: np.ndarray, p: dict[str, np.ndarray]
) -> tuple[float, dict[str, np.ndarray]]:
    """MSE loss and the gradient of every parameter, by the chain rule."""
    f = two_layer_forward(x, p)
    h, out = f["h"], f["out"]
    loss = float(np.mean((out - y) ** 2))
    dz2 = 2.0 * (out - y) / out.size * out * (1.0 - out)  # (N, 1)
    dz1 = (dz2 @ p["W2"].T) * h * (1.0 - h)  # (N, hidden): the error sent back through W2
    return loss, {"W1": x.T @ dz1, "b1": dz1.sum(0), "W2": h.T @ dz2, "b2": dz2.sum(0)}


def train_two_layer(
    x: np.ndarray, y: np.ndarray, hidden: int = 3, epochs: int = 2000, lr: float = 1.0, seed=0
) -> dict[str, Any]:
    """Gradient descent for the two-layer network. Returns ``losses``, ``params``, ``out``."""
    p = init_two_layer(x.shape[1], hidden, seed)
    losses = []
    for _ in range(epochs):
        loss, g = two_layer_backward(x, y, p)
        losses.append(loss)
        p = {k: p[k] - lr * g[k] for k in p}
    return {"losses": losses, "params": p, "out": two_layer_forward(x, p)["out"]}


# ---------------------------------------------------------------- autograd references
def autograd_layer_grads(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, b: np.ndarray
) -> dict[str, np.ndarray]:
    """tapegrad's gradients of ``mean((sigmoid(x W + b) - y)^2)``."""
    wt, bt = tg.tensor(w, requires_grad=True), tg.tensor(b, requires_grad=True)
    loss = tg.nn.functional.mse_loss(tg.sigmoid(tg.tensor(x) @ wt + bt), tg.tensor(y))
    loss.backward()
    return {"W": wt.grad.numpy(), "b": bt.grad.numpy()}


def autograd_two_layer_grads(
    x: np.ndarray, y: np.ndarray, p: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """tapegrad's gradients for the two-layer network's MSE loss."""
    t = {k: tg.tensor(v, requires_grad=True) for k, v in p.items()}
    h = tg.sigmoid(tg.tensor(x) @ t["W1"] + t["b1"])
    loss = tg.nn.functional.mse_loss(tg.sigmoid(h @ t["W2"] + t["b2"]), tg.tensor(y))
    loss.backward()
    return {k: v.grad.numpy() for k, v in t.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=2000)
    p.add_argument("--lr", type=float, default=1.0)
    p.add_argument("--hidden", type=int, default=3)
    p.add_argument("--data", choices=["article", "xor"], default="article", help="for E10")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    rng = np.random.default_rng(a.seed)
    w, b = rng.random((3, 1)), np.zeros(1)
    out = layer_forward(X1, w, b)
    loss, g = layer_backward(X1, out, Y1)
    ag = autograd_layer_grads(X1, Y1, w, b)
    print("E8: one sigmoid layer, x = [1, 2, 3], target 0 (weights (3, 1) plus a bias)")
    print(f"  out = {out.ravel().round(4)}, loss = {loss:.4f}")
    print(f"  dL/dW = {g['W'].ravel().round(6)}, dL/db = {g['b'].round(6)}")
    diff = max(float(np.abs(g[k] - ag[k]).max()) for k in g)
    print(f"  |hand - autograd| = {diff:.1e}")
    print(f"  after one step of lr 0.01: W = {(w - 0.01 * g['W']).ravel().round(4)}")

    r = train_layer(X2, Y2, a.epochs, a.lr, a.seed)
    print(f"\nE9: training the layer on x = [[1,2,3],[4,5,6]], y = [0, 1] ({a.epochs} epochs)")
    print(
        f"  loss {r['losses'][0]:.4f} -> {r['losses'][-1]:.6f}; outputs {r['out'].ravel().round(3)}"
    )

    x, y = (X2, Y2) if a.data == "article" else (X_XOR, Y_XOR)
    r = train_two_layer(x, y, a.hidden, a.epochs if a.data == "article" else 5 * a.epochs, a.lr)
    g = two_layer_backward(x, y, init_two_layer(x.shape[1], a.hidden, a.seed))[1]
    ag = autograd_two_layer_grads(x, y, init_two_layer(x.shape[1], a.hidden, a.seed))
    diff = max(float(np.abs(g[k] - ag[k]).max()) for k in g)
    print(f"\nE10: {x.shape[1]} -> {a.hidden} sigmoid -> 1 sigmoid on the {a.data} data")
    print(f"  |hand - autograd| at the start = {diff:.1e}")
    print(
        f"  loss {r['losses'][0]:.4f} -> {r['losses'][-1]:.6f}; outputs {r['out'].ravel().round(3)}"
    )
    print(f"  targets {y.ravel()}")


if __name__ == "__main__":
    main()
