"""``tapegrad sample``: draw samples from a run or checkpoint, as a PNG grid or a .npy array.

The format follows ``--out``'s extension (``.png`` or ``.npy``); ``--format`` is needed
only when the extension says nothing, and one that contradicts it is an error. A
``.npy`` file holds float32 images in [0, 1] ``(N, H, W)`` or ``(N, C, H, W)``, or 2-D
points ``(N, 2)`` as generated. An existing file is not overwritten without
``--overwrite``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from .._atomic import atomic_open
from ..gan.runner import open_run
from ..gan.runs import image_grid, save_png, save_scatter
from ._common import CLIError, positive_int

NAME = "sample"
HELP = "draw samples from a run or checkpoint into a PNG grid or a .npy file"
FORMATS = ("png", "npy")


def add_arguments(s: argparse.ArgumentParser) -> None:
    """The options of ``tapegrad sample``: run, ``--n``, ``--out``, ``--format``, ``--seed``."""
    s.add_argument("run", metavar="RUN_OR_CHECKPOINT", help="a run folder or checkpoint file")
    s.add_argument("--n", type=positive_int, default=64, help="number of samples")
    s.add_argument(
        "--out", default=None, help="FILE.png or FILE.npy (default samples.png, or samples.npy)"
    )
    s.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="only needed when --out has no .png/.npy extension (default png)",
    )
    s.add_argument("--seed", type=int, default=0, help="seed of the samples' noise")
    s.add_argument("--overwrite", action="store_true", help="replace an existing --out file")


def output_format(out: str | None, fmt: str | None) -> tuple[Path, str]:
    """``(path, "png" | "npy")`` from ``--out`` and ``--format``; CLIError when they
    contradict or the extension is neither."""
    if out is None:
        fmt = fmt or "png"
        return Path(f"samples.{fmt}"), fmt
    path = Path(out)
    ext = path.suffix.lower().lstrip(".")
    if ext in FORMATS:
        if fmt is not None and fmt != ext:
            raise CLIError(f"--format {fmt} contradicts --out {out} (a .{ext} file)")
        return path, ext
    if ext and fmt is None:
        raise CLIError(f"--out {out}: .{ext} is not a format sample writes; use .png or .npy")
    if fmt is None:
        raise CLIError(f"--out {out} has no .png or .npy extension; add one or give --format")
    return path, fmt


def run(a: argparse.Namespace) -> int:
    """Write ``--n`` samples of the run's generator as a PNG grid (or scatter) or a .npy file; 0."""
    out, fmt = output_format(a.out, a.format)
    if out.is_dir():
        raise CLIError(f"--out {out}: is a folder; give a file name")
    if out.exists() and not a.overwrite:
        raise CLIError(f"--out {out}: the file exists; give another name or --overwrite")
    if not out.parent.is_dir():
        raise CLIError(f"--out {out}: folder {out.parent} does not exist")
    tr = open_run(a.run).trainer
    gen = np.random.Generator(np.random.PCG64(a.seed))
    z = gen.standard_normal((a.n, tr.z_dim)).astype(tr.fixed_z.dtype)
    x = tr.generate(z=z)
    if fmt == "npy":
        if x.ndim == 2:
            arr = x.astype(np.float32)  # 2-D points are returned as they are
        else:
            arr = np.clip((x + 1.0) * 0.5, 0.0, 1.0).astype(np.float32)
            if arr.shape[1] == 1:
                arr = arr[:, 0]
        with atomic_open(out, "wb") as f:
            np.save(f, arr)
    elif x.ndim == 2:  # the real points beside the samples show where the modes are
        save_scatter(out, x, tr.data[: a.n], title=f"{a.n} samples")
    else:
        save_png(out, image_grid((x + 1.0) * 0.5))
    print(f"wrote {a.n} samples to {out}")
    return 0
