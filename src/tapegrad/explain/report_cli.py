"""``tapegrad report RUN_DIR``: rebuild a run folder's ``report.html``.

Works on any run folder ``tapegrad train`` made, including runs made before health
records and reports existed (see :mod:`tapegrad.explain.report`). Exit codes: 0 done,
2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``report`` subcommand to an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "report",
        help="rebuild RUN/report.html, the run in one offline web page",
        description="Rebuild RUN/report.html from the run folder's config, metrics log "
        "and sample pictures (also for runs made before reports existed).",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder made by tapegrad train")
    return p


def run(args: argparse.Namespace) -> int:
    """Build the report; 0 on success, 2 with one line on stderr for bad input."""
    from .report import build_report

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
