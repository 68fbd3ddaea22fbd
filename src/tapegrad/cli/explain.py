"""``tapegrad explain``: print the built-in worked examples.

``tapegrad explain`` lists them; ``tapegrad explain NAME [--format text|markdown]
[--lang en|zh]`` prints one. A bad name or option exits with status 2 and one
line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

EXAMPLES: dict[str, str] = {
    "backprop": "the backpropagation tutorial's sigmoid network, every number by hand, "
    "corrected (--lang zh for Chinese prose)",
    "linear-regression": "the tutorial's hand-written linear regression, step by step, and "
    "why its sign error diverges",
}
FORMATS = ("text", "markdown")
LANGS: dict[str, tuple[str, ...]] = {"backprop": ("en", "zh"), "linear-regression": ("en",)}


NAME = "explain"
HELP = "print a worked example of backpropagation (without NAME: list them)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``tapegrad explain``: the example's name, ``--format``, ``--lang``."""
    p.add_argument("example", nargs="?", metavar="NAME", help=", ".join(EXAMPLES))
    p.add_argument("--format", default="text", metavar="FMT", help="text or markdown")
    p.add_argument("--lang", default="en", metavar="LANG", help="en or zh (backprop only)")


def _fail(msg: str) -> int:
    print(f"tapegrad explain: error: {msg}", file=sys.stderr)
    return 2


def _document(name: str, lang: str) -> list[Any]:
    if name == "backprop":
        from ..explain.worked_text import backprop_document

        return backprop_document(lang)
    from ..explain.linreg import document

    return document()


def run(args: argparse.Namespace, out: Callable[[str], Any] | None = None) -> int:
    """Run ``tapegrad explain`` for parsed ``args``, writing to ``out`` (default
    ``sys.stdout.write``); returns the exit status."""
    from ..explain.format import render_blocks

    out = out or sys.stdout.write

    if args.example is None:
        width = max(map(len, EXAMPLES))
        lines = ["Worked examples (tapegrad explain NAME [--format text|markdown]):"]
        lines += [f"  {k.ljust(width)}  {v}" for k, v in EXAMPLES.items()]
        out("\n".join(lines) + "\n")
        return 0
    if args.example not in EXAMPLES:
        return _fail(f"unknown example {args.example!r}; choose from {', '.join(EXAMPLES)}")
    if args.format not in FORMATS:
        return _fail(f"--format must be text or markdown, got {args.format!r}")
    if args.lang not in LANGS[args.example]:
        return _fail(
            f"--lang {args.lang!r} is not available for {args.example} "
            f"(available: {', '.join(LANGS[args.example])})"
        )
    out(render_blocks(_document(args.example, args.lang), args.format))
    return 0
