"""``Trainer``: the GAN training loop, with exact resume and crash-safe run folders.

Each step takes one real batch and makes one discriminator (critic) update; every
``n_critic``-th step is followed by one generator update. The D step sees the fakes
detached; the G step runs a fresh forward pass of the just-updated, frozen D. The
:class:`~tapegrad.gan.losses.GANLoss` supplies both objectives with their penalty
(WGAN-GP, R1) and D's constraint (weight clipping); two optimizers (Adam, SGD or
RMSprop) with their own learning rates (TTUR), an optional linear anneal of both
rates at the end (:mod:`~tapegrad.gan.schedule`), optional gradient-norm clipping,
and an optional EMA of G's weights for sampling.

Every generator's state is checkpointed: ``2N`` steps give bit for bit the weights of
``N``, save, load, ``N`` more. Under ``mpiexec`` ranks train data-parallel.

Run folders (:class:`~tapegrad.gan.runs.RunDir`, which makes every write): after
each epoch, and when training stops, the log is appended and synced, then the
checkpoint, the sample picture and ``curves.png`` (at the end ``status.json``) are
written; a process killed at any moment leaves a checkpoint and a log reaching at
least as far, which loading cuts back to it (docs/reliability.md).

A non-finite loss (before its gradient is applied), parameter, EMA or optimizer state
raises :class:`TrainingDiverged` naming the step and tensor; the last checkpoint stays.
Ctrl-C and SIGTERM stop after the step and checkpoint; a second stops at once.

Callbacks (``callbacks``, :meth:`Trainer.add_callback`): a function gets
``fn(trainer, record)`` for every logged record (``"step"`` every ``log_every`` steps,
``"epoch"`` after each epoch); an object may instead have ``on_log(trainer, record)``
(``"step"`` records) and ``on_train_end(trainer, status, error)`` (when
:meth:`Trainer.train` returns, not after a stop at once; or raises
:class:`TrainingDiverged`, ``status`` ``"diverged"``). They may write files through
``trainer.run`` (a RunDir; None without a run folder).
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import random as _random
from ..autograd.grad_mode import no_grad
from ..data.files import to_float32
from ..distributed import training as _dp
from ..nn.module import Module
from ..nn.utils.clip_grad import clip_grad_norm_, get_total_norm
from ..optim.adam import Adam
from ..optim.optimizer import Optimizer
from ..optim.rmsprop import RMSprop
from ..optim.sgd import SGD
from ..tensor import Tensor, _wrap
from ..utils.data.dataloader import DataLoader
from ..utils.data.dataset import TensorDataset
from .checkpoint import first_non_finite, load_checkpoint, save_checkpoint
from .losses import GANLoss, get_loss
from .models.conditional import balanced_labels
from .runs import RunDir
from .schedule import check_anneal, set_annealed_rates

__all__ = ["Trainer", "TrainingDiverged", "scale_data", "make_optimizer", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "tapegrad.gan.Trainer/1"
# status.json speaks to users: no internal parameter names
_STATUS_WORDS = {"max_steps": "reached the step target"}
# a function fn(trainer, record), or an object with on_log / on_train_end (module docstring)
Callback = Any


class TrainingDiverged(FloatingPointError):
    """A loss or a saved tensor became NaN or infinite; the message names the step and
    the loss or tensor."""


def scale_data(x: Any) -> np.ndarray:
    """Training data as a new float32 array, images scaled to [-1, 1].

    uint8 arrays map 0..255 to [-1, 1]. Float images (``ndim >= 3``) with values in
    [0, 1] map to [-1, 1]; ones already reaching below 0 are kept as they are.
    Vectors ``(N, D)`` of another dtype (2-D points) are kept unscaled. The
    conversion runs in chunks and in place, so a memory-mapped uint8 file of ``B``
    bytes needs about ``4B`` (the result) plus a few MB.
    """
    a = x._array if isinstance(x, Tensor) else x
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    if a.ndim < 2 or a.shape[0] == 0:
        raise ValueError(f"Trainer: data must be a non-empty batch (N, ...), got shape {a.shape}")
    if a.dtype.kind not in "fiub":
        raise TypeError(f"Trainer: data must be numeric, got dtype {a.dtype}")
    out = to_float32(a)
    if a.dtype == np.uint8:
        out /= np.float32(127.5)
        out -= np.float32(1.0)
        return out
    if out.ndim >= 3 and out.min() >= 0.0:
        if out.max() > 1.0:
            raise ValueError(
                f"Trainer: float images must be in [0, 1] or [-1, 1], got range "
                f"[{out.min()}, {out.max()}]"
            )
        out *= np.float32(2.0)
        out -= np.float32(1.0)
    return out


def make_optimizer(
    name: str, params: Any, lr: float, betas: Sequence[float], momentum: float = 0.0
) -> Optimizer:
    """``"adam"`` (with ``betas``), ``"sgd"`` or ``"rmsprop"`` (with ``momentum``)."""
    if name == "adam":
        return Adam(params, lr=lr, betas=(float(betas[0]), float(betas[1])))
    if name == "sgd":
        return SGD(params, lr=lr, momentum=momentum)
    if name == "rmsprop":
        return RMSprop(params, lr=lr, momentum=momentum)
    raise ValueError(f"unknown optimizer {name!r}; valid: adam, sgd, rmsprop")


class Trainer:
    """Train a generator ``G`` against a discriminator ``D``.

    Args:
        G: a generator (``sample_z``-style noise of size ``z_dim`` in, samples out);
            a conditional one (with ``n_classes``) is called ``G(z, y)``.
        D: a discriminator returning raw outputs ``(N, 1)``; ``D(x, y)`` if conditional.
        loss: a :class:`GANLoss` or its name (see :func:`~tapegrad.gan.get_loss`).
        data: the training samples ``(N, ...)`` (NumPy array or Tensor), see
            :func:`scale_data`.
        z_dim: noise size (default ``G.z_dim``).
        batch_size: real samples per step (incomplete last batches are dropped).
        lr_g, lr_d, betas_g, betas_d: the two optimizers' settings (TTUR); betas for Adam.
        n_critic: D steps per G step.
        ema_decay: keep an EMA of G's weights with this decay (e.g. 0.999); samples,
            :meth:`generate` and checkpoints' ``ema`` use it.
        grad_clip: clip each model's gradient norm to this value.
        anneal: both rates fall linearly to 0 over this last fraction of the steps.
        seed: seeds the trainer's noise, the data order and the fixed sample noise.
        out_dir: run folder (see :mod:`tapegrad.gan.runs`); None writes nothing.
        labels: int labels ``(N,)`` for conditional models.
        n_samples: images in the fixed-noise grid (conditional: with ``n_classes**2``
            images, row r of the grid is label r; see :meth:`generate`).
        log_every: log a metrics record every this many steps.
        keep_epoch_checkpoints: also keep ``checkpoints/epoch_XXX.safetensors``.
        quiet: no progress bar.
        config: extra entries for ``config.json`` (model and data descriptions).
        optimizer: ``"adam"``, ``"sgd"`` or ``"rmsprop"`` (see :func:`make_optimizer`).
        momentum: SGD's or RMSprop's momentum.
        callbacks: functions ``fn(trainer, record)`` or objects with ``on_log`` and
            ``on_train_end``, called once per logging interval (see the module docstring).
        writer: False: this process writes no file of the run folder (the other
            ranks of a distributed run).
    """

    def __init__(
        self,
        G: Module,
        D: Module,
        loss: GANLoss | str,
        data: Any,
        z_dim: int | None = None,
        batch_size: int = 64,
        lr_g: float = 2e-4,
        lr_d: float = 2e-4,
        betas_g: tuple[float, float] = (0.5, 0.999),
        betas_d: tuple[float, float] = (0.5, 0.999),
        n_critic: int = 1,
        ema_decay: float | None = None,
        grad_clip: float | None = None,
        anneal: float = 0.0,
        seed: int = 0,
        out_dir: str | Path | None = None,
        labels: Any = None,
        n_samples: int = 64,
        log_every: int = 1,
        keep_epoch_checkpoints: bool = False,
        quiet: bool = True,
        config: dict[str, Any] | None = None,
        optimizer: str = "adam",
        momentum: float = 0.0,
        callbacks: Sequence[Callback] = (),
        writer: bool = True,
    ) -> None:
        # Under mpiexec: rank 0's weights everywhere, gradients averaged in backward
        # (BatchNorm becomes SyncBatchNorm); one process: the models themselves.
        self.G, self.D = _dp.data_parallel(G), _dp.data_parallel(D)
        self.loss = get_loss(loss) if isinstance(loss, str) else loss
        self.z_dim = int(z_dim if z_dim is not None else G.z_dim)
        if n_critic < 1:
            raise ValueError(f"Trainer: n_critic must be >= 1, got {n_critic}")
        if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"Trainer: ema_decay must be in [0, 1), got {ema_decay}")
        self.n_critic = int(n_critic)
        self.anneal, self._lr0 = check_anneal(anneal), (float(lr_g), float(lr_d))
        self.ema_decay = ema_decay
        self.grad_clip = grad_clip
        self.seed = int(seed)
        self.log_every = max(1, int(log_every))
        self.keep_epoch_checkpoints = keep_epoch_checkpoints
        self.quiet = quiet
        self.callbacks: list[Callback] = list(callbacks)

        self.data = scale_data(data)
        self.conditional = hasattr(G, "n_classes")
        arrays = [self.data]
        if self.conditional:
            if labels is None:
                raise ValueError("Trainer: a conditional model needs labels for the data")
            lab = np.asarray(labels._array if isinstance(labels, Tensor) else labels, np.int64)
            if lab.shape != (self.data.shape[0],):
                raise ValueError(
                    f"Trainer: labels must have shape ({self.data.shape[0]},), got {lab.shape}"
                )
            arrays.append(lab)
        if self.data.shape[0] < batch_size:
            raise ValueError(
                f"Trainer: the data has {self.data.shape[0]} samples, fewer than one batch "
                f"of {batch_size}"
            )
        self.batch_size = int(batch_size)
        _dp.check_batch_size(self.batch_size)
        self.loader = DataLoader(
            TensorDataset(*arrays),
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=True,
            generator=np.random.Generator(np.random.PCG64([self.seed, 1])),
        )
        self.rng = np.random.Generator(np.random.PCG64([self.seed, 2]))
        fixed = np.random.Generator(np.random.PCG64([self.seed, 3]))
        dtype = next(G.parameters()).dtype
        self.fixed_z = fixed.standard_normal((n_samples, self.z_dim)).astype(dtype)

        self.opt_g = make_optimizer(optimizer, G.parameters(), lr_g, betas_g, momentum)
        self.opt_d = make_optimizer(optimizer, D.parameters(), lr_d, betas_d, momentum)
        self.ema: dict[str, np.ndarray] | None = None
        if ema_decay is not None:
            self.ema = {k: v.copy() for k, v in _ema_arrays(G)}
        self.step = 0
        self.epoch = 0
        self._stop = False
        self._signal_raises = False

        self.hparams = {
            "loss": getattr(self.loss, "name", type(self.loss).__name__),
            "z_dim": self.z_dim,
            "batch_size": self.batch_size,
            "optimizer": optimizer,
            "lr_g": lr_g,
            "lr_d": lr_d,
            "betas_g": list(betas_g),
            "betas_d": list(betas_d),
            "n_critic": self.n_critic,
            "ema_decay": ema_decay,
            "grad_clip": grad_clip,
            "anneal": self.anneal,
            "seed": self.seed,
            "n_samples": n_samples,
            "data_shape": list(self.data.shape),
        }
        if optimizer != "adam":
            self.hparams["momentum"] = momentum
        if getattr(self.loss, "penalty", None) == "r1":
            self.hparams["r1"] = self.loss.lambda_
        self.config = {**(config or {}), "trainer": self.hparams}
        writer = writer and _dp.is_writer()  # under mpiexec only rank 0 writes
        self.run = RunDir(out_dir, writer=writer) if out_dir is not None else None
        if self.run is not None:
            self.run.write_config(self.config)

    def add_callback(self, fn: Callback) -> None:
        """Attach a callback (a function or an object, see the module docstring)."""
        self.callbacks.append(fn)

    # ------------------------------------------------------------ model calls
    def _G(self, z: Tensor, y: Any) -> Tensor:
        return self.G(z, y) if self.conditional else self.G(z)

    def _noise(self, n: int) -> tuple[Tensor, Any]:
        z = self.rng.standard_normal((n, self.z_dim)).astype(self.fixed_z.dtype)
        y = self.rng.integers(0, self.G.n_classes, n) if self.conditional else None
        return _wrap(z), y

    def _mean_out(self, out: Tensor) -> float:
        """Mean D output for the log: sigmoid of the logits for the probabilistic losses."""
        a = out._array.astype(np.float64)
        if getattr(self.loss, "logits", False):
            a = 0.5 * (1.0 + np.tanh(0.5 * a))  # sigmoid without overflow warnings
        return float(a.mean())

    def _finite(self, value: float, what: str) -> None:
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"training diverged at step {self.step + 1} (epoch {self.epoch + 1}): "
                f"the {what} is {value}; the last good checkpoint is kept"
            )

    # ------------------------------------------------------------ one step
    def train_step(self, batch: tuple[Tensor, ...]) -> dict[str, Any]:
        """One D update on ``batch`` (plus a G update every ``n_critic``-th step).

        Returns the step's record: ``d_loss``, ``g_loss`` (None without a G update),
        ``d_real`` = mean D(x) and ``d_fake`` = mean D(G(z)) before the D update.
        """
        real = batch[0]
        y_real = batch[1] if self.conditional else None
        n = real.shape[0]
        g_step = (self.step + 1) % self.n_critic == 0
        z, y_fake = self._noise(n)
        # Noise is drawn for the global batch on every rank, then each rank keeps its
        # slice, so P ranks see exactly the samples of one process.
        real, y_real, z, y_fake = _dp.shard(real, y_real, z, y_fake)
        if g_step:
            fake = self._G(z, y_fake)  # graph kept for the G step below
        else:
            with no_grad():
                fake = self._G(z, y_fake)
        loss_d, out_real, out_fake = self.loss.discriminator_loss(
            self.D, real, fake.detach(), y_real, y_fake, generator=self.rng
        )
        d_value = _dp.mean_over_ranks(float(loss_d.item()))
        self._finite(d_value, "D loss")
        self.opt_d.zero_grad()
        loss_d.backward()
        if self.grad_clip is not None:
            clip_grad_norm_(list(self.D.parameters()), self.grad_clip)
        self.opt_d.step()
        self.loss.after_discriminator_step(self.D)
        record: dict[str, Any] = {
            "d_loss": d_value,
            "g_loss": None,
            "d_real": self._mean_out(out_real),
            "d_fake": self._mean_out(out_fake),
        }
        if g_step:
            record["g_loss"] = self._g_step(fake, y_fake)
        return record

    def _g_step(self, fake: Tensor, y_fake: Any) -> float:
        d_params = [p for p in self.D.parameters() if p.requires_grad]
        for p in d_params:  # only G's gradients are needed
            p.requires_grad_(False)
        try:
            loss_g = self.loss.generator_loss(self.D, fake, y_fake)
        finally:
            for p in d_params:
                p.requires_grad_(True)
        g_value = _dp.mean_over_ranks(float(loss_g.item()))
        self._finite(g_value, "G loss")
        self.opt_g.zero_grad()
        loss_g.backward()
        if self.grad_clip is not None:
            clip_grad_norm_(list(self.G.parameters()), self.grad_clip)
        self.opt_g.step()
        if self.ema is not None:
            d = np.float32(self.ema_decay)
            for k, v in _ema_arrays(self.G):
                e = self.ema.get(k)
                if e is None:  # a checkpoint from before buffers were averaged
                    self.ema[k] = v.copy()
                    continue
                e *= d.astype(e.dtype)
                e += (1 - d).astype(e.dtype) * v
        return g_value

    # ------------------------------------------------------------ the loop
    def train(self, epochs: int, max_steps: int | None = None) -> str:
        """Train until ``epochs`` epochs are complete (or ``max_steps`` steps in all).

        Continues from the current ``step``/``epoch`` (after :meth:`load_checkpoint`,
        mid-epoch). After each epoch: the metrics log, a checkpoint, a sample picture
        and ``curves.png``; at the end (or on ``max_steps``, Ctrl-C or SIGTERM) the
        same, then ``status.json``.

        Returns ``"done"``, ``"max_steps"``, ``"interrupted"`` (a checkpoint of the
        current step was written) or ``"aborted"`` (stopped at once by a second signal:
        no checkpoint was written, the last one stays).
        Raises :class:`TrainingDiverged` on a NaN or infinite loss or saved tensor.
        """
        # re-arm the loader: a loop left mid-epoch continues where it stopped
        self.loader.load_state_dict(self.loader.state_dict())
        self.G.train()
        self.D.train()
        self._stop = False
        self._signal_raises = False
        if self.run is not None and self.step == 0:
            self.run.resume_log(0, 0)  # a fresh start: rows of an earlier attempt go
        total = epochs * len(self.loader)
        if max_steps is not None:
            total = min(total, max_steps)
        bar = self._progress(total)
        start_step = self.step
        old_handlers = self._install_signals()
        status = "done"
        try:
            try:
                status = self._loop(epochs, max_steps, total, bar)
            except TrainingDiverged as e:
                self._train_end("diverged", e)
                raise
            except KeyboardInterrupt:
                # a second signal, or SIGINT outside the main thread: maybe mid-step
                self._flush_log()
                return "aborted"
            finally:
                if bar is not None:
                    bar.close()
            # an epoch's end has just written everything; a stop inside an epoch has not
            mid_epoch = self.loader.state_dict()["batches_done"] % len(self.loader) != 0
            unsaved = self.run is not None and not self.run.last_checkpoint.exists()
            if (self.step != start_step and mid_epoch) or unsaved:
                self._checkpoint()
            else:
                mid_epoch = False
            self._signal_raises = True  # from here on a signal skips the pictures
            try:
                if self.run is not None:
                    if mid_epoch:  # no epoch picture shows these weights yet
                        samples = self._fixed_samples()
                        self.run.save_samples(self.epoch, samples, self._real(), step=self.step)
                        self.run.save_curves()
                    self.run.write_status(
                        {"status": _STATUS_WORDS.get(status, status),
                         "step": self.step, "epoch": self.epoch,
                         "epochs": epochs, "steps": max_steps}
                    )  # fmt: skip
            except KeyboardInterrupt:
                status = "interrupted"
        finally:
            self._restore_signals(old_handlers)
        self._train_end(status, None)
        return status

    def _loop(self, epochs: int, max_steps: int | None, total: int, bar: Any) -> str:
        while self.epoch < epochs:
            if max_steps is not None and self.step >= max_steps:
                return "max_steps"
            t0 = time.perf_counter()
            for batch in self.loader:
                if self.anneal:
                    set_annealed_rates(self, total)
                rec = self.train_step(batch)
                self.step += 1
                if self.step % self.log_every == 0:
                    norms = {"g_grad_norm": _norm(self.G), "d_grad_norm": _norm(self.D)}
                    self._log(
                        {"kind": "step", "step": self.step, "epoch": self.epoch + 1, **rec, **norms}
                    )
                if bar is not None:
                    bar.update(1)
                    if self.step % 10 == 0 or self.step == total:
                        bar.set_postfix(_postfix(rec), refresh=False)
                if self._stop or (max_steps is not None and self.step >= max_steps):
                    break
            if self.loader.state_dict()["batches_done"] >= len(self.loader):
                self.epoch += 1
                self._end_of_epoch(time.perf_counter() - t0)
            if self._stop:
                return "interrupted"
        if max_steps is not None and self.step >= max_steps and self.epoch < epochs:
            return "max_steps"
        return "done"

    def _progress(self, total: int) -> Any:
        if self.quiet or not _dp.is_writer():
            return None
        from tqdm import tqdm

        return tqdm(total=total, initial=min(self.step, total), unit="it", dynamic_ncols=True)

    def _install_signals(self) -> list[tuple[int, Any]] | None:
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum: int, frame: Any) -> None:
            if self._stop or self._signal_raises:  # a second signal stops at once
                raise KeyboardInterrupt
            self._stop = True

        return [(s, signal.signal(s, handler)) for s in (signal.SIGINT, signal.SIGTERM)]

    @staticmethod
    def _restore_signals(old: list[tuple[int, Any]] | None) -> None:
        for s, h in old or ():
            signal.signal(s, h)

    def _log(self, record: dict[str, Any]) -> None:
        if self.run is not None:
            self.run.log(record)
        for cb in self.callbacks:
            if hasattr(cb, "on_log"):
                if record["kind"] == "step":
                    cb.on_log(self, record)
            else:
                cb(self, record)

    def _train_end(self, status: str, error: BaseException | None) -> None:
        for cb in self.callbacks:
            if hasattr(cb, "on_train_end"):
                cb.on_train_end(self, status, error)

    def _flush_log(self) -> None:
        if self.run is not None:
            self.run.flush_log()

    def _real(self) -> np.ndarray | None:
        return self.data[: len(self.fixed_z)] if self.data.ndim == 2 else None

    def _fixed_samples(self) -> np.ndarray:
        return self.generate(z=self.fixed_z)

    def _end_of_epoch(self, seconds: float) -> None:
        summary: dict[str, Any] = {"kind": "epoch", "epoch": self.epoch, "step": self.step}
        if self.run is not None:
            summary.update(self.run.epoch_means(self.epoch))
            summary["seconds"] = round(seconds, 3)
            summary["samples"] = str(self.run.sample_path(self.epoch).relative_to(self.run.path))
        self._log(summary)
        if self.run is None:
            return
        self._checkpoint()
        if self.keep_epoch_checkpoints:
            self.run.write_checkpoint(self.state_dict(), self.run.epoch_checkpoint(self.epoch))
        self.run.save_samples(self.epoch, self._fixed_samples(), self._real())
        self.run.save_curves()

    def _checkpoint(self) -> None:
        """The log first, then the checkpoint (see the module docstring)."""
        if self.run is None:
            return
        self.run.flush_log()
        self.run.write_checkpoint(self._checked_state())

    def _checked_state(self) -> dict[str, Any]:
        state = self.state_dict()
        bad = first_non_finite(state)
        if bad is not None:
            raise TrainingDiverged(
                f"training diverged by step {self.step} (epoch {self.epoch + 1}): {bad} holds "
                f"NaN or infinite values; it was not saved, the last good checkpoint is kept"
            )
        return state

    # ------------------------------------------------------------ sampling
    def generate(
        self, n: int | None = None, z: Any = None, labels: Any = None, use_ema: bool = True
    ) -> np.ndarray:
        """Samples from G in eval mode (EMA weights when kept), as a NumPy array.

        ``z`` ``(n, z_dim)`` is drawn from a generator seeded by ``seed`` when not given
        (training's noise is not touched); ``labels`` default to :func:`balanced_labels`.
        Returns ``(n, *sample_shape)`` in G's range.
        """
        if z is None:
            gen = np.random.Generator(np.random.PCG64([self.seed, 4]))
            z = gen.standard_normal((int(n), self.z_dim)).astype(self.fixed_z.dtype)  # type: ignore[arg-type]  # callers give n or z
        z = np.asarray(z)
        if self.conditional and labels is None:
            labels = balanced_labels(z.shape[0], self.G.n_classes)
        return generate(self.G, z, labels, self.ema if use_ema else None)

    # ------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly (see the module docstring)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "ema": None if self.ema is None else {k: v.copy() for k, v in self.ema.items()},
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": self.rng.bit_generator.state,
            "global_rng": _random.get_rng_state(),
            "loader": self.loader.state_dict(),
            "fixed_z": self.fixed_z.copy(),
            "step": self.step,
            "epoch": self.epoch,
            "config": json.dumps(self.config, sort_keys=True),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (models, optimizers, EMA, RNGs, position); the run
        folder's metrics log is cut back to the state's step."""
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            fmt = state.get("format") if isinstance(state, dict) else None
            raise ValueError(
                f"Trainer: not a GAN trainer checkpoint (format {fmt!r}, "
                f"expected {CHECKPOINT_FORMAT!r})"
            )
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.ema is not None:
            if state.get("ema") is None:
                raise ValueError("Trainer: this trainer keeps an EMA but the checkpoint has none")
            self.ema = {k: np.array(_array(v), copy=True) for k, v in state["ema"].items()}
        self.rng.bit_generator.state = state["rng"]
        _random.set_rng_state(state["global_rng"])
        self.loader.load_state_dict(state["loader"])
        self.fixed_z = np.array(_array(state["fixed_z"]), copy=True)
        self.step = int(state["step"])
        self.epoch = int(state["epoch"])
        if self.run is not None:
            self.run.resume_log(self.step, self.epoch)

    def save_checkpoint(self, path: str | Path | None = None) -> Path | None:
        """Write :meth:`state_dict` with its digest to ``path`` (default the run's
        ``last.safetensors``, after the metrics log); TrainingDiverged if a tensor is
        not finite."""
        if path is None:
            if self.run is None:
                return None
            self._checkpoint()
            return self.run.last_checkpoint
        save_checkpoint(self._checked_state(), path)
        return Path(path)

    def load_checkpoint(self, path: str | Path | None = None) -> None:
        """Load and verify a checkpoint file (default the run's ``last.safetensors``);
        :class:`~tapegrad.gan.checkpoint.CheckpointError` naming a damaged file."""
        if path is None:
            if self.run is None:
                raise ValueError("Trainer.load_checkpoint: no path and no run folder")
            path = self.run.last_checkpoint
        self.load_state_dict(load_checkpoint(path))


def _array(v: Any) -> np.ndarray:
    return np.asarray(v._array if isinstance(v, Tensor) else v)


def _postfix(rec: dict[str, Any]) -> dict[str, str]:
    out = {"D": f"{rec['d_loss']:.3f}"}
    if rec["g_loss"] is not None:
        out["G"] = f"{rec['g_loss']:.3f}"
    out["D(x)"] = f"{rec['d_real']:.3f}"
    out["D(G(z))"] = f"{rec['d_fake']:.3f}"
    return out


def _ema_arrays(G: Module) -> list[tuple[str, np.ndarray]]:
    """What the EMA of G averages: every parameter, and the floating-point buffers
    (BatchNorm's running mean and variance), so that the averaged weights are used
    with running statistics that were averaged alongside them (as PyTorch's
    ``AveragedModel(use_buffers=True)``), not with the live model's."""
    out = [(k, p._array) for k, p in G.named_parameters()]
    out += [(k, b._array) for k, b in G.named_buffers() if b._array.dtype.kind == "f"]
    return out


def generate(
    G: Module,
    z: np.ndarray,
    labels: Any = None,
    ema: dict[str, Any] | None = None,
    batch_size: int = 500,
) -> np.ndarray:
    """``G(z)`` in eval mode without recording, in batches, as a NumPy array.

    With ``ema`` (name -> array) G's parameters, and the floating-point buffers the
    EMA holds, are swapped for those values during the call. ``labels`` ``(n,)`` for
    a conditional G. G's mode and values are restored.
    """
    was_training = G.training
    saved = None
    if ema is not None:
        swap = [(k, v) for k, v in _ema_arrays(G) if k in ema]
        saved = {k: v.copy() for k, v in swap}
        for k, v in swap:
            v[...] = _array(ema[k])
    G.eval()
    try:
        outs = []
        with no_grad():
            for i in range(0, z.shape[0], batch_size):
                zb = _wrap(np.ascontiguousarray(z[i : i + batch_size]))
                if labels is not None:
                    out = G(zb, np.asarray(labels[i : i + batch_size], dtype=np.int64))
                else:
                    out = G(zb)
                outs.append(out._array.copy())
        return np.concatenate(outs, 0)
    finally:
        G.train(was_training)
        if saved is not None:
            for k, v in _ema_arrays(G):
                if k in saved:
                    v[...] = saved[k]


def _norm(model: Module) -> float | None:
    """The L2 norm of all of ``model``'s gradients (None before any backward)."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return float(get_total_norm(grads)) if grads else None
