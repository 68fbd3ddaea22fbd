"""Time one training step (forward + backward) of tapegrad against PyTorch on the CPU.

Workloads:

- ``mlp``: 784-128-64-1, batch 64, float32, ReLU, BCE-with-logits loss;
- ``conv``: one conv2d layer (batch 16, 3 -> 16 channels, 32x32, 3x3, padding 1)
  with an MSE loss, when tapegrad has ``conv2d``;
- ``ops``: per-op overhead alone: 10 layers of ``tanh(h * w + b)`` on 8x8 float32
  tensors (30 recorded ops and a sum, then backward), where the arithmetic is
  negligible and the time is the framework's bookkeeping per op; the output also
  gives microseconds per op.

Both sides start from the same weights and data, and the script first checks
that they compute the same loss and gradients (to 1e-4). Steps are then timed
interleaved, tapegrad and PyTorch in turns (A B A B ...) after a warm-up, so
both see the same machine load; each sample is the mean of ``--inner`` steps.
It prints the median milliseconds per step of each side and the median of the
per-pair ratios tapegrad / PyTorch, in wall time and in CPU time (the steadier
of the two on a shared machine).

The thread count of the BLAS libraries is fixed when NumPy is imported, so the
script re-executes itself once per thread count with OPENBLAS_NUM_THREADS,
OMP_NUM_THREADS and MKL_NUM_THREADS set (and calls ``torch.set_num_threads``).

Usage::

    python benchmarks/bench_engine.py                  # 1 and 2 threads
    python benchmarks/bench_engine.py --threads 1 --pairs 100
    python benchmarks/bench_engine.py --profile        # cProfile of the tapegrad MLP step
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--pairs", type=int, default=60, help="timed A/B pairs per workload")
    ap.add_argument("--inner", type=int, default=10, help="steps per timed sample")
    ap.add_argument("--warmup", type=int, default=30, help="untimed steps per side first")
    ap.add_argument("--only", choices=["mlp", "conv", "ops"], help="run one workload")
    ap.add_argument("--profile", action="store_true", help="profile the tapegrad MLP step")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.child is not None:
        _child(args)
        return
    counts = [int(t) for t in args.threads.split(",")] if not args.profile else [1]
    for t in counts:
        env = dict(os.environ, **{v: str(t) for v in THREAD_VARS})
        cmd = [sys.executable, os.path.abspath(__file__), "--child", str(t)]
        cmd += ["--pairs", str(args.pairs), "--inner", str(args.inner)]
        cmd += ["--warmup", str(args.warmup)]
        if args.only:
            cmd += ["--only", args.only]
        if args.profile:
            cmd += ["--profile"]
        sys.stdout.flush()
        subprocess.run(cmd, env=env, check=True)


# ---------------------------------------------------------------- the child
def _child(args: argparse.Namespace) -> None:
    for v in THREAD_VARS:  # already set by the parent; repeated for a direct --child run
        os.environ[v] = str(args.child)
    import platform

    import numpy as np
    import torch

    import tapegrad as tg

    torch.set_num_threads(args.child)
    if args.profile:
        _profile(np, tg, torch)
        return
    print(
        f"threads={args.child}  (numpy {np.__version__}, torch {torch.__version__}, "
        f"python {platform.python_version()}, {os.cpu_count()} cpus, "
        f"load average {os.getloadavg()[0]:.2f})"
    )
    if args.only in (None, "mlp"):
        _run("mlp 784-128-64-1 b64 f32", *_mlp(np, tg, torch), args, np)
    if args.only in (None, "conv"):
        if not hasattr(tg, "conv2d"):
            print("  conv2d: skipped, tapegrad has no conv2d yet (src/tapegrad/ops/conv.py)")
        else:
            _run("conv2d b16 3->16 32x32 k3 p1 f32", *_conv(np, tg, torch), args, np)
    if args.only in (None, "ops"):
        _run(f"ops: {_OPS} small ops + sum, 8x8 f32", *_ops(np, tg, torch), args, np, _OPS + 1)


def _mlp(np, tg, torch):
    """Two step functions and a checker for the MLP, from shared weights and data."""
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    sizes = [784, 128, 64, 1]
    ws = [
        (rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32)
        for i, o in zip(sizes, sizes[1:])
    ]
    bs = [(0.1 * rng.standard_normal(o)).astype(np.float32) for o in sizes[1:]]
    x = rng.standard_normal((64, 784)).astype(np.float32)
    y = (rng.random((64, 1)) < 0.5).astype(np.float32)

    tp = [tg.Tensor(a.copy(), requires_grad=True) for pair in zip(ws, bs) for a in pair]
    pp = [torch.tensor(a.copy(), requires_grad=True) for pair in zip(ws, bs) for a in pair]
    tx, ty, px, py = tg.Tensor(x), tg.Tensor(y), torch.tensor(x), torch.tensor(y)
    linear = getattr(tg, "linear", None) or (lambda h, w, b: h @ w.T + b)
    relu = getattr(tg, "relu", None) or (lambda h: tg.maximum(h, 0.0))

    def step_tg():
        for p in tp:
            p.grad = None
        h = relu(linear(tx, tp[0], tp[1]))
        h = relu(linear(h, tp[2], tp[3]))
        loss = tg.binary_cross_entropy_with_logits(linear(h, tp[4], tp[5]), ty)
        loss.backward()
        return loss

    def step_torch():
        for p in pp:
            p.grad = None
        h = torch.relu(F.linear(px, pp[0], pp[1]))
        h = torch.relu(F.linear(h, pp[2], pp[3]))
        loss = F.binary_cross_entropy_with_logits(F.linear(h, pp[4], pp[5]), py)
        loss.backward()
        return loss

    uses = f"tg.{'linear' if hasattr(tg, 'linear') else 'x @ W.T + b'}, "
    uses += f"{'tg.relu' if hasattr(tg, 'relu') else 'tg.maximum(h, 0)'}"
    return step_tg, step_torch, tp, pp, uses


def _conv(np, tg, torch):
    import torch.nn.functional as F

    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 3, 32, 32)).astype(np.float32)
    w = (rng.standard_normal((16, 3, 3, 3)) / np.sqrt(27)).astype(np.float32)
    b = (0.1 * rng.standard_normal(16)).astype(np.float32)
    y = rng.standard_normal((16, 16, 32, 32)).astype(np.float32)
    tp = [tg.Tensor(w.copy(), requires_grad=True), tg.Tensor(b.copy(), requires_grad=True)]
    pp = [torch.tensor(w.copy(), requires_grad=True), torch.tensor(b.copy(), requires_grad=True)]
    tx, ty, px, py = tg.Tensor(x), tg.Tensor(y), torch.tensor(x), torch.tensor(y)

    def step_tg():
        for p in tp:
            p.grad = None
        loss = tg.mse_loss(tg.conv2d(tx, tp[0], tp[1], padding=1), ty)
        loss.backward()
        return loss

    def step_torch():
        for p in pp:
            p.grad = None
        loss = F.mse_loss(F.conv2d(px, pp[0], pp[1], padding=1), py)
        loss.backward()
        return loss

    return step_tg, step_torch, tp, pp, "tg.conv2d, tg.mse_loss"


_LAYERS = 10
_OPS = 3 * _LAYERS


def _ops(np, tg, torch):
    """Two step functions of a chain of tiny ops, where only per-op costs count."""
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((8, 8)).astype(np.float32) for _ in range(2 * _LAYERS)]
    x = rng.standard_normal((8, 8)).astype(np.float32)
    tp = [tg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    pp = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    tx, px = tg.Tensor(x), torch.tensor(x)

    def step(lib, params, h):
        for p in params:
            p.grad = None
        for w, b in zip(params[::2], params[1::2]):
            h = lib.tanh(h * w + b)
        loss = h.sum()
        loss.backward()
        return loss

    return (lambda: step(tg, tp, tx)), (lambda: step(torch, pp, px)), tp, pp, "*, +, tanh, sum"


def _check(step_tg, step_torch, tp, pp, np) -> str:
    """Same loss and gradients on both sides, to 1e-4; returns a one-line summary."""
    lt, lp = float(step_tg().item()), float(step_torch().item())
    worst = abs(lt - lp) / max(abs(lp), 1e-12)
    for a, b in zip(tp, pp):
        g, h = a.grad.detach().numpy(), b.grad.numpy()
        np.testing.assert_allclose(g, h, rtol=1e-4, atol=1e-5, err_msg="gradients differ")
        worst = max(worst, float(np.max(np.abs(g - h)) / max(np.max(np.abs(h)), 1e-12)))
    if abs(lt - lp) > 1e-4 * max(abs(lp), 1.0):
        raise AssertionError(f"losses differ: tapegrad {lt} vs torch {lp}")
    return f"same loss ({lt:.6f}) and gradients (max rel. diff {worst:.1e})"


def _run(name, step_tg, step_torch, tp, pp, uses, args, np, ops=0) -> None:
    import time

    print(f"  {name}  [{uses}]")
    print(f"    check: {_check(step_tg, step_torch, tp, pp, np)}")
    for _ in range(args.warmup):
        step_tg()
        step_torch()
    clock, cpu = time.perf_counter, time.process_time
    a_ms, b_ms, a_cpu, b_cpu = [], [], [], []
    for _ in range(args.pairs):
        t0, c0 = clock(), cpu()
        for _ in range(args.inner):
            step_tg()
        t1, c1 = clock(), cpu()
        for _ in range(args.inner):
            step_torch()
        t2, c2 = clock(), cpu()
        a_ms.append((t1 - t0) * 1e3 / args.inner)
        b_ms.append((t2 - t1) * 1e3 / args.inner)
        a_cpu.append((c1 - c0) * 1e3 / args.inner)
        b_cpu.append((c2 - c1) * 1e3 / args.inner)
    a, b = np.array(a_ms), np.array(b_ms)
    ratio = a / b
    q1, q3 = np.percentile(ratio, [25, 75])
    print(
        f"    tapegrad {np.median(a):.3f} ms/step   torch {np.median(b):.3f} ms/step   "
        f"ratio tapegrad/torch {np.median(ratio):.2f} (IQR {q1:.2f}-{q3:.2f}, "
        f"{args.pairs} pairs x {args.inner} steps)"
    )
    # CPU time of the process (all its threads): steadier than wall time on a
    # loaded machine, where other processes take turns on the cores.
    a, b = np.array(a_cpu), np.array(b_cpu)
    ratio = a / b
    q1, q3 = np.percentile(ratio, [25, 75])
    print(
        f"    CPU time: tapegrad {np.median(a):.3f} ms/step   torch {np.median(b):.3f} ms/step"
        f"   ratio {np.median(ratio):.2f} (IQR {q1:.2f}-{q3:.2f})"
    )
    if ops:
        print(
            f"    per op (forward + backward, CPU time): tapegrad "
            f"{np.median(a) * 1e3 / ops:.2f} us   torch {np.median(b) * 1e3 / ops:.2f} us"
        )


# ------------------------------------------------------------- profiling
def _profile(np, tg, torch) -> None:
    """cProfile of the tapegrad MLP step, and NumPy floors for the same step."""
    import cProfile
    import pstats
    import time

    step_tg, _, tp, _, uses = _mlp(np, tg, torch)
    for _ in range(50):
        step_tg()
    n = 500
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        step_tg()
    prof.disable()
    print(f"cProfile of {n} tapegrad MLP steps [{uses}], by own time:")
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(22)

    # The same step with hand-written NumPy: the compute floor under the framework.
    rng = np.random.default_rng(0)
    ws = [p.detach().numpy() for p in tp[0::2]]
    bs = [p.detach().numpy() for p in tp[1::2]]
    x = rng.standard_normal((64, 784)).astype(np.float32)
    y = (rng.random((64, 1)) < 0.5).astype(np.float32)

    def gemms_only():
        h1 = x @ ws[0].T
        h2 = h1 @ ws[1].T
        o = h2 @ ws[2].T
        ws[2].T @ o.T  # shapes of the six backward/forward products, roughly
        g2 = o @ ws[2]
        g2.T @ h1
        g1 = g2 @ ws[1]
        g1.T @ x
        return h2

    def numpy_step():
        z1 = x @ ws[0].T + bs[0]
        h1 = np.maximum(z1, 0)
        z2 = h1 @ ws[1].T + bs[1]
        h2 = np.maximum(z2, 0)
        z3 = h2 @ ws[2].T + bs[2]
        e = np.exp(-np.abs(z3))
        loss = (np.maximum(z3, 0) - z3 * y + np.log1p(e)).mean()
        sig = np.where(z3 >= 0, 1, e) / (1 + e)
        g3 = (sig - y) * np.float32(1 / z3.size)
        dw3, db3 = g3.T @ h2, g3.sum(0)
        g2 = (g3 @ ws[2]) * (z2 > 0)
        dw2, db2 = g2.T @ h1, g2.sum(0)
        g1 = (g2 @ ws[1]) * (z1 > 0)
        dw1, db1 = g1.T @ x, g1.sum(0)
        return loss, dw1, db1, dw2, db2, dw3, db3

    def med_ms(fn, reps=300):
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return 1e3 * float(np.median(ts))

    for _ in range(50):
        gemms_only()
        numpy_step()
        step_tg()
    print(f"GEMMs alone (6 products of the step):   {med_ms(gemms_only):.3f} ms")
    print(f"hand-written NumPy step (all compute):  {med_ms(numpy_step):.3f} ms")
    print(f"tapegrad step:                          {med_ms(step_tg):.3f} ms")


if __name__ == "__main__":
    main()
