"""Private synthetic MNIST: train a DP conditional GAN, then measure what its samples are worth.

Two steps, each a subcommand:

``train``: the private recipe (:func:`tapegrad.privacy.recipe.run_dp_recipe`, as
``tapegrad train --recipe dp`` runs it; flags left out keep the recipe's values)
on MNIST's 60,000 training images; writes ``config.json`` (the recipe, epsilon
and delta spent, wall and CPU time), ``G.safetensors``, ``D.safetensors``,
``log.jsonl`` and ``samples.png`` to ``--out``::

    OPENBLAS_NUM_THREADS=1 python examples/gan_privacy.py train --epsilon 10 \\
        --out runs/dp10 --data DIR

(``--epsilon none`` trains the same recipe without privacy.)

``evaluate``: the utility and the leakage of a trained run, written to
``RUN/eval.json``:

* utility: 60,000 synthetic conditional samples (6,000 per class) train a
  classifier (an MLP 784-512-256-10, Adam, ``--epochs`` epochs) that is then
  tested on the 10,000 real MNIST test images; the same classifier trained on
  the real training images gives the ceiling;
* membership inference: D's logit for (image, label) is the attack score, on
  ``--mia-n`` training images (members) against as many test images
  (non-members); the AUC of telling them apart (0.5: no leakage);

MNIST is found through ``--data DIR`` or the ``TAPEGRAD_DATA`` environment variable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import nn
from tapegrad.data.mnist import load_mnist_arrays
from tapegrad.privacy import DPGANConfig, synthesize
from tapegrad.privacy.gan import _build
from tapegrad.privacy.recipe import run_dp_recipe


def _scale(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32).reshape(len(images), -1) / np.float32(127.5) - 1


def train_classifier(
    x: np.ndarray, y: np.ndarray, epochs: int, seed: int, batch: int = 128
) -> nn.Module:
    """An MLP 784-512-256-10 trained with Adam on (x (N, 784) in [-1, 1], y (N,))."""
    tg.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10)
    )
    opt = tg.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.Generator(np.random.PCG64(seed))
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]
            opt.zero_grad()
            loss = tg.nn.functional.cross_entropy(model(tg.tensor(x[idx])), tg.tensor(y[idx]))
            loss.backward()
            opt.step()
    return model


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of (x, y) the classifier gets right."""
    with tg.no_grad():
        pred = np.concatenate(
            [model(tg.tensor(x[i : i + 2000])).numpy().argmax(1) for i in range(0, len(x), 2000)]
        )
    return float((pred == y).mean())


def auc(members: np.ndarray, others: np.ndarray) -> float:
    """P(score of a member > score of a non-member), ties counted half (Mann-Whitney)."""
    o = np.sort(others)
    below = np.searchsorted(o, members, "left")
    tied = np.searchsorted(o, members, "right") - below
    return float((below + 0.5 * tied).mean() / len(o))


def _d_scores(D: nn.Module, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
    x = images.astype(np.float32)[:, None] / np.float32(127.5) - 1
    with tg.no_grad():
        return np.concatenate(
            [
                D(tg.tensor(x[i : i + 1000]), tg.tensor(labels[i : i + 1000])).numpy().ravel()
                for i in range(0, len(x), 1000)
            ]
        )


def cmd_train(a: argparse.Namespace) -> dict[str, Any]:
    eps = None if a.epsilon.lower() == "none" else float(a.epsilon)
    names = {
        "d_per_g": "d_steps_per_g",
        "batch": "batch_size",
        "clip": "max_grad_norm",
        "noise": "noise_multiplier",
        "lr_g": "lr_g",
        "lr_d": "lr_d",
        "drift": "drift",
        "d_arch": "d_arch",
        "d_hidden": "d_hidden",
        "g_hidden": "g_hidden",
        "max_seconds": "max_seconds",
        "noise_seed": "noise_seed",
    }
    overrides = {f: getattr(a, k) for k, f in names.items() if getattr(a, k) is not None}
    for k in ("d_hidden", "g_hidden"):
        if k in overrides:
            overrides[k] = tuple(overrides[k])
    report = run_dp_recipe(
        eps,
        a.out,
        d_steps=a.d_steps,
        seed=a.seed,
        data_root=a.data,
        log=lambda s: print(s, flush=True),
        **overrides,
    )
    print(json.dumps({k: v for k, v in report.items() if k != "config"}))
    return report


def cmd_evaluate(a: argparse.Namespace) -> dict[str, Any]:
    run = Path(a.run)
    report = json.loads((run / "config.json").read_text())
    cfg = report["config"]
    t0 = time.process_time()
    G, D = _build(
        DPGANConfig(
            z_dim=cfg["z_dim"],
            g_hidden=tuple(cfg["g_hidden"]),
            d_arch=cfg.get("d_arch", "mlp"),
            d_hidden=tuple(cfg["d_hidden"]),
        ),
        10,
        (1, 28, 28),
    )
    G.load_state_dict(tg.load(run / "G.safetensors"))
    D.load_state_dict(tg.load(run / "D.safetensors"))
    xs, ys = synthesize(G, 6000, seed=a.seed)
    test_x, test_y = load_mnist_arrays(train=False, root=a.data)
    clf = train_classifier(xs.reshape(len(xs), -1), ys, a.epochs, a.seed)
    result: dict[str, Any] = {
        "run": str(run),
        "epsilon": report["epsilon"],
        "delta": report["delta"],
        "synthetic_test_accuracy": accuracy(clf, _scale(test_x), test_y),
        "classifier": f"MLP 784-512-256-10, Adam 1e-3, {a.epochs} epochs on 60,000 synthetic",
    }
    train_x, train_y = load_mnist_arrays(train=True, root=a.data)
    if a.real_reference:
        real = train_classifier(_scale(train_x), train_y, a.epochs, a.seed)
        result["real_test_accuracy"] = accuracy(real, _scale(test_x), test_y)
    rng = np.random.Generator(np.random.PCG64(a.seed))
    mem = rng.choice(len(train_x), a.mia_n, replace=False)
    non = rng.choice(len(test_x), a.mia_n, replace=False)
    result["mia_auc_d_score"] = auc(
        _d_scores(D, train_x[mem], train_y[mem]), _d_scores(D, test_x[non], test_y[non])
    )
    result["mia_n"] = a.mia_n
    result["eval_cpu_s"] = round(time.process_time() - t0, 1)
    (run / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train a private (or non-private) conditional GAN")
    t.add_argument("--epsilon", default="10", help="privacy budget, or 'none' (default 10)")
    t.add_argument("--d-steps", type=int, default=None, help="D steps the budget covers")
    t.add_argument("--d-per-g", type=int, default=None, help="D steps per G step")
    t.add_argument("--batch", type=int, default=None, help="expected real batch size")
    t.add_argument("--clip", type=float, default=None, help="per-sample clipping norm C")
    t.add_argument(
        "--noise", type=float, default=None, help="noise multiplier (default: from budget)"
    )
    t.add_argument("--lr-g", type=float, default=None)
    t.add_argument("--lr-d", type=float, default=None)
    t.add_argument("--drift", type=float, default=None, help="penalty on D's squared logits")
    t.add_argument("--d-arch", default=None, choices=("conv", "mlp"))
    t.add_argument("--d-hidden", type=int, nargs="+", default=None)
    t.add_argument("--g-hidden", type=int, nargs="+", default=None)
    t.add_argument("--max-seconds", type=float, default=None, help="stop earlier after this")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument(
        "--noise-seed", type=int, default=None, help="seed of the DP noise (default: OS entropy)"
    )
    t.add_argument("--out", required=True, help="run folder to write")
    t.add_argument("--data", default=None, help="MNIST folder (default: $TAPEGRAD_DATA)")
    e = sub.add_parser("evaluate", help="utility and membership inference of a run")
    e.add_argument("run", help="a run folder written by train")
    e.add_argument("--epochs", type=int, default=5, help="classifier epochs (default 5)")
    e.add_argument("--mia-n", type=int, default=5000, help="members and non-members each")
    e.add_argument("--real-reference", action="store_true", help="also train on real data")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--data", default=None, help="MNIST folder (default: $TAPEGRAD_DATA)")
    a = p.parse_args(argv)
    if a.cmd == "train":
        if a.epsilon.lower() != "none":
            try:
                if float(a.epsilon) <= 0:
                    raise ValueError
            except ValueError:
                p.error(f"--epsilon must be a positive number or 'none', got {a.epsilon!r}")
    elif not (Path(a.run) / "config.json").is_file():
        p.error(f"{a.run} is not a run folder (no config.json)")
    return a


def main(argv: list[str] | None = None) -> dict[str, Any]:
    a = parse_args(argv)
    try:
        return cmd_train(a) if a.cmd == "train" else cmd_evaluate(a)
    except (FileNotFoundError, ValueError) as e:
        print(f"gan_privacy: {e}", file=sys.stderr)
        raise SystemExit(2) from e


if __name__ == "__main__":
    main()
