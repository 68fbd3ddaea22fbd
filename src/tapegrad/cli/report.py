"""``tapegrad report RUN_DIR``: rebuild a run folder's ``report.html``.

Works on any run folder ``tapegrad train`` made, including runs made before health
records and reports existed (see :mod:`tapegrad.explain.report`). Exit codes: 0 done,
2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["NAME", "HELP", "add_arguments", "run"]


NAME = "report"
HELP = "rebuild RUN/report.html, the run in one offline web page"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The one argument of ``tapegrad report``: the run folder."""
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder made by tapegrad train")


def run(args: argparse.Namespace) -> int:
    """Build the report; 0 on success, 2 with one line on stderr for bad input."""
    from ..explain.report import build_report

    try:
        path = build_report(args.run_dir)
    except (FileNotFoundError, NotADirectoryError, ValueError) as e:
        print(f"tapegrad: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"tapegrad: error: cannot write the report in {args.run_dir}: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0
