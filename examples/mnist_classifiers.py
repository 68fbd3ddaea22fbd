"""Train the tutorials' classifiers (docs/tutorials.md) on real MNIST with tapegrad.

Models (``--model``):
  cnn     the deep learning and GANs tutorial's CNN (§4.1.1, corrected to train on real digits):
          conv 1->32 k3 p1, ReLU, maxpool 2; conv 32->64 k3 p1, ReLU, maxpool 2;
          fc 3136->128, ReLU, dropout 0.5; fc 128->10. Adam 1e-3, batch 64.
  mlp     784 -> 512 -> 256 -> 10 with ReLU and dropout 0.2. Adam 1e-3.
  lstm    an LSTM (hidden 128) reads the image row by row (28 steps of 28
          pixels); its last hidden state feeds a linear layer. Adam 1e-3.
  logreg  logistic (softmax) regression, one linear layer. Adam 1e-3.

Learning-rate schedule (``--schedule``):
  constant  Adam's lr stays at 1e-3 (the default; the tutorial's recipe).
  cosine    cosine annealing from 1e-3 to 0 over the whole run, stepped after
            every batch (``optim.lr_scheduler.CosineAnnealingLR`` with T_max =
            epochs x batches per epoch), as PyTorch users usually do it.

Usage:
  python examples/mnist_classifiers.py --model cnn --epochs 3
  python examples/mnist_classifiers.py --model cnn --schedule cosine
  python examples/mnist_classifiers.py --model mlp --epochs 5 --limit 2000

The full training set is read from ``--data``, ``$TAPEGRAD_DATA`` or the
user cache (see ``tapegrad.data.MNIST``); without it only the 10,000-image
test split shipped in the package exists, and the script then trains on its
first 8,000 images and tests on the last 2,000 (said in the output).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import nn, optim
from tapegrad.data import DataLoader, TensorDataset, load_mnist_arrays

EPOCHS = {"cnn": 3, "mlp": 5, "lstm": 3, "logreg": 5}
MEAN, STD = 0.1307, 0.3081  # of the 60,000 training images, pixels in [0, 1]
SCHEDULES = ("constant", "cosine")


class RowLSTM(nn.Module):
    """Reads a (N, 1, 28, 28) image as 28 time steps of 28 pixels."""

    def __init__(self, hidden: int = 128) -> None:
        super().__init__()
        self.lstm = nn.LSTM(28, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 10)

    def forward(self, x: tg.Tensor) -> tg.Tensor:
        out, (h, c) = self.lstm(x.reshape(x.shape[0], 28, 28))
        return self.fc(h[-1])


def build(model: str) -> nn.Module:
    """The network for ``model``; raises ValueError listing the valid names."""
    if model == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(3136, 128),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(128, 10),
        )
    if model == "mlp":
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 512),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(512, 256),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(256, 10),
        )
    if model == "lstm":
        return RowLSTM()
    if model == "logreg":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    raise ValueError(f"unknown model {model!r}; choose one of {sorted(EPOCHS)}")


def load_data(root: str | None, limit: int | None, limit_test: int | None) -> dict[str, Any]:
    """Standardised float32 images (N, 1, 28, 28) and int64 labels."""
    note = "train 60,000 / test 10,000 (full MNIST)"
    try:
        xtr, ytr = load_mnist_arrays(train=True, root=root)
        xte, yte = load_mnist_arrays(train=False, root=root)
    except FileNotFoundError:
        x, y = load_mnist_arrays(train=False, root=root)
        xtr, ytr, xte, yte = x[:8000], y[:8000], x[8000:], y[8000:]
        note = "training set not found: train on test[:8000], evaluate on test[8000:]"
    if limit:
        xtr, ytr = xtr[:limit], ytr[:limit]
    if limit_test:
        xte, yte = xte[:limit_test], yte[:limit_test]

    def prep(x: np.ndarray) -> np.ndarray:
        # Standardised with MNIST's training mean and std, as is usual.
        x = (x.astype(np.float32) / 255.0 - MEAN) / STD
        return x.reshape(-1, 1, 28, 28)

    return {
        "xtr": prep(xtr),
        "ytr": ytr.astype(np.int64),
        "xte": prep(xte),
        "yte": yte.astype(np.int64),
        "note": note,
    }


def make_scheduler(
    opt: optim.Optimizer, schedule: str, total_steps: int
) -> optim.lr_scheduler.LRScheduler | None:
    """The per-batch learning-rate scheduler for ``schedule`` (None for ``constant``).

    ``cosine`` anneals from the optimizer's lr to 0 over ``total_steps`` calls of
    ``step()``, one per batch, so the last batch of the run ends at lr 0.
    """
    if schedule == "constant":
        return None
    if schedule == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {SCHEDULES}")


def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    """Accuracy of ``model`` on (x, y)."""
    model.eval()
    correct = 0
    with tg.no_grad():
        for i in range(0, len(x), batch):
            logits = model(tg.tensor(x[i : i + batch]))
            correct += int((logits.detach().numpy().argmax(axis=1) == y[i : i + batch]).sum())
    model.train()
    return correct / len(x)


def train(
    model_name: str,
    epochs: int | None = None,
    limit: int | None = None,
    limit_test: int | None = None,
    seed: int = 0,
    root: str | None = None,
    batch_size: int = 64,
    lr: float = 1e-3,
    verbose: bool = True,
    schedule: str = "constant",
) -> dict[str, Any]:
    """Train one model; returns accuracy, wall time, the trained model and the
    final learning rate."""
    tg.manual_seed(seed)
    data = load_data(root, limit, limit_test)
    model = build(model_name)
    opt = optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(
        TensorDataset(tg.tensor(data["xtr"]), tg.tensor(data["ytr"])),
        batch_size=batch_size,
        shuffle=True,
        generator=seed,
    )
    epochs = epochs or EPOCHS[model_name]
    sched = make_scheduler(opt, schedule, epochs * len(loader))
    if verbose:
        print(
            f"{model_name}: {data['note']}; {epochs} epochs, batch {batch_size}, "
            f"lr {lr:g} {schedule}"
        )
    t0 = time.perf_counter()
    for epoch in range(epochs):
        total, n = 0.0, 0
        for xb, yb in loader:
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total += loss.item() * len(yb)
            n += len(yb)
        if verbose:
            acc = evaluate(model, data["xte"], data["yte"])
            print(
                f"  epoch {epoch + 1}: loss {total / n:.4f}  test accuracy {acc:.4f}  "
                f"lr {opt.param_groups[0]['lr']:.3g}  ({time.perf_counter() - t0:.0f} s)"
            )
    seconds = time.perf_counter() - t0
    acc = evaluate(model, data["xte"], data["yte"])
    return {
        "model": model,
        "accuracy": acc,
        "seconds": seconds,
        "epochs": epochs,
        "note": data["note"],
        "lr": opt.param_groups[0]["lr"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=sorted(EPOCHS), default="cnn")
    p.add_argument("--epochs", type=int, default=None, help="default: per model")
    p.add_argument("--limit", type=int, default=None, help="use the first N training images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--schedule", choices=SCHEDULES, default="constant", help="lr schedule")
    p.add_argument("--data", default=None, help="folder holding the MNIST IDX files")
    p.add_argument("--save", default=None, help="write the trained weights here (safetensors)")
    a = p.parse_args()
    r = train(a.model, a.epochs, a.limit, seed=a.seed, root=a.data, schedule=a.schedule)
    print(
        f"{a.model}: test accuracy {r['accuracy']:.4f} after {r['epochs']} epochs "
        f"in {r['seconds']:.0f} s"
    )
    if a.save:
        tg.save(r["model"].state_dict(), a.save)
        print(f"weights written to {a.save}")


if __name__ == "__main__":
    main()
