"""``Trainer``: the GAN training loop, with exact resume.

Each step takes one real batch and makes one discriminator (critic) update; every
``n_critic``-th step is followed by one generator update. The D step sees the
fakes detached, so no gradient reaches G; the G step runs a fresh forward pass of
the just-updated D (D's weights are frozen meanwhile, so only G's gradients are
computed). Two Adam optimizers with their own learning rates and betas (TTUR),
optional gradient-norm clipping, an optional exponential moving average (EMA) of
G's weights for sampling, WGAN weight clipping and the WGAN-GP penalty as the
:class:`~tapegrad.gan.losses.GANLoss` asks.

Everything random comes from generators whose state is checkpointed (the
trainer's own noise generator, the data loader's shuffling generator and
tapegrad's global generator), so training ``2N`` steps gives bit for bit the
weights of training ``N``, saving, loading into a fresh trainer and training
``N`` more.

A NaN or infinite loss raises :class:`TrainingDiverged` naming the step and the
loss, before the bad gradient is applied and without touching the last
checkpoint. Ctrl-C (SIGINT) stops after the current step and writes a checkpoint
(in the main thread; a second Ctrl-C, or SIGINT outside the main thread, stops at
once, and the checkpoint may then hold a partly done step).
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import random as _random
from ..autograd.grad_mode import no_grad
from ..distributed import training as _dp
from ..nn.module import Module
from ..nn.utils.clip_grad import clip_grad_norm_
from ..optim.adam import Adam
from ..serialization import load as _load
from ..serialization import save as _save
from ..tensor import Tensor, _wrap
from ..utils.data.dataloader import DataLoader
from ..utils.data.dataset import TensorDataset
from .losses import GANLoss, clip_weights_, get_loss, gradient_penalty
from .runs import RunDir

__all__ = ["Trainer", "TrainingDiverged", "scale_data", "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "tapegrad.gan.Trainer/1"
_PROBABILISTIC = ("minimax", "ns")


class TrainingDiverged(FloatingPointError):
    """A loss became NaN or infinite; the message names the step and the loss."""


def scale_data(x: Any) -> np.ndarray:
    """Training data as float32, images scaled to [-1, 1].

    uint8 arrays map 0..255 to [-1, 1]. Float images (``ndim >= 3``) with values in
    [0, 1] map to [-1, 1]; ones already reaching below 0 are kept as they are.
    Vectors ``(N, D)`` of another dtype (2-D points) are kept unscaled.
    """
    a = np.asarray(x._array if isinstance(x, Tensor) else x)
    if a.ndim < 2 or a.shape[0] == 0:
        raise ValueError(f"Trainer: data must be a non-empty batch (N, ...), got shape {a.shape}")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"Trainer: data must be numeric, got dtype {a.dtype}")
    a = a.astype(np.float32)
    if a.ndim >= 3 and a.min() >= 0.0:
        if a.max() > 1.0:
            raise ValueError(
                f"Trainer: float images must be in [0, 1] or [-1, 1], got range "
                f"[{a.min()}, {a.max()}]"
            )
        a = a * np.float32(2.0) - np.float32(1.0)
    return a


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
        lr_g, lr_d, betas_g, betas_d: the two Adam optimizers' settings (TTUR).
        n_critic: D steps per G step.
        ema_decay: keep an EMA of G's weights with this decay (e.g. 0.999); samples,
            :meth:`generate` and checkpoints' ``ema`` use it.
        grad_clip: clip each model's gradient norm to this value.
        seed: seeds the trainer's noise, the data order and the fixed sample noise.
        out_dir: run folder (see :mod:`tapegrad.gan.runs`); None writes nothing.
        labels: int labels ``(N,)`` for conditional models.
        n_samples: images in the fixed-noise grid.
        log_every: log a metrics record every this many steps.
        keep_epoch_checkpoints: also keep ``checkpoints/epoch_XXX.safetensors``.
        quiet: no progress bar.
        config: extra entries for ``config.json`` (model and data descriptions).
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
        seed: int = 0,
        out_dir: str | Path | None = None,
        labels: Any = None,
        n_samples: int = 64,
        log_every: int = 1,
        keep_epoch_checkpoints: bool = False,
        quiet: bool = True,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.G, self.D = _dp.data_parallel(G), _dp.data_parallel(D)
        self.loss = get_loss(loss) if isinstance(loss, str) else loss
        self.z_dim = int(z_dim if z_dim is not None else G.z_dim)
        if n_critic < 1:
            raise ValueError(f"Trainer: n_critic must be >= 1, got {n_critic}")
        if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"Trainer: ema_decay must be in [0, 1), got {ema_decay}")
        self.n_critic = int(n_critic)
        self.ema_decay = ema_decay
        self.grad_clip = grad_clip
        self.seed = int(seed)
        self.log_every = max(1, int(log_every))
        self.keep_epoch_checkpoints = keep_epoch_checkpoints
        self.quiet = quiet

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
        self.fixed_labels = (
            (np.arange(n_samples) % G.n_classes).astype(np.int64) if self.conditional else None
        )

        self.opt_g = Adam(G.parameters(), lr=lr_g, betas=tuple(betas_g))
        self.opt_d = Adam(D.parameters(), lr=lr_d, betas=tuple(betas_d))
        self.ema: dict[str, np.ndarray] | None = None
        if ema_decay is not None:
            self.ema = {k: v.copy() for k, v in _ema_arrays(G)}
        self.step = 0
        self.epoch = 0
        self._stop = False
        self._probabilistic = getattr(self.loss, "name", "") in _PROBABILISTIC

        self.hparams = {
            "loss": getattr(self.loss, "name", type(self.loss).__name__),
            "z_dim": self.z_dim,
            "batch_size": self.batch_size,
            "lr_g": lr_g,
            "lr_d": lr_d,
            "betas_g": list(betas_g),
            "betas_d": list(betas_d),
            "n_critic": self.n_critic,
            "ema_decay": ema_decay,
            "grad_clip": grad_clip,
            "seed": self.seed,
            "n_samples": n_samples,
            "data_shape": list(self.data.shape),
        }
        self.config = {**(config or {}), "trainer": self.hparams}
        self.run = RunDir(out_dir) if out_dir is not None and _dp.is_writer() else None
        if self.run is not None:
            self.run.write_config(self.config)

    # ------------------------------------------------------------ model calls
    def _G(self, z: Tensor, y: Any) -> Tensor:
        return self.G(z, y) if self.conditional else self.G(z)

    def _D(self, x: Tensor, y: Any) -> Tensor:
        return self.D(x, y) if self.conditional else self.D(x)

    def _noise(self, n: int) -> tuple[Tensor, Any]:
        z = self.rng.standard_normal((n, self.z_dim)).astype(self.fixed_z.dtype)
        y = self.rng.integers(0, self.G.n_classes, n) if self.conditional else None
        return _wrap(z), y

    def _mean_out(self, out: Tensor) -> float:
        """Mean D output for the log: sigmoid of the logits for the probabilistic losses."""
        a = out._array.astype(np.float64)
        if self._probabilistic:
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
        real, y_real, z, y_fake = _dp.shard(real, y_real, z, y_fake)
        if g_step:
            fake = self._G(z, y_fake)  # graph kept for the G step below
        else:
            with no_grad():
                fake = self._G(z, y_fake)
        fake_d = fake.detach()

        out_real = self._D(real, y_real)
        out_fake = self._D(fake_d, y_fake)
        loss_d = self.loss.d_loss(out_real, out_fake)
        if getattr(self.loss, "penalty", None) == "gp":
            critic: Callable[[Tensor], Tensor] = (
                (lambda x: self.D(x, y_real)) if self.conditional else self.D
            )
            loss_d = loss_d + gradient_penalty(
                critic, real, fake_d, self.loss.lambda_, generator=self.rng
            )
        d_value = _dp.mean_over_ranks(float(loss_d.item()))
        self._finite(d_value, "D loss")
        self.opt_d.zero_grad()
        loss_d.backward()
        if self.grad_clip is not None:
            clip_grad_norm_(list(self.D.parameters()), self.grad_clip)
        self.opt_d.step()
        if getattr(self.loss, "clip", None) is not None:
            clip_weights_(self.D, self.loss.clip)
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
            loss_g = self.loss.g_loss(self._D(fake, y_fake))
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
        mid-epoch). After each epoch: a sample picture, ``curves.png``, the metrics
        log and a checkpoint; at the end (or on ``max_steps``, or Ctrl-C) a checkpoint.

        Returns ``"done"``, ``"max_steps"`` or ``"interrupted"``.
        Raises :class:`TrainingDiverged` on a NaN or infinite loss.
        """
        # re-arm the loader: a loop left mid-epoch continues where it stopped
        self.loader.load_state_dict(self.loader.state_dict())
        self.G.train()
        self.D.train()
        self._stop = False
        total = epochs * len(self.loader)
        if max_steps is not None:
            total = min(total, max_steps)
        bar = self._progress(total)
        old_handler = self._install_sigint()
        status = "done"
        try:
            while self.epoch < epochs:
                if max_steps is not None and self.step >= max_steps:
                    status = "max_steps"
                    break
                t0 = time.perf_counter()
                for batch in self.loader:
                    rec = self.train_step(batch)
                    self.step += 1
                    if self.step % self.log_every == 0:
                        self._log(
                            {"kind": "step", "step": self.step, "epoch": self.epoch + 1, **rec}
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
                    status = "interrupted"
                    break
            else:
                if max_steps is not None and self.step >= max_steps:
                    status = "max_steps" if self.epoch < epochs else "done"
        except KeyboardInterrupt:
            # outside the main thread SIGINT arrives as an exception, possibly mid-step
            status = "interrupted"
        finally:
            self._restore_sigint(old_handler)
            if bar is not None:
                bar.close()
        self.save_checkpoint()
        if self.run is not None:
            if self.loader.state_dict()["batches_done"] % len(self.loader):
                # Stopped inside an epoch: no epoch grid shows these weights yet.
                real = self.data[: len(self.fixed_z)] if self.data.ndim == 2 else None
                self.run.save_samples(
                    self.epoch, self.generate(z=self.fixed_z), real, step=self.step
                )
            self.run.flush()
            self.run.save_curves()
        return status

    def _progress(self, total: int) -> Any:
        if self.quiet or not _dp.is_writer():
            return None
        from tqdm import tqdm

        return tqdm(total=total, initial=min(self.step, total), unit="it", dynamic_ncols=True)

    def _install_sigint(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum: int, frame: Any) -> None:
            if self._stop:  # a second Ctrl-C stops at once
                raise KeyboardInterrupt
            self._stop = True

        return signal.signal(signal.SIGINT, handler)

    @staticmethod
    def _restore_sigint(old: Any) -> None:
        if old is not None:
            signal.signal(signal.SIGINT, old)

    def _log(self, record: dict[str, Any]) -> None:
        if self.run is not None:
            self.run.log(record)

    def _end_of_epoch(self, seconds: float) -> None:
        if self.run is None:
            return
        steps = [r for r in self.run.records if r.get("kind") == "step"]
        steps = [r for r in steps if r.get("epoch") == self.epoch]
        summary: dict[str, Any] = {"kind": "epoch", "epoch": self.epoch, "step": self.step}
        for k in ("d_loss", "g_loss", "d_real", "d_fake"):
            v = [r[k] for r in steps if r.get(k) is not None]
            summary[k] = float(np.mean(v)) if v else None
        summary["seconds"] = round(seconds, 3)
        real = self.data[: len(self.fixed_z)] if self.data.ndim == 2 else None
        path = self.run.save_samples(self.epoch, self.generate(z=self.fixed_z), real)
        summary["samples"] = str(path.relative_to(self.run.path))
        self.run.log(summary)
        self.save_checkpoint()
        if self.keep_epoch_checkpoints:
            _save(self.state_dict(), self.run.epoch_checkpoint(self.epoch))
        self.run.flush()
        self.run.save_curves()

    # ------------------------------------------------------------ sampling
    def generate(
        self, n: int | None = None, z: Any = None, labels: Any = None, use_ema: bool = True
    ) -> np.ndarray:
        """Samples from G in eval mode (EMA weights when kept), as a NumPy array.

        ``z`` ``(n, z_dim)`` is drawn from a generator seeded by ``seed`` when not given
        (training's noise is not touched). Returns ``(n, *sample_shape)`` in G's range.
        """
        if z is None:
            gen = np.random.Generator(np.random.PCG64([self.seed, 4]))
            z = gen.standard_normal((int(n), self.z_dim)).astype(self.fixed_z.dtype)
        z = np.asarray(z)
        if self.conditional and labels is None:
            labels = np.arange(z.shape[0]) % self.G.n_classes
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
        """Restore a :meth:`state_dict` (models, optimizers, EMA, RNGs, position)."""
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"Trainer: not a GAN trainer checkpoint (format {state.get('format')!r}, "
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
            self.run.load_records(self.step, self.epoch)

    def save_checkpoint(self, path: str | Path | None = None) -> Path | None:
        """Write :meth:`state_dict` to ``path`` (default the run's ``last.safetensors``)."""
        if path is None:
            if self.run is None:
                return None
            path = self.run.last_checkpoint
        _save(self.state_dict(), path)
        return Path(path)

    def load_checkpoint(self, path: str | Path | None = None) -> None:
        """Load a checkpoint file (default the run's ``last.safetensors``)."""
        if path is None:
            if self.run is None:
                raise ValueError("Trainer.load_checkpoint: no path and no run folder")
            path = self.run.last_checkpoint
        self.load_state_dict(_load(path))


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
