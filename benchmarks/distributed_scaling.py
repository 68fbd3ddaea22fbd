"""Measure what data-parallel GAN training costs here, and project it to clusters.

Run on two ranks (one thread each)::

    OPENBLAS_NUM_THREADS=1 mpiexec -n 2 python benchmarks/distributed_scaling.py

It measures, for the MLP GAN and the DCGAN of ``tapegrad.gan`` (MNIST shapes):

- the compute time of one training step (a D update and a G update, Adam) at a
  per-rank batch, split into forward + optimizer and the two backward passes,
  both ranks computing at once as they do in training (median over steps);
- the same step with both models wrapped in ``DistributedDataParallel`` on the
  two ranks, so the exposed communication is the difference;
- ``MPI_Allreduce`` time over message sizes from 0.25 to 16 MB, fitted to
  ``t = a + s * MB`` (s is the time per megabyte, a the fixed cost).

Then it projects the step time for 8, 64 and 512 ranks with the ring all-reduce
cost model ``T(p) = 2 (p - 1) / p * bytes / bandwidth + 2 (p - 1) * latency`` per
bucket, for 25 Gb/s (latency 15 us, TCP Ethernet) and 100 Gb/s (latency 3 us,
RDMA) networks, weak scaling (fixed per-rank batch): no overlap
``t = compute + T``, and full overlap ``t = compute - backward + max(backward, T)``.
It prints the per-rank batch at which the backward passes take as long as the
all-reduce (communication can hide behind backward from there on).
``--json PATH`` writes everything (rank 0).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

import tapegrad as tg
import tapegrad.distributed as dist
from tapegrad.gan.losses import get_loss
from tapegrad.gan.models import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
)
from tapegrad.nn.parallel import DistributedDataParallel
from tapegrad.optim import Adam

NETWORKS = {"25 Gb/s": (25e9 / 8, 15e-6), "100 Gb/s": (100e9 / 8, 3e-6)}
RANKS = (8, 64, 512)
BUCKET_MB = 25.0


def _models(name: str) -> tuple[tg.nn.Module, tg.nn.Module]:
    tg.manual_seed(0)
    if name == "mlp":
        return MLPGenerator(100, (1, 28, 28)), MLPDiscriminator((1, 28, 28))
    return DCGANGenerator(100, (1, 28, 28)), DCGANDiscriminator((1, 28, 28))


def _step_times(name: str, batch: int, steps: int, parallel: bool) -> dict[str, float]:
    """Median seconds of a GAN step and of its two backward passes."""
    G, D = _models(name)
    g, d = (DistributedDataParallel(G), DistributedDataParallel(D)) if parallel else (G, D)
    loss = get_loss("ns")
    opt_g, opt_d = Adam(G.parameters(), lr=2e-4), Adam(D.parameters(), lr=2e-4)
    rng = np.random.default_rng(dist.get_rank())
    total, backward = [], []
    for _ in range(steps + 1):  # the first step warms up
        real = tg.Tensor(rng.uniform(-1, 1, (batch, 1, 28, 28)).astype(np.float32))
        z = tg.Tensor(rng.standard_normal((batch, 100)).astype(np.float32))
        dist.barrier()
        t0 = time.perf_counter()
        fake = g(z)
        loss_d = loss.d_loss(d(real), d(fake.detach()))
        opt_d.zero_grad()
        b0 = time.perf_counter()
        loss_d.backward()
        bwd = time.perf_counter() - b0
        opt_d.step()
        for p in D.parameters():
            p.requires_grad_(False)
        loss_g = loss.g_loss(d(fake))
        for p in D.parameters():
            p.requires_grad_(True)
        opt_g.zero_grad()
        b0 = time.perf_counter()
        loss_g.backward()
        bwd += time.perf_counter() - b0
        opt_g.step()
        total.append(time.perf_counter() - t0)
        backward.append(bwd)
    return {"step_s": float(np.median(total[1:])), "backward_s": float(np.median(backward[1:]))}


def _allreduce(sizes_mb: tuple[float, ...], reps: int) -> dict[str, float]:
    from mpi4py import MPI

    comm = dist.comm()
    times = []
    for mb in sizes_mb:
        buf = np.ones(int(mb * 1e6 / 4), np.float32)
        comm.Allreduce(MPI.IN_PLACE, buf)
        ts = []
        for _ in range(reps):
            comm.Barrier()
            t0 = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf)
            ts.append(time.perf_counter() - t0)
        times.append(float(np.median(ts)))
    slope, fixed = np.polyfit(np.array(sizes_mb), np.array(times), 1)
    one = np.ones(1, np.float32)
    ts = []
    for _ in range(200):
        t0 = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, one)
        ts.append(time.perf_counter() - t0)
    return {
        "sizes_mb": list(sizes_mb),
        "seconds": times,
        "s_per_mb": float(slope),
        "fixed_s": float(fixed),
        "latency_s": float(np.median(ts)),
    }


def ring_seconds(nbytes: float, p: int, bandwidth: float, latency: float, buckets: int) -> float:
    """The ring all-reduce cost model for ``nbytes`` in ``buckets`` messages on ``p`` ranks."""
    return 2 * (p - 1) / p * nbytes / bandwidth + buckets * 2 * (p - 1) * latency


def _project(name: str, nbytes: dict[str, int], comp: dict[str, float], batch: int) -> list:
    rows = []
    buckets = sum(math.ceil(b / (BUCKET_MB * 1e6)) for b in nbytes.values())
    total = sum(nbytes.values())
    per_sample_bwd = comp["backward_s"] / batch
    for net, (bw, lat) in NETWORKS.items():
        for p in RANKS:
            t_comm = ring_seconds(total, p, bw, lat, buckets)
            no_overlap = comp["step_s"] + t_comm
            overlap = comp["step_s"] - comp["backward_s"] + max(comp["backward_s"], t_comm)
            rows.append(
                {
                    "model": name,
                    "network": net,
                    "ranks": p,
                    "allreduce_ms": 1e3 * t_comm,
                    "step_ms_no_overlap": 1e3 * no_overlap,
                    "step_ms_overlap": 1e3 * overlap,
                    "efficiency_no_overlap": comp["step_s"] / no_overlap,
                    "efficiency_overlap": comp["step_s"] / overlap,
                    "hiding_batch": math.ceil(t_comm / per_sample_bwd),
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64, help="per-rank batch")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    if world < 2:
        raise SystemExit(
            "run it on two ranks: mpiexec -n 2 python benchmarks/distributed_scaling.py"
        )
    out: dict = {"world": world, "batch_per_rank": a.batch, "models": {}, "projection": []}
    out["allreduce"] = _allreduce((0.25, 1.0, 4.0, 16.0), 10)
    for name in ("mlp", "dcgan"):
        G, D = _models(name)
        nbytes = {
            k: sum(p.detach().numpy().nbytes for p in m.parameters())
            for k, m in (("G", G), ("D", D))
        }
        steps = a.steps * (4 if name == "mlp" else 1)
        comp = _step_times(name, a.batch, steps, parallel=False)
        ddp = _step_times(name, a.batch, steps, parallel=True)
        out["models"][name] = {"grad_bytes": nbytes, "compute": comp, "ddp_2_ranks": ddp}
        out["projection"] += _project(name, nbytes, comp, a.batch)
    if rank == 0:
        ar = out["allreduce"]
        print(
            f"all-reduce on {world} ranks: {1e3 * ar['s_per_mb']:.3f} ms/MB + "
            f"{1e6 * ar['fixed_s']:.0f} us (fit); one float: {1e6 * ar['latency_s']:.1f} us"
        )
        for name, m in out["models"].items():
            mb = sum(m["grad_bytes"].values()) / 1e6
            print(
                f"{name}: {mb:.2f} MB of gradients; step {1e3 * m['compute']['step_s']:.1f} ms "
                f"(backward {1e3 * m['compute']['backward_s']:.1f} ms) at batch {a.batch}; "
                f"DDP on {world} ranks {1e3 * m['ddp_2_ranks']['step_s']:.1f} ms"
            )
        print("model  network   ranks  allreduce_ms  step_ms(no/full overlap)  eff  hiding_batch")
        for r in out["projection"]:
            print(
                f"{r['model']:6} {r['network']:9} {r['ranks']:5}  {r['allreduce_ms']:11.2f}  "
                f"{r['step_ms_no_overlap']:9.1f} / {r['step_ms_overlap']:9.1f}  "
                f"{r['efficiency_no_overlap']:.2f}/{r['efficiency_overlap']:.2f}  "
                f"{r['hiding_batch']}"
            )
        if a.json:
            with open(a.json, "w") as f:
                json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
