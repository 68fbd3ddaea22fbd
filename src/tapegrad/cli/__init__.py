"""The ``tapegrad`` command: train, resume, sample and evaluate GANs.

Usage::

    tapegrad train [--recipe NAME] [--model NAME] [--loss NAME] [--data DATA] [--steps N]
                   [--anneal F] [--pack K] [--g-batch-norm on|off] [--out RUN] ...
    tapegrad recipes
    tapegrad resume RUN [--steps TOTAL | --more N] [--epochs E]
    tapegrad sample RUN_OR_CHECKPOINT [--n N] [--out FILE.png|FILE.npy]
    tapegrad evaluate RUN_OR_CHECKPOINT [...] [--n N] [--seed S] [--json [FILE]]
    tapegrad --version

``tapegrad SUBCOMMAND --help`` describes each one with its defaults.

Exit codes: 0 success; 1 training diverged (the last finite checkpoint is kept); 2 bad
input (one line on stderr naming the file or flag); 130 interrupted by Ctrl-C or
SIGTERM (a checkpoint is written; ``tapegrad resume RUN`` continues); 141 the reader
of the output went away (``| head``), ended quietly.

Adding a subcommand: a module in this package with ``NAME``, ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> exit code``, and one line in
:data:`COMMANDS`. The modules parse, call :mod:`tapegrad.gan` and print; they raise
:class:`CLIError` (or the library's ``ValueError`` subclasses) for bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from . import evaluate, explain, recipes, report, resume, sample, train
from ._common import DEFAULT_STEPS, USER_ERRORS, CLIError, Formatter, Parser

__all__ = ["main", "CLIError", "COMMANDS", "DEFAULT_STEPS"]

#: the subcommands, in the order ``tapegrad --help`` lists them
COMMANDS: tuple[ModuleType, ...] = (train, recipes, resume, sample, evaluate, report, explain)


def _parser() -> argparse.ArgumentParser:
    from .. import __version__

    p = Parser(prog="tapegrad", description="Train and inspect GANs.", formatter_class=Formatter)
    p.add_argument("--version", action="version", version=f"tapegrad {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for cmd in COMMANDS:
        sp = sub.add_parser(
            cmd.NAME, help=cmd.HELP, description=cmd.HELP, formatter_class=Formatter
        )
        cmd.add_arguments(sp)
        sp.set_defaults(_run=cmd.run)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tapegrad`` command with ``argv`` (default ``sys.argv[1:]``); returns the
    exit code (see the module docstring). Under ``mpiexec -n P`` the ranks train
    data-parallel (docs/distributed.md): only rank 0 prints and writes, and a rank that
    fails ends every rank."""
    from ..distributed import training as dp

    try:
        dp.setup()
    except RuntimeError as e:
        print(f"tapegrad: error: {e}", file=sys.stderr)
        return 2
    return dp.exit_code(_main(argv))


def _main(argv: Sequence[str] | None) -> int:
    try:
        code = _dispatch(argv)
        sys.stdout.flush()  # here, so that a closed pipe is noticed while it can be handled
        return code
    except BrokenPipeError:
        # the reader went away (`| head`): say nothing more, and keep Python's exit-time
        # flush of stdout from complaining
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141


def _dispatch(argv: Sequence[str] | None) -> int:
    try:
        args = _parser().parse_args(argv)
        return int(args._run(args))
    except SystemExit as e:  # argparse: --help, --version, usage errors
        return int(e.code or 0) if not isinstance(e.code, str) else 2
    except USER_ERRORS as e:
        print(f"tapegrad: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tapegrad: interrupted", file=sys.stderr)
        return 130


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    if isinstance(e, KeyError):  # str(KeyError) is the repr of the key
        text = f"missing entry {text}"
    return " ".join(text.split()) if text else type(e).__name__
