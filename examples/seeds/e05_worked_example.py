"""E5 (the mapping tutorial, section 4.2): one backpropagation step worked out
by hand, number by number.

What the tutorial intended: a small network with sigmoid units, input x = [1, 2],
target y = 3, cost C = 1/2 (y - y_hat)^2, learning rate 0.01; compute every
forward value, the cost, every gradient by the chain rule and the updated
weights, by hand.

What was wrong: the arithmetic is wrong from the first line (sigmoid(0.2) =
0.5498, not 0.5236; sigmoid(0.6) = 0.6457, not 0.5488) and every number
downstream with it; the listed weights do not fit one network; the gradient
formulas drop factors and have the wrong sign; and a sigmoid output lies in
(0, 1), so it can never reach the target 3.

The computation lives in :mod:`tapegrad.explain.worked` (numbers) and
:mod:`tapegrad.explain.worked_text` (the printed document); this script prints
the same document as ``tapegrad explain backprop``: the network chosen (and
which of the tutorial's weights did not fit), the sigmoid output, the linear
output that reaches the target, why the sigmoid cannot, and the tutorial's
numbers next to the right ones.

Run:  python examples/seeds/e05_worked_example.py [--format text|markdown] [--lang en|zh]
"""

from __future__ import annotations

import argparse

from tapegrad.explain.format import render_blocks
from tapegrad.explain.worked import (  # noqa: F401  (the example's API, used by tests)
    LR,
    X,
    Y,
    backward,
    cost,
    forward,
    initial_params,
    sgd_update,
    train,
    tutorial_errors,
)
from tapegrad.explain.worked_text import backprop_document


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--format", choices=["text", "markdown"], default="text")
    ap.add_argument("--lang", choices=["en", "zh"], default="en")
    a = ap.parse_args()
    print(render_blocks(backprop_document(a.lang), a.format), end="")


if __name__ == "__main__":
    main()
