"""A GAN run folder: configuration, metrics log, sample images, loss curves, checkpoints.

Layout of a run folder (every file written atomically, see :mod:`tapegrad._atomic`)::

    RUN/
      config.json                 how the run was made (models, loss, data, hyperparameters)
      metrics.jsonl               one JSON object per logged step ("kind": "step"), epoch
                                  or health record ("kind": "health", tapegrad.explain)
      samples/epoch_XXX.png       the fixed-noise sample grid after each epoch
      curves.png                  D and G losses, D(x) and D(G(z)) against the step
      report.html                 (tapegrad train) the run in one offline web page
      checkpoints/last.safetensors  everything needed to resume exactly
      checkpoints/epoch_XXX.safetensors  (optional) one copy per epoch

The metrics log is rewritten whole (atomically) when it is flushed, so a reader
never sees a half-written line; it is small (about 150 bytes per step).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_open, atomic_path

__all__ = [
    "RunDir",
    "image_grid",
    "save_png",
    "save_scatter",
    "save_curves",
    "find_checkpoint",
]

CONFIG = "config.json"
METRICS = "metrics.jsonl"
LAST = "last.safetensors"


def image_grid(images: Any, nrow: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile images into one picture.

    Args:
        images: ``(N, H, W)`` or ``(N, C, H, W)`` floats in [0, 1] (C = 1 or 3).
        nrow: images per row (default ``ceil(sqrt(N))``).
        padding: pixels of black between tiles.

    Returns:
        uint8 ``(H', W')`` for one channel, ``(H', W', 3)`` for three.
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] not in (1, 3) or x.shape[0] == 0:
        raise ValueError(
            f"image_grid: expected (N, H, W) or (N, C, H, W) with C 1 or 3, got {x.shape}"
        )
    n, c, h, w = x.shape
    nrow = int(np.ceil(np.sqrt(n))) if nrow is None else max(1, int(nrow))
    ncol = int(np.ceil(n / nrow))
    grid = np.zeros((c, ncol * (h + padding) + padding, nrow * (w + padding) + padding), np.uint8)
    tiles = (np.clip(np.nan_to_num(x), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        y0, x0 = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, y0 : y0 + h, x0 : x0 + w] = tiles[i]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def save_png(path: str | os.PathLike[str], pixels: np.ndarray) -> None:
    """Write a uint8 ``(H, W)`` or ``(H, W, 3)`` array as a PNG file, atomically."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(np.ascontiguousarray(pixels)).save(tmp, format="PNG")


def save_scatter(
    path: str | os.PathLike[str], fake: np.ndarray, real: np.ndarray | None, title: str = ""
) -> None:
    """A scatter plot of 2-D points (generated in red over real in grey) as PNG, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=80)
    try:
        if real is not None:
            ax.scatter(real[:, 0], real[:, 1], s=2, c="0.7", label="real")
        ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:red", label="generated")
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title(title)
        ax.legend(loc="upper right", fontsize=7)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)


def save_curves(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> None:
    """Plot D and G losses and D(x), D(G(z)) against the step, as PNG, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r for r in records if r.get("kind") == "step"]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 5), dpi=80, sharex=True)
    try:
        if steps:
            s = np.array([r["step"] for r in steps])
            for ax, keys in ((a1, ("d_loss", "g_loss")), (a2, ("d_real", "d_fake"))):
                for k in keys:
                    v = np.array([np.nan if r.get(k) is None else r[k] for r in steps], float)
                    ax.plot(s, v, lw=0.6, alpha=0.35)
                    ax.plot(s, _smooth(v), lw=1.2, label=k, color=ax.lines[-1].get_color())
                ax.legend(loc="upper right", fontsize=7)
        a1.set_ylabel("loss")
        a2.set_ylabel("D output")
        a2.set_xlabel("step")
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)


def _smooth(v: np.ndarray, width: int = 25) -> np.ndarray:
    """A running mean ignoring NaNs (steps without a G update), same length as ``v``."""
    if v.size < 3:
        return v
    width = min(width, v.size)
    ok = np.isfinite(v)
    k = np.ones(width)
    num = np.convolve(np.where(ok, v, 0.0), k, mode="same")
    den = np.convolve(ok.astype(float), k, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


class RunDir:
    """The files of one run folder (see the module docstring).

    Args:
        path: the folder (created with ``samples/`` and ``checkpoints/`` if missing).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.samples = self.path / "samples"
        self.checkpoints = self.path / "checkpoints"
        for d in (self.path, self.samples, self.checkpoints):
            d.mkdir(parents=True, exist_ok=True)
        self.records: list[dict[str, Any]] = []
        self._flushed = 0

    # ------------------------------------------------------------ config
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG

    def write_config(self, config: dict[str, Any]) -> None:
        """Write ``config.json`` (sorted keys, indented)."""
        with atomic_open(self.config_path, "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")

    def read_config(self) -> dict[str, Any]:
        """The run's ``config.json`` as a dict."""
        return read_config(self.path)

    # ------------------------------------------------------------ metrics
    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    def log(self, record: dict[str, Any]) -> None:
        """Queue one metrics record (written by :meth:`flush`)."""
        self.records.append(record)

    def flush(self) -> None:
        """Rewrite ``metrics.jsonl`` with every record so far, atomically."""
        if self._flushed == len(self.records) and self.metrics_path.exists():
            return
        with atomic_open(self.metrics_path, "w") as f:
            for r in self.records:
                f.write(json.dumps(r, allow_nan=True) + "\n")
        self._flushed = len(self.records)

    def load_records(self, upto_step: int, upto_epoch: int) -> None:
        """Read ``metrics.jsonl`` back, keeping the records a checkpoint at
        ``(upto_step, upto_epoch)`` covers (later ones are redone on resume)."""
        self.records = []
        if self.metrics_path.exists():
            for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                r = json.loads(line)
                if r.get("kind") == "epoch" and r.get("epoch", 0) > upto_epoch:
                    continue
                if r.get("kind") != "epoch" and r.get("step", 0) > upto_step:
                    continue
                self.records.append(r)
        self._flushed = -1

    # ------------------------------------------------------------ pictures
    def sample_path(self, epoch: int) -> Path:
        return self.samples / f"epoch_{epoch:03d}.png"

    def save_samples(
        self, epoch: int, samples: np.ndarray, real: np.ndarray | None, step: int | None = None
    ) -> Path:
        """Save the sample picture of ``epoch``: an image grid for images in [-1, 1]
        (``(N, C, H, W)``), a scatter plot for 2-D points ``(N, 2)``. With ``step``,
        the picture of a run that stopped inside an epoch (``samples/step_XXXXXX.png``)."""
        path = self.sample_path(epoch) if step is None else self.samples / f"step_{step:06d}.png"
        if samples.ndim == 2:
            title = f"epoch {epoch}" if step is None else f"step {step}"
            save_scatter(path, samples, real, title=title)
        else:
            save_png(path, image_grid((samples + 1.0) * 0.5))
        return path

    def save_curves(self) -> None:
        """Write ``curves.png`` from the records so far."""
        save_curves(self.path / "curves.png", self.records)

    # ------------------------------------------------------------ checkpoints
    @property
    def last_checkpoint(self) -> Path:
        return self.checkpoints / LAST

    def epoch_checkpoint(self, epoch: int) -> Path:
        return self.checkpoints / f"epoch_{epoch:03d}.safetensors"


def read_config(run: str | os.PathLike[str]) -> dict[str, Any]:
    """``RUN/config.json`` as a dict; FileNotFoundError naming the path when absent."""
    p = Path(run) / CONFIG
    if not p.is_file():
        raise FileNotFoundError(f"{run} is not a run folder: no {CONFIG} in it")
    with open(p, encoding="utf-8") as f:
        return json.load(f)


def find_checkpoint(run_or_checkpoint: str | os.PathLike[str]) -> tuple[Path, Path | None]:
    """``(checkpoint file, run folder or None)`` for a run folder or a checkpoint file.

    A run folder gives ``RUN/checkpoints/last.safetensors``; a file inside
    ``RUN/checkpoints/`` gives that file and ``RUN``. FileNotFoundError when neither.
    """
    p = Path(run_or_checkpoint)
    if p.is_dir():
        ckpt = p / "checkpoints" / LAST
        if not ckpt.is_file():
            raise FileNotFoundError(f"{p} holds no checkpoint (looked for {ckpt})")
        return ckpt, p
    if p.is_file():
        run = p.parent.parent
        return p, run if (run / CONFIG).is_file() else None
    raise FileNotFoundError(f"no run folder or checkpoint file at {p}")
