"""``TensorBoardWriter``: a run's scalars and sample pictures as TensorBoard event files.

Attach it to a :class:`~tapegrad.gan.Trainer` like :class:`~tapegrad.explain.RunObserver`
(``callbacks=[RunObserver(), TensorBoardWriter()]``; ``tapegrad train --tensorboard``
does this) and point TensorBoard at the folder (``tensorboard --logdir RUN/tensorboard``).
It writes, against the step:

* each logged step record: ``loss/D``, ``loss/G``, ``D_output/real`` (mean D(x)),
  ``D_output/fake`` (mean D(G(z)));
* each health record the run's log gains (put the observer first in ``callbacks``):
  ``grad_norm/G``, ``grad_norm/D``, ``coverage/covered``, ``coverage/effective``,
  ``coverage/kl_to_uniform``;
* the fixed-noise samples every ``image_every`` steps and at the end: ``samples``
  (an image grid, or a scatter plot of 2-D points).

Needs the optional ``tensorboardX`` package (``pip install 'tapegrad[tensorboard]'``).
:func:`read_events` reads the files back (scalars and image sizes) without TensorBoard.
"""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TensorBoardWriter", "read_events", "STEP_TAGS", "HEALTH_TAGS"]

STEP_TAGS = {
    "d_loss": "loss/D",
    "g_loss": "loss/G",
    "d_real": "D_output/real",
    "d_fake": "D_output/fake",
}
HEALTH_TAGS = {"g_grad_norm": "grad_norm/G", "d_grad_norm": "grad_norm/D"}
COVERAGE_TAGS = ("covered", "effective", "kl_to_uniform")


def _summary_writer(logdir: Path) -> Any:
    try:
        from tensorboardX import SummaryWriter  # type: ignore[import-untyped]
    except ImportError:
        raise ImportError(
            "TensorBoard files need the tensorboardX package: pip install 'tapegrad[tensorboard]'"
        ) from None
    return SummaryWriter(logdir=str(logdir), flush_secs=10)


class TensorBoardWriter:
    """Mirror a training run into TensorBoard event files (see the module docstring).

    Args:
        logdir: the event files' folder (default ``RUN/tensorboard`` of the trainer's
            run folder; required for a trainer without one).
        image_every: steps between sample pictures (0: only at the end).
    """

    def __init__(self, logdir: str | os.PathLike[str] | None = None, image_every: int = 500):
        if image_every < 0:
            raise ValueError(f"TensorBoardWriter: image_every must be >= 0, got {image_every}")
        self.logdir = None if logdir is None else Path(logdir)
        self.image_every = int(image_every)
        self.writer: Any = None
        self._next = 0  # RunDir.logged when the run's records were last looked at

    def _open(self, trainer: Any) -> Any:
        if self.writer is None:
            if self.logdir is None:
                if trainer.run is None:
                    raise ValueError(
                        "TensorBoardWriter: no logdir and the trainer has no run folder"
                    )
                self.logdir = trainer.run.path / "tensorboard"
            self.writer = _summary_writer(self.logdir)
            # a resumed run's earlier records are in the event files already
            self._next = trainer.run.logged if trainer.run is not None else 0
        return self.writer

    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        """Called by the trainer with each logged step record."""
        w = self._open(trainer)
        for key, tag in STEP_TAGS.items():
            v = record.get(key)
            if v is not None:
                w.add_scalar(tag, float(v), record["step"])
        self._health(trainer)
        if self.image_every and trainer.step % self.image_every == 0:
            self._image(trainer)

    def on_train_end(self, trainer: Any, status: str, error: BaseException | None = None) -> None:
        """Called when training stops: the last health rows and samples, then close."""
        self._open(trainer)
        self._health(trainer)
        if error is None:
            self._image(trainer)
        self.close()

    def close(self) -> None:
        """Flush and close the event file (a later call opens a new one)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _health(self, trainer: Any) -> None:
        if trainer.run is None:
            return
        run = trainer.run
        k = min(run.logged - self._next, len(run.recent))
        new = list(run.recent)[len(run.recent) - k :] if k > 0 else []
        self._next = run.logged
        for r in new:
            if r.get("kind") != "health":
                continue
            for key, tag in HEALTH_TAGS.items():
                if r.get(key) is not None:
                    self.writer.add_scalar(tag, float(r[key]), r["step"])
            cov = r.get("coverage")
            for key in COVERAGE_TAGS if cov else ():
                self.writer.add_scalar(f"coverage/{key}", float(cov[key]), r["step"])

    def _image(self, trainer: Any) -> None:
        x = trainer.generate(z=trainer.fixed_z)
        if x.ndim == 2:
            pixels = _scatter_pixels(x, trainer.data[: len(x)], trainer.step)
        else:
            from ..gan.runs import image_grid

            pixels = image_grid((x + 1.0) * 0.5)
        fmt = "HW" if pixels.ndim == 2 else "HWC"
        self.writer.add_image("samples", pixels, trainer.step, dataformats=fmt)


def _scatter_pixels(fake: np.ndarray, real: np.ndarray, step: int) -> np.ndarray:
    """The run folder's scatter picture of 2-D points as uint8 ``(H, W, 3)``."""
    import tempfile

    from PIL import Image

    from ..gan.runs import save_scatter

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "scatter.png"
        save_scatter(path, fake, real, title=f"step {step}")
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))


def read_events(logdir: str | os.PathLike[str]) -> dict[str, list[tuple[int, Any]]]:
    """Read the event files in ``logdir`` back: ``{tag: [(step, value), ...]}``.

    Scalars give their float value, images their PNG decoded to a uint8 array. The
    files are TFRecord framed (length, CRC, payload, CRC) ``Event`` protocol buffers,
    parsed with tensorboardX's generated classes.
    """
    from PIL import Image
    from tensorboardX.proto import event_pb2  # type: ignore[import-untyped]

    out: dict[str, list[tuple[int, Any]]] = {}
    files = sorted(Path(logdir).glob("events.out.tfevents.*"))
    if not files:
        raise FileNotFoundError(f"no TensorBoard event files in {logdir}")
    for path in files:
        data = path.read_bytes()
        pos = 0
        while pos < len(data):
            if pos + 12 > len(data):
                raise ValueError(f"{path}: truncated record header at byte {pos}")
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            payload = data[pos + 12 : pos + 12 + length]
            if len(payload) != length:
                raise ValueError(f"{path}: truncated record at byte {pos}")
            pos += 12 + length + 4
            event = event_pb2.Event.FromString(payload)
            for v in event.summary.value:
                if v.HasField("image"):
                    with Image.open(io.BytesIO(v.image.encoded_image_string)) as im:
                        value: Any = np.asarray(im)
                else:
                    value = float(v.simple_value)
                out.setdefault(v.tag, []).append((int(event.step), value))
    return out
