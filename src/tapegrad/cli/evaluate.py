"""``tapegrad evaluate``: score runs (see :mod:`tapegrad.gan.evaluate`) and print a short
summary; ``--json`` adds the full result as JSON, on stdout or into a file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..gan.config import read_run_config
from ..gan.evaluate import SUMMARY, check_same_data, dumps, evaluate_run, expand_runs, summary_doc
from ._common import positive_int, write_json_file
from ._tables import print_result, summary_table

NAME = "evaluate"
HELP = "score runs beside reference points; mean and std over several runs"


def add_arguments(e: argparse.ArgumentParser) -> None:
    """The options of ``tapegrad evaluate``: runs, ``--n``, ``--seed``, ``--json``."""
    e.add_argument(
        "runs",
        nargs="+",
        metavar="RUN_OR_CHECKPOINT",
        help="run folders, checkpoints, or a --seeds folder (then its summary.json is rewritten)",
    )
    e.add_argument(
        "--n",
        type=positive_int,
        default=None,
        help="samples (default 10,000 images; 2,500 ring/grid points)",
    )
    e.add_argument("--seed", type=int, default=0, help="seed of the samples' noise")
    e.add_argument(
        "--json",
        nargs="?",
        const="-",
        default=None,
        metavar="FILE",
        help="also give the full result as JSON: on stdout, or into FILE",
    )


def run(a: argparse.Namespace) -> int:
    """Evaluate one run, or several and print a summary table; 0."""
    paths, folder = expand_runs(a.runs)
    if len(paths) == 1 and folder is None:
        res = evaluate_run(paths[0], a.n, a.seed)
        print_result(res)
        _json(a.json, res)
        return 0
    check_same_data(paths)
    entries = []
    reference = None
    for p in paths:
        print(f"evaluating {p}", flush=True)
        res = evaluate_run(p, a.n, a.seed)
        reference = res.get("reference", reference)
        entries.append({"run": p, **{k: v for k, v in res.items() if k != "reference"}})
    doc: dict[str, Any] = {"command": "tapegrad evaluate"}
    if folder is not None:  # the same layout as `train --seeds` writes
        cfgs = [read_run_config(Path(e["checkpoint"]).parent.parent)[0] for e in entries]
        doc["config"] = cfgs[0].to_dict()
        doc["seeds"] = [c.seed for c in cfgs]
    doc.update(summary_doc(entries, reference))
    names = [Path(p).name for p in paths]
    labels = names if len(set(names)) == len(names) else list(paths)
    print(summary_table(labels, doc))
    _json(a.json, doc)
    if folder is not None:
        write_json_file(folder / SUMMARY, doc)
        print(f"wrote {folder / SUMMARY}", flush=True)
    return 0


def _json(where: str | None, doc: dict[str, Any]) -> None:
    if where == "-":
        print(dumps(doc))
    elif where is not None:
        write_json_file(Path(where), doc)
        print(f"wrote {where}")
