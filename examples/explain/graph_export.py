"""Draw the graph behind a small conv net's loss: Graphviz DOT (rendered to PNG/SVG
when Graphviz's ``dot`` is installed) and a Mermaid flowchart, with parameter names.

Run:  python examples/explain/graph_export.py [--out docs/img/explain_graph_conv.png]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import tapegrad as tg
from tapegrad import explain, nn


def conv_loss() -> tuple[tg.Tensor, dict[str, tg.Tensor]]:
    """A conv -> ReLU -> max-pool -> linear net's cross-entropy on two 8x8 images."""
    tg.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3)
    )
    x = tg.tensor(np.random.default_rng(0).normal(size=(2, 1, 8, 8)).astype(np.float32))
    loss = nn.functional.cross_entropy(model(x), tg.tensor([0, 2]))
    return loss, dict(model.named_parameters())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="docs/img/explain_graph_conv.png", help=".png, .svg or .pdf")
    a = ap.parse_args()
    loss, params = conv_loss()
    print("```mermaid")
    print(explain.to_mermaid(loss, params), end="")
    print("```")
    try:
        print(f"wrote {explain.render(loss, a.out, params)}")
    except (RuntimeError, ValueError, FileNotFoundError) as e:
        print(f"not drawn: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
