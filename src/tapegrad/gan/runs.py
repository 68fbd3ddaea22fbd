"""A GAN run folder: configuration, metrics log, sample images, loss curves, checkpoints.

Layout of a run folder (every file written atomically, see :mod:`tapegrad._atomic`)::

    RUN/
      config.json                 how the run was made (models, loss, data, hyperparameters)
      metrics.jsonl               one JSON object per logged step ("kind": "step") or epoch
      samples/epoch_XXX.png       the fixed-noise sample grid after each epoch
      curves.png                  D and G losses, D(x) and D(G(z)) against the step
      checkpoints/last.safetensors  everything needed to resume exactly (with a digest)
      checkpoints/epoch_XXX.safetensors  (optional) one copy per epoch
      status.json                 how the last ``train`` call ended: status, step, epoch
      evaluation.json             (``tapegrad evaluate``) the last evaluation

Order of the writes at each checkpoint: the metrics log, the checkpoint, the sample
picture, the curves (and at the end ``status.json``). A run killed between any two
of them resumes with a log that matches its checkpoint: see :class:`RunDir` and
docs/reliability.md.
"""

from __future__ import annotations

import json
import math
import os
from array import array
from collections import deque
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
    "plot_curves",
    "find_checkpoint",
    "read_config",
    "fault_point",
    "FAULT_POINTS",
]

CONFIG = "config.json"
METRICS = "metrics.jsonl"
LAST = "last.safetensors"
STATUS = "status.json"


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


def _figure(width: float, height: float, rows: int = 1) -> tuple[Any, Any]:
    """A matplotlib Figure with an Agg canvas, outside pyplot: pyplot keeps every figure
    it makes alive until closed, which made long runs grow; these are freed with their
    last reference."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=80)
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=rows > 1)
    return fig, axes


def save_scatter(
    path: str | os.PathLike[str], fake: np.ndarray, real: np.ndarray | None, title: str = ""
) -> None:
    """A scatter plot of 2-D points (generated in red over real in grey) as PNG, atomically."""
    fig, ax = _figure(4, 4)
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, c="0.7", label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:red", label="generated")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


CURVE_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")
CURVE_POINTS = 2048  # curves.png shows between 2,048 and 4,096 of the logged steps
RECENT_RECORDS = 1024  # RunDir.recent: enough for any observer called every interval


def save_curves(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> None:
    """Plot D and G losses and D(x), D(G(z)) against the step, as PNG, atomically.

    ``records``: metrics records; those of kind ``"step"`` are plotted."""
    steps = [r for r in records if r.get("kind") == "step"]
    cols = {
        k: np.array([np.nan if r.get(k) is None else r[k] for r in steps], float)
        for k in CURVE_KEYS
    }
    plot_curves(path, np.array([r["step"] for r in steps], float), cols)


def plot_curves(path: str | os.PathLike[str], step: np.ndarray, cols: dict[str, Any]) -> None:
    """:func:`save_curves` from columns: ``step`` ``(n,)`` and ``cols[k]`` ``(n,)`` for
    each of :data:`CURVE_KEYS` (NaN where a step has no value)."""
    fig, (a1, a2) = _figure(7, 5, rows=2)
    if len(step):
        for ax, keys in ((a1, ("d_loss", "g_loss")), (a2, ("d_real", "d_fake"))):
            for k in keys:
                v = np.asarray(cols[k], float)
                ax.plot(step, v, lw=0.6, alpha=0.35)
                ax.plot(step, _smooth(v), lw=1.2, label=k, color=ax.lines[-1].get_color())
            ax.legend(loc="upper right", fontsize=7)
    a1.set_ylabel("loss")
    a2.set_ylabel("D output")
    a2.set_xlabel("step")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


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


FAULT_ENV = "TAPEGRAD_FAULT"
FAULT_EXIT = 86
FAULT_POINTS = ("after_log", "after_checkpoint", "after_samples", "after_curves", "after_status")
_fault_seen: dict[str, int] = {}


def fault_point(name: str) -> None:
    """Testing hook: end the process at once (``os._exit(86)``, like a SIGKILL: no cleanup,
    no flushing) when the environment variable ``TAPEGRAD_FAULT`` is ``NAME`` or
    ``NAME:K`` (the K-th time this point is reached, counting from 1).

    The points sit between the writes of a run (:data:`FAULT_POINTS`), so a test can
    stop training between any two of them and check what ``tapegrad resume`` makes of
    the folder. Unset, it costs one dictionary lookup.
    """
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    want, _, nth = spec.partition(":")
    if want != name:
        return
    _fault_seen[name] = _fault_seen.get(name, 0) + 1
    if _fault_seen[name] == (int(nth) if nth else 1):
        os._exit(FAULT_EXIT)


class RunDir:
    """The files of one run folder (see the module docstring); every file of a run is
    written by one of its methods.

    Args:
        path: the folder (created with ``samples/`` and ``checkpoints/`` if missing).
        writer: False makes every write a no-op (the other processes of a distributed
            run, where only rank 0 writes); reads still work.

    The metrics log is appended to, never rewritten while training: records wait in
    memory until :meth:`flush_log` (called before each checkpoint, and whenever
    ``flush_every`` records are waiting), which appends them and ``fsync``-s the file.
    The checkpoint is written after the log, so the log always reaches at least as far
    as the checkpoint; :meth:`resume_log` then drops the rows past the checkpoint (and
    a last line cut short by a kill), and training redoes them. The plotted columns are
    kept as compact float arrays (40 bytes a step), not as records.
    """

    def __init__(
        self, path: str | os.PathLike[str], writer: bool = True, flush_every: int = 1000
    ) -> None:
        self.path = Path(path)
        self.writer = writer
        self.flush_every = max(1, int(flush_every))
        self.samples = self.path / "samples"
        self.checkpoints = self.path / "checkpoints"
        if writer:
            for d in (self.path, self.samples, self.checkpoints):
                d.mkdir(parents=True, exist_ok=True)
        self._pending: list[str] = []
        # The latest records, for observers that follow the log (TensorBoard); bounded,
        # so a long run's memory stays flat. ``logged`` counts every record of this run
        # object, so a reader keeps its place with one integer.
        self.recent: deque[dict[str, Any]] = deque(maxlen=RECENT_RECORDS)
        self.logged = 0
        self._reset_columns()

    def _reset_columns(self) -> None:
        self._cols: dict[str, array] = {k: array("d") for k in ("step", *CURVE_KEYS)}
        self._every = 1  # keep every this-many-th logged step for the curves
        self._seen = 0
        self._sum_epoch = -1
        self._sums = {k: 0.0 for k in CURVE_KEYS}
        self._counts = {k: 0 for k in CURVE_KEYS}

    # ------------------------------------------------------------ config and JSON
    @property
    def config_path(self) -> Path:
        """The run's ``config.json``."""
        return self.path / CONFIG

    def write_config(self, config: dict[str, Any]) -> None:
        """Write ``config.json`` (sorted keys, indented)."""
        self.write_json(CONFIG, config, sort_keys=True)

    def read_config(self) -> dict[str, Any]:
        """The run's ``config.json`` as a dict."""
        return read_config(self.path)

    def write_json(self, name: str, doc: Any, sort_keys: bool = False) -> Path:
        """Write ``RUN/name`` as indented JSON, atomically; returns its path."""
        return self.write_text(name, json.dumps(doc, indent=2, sort_keys=sort_keys) + "\n")

    def write_text(self, name: str, text: str) -> Path:
        """Write ``RUN/name`` (a path relative to the run folder), atomically; returns it.
        The way for code attached to a run (callbacks) to add its own files."""
        path = self.path / name
        if self.writer:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_open(path, "w") as f:
                f.write(text)
        return path

    def write_status(self, doc: dict[str, Any]) -> None:
        """Write ``status.json``, the run's last word: how and where training stopped."""
        self.write_json(STATUS, doc)
        fault_point("after_status")

    # ------------------------------------------------------------ metrics
    @property
    def metrics_path(self) -> Path:
        """The run's metrics log (one JSON record a line)."""
        return self.path / METRICS

    def log(self, record: dict[str, Any]) -> None:
        """Queue one metrics record (appended by :meth:`flush_log`)."""
        self._pending.append(json.dumps(record, allow_nan=True))
        self.recent.append(record)
        self.logged += 1
        if record.get("kind") == "step":
            self._column(record)
        if len(self._pending) >= self.flush_every:
            self.flush_log()

    def _column(self, r: dict[str, Any]) -> None:
        """Add a step record to the epoch's sums and (thinned) to the plotted columns.

        At most 2 * :data:`CURVE_POINTS` points are kept: when full, every other one is
        dropped and from then on only every ``2k``-th step is kept, so memory stays
        bounded however long the run."""
        epoch = int(r.get("epoch", 0))
        if epoch != self._sum_epoch:
            self._sum_epoch = epoch
            self._sums = {k: 0.0 for k in CURVE_KEYS}
            self._counts = {k: 0 for k in CURVE_KEYS}
        for k in CURVE_KEYS:
            v = r.get(k)
            if v is not None and math.isfinite(v):
                self._sums[k] += float(v)
                self._counts[k] += 1
        self._seen += 1
        if (self._seen - 1) % self._every:
            return
        self._cols["step"].append(float(r["step"]))
        for k in CURVE_KEYS:
            v = r.get(k)
            self._cols[k].append(math.nan if v is None else float(v))
        if len(self._cols["step"]) >= 2 * CURVE_POINTS:
            self._cols = {k: array("d", v[::2]) for k, v in self._cols.items()}
            self._every *= 2

    def flush_log(self) -> None:
        """Append the queued records to ``metrics.jsonl`` and make them durable."""
        if self._pending and self.writer:
            with open(self.metrics_path, "a", encoding="utf-8") as f:
                f.write("\n".join(self._pending) + "\n")
                f.flush()
                os.fsync(f.fileno())
        self._pending.clear()
        fault_point("after_log")

    flush = flush_log  # the earlier name

    def resume_log(self, upto_step: int, upto_epoch: int) -> None:
        """Cut ``metrics.jsonl`` back to what a checkpoint at ``(upto_step, upto_epoch)``
        covers (later rows are redone on resume; a line cut short by a kill is dropped)
        and reload the plotted columns from it."""
        self._pending.clear()
        self._reset_columns()
        if not self.metrics_path.exists():
            return
        keep = []
        with open(self.metrics_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if not isinstance(r, dict):
                    continue
                if r.get("kind") == "epoch" and r.get("epoch", 0) > upto_epoch:
                    continue
                if r.get("step", 0) > upto_step:
                    continue
                keep.append(line if line.endswith("\n") else line + "\n")
                if r.get("kind") == "step":
                    self._column(r)
        if self.writer:
            with atomic_open(self.metrics_path, "w") as out:
                out.writelines(keep)

    def epoch_means(self, epoch: int) -> dict[str, float | None]:
        """The mean of each plotted value over the logged steps of ``epoch``, the latest
        epoch logged (None where there is none)."""
        same = epoch == self._sum_epoch
        return {
            k: self._sums[k] / self._counts[k] if same and self._counts[k] else None
            for k in CURVE_KEYS
        }

    # ------------------------------------------------------------ pictures
    def sample_path(self, epoch: int) -> Path:
        """The sample grid image of ``epoch``."""
        return self.samples / f"epoch_{epoch:03d}.png"

    def save_samples(
        self, epoch: int, samples: np.ndarray, real: np.ndarray | None, step: int | None = None
    ) -> Path:
        """Save the sample picture of ``epoch``: an image grid for images in [-1, 1]
        (``(N, C, H, W)``), a scatter plot for 2-D points ``(N, 2)``. With ``step``,
        the picture of a run that stopped inside an epoch (``samples/step_XXXXXX.png``)."""
        path = self.sample_path(epoch) if step is None else self.samples / f"step_{step:06d}.png"
        if self.writer:
            if samples.ndim == 2:
                title = f"epoch {epoch}" if step is None else f"step {step}"
                save_scatter(path, samples, real, title=title)
            else:
                save_png(path, image_grid((samples + 1.0) * 0.5))
        fault_point("after_samples")
        return path

    def save_curves(self) -> None:
        """Write ``curves.png`` from the logged steps so far."""
        if self.writer:
            cols = {k: np.frombuffer(v, float) for k, v in self._cols.items()}
            plot_curves(self.path / "curves.png", cols["step"], cols)
        fault_point("after_curves")

    # ------------------------------------------------------------ checkpoints
    @property
    def last_checkpoint(self) -> Path:
        """The newest checkpoint, ``checkpoints/last.safetensors``."""
        return self.checkpoints / LAST

    def epoch_checkpoint(self, epoch: int) -> Path:
        """The checkpoint kept for ``epoch``."""
        return self.checkpoints / f"epoch_{epoch:03d}.safetensors"

    def write_checkpoint(self, state: dict[str, Any], path: Path | None = None) -> Path:
        """Save a trainer state with its digest (default ``checkpoints/last.safetensors``)."""
        from .checkpoint import save_checkpoint

        path = self.last_checkpoint if path is None else path
        if self.writer:
            save_checkpoint(state, path)
        fault_point("after_checkpoint")
        return path


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
