"""The backpropagation tutorial's worked example, computed correctly, number by number.

The tutorial is 一切皆是映射：反向传播机制的直观理解 (Everything is a mapping: an
intuitive understanding of backpropagation), §4.2; its example: inputs x = [1, 2],
target y = 3, sigmoid units, the cost C = 1/2 (y - y_hat)^2, learning rate 0.01. Its list of
weights does not describe one network, so this module uses the one network its formulas imply,
keeping every weight and bias it gives wherever they fit (:data:`NETWORK_NOTES` says
which do not and what was chosen instead)::

    layer 0  z0 = w0 * x + b0       (2,)   each unit reads one input:
                                           w0 = [0.1, 0.2], b0 = [0.1, 0.2]
             a0 = sigmoid(z0)
    layer 1  z1 = W1 a0 + b1        (3,)   W1 = [[0.3, 0.4], [0.4, 0.5], [0.5, 0.5]]
             a1 = sigmoid(z1)              b1 = [0.3, 0.4, 0.5]
    layer 2  z2 = W2 a1 + b2        (1,)   W2 = [[0.6, 0.7, 0.8]], b2 = [0.6]
             y_hat = sigmoid(z2)   (the tutorial's output unit)
                   or z2           (a linear output unit, which can reach 3)

Everything is float64 NumPy written out by the chain rule;
:func:`check_with_autograd` runs the same network through
:func:`tapegrad.explain.trace`, which checks every gradient against autograd and
finite differences. :func:`tutorial_errors` lists the tutorial's numbers next to
the right ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

X = np.array([1.0, 2.0])
Y = 3.0
LR = 0.01
OUTPUTS = ("sigmoid", "linear")
PARAM_ORDER = ("w0", "b0", "W1", "b1", "W2", "b2")

#: Where the tutorial's parameter list does not fit one network, and the choice made.
NETWORK_NOTES = (
    "layer 0: w0 = [0.1, 0.2] and b0 = [0.1, 0.2] as given; each of its two units reads one "
    "input (z0_1 = w0_1 x_1 + b0_1), as the tutorial's formulas do",
    "layer 1 needs six weights (3 units x 2 inputs) but the tutorial lists three "
    "(0.3, 0.4, 0.5); its formulas use [0.3, 0.4] for unit 1, [0.4, 0.5] for unit 2 and "
    "[0.5, 0.5] for unit 3 (the last 0.5 is a weight it never defines): chosen "
    "W1 = [[0.3, 0.4], [0.4, 0.5], [0.5, 0.5]]; b1 = [0.3, 0.4, 0.5] as given",
    "layer 2: W2 = [0.6, 0.7, 0.8] and b2 = 0.6 as given; the tutorial also computes two "
    "more output units with biases 0.7 and 0.8 that its list does not have and that y_hat "
    "never uses (y is one number): dropped",
)


def sigmoid(z: Any) -> Any:
    """``1 / (1 + exp(-z))`` elementwise; same shape as ``z``."""
    return 1.0 / (1.0 + np.exp(-z))


def initial_params() -> dict[str, np.ndarray]:
    """The network's starting weights and biases (float64 arrays, see the module docstring)."""
    return {
        "w0": np.array([0.1, 0.2]),
        "b0": np.array([0.1, 0.2]),
        "W1": np.array([[0.3, 0.4], [0.4, 0.5], [0.5, 0.5]]),
        "b1": np.array([0.3, 0.4, 0.5]),
        "W2": np.array([[0.6, 0.7, 0.8]]),
        "b2": np.array([0.6]),
    }


def forward(p: dict[str, np.ndarray], output: str = "sigmoid") -> dict[str, np.ndarray]:
    """Forward values ``z0, a0`` (2,), ``z1, a1`` (3,), ``z2, y_hat`` (1,)."""
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    z0 = p["w0"] * X + p["b0"]
    a0 = sigmoid(z0)
    z1 = p["W1"] @ a0 + p["b1"]
    a1 = sigmoid(z1)
    z2 = p["W2"] @ a1 + p["b2"]
    y_hat = sigmoid(z2) if output == "sigmoid" else z2
    return {"z0": z0, "a0": a0, "z1": z1, "a1": a1, "z2": z2, "y_hat": y_hat}


def cost(p: dict[str, np.ndarray], output: str = "sigmoid") -> float:
    """C = 1/2 (y - y_hat)^2."""
    return float(0.5 * (Y - forward(p, output)["y_hat"][0]) ** 2)


def backward(p: dict[str, np.ndarray], output: str = "sigmoid") -> dict[str, Any]:
    """The chain rule written out.

    Returns the forward values, ``C``, ``dC_dyhat`` (1,), ``delta2 = dC/dz2`` (1,),
    ``delta1 = dC/dz1`` (3,), ``delta0 = dC/dz0`` (2,) and ``grads``: the gradient
    of C with respect to each parameter (same shapes as the parameters).
    """
    f = forward(p, output)
    y_hat = f["y_hat"]
    dc_dyhat = y_hat - Y  # d/dy_hat of 1/2 (y - y_hat)^2
    dyhat_dz2 = y_hat * (1 - y_hat) if output == "sigmoid" else np.ones_like(y_hat)
    delta2 = dc_dyhat * dyhat_dz2
    delta1 = (p["W2"].T @ delta2) * f["a1"] * (1 - f["a1"])
    delta0 = (p["W1"].T @ delta1) * f["a0"] * (1 - f["a0"])
    grads = {
        "W2": np.outer(delta2, f["a1"]),
        "b2": delta2.copy(),
        "W1": np.outer(delta1, f["a0"]),
        "b1": delta1.copy(),
        "w0": delta0 * X,  # each layer-0 unit reads one input
        "b0": delta0.copy(),
    }
    return {
        **f,
        "C": float(0.5 * (Y - y_hat[0]) ** 2),
        "dC_dyhat": dc_dyhat,
        "delta2": delta2,
        "delta1": delta1,
        "delta0": delta0,
        "grads": grads,
    }


def sgd_update(
    p: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float = LR
) -> dict[str, np.ndarray]:
    """theta <- theta - lr * dC/dtheta, as new arrays."""
    return {k: p[k] - lr * grads[k] for k in p}


def train(
    steps: int, output: str = "sigmoid", lr: float = LR, record: tuple[int, ...] = ()
) -> dict[str, Any]:
    """``steps`` SGD steps from :func:`initial_params`.

    Returns ``params`` (after the last step), ``costs`` (``steps + 1`` values:
    before each step and after the last) and ``y_hat`` (prediction at the end).
    """
    p = initial_params()
    costs = [cost(p, output)]
    for _ in range(steps):
        p = sgd_update(p, backward(p, output)["grads"], lr)
        costs.append(cost(p, output))
    return {"params": p, "costs": costs, "y_hat": float(forward(p, output)["y_hat"][0])}


def check_with_autograd(output: str = "sigmoid") -> Any:
    """The same cost built from tapegrad tensors and traced by
    :func:`tapegrad.explain.trace`: returns the :class:`~tapegrad.explain.Trace`,
    whose checks compare every gradient with autograd and finite differences."""
    import tapegrad as tg

    from .trace import trace

    t = {k: tg.tensor(v, requires_grad=True) for k, v in initial_params().items()}

    def c() -> Any:
        a0 = tg.sigmoid(t["w0"] * tg.tensor(X) + t["b0"])
        a1 = tg.sigmoid(t["W1"] @ a0 + t["b1"])
        z2 = t["W2"] @ a1 + t["b2"]
        y_hat = tg.sigmoid(z2) if output == "sigmoid" else z2
        return (0.5 * (Y - y_hat) ** 2).sum()

    return trace(c, params=t)


@dataclass
class Erratum:
    """One number the tutorial prints: what it is, its value, the right value (in
    the network above, sigmoid output), why they differ (``reason``, a key of
    :data:`tapegrad.explain.worked_text.REASONS`) and, where the tutorial's own
    arithmetic on its own inputs gives yet another number, that number (``own``)."""

    quantity: str
    tutorial: float
    correct: float | None
    reason: str
    own: float | None = None


def tutorial_errors() -> list[Erratum]:
    """Every number the tutorial's worked example prints, with the right one.

    ``correct`` is None for a quantity of a unit the network does not have.
    """
    h = backward(initial_params(), "sigmoid")
    new = sgd_update(initial_params(), h["grads"])
    a0, z1, a1 = h["a0"], h["z1"], h["a1"]
    d1, d0 = h["delta1"], h["delta0"]
    t_a0 = (0.5236, 0.5488)
    t_z1 = (0.5864, 0.6418, 0.6672)
    t_d2 = (0.0375, 0.0342, 0.0319)
    e = [
        Erratum("a0_1 = sigmoid(0.2)", 0.5236, a0[0], "sigmoid"),
        Erratum("a0_2 = sigmoid(0.6)", 0.5488, a0[1], "sigmoid"),
    ]
    rows = ((0.3, 0.4, 0.3), (0.4, 0.5, 0.4), (0.5, 0.5, 0.5))
    for i, (t, (wa, wb, b)) in enumerate(zip(t_z1, rows)):
        own = wa * t_a0[0] + wb * t_a0[1] + b
        e.append(Erratum(f"z1_{i + 1}", t, z1[i], "carried", own))
    for i, t in enumerate((0.5704, 0.5294, 0.5263)):
        e.append(Erratum(f"a1_{i + 1}", t, a1[i], "carried", sigmoid(t_z1[i])))
    own = 0.6 * 0.5704 + 0.7 * 0.5294 + 0.8 * 0.5263 + 0.6
    e.append(Erratum("z2_1", 1.4379, h["z2"][0], "carried", own))
    e.append(Erratum("y_hat = a2_1", 0.9164, h["y_hat"][0], "carried", sigmoid(1.4379)))
    for name, t in (("z2_2", 1.4493), ("z2_3", 1.4607), ("a2_2", 0.9087), ("a2_3", 0.9017)):
        e.append(Erratum(name, t, None, "no_unit"))
    e.append(Erratum("C", 3.9256, h["C"], "carried", 0.5 * (3 - 0.9164) ** 2))
    own = (3 - 0.9164) * (1 - 0.9164)
    e.append(Erratum("dC/dz2_1", 0.0375, h["delta2"][0], "dz2", own))
    for name, t in (("dC/dz2_2", 0.0342), ("dC/dz2_3", 0.0319)):
        e.append(Erratum(name, t, None, "no_unit"))
    for i, t in enumerate((0.0212, 0.0196, 0.0184)):
        own = t_d2[i] * (1 - (0.5704, 0.5294, 0.5263)[i])
        e.append(Erratum(f"dC/dz1_{i + 1}", t, d1[i], "dz1", own))
    for j, t in enumerate((0.0119, 0.0110)):
        own = (0.0212, 0.0196)[j] * (1 - t_a0[j])
        e.append(Erratum(f"dC/dz0_{j + 1}", t, d0[j], "dz0", own))
    for j, t in enumerate((0.5953, 0.6955, 0.7684)):
        own = (0.6, 0.7, 0.8)[j] - 0.01 * t_d2[j]
        e.append(Erratum(f"new W2_{j + 1}", t, new["W2"][0, j], "update", own))
    e.append(Erratum("new b2_1", 0.5953, new["b2"][0], "update", 0.6 - 0.01 * 0.0375))
    for name, t in (("new b2_2", 0.6955), ("new b2_3", 0.7684)):
        e.append(Erratum(name, t, None, "no_unit"))
    # each of the tutorial's three layer-1 weights stands where its formulas first use it
    t_d1 = (0.0212, 0.0196, 0.0184)
    for k, (name, t, ij) in enumerate(
        (
            ("new w1_11 (W1[0,0])", 0.2875, (0, 0)),
            ("new w1_12 (W1[0,1])", 0.3996, (0, 1)),
            ("new w1_13 (W1[1,1])", 0.4966, (1, 1)),
        )
    ):
        own = (0.3, 0.4, 0.5)[k] - 0.01 * t_d1[k] * (0.5236, 0.5488, 0.5263)[k]
        e.append(Erratum(name, t, new["W1"][ij], "update_w1", own))
    for i, t in enumerate((0.2788, 0.3904, 0.4916)):
        own = (0.3, 0.4, 0.5)[i] - 0.01 * t_d1[i]
        e.append(Erratum(f"new b1_{i + 1}", t, new["b1"][i], "update", own))
    for j, t in enumerate((0.0895, 0.1804)):
        own = (0.1, 0.2)[j] - 0.01 * (0.0119, 0.0110)[j] * t_a0[j]
        e.append(Erratum(f"new w0_{j + 1}", t, new["w0"][j], "update_w0", own))
    for j, t in enumerate((0.0881, 0.1800)):
        own = (0.1, 0.2)[j] - 0.01 * (0.0119, 0.0110)[j]
        e.append(Erratum(f"new b0_{j + 1}", t, new["b0"][j], "update", own))
    return [Erratum(x.quantity, x.tutorial, _f(x.correct), x.reason, _f(x.own)) for x in e]


def _f(v: Any) -> float | None:
    return None if v is None else float(v)
