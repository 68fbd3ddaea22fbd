"""E5 (article 003 §4.2): one backpropagation step worked out by hand, number by number.

What the article intended: a small network with sigmoid units, input x = [1, 2],
target y = 3, cost C = 1/2 (y - y_hat)^2, learning rate 0.01; compute every
forward value, the cost, every gradient by the chain rule and the updated
weights, by hand.

What was wrong:
- the arithmetic is wrong from the first line: sigmoid(0.2) = 0.5498 (the
  article writes 0.5236) and sigmoid(0.6) = 0.6457 (the article writes 0.5488);
- the listed weights do not fit one network (a "2-3-1" network whose first layer
  has two weights, whose hidden layer has three outputs computed from weights
  the list does not define, and whose "output layer" has three units);
- the gradients drop factors: dC/dz for a sigmoid output is
  (y_hat - y) * y_hat * (1 - y_hat), not (3 - y_hat)(1 - y_hat) (wrong sign and
  a missing y_hat), and a weight's gradient is dC/dz times the activation that
  the weight multiplies, which the output-layer updates leave out;
- a sigmoid output lies in (0, 1), so it can never reach the target 3: the cost
  can never fall below 1/2 (3 - 1)^2 = 2.

The network used here (documented, consistent, and close to the article's numbers):

    input x = [1, 2]                                     (2,)
    hidden: z1 = W1 x + b1, a1 = sigmoid(z1)             (3,)
        W1 = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]],  b1 = [0.1, 0.2, 0.3]
    output: z2 = W2 a1 + b2                              (1,)
        W2 = [[0.6, 0.7, 0.8]],  b2 = [0.6]
        y_hat = z2 (linear output unit, the default) or sigmoid(z2) (--output sigmoid)
    cost C = 1/2 (y - y_hat)^2, learning rate 0.01

The default output unit is linear because the target is 3: a regression output
must be able to reach its target. ``--output sigmoid`` keeps the article's
sigmoid output and shows the consequence (the cost is stuck above 2).

Every number is computed by the closed-form chain rule in NumPy (float64),
printed step by step, and checked against tapegrad's autograd and against
central finite differences of the cost.

Run:  python examples/seeds/e05_worked_example.py [--output linear|sigmoid] [--steps 1]
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

import tapegrad as tg

X = np.array([1.0, 2.0])
Y = 3.0
LR = 0.01


def initial_params() -> dict[str, np.ndarray]:
    """The documented starting weights (float64 arrays)."""
    return {
        "W1": np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]),
        "b1": np.array([0.1, 0.2, 0.3]),
        "W2": np.array([[0.6, 0.7, 0.8]]),
        "b2": np.array([0.6]),
    }


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def forward(
    p: dict[str, np.ndarray], x: np.ndarray = X, output: str = "linear"
) -> dict[str, np.ndarray]:
    """Forward values: z1, a1 (3,), z2, y_hat (1,)."""
    z1 = p["W1"] @ x + p["b1"]
    a1 = sigmoid(z1)
    z2 = p["W2"] @ a1 + p["b2"]
    y_hat = z2 if output == "linear" else sigmoid(z2)
    return {"z1": z1, "a1": a1, "z2": z2, "y_hat": y_hat}


def cost(p: dict[str, np.ndarray], x: np.ndarray = X, y: float = Y, output: str = "linear"):
    """C = 1/2 (y - y_hat)^2 as a float."""
    return float(0.5 * ((y - forward(p, x, output)["y_hat"]) ** 2).sum())


def hand_backward(
    p: dict[str, np.ndarray], x: np.ndarray = X, y: float = Y, output: str = "linear"
) -> dict[str, Any]:
    """The chain rule written out: every intermediate value and every gradient.

    Returns the forward values, ``C``, ``dC/dy_hat``, ``delta2 = dC/dz2`` (1,),
    ``delta1 = dC/dz1`` (3,) and the parameter gradients ``dW1`` (3, 2), ``db1``
    (3,), ``dW2`` (1, 3), ``db2`` (1,).
    """
    f = forward(p, x, output)
    y_hat = f["y_hat"]
    c = float(0.5 * ((y - y_hat) ** 2).sum())
    dc_dyhat = y_hat - y  # d/dy_hat of 1/2 (y - y_hat)^2
    dyhat_dz2 = np.ones_like(y_hat) if output == "linear" else y_hat * (1 - y_hat)
    delta2 = dc_dyhat * dyhat_dz2
    dW2 = np.outer(delta2, f["a1"])  # dz2/dW2[0, j] = a1[j]
    db2 = delta2.copy()
    da1 = p["W2"].T @ delta2  # dz2/da1 = W2
    delta1 = da1 * f["a1"] * (1 - f["a1"])  # sigmoid'(z1) = a1 (1 - a1)
    dW1 = np.outer(delta1, x)  # dz1/dW1[i, j] = x[j]
    db1 = delta1.copy()
    return {
        **f,
        "C": c,
        "dC_dyhat": dc_dyhat,
        "delta2": delta2,
        "delta1": delta1,
        "grads": {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2},
    }


def autograd_grads(
    p: dict[str, np.ndarray], x: np.ndarray = X, y: float = Y, output: str = "linear"
) -> tuple[float, dict[str, np.ndarray]]:
    """Cost and parameter gradients from tapegrad's autograd (float64)."""
    t = {k: tg.tensor(v, requires_grad=True) for k, v in p.items()}
    a1 = tg.sigmoid(t["W1"] @ tg.tensor(x) + t["b1"])
    z2 = t["W2"] @ a1 + t["b2"]
    y_hat = z2 if output == "linear" else tg.sigmoid(z2)
    c = (0.5 * (y - y_hat) ** 2).sum()
    c.backward()
    return c.item(), {k: v.grad.numpy() for k, v in t.items()}


def finite_difference_grads(
    p: dict[str, np.ndarray],
    x: np.ndarray = X,
    y: float = Y,
    output: str = "linear",
    eps: float = 1e-6,
) -> dict[str, np.ndarray]:
    """Central differences (C(p + eps) - C(p - eps)) / (2 eps), entry by entry."""
    out = {}
    for k, v in p.items():
        g = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            plus = {kk: vv.copy() for kk, vv in p.items()}
            minus = {kk: vv.copy() for kk, vv in p.items()}
            plus[k][idx] += eps
            minus[k][idx] -= eps
            g[idx] = (cost(plus, x, y, output) - cost(minus, x, y, output)) / (2 * eps)
        out[k] = g
    return out


def sgd_update(
    p: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float = LR
) -> dict[str, np.ndarray]:
    """theta <- theta - lr * dC/dtheta, as new arrays."""
    return {k: p[k] - lr * grads[k] for k in p}


def run(steps: int = 1, output: str = "linear", lr: float = LR) -> dict[str, Any]:
    """``steps`` gradient-descent steps from :func:`initial_params`.

    Returns ``first`` (the hand computation of step 1), ``updated`` (parameters
    after step 1), ``params`` (after all steps), ``costs`` (before each step and
    after the last), ``autograd_diff`` and ``fd_diff`` (largest absolute
    gradient differences over all steps).
    """
    p = initial_params()
    first: dict[str, Any] = {}
    updated: dict[str, np.ndarray] = {}
    costs = []
    ag_diff = fd_diff = 0.0
    for s in range(steps):
        h = hand_backward(p, output=output)
        _, ag = autograd_grads(p, output=output)
        fd = finite_difference_grads(p, output=output)
        for k in p:
            ag_diff = max(ag_diff, float(np.abs(ag[k] - h["grads"][k]).max()))
            fd_diff = max(fd_diff, float(np.abs(fd[k] - h["grads"][k]).max()))
        costs.append(h["C"])
        p = sgd_update(p, h["grads"], lr)
        if s == 0:
            first, updated = h, {k: v.copy() for k, v in p.items()}
    costs.append(cost(p, output=output))
    return {
        "first": first,
        "updated": updated,
        "params": p,
        "costs": costs,
        "autograd_diff": ag_diff,
        "fd_diff": fd_diff,
    }


def _v(a: np.ndarray) -> str:
    return "[" + ", ".join(f"{float(v):.4f}" for v in np.ravel(a)) + "]"


def print_worked_step(h: dict[str, Any], p: dict[str, np.ndarray], output: str, lr: float):
    """Print the forward pass, cost, gradients and updates like the article intends."""
    W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
    print("Forward pass")
    for i in range(3):
        print(
            f"  z1_{i + 1} = {W1[i, 0]:.1f}*{X[0]:.0f} + {W1[i, 1]:.1f}*{X[1]:.0f} + "
            f"{b1[i]:.1f} = {h['z1'][i]:.4f}    a1_{i + 1} = sigmoid({h['z1'][i]:.4f}) "
            f"= {h['a1'][i]:.4f}"
        )
    terms = " + ".join(f"{W2[0, j]:.1f}*{h['a1'][j]:.4f}" for j in range(3))
    print(f"  z2 = {terms} + {b2[0]:.1f} = {h['z2'][0]:.4f}")
    if output == "linear":
        print(f"  y_hat = z2 = {h['y_hat'][0]:.4f}   (linear output unit)")
    else:
        print(f"  y_hat = sigmoid(z2) = {h['y_hat'][0]:.4f}   (sigmoid output unit)")
    print("Cost")
    print(f"  C = 1/2 (y - y_hat)^2 = 1/2 ({Y:.0f} - {h['y_hat'][0]:.4f})^2 = {h['C']:.4f}")
    print("Backward pass (chain rule)")
    print(f"  dC/dy_hat = y_hat - y = {h['dC_dyhat'][0]:.4f}")
    if output == "linear":
        print(f"  delta2 = dC/dz2 = dC/dy_hat * 1 = {h['delta2'][0]:.4f}")
    else:
        print(f"  delta2 = dC/dz2 = dC/dy_hat * y_hat (1 - y_hat) = {h['delta2'][0]:.4f}")
    print(f"  dC/dW2 = delta2 * a1 = {_v(h['grads']['W2'])}    dC/db2 = {_v(h['grads']['b2'])}")
    for i in range(3):
        print(
            f"  delta1_{i + 1} = W2_{i + 1} * delta2 * a1_{i + 1} (1 - a1_{i + 1}) = "
            f"{W2[0, i]:.1f} * {h['delta2'][0]:.4f} * {h['a1'][i]:.4f} * "
            f"{1 - h['a1'][i]:.4f} = {h['delta1'][i]:.6f}"
        )
    print(f"  dC/dW1 = outer(delta1, x) = {_v(h['grads']['W1'])}  (row-major 3x2)")
    print(f"  dC/db1 = delta1 = {_v(h['grads']['b1'])}")
    print(f"Update (theta <- theta - {lr} * dC/dtheta)")
    new = sgd_update(p, h["grads"], lr)
    for k in ("W2", "b2", "W1", "b1"):
        print(f"  {k}: {_v(p[k])} -> {_v(new[k])}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--output", choices=["linear", "sigmoid"], default="linear")
    ap.add_argument("--steps", type=int, default=1, help="gradient-descent steps to run")
    ap.add_argument("--lr", type=float, default=LR)
    a = ap.parse_args()

    print("Corrections to the article's first line:")
    print(f"  sigmoid(0.2) = {1 / (1 + math.exp(-0.2)):.4f}  (article: 0.5236)")
    print(f"  sigmoid(0.6) = {1 / (1 + math.exp(-0.6)):.4f}  (article: 0.5488)\n")

    r = run(a.steps, a.output, a.lr)
    print_worked_step(r["first"], initial_params(), a.output, a.lr)
    print(
        f"\nChecks over {a.steps} step(s): max |hand - tapegrad autograd| = "
        f"{r['autograd_diff']:.1e}, max |hand - finite differences| = {r['fd_diff']:.1e}"
    )
    if a.steps > 1:
        print(f"Cost after each step: {', '.join(f'{c:.4f}' for c in r['costs'])}")
    if a.output == "sigmoid":
        print(
            "\nNote: a sigmoid output is below 1, so with target 3 the cost is always "
            f"above 1/2 (3 - 1)^2 = 2 (here {r['costs'][-1]:.4f}); use a linear output "
            "unit for regression to unbounded targets, or rescale the target into (0, 1)."
        )


if __name__ == "__main__":
    main()
