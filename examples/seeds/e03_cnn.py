"""E3: the tutorial's CNN, trained on real digits instead of its own guesses.

From the deep learning and GANs tutorial, §4.1.1 (docs/tutorials.md).

What the tutorial intended: conv 1->32 k3 p1, ReLU, maxpool 2; conv 32->64 k3 p1,
ReLU, maxpool 2; fc 3136->128, ReLU, dropout 0.5; fc 128->10; cross-entropy;
Adam 1e-3; 10 epochs, i.e. an MNIST digit classifier.

What was wrong: the "training data" is ``torch.randn(64, 1, 28, 28)`` and the
labels are the model's own predictions (``argmax`` of its output). Cross-entropy
against one's own argmax is minimised by becoming more confident in whatever it
already guesses, so the loss falls while the network learns nothing about digits.

What this script does: the same architecture (``build("cnn")`` of
``examples/mnist_classifiers.py``, which has the full-data runs) trained on real
MNIST images and labels; by default the first ``--limit`` images of the test
split shipped with tapegrad (or the training split if present, see ``--data``),
tested on images it never saw. ``--show-article-bug`` also runs the article's
loop on noise, clearly labelled, to show its falling loss and chance accuracy.

Run:  python examples/seeds/e03_cnn.py [--limit 2000] [--epochs 1] [--show-article-bug]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import tapegrad as tg
from tapegrad import nn, optim

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import mnist_classifiers as mc  # noqa: E402


def train(
    limit: int = 2000,
    epochs: int = 1,
    limit_test: int = 1000,
    seed: int = 0,
    root: str | None = None,
    verbose: bool = True,
) -> dict[str, Any]:
    """The corrected run (real digits and labels); see ``mnist_classifiers.train``."""
    return mc.train(
        "cnn",
        epochs=epochs,
        limit=limit,
        limit_test=limit_test,
        seed=seed,
        root=root,
        verbose=verbose,
    )


def article_self_labels(steps: int = 10, seed: int = 0, n_eval: int = 500) -> dict[str, Any]:
    """The article's loop: noise inputs, labels = the model's own argmax.

    Returns ``losses`` (per step) and ``accuracy`` of the resulting model on
    ``n_eval`` real MNIST test digits.
    """
    tg.manual_seed(seed)
    model = mc.build("cnn")
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x_train = tg.randn(64, 1, 28, 28)
    losses = []
    for _ in range(steps):
        output = model(x_train)
        labels = tg.tensor(output.detach().numpy().argmax(axis=1))  # the article's "labels"
        loss = nn.functional.cross_entropy(output, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    data = mc.load_data(None, 1, n_eval)
    return {"losses": losses, "accuracy": mc.evaluate(model, data["xte"], data["yte"])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--limit", type=int, default=2000, help="training images")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None, help="folder holding the MNIST IDX files")
    p.add_argument("--show-article-bug", action="store_true")
    a = p.parse_args()
    r = train(a.limit, a.epochs, seed=a.seed, root=a.data)
    print(f"corrected CNN: held-out accuracy {r['accuracy']:.3f} ({r['seconds']:.1f} s)")
    if a.show_article_bug:
        bad = article_self_labels(seed=a.seed)
        print("\nTHE ARTICLE'S LOOP (noise images, labels = its own predictions):")
        print(f"  loss {bad['losses'][0]:.4f} -> {bad['losses'][-1]:.4f} (falls)")
        print(f"  accuracy on real digits: {bad['accuracy']:.3f} (chance is 0.10)")


if __name__ == "__main__":
    main()
