"""A gallery of GAN recipes trained on real MNIST with tapegrad's ``gan.Trainer``.

Recipes (``--recipe``; the settings are in :data:`RECIPES`, documented in docs/gan_gallery.md):

  wgan_gp   WGAN-GP (Gulrajani et al. 2017): MLP G and critic (no BatchNorm anywhere),
            gradient penalty lambda 10, 5 critic steps per G step, Adam 1e-4 betas (0.5, 0.9).
  hinge_sn  hinge loss with spectral normalisation on every layer of D (Miyato et al. 2018),
            MLP G and D, TTUR: Adam lr_d 4e-4, lr_g 1e-4, betas (0.5, 0.999).
  lsgan     least squares GAN (Mao et al. 2017, a=0, b=1, c=1), MLP G and D,
            Adam 2e-4 betas (0.5, 0.999), samples from an EMA of G's weights (0.999).
  cdcgan    conditional DCGAN: labels embedded and fed to G (concatenated to z) and D
            (broadcast as extra channels), non-saturating loss, Adam 2e-4 betas (0.5, 0.999).

Each run trains on the 60,000 MNIST training images, saves a sample grid to
``docs/img/gallery_<recipe>.png`` (8x8; for ``cdcgan`` 10x10, row r = label r), keeps
its run folder under ``runs/gallery_<recipe>/`` (config, metrics log, per-epoch samples,
curves, checkpoint) and scores 2,000 samples with the shipped metric classifier
(``tapegrad.gan.metrics``): Fréchet distance to the 10,000 test images, modes covered,
KL to uniform, and for ``cdcgan`` the classifier's accuracy against the asked label.
The scores go to ``runs/gallery_<recipe>/gallery.json`` and are printed.

Usage:
  python examples/gan_gallery.py --recipe lsgan --data DIR
  python examples/gan_gallery.py --data DIR  # all four, one by one
  python examples/gan_gallery.py --time-steps 20 --data DIR  # s/step
  python examples/gan_gallery.py --floor --data DIR  # real-data FD

``--data`` (or ``$TAPEGRAD_DATA``) is a folder holding the MNIST IDX files.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad.data import load_mnist_arrays
from tapegrad.gan import Trainer, build_models
from tapegrad.gan import metrics as M
from tapegrad.gan.runs import image_grid, save_png

ROOT = Path(__file__).resolve().parents[1]
N_EVAL = 2000
Z_DIM = 100

#: name -> settings: the model (``build_models`` name and keyword arguments), the loss,
#: the Trainer's optimizer settings and the default number of steps (D updates).
RECIPES: dict[str, dict[str, Any]] = {
    "wgan_gp": {
        "model": "mlp",
        "model_kwargs": {"g_hidden": (256, 512), "d_hidden": (512, 256)},
        "loss": "wgan-gp",
        "trainer": {
            "lr_g": 1e-4,
            "lr_d": 1e-4,
            "betas_g": (0.5, 0.9),
            "betas_d": (0.5, 0.9),
            "n_critic": 5,
        },
        "steps": 16000,
    },
    "hinge_sn": {
        "model": "mlp",
        "model_kwargs": {
            "g_hidden": (256, 512),
            "d_hidden": (512, 256),
            "spectral_norm": True,
        },
        "loss": "hinge",
        "trainer": {
            "lr_g": 1e-4,
            "lr_d": 4e-4,
            "betas_g": (0.5, 0.999),
            "betas_d": (0.5, 0.999),
            "n_critic": 1,
        },
        "steps": 8000,
    },
    "lsgan": {
        "model": "mlp",
        "model_kwargs": {"g_hidden": (256, 512), "d_hidden": (512, 256)},
        "loss": "lsgan",
        "trainer": {
            "lr_g": 2e-4,
            "lr_d": 2e-4,
            "betas_g": (0.5, 0.999),
            "betas_d": (0.5, 0.999),
            "n_critic": 1,
            # without it 4,000 steps gave speckled, mostly-"1" samples (docs/gan_gallery.md)
            "ema_decay": 0.999,
        },
        "steps": 10000,
    },
    "cdcgan": {
        "model": "cdcgan",
        "model_kwargs": {"ngf": 32, "ndf": 32},
        "loss": "ns",
        "trainer": {
            "lr_g": 2e-4,
            "lr_d": 2e-4,
            "betas_g": (0.5, 0.999),
            "betas_d": (0.5, 0.999),
            "n_critic": 1,
        },
        "steps": 2000,
    },
}


def load_mnist(root: str | None, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images uint8 ``(N, 1, 28, 28)`` and labels int64 ``(N,)``."""
    x, y = load_mnist_arrays(train=train, root=root)
    return x[:, None], y


def build_recipe(
    name: str,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    seed: int = 0,
    out_dir: str | Path | None = None,
    batch_size: int = 64,
    **overrides: Any,
) -> Trainer:
    """A :class:`~tapegrad.gan.Trainer` for recipe ``name`` on ``images`` ``(N, 1, 28, 28)``.

    ``labels`` ``(N,)`` are needed by the conditional recipe (``cdcgan``). Seeds
    tapegrad's global generator with ``seed`` before building the models, so a recipe
    and a seed give the same weights. ``overrides`` replace the recipe's Trainer settings
    (e.g. ``ema_decay=None``). Raises ValueError for an unknown name.
    """
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; valid recipes: {', '.join(RECIPES)}")
    r = RECIPES[name]
    conditional = r["model"] in ("cgan-mlp", "cdcgan", "projection")
    if conditional and labels is None:
        raise ValueError(f"recipe {name!r} is conditional and needs labels")
    tg.manual_seed(seed)
    G, D = build_models(
        r["model"],
        tuple(images.shape[1:]),
        Z_DIM,
        10 if conditional else None,
        **r["model_kwargs"],
    )
    config = {
        "recipe": name,
        "model": r["model"],
        "model_kwargs": {
            k: list(v) if isinstance(v, tuple) else v for k, v in r["model_kwargs"].items()
        },
        "data": f"MNIST {images.shape[0]} images",
    }
    return Trainer(
        G,
        D,
        r["loss"],
        images,
        z_dim=Z_DIM,
        batch_size=batch_size,
        seed=seed,
        out_dir=out_dir,
        labels=labels if conditional else None,
        log_every=10,
        config=config,
        **{**r["trainer"], **overrides},
    )


def sample_grid(trainer: Trainer) -> np.ndarray:
    """The gallery picture as uint8 pixels: 8x8 samples, or for a conditional model
    10x10 with row r showing label r (same noise per column)."""
    if trainer.conditional:
        gen = np.random.Generator(np.random.PCG64([trainer.seed, 5]))
        z = gen.standard_normal((10, trainer.z_dim)).astype(trainer.fixed_z.dtype)
        z = np.tile(z, (10, 1))  # column c uses noise c in every row
        labels = np.repeat(np.arange(10), 10)
        x = trainer.generate(z=z, labels=labels)
        return image_grid((x + 1.0) * 0.5, nrow=10)
    x = trainer.generate(z=trainer.fixed_z[:64])
    return image_grid((x + 1.0) * 0.5, nrow=8)


def evaluate(trainer: Trainer, test_images: np.ndarray, n: int = N_EVAL) -> dict[str, Any]:
    """Scores of ``n`` samples from the shipped metric classifier.

    Returns ``fd`` (Fréchet distance to ``test_images`` in classifier features),
    ``modes`` (classes predicted at least once), ``modes_1pct`` (at least n/100 times),
    ``kl_to_uniform``, ``histogram``, ``confidence`` (mean top class probability) and for
    a conditional model ``label_accuracy`` (predicted digit == asked label; labels
    ``arange(n) % 10``).
    """
    labels = np.arange(n) % 10 if trainer.conditional else None
    gen = np.random.Generator(np.random.PCG64([trainer.seed, 6]))
    z = gen.standard_normal((n, trainer.z_dim)).astype(trainer.fixed_z.dtype)
    fake = trainer.generate(z=z, labels=labels)
    return score_images(fake, test_images, labels)


def score_images(
    images: np.ndarray, test_images: np.ndarray, labels: np.ndarray | None = None
) -> dict[str, Any]:
    """The scores of :func:`evaluate` for any images ``(N, 1, 28, 28)`` (uint8, or floats
    in [-1, 1]); ``labels`` ``(N,)``: the digits they should show (adds ``label_accuracy``).
    ``confident`` is the fraction classified with top probability >= 0.9;
    ``label_accuracy_per_digit`` lists the accuracy for each asked digit 0-9."""
    p = M.probs(images)
    pred = p.argmax(1)
    top = p.max(1)
    n = images.shape[0]
    out: dict[str, Any] = {
        "n": n,
        "fd": M.frechet_distance(M.features(test_images), M.features(images)),
        "modes": M.modes_covered(pred, n_classes=10),
        "modes_1pct": M.modes_covered(pred, min_count=max(1, n // 100), n_classes=10),
        "kl_to_uniform": M.kl_to_uniform(pred, 10),
        "histogram": M.class_histogram(pred).tolist(),
        "confidence": float(top.mean()),
        "confident": float((top >= 0.9).mean()),
    }
    if labels is not None:
        hit = pred == labels
        out["label_accuracy"] = float(hit.mean())
        out["label_accuracy_per_digit"] = [float(hit[labels == d].mean()) for d in range(10)]
    return out


def real_floor(
    train: np.ndarray, test: np.ndarray, n: int = N_EVAL, seed: int = 0, labels: Any = None
) -> dict[str, Any]:
    """:func:`score_images` of ``n`` real training images drawn with ``seed``: the floor
    (with their true ``labels`` ``(N,)`` when given: the classifier's accuracy on them)."""
    idx = np.random.default_rng(seed).choice(train.shape[0], n, replace=False)
    return score_images(train[idx], test, None if labels is None else labels[idx])


def rescore(tag: str, data: str | None) -> dict[str, Any]:
    """Score the last checkpoint of ``runs/gallery_<tag>/`` again and update its
    ``gallery.json`` (the same samples as the run's own scoring)."""
    out = ROOT / "runs" / f"gallery_{tag}"
    cfg = json.loads((out / "config.json").read_text())
    x, y = load_mnist(data, train=True)
    xt, _ = load_mnist(data, train=False)
    hp = cfg["trainer"]
    t = build_recipe(cfg["recipe"], x, y, seed=hp["seed"], ema_decay=hp["ema_decay"])
    t.load_checkpoint(out / "checkpoints" / "last.safetensors")
    path = out / "gallery.json"
    result = {**json.loads(path.read_text()), **evaluate(t, xt)}
    path.write_text(json.dumps(result, indent=2) + "\n")
    return result


def time_steps(name: str, images: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Seconds per training step of recipe ``name`` (mean of ``k`` steps after 3 warm-up)."""
    t = build_recipe(name, images, labels)
    batches = iter(t.loader)
    for _ in range(3):
        t.train_step(next(batches))
        t.step += 1
    t0 = time.perf_counter()
    for _ in range(k):
        t.train_step(next(batches))
        t.step += 1
    return (time.perf_counter() - t0) / k


def _machine() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        cpu = ""
    return f"{platform.machine()} {cpu}".strip()


def run(
    name: str,
    steps: int,
    data: str | None,
    seed: int = 0,
    tag: str | None = None,
    resume: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """Train recipe ``name`` for ``steps`` D updates, save its picture and score it.

    Outputs are named after ``tag`` (default ``name``): ``runs/gallery_<tag>/`` and
    ``docs/img/gallery_<tag>.png``. ``overrides`` go to :func:`build_recipe`. With
    ``resume`` the run continues exactly from its last checkpoint up to ``steps`` in all
    (the times reported are then the sums over the resumed runs).
    """
    tag = tag or name
    x, y = load_mnist(data, train=True)
    xt, _ = load_mnist(data, train=False)
    out = ROOT / "runs" / f"gallery_{tag}"
    trainer = build_recipe(name, x, y, seed=seed, out_dir=out, **overrides)
    before = {"train_seconds": 0.0, "train_cpu_seconds": 0.0, "sessions": []}
    if resume:
        trainer.load_checkpoint()
        old = json.loads((out / "gallery.json").read_text())
        before = {k: old.get(k, before[k]) for k in before}
        if not before["sessions"]:
            before["sessions"] = [[0, old["steps"], old["train_seconds"]]]
    start = trainer.step
    epochs = -(-steps // len(trainer.loader))
    t0, c0 = time.perf_counter(), time.process_time()
    trainer.train(epochs, max_steps=steps)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    sessions = before["sessions"] + [[start, trainer.step, round(seconds, 1)]]
    seconds += before["train_seconds"]
    cpu += before["train_cpu_seconds"]
    img = ROOT / "docs" / "img" / f"gallery_{tag}.png"
    img.parent.mkdir(parents=True, exist_ok=True)
    save_png(img, sample_grid(trainer))
    t1 = time.perf_counter()
    scores = evaluate(trainer, xt)
    result = {
        "recipe": name,
        "tag": tag,
        "trainer": trainer.hparams,
        "steps": trainer.step,
        "g_steps": trainer.step // trainer.n_critic,
        "train_seconds": round(seconds, 1),
        "train_cpu_seconds": round(cpu, 1),
        "sessions": sessions,
        "eval_seconds": round(time.perf_counter() - t1, 1),
        "seed": seed,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(),
        "picture": str(img.relative_to(ROOT)),
        **scores,
    }
    (out / "gallery.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipe", choices=list(RECIPES), action="append")
    p.add_argument("--steps", type=int, help="D updates (default: the recipe's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", help="folder with the MNIST IDX files (else $TAPEGRAD_DATA)")
    p.add_argument("--time-steps", type=int, metavar="K", help="only time K steps per recipe")
    p.add_argument("--floor", action="store_true", help="only score 2,000 real images")
    p.add_argument("--tag", help="name of the outputs (default the recipe's name)")
    p.add_argument("--resume", action="store_true", help="continue runs/gallery_<tag>")
    p.add_argument("--rescore", nargs="+", metavar="TAG", help="only score runs/gallery_TAG")
    p.add_argument(
        "--ema-decay", type=float, help="replace the recipe's EMA decay of G (0: no EMA)"
    )
    a = p.parse_args(argv)
    names = a.recipe or list(RECIPES)
    if a.floor:
        x, y = load_mnist(a.data, train=True)
        xt, _ = load_mnist(a.data, train=False)
        print(json.dumps(real_floor(x, xt, labels=y), indent=2))
        return
    if a.rescore:
        for tag in a.rescore:
            print(json.dumps(rescore(tag, a.data), indent=2), flush=True)
        return
    if a.time_steps:
        x, y = load_mnist(a.data, train=True)
        for name in names:
            print(f"{name}: {time_steps(name, x, y, a.time_steps):.4f} s/step", flush=True)
        return
    for name in names:
        over: dict[str, Any] = {}
        if a.ema_decay is not None:
            over["ema_decay"] = a.ema_decay or None
        tag = a.tag if a.tag and len(names) == 1 else None
        steps = a.steps or RECIPES[name]["steps"]
        r = run(name, steps, a.data, a.seed, tag, a.resume, **over)
        print(json.dumps(r, indent=2), flush=True)


if __name__ == "__main__":
    main()
