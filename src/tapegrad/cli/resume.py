"""``tapegrad resume``: continue a run from its last checkpoint, to its stored targets."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..gan.runner import prepare_resume, resume_trainer
from .train import run_training

NAME = "resume"
HELP = "continue a run from its last checkpoint, to the step target it was started with"


def add_arguments(r: argparse.ArgumentParser) -> None:
    """The options of ``tapegrad resume``: the run folder and a new step or epoch target."""
    r.add_argument("run", metavar="RUN", help="the run folder")
    target = r.add_mutually_exclusive_group()
    target.add_argument(
        "--steps",
        type=int,
        default=None,
        metavar="TOTAL",
        help="a new TOTAL step target, counted from the run's start (default: the stored "
        "one, e.g. train --steps 400 resumes to step 400)",
    )
    target.add_argument(
        "--more", type=int, default=None, metavar="N", help="train N steps past the checkpoint"
    )
    r.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="a new total number of epochs (default: stored; training stops at whichever "
        "target comes first)",
    )
    r.add_argument("--quiet", action="store_true", help="no progress bar")


def run(a: argparse.Namespace) -> int:
    """Continue the run's training from its last checkpoint; 0 on success."""
    run_dir = Path(a.run)
    cfg, _ = prepare_resume(run_dir, steps=a.steps, more=a.more, epochs=a.epochs)
    tr, cfg = resume_trainer(run_dir, cfg, quiet=a.quiet)
    target = f"step {cfg.steps}" if cfg.steps else f"epoch {cfg.epochs}"
    print(f"resuming {run_dir} at step {tr.step}, epoch {tr.epoch}, to {target}", flush=True)
    return run_training(tr, cfg, run_dir)
