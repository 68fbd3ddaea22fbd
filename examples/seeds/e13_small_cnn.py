"""E13: a small convolutional network trained by backpropagation.

From the backpropagation algorithm tutorial, programming problem 6 (docs/tutorials.md).

What the tutorial intended: a convolution layer with sigmoid activation, an MSE
loss, and gradient steps on the filters, on a toy input.

What was wrong: ``np.Conv2D`` does not exist (NumPy has no layers); the filters
are shaped from the input's dimensions rather than (out, in, kh, kw); the
"gradient" has no input term, so it is not the gradient of anything.

What this script does, in two parts:

1. A convolution's backward pass written out in NumPy: for a stride-1 convolution
   ``y[n, f] = sum_c x_pad[n, c] * w[f, c] + b[f]`` (cross-correlation), each
   kernel offset (u, v) contributes ``dW[f, c, u, v] = sum gy[n, f] x_pad[n, c, shifted]``
   and ``dx_pad[n, c, shifted] += sum_f gy[n, f] w[f, c, u, v]``. It is checked
   against tapegrad's ``conv2d`` autograd.
2. A small CNN in tapegrad (conv 1->8 k3, ReLU, maxpool 2; conv 8->16 k3, ReLU,
   maxpool 2; linear 784->10; cross-entropy; Adam) trained on real MNIST digits:
   the first ``--limit`` images of the 10,000-image test split shipped with
   tapegrad (works offline), evaluated on the last 1,000, which it never sees.

Run:  python examples/seeds/e13_small_cnn.py [--limit 2000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import nn, optim
from tapegrad.data import load_mnist_arrays


# ---------------------------------------------------------------- NumPy convolution
def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, padding: int = 0) -> np.ndarray:
    """Stride-1 convolution (cross-correlation, as in deep-learning libraries).

    Shapes: ``x (N, C, H, W)``, ``w (F, C, kh, kw)``, ``b (F,)`` -> ``(N, F, Ho, Wo)``.
    """
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    _, _, kh, kw = w.shape
    ho, wo = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    y = np.zeros((x.shape[0], w.shape[0], ho, wo), dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            y += np.einsum("nchw,fc->nfhw", xp[:, :, u : u + ho, v : v + wo], w[:, :, u, v])
    return y + b[None, :, None, None]


def conv2d_backward(
    x: np.ndarray, w: np.ndarray, gy: np.ndarray, padding: int = 0
) -> dict[str, np.ndarray]:
    """Gradients ``x``, ``w``, ``b`` of a stride-1 convolution, given ``gy = dL/dy``."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    _, _, kh, kw = w.shape
    ho, wo = gy.shape[2], gy.shape[3]
    dw = np.zeros_like(w)
    dxp = np.zeros_like(xp)
    for u in range(kh):
        for v in range(kw):
            window = xp[:, :, u : u + ho, v : v + wo]
            dw[:, :, u, v] = np.einsum("nfhw,nchw->fc", gy, window)
            dxp[:, :, u : u + ho, v : v + wo] += np.einsum("nfhw,fc->nchw", gy, w[:, :, u, v])
    h, wd = x.shape[2], x.shape[3]
    dx = dxp[:, :, padding : padding + h, padding : padding + wd]
    return {"x": dx, "w": dw, "b": gy.sum(axis=(0, 2, 3))}


def check_conv_backward(seed: int = 0, padding: int = 1) -> float:
    """Largest |NumPy - tapegrad| gradient difference for a random conv (float64)."""
    rng = np.random.default_rng(seed)
    x, w, b = (
        rng.standard_normal((2, 3, 6, 5)),
        rng.standard_normal((4, 3, 3, 3)),
        rng.standard_normal(4),
    )
    gy = rng.standard_normal(conv2d_forward(x, w, b, padding).shape)
    mine = conv2d_backward(x, w, gy, padding)
    xt, wt, bt = (tg.tensor(a, requires_grad=True) for a in (x, w, b))
    y = tg.nn.functional.conv2d(xt, wt, bt, padding=padding)
    y.backward(tg.tensor(gy))
    theirs = {"x": xt.grad.numpy(), "w": wt.grad.numpy(), "b": bt.grad.numpy()}
    fwd = float(np.abs(y.detach().numpy() - conv2d_forward(x, w, b, padding)).max())
    return max(fwd, *(float(np.abs(mine[k] - theirs[k]).max()) for k in mine))


# ---------------------------------------------------------------- tapegrad CNN
def build() -> nn.Sequential:
    """(N, 1, 28, 28) -> (N, 10) logits."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 10),
    )


def load(limit: int, n_test: int = 1000) -> tuple[np.ndarray, ...]:
    """MNIST test split: train on its first ``limit`` images, test on its last ``n_test``."""
    x, y = load_mnist_arrays(train=False)
    x = (x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y = y.astype(np.int64)
    if limit + n_test > len(x):
        raise ValueError(f"limit + n_test must be at most {len(x)}, got {limit} + {n_test}")
    return x[:limit], y[:limit], x[-n_test:], y[-n_test:]


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with tg.no_grad():
        pred = np.concatenate(
            [model(tg.tensor(x[i : i + 500])).numpy().argmax(1) for i in range(0, len(x), 500)]
        )
    model.train()
    return float((pred == y).mean())


def train(
    limit: int = 2000,
    epochs: int = 2,
    batch_size: int = 50,
    lr: float = 2e-3,
    n_test: int = 1000,
    seed: int = 0,
    verbose: bool = False,
) -> dict[str, Any]:
    """Train the small CNN. Returns ``model``, ``accuracy`` (held-out), ``losses`` (per batch)."""
    tg.manual_seed(seed)
    xtr, ytr, xte, yte = load(limit, n_test)
    model = build()
    opt = optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(seed)
    losses = []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        order = rng.permutation(limit)
        for i in range(0, limit, batch_size):
            idx = order[i : i + batch_size]
            loss = nn.functional.cross_entropy(model(tg.tensor(xtr[idx])), tg.tensor(ytr[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        if verbose:
            acc = accuracy(model, xte, yte)
            print(
                f"  epoch {epoch + 1}: mean loss {np.mean(losses[-(limit // batch_size) :]):.4f}"
                f"  held-out accuracy {acc:.3f}  ({time.perf_counter() - t0:.1f} s)"
            )
    return {"model": model, "accuracy": accuracy(model, xte, yte), "losses": losses}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, default=2000, help="training images (<= 9000)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(f"NumPy conv backward vs tapegrad autograd: max difference {check_conv_backward():.1e}")
    print(f"Small CNN on {a.limit} MNIST digits, tested on 1,000 others (chance: 0.10):")
    r = train(a.limit, a.epochs, lr=a.lr, seed=a.seed, verbose=True)
    print(f"held-out accuracy {r['accuracy']:.3f}")


if __name__ == "__main__":
    main()
