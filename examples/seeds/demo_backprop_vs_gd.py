"""Demonstration: backpropagation computes the gradient; gradient descent uses it.

From the backpropagation and GANs tutorial, §6 Q2 (docs/tutorials.md).

The tutorials often blur the two. They are separate steps:

1. **Backpropagation** (reverse-mode differentiation) computes ``dL/dtheta`` for
   every parameter in one backward pass that costs about as much as the forward
   pass. Finite differences need two forward passes *per parameter* and are
   only approximate; both give the same numbers here.
2. **An optimiser** turns the gradient into an update. Plain gradient descent
   takes ``theta <- theta - lr * g``; Adam takes
   ``theta <- theta - lr * m_hat / (sqrt(v_hat) + eps)`` from running moments of
   ``g``. The same gradient gives different steps.
3. Backprop is not tied to training: the same backward pass gives ``dL/dx``, the
   gradient with respect to the *input* (used for saliency maps and adversarial
   examples), with no update at all.

The model is a small tanh MLP (3 -> 4 -> 1) in float64.

Run:  python examples/seeds/demo_backprop_vs_gd.py [--lr 0.1]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import nn, optim


def setup(seed: int = 0) -> tuple[nn.Sequential, tg.Tensor, tg.Tensor]:
    """The model (float64) and a batch: ``x (16, 3)``, ``y (16, 1)``."""
    tg.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(3, 4, dtype=tg.float64), nn.Tanh(), nn.Linear(4, 1, dtype=tg.float64)
    )
    rng = np.random.default_rng(seed)
    x = tg.tensor(rng.standard_normal((16, 3)))
    y = tg.tensor(rng.standard_normal((16, 1)))
    return model, x, y


def loss_fn(model: nn.Module, x: tg.Tensor, y: tg.Tensor) -> tg.Tensor:
    return nn.functional.mse_loss(model(x), y)


def backprop_grads(model: nn.Module, x: tg.Tensor, y: tg.Tensor) -> list[np.ndarray]:
    """Every parameter's gradient from one backward pass."""
    model.zero_grad()
    loss_fn(model, x, y).backward()
    return [p.grad.numpy().copy() for p in model.parameters()]


def finite_difference_grads(
    model: nn.Module, x: tg.Tensor, y: tg.Tensor, eps: float = 1e-6
) -> tuple[list[np.ndarray], int]:
    """Central differences, one parameter entry at a time; also the number of forward passes."""
    grads, passes = [], 0
    with tg.no_grad():
        for p in model.parameters():
            g = np.zeros_like(p.detach().numpy())
            for idx in np.ndindex(p.shape):
                old = p.detach().numpy()[idx]
                p.detach().numpy()[idx] = old + eps
                up = loss_fn(model, x, y).item()
                p.detach().numpy()[idx] = old - eps
                down = loss_fn(model, x, y).item()
                p.detach().numpy()[idx] = old
                g[idx] = (up - down) / (2 * eps)
                passes += 2
            grads.append(g)
    return grads, passes


def sgd_vs_manual(lr: float = 0.1, seed: int = 0) -> dict[str, Any]:
    """One ``optim.SGD`` step and the hand update ``theta - lr * g`` from the same gradient."""
    model, x, y = setup(seed)
    g = backprop_grads(model, x, y)
    manual = [p.detach().numpy() - lr * gi for p, gi in zip(model.parameters(), g)]
    optim.SGD(model.parameters(), lr=lr).step()
    return {"optimizer": [p.detach().numpy().copy() for p in model.parameters()], "manual": manual}


def adam_vs_manual(
    lr: float = 0.1,
    steps: int = 3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    seed: int = 0,
) -> dict[str, Any]:
    """``steps`` ``optim.Adam`` steps and the same steps computed by hand from the
    backprop gradients (Kingma and Ba's algorithm, bias-corrected)."""
    model, x, y = setup(seed)
    opt = optim.Adam(model.parameters(), lr=lr, betas=betas, eps=eps)
    theta = [p.detach().numpy().copy() for p in model.parameters()]
    m = [np.zeros_like(t) for t in theta]
    v = [np.zeros_like(t) for t in theta]
    b1, b2 = betas
    for t in range(1, steps + 1):
        g = backprop_grads(model, x, y)  # gradient at the optimiser's current point
        opt.step()
        for i, gi in enumerate(g):
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi**2
            m_hat, v_hat = m[i] / (1 - b1**t), v[i] / (1 - b2**t)
            theta[i] = theta[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return {"optimizer": [p.detach().numpy().copy() for p in model.parameters()], "manual": theta}


def input_gradient(seed: int = 0, eps: float = 1e-6) -> dict[str, np.ndarray]:
    """dL/dx by backprop and by central differences (no parameter changes)."""
    model, x, y = setup(seed)
    xg = x.detach().requires_grad_(True)
    loss_fn(model, xg, y).backward()
    fd = np.zeros_like(x.detach().numpy())
    with tg.no_grad():
        for idx in np.ndindex(x.shape):
            xp, xm = x.detach().numpy().copy(), x.detach().numpy().copy()
            xp[idx] += eps
            xm[idx] -= eps
            up = loss_fn(model, tg.tensor(xp), y).item()
            fd[idx] = (up - loss_fn(model, tg.tensor(xm), y).item()) / (2 * eps)
    return {"backprop": xg.grad.numpy(), "finite_differences": fd}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    model, x, y = setup(a.seed)
    n_params = sum(q.numel() for q in model.parameters())
    t0 = time.perf_counter()
    g_bp = backprop_grads(model, x, y)
    t_bp = time.perf_counter() - t0
    t0 = time.perf_counter()
    g_fd, passes = finite_difference_grads(model, x, y)
    t_fd = time.perf_counter() - t0
    diff = max(float(np.abs(u - v).max()) for u, v in zip(g_bp, g_fd))
    print(f"1. Gradient of the loss w.r.t. {n_params} parameters")
    print(f"   backprop: 1 forward + 1 backward pass ({t_bp * 1e3:.1f} ms)")
    print(f"   finite differences: {passes} forward passes ({t_fd * 1e3:.1f} ms)")
    print(f"   max |difference| {diff:.1e}")

    s = sgd_vs_manual(a.lr, a.seed)
    d_sgd = max(float(np.abs(u - v).max()) for u, v in zip(s["optimizer"], s["manual"]))
    ad = adam_vs_manual(a.lr, steps=1, seed=a.seed)
    d_adam = max(float(np.abs(u - v).max()) for u, v in zip(ad["optimizer"], ad["manual"]))
    model, _, _ = setup(a.seed)
    first = list(model.parameters())[0].detach().numpy().ravel()[:3]
    print("\n2. The same gradient, two optimisers' first step (first three weights of layer 1):")
    print(f"   start  {first.round(5)}")
    print(
        f"   SGD    {s['optimizer'][0].ravel()[:3].round(5)}  theta - lr*g (vs hand: {d_sgd:.1e})"
    )
    print(
        f"   Adam   {ad['optimizer'][0].ravel()[:3].round(5)}  theta - lr*g/|g| on step 1 "
        f"(vs hand: {d_adam:.1e})"
    )

    ig = input_gradient(a.seed)
    d_in = float(np.abs(ig["backprop"] - ig["finite_differences"]).max())
    print("\n3. Backprop without any update: dL/dx for the first input row")
    print(f"   {ig['backprop'][0].round(6)}  (vs finite differences: {d_in:.1e})")


if __name__ == "__main__":
    main()
