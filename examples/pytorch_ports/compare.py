"""Run both ports for one epoch under tapegrad and under PyTorch; print the results
side by side.

    python examples/pytorch_ports/compare.py --data DIR [--jobs 4] [--out results.json]

Each run is a separate process (``mnist.py``/``dcgan.py --backend ...``) with one
thread for BLAS and PyTorch, so both libraries get the same resources. ``--jobs``
runs that many at once. PyTorch must be installed for its runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PORTS = {
    "mnist": ["test_accuracy", "test_loss", "last_100_train_loss", "seconds"],
    "dcgan": ["last_100_loss_D", "last_100_loss_G", "last_100_D_x", "last_100_D_G_z", "seconds"],
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", help="folder of the MNIST IDX files (else $TAPEGRAD_DATA)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--steps", type=int, default=0, help="cut each epoch to N batches")
    p.add_argument("--jobs", type=int, default=1, help="runs at once")
    p.add_argument("--ports", nargs="+", default=list(PORTS), choices=list(PORTS))
    p.add_argument("--out", help="also write all results to this JSON file")
    args = p.parse_args(argv)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if args.data:
        env["TAPEGRAD_DATA"] = args.data
    tmp = Path(tempfile.mkdtemp(prefix="ports-"))
    runs = [(port, b) for port in args.ports for b in ("tapegrad", "torch")]
    results: dict[str, dict[str, dict]] = {port: {} for port in args.ports}
    pending = list(runs)
    active: list[tuple[str, str, subprocess.Popen, Path]] = []
    while pending or active:
        while pending and len(active) < max(1, args.jobs):
            port, backend = pending.pop(0)
            out = tmp / f"{port}-{backend}.json"
            log = open(tmp / f"{port}-{backend}.log", "w")
            cmd = [
                sys.executable,
                str(HERE / f"{port}.py"),
                "--backend",
                backend,
                "--epochs",
                str(args.epochs),
                "--json",
                str(out),
            ]
            if args.steps:
                cmd += ["--steps", str(args.steps)]
            print("running:", " ".join(cmd[1:]), flush=True)
            active.append(
                (
                    port,
                    backend,
                    subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT),
                    out,
                )
            )
        port, backend, proc, out = active.pop(0)
        if proc.wait() != 0:
            print(f"{port} under {backend} failed; see {tmp / f'{port}-{backend}.log'}")
            return 1
        results[port][backend] = json.loads(out.read_text())
    for port in args.ports:
        print(
            f"\n{port}, {args.epochs} epoch(s)" + (f" of {args.steps} steps" if args.steps else "")
        )
        print(f"  {'':22s}{'tapegrad':>12s}{'torch':>12s}")
        for key in PORTS[port]:
            a, b = results[port]["tapegrad"][key], results[port]["torch"][key]
            print(f"  {key:22s}{a:12.4f}{b:12.4f}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
