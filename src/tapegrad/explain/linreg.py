"""The hand-written linear regression of the backpropagation tutorial, right and wrong.

The tutorial is 反向传播与生成对抗网络：创新应用与实践 (Backpropagation and GANs:
innovative applications and practice), §4.1.

Fit ``y_pred = w x + b`` to x = 1..5, y = 1..5 with ``L = mean((y_pred - y)^2)``,
learning rate 0.01, from a random start. The chain rule gives

    dL/dw = 2/n sum_i (y_pred_i - y_i) x_i        dL/db = 2/n sum_i (y_pred_i - y_i)

The tutorial writes ``dw = -2 (y_pred - y) . x`` and ``db = -2 mean(y_pred - y)``:
the sign is wrong (each step climbs the loss) and ``dw`` sums instead of
averaging (``n`` times too large). Because the loss is quadratic, both updates
are linear maps of the error ``e = (w - 1, b - 0)``:
``e <- (I - lr D H) e`` with the Hessian ``H = 2/n A^T A`` (``A`` = the inputs
with a column of ones), ``D = I`` for the right gradient and ``D = diag(-n, -1)``
for the tutorial's. Gradient descent converges exactly when the spectral
radius of that matrix is below 1: :func:`spectral_radius` computes it, so the
printed divergence is predicted, not just observed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

X = np.arange(1.0, 6.0).reshape(5, 1)  # (5, 1): inputs 1..5
Y = np.arange(1.0, 6.0)  # (5,): targets 1..5
LR = 0.01
RULES = ("correct", "tutorial")


def start(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The random starting ``w (1,)`` and ``b (1,)`` (standard normal draws)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(1), rng.standard_normal(1)


def loss_and_grad(
    w: np.ndarray, b: np.ndarray, x: np.ndarray = X, y: np.ndarray = Y
) -> tuple[float, np.ndarray, np.ndarray]:
    """MSE and its gradient for ``y_pred = x @ w + b``: ``(loss, dw (d,), db (1,))``."""
    n = x.shape[0]
    r = x @ w + b - y  # residuals (n,)
    return float(np.mean(r**2)), 2.0 / n * (x.T @ r), np.array([2.0 / n * r.sum()])


def tutorial_grad(
    w: np.ndarray, b: np.ndarray, x: np.ndarray = X, y: np.ndarray = Y
) -> tuple[float, np.ndarray, np.ndarray]:
    """The tutorial's formula (wrong sign, sum instead of mean), kept to show it diverges."""
    r = x @ w + b - y
    return float(np.mean(r**2)), -2.0 * r.dot(x), np.array([-2.0 * np.mean(r)])


def autograd_grad(
    w: np.ndarray, b: np.ndarray, x: np.ndarray = X, y: np.ndarray = Y
) -> tuple[float, np.ndarray, np.ndarray]:
    """The same loss and gradient from tapegrad's autograd (float64)."""
    import tapegrad as tg

    wt = tg.tensor(w, requires_grad=True)
    bt = tg.tensor(b, requires_grad=True)
    loss = ((tg.tensor(x) @ wt + bt - tg.tensor(y)) ** 2).mean()
    loss.backward()
    assert wt.grad is not None and bt.grad is not None  # both are leaves the loss uses
    return loss.item(), wt.grad.numpy(), bt.grad.numpy()


def hessian(x: np.ndarray = X) -> np.ndarray:
    """``H = 2/n A^T A`` over ``(w, b)``, ``A = [x, 1]``: the MSE's constant Hessian (2, 2)."""
    a = np.hstack([x, np.ones((len(x), 1))])
    return 2.0 / len(x) * a.T @ a


def spectral_radius(lr: float = LR, rule: str = "correct", x: np.ndarray = X) -> float:
    """Largest |eigenvalue| of the error map ``I - lr D H`` (see the module docstring):
    below 1 the updates converge, above 1 they diverge geometrically."""
    d = np.eye(2) if rule == "correct" else np.diag([-float(len(x)), -1.0])
    m = np.eye(2) - lr * d @ hessian(x)
    return float(np.abs(np.linalg.eigvals(m)).max())


def train(
    epochs: int = 1000,
    lr: float = LR,
    seed: int = 0,
    gradient: str = "correct",
    check_every: int = 1,
    verbose: bool = False,
) -> dict[str, Any]:
    """Gradient descent on (X, Y) from :func:`start`.

    Args:
        gradient: ``"correct"`` (checked against autograd every ``check_every``
            steps; 0 disables) or ``"tutorial"`` (``"article"`` is accepted too).

    Returns ``w``, ``b`` (floats), ``w0``, ``b0`` (the start), ``losses`` (one per
    epoch, before the update), ``ws``, ``bs`` (parameters before each update),
    ``max_grad_diff`` (largest |hand - autograd|) and ``diverged`` (loss
    non-finite or above 1e12, which ends the run).
    """
    if gradient == "article":
        gradient = "tutorial"
    if gradient not in RULES:
        raise ValueError(f"gradient must be one of {RULES}, got {gradient!r}")
    w, b = start(seed)
    w0, b0 = float(w[0]), float(b[0])
    step = loss_and_grad if gradient == "correct" else tutorial_grad
    losses: list[float] = []
    ws: list[float] = []
    bs: list[float] = []
    max_diff = 0.0
    diverged = False
    for epoch in range(epochs):
        loss, dw, db = step(w, b)
        losses.append(loss)
        ws.append(float(w[0]))
        bs.append(float(b[0]))
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
        "ws": ws,
        "bs": bs,
        "max_grad_diff": max_diff,
        "diverged": diverged,
    }


def learning_rates(
    lrs: tuple[float, ...] = (1e-3, 0.05, 0.09), epochs: int = 100, seed: int = 0
) -> dict[float, dict[str, Any]]:
    """Training at each learning rate with the correct gradient: ``losses`` per
    epoch, ``rho`` (:func:`spectral_radius`) and ``diverged``. The default rates
    are too small (0.001), about right (0.05, near ``1/lambda_max``) and too
    large (0.09 > ``2/lambda_max`` = 0.084)."""
    out = {}
    for lr in lrs:
        r = train(epochs, lr, seed, "correct", check_every=0)
        out[lr] = {
            "losses": r["losses"],
            "rho": spectral_radius(lr),
            "diverged": r["diverged"],
            "w": r["w"],
            "b": r["b"],
        }
    return out


def plot_learning_rates(results: dict[float, dict[str, Any]], path: str) -> None:
    """Loss curves (log scale) of :func:`learning_rates` into a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lam = float(np.linalg.eigvalsh(hessian()).max())
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    try:
        for lr, r in results.items():
            ax.semilogy(r["losses"], label=f"lr {lr:g} (rho {r['rho']:.4f})")
        ax.set_xlabel("epoch")
        ax.set_ylabel("MSE loss")
        ax.set_title(f"Linear regression x = y = 1..5: 2 / lambda_max = {2 / lam:.4f}")
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def _v(a: np.ndarray, d: int = 4) -> str:
    return "[" + ", ".join(f"{float(v):.{d}f}" for v in np.ravel(a)) + "]"


def _step_lines(w: np.ndarray, b: np.ndarray, rule: str, lr: float) -> list[str]:
    """Equation lines (``name = symbolic = numeric = value``) of one update."""
    x, y = X[:, 0], Y
    y_pred = x * w[0] + b[0]
    r = y_pred - y
    loss, dw, db = (loss_and_grad if rule == "correct" else tutorial_grad)(w, b)
    terms = " + ".join(f"({ri:.4f})*{xi:.0f}" for ri, xi in zip(r, x))
    rsum = " + ".join(f"({ri:.4f})" for ri in r)
    lines = [
        f"y_pred = w*x + b = {w[0]:.4f}*[1, 2, 3, 4, 5] + ({b[0]:.4f}) = {_v(y_pred)}",
        f"r = y_pred - y = {_v(y_pred)} - [1, 2, 3, 4, 5] = {_v(r)}",
        f"L = mean(r**2) = ({' + '.join(f'({ri:.4f})**2' for ri in r)})/5 = {loss:.4f}",
    ]
    if rule == "correct":
        lines += [
            f"dL/dw = 2/n*sum(r_i*x_i) = 2/5*({terms}) = {dw[0]:.4f}",
            f"dL/db = 2/n*sum(r_i) = 2/5*({rsum}) = {db[0]:.4f}",
        ]
    else:
        lines += [
            f"dw_tutorial = -2*sum(r_i*x_i) = -2*({terms}) = {dw[0]:.4f}",
            f"db_tutorial = -2*mean(r) = -2*({rsum})/5 = {db[0]:.4f}",
        ]
    g = ("dL/dw", "dL/db") if rule == "correct" else ("dw_tutorial", "db_tutorial")
    lines += [
        f"new w = w - lr*{g[0]} = {w[0]:.4f} - {lr}*({dw[0]:.4f}) = {w[0] - lr * dw[0]:.4f}",
        f"new b = b - lr*{g[1]} = {b[0]:.4f} - {lr}*({db[0]:.4f}) = {b[0] - lr * db[0]:.4f}",
    ]
    return lines


def _history_table(r: dict[str, Any], epochs: tuple[int, ...]) -> list[list[str]]:
    return [
        [str(e), f"{r['losses'][e]:.4g}", f"{r['ws'][e]:.4f}", f"{r['bs'][e]:.4f}"]
        for e in epochs
        if e < len(r["losses"])
    ]


def document(epochs: int = 1000, lr: float = LR, seed: int = 0) -> list[Any]:
    """The example as blocks for :func:`tapegrad.explain.format.render_blocks`: the
    first step by hand, the training history, then the tutorial's update and why
    it diverges. Numbers are rounded to 4 decimals (losses to 4 significant digits)."""
    w, b = start(seed)
    good = train(epochs, lr, seed, "correct", check_every=1)
    bad = train(epochs, lr, seed, "tutorial")
    lam = np.linalg.eigvalsh(hessian())
    rho_good, rho_bad = spectral_radius(lr), spectral_radius(lr, "tutorial")
    growth = [
        bad["losses"][k + 1] / bad["losses"][k] for k in range(min(5, len(bad["losses"]) - 1))
    ]
    marks = (0, 1, 2, 5, 10, 100, 500, epochs - 1)
    head = ["epoch", "loss", "w", "b"]
    return [
        ("h1", "Linear regression by hand-written backpropagation"),
        (
            "p",
            f"Fit y_pred = w x + b to x = [1, 2, 3, 4, 5], y = [1, 2, 3, 4, 5] (the exact fit is "
            f"w = 1, b = 0) with L = mean((y_pred - y)^2) and learning rate {lr}, from a random "
            f"start (standard normal draws, seed {seed}): w = {w[0]:.4f}, b = {b[0]:.4f}. The "
            "chain rule gives dL/dw = 2/n sum(r_i x_i) and dL/db = 2/n sum(r_i) with the "
            "residuals r = y_pred - y.",
        ),
        ("h2", "The first step, by hand"),
        ("eq", _step_lines(w, b, "correct", lr)),
        (
            "p",
            f"After {epochs} steps: w = {good['w']:.4f}, b = {good['b']:.4f}, loss "
            f"{good['losses'][-1]:.3g}. Every step's gradient equals tapegrad's autograd "
            f"(largest difference {good['max_grad_diff']:.1e}).",
        ),
        ("table", head, _history_table(good, marks)),
        ("h2", "The tutorial's gradient, and why it diverges"),
        (
            "p",
            "The tutorial writes dw = -2 (y_pred - y) . x and db = -2 mean(y_pred - y): the "
            "opposite sign (so every step climbs the loss) and, for dw, a sum instead of a mean "
            "(n = 5 times too large). Its first step from the same start:",
        ),
        ("eq", _step_lines(w, b, "tutorial", lr)),
        (
            "table",
            head,
            _history_table(
                bad, tuple(range(min(6, len(bad["losses"])))) + (len(bad["losses"]) - 1,)
            ),
        ),
        (
            "p",
            f"The loss is a quadratic with Hessian H = 2/n A^T A (A = [x, 1]), eigenvalues "
            f"{lam[0]:.4f} and {lam[1]:.4f}. Each update maps the error e = (w - 1, b) to "
            f"(I - lr D H) e, with D = I for the right gradient and D = diag(-5, -1) for the "
            f"tutorial's. The spectral radius of that map is {rho_good:.4f} for the right "
            f"gradient (below 1: it converges, slowly along the flat direction) and "
            f"{rho_bad:.4f} for the tutorial's (above 1: the error grows by about that factor "
            f"per step and the loss by about its square, {rho_bad**2:.2f}; the observed loss "
            f"ratios of the first steps are {', '.join(f'{g:.2f}' for g in growth)}). "
            f"The loss passes 1e12 after {len(bad['losses']) - 1} steps. Gradient descent with "
            f"the right gradient converges for any lr below 2 / {lam[1]:.4f} = "
            f"{2 / lam[1]:.4f}.",
        ),
    ]
