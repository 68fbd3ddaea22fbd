"""Demonstration: vanishing and exploding gradients, and what each remedy does (004 Q8-Q9).

Backpropagation multiplies, layer by layer, by each layer's Jacobian
``W^T diag(f'(z))``. Over many layers the product shrinks or grows geometrically:

- **vanishing**: the sigmoid's derivative is at most 1/4, so with PyTorch's
  default initialisation every sigmoid layer shrinks the gradient and the first
  layers of a deep sigmoid network barely learn. Remedies shown: ReLU (derivative
  1 where active) with He/Kaiming initialisation (variance 2 / fan_in keeps the
  signal's scale), and batch normalisation (each layer's input is re-standardised,
  so sigmoids stay in their steep middle range);
- **exploding**: weights that are too large (here He initialisation scaled by 2)
  make every layer multiply the backward signal ``dL/dz_l`` by about 2, so it
  grows geometrically toward the input (about 2^11 over 12 layers), the weight
  gradients are ~1e8 instead of ~1, and one plain SGD step turns the loss into
  NaN. Remedy shown: ``nn.utils.clip_grad_norm_``, which rescales all gradients
  together so their joint norm is at most ``max_norm`` (the direction is kept,
  the step length bounded): the same step then lowers the loss. (The cure for
  the cause is a correct initialisation, as in the ReLU/He network above.)

For each network the per-layer gradient norms ``||dL/dW_l||`` of one backward
pass are printed, from the first layer (input side) to the last.

Run:  python examples/seeds/demo_vanishing_exploding.py [--depth 20] [--width 64]
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import nn, optim


def build(
    depth: int = 20,
    width: int = 64,
    act: str = "sigmoid",
    batchnorm: bool = False,
    init_scale: float | None = None,
) -> nn.Sequential:
    """``depth`` hidden Linear layers of ``width`` (each followed by optional BatchNorm1d
    and ``act``), then Linear(width, 1).

    ``init_scale``: None keeps PyTorch's default initialisation; a number draws
    every weight from N(0, init_scale^2 * 2 / fan_in) (He initialisation times
    ``init_scale``) with zero biases.
    """
    acts = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers.append(nn.Linear(width, width))
        if batchnorm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(acts[act]())
    layers.append(nn.Linear(width, 1))
    model = nn.Sequential(*layers)
    if init_scale is not None:
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, init_scale * math.sqrt(2.0 / m.in_features))
                nn.init.zeros_(m.bias)
    return model


def data(n: int = 128, width: int = 64, seed: int = 0) -> tuple[tg.Tensor, tg.Tensor]:
    """Random inputs ``(n, width)`` and targets ``(n, 1)``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, width)).astype(np.float32)
    return tg.tensor(x), tg.tensor(rng.standard_normal((n, 1)).astype(np.float32))


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def layer_grad_norms(model: nn.Module, x: tg.Tensor, y: tg.Tensor) -> np.ndarray:
    """One forward/backward of the MSE; the Frobenius norm of each Linear weight's gradient,
    first layer first."""
    model.zero_grad()
    nn.functional.mse_loss(model(x), y).backward()
    return np.array([float(np.linalg.norm(m.weight.grad.numpy())) for m in linear_layers(model)])


def signal_norms(model: nn.Sequential, x: tg.Tensor, y: tg.Tensor) -> np.ndarray:
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


def vanishing(depth: int = 20, width: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-layer gradient norms for sigmoid, ReLU (He init) and sigmoid + BatchNorm."""
    x, y = data(width=width, seed=seed)
    out = {}
    for name, kw in {
        "sigmoid": {"act": "sigmoid"},
        "relu (He init)": {"act": "relu", "init_scale": 1.0},
        "sigmoid + batchnorm": {"act": "sigmoid", "batchnorm": True},
    }.items():
        tg.manual_seed(seed)
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
    ``clipped_grads`` (the gradients after clipping, as arrays), ``unclipped_grads``,
    ``loss_before``, ``loss_after_plain``,
    ``loss_after_clipped``.
    """
    x, y = data(width=width, seed=seed)
    results: dict[str, Any] = {}
    for clip in (False, True):
        tg.manual_seed(seed)
        model = build(depth, width, "relu", init_scale=init_scale)
        opt = optim.SGD(model.parameters(), lr=lr)
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        grads = [p.grad.numpy().copy() for p in model.parameters()]
        if clip:
            total = nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            results["total_norm"] = float(total.item())
            results["unclipped_grads"] = grads
            results["clipped_grads"] = [p.grad.numpy().copy() for p in model.parameters()]
        else:
            results["norms"] = np.array(
                [float(np.linalg.norm(m.weight.grad.numpy())) for m in linear_layers(model)]
            )
            results["loss_before"] = loss.item()
            tg.manual_seed(seed)
            results["signals"] = signal_norms(
                build(depth, width, "relu", init_scale=init_scale), x, y
            )
        opt.step()
        with tg.no_grad(), np.errstate(over="ignore", invalid="ignore"):
            after = nn.functional.mse_loss(model(x), y).item()
        results["loss_after_clipped" if clip else "loss_after_plain"] = after
    return results


def _row(name: str, norms: np.ndarray) -> str:
    picks = sorted({0, len(norms) // 4, len(norms) // 2, 3 * len(norms) // 4, len(norms) - 1})
    cells = " ".join(f"L{i + 1}:{norms[i]:9.2e}" for i in picks)
    return f"  {name:20s} {cells}   first/last {norms[0] / norms[-1]:.1e}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(f"Vanishing: gradient norm of each Linear weight, {a.depth} hidden layers of {a.width}")
    for name, norms in vanishing(a.depth, a.width, a.seed).items():
        print(_row(name, norms))
    r = exploding(width=a.width, seed=a.seed)
    print("\nExploding: ReLU network, 12 hidden layers, weights 2x He initialisation")
    print(_row("||dL/dW_l||", r["norms"]))
    print(_row("||dL/dz_l||", r["signals"]))
    print(f"  joint gradient norm {r['total_norm']:.3e}; loss {r['loss_before']:.3e}")
    print(f"  after one SGD step (lr 0.01), no clipping:       loss {r['loss_after_plain']:.3e}")
    print(f"  after one SGD step with clip_grad_norm_(1.0):    loss {r['loss_after_clipped']:.3e}")


if __name__ == "__main__":
    main()
