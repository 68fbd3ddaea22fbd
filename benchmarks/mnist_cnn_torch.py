"""The CNN recipe of examples/mnist_classifiers.py, in PyTorch, for comparison.

Same architecture, data preparation (inputs standardised), Adam 1e-3, batch 64,
3 epochs; PyTorch's own initialisation and shuffling. Prints the test accuracy
after each epoch, so tapegrad's accuracy can be read against the same recipe.
``--schedule cosine`` anneals the lr to 0 over the run, stepped every batch,
exactly as ``examples/mnist_classifiers.py --schedule cosine`` does.

    python benchmarks/mnist_cnn_torch.py --data DIR --seed 0
    python benchmarks/mnist_cnn_torch.py --data DIR --seed 0 --schedule cosine
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import mnist_classifiers as mc  # noqa: E402


def make_scheduler(
    opt: torch.optim.Optimizer, schedule: str, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """PyTorch's twin of ``mnist_classifiers.make_scheduler`` (None for ``constant``)."""
    if schedule == "constant":
        return None
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {mc.SCHEDULES}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--schedule", choices=mc.SCHEDULES, default="constant")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    d = mc.load_data(a.data, None, None)
    n = torch.nn
    model = n.Sequential(
        n.Conv2d(1, 32, 3, padding=1), n.ReLU(), n.MaxPool2d(2),
        n.Conv2d(32, 64, 3, padding=1), n.ReLU(), n.MaxPool2d(2), n.Flatten(),
        n.Linear(3136, 128), n.ReLU(), n.Dropout(0.5), n.Linear(128, 10),
    )  # fmt: skip
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xtr, ytr = torch.tensor(d["xtr"]), torch.tensor(d["ytr"])
    xte, yte = torch.tensor(d["xte"]), d["yte"]
    sched = make_scheduler(opt, a.schedule, a.epochs * math.ceil(len(xtr) / 64))
    t0 = time.perf_counter()
    for epoch in range(a.epochs):
        model.train()
        for idx in torch.randperm(len(xtr)).split(64):
            loss = n.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
        model.eval()
        with torch.no_grad():
            pred = np.concatenate(
                [model(xte[i : i + 1000]).argmax(1).numpy() for i in range(0, len(xte), 1000)]
            )
        print(
            f"epoch {epoch + 1}: test accuracy {(pred == yte).mean():.4f} "
            f"lr {opt.param_groups[0]['lr']:.3g} ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
