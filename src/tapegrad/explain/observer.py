"""``RunObserver``: GAN health records, console alarms and a live ``report.html``.

Attach it to a :class:`~tapegrad.gan.Trainer` (``Trainer(..., callbacks=[RunObserver()])``).
The trainer calls :meth:`RunObserver.on_log` at each logging interval and
:meth:`RunObserver.on_train_end` when :meth:`~tapegrad.gan.Trainer.train` returns or
training diverges. Every ``every`` steps the observer

1. makes a health record (:func:`~tapegrad.explain.health.health_record`: mean D(x) and
   D(G(z)) since the last one, G's and D's gradient norms, the coverage histogram of
   ``n_samples`` samples drawn from G with fixed noise, every ``coverage_every``
   steps) and checks its alarms;
2. appends it to the run's metrics log as a ``{"kind": "health", ...}`` row (written
   to ``metrics.jsonl`` with the report and at the end of each epoch) and
   prints each alarm as one line ``tapegrad: health alarm at step N: ...`` on stderr;
3. every ``sample_every`` steps saves the fixed-noise sample picture
   (``samples/step_XXXXXX.png``);
4. every ``report_every`` steps and at the end, rebuilds ``report.html``
   (:func:`~tapegrad.explain.report.build_report`), so the report can be watched while
   the run trains (reload the page).
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from .health import HealthThresholds, check_alarms, coverage_kind, grad_norm, health_record

__all__ = ["RunObserver", "default_callbacks"]


def default_callbacks(tensorboard: bool = False) -> list[Any]:
    """What ``tapegrad train`` attaches to its trainer: a :class:`RunObserver`, and with
    ``tensorboard`` a :class:`~tapegrad.explain.tensorboard.TensorBoardWriter` after it
    (so it sees each health record). ImportError naming the extra when ``tensorboard``
    is asked for and tensorboardX is not installed. Under ``mpiexec`` only the rank that
    writes the run folder gets them (an empty list elsewhere)."""
    from ..distributed import training as _dp

    callbacks: list[Any] = [RunObserver()] if _dp.is_writer() else []
    if tensorboard:
        import importlib.util

        from .tensorboard import TensorBoardWriter

        if importlib.util.find_spec("tensorboardX") is None:
            raise ImportError(
                "--tensorboard needs the tensorboardX package: pip install 'tapegrad[tensorboard]'"
            )
        if callbacks:
            callbacks.append(TensorBoardWriter())
    return callbacks


class RunObserver:
    """Health records, alarms and a live report for one training run.

    Args:
        every: steps between health records.
        coverage_every: steps between coverage histograms (a multiple of ``every``; the
            classifier's pass over 500 images costs about as much as 60 steps of the
            default MNIST GAN, so it runs less often than the cheap rest).
        report_every: steps between rebuilds of ``report.html`` (a multiple of ``every``).
        n_samples: samples per coverage histogram (default 500 images, 1,000 points).
        sample_every: steps between saved sample pictures (0: none; the trainer still
            saves one per epoch).
        coverage: ``"auto"`` (from the run's ``data`` and sample shape, see
            :func:`~tapegrad.explain.health.coverage_kind`), ``"mnist"``, ``"ring"``,
            ``"grid"`` or None.
        thresholds: the alarms' :class:`~tapegrad.explain.health.HealthThresholds`.
        report: rebuild ``report.html`` with each health record.
        stream: where alarm lines go (default stderr).
    """

    def __init__(
        self,
        every: int = 100,
        coverage_every: int = 500,
        report_every: int = 500,
        n_samples: int | None = None,
        sample_every: int = 1000,
        coverage: str | None = "auto",
        thresholds: HealthThresholds | None = None,
        report: bool = True,
        stream: IO[str] | None = None,
    ) -> None:
        for name, v in (("every", every), ("coverage_every", coverage_every)):
            if v < 1:
                raise ValueError(f"RunObserver: {name} must be >= 1, got {v}")
        if report_every < 1:
            raise ValueError(f"RunObserver: report_every must be >= 1, got {report_every}")
        if n_samples is not None and n_samples < 1:
            raise ValueError(f"RunObserver: n_samples must be >= 1, got {n_samples}")
        if coverage not in ("auto", "mnist", "ring", "grid", None):
            raise ValueError(
                f"RunObserver: coverage must be 'auto', 'mnist', 'ring', 'grid' or None, "
                f"got {coverage!r}"
            )
        self.every = int(every)
        self.coverage_every = int(coverage_every)
        self.report_every = int(report_every)
        self.n_samples = n_samples
        self.sample_every = int(sample_every)
        self.coverage = coverage
        self.thresholds = thresholds or HealthThresholds()
        self.report = report
        self.stream = stream
        self.pending: list[dict[str, Any]] = []
        # The run's health records so far; a resumed run's earlier ones are read back
        # from its metrics log once (the run folder keeps no records in memory).
        self.history: list[dict[str, Any]] = []
        self._read_back = False

    # ------------------------------------------------------------ trainer calls
    def on_log(self, trainer: Any, record: dict[str, Any]) -> None:
        """Called by the trainer with each logged step record."""
        self._catch_up(trainer, record["step"])
        self.pending.append(record)
        if trainer.step % self.every == 0:
            self._health(trainer)

    def on_train_end(self, trainer: Any, status: str, error: BaseException | None = None) -> None:
        """Called when training stops (``status`` ``"done"``, ``"max_steps"``,
        ``"interrupted"`` or ``"diverged"`` with the error): a last health record unless
        one was just made, then the report."""
        self._catch_up(trainer, trainer.step + 1)
        if self.pending or error is not None or not self._health_rows(trainer):
            self._health(trainer, error, final=True)
        elif trainer.run is not None and self.report:
            self._rebuild(trainer)

    # ------------------------------------------------------------ internals
    def _catch_up(self, trainer: Any, before_step: int) -> None:
        """On the first call, read back what a resumed run logged before this observer
        was attached (rows before ``before_step``): its health records, and the step
        records since the last of them, which the next health record summarises. So a
        run killed and resumed logs the same health rows as one never stopped."""
        if self._read_back:
            return
        self._read_back = True
        if trainer.run is None or before_step <= 1:
            return
        health: list[dict[str, Any]] = []
        steps: list[dict[str, Any]] = []
        for r in _records(trainer.run.metrics_path):
            if r.get("step", 0) >= before_step:
                continue
            if r.get("kind") == "health":
                health.append(r)
                steps = []
            elif r.get("kind") == "step":
                steps.append(r)
        self.history = health + self.history
        self.pending = steps + self.pending

    def _health_rows(self, trainer: Any) -> list[dict[str, Any]]:
        return self.history

    def _kind(self, trainer: Any) -> str | None:
        if self.coverage != "auto":
            return self.coverage
        cfg = trainer.config
        data = cfg.get("data") or (cfg.get("run") or {}).get("data")
        return coverage_kind(data, tuple(trainer.data.shape[1:]))

    def _health(
        self, trainer: Any, error: BaseException | None = None, final: bool = False
    ) -> dict[str, Any]:
        kind = self._kind(trainer)
        samples = None
        if kind is not None and (final or trainer.step % self.coverage_every == 0):
            n = self.n_samples or (500 if kind == "mnist" else 1000)
            samples = trainer.generate(n)
        history = self._health_rows(trainer)
        last = self.pending[-1] if self.pending else {}
        rec = health_record(
            trainer.step,
            self.pending,
            # the norms the trainer logged with the last step (a resumed run reads them
            # back from the log); the live models' when the trainer logs none
            last.get("g_grad_norm", grad_norm(trainer.G)),
            last.get("d_grad_norm", grad_norm(trainer.D)),
            samples,
            kind,
            self.thresholds.min_share,
        )
        rec["epoch"] = trainer.epoch
        loss = getattr(trainer.loss, "name", "")
        rec["alarms"] = check_alarms(rec, history, loss, self.thresholds)
        if error is not None:
            rec["alarms"].append({"name": "non_finite", "message": str(error)})
        self.pending = []
        for a in rec["alarms"]:
            print(
                f"tapegrad: health alarm at step {trainer.step}: {a['message']}",
                file=self.stream or sys.stderr,
                flush=True,
            )
        self.history.append(rec)
        if trainer.run is None:
            return rec
        trainer.run.log(rec)
        if self.sample_every and trainer.step % self.sample_every == 0 and trainer.step > 0:
            real = trainer.data[: len(trainer.fixed_z)] if trainer.data.ndim == 2 else None
            trainer.run.save_samples(
                trainer.epoch, trainer.generate(z=trainer.fixed_z), real, step=trainer.step
            )
        if final:  # a diverged run's trainer writes no log: its last rows must not be lost
            trainer.run.flush()
        if self.report and (final or trainer.step % self.report_every == 0):
            self._rebuild(trainer)
        return rec

    def _rebuild(self, trainer: Any) -> None:
        from .report import build_report

        trainer.run.flush()
        try:
            build_report(trainer.run.path)
        except (OSError, ValueError) as e:
            # a report that cannot be written must not stop training; say so once per call
            print(f"tapegrad: report.html not updated: {e}", file=self.stream or sys.stderr)


def _records(path: Any) -> list[dict[str, Any]]:
    """The rows of a metrics log (a line cut short by a kill is skipped)."""
    out: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(r, dict):
                    out.append(r)
    except FileNotFoundError:
        pass
    return out
