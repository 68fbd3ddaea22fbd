"""The tutorials' questions about training, answered by running them.

1. Why do gradients vanish in a deep sigmoid network, and what do ReLU, ReLU +
   batch normalisation and residual connections change? (20 hidden layers of 64,
   the same data, seed and SGD settings for all four.)
2. What does an exploding gradient look like, and what does gradient clipping do?
3. What does the learning rate do to the tutorial's linear regression (too small,
   about right, too large)?

Each part prints its numbers and writes PNG plots into ``--out`` (default
docs/img). ``--quick`` runs shorter trainings (for tests).

Run:  python examples/explain/gradient_flow.py [--out docs/img] [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tapegrad.explain import gradient_flow as gf
from tapegrad.explain import linreg


def depth_part(out: Path, steps: int) -> dict[str, dict]:
    print(f"1. Depth: 20 hidden layers of 64, SGD lr 0.003 momentum 0.9, {steps} steps")
    r = gf.train_depth(steps=steps)
    for name, v in r.items():
        mon = v["monitor"]
        kinds = sorted({a.kind for a in mon.alerts})
        print(
            f"  {name:18s} first/last layer gradient at step 0 {v['first_last']:9.2e}  "
            f"loss {v['losses'][0]:.4g} -> {v['losses'][-1]:.4g}  "
            f"monitor alerts: {len(mon.alerts)} {kinds}"
        )
    gf.plot_losses(r, str(out / "explain_depth_losses.png"), "20-layer networks: training loss")
    gf.plot_layer_profiles(
        r, str(out / "explain_depth_profiles.png"), "20-layer networks: gradient by layer"
    )
    r["sigmoid"]["monitor"].plot(
        str(out / "explain_monitor_sigmoid.png"), "GradientMonitor: 20-layer sigmoid MLP"
    )
    r["relu + batchnorm"]["monitor"].plot(
        str(out / "explain_monitor_relu_bn.png"), "GradientMonitor: 20-layer ReLU + BatchNorm MLP"
    )
    return r


def exploding_part(out: Path, steps: int) -> dict[str, dict]:
    print(f"\n2. Exploding: 12 ReLU layers, weights 1.5 x He, plain SGD lr 0.01, {steps} steps")
    r = gf.train_exploding(steps=steps)
    for name, v in r.items():
        g = v["monitor"].grad_norms
        ls = v["losses"]
        end = "not finite" if not np.isfinite(ls[-1]) else f"{ls[-1]:.4g}"
        print(
            f"  {name:22s} largest layer gradient used at step 0 {np.nanmax(g[0]):9.3e}  "
            f"loss {ls[0]:.4g} -> {end} after {len(ls)} steps"
        )
    gf.plot_losses(r, str(out / "explain_exploding.png"), "Exploding gradients and clipping")
    return r


def learning_rate_part(out: Path, epochs: int) -> dict[float, dict]:
    lam = np.linalg.eigvalsh(linreg.hessian())
    print(
        f"\n3. Learning rate on the linear regression x = y = 1..5 (Hessian eigenvalues "
        f"{lam[0]:.4f}, {lam[1]:.4f}; converges for lr < {2 / lam[1]:.4f})"
    )
    r = linreg.learning_rates(epochs=epochs)
    for lr, v in r.items():
        print(
            f"  lr {lr:<6g} spectral radius {v['rho']:.4f}  loss {v['losses'][0]:.4g} -> "
            f"{v['losses'][-1]:.4g} after {len(v['losses'])} epochs  "
            f"(w {v['w']:.4g}, b {v['b']:.4g})"
        )
    linreg.plot_learning_rates(r, str(out / "explain_learning_rates.png"))
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="docs/img", help="folder for the PNG plots")
    ap.add_argument("--quick", action="store_true", help="short runs (for tests)")
    a = ap.parse_args()
    out = Path(a.out)
    if not out.is_dir():
        ap.error(f"--out folder {str(out)!r} does not exist")
    depth_part(out, 20 if a.quick else 300)
    exploding_part(out, 20 if a.quick else 1000)
    learning_rate_part(out, 100)


if __name__ == "__main__":
    main()
