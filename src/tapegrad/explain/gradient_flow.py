"""Vanishing and exploding gradients, and what each remedy does, as runnable experiments.

Backpropagation multiplies, layer by layer, by each layer's Jacobian
``W^T diag(f'(z))``; over many layers the product shrinks or grows geometrically.

- **Vanishing**: the sigmoid's derivative is at most 1/4, so with PyTorch's
  default initialisation every sigmoid layer shrinks the gradient and the first
  layers of a deep sigmoid network barely learn. Remedies compared: ReLU with
  He/Kaiming initialisation (derivative 1 where active, variance 2 / fan_in keeps
  the scale), ReLU + batch normalisation (each layer's input re-standardised), and
  residual connections (``h + f(h)``: the identity path carries the gradient
  past every layer unchanged).
- **Exploding**: weights that are too large (He initialisation times 2) make
  every layer multiply the backward signal by about 2; the weight gradients are
  ~1e8 instead of ~1 and one plain SGD step turns the loss into inf/NaN.
  ``nn.utils.clip_grad_norm_`` rescales all gradients together so their joint
  norm is at most ``max_norm`` (direction kept, step bounded), and the same
  training then converges.

:func:`train_depth` and :func:`train_exploding` train with a
:class:`~tapegrad.explain.GradientMonitor` attached, so their per-layer records
can be plotted.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .. import nn, optim
from ..creation import tensor
from ..random import manual_seed
from ..tensor import Tensor
from .monitor import GradientMonitor

ACTS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}


class Residual(nn.Module):
    """``x + act(Linear(x))``: a residual block of width ``width``."""

    def __init__(self, width: int, act: str = "relu", batchnorm: bool = False) -> None:
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.norm = nn.BatchNorm1d(width) if batchnorm else None
        self.act = ACTS[act]()

    def forward(self, x: Tensor) -> Tensor:
        """``x + act(norm(linear(x)))`` (norm only with batchnorm): (N, width) -> (N, width)."""
        h = self.linear(x)
        if self.norm is not None:
            h = self.norm(h)
        return x + self.act(h)


def build(
    depth: int = 20,
    width: int = 64,
    act: str = "sigmoid",
    batchnorm: bool = False,
    init_scale: float | None = None,
    residual: bool = False,
) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` then ``Linear(width, 1)``.

    A hidden layer is Linear, optional BatchNorm1d, then ``act``; with
    ``residual`` it is a :class:`Residual` block. ``init_scale``: None keeps
    PyTorch's default initialisation; a number draws every Linear weight from
    N(0, init_scale^2 * 2 / fan_in) (He initialisation times ``init_scale``),
    biases zero.
    """
    layers: list[nn.Module] = []
    for _ in range(depth):
        if residual:
            layers.append(Residual(width, act, batchnorm))
            continue
        layers.append(nn.Linear(width, width))
        if batchnorm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(ACTS[act]())
    layers.append(nn.Linear(width, 1))
    model = nn.Sequential(*layers)
    if init_scale is not None:
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, init_scale * math.sqrt(2.0 / m.in_features))
                nn.init.zeros_(m.bias)
    return model


def data(n: int = 128, width: int = 64, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Random inputs ``(n, width)`` and random targets ``(n, 1)`` (float32)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, width)).astype(np.float32)
    return tensor(x), tensor(rng.standard_normal((n, 1)).astype(np.float32))


def teacher_data(n: int = 256, width: int = 64, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Inputs ``(n, width)`` and targets ``(n, 1)`` from a random one-hidden-layer
    tanh network (a smooth function a deep student can learn)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, width))
    w1 = rng.standard_normal((width, 32)) / math.sqrt(width)
    w2 = rng.standard_normal((32, 1)) / math.sqrt(32)
    y = np.tanh(x @ w1) @ w2
    y = (y - y.mean()) / y.std()
    return tensor(x.astype(np.float32)), tensor(y.astype(np.float32))


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The ``Linear`` layers of ``model``, first layer first."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def _grad(p: Tensor) -> np.ndarray:
    """``p.grad`` as a NumPy array (same shape as ``p``); raises if backward missed ``p``."""
    if p.grad is None:
        raise RuntimeError(f"no gradient reached the parameter of shape {tuple(p.shape)}")
    return p.grad.numpy()


def layer_grad_norms(model: nn.Module, x: Tensor, y: Tensor) -> np.ndarray:
    """One forward/backward of the MSE; the Frobenius norm of each Linear weight's
    gradient, first layer first."""
    model.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    return np.array([float(np.linalg.norm(_grad(m.weight))) for m in linear_layers(model)])


def signal_norms(model: nn.Sequential, x: Tensor, y: Tensor) -> np.ndarray:
    """``||dL/dz_l||`` for the output ``z_l`` of each Linear layer, first layer first:
    the backward signal that backpropagation multiplies by each layer's Jacobian."""
    outs = []
    h = x
    for m in model:
        h = m(h)
        if isinstance(m, nn.Linear):
            h.retain_grad()
            outs.append(h)
    nn.functional.mse_loss(h, y).backward()
    return np.array([float(np.linalg.norm(z.grad.numpy())) for z in outs])


VARIANTS: dict[str, dict[str, Any]] = {
    "sigmoid": {"act": "sigmoid"},
    "relu (He init)": {"act": "relu", "init_scale": 1.0},
    "relu + batchnorm": {"act": "relu", "batchnorm": True, "init_scale": 1.0},
    # residual branches start small (0.1 x He), as is usual for deep residual nets
    "residual relu": {"act": "relu", "residual": True, "init_scale": 0.1},
}


def vanishing(depth: int = 20, width: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-layer weight-gradient norms of one backward pass for sigmoid, ReLU (He
    init) and sigmoid + BatchNorm networks, first layer first."""
    x, y = data(width=width, seed=seed)
    out = {}
    networks: dict[str, dict[str, Any]] = {
        "sigmoid": {"act": "sigmoid"},
        "relu (He init)": {"act": "relu", "init_scale": 1.0},
        "sigmoid + batchnorm": {"act": "sigmoid", "batchnorm": True},
    }
    for name, kw in networks.items():
        manual_seed(seed)
        out[name] = layer_grad_norms(build(depth, width, **kw), x, y)
    return out


def exploding(
    depth: int = 12,
    width: int = 64,
    init_scale: float = 2.0,
    lr: float = 0.01,
    max_norm: float = 1.0,
    seed: int = 0,
) -> dict[str, Any]:
    """A ReLU network with too-large weights: gradient norms, then one SGD step each
    without and with ``clip_grad_norm_``.

    Returns ``norms`` (per layer), ``signals`` (``||dL/dz_l||`` per layer),
    ``total_norm`` (joint norm before clipping, as returned by ``clip_grad_norm_``),
    ``unclipped_grads`` and ``clipped_grads`` (arrays), ``loss_before``,
    ``loss_after_plain`` and ``loss_after_clipped``.
    """
    x, y = data(width=width, seed=seed)
    results: dict[str, Any] = {}
    for clip in (False, True):
        manual_seed(seed)
        model = build(depth, width, "relu", init_scale=init_scale)
        opt = optim.SGD(model.parameters(), lr=lr)
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        grads = [_grad(p).copy() for p in model.parameters()]
        if clip:
            total = nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            results["total_norm"] = float(total.item())
            results["unclipped_grads"] = grads
            results["clipped_grads"] = [_grad(p).copy() for p in model.parameters()]
        else:
            results["norms"] = np.array(
                [float(np.linalg.norm(_grad(m.weight))) for m in linear_layers(model)]
            )
            results["loss_before"] = loss.item()
            manual_seed(seed)
            results["signals"] = signal_norms(
                build(depth, width, "relu", init_scale=init_scale), x, y
            )
        opt.step()
        with np.errstate(over="ignore", invalid="ignore"):
            from ..autograd.grad_mode import no_grad

            with no_grad():
                after = nn.functional.mse_loss(model(x), y).item()
        results["loss_after_clipped" if clip else "loss_after_plain"] = after
    return results


def _train(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    steps: int,
    lr: float,
    clip: float | None = None,
    momentum: float = 0.9,
) -> tuple[list[float], GradientMonitor]:
    """SGD (with momentum) on the MSE for ``steps`` steps with a monitor attached;
    stops early once the loss is not finite. Returns the losses and the monitor."""
    opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    mon = GradientMonitor(model, warn=False)
    losses = []
    for s in range(steps):
        with np.errstate(over="ignore", invalid="ignore"):
            loss = nn.functional.mse_loss(model(x), y)
            losses.append(loss.item())
            opt.zero_grad()
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
        mon.step(s)
        if not math.isfinite(losses[-1]):
            break
    return losses, mon


def train_depth(
    depth: int = 20,
    width: int = 64,
    steps: int = 300,
    lr: float = 0.003,
    seed: int = 0,
    variants: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Train each variant (default :data:`VARIANTS`) of a ``depth``-layer network on
    :func:`teacher_data` from the same seed. Returns, per variant, ``losses``,
    ``monitor`` and ``first_last`` (first layer's gradient norm over the last
    layer's, at step 0)."""
    x, y = teacher_data(width=width, seed=seed)
    out = {}
    for name, kw in (variants or VARIANTS).items():
        manual_seed(seed)
        losses, mon = _train(build(depth, width, **kw), x, y, steps, lr)
        g0 = mon.grad_norms[0]
        out[name] = {"losses": losses, "monitor": mon, "first_last": float(g0[0] / g0[-1])}
    return out


def train_exploding(
    depth: int = 12,
    width: int = 64,
    steps: int = 1000,
    lr: float = 0.01,
    max_norm: float = 1.0,
    init_scale: float = 1.5,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """A ReLU network whose weights are ``init_scale`` x He (so the backward signal
    grows about ``init_scale`` per layer) trained by plain SGD without and with
    ``clip_grad_norm_(max_norm)``, and, for reference, the same network with He
    initialisation (the cause removed). Per case ``losses`` and ``monitor``."""
    x, y = teacher_data(width=width, seed=seed)
    out = {}
    cases = (
        ("no clipping", init_scale, None),
        (f"clip_grad_norm_({max_norm:g})", init_scale, max_norm),
        ("He init, no clipping", 1.0, None),
    )
    for name, scale, clip in cases:
        manual_seed(seed)
        model = build(depth, width, "relu", init_scale=scale)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            losses, mon = _train(model, x, y, steps, lr, clip, momentum=0.0)
        out[name] = {"losses": losses, "monitor": mon}
    return out


def plot_losses(results: dict[str, dict[str, Any]], path: str, title: str) -> None:
    """Loss curves of :func:`train_depth` / :func:`train_exploding` (log scale) into
    a PNG; a run that went non-finite ends with an x marker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    try:
        for name, r in results.items():
            ls = np.array(r["losses"], dtype=np.float64)
            ok = np.isfinite(ls)
            label = name if ok.all() else f"{name} (not finite at step {int(np.argmin(ok))})"
            (line,) = ax.semilogy(np.arange(len(ls))[ok], ls[ok], label=label)
            if not ok.all():
                k = int(np.argmin(ok))
                ax.plot([max(k - 1, 0)], [ls[max(k - 1, 0)]], "x", ms=10, color=line.get_color())
        ax.set_xlabel("step")
        ax.set_ylabel("MSE loss")
        ax.set_title(title)
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)


def plot_layer_profiles(results: dict[str, dict[str, Any]], path: str, title: str) -> None:
    """Each variant's weight-gradient norm by Linear layer (input side = 0) at step 0,
    log scale,
    into a PNG: the picture of a vanishing (or exploding) gradient."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    try:
        for name, r in results.items():
            mon = r["monitor"]
            keep = [i for i, k in enumerate(mon.kinds) if k == "Linear"]
            g = mon.grad_norms[0][keep]
            ax.semilogy(np.arange(len(g)), g, "o-", ms=3, label=name)
        ax.set_xlabel("Linear layer (0 = input side)")
        ax.set_ylabel("gradient norm at step 0")
        ax.set_title(title)
        ax.legend()
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
