"""E1 (the backpropagation and GANs tutorial, section 4.1): linear regression trained by
hand-written backpropagation.

What the tutorial intended: fit ``y_pred = X w + b`` to X = 1..5, y = 1..5 with
the mean squared error ``L = mean((y_pred - y)^2)``, random initial w and b,
learning rate 0.01, 1000 epochs, computing the gradient by hand.

What was wrong: the tutorial's gradient ``dw = -2 * (y_pred - y).dot(X)`` and
``db = -2 * mean(y_pred - y)`` has the wrong sign (so each "descent" step climbs
the loss) and ``dw`` sums instead of averaging over the samples, so training
diverges.

What this script does (the code lives in :mod:`tapegrad.explain.linreg`; ``tapegrad
explain linear-regression`` prints the step-by-step account): the correct
gradient, derived by the chain rule,

    dL/dw = 2/n * X^T (y_pred - y)        dL/db = 2/n * sum(y_pred - y),

is computed in NumPy (float64) and, at every step, compared with tapegrad's
autograd gradient of the same loss. Training converges to w ~ 1, b ~ 0. The
tutorial's formula is also run, clearly labelled, to show that it diverges.

Run:  python examples/seeds/e01_linear_regression.py [--epochs 1000] [--lr 0.01]
"""

from __future__ import annotations

import argparse

from tapegrad.explain.linreg import (  # noqa: F401  (the example's API, used by tests)
    X,
    Y,
    autograd_grad,
    document,
    loss_and_grad,
    train,
)
from tapegrad.explain.linreg import tutorial_grad as article_grad  # noqa: F401


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    print("Correct gradient dL/dw = 2/n X^T (y_pred - y), dL/db = 2/n sum(y_pred - y):")
    r = train(a.epochs, a.lr, a.seed, "correct", verbose=True)
    print(
        f"  result: w = {r['w']:.5f}, b = {r['b']:.5f} (exact fit: w = 1, b = 0); "
        f"final loss {r['losses'][-1]:.3g}"
    )
    print(f"  largest |hand - autograd| gradient difference: {r['max_grad_diff']:.2e}")

    print("\nDEMONSTRATION OF THE TUTORIAL'S BUG (wrong sign, sum instead of mean):")
    bad = train(a.epochs, a.lr, a.seed, "tutorial", verbose=True)
    state = "diverged" if bad["diverged"] else "did not diverge"
    print(f"  the tutorial's update {state} after {len(bad['losses'])} epochs")


if __name__ == "__main__":
    main()
