"""GAN quality, tapegrad against PyTorch: the same recipes, budget and metric.

For each recipe, seed and framework this trains a GAN on the MNIST training set,
generates 10,000 samples and scores them against the 10,000 MNIST test images with
tapegrad's offline metrics (:mod:`tapegrad.gan.metrics`, classifier
``mnist-classifier-v1``): Fréchet distance (FD), KID and the digits covered. PyTorch's
samples are converted to NumPy and scored by exactly the same code as tapegrad's.

Recipes (both frameworks, identical architectures):

* ``mlp``: the MNIST GAN of the backpropagation and GANs tutorial (§4.2, corrected).
  G: z 100 -> 128 LeakyReLU(0.2) -> 784 tanh;
  D: 784 -> 128 -> 64 -> 1 logit, LeakyReLU(0.2). Each library's default Linear init
  (the same distribution: U(+-1/sqrt(fan_in)) for weights and biases).
* ``dcgan``: tapegrad's 28x28 DCGAN, ``build_models('dcgan', (1, 28, 28), 100)``
  (ngf = ndf = 64), and the identical PyTorch network. G: Linear(100, 128*7*7, no bias)
  -> BN -> ReLU -> ConvT(128, 64, 4, 2, 1, no bias) -> BN -> ReLU -> ConvT(64, 1, 4, 2, 1)
  -> tanh; D: Conv(1, 64, 4, 2, 1) -> LeakyReLU(0.2) -> Conv(64, 128, 4, 2, 1, no bias)
  -> BN -> LeakyReLU(0.2) -> Linear(128*7*7, 1). DCGAN init: conv/linear weights
  N(0, 0.02), biases 0, BatchNorm weights N(1, 0.02), biases 0.

Shared recipe: non-saturating loss (D: BCE-with-logits real->1 plus fake->0; G:
BCE-with-logits fake->1), Adam lr 2e-4, betas (0.5, 0.999) for both players, batch 64,
data scaled to [-1, 1] (:func:`tapegrad.gan.scale_data`), each epoch a fresh shuffle of
the 60,000 images with the incomplete last batch dropped (937 steps). One step: draw z,
``fake = G(z)``; D update on ``D(real)`` and ``D(fake.detach())`` (two forward passes,
so BatchNorm sees real and fake batches separately); G update on ``D(fake)`` of the
just-updated D with D's parameters frozen (only G's gradients are computed). Samples
are drawn with G in eval mode (BatchNorm running statistics) under no-grad.

Both training loops are written out here, the tapegrad loop mirroring the PyTorch one
line by line (rather than using :class:`tapegrad.gan.Trainer`), so that any difference
in quality comes from the libraries, not from the loop. Randomness: ``seed`` seeds each
library's global generator (initial weights) and two generators of the library's own
kind, one for the data order and one for the noise (NumPy PCG64 ``[seed, 1]`` and
``[seed, 2]`` for tapegrad; ``torch.Generator`` seeded ``1000 * seed + 1`` and
``+ 2`` for PyTorch), and a third for the evaluation noise (``[seed, 4]`` /
``1000 * seed + 4``). The two frameworks therefore see different (equally distributed)
orders, noise and weights: the comparison is between distributions of outcomes over
seeds, not run against run.

Verdict, per recipe: tapegrad is *within spread* when its mean FD is lower than
PyTorch's, or ``|mean_tapegrad - mean_torch| <= max(std_tapegrad, std_torch)`` (sample
std over seeds, ddof 1); otherwise *worse beyond spread*.

The defaults are the recorded study of docs/gan_quality.md: seeds 0, 1, 2; the MLP
for 10 epochs, the DCGAN for 300 steps (``--epochs mlp=10,dcgan=1 --max-steps dcgan=300``).

Usage (one BLAS thread; PyTorch is set to one thread too)::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        python benchmarks/gan_quality.py --recipes mlp --data DIR \\
        --json mlp.json
    python benchmarks/gan_quality.py --recipes dcgan --max-steps none --epochs 2 ...
    python benchmarks/gan_quality.py --from-json mlp.json dcgan.json

PyTorch is a test-only dependency of tapegrad; this script imports it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

import tapegrad  # noqa: E402
from tapegrad._atomic import atomic_open  # noqa: E402
from tapegrad.data import load_mnist_arrays  # noqa: E402
from tapegrad.gan import build_models  # noqa: E402
from tapegrad.gan import metrics as M  # noqa: E402
from tapegrad.gan.losses import ns_d_loss, ns_g_loss  # noqa: E402
from tapegrad.gan.trainer import scale_data  # noqa: E402
from tapegrad.optim import Adam  # noqa: E402

RECIPES = ("mlp", "dcgan")
FRAMEWORKS = ("tapegrad", "torch")
Z_DIM = 100
LR = 2e-4
BETAS = (0.5, 0.999)
IMAGE_SHAPE = (1, 28, 28)
METRIC_KEYS = (
    "fd",
    "kid",
    "modes",
    "kl",
    "train_s",
    "ms_per_step",
    "train_cpu_s",
    "cpu_ms_per_step",
)


# ------------------------------------------------------------------ data and metric
def load_data(root: str | None, n_train: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)``: the first ``n_train`` (default all 60,000) training images as
    float32 ``(N, 1, 28, 28)`` in [-1, 1], and the 10,000 test images uint8 ``(N, 28, 28)``."""
    train, _ = load_mnist_arrays(train=True, root=root)
    test, _ = load_mnist_arrays(train=False, root=root)
    if n_train is not None:
        train = train[:n_train]
    return scale_data(train.reshape(-1, *IMAGE_SHAPE)), test


class Scorer:
    """Scores generated images against a fixed reference set with tapegrad's metrics.

    The reference features are computed once. :meth:`score` takes a NumPy array of
    images in [-1, 1] (``(N, 1, 28, 28)``, ``(N, 28, 28)`` or ``(N, 784)``), whichever
    library made it.
    """

    def __init__(
        self, reference_images: np.ndarray, kid_subsets: int = 10, kid_subset_size: int = 1000
    ) -> None:
        self.ref_feats = M.features(reference_images)
        self.kid_subsets = kid_subsets
        self.kid_subset_size = kid_subset_size

    def score(self, samples: np.ndarray) -> dict[str, float]:
        """``{"fd", "kid", "kid_std", "modes", "kl"}`` of ``samples`` against the reference.

        ``kid``: mean (and std) over ``kid_subsets`` pairs of subsets of
        ``kid_subset_size`` (10 x 1,000 by default, not the library's 100: the cubic
        kernel costs seconds per subset). ``modes``: digits predicted for at least 1% of
        the samples; ``kl``: KL of the predicted digits to uniform (nats). The digits are
        the classifier's head applied to the same features (what
        :func:`~tapegrad.gan.metrics.predict` computes, without a second pass over the
        convolutions). All NaN for non-finite samples (a diverged G).
        """
        x = np.asarray(samples)
        if not np.all(np.isfinite(x)):
            return {k: math.nan for k in ("fd", "kid", "kid_std", "modes", "kl")}
        feats = M.features(x)
        labels = self.predict_from_features(feats)
        m = min(self.kid_subset_size, feats.shape[0], self.ref_feats.shape[0])
        k = M.kid(self.ref_feats, feats, n_subsets=self.kid_subsets, subset_size=m)
        return {
            "fd": M.frechet_distance(feats, self.ref_feats),
            "kid": float(k.mean),
            "kid_std": float(k.std),
            "modes": M.modes_covered(labels, min_count=max(1, len(labels) // 100), n_classes=10),
            "kl": M.kl_to_uniform(labels, 10),
        }

    @staticmethod
    def predict_from_features(feats: np.ndarray) -> np.ndarray:
        """Digits ``(N,)`` from the classifier's features ``(N, 128)``: its eval-mode head
        ``fc2(relu(features))`` (dropout is off in eval mode), then argmax."""
        model = M.load_classifier()
        with tapegrad.no_grad():
            h = tapegrad.as_tensor(np.asarray(feats, dtype=np.float32)).relu()
            return model.fc2(h).numpy().argmax(axis=1).astype(np.int64)


# ------------------------------------------------------------------ tapegrad
def tapegrad_models(recipe: str, seed: int) -> tuple[Any, Any]:
    """tapegrad's ``(G, D)`` for ``recipe``, weights drawn after ``manual_seed(seed)``."""
    tapegrad.manual_seed(seed)
    return build_models(recipe, IMAGE_SHAPE, Z_DIM)


def train_tapegrad(
    recipe: str, x: np.ndarray, seed: int, epochs: int, batch_size: int = 64,
    max_steps: int | None = None,
) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """Train tapegrad's GAN (the loop mirrors :func:`train_torch`); returns ``(G, info)``.

    ``info``: ``steps``, ``train_s`` (wall seconds), ``train_cpu_s`` (CPU seconds of
    the process: on a shared machine the fairer cost), ``status`` (``"ok"`` or
    ``"diverged"``), ``d_loss``/``g_loss`` (means over the last epoch's steps).
    """
    G, D = tapegrad_models(recipe, seed)
    opt_g = Adam(G.parameters(), lr=LR, betas=BETAS)
    opt_d = Adam(D.parameters(), lr=LR, betas=BETAS)
    order = np.random.Generator(np.random.PCG64([seed, 1]))
    noise = np.random.Generator(np.random.PCG64([seed, 2]))
    d_params = list(D.parameters())
    n, steps, status = x.shape[0], 0, "ok"
    G.train()
    D.train()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        perm = order.permutation(n)
        d_sum = g_sum = 0.0
        for i in range(n // batch_size):
            real = tapegrad.as_tensor(x[perm[i * batch_size : (i + 1) * batch_size]])
            z = tapegrad.as_tensor(noise.standard_normal((batch_size, Z_DIM), dtype=np.float32))
            fake = G(z)
            loss_d = ns_d_loss(D(real), D(fake.detach()))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            for p in d_params:
                p.requires_grad_(False)
            loss_g = ns_g_loss(D(fake))
            for p in d_params:
                p.requires_grad_(True)
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            d_val, g_val = loss_d.item(), loss_g.item()
            steps += 1
            d_sum, g_sum = d_sum + d_val, g_sum + g_val
            if not (math.isfinite(d_val) and math.isfinite(g_val)):
                status = "diverged"
            if status != "ok" or (max_steps is not None and steps >= max_steps):
                break
        if status != "ok" or (max_steps is not None and steps >= max_steps):
            break
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    k = max(1, steps - (steps - 1) // (n // batch_size) * (n // batch_size))
    return G, {"steps": steps, "train_s": seconds, "train_cpu_s": cpu, "status": status,
               "d_loss": d_sum / k, "g_loss": g_sum / k}  # fmt: skip


def sample_tapegrad(G: Any, n: int, seed: int, batch_size: int = 500) -> np.ndarray:
    """``n`` samples of tapegrad's ``G`` in eval mode: float32 NumPy ``(n, 1, 28, 28)``."""
    gen = np.random.Generator(np.random.PCG64([seed, 4]))
    G.eval()
    out = []
    with tapegrad.no_grad():
        for i in range(0, n, batch_size):
            z = gen.standard_normal((min(batch_size, n - i), Z_DIM), dtype=np.float32)
            out.append(G(tapegrad.as_tensor(z)).numpy())
    G.train()
    return np.concatenate(out).reshape(n, *IMAGE_SHAPE)


# ------------------------------------------------------------------ PyTorch
def torch_models(recipe: str, seed: int) -> tuple[Any, Any]:
    """PyTorch's ``(G, D)`` for ``recipe``, weights drawn after ``torch.manual_seed(seed)``.

    Module names match tapegrad's, so ``state_dict`` keys (and shapes) are the same.
    """
    import torch
    from torch import nn

    class MLPGenerator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(Z_DIM, 128), nn.LeakyReLU(0.2), nn.Linear(128, 784), nn.Tanh()
            )

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return self.net(z).view(z.shape[0], *IMAGE_SHAPE)

    class MLPDiscriminator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Linear(784, 128), nn.LeakyReLU(0.2), nn.Linear(128, 64), nn.LeakyReLU(0.2)
            )
            self.head = nn.Linear(64, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.features(x.reshape(x.shape[0], 784)))

    class DCGANGenerator(nn.Module):
        def __init__(self, ngf: int = 64) -> None:
            super().__init__()
            self.start = (2 * ngf, 7, 7)
            self.project = nn.Sequential(
                nn.Linear(Z_DIM, 2 * ngf * 49, bias=False), nn.BatchNorm1d(2 * ngf * 49), nn.ReLU()
            )
            self.net = nn.Sequential(
                nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf),
                nn.ReLU(),
                nn.ConvTranspose2d(ngf, 1, 4, 2, 1),
                nn.Tanh(),
            )

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return self.net(self.project(z).view(z.shape[0], *self.start))

    class DCGANDiscriminator(nn.Module):
        def __init__(self, ndf: int = 64) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, ndf, 4, 2, 1),
                nn.LeakyReLU(0.2),
                nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False),
                nn.BatchNorm2d(2 * ndf),
                nn.LeakyReLU(0.2),
            )
            self.head = nn.Linear(2 * ndf * 49, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.features(x).flatten(1))

    def dcgan_init(m: nn.Module) -> None:
        # the PyTorch DCGAN example's weights_init, extended to Linear (as tapegrad's)
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    torch.manual_seed(seed)
    if recipe == "mlp":
        return MLPGenerator(), MLPDiscriminator()
    if recipe == "dcgan":
        G, D = DCGANGenerator(), DCGANDiscriminator()
        G.apply(dcgan_init)
        D.apply(dcgan_init)
        return G, D
    raise ValueError(f"unknown recipe {recipe!r}; valid: {', '.join(RECIPES)}")


def train_torch(
    recipe: str, x: np.ndarray, seed: int, epochs: int, batch_size: int = 64,
    max_steps: int | None = None, max_cpu_s: float | None = None,
) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """Train PyTorch's GAN (the reference loop); returns ``(G, info)`` as :func:`train_tapegrad`.

    ``max_cpu_s``: also stop after the step during which the process's CPU time spent
    training reached this many seconds (a time budget that machine load does not skew).
    """
    import torch
    import torch.nn.functional as F

    G, D = torch_models(recipe, seed)
    opt_g = torch.optim.Adam(G.parameters(), lr=LR, betas=BETAS)
    opt_d = torch.optim.Adam(D.parameters(), lr=LR, betas=BETAS)
    order = torch.Generator().manual_seed(1000 * seed + 1)
    noise = torch.Generator().manual_seed(1000 * seed + 2)
    d_params = list(D.parameters())
    xt = torch.from_numpy(x)
    ones = torch.ones(batch_size, 1)
    zeros = torch.zeros(batch_size, 1)
    n, steps, status = x.shape[0], 0, "ok"
    G.train()
    D.train()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=order)
        d_sum = g_sum = 0.0
        for i in range(n // batch_size):
            real = xt[perm[i * batch_size : (i + 1) * batch_size]]
            z = torch.randn((batch_size, Z_DIM), generator=noise)
            fake = G(z)
            loss_d = F.binary_cross_entropy_with_logits(
                D(real), ones
            ) + F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            for p in d_params:
                p.requires_grad_(False)
            loss_g = F.binary_cross_entropy_with_logits(D(fake), ones)
            for p in d_params:
                p.requires_grad_(True)
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            d_val, g_val = loss_d.item(), loss_g.item()
            steps += 1
            d_sum, g_sum = d_sum + d_val, g_sum + g_val
            if not (math.isfinite(d_val) and math.isfinite(g_val)):
                status = "diverged"
            if max_cpu_s is not None and time.process_time() - c0 >= max_cpu_s:
                max_steps = steps
            if status != "ok" or (max_steps is not None and steps >= max_steps):
                break
        if status != "ok" or (max_steps is not None and steps >= max_steps):
            break
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    k = max(1, steps - (steps - 1) // (n // batch_size) * (n // batch_size))
    return G, {"steps": steps, "train_s": seconds, "train_cpu_s": cpu, "status": status,
               "d_loss": d_sum / k, "g_loss": g_sum / k}  # fmt: skip


def sample_torch(G: Any, n: int, seed: int, batch_size: int = 500) -> np.ndarray:
    """``n`` samples of PyTorch's ``G`` in eval mode: float32 NumPy ``(n, 1, 28, 28)``."""
    import torch

    gen = torch.Generator().manual_seed(1000 * seed + 4)
    G.eval()
    out = []
    with torch.no_grad():
        for i in range(0, n, batch_size):
            z = torch.randn((min(batch_size, n - i), Z_DIM), generator=gen)
            out.append(G(z).numpy())
    G.train()
    return np.concatenate(out).reshape(n, *IMAGE_SHAPE)


TRAIN = {"tapegrad": train_tapegrad, "torch": train_torch}
SAMPLE = {"tapegrad": sample_tapegrad, "torch": sample_torch}


def run_one(
    recipe: str, framework: str, seed: int, epochs: int, x: np.ndarray, scorer: Scorer,
    n_samples: int = 10_000, batch_size: int = 64, max_steps: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Train one GAN and score ``n_samples`` of its samples; returns the run's record."""
    G, info = TRAIN[framework](recipe, x, seed, epochs, batch_size, max_steps)
    t0 = time.perf_counter()
    samples = SAMPLE[framework](G, n_samples, seed)
    m = scorer.score(samples)
    return {
        "recipe": recipe, "framework": framework, "seed": seed, "epochs": epochs, **info,
        "ms_per_step": 1000.0 * info["train_s"] / max(1, info["steps"]),
        "cpu_ms_per_step": 1000.0 * info["train_cpu_s"] / max(1, info["steps"]), **m,
        "eval_s": time.perf_counter() - t0,
    }  # fmt: skip


# ------------------------------------------------------------------ summary
def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (recipe, framework): ``{recipe, framework, n, epochs, steps, summary}``
    with ``summary = {metric: (mean, std)}`` over the seeds (std ddof 1, 0 for one run)."""
    rows = []
    keys = sorted({(r["recipe"], r["framework"]) for r in runs},
                  key=lambda k: (RECIPES.index(k[0]), FRAMEWORKS.index(k[1])))  # fmt: skip
    for recipe, fw in keys:
        rs = [r for r in runs if r["recipe"] == recipe and r["framework"] == fw]
        summary = {}
        for key in METRIC_KEYS:
            if not all(key in r for r in rs):  # results saved before the key existed
                continue
            v = np.array([r[key] for r in rs], dtype=np.float64)
            summary[key] = (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0)
        rows.append({
            "recipe": recipe, "framework": fw, "n": len(rs),
            "epochs": sorted({r["epochs"] for r in rs}), "steps": sorted({r["steps"] for r in rs}),
            "diverged": sum(r["status"] != "ok" for r in rs), "summary": summary,
        })  # fmt: skip
    return rows


def verdict(rows: list[dict[str, Any]], recipe: str) -> dict[str, Any] | None:
    """The FD verdict for ``recipe`` (None without both frameworks).

    ``within`` is True when tapegrad's mean FD is lower than PyTorch's or the gap
    ``|mean_tg - mean_torch|`` is at most ``max(std_tg, std_torch)``.
    """
    by = {r["framework"]: r["summary"]["fd"] for r in rows if r["recipe"] == recipe}
    if set(by) != set(FRAMEWORKS):
        return None
    (mt, st), (mp, sp) = by["tapegrad"], by["torch"]
    gap, spread = mt - mp, max(st, sp)
    within = bool(mt <= mp or abs(gap) <= spread)
    if math.isnan(gap):
        within, text = False, "undefined (a run diverged)"
    elif mt <= mp:
        text = "tapegrad within spread (lower FD)"
    elif within:
        text = "tapegrad within spread"
    else:
        text = "tapegrad WORSE beyond spread"
    return {"recipe": recipe, "gap": gap, "spread": spread, "within": within, "text": text}


def _pm(ms: tuple[float, float], digits: int = 1) -> str:
    return f"{ms[0]:.{digits}f} ± {ms[1]:.{digits}f}"


def format_runs(runs: list[dict[str, Any]]) -> str:
    """A Markdown table with one line per run."""
    lines = [
        "| recipe | framework | seed | steps | FD | KID (std) | digits | KL | "
        "train s | ms/step | CPU ms/step | status |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        cpu = f"{r['cpu_ms_per_step']:.2f}" if "cpu_ms_per_step" in r else "-"
        lines.append(
            f"| {r['recipe']} | {r['framework']} | {r['seed']} | {r['steps']} | "
            f"{r['fd']:.2f} | {r['kid']:.1f} ({r['kid_std']:.1f}) | {r['modes']} | "
            f"{r['kl']:.3f} | {r['train_s']:.0f} | {r['ms_per_step']:.2f} | {cpu} | "
            f"{r['status']} |"
        )
    return "\n".join(lines)


def format_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of mean ± std per (recipe, framework), then the verdict lines."""
    lines = [
        "| recipe | framework | seeds | steps/run | FD | KID | digits | KL | train s/run | "
        "ms/step | CPU ms/step |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        s = r["summary"]
        steps = "/".join(str(v) for v in r["steps"])
        cpu = _pm(s["cpu_ms_per_step"], 2) if "cpu_ms_per_step" in s else "-"
        lines.append(
            f"| {r['recipe']} | {r['framework']} | {r['n']} | {steps} | {_pm(s['fd'], 2)} | "
            f"{_pm(s['kid'])} | {_pm(s['modes'])} | {_pm(s['kl'], 3)} | "
            f"{_pm(s['train_s'], 0)} | {_pm(s['ms_per_step'], 2)} | {cpu} |"
        )
    for recipe in RECIPES:
        v = verdict(rows, recipe)
        if v is not None:
            lines.append(
                f"\n{recipe}: FD gap tapegrad - torch = {v['gap']:+.2f}, spread "
                f"max(std) = {v['spread']:.2f}: {v['text']}"
            )
    return "\n".join(lines)


def _json_safe(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def write_json(path: str, result: dict[str, Any]) -> None:
    """Write ``result`` as strict JSON (NaN as null), atomically."""
    with atomic_open(path, "w") as f:
        f.write(json.dumps(_json_safe(result), indent=2, allow_nan=False))


def _runs_from_json(paths: list[str]) -> list[dict[str, Any]]:
    runs = []
    for p in paths:
        for r in json.loads(Path(p).read_text())["runs"]:
            runs.append({k: (math.nan if v is None else v) for k, v in r.items()})
    return runs


# ------------------------------------------------------------------ command line
def _per_recipe(text: str, what: str, p: argparse.ArgumentParser) -> dict[str, int]:
    """``"20"`` (every recipe) or ``"mlp=20,dcgan=1"``."""
    out: dict[str, int] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, val = part.rpartition("=")
        try:
            v = int(val)
        except ValueError:
            p.error(f"{what}: expected an int or recipe=int, got {part!r}")
        if v < 1:
            p.error(f"{what} must be positive, got {part!r}")
        for r in [name] if name else RECIPES:
            if r not in RECIPES:
                p.error(f"{what}: unknown recipe {r!r}")
            out[r] = v
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--recipes", default="mlp,dcgan", help="comma-separated: mlp, dcgan")
    p.add_argument("--frameworks", default="tapegrad,torch", help="tapegrad, torch or both")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    p.add_argument("--epochs", default="mlp=10,dcgan=1", help="N, or recipe=N,recipe=N")
    p.add_argument(
        "--max-steps", default="dcgan=300", help="stop after N steps (N, recipe=N,..., or none)"
    )
    p.add_argument("--data", default=None, help="MNIST folder (default: tapegrad's search)")
    p.add_argument("--n-train", type=int, default=None, help="use the first N training images")
    p.add_argument("--n-samples", type=int, default=10_000, help="generated images scored")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--json", default=None, help="write every run and the summary here")
    p.add_argument("--from-json", nargs="+", default=None, metavar="PATH",
                   help="print the tables of saved results (no training)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no per-run lines or tables")
    a = p.parse_args(argv)
    a.recipes = [r for r in a.recipes.split(",") if r]
    a.frameworks = [f for f in a.frameworks.split(",") if f]
    for r in a.recipes:
        if r not in RECIPES:
            p.error(f"unknown recipe {r!r}; choose from {', '.join(RECIPES)}")
    for f in a.frameworks:
        if f not in FRAMEWORKS:
            p.error(f"unknown framework {f!r}; choose from {', '.join(FRAMEWORKS)}")
    try:
        a.seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    except ValueError:
        p.error(f"--seeds: expected comma-separated ints, got {a.seeds!r}")
    a.epochs = _per_recipe(a.epochs, "--epochs", p)
    none = not a.max_steps or a.max_steps.lower() == "none"
    a.max_steps = {} if none else _per_recipe(a.max_steps, "--max-steps", p)
    missing = [r for r in a.recipes if r not in a.epochs]
    if missing:
        p.error(f"--epochs gives no value for {', '.join(missing)}")
    if not a.seeds or a.batch_size < 1 or a.n_samples < 2:
        p.error("need at least one seed, --batch-size >= 1 and --n-samples >= 2")
    return a


def _set_threads() -> None:
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set in this process
        pass


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the study; returns ``{"config", "runs", "rows", "verdicts"}`` (also --json).

    Runs go recipe by recipe, seed by seed, the frameworks alternating within a seed so
    both see the same machine load. With --json the file is rewritten after every run.
    """
    a = parse_args(argv)
    if a.from_json:
        runs = _runs_from_json(a.from_json)
        rows = summarise(runs)
        print(format_runs(runs) + "\n\n" + format_table(rows))
        return {"runs": runs, "rows": rows}
    if "torch" in a.frameworks:
        _set_threads()
    config = {k: v for k, v in vars(a).items() if k not in ("json", "from_json", "quiet")}
    config["classifier"] = M.VERSION
    x, test = load_data(a.data, a.n_train)
    scorer = Scorer(test)
    runs: list[dict[str, Any]] = []
    result: dict[str, Any] = {"config": config, "runs": runs}
    for recipe in a.recipes:
        for seed in a.seeds:
            for fw in a.frameworks:
                r = run_one(recipe, fw, seed, a.epochs[recipe], x, scorer, a.n_samples,
                            a.batch_size, a.max_steps.get(recipe))  # fmt: skip
                runs.append(r)
                if not a.quiet:
                    print(
                        f"{recipe} {fw} seed {seed}: {r['steps']} steps, FD {r['fd']:.2f}, "
                        f"KID {r['kid']:.1f}, digits {r['modes']}, KL {r['kl']:.3f}, "
                        f"train {r['train_s']:.1f} s ({r['ms_per_step']:.2f} ms/step, "
                        f"CPU {r['cpu_ms_per_step']:.2f} ms/step), "
                        f"eval {r['eval_s']:.1f} s, d_loss {r['d_loss']:.3f}, "
                        f"g_loss {r['g_loss']:.3f} ({r['status']})",
                        flush=True,
                    )
                if a.json:
                    result["rows"] = summarise(runs)
                    write_json(a.json, result)
    rows = summarise(runs)
    result["rows"] = rows
    result["verdicts"] = [v for v in (verdict(rows, r) for r in a.recipes) if v is not None]
    if not a.quiet:
        print(format_runs(runs) + "\n\n" + format_table(rows), flush=True)
    if a.json:
        write_json(a.json, result)
    return result


if __name__ == "__main__":
    main()
