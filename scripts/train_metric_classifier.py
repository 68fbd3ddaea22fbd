"""Train the MNIST classifier behind ``tapegrad.gan.metrics`` (how the shipped weights were made).

    python scripts/train_metric_classifier.py --data DIR

trains :class:`tapegrad.gan.metrics.classifier.MNISTClassifier` with tapegrad alone:
Adam (lr 1e-3), batch 64, 2 epochs over the 60,000 training images scaled to [0, 1],
seed 0 (weights, dropout and the shuffling all follow it), then reports the accuracy on
the 10,000 test images and writes ``{"version", "state_dict", "info"}`` with
``tapegrad.save`` to ``--out`` (default: the shipped
``src/tapegrad/gan/metrics/mnist_classifier_v1.safetensors``) and prints its SHA-256,
which goes into ``classifier.SHA256``.

The script uses one BLAS thread. The same seed on the same machine repeats the run bit
for bit; another BLAS or CPU may round differently and give a file with another SHA-256
(and a slightly different accuracy), i.e. a different classifier: metric values are tied
to the shipped file.
"""

from __future__ import annotations

import os

# one BLAS thread, set before NumPy loads: the run is then bit-reproducible on one
# machine, and faster on a busy one (threads that wait on each other cost more)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import tapegrad as tg  # noqa: E402
from tapegrad import optim  # noqa: E402
from tapegrad.data import DataLoader, TensorDataset, load_mnist_arrays  # noqa: E402
from tapegrad.gan.metrics.classifier import VERSION, WEIGHTS_PATH, MNISTClassifier  # noqa: E402


def accuracy(model: MNISTClassifier, x: np.ndarray, y: np.ndarray, batch: int = 1000) -> float:
    """Fraction of (x, y) classified correctly (eval mode, no graph)."""
    model.eval()
    correct = 0
    with tg.no_grad():
        for i in range(0, len(x), batch):
            z = model(tg.tensor(x[i : i + batch]))
            correct += int((z.detach().numpy().argmax(axis=1) == y[i : i + batch]).sum())
    model.train()
    return correct / len(x)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="folder with the MNIST IDX files")
    p.add_argument("--out", default=str(WEIGHTS_PATH))
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    a = p.parse_args()

    tg.manual_seed(a.seed)
    xtr, ytr = load_mnist_arrays(train=True, root=a.data)
    xte, yte = load_mnist_arrays(train=False, root=a.data)

    def prep(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, 28, 28)

    xtr, xte = prep(xtr), prep(xte)
    model = MNISTClassifier()
    opt = optim.Adam(model.parameters(), lr=a.lr)
    loader = DataLoader(
        TensorDataset(tg.tensor(xtr), tg.tensor(ytr)),
        batch_size=a.batch_size,
        shuffle=True,
        generator=a.seed,
    )
    t0 = time.perf_counter()
    for epoch in range(a.epochs):
        total, n = 0.0, 0
        for step, (xb, yb) in enumerate(loader):
            loss = tg.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(yb)
            n += len(yb)
            if step % 200 == 0:
                print(
                    f"  epoch {epoch + 1} step {step}: loss {total / n:.4f} "
                    f"({time.perf_counter() - t0:.0f} s)",
                    flush=True,
                )
        acc = accuracy(model, xte, yte)
        print(f"epoch {epoch + 1}: train loss {total / n:.4f}  test accuracy {acc:.4f}", flush=True)
    seconds = time.perf_counter() - t0
    acc = accuracy(model, xte, yte)
    model.eval()
    info = {
        "script": "scripts/train_metric_classifier.py",
        "epochs": a.epochs,
        "seed": a.seed,
        "batch_size": a.batch_size,
        "lr": a.lr,
        "optimizer": "Adam",
        "input": "float32 (N, 1, 28, 28) in [0, 1]",
        "test_accuracy": acc,
    }
    state = {k: v.detach() for k, v in model.state_dict().items()}
    out = Path(a.out)
    tg.save({"version": VERSION, "state_dict": state, "info": info}, out)
    sha = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"test accuracy {acc:.4f} after {a.epochs} epochs in {seconds:.0f} s")
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    print(f"SHA-256 {sha}  (set classifier.SHA256 to this)")


if __name__ == "__main__":
    main()
