"""Demonstration: vanishing and exploding gradients, and what each remedy does.

From the backpropagation algorithm tutorial, interview questions 8-9 (docs/tutorials.md).

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

The experiments live in :mod:`tapegrad.explain.gradient_flow`;
``examples/explain/gradient_flow.py`` trains the same networks with a
``GradientMonitor`` attached and plots them (see docs/explain.md).

Run:  python examples/seeds/demo_vanishing_exploding.py [--depth 20] [--width 64]
"""

from __future__ import annotations

import argparse

import numpy as np

from tapegrad.explain.gradient_flow import (  # noqa: F401  (the demo's API, used by tests)
    build,
    data,
    exploding,
    layer_grad_norms,
    linear_layers,
    signal_norms,
    vanishing,
)


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
