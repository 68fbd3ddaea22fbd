"""Time six training workloads (five GAN and CNN steps, an LSTM) in tapegrad and in PyTorch, side
by side, on the CPU.

Workloads (float32; mlp_gan_b64, mlp_gan_b512, dcgan28, cnn, wgan_gp, lstm): their models,
inputs and steps are in workload_defs.py, described in benchmarks/README.md.

The models and the training steps are written once, against a small adapter
(:class:`Framework`) over ``torch.nn`` / ``tapegrad.nn`` (same names), so both sides run
the same architecture and wiring. PyTorch initialises the weights, tapegrad loads them with
``load_state_dict``, and both consume the same pre-generated NumPy inputs.

For each workload and thread count the script (1) checks that one iteration from identical
weights gives the same losses and parameters (to 1e-4) and skips the workload if not,
(2) times interleaved A/B pairs (tapegrad block, PyTorch block, ...) after a warm-up,
(3) converts the median times into GFLOP/s of matmul/conv work counted analytically and into
a percentage of NumPy's float32 GEMM peak measured in the same process, and (4) measures the
peak memory of each side in fresh subprocesses (``--no-memory`` skips it). For every GAN
workload and cnn it also checks and times a hand-written NumPy step (numpy_step.py),
interleaved with tapegrad. See benchmarks/README.md for the methods.

The BLAS thread count is fixed when NumPy is imported, so the script re-executes itself once
per thread count with OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS set (and calls
``torch.set_num_threads``).

Usage::

    python benchmarks/gan_workloads.py                         # 1 and 2 threads, all
    python benchmarks/gan_workloads.py --threads 1 --pairs 15 --only dcgan28,cnn
    python benchmarks/gan_workloads.py --quick --no-memory     # smoke test
    python benchmarks/gan_workloads.py --profile dcgan28       # cProfile of tapegrad
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from numpy_step import WORKLOADS as NUMPY_STEP_WORKLOADS  # noqa: E402
from numpy_step import run_numpy_step  # noqa: E402
from workload_defs import (  # noqa: E402 - the script's folder is on the path only now
    BATCH,
    WORKLOADS,
    Side,
    build_pair,
    build_side,
    iteration_flops,
)

# The targets we hold ourselves to: the median time ratio tapegrad / PyTorch, and peak memory.
TARGETS = {
    "mlp_gan_b64": 0.80, "mlp_gan_b512": 1.0, "dcgan28": 1.25, "cnn": 1.25, "wgan_gp": 0.90,
    "lstm": 1.5,
}  # fmt: skip
MEM_TARGET = 1.3
TOL = 1e-4  # parameters after one iteration, absolute; losses, relative to max(1, |loss|)
SAMPLE_S = 0.25  # seconds per timed sample when --inner is automatic


def max_abs_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> tuple[float, str]:
    """Largest absolute difference over the common entries of two states, and its key.

    NaN counts as infinitely different; entries of different shapes count as ``inf``.
    """
    worst, worst_key = 0.0, ""
    for k in sorted(set(a) & set(b)):
        x, y = a[k].astype(np.float64), b[k].astype(np.float64)
        if x.shape != y.shape:
            d = float("inf")
        else:
            d = float(np.max(np.abs(x - y))) if x.size else 0.0
            d = float("inf") if np.isnan(d) else d
        if d > worst:
            worst, worst_key = d, k
    return worst, worst_key


def compare(tg: Side, pt: Side, tol: float = TOL) -> dict[str, Any]:
    """Run one iteration on each side and compare losses and every parameter and buffer.

    Returns a dict: ``ok``, ``losses`` (tapegrad, torch pairs), ``max_loss_diff`` (relative
    to max(1, |loss|)), ``max_param_diff`` (max absolute difference over all parameters and
    buffers after the update), ``worst`` (where), ``states`` (both states after the
    iteration) and ``message`` (why it failed, or "").
    """
    before = pt.state()
    lt = [float(v.item()) for v in tg.step()]
    lp = [float(v.item()) for v in pt.step()]
    st, sp = tg.state(), pt.state()
    msgs = []
    if set(st) != set(sp):
        msgs.append(f"state keys differ: {sorted(set(st) ^ set(sp))}")
    worst, worst_key = max_abs_diff(st, sp)
    if not worst <= tol:
        msgs.append(f"parameters differ after one iteration: max |diff| {worst:.2e} at {worst_key}")
    loss_diff = max(abs(a - b) / max(1.0, abs(b)) for a, b in zip(lt, lp))
    if not loss_diff <= tol:
        msgs.append(f"losses differ: tapegrad {lt} vs torch {lp}")
    # Every model must change in the PyTorch iteration, or the step is miswired. (Single
    # entries may legitimately stay: WGAN's critic loss does not depend on D's last bias.)
    frozen = [
        m
        for m in pt.models
        if all(np.array_equal(v, before[k]) for k, v in sp.items() if k.startswith(m + "."))
    ]
    if frozen:
        msgs.append(f"not updated by the PyTorch iteration: {frozen}")
    return {
        "ok": not msgs,
        "losses": list(zip(lt, lp)),
        "max_loss_diff": loss_diff,
        "max_param_diff": worst,
        "worst": worst_key,
        "states": (st, sp),
        "message": "; ".join(msgs),
    }


def check_workload(name: str, batch: int | None = None, seed: int = 0) -> dict[str, Any]:
    """The correctness check before timing: one iteration from identical weights and inputs.

    Runs it in float32 (the timed precision) and in float64 on both sides, dropout off.
    Passes if the float32 check holds (parameters to 1e-4, losses to 1e-4 relative), or, if
    not, when the float64 check holds and tapegrad's float32 parameters are within 1e-4 of
    the float64 result, i.e. the float32 difference is PyTorch's rounding, not tapegrad's
    (PyTorch's float32 CPU batch-norm backward is off by up to ~4e-3 relative in dcgan28,
    and Adam's first step, about ``lr * sign(grad)``, turns a sign change of a small gradient
    into a 2 * lr difference). Returns a JSON-ready dict; ``sides`` holds the float32 sides.
    """
    tg, pt = build_pair(name, batch, seed=seed, dropout=False)
    r32 = compare(tg, pt)
    r64 = compare(*build_pair(name, batch, seed=seed, dropout=False, dtype="float64"))
    ref = r64["states"][1]
    tg_ref = max_abs_diff(r32["states"][0], ref)
    pt_ref = max_abs_diff(r32["states"][1], ref)
    ok = r32["ok"] or (r64["ok"] and tg_ref[0] <= TOL)
    out: dict[str, Any] = {"ok": ok, "sides": (tg, pt)}
    for tag, r in (("float32", r32), ("float64", r64)):
        out[tag] = {k: v for k, v in r.items() if k != "states"}
    out["float32_vs_float64_ref"] = {"tapegrad": tg_ref, "torch": pt_ref}
    if not ok:
        out["message"] = f"float32: {r32['message']}; float64: {r64['message'] or 'ok'}"
    return out


def describe_check(chk: dict[str, Any]) -> str:
    """Two or three lines saying what :func:`check_workload` found."""
    c32, c64 = chk["float32"], chk["float64"]
    losses = ", ".join(f"{a:.6f}/{b:.6f}" for a, b in c32["losses"])
    tg_ref, pt_ref = (
        chk["float32_vs_float64_ref"]["tapegrad"],
        chk["float32_vs_float64_ref"]["torch"],
    )
    lines = [
        f"check {'ok' if chk['ok'] else 'FAILED'}: float32 losses tg/torch {losses}; max |param "
        f"diff| float32 {c32['max_param_diff']:.1e} ({c32['worst'] or '-'}), float64 "
        f"{c64['max_param_diff']:.1e} ({c64['worst'] or '-'})",
        f"float32 vs the float64 result: tapegrad {tg_ref[0]:.1e} ({tg_ref[1] or '-'}), "
        f"torch {pt_ref[0]:.1e} ({pt_ref[1] or '-'})",
    ]
    if chk["ok"] and not c32["ok"]:
        lines.append(
            "float32 sides differ by more than 1e-4, but tapegrad's float32 result is within "
            "1e-4 of the float64 one: accepted (the difference is PyTorch's float32 rounding)"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------ memory
def _status_kb(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field_name}")


def measure_memory(name: str, framework: str, iters: int, warmup: int = 2) -> dict[str, Any]:
    """Peak RSS growth of ``iters`` iterations of one side, in this process (Linux).

    Builds the side with the framework's own initialisation, runs ``warmup`` iterations,
    reads VmRSS, resets VmHWM (``5`` to /proc/self/clear_refs), runs ``iters`` iterations
    and returns VmHWM minus that RSS in MB, with the RSS values themselves.
    """
    rss_start = _status_kb("VmRSS")
    side = build_side(name, framework)
    rss_built = _status_kb("VmRSS")
    for _ in range(warmup):
        side.step()
    rss_before = _status_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    hwm_reset = _status_kb("VmHWM")
    for _ in range(iters):
        side.step()
    hwm = _status_kb("VmHWM")
    return {
        "peak_mb": (hwm - rss_before) / 1024,
        "rss_import_mb": rss_start / 1024,
        "rss_built_mb": rss_built / 1024,
        "rss_before_mb": rss_before / 1024,
        "hwm_mb": hwm / 1024,
        "hwm_reset_ok": abs(hwm_reset - rss_before) < 4096,
        "iters": iters,
        "torch_imported": "torch" in sys.modules,
    }


def _memory_in_subprocess(name: str, framework: str, iters: int) -> dict[str, Any]:
    # glibc keeps freed heap memory and raises its mmap threshold after large frees, so the
    # RSS before the timed iterations would include last iteration's temporaries; a fixed
    # threshold makes large arrays mmap'ed and returned at free on both sides.
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", MALLOC_TRIM_THRESHOLD_="131072")
    cmd = [sys.executable, os.path.abspath(__file__), "--mem-child", name]
    cmd += ["--framework", framework, "--mem-iters", str(iters)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ timing
def gemm_peak_gflops(n: int = 1024, reps: int = 5) -> float:
    """Best-of-``reps`` float32 NumPy GEMM rate (n x n x n) in GFLOP/s, this process."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    np.matmul(a, b, out=out)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def blas_info() -> dict[str, Any]:
    """NumPy's BLAS library, version, kernel (threadpoolctl's "architecture") and threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {"error": "threadpoolctl is not installed (pip install threadpoolctl)"}
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
            return {k: lib.get(k) for k in keys}
    return {"error": "no BLAS library found by threadpoolctl"}


def describe_blas(info: dict[str, Any]) -> str:
    """One line: ``openblas 0.3.31 (kernel SkylakeX, 1 thread)``."""
    if "error" in info:
        return info["error"]
    return (
        f"{info['internal_api']} {info['version']} (kernel {info['architecture']}, "
        f"{info['num_threads']} thread{'s' if info['num_threads'] != 1 else ''})"
    )


def time_pair(tg: Side, pt: Side, pairs: int, inner: int, warmup: int) -> dict[str, Any]:
    """Interleaved timing: per pair, ``inner`` tapegrad iterations then ``inner`` PyTorch.

    ``inner <= 0`` picks it from the warm-up: about SAMPLE_S seconds per sample for the
    slower side (1 to 50 iterations). Returns the per-sample ms per iteration of each side
    and the summary statistics.
    """
    clock = time.perf_counter
    spent = [0.0, 0.0]
    for _ in range(max(warmup, 1 if inner <= 0 else 0)):
        for j, side in enumerate((tg, pt)):
            t0 = clock()
            side.step()
            spent[j] = clock() - t0  # the last warm-up iteration, the least disturbed
    if inner <= 0:
        inner = int(min(max(round(SAMPLE_S / max(spent)), 1), 50))
    a_ms, b_ms = [], []
    # CPU time of this process too: on a shared machine a neighbour's load stretches
    # the wall time of whichever side it hits, but not the CPU time each side uses.
    a_cpu, b_cpu = [], []
    cpu = time.process_time
    for _ in range(pairs):
        t0, c0 = clock(), cpu()
        for _ in range(inner):
            tg.step()
        t1, c1 = clock(), cpu()
        for _ in range(inner):
            pt.step()
        t2, c2 = clock(), cpu()
        a_ms.append((t1 - t0) * 1e3 / inner)
        b_ms.append((t2 - t1) * 1e3 / inner)
        a_cpu.append((c1 - c0) * 1e3 / inner)
        b_cpu.append((c2 - c1) * 1e3 / inner)
    a, b = np.array(a_ms), np.array(b_ms)
    ratio = a / b
    q1, q3 = np.percentile(ratio, [25, 75])
    cpu_ratio = np.array(a_cpu) / np.maximum(np.array(b_cpu), 1e-9)
    return {
        "cpu_ratio": float(np.median(cpu_ratio)),
        "cpu_ratio_iqr": [float(v) for v in np.percentile(cpu_ratio, [25, 75])],
        "tapegrad_cpu_ms": float(np.median(a_cpu)),
        "torch_cpu_ms": float(np.median(b_cpu)),
        "tapegrad_ms": float(np.median(a)),
        "torch_ms": float(np.median(b)),
        "ratio": float(np.median(ratio)),
        "ratio_iqr": [float(q1), float(q3)],
        "samples_tapegrad_ms": a_ms,
        "samples_torch_ms": b_ms,
        "pairs": pairs,
        "inner": inner,
    }


def run_workload(name: str, args: argparse.Namespace, peak: float) -> dict[str, Any]:
    """Check, time and (unless --no-memory) measure the memory of one workload."""
    res: dict[str, Any] = {"batch": BATCH[name], "target_ratio": TARGETS[name]}
    print(f"  {name} (batch {BATCH[name]})", flush=True)
    chk = check_workload(name)
    tg, pt = chk.pop("sides")
    res["check"] = chk
    print("    " + describe_check(chk).replace("\n", "\n    "), flush=True)
    if not chk["ok"]:
        print(f"    CHECK FAILED, workload skipped: {chk['message']}", flush=True)
        res["status"] = "check failed"
        return res
    tg.set_dropout(True)
    pt.set_dropout(True)
    tm = time_pair(tg, pt, args.pairs, args.inner, args.warmup)
    res.update(tm)
    if name == "lstm":  # PyTorch's LSTMCell in a Python loop, same weights, for reference
        cell = build_side(name, "torch_lstmcell", state=pt.state())
        tc = time_pair(tg, cell, args.pairs, args.inner, args.warmup)
        res["vs_lstmcell"] = {k: v for k, v in tc.items() if not k.startswith("samples")}
        print(
            f"    PyTorch LSTMCell loop {tc['torch_ms']:.3f} ms/it; tapegrad / LSTMCell loop "
            f"{tc['ratio']:.2f} (IQR {tc['ratio_iqr'][0]:.2f}-{tc['ratio_iqr'][1]:.2f}), CPU "
            f"time {tc['cpu_ratio']:.2f}",
            flush=True,
        )
        del cell
    if name in NUMPY_STEP_WORKLOADS:  # the floor where NumPy's BLAS is slower than PyTorch's
        tp = functools.partial(time_pair, pairs=args.pairs, inner=args.inner, warmup=args.warmup)
        res["numpy_step"] = run_numpy_step(name, tg, pt, tp)
    flops = iteration_flops(name)
    res["gflop_per_iter"] = flops / 1e9
    res["tapegrad_gflops"] = flops / tm["tapegrad_ms"] / 1e6
    res["torch_gflops"] = flops / tm["torch_ms"] / 1e6
    res["tapegrad_pct_peak"] = 100 * res["tapegrad_gflops"] / peak
    res["torch_pct_peak"] = 100 * res["torch_gflops"] / peak
    q1, q3 = tm["ratio_iqr"]
    print(
        f"    tapegrad {tm['tapegrad_ms']:.3f} ms/it   torch {tm['torch_ms']:.3f} ms/it   "
        f"ratio {tm['ratio']:.2f} (IQR {q1:.2f}-{q3:.2f}; target <= {TARGETS[name]}; "
        f"{args.pairs} pairs x {tm['inner']} it)",
        flush=True,
    )
    c1, c3 = tm["cpu_ratio_iqr"]
    print(
        f"    CPU time: tapegrad {tm['tapegrad_cpu_ms']:.3f} ms/it   torch "
        f"{tm['torch_cpu_ms']:.3f} ms/it   ratio {tm['cpu_ratio']:.2f} (IQR {c1:.2f}-{c3:.2f})",
        flush=True,
    )
    print(
        f"    {flops / 1e9:.4f} GFLOP/it: tapegrad {res['tapegrad_gflops']:.2f} GFLOP/s "
        f"({res['tapegrad_pct_peak']:.0f}% of peak), torch {res['torch_gflops']:.2f} GFLOP/s "
        f"({res['torch_pct_peak']:.0f}%)",
        flush=True,
    )
    del tg, pt
    if not args.no_memory:
        mem = {f: _memory_in_subprocess(name, f, args.mem_iters) for f in ("tapegrad", "torch")}
        res["memory"] = mem
        if "error" in mem["tapegrad"] or "error" in mem["torch"]:
            print(f"    memory: failed: {mem}", flush=True)
        else:
            a, b = mem["tapegrad"]["peak_mb"], mem["torch"]["peak_mb"]
            res["mem_ratio"] = a / b if b > 0 else float("nan")
            print(
                f"    peak memory over {args.mem_iters} it: tapegrad {a:.1f} MB, torch "
                f"{b:.1f} MB, ratio {res['mem_ratio']:.2f} (target <= {MEM_TARGET}); "
                f"RSS before: {mem['tapegrad']['rss_before_mb']:.0f} / "
                f"{mem['torch']['rss_before_mb']:.0f} MB",
                flush=True,
            )
    res["status"] = "ok"
    return res


# ------------------------------------------------------------------ profile
#: Where a profiled function's own time is counted, by the file it is in.
_CATEGORIES = (
    ("ops/conv", "convolution, pooling (GEMMs, im2col/col2im copies)"),
    ("ops/pooling.py", "convolution, pooling (GEMMs, im2col/col2im copies)"),
    ("ops/linalg.py", "linear layers, matmul (GEMMs)"),
    ("ops/norm.py", "batch norm"),
    ("optim/", "optimizer"),
    ("ops/", "elementwise, activations, losses, reductions, shapes"),
    ("autograd/", "engine, tensors, modules (Python overhead)"),
    ("tensor.py", "engine, tensors, modules (Python overhead)"),
    ("nn/", "engine, tensors, modules (Python overhead)"),
)


def _category(filename: str) -> str:
    for key, cat in _CATEGORIES:
        if "tapegrad/" in filename and key in filename:
            return cat
    return "other (the benchmark's step, NumPy's Python helpers)"


def time_by_category(stats: Any) -> dict[str, float]:
    """Seconds of CPU time per category. A C function's (NumPy's) own time goes to its
    callers' categories in proportion to the time each caller spent in it."""
    out: dict[str, float] = {}
    for func, (_cc, _nc, tt, _ct, callers) in stats.stats.items():
        filename = func[0]
        if filename != "~":
            cat = _category(filename)
            out[cat] = out.get(cat, 0.0) + tt
            continue
        total = sum(v[2] for v in callers.values()) or 1.0
        for caller, v in callers.items():
            cat = _category(caller[0])
            out[cat] = out.get(cat, 0.0) + tt * v[2] / total
    return out


def profile(name: str, seconds: float = 4.0) -> None:
    """cProfile (CPU time) of tapegrad iterations of ``name`` (tapegrad's own init, no
    torch): the share of each part of the library, then the top functions."""
    import cProfile
    import pstats

    side = build_side(name, "tapegrad")
    for _ in range(3):
        side.step()
    clock = time.process_time  # a busy neighbour does not stretch CPU time
    t0 = clock()
    k = 0
    while clock() - t0 < 1.0 or k < 3:
        side.step()
        k += 1
    per_it = (clock() - t0) / k
    n = int(min(max(seconds / per_it, 5), 500))
    prof = cProfile.Profile(clock)
    t0 = clock()
    prof.enable()
    for _ in range(n):
        side.step()
    prof.disable()
    t_prof = (clock() - t0) / n
    print(
        f"{name}: tapegrad {per_it * 1e3:.3f} ms/it of CPU time without the profiler "
        f"({t_prof * 1e3:.3f} ms/it under it); cProfile of {n} iterations."
    )
    stats = pstats.Stats(prof, stream=sys.stdout)
    cats = time_by_category(stats)
    total = sum(cats.values()) or 1.0
    print("  share of the profiled CPU time:")
    for cat, sec in sorted(cats.items(), key=lambda kv: -kv[1]):
        print(f"    {100 * sec / total:5.1f}%  {sec / n * 1e3:8.3f} ms/it  {cat}")
    print("  top 25 functions by own time:")
    stats.sort_stats("tottime").print_stats(25)


# ------------------------------------------------------------------ driver
def _parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--pairs", type=int, default=30, help="timed A/B pairs per workload")
    ap.add_argument(
        "--inner",
        type=int,
        default=0,
        help=f"iterations per timed sample (default 0: about {SAMPLE_S} s per sample)",
    )
    ap.add_argument("--warmup", type=int, default=5, help="untimed iterations per side first")
    ap.add_argument("--only", help=f"comma-separated subset of {','.join(WORKLOADS)}")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory runs")
    ap.add_argument("--mem-iters", type=int, default=5, help="iterations of the memory runs")
    ap.add_argument("--json", help="write all results to this file (atomically)")
    ap.add_argument("--quick", action="store_true", help="3 pairs x 2 it, for smoke tests")
    ap.add_argument("--profile", metavar="WORKLOAD", help="cProfile tapegrad iterations")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child-json", help=argparse.SUPPRESS)
    ap.add_argument("--mem-child", help=argparse.SUPPRESS)
    ap.add_argument("--profile-child", help=argparse.SUPPRESS)
    ap.add_argument("--framework", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.quick:
        args.pairs, args.inner, args.warmup, args.mem_iters = 3, 2, 1, 2
    names = WORKLOADS if not args.only else tuple(s.strip() for s in args.only.split(","))
    for n in names + ((args.profile,) if args.profile else ()):
        if n not in WORKLOADS:
            ap.error(f"unknown workload {n!r}; choose from {', '.join(WORKLOADS)}")
    args.names = names
    return args


def _set_threads(t: int) -> None:
    for v in THREAD_VARS:  # already set by the parent; repeated for a direct child run
        os.environ[v] = str(t)


#: Environment variables that change BLAS or allocator behaviour, recorded with each run.
_ENV_REPORTED = (
    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "MALLOC_ARENA_MAX", "LD_PRELOAD", "TAPEGRAD_NUMBA"
)  # fmt: skip


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _child(args: argparse.Namespace) -> None:
    import torch

    import tapegrad
    from tapegrad.ops.compiled import numba_status

    torch.set_num_threads(args.child)
    peak = gemm_peak_gflops()
    blas = blas_info()
    cpu = _cpu_model()
    numba = numba_status()
    print(
        f"CPU: {cpu}; NumPy BLAS: {describe_blas(blas)}; tapegrad's Numba kernels: {numba}",
        flush=True,
    )
    print(
        f"threads={args.child}  (numpy {np.__version__}, torch {torch.__version__}, tapegrad "
        f"{getattr(tapegrad, '__version__', '?')}, python {platform.python_version()}, "
        f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.2f}); "
        f"NumPy sgemm 1024^3 peak {peak:.1f} GFLOP/s",
        flush=True,
    )
    run = {"threads": args.child, "gemm_peak_gflops": peak, "load_avg": os.getloadavg()}
    run.update(blas=blas, cpu=cpu, numba=numba, env={v: os.environ.get(v) for v in _ENV_REPORTED})
    run["workloads"] = {name: run_workload(name, args, peak) for name in args.names}
    run["load_avg_end"] = os.getloadavg()
    if args.child_json:
        with open(args.child_json, "w") as f:
            json.dump(run, f)


def _fmt_row(name: str, r: dict[str, Any]) -> str:
    if r.get("status") != "ok":
        return f"| {name} | {r.get('status', '?')} | | | | | | | | | |"
    q1, q3 = r["ratio_iqr"]
    mem = r.get("memory", {})
    if "mem_ratio" in r:
        mb = f"{mem['tapegrad']['peak_mb']:.1f} / {mem['torch']['peak_mb']:.1f}"
        mr = f"{r['mem_ratio']:.2f}"
    else:
        mb, mr = "-", "-"
    ns = r.get("numpy_step")
    npc = (
        f"{ns['cpu_ratio']:.2f} ({ns['cpu_ratio_iqr'][0]:.2f}-{ns['cpu_ratio_iqr'][1]:.2f})"
        if ns
        else "-"
    )
    return (
        f"| {name} | {r['tapegrad_ms']:.2f} | {r['torch_ms']:.2f} | "
        f"{r['ratio']:.2f} ({q1:.2f}-{q3:.2f}) | {r['cpu_ratio']:.2f} | <= {r['target_ratio']} | "
        f"{npc} | "
        f"{r['tapegrad_gflops']:.1f} / {r['torch_gflops']:.1f} | "
        f"{r['tapegrad_pct_peak']:.0f} / {r['torch_pct_peak']:.0f} | {mb} | {mr} |"
    )


def summary_table(runs: list[dict[str, Any]]) -> str:
    """The final Markdown table, one block per thread count."""
    lines = []
    for run in runs:
        blas = describe_blas(run.get("blas", {"error": "BLAS not recorded"}))
        lines.append(
            f"\nthreads={run['threads']} (CPU {run.get('cpu', '?')}; NumPy BLAS {blas}; "
            f"Numba kernels {run.get('numba', '?')}; sgemm "
            f"peak {run['gemm_peak_gflops']:.1f} GFLOP/s; memory target: ratio <= {MEM_TARGET})\n"
        )
        lines.append(
            "| workload | tapegrad ms | torch ms | ratio (IQR) | CPU-time ratio | target "
            "| CPU-time tg / NumPy step (IQR) "
            "| GFLOP/s tg / torch "
            "| % peak tg / torch | peak MB tg / torch | mem ratio |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        lines += [_fmt_row(n, r) for n, r in run["workloads"].items()]
    return "\n".join(lines)


def _write_json_atomic(path: str, obj: Any) -> None:
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".gan_workloads.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would carry over to the result
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    """Parse options; run one child per thread count (or the profile); print the summary.

    Returns the results dict (also written to ``--json``), or None for a child or profile.
    """
    argv = sys.argv[1:] if argv is None else argv
    args = _parse(argv)
    if args.profile_child:  # a process that imports tapegrad only
        profile(args.profile_child)
        assert "torch" not in sys.modules, "the profiled process imported torch"
        return None
    if args.mem_child:
        print(json.dumps(measure_memory(args.mem_child, args.framework, args.mem_iters)))
        return None
    if args.child is not None:
        _set_threads(args.child)
        _child(args)
        return None
    counts = [int(t) for t in args.threads.split(",")]
    if args.profile:
        counts = counts[:1]
    runs = []
    for t in counts:
        env = dict(os.environ, **{v: str(t) for v in THREAD_VARS})
        cmd = [sys.executable, os.path.abspath(__file__)]
        if args.profile:
            subprocess.run(cmd + ["--profile-child", args.profile], env=env, check=True)
            return None
        fd, child_json = tempfile.mkstemp(prefix="gan_workloads.", suffix=".json")
        os.close(fd)
        cmd += ["--child", str(t), "--child-json", child_json, "--pairs", str(args.pairs)]
        cmd += ["--inner", str(args.inner), "--warmup", str(args.warmup)]
        cmd += ["--mem-iters", str(args.mem_iters), "--only", ",".join(args.names)]
        if args.no_memory:
            cmd += ["--no-memory"]
        sys.stdout.flush()
        try:
            subprocess.run(cmd, env=env, check=True)
            with open(child_json) as f:
                runs.append(json.load(f))
        finally:
            os.unlink(child_json)
    print(summary_table(runs), flush=True)
    results = {
        "meta": {
            "argv": argv,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "targets": TARGETS,
            "mem_target": MEM_TARGET,
        },
        "runs": runs,
    }
    if args.json:
        _write_json_atomic(args.json, results)
    failed = [n for run in runs for n, r in run["workloads"].items() if r["status"] != "ok"]
    if failed:
        print(f"\ncheck failed for: {', '.join(sorted(set(failed)))}", flush=True)
    return results


if __name__ == "__main__":
    results = main()
    if results is not None and any(
        r["status"] != "ok" for run in results["runs"] for r in run["workloads"].values()
    ):
        sys.exit(1)
