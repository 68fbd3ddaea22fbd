"""What the subcommands share: the error type, the parser and help formatter, JSON output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn

from ..data.files import DataError
from ..gan.checkpoint import CheckpointError
from ..gan.config import ConfigError
from ..gan.evaluate import dumps
from ..gan.runner import DEFAULT_STEPS, RunError

__all__ = [
    "CLIError",
    "USER_ERRORS",
    "Parser",
    "Formatter",
    "DEFAULT_STEPS",
    "positive_int",
    "write_json_file",
]


class CLIError(Exception):
    """Bad input: printed on stderr as one line, exit code 2."""


#: exceptions that mean bad input (exit 2, one line), never a bug in tapegrad
USER_ERRORS = (CLIError, ConfigError, DataError, CheckpointError, RunError, FileNotFoundError)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (and exit code 2)."""

    def error(self, message: str) -> NoReturn:
        """Print the usage error as one line naming ``--help``, and exit with code 2."""
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Help text with each option's default, where it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        d = action.default
        hidden = d is None or d is False or d == argparse.SUPPRESS
        if "default" in text or hidden or not action.option_strings:
            return text
        if isinstance(d, tuple):
            d = ",".join(str(x) for x in d)
        return f"{text} (default {d})" if text else f"(default {d})"


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (the message names the flag through argparse)."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"wants a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"wants a positive integer, got {v}")
    return v


def write_json_file(path: Path, doc: Any) -> None:
    """Write ``doc`` as strict JSON to ``path``, atomically; CLIError when its folder is
    missing."""
    from .._atomic import atomic_open

    if not path.parent.is_dir():
        raise CLIError(f"cannot write {path}: folder {path.parent} does not exist")
    with atomic_open(path, "w") as f:
        f.write(dumps(doc) + "\n")
