"""Does a conditional GAN trained on 1,000 labelled digits make useful training data?

For each seed the script

1. draws a class-balanced subset of the MNIST *training* split (default 100 images
   per class, 1,000 in all) with that seed;
2. trains a conditional MLP GAN (``--gan``: ``projection`` with ``arch='mlp'``, the
   default, or ``cgan-mlp``, from :func:`tapegrad.gan.build_models`) on that subset
   only, and generates ``--synth-per-class`` labelled digits per class;
3. trains the same classifier (the MLP of ``examples/mnist_classifiers.py``, Adam
   1e-3, batch 64, a fixed number of steps, the same initial weights in every arm)
   on each of the arms below, and evaluates it on the full real test split:

   ``real``        the real subset only;
   ``real+syn``    every batch is half real, half synthetic (32 + 32);
   ``real+syn-cat``  batches drawn uniformly from the real subset and the synthetic
                   set concatenated (with 10,000 synthetic digits, about 9% real);
   ``syn``         synthetic digits only (the GAN's "classification accuracy score");
   ``real-shift``  the real subset, each image shifted at random by up to 2 pixels
                   in each direction (classic augmentation, for reference).

Neither the GAN nor the classifier ever sees a test image, and nothing was tuned on
the test split: the classifier's recipe and step count, and the GAN's settings, were
fixed before the runs (see docs/gan_augmentation.md).

Usage (one result file per seed in ``--out``; seeds already there are not redone):

  python examples/gan_augmentation.py --data DIR --seeds 0 1 2 3 4 \\
      --out runs/augment --grid docs/img/augment_cgan_samples.png
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
from tapegrad import nn, optim
from tapegrad.data import load_mnist_arrays
from tapegrad.gan import Trainer, build_models
from tapegrad.gan.runs import image_grid, save_png

sys.path.insert(0, str(Path(__file__).resolve().parent))
import mnist_classifiers as mc  # noqa: E402

ARMS = ("real", "real+syn", "real+syn-cat", "syn", "real-shift")
N_CLASSES = 10


# ------------------------------------------------------------------ data
def load_splits(root: str | None) -> dict[str, Any]:
    """The labelled pool to draw subsets from and the test set, uint8 ``(N, 28, 28)``.

    The pool is the MNIST training split (60,000); without it (e.g. in CI) only the
    shipped test split exists, and then the pool is its first 8,000 images and the
    test set its last 2,000 (said in ``note``), so the two never overlap.
    """
    try:
        xp_, yp = load_mnist_arrays(train=True, root=root)
        xt, yt = load_mnist_arrays(train=False, root=root)
        note = "pool: MNIST training split (60,000); test: MNIST test split (10,000)"
    except FileNotFoundError:
        x, y = load_mnist_arrays(train=False, root=root)
        xp_, yp, xt, yt = x[:8000], y[:8000], x[8000:], y[8000:]
        note = "training split not found: pool = test[:8000], test = test[8000:]"
    return {"x_pool": xp_, "y_pool": yp, "x_test": xt, "y_test": yt, "note": note}


def balanced_subset(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Sorted indices into ``labels``: ``per_class`` drawn at random from each class.

    Raises ValueError when a class has fewer than ``per_class`` examples.
    """
    rng = np.random.Generator(np.random.PCG64([seed, 100]))
    picked = []
    for c in range(N_CLASSES):
        where = np.flatnonzero(labels == c)
        if len(where) < per_class:
            raise ValueError(
                f"balanced_subset: class {c} has {len(where)} examples, fewer than {per_class}"
            )
        picked.append(rng.choice(where, per_class, replace=False))
    return np.sort(np.concatenate(picked))


def random_shift(x: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Each image of ``x`` (N, H, W) moved by its own random offset in
    ``[-max_shift, max_shift]`` on both axes, filling with zeros; same shape and dtype."""
    n, h, w = x.shape
    m = max_shift
    padded = np.zeros((n, h + 2 * m, w + 2 * m), x.dtype)
    padded[:, m : m + h, m : m + w] = x
    dy = rng.integers(0, 2 * m + 1, n)
    dx = rng.integers(0, 2 * m + 1, n)
    rows = dy[:, None] + np.arange(h)[None]  # (N, H)
    cols = dx[:, None] + np.arange(w)[None]  # (N, W)
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def standardise(x: np.ndarray) -> np.ndarray:
    """uint8 ``(N, 28, 28)`` -> float32 ``(N, 1, 28, 28)``, as mnist_classifiers prepares."""
    return ((x.astype(np.float32) / 255.0 - mc.MEAN) / mc.STD).reshape(-1, 1, 28, 28)


# ------------------------------------------------------------------ the GAN
def train_cgan(
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    seed: int,
    batch_size: int = 64,
    model: str = "projection",
    hidden_g: tuple[int, ...] = (256,),
    hidden_d: tuple[int, ...] = (256, 128),
    ema_decay: float | None = 0.999,
) -> Trainer:
    """A conditional MLP GAN trained for ``steps`` steps on uint8 images ``x`` (N, 28, 28)
    with labels ``y`` (N,): non-saturating loss, Adam 2e-4 (0.5, 0.999), EMA of G's weights.

    ``model``: ``'projection'`` (G fed ``[z, embed(y)]``; a projection discriminator,
    Miyato & Koyama 2018, on MLP features) or ``'cgan-mlp'`` (the label concatenated
    to D's input as well, Mirza & Osindero 2014).
    """
    tg.manual_seed(seed)
    kw: dict[str, Any] = {"arch": "mlp"} if model == "projection" else {}
    G, D = build_models(
        model, (1, 28, 28), 100, n_classes=N_CLASSES, g_hidden=hidden_g, d_hidden=hidden_d, **kw
    )
    trainer = Trainer(
        G,
        D,
        "ns",
        x[:, None],
        labels=y,
        batch_size=batch_size,
        ema_decay=ema_decay,
        seed=seed,
    )
    trainer.train(epochs=10**9, max_steps=steps)
    return trainer


def synthesize(trainer: Trainer, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` generated digits of every class: uint8 ``(10 * per_class, 28, 28)``
    (G's [-1, 1] mapped to 0..255 and rounded) and int64 labels, class by class."""
    n = N_CLASSES * per_class
    labels = np.repeat(np.arange(N_CLASSES, dtype=np.int64), per_class)
    gen = np.random.Generator(np.random.PCG64([seed, 200]))
    z = gen.standard_normal((n, trainer.z_dim)).astype(np.float32)
    out = trainer.generate(z=z, labels=labels)  # (n, 1, 28, 28) in [-1, 1]
    pixels = np.clip(np.rint((out[:, 0] + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return pixels, labels


# ------------------------------------------------------------------ the classifier
class _Stream:
    """Endless mini-batches of indices into ``n`` samples, a new permutation per pass."""

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        self.n, self.rng = n, rng
        self.order, self.pos = rng.permutation(n), 0

    def take(self, k: int) -> np.ndarray:
        out = []
        while k > 0:
            if self.pos == self.n:
                self.order, self.pos = self.rng.permutation(self.n), 0
            got = self.order[self.pos : self.pos + k]
            self.pos += len(got)
            k -= len(got)
            out.append(got)
        return np.concatenate(out)


def train_classifier(
    sources: list[tuple[np.ndarray, np.ndarray]],
    shares: list[int],
    steps: int,
    seed: int,
    shift: int = 0,
    lr: float = 1e-3,
) -> nn.Module:
    """The MLP of mnist_classifiers trained for ``steps`` Adam steps.

    Args:
        sources: ``(images uint8 (N, 28, 28), labels (N,))`` per data source.
        shares: how many samples of each batch come from each source (their sum is the
            batch size), e.g. ``[32, 32]`` for half real, half synthetic.
        steps: optimizer steps (the same for every arm: equal compute).
        seed: initial weights, dropout and batch order (the same seed gives the same
            initial weights whatever the data).
        shift: random shifts of up to this many pixels (0: none).
    Returns the trained model.
    """
    tg.manual_seed(seed)
    model = mc.build("mlp")
    opt = optim.Adam(model.parameters(), lr=lr)
    rng = np.random.Generator(np.random.PCG64([seed, 300]))
    streams = [_Stream(len(x), rng) for x, _ in sources]
    for _ in range(steps):
        xs, ys = [], []
        for (x, y), stream, k in zip(sources, streams, shares):
            if k:
                idx = stream.take(k)
                xs.append(x[idx])
                ys.append(y[idx])
        xb = np.concatenate(xs)
        if shift:
            xb = random_shift(xb, shift, rng)
        loss = nn.functional.cross_entropy(
            model(tg.tensor(standardise(xb))), tg.tensor(np.concatenate(ys))
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of ``model`` on uint8 images ``x`` (N, 28, 28) with labels ``y``."""
    return mc.evaluate(model, standardise(x), y)


# ------------------------------------------------------------------ one seed
def run_seed(
    splits: dict[str, Any],
    seed: int,
    per_class: int = 100,
    gan_steps: int = 3000,
    synth_per_class: int = 1000,
    clf_steps: int = 1000,
    batch_size: int = 64,
    gan_batch: int = 64,
    gan: str = "projection",
    arms: tuple[str, ...] = ARMS,
    grid_path: str | Path | None = None,
) -> dict[str, Any]:
    """The whole experiment for one seed; returns a JSON-ready dict of accuracies.

    ``test`` is the accuracy on the test set per arm, ``train`` on the arm's own
    training images (the synthetic ones for ``syn``; ``syn_on_real_subset`` is the
    ``syn`` classifier on the real subset: a measure of the GAN that needs no test
    image). ``subset`` holds the pool indices used, ``synth_counts`` the number of
    generated digits per class.
    """
    t0 = time.perf_counter()
    idx = balanced_subset(splits["y_pool"], per_class, seed)
    xr, yr = splits["x_pool"][idx], splits["y_pool"][idx]
    times: dict[str, float] = {}
    result: dict[str, Any] = {"seed": seed, "test": {}, "train": {}}

    syn = None
    if any("syn" in a for a in arms):
        t = time.perf_counter()
        trainer = train_cgan(xr, yr, gan_steps, seed, batch_size=gan_batch, model=gan)
        xs, ys = synthesize(trainer, synth_per_class, seed)
        syn = (xs, ys)
        times["gan"] = time.perf_counter() - t
        result["synth_counts"] = np.bincount(ys, minlength=N_CLASSES).tolist()
        if grid_path is not None:
            save_sample_grid(trainer, grid_path, seed)

    half = batch_size // 2
    recipes: dict[str, tuple[list[Any], list[int], int]] = {
        "real": ([(xr, yr)], [batch_size], 0),
        "real-shift": ([(xr, yr)], [batch_size], 2),
    }
    if syn is not None:
        cat = (np.concatenate([xr, syn[0]]), np.concatenate([yr, syn[1]]))
        recipes["real+syn"] = ([(xr, yr), syn], [half, batch_size - half], 0)
        recipes["real+syn-cat"] = ([cat], [batch_size], 0)
        recipes["syn"] = ([syn], [batch_size], 0)
    for arm in arms:
        t = time.perf_counter()
        sources, shares, shift = recipes[arm]
        model = train_classifier(sources, shares, clf_steps, seed, shift=shift)
        result["test"][arm] = accuracy(model, splits["x_test"], splits["y_test"])
        own = syn if arm == "syn" else (xr, yr)
        result["train"][arm] = accuracy(model, *own)
        if arm == "syn":
            result["syn_on_real_subset"] = accuracy(model, xr, yr)
        times[arm] = time.perf_counter() - t
    result["seconds"] = {k: round(v, 1) for k, v in times.items()}
    result["seconds"]["total"] = round(time.perf_counter() - t0, 1)
    result["subset"] = idx.tolist()
    return result


def save_sample_grid(trainer: Trainer, path: str | Path, seed: int, per_row: int = 10) -> None:
    """A PNG of ``per_row`` samples per class, one row per label 0..9 (EMA weights)."""
    labels = np.repeat(np.arange(N_CLASSES), per_row)
    gen = np.random.Generator(np.random.PCG64([seed, 400]))
    z = gen.standard_normal((len(labels), trainer.z_dim)).astype(np.float32)
    images = (trainer.generate(z=z, labels=labels) + 1.0) / 2.0
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_png(path, image_grid(images, nrow=per_row))


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and sample std (ddof 1) of each arm's test accuracy over seeds, and of
    the paired differences of each arm from ``real``."""
    arms = [a for a in ARMS if all(a in r["test"] for r in results)]
    out: dict[str, Any] = {"seeds": [r["seed"] for r in results], "arms": {}, "minus_real": {}}
    ddof = 1 if len(results) > 1 else 0
    for a in arms:
        v = np.array([r["test"][a] for r in results])
        out["arms"][a] = {"mean": float(v.mean()), "std": float(v.std(ddof=ddof))}
        if a != "real":
            d = v - np.array([r["test"]["real"] for r in results])
            out["minus_real"][a] = {"mean": float(d.mean()), "std": float(d.std(ddof=ddof))}
    return out


def markdown(results: list[dict[str, Any]], summary: dict[str, Any]) -> str:
    """Per-seed and summary tables (test accuracy in %)."""
    arms = list(summary["arms"])
    lines = ["| seed | " + " | ".join(arms) + " |", "|---" * (len(arms) + 1) + "|"]
    for r in results:
        lines.append(f"| {r['seed']} | " + " | ".join(f"{100 * r['test'][a]:.2f}" for a in arms))
    lines[2:] = [s + " |" for s in lines[2:]]
    cells = [f"{100 * s['mean']:.2f} ± {100 * s['std']:.2f}" for s in summary["arms"].values()]
    lines.append("| mean ± std | " + " | ".join(cells) + " |")
    diff = [
        "" if a == "real" else "{:+.2f} ± {:.2f}".format(*(100 * v for v in d.values()))
        for a in arms
        for d in [summary["minus_real"].get(a, {"mean": 0.0, "std": 0.0})]
    ]
    lines.append("| minus real (paired) | " + " | ".join(diff) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=None, help="folder holding the MNIST IDX files")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--per-class", type=int, default=100, help="real images per class")
    p.add_argument("--gan", choices=("projection", "cgan-mlp"), default="projection")
    p.add_argument("--gan-steps", type=int, default=3000)
    p.add_argument("--synth-per-class", type=int, default=1000)
    p.add_argument("--clf-steps", type=int, default=1000)
    p.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    p.add_argument("--out", default="runs/augment", help="folder for seed_S.json files")
    p.add_argument("--grid", default=None, help="PNG of the first seed's cGAN samples")
    a = p.parse_args()
    splits = load_splits(a.data)
    print(splits["note"], flush=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for i, seed in enumerate(a.seeds):
        path = out / f"seed_{seed}.json"
        if path.exists():
            results.append(json.loads(path.read_text()))
            print(f"seed {seed}: read from {path}")
            continue
        r = run_seed(
            splits,
            seed,
            per_class=a.per_class,
            gan_steps=a.gan_steps,
            synth_per_class=a.synth_per_class,
            clf_steps=a.clf_steps,
            gan=a.gan,
            arms=tuple(a.arms),
            grid_path=a.grid if i == 0 else None,
        )
        r["args"] = vars(a)
        path.write_text(json.dumps(r))
        results.append(r)
        accs = "  ".join(f"{k} {100 * v:.2f}" for k, v in r["test"].items())
        print(f"seed {seed}: {accs}  ({r['seconds']})", flush=True)
    summary = summarise(results)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(markdown(results, summary))


if __name__ == "__main__":
    main()
