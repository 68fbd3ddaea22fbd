"""Run under ``mpiexec -n P python distributed_worker.py CASE OUT``; used by
tests/test_distributed_mpi.py.

Every training case runs 20 data-parallel steps (each rank takes its slice of the
global batch, data and noise) and, on rank 0, the same 20 steps in this process
with the whole batch and no reduction; rank 0 saves both sets of weights to
``OUT/CASE.npz`` as ``dist/<name>`` and ``ref/<name>``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import tapegrad as tg
import tapegrad.distributed as dist
from tapegrad import nn
from tapegrad.gan.losses import get_loss, gradient_penalty
from tapegrad.gan.models import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
)
from tapegrad.nn.parallel import DistributedDataParallel as DDP
from tapegrad.optim import SGD, Adam
from tapegrad.utils.data import DistributedSampler

STEPS, B = 20, 16


def _slice(a: np.ndarray, rank: int, world: int) -> tg.Tensor:
    n = a.shape[0] // world
    return tg.Tensor(np.ascontiguousarray(a[rank * n : (rank + 1) * n]))


def _weights(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v._array.copy() for k, v in model.state_dict().items()}


def mlp(rank: int, world: int, parallel: bool) -> dict[str, np.ndarray]:
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5))
    if not parallel:
        tg.manual_seed(123)  # rank 0's broadcast must make the others' seeds irrelevant
    net = DDP(model, bucket_cap_mb=0.001) if parallel else model  # several buckets
    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    data = np.random.default_rng(1)
    for _ in range(STEPS):
        x = data.standard_normal((B, 20)).astype(np.float32)
        y = data.integers(0, 5, B)
        loss = nn.functional.cross_entropy(net(_slice(x, rank, world)), _slice(y, rank, world))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return _weights(model)


def _gan(rank: int, world: int, parallel: bool, loss_name: str) -> dict[str, np.ndarray]:
    tg.manual_seed(0)
    G = MLPGenerator(z_dim=8, image_shape=(1, 4, 4), hidden=(16,))
    D = MLPDiscriminator(image_shape=(1, 4, 4), hidden=(16, 8))
    g, d = (DDP(G), DDP(D)) if parallel else (G, D)
    loss = get_loss(loss_name)
    betas = (0.5, 0.9) if loss.penalty == "gp" else (0.5, 0.999)
    opt_g = Adam(G.parameters(), lr=1e-3, betas=betas)
    opt_d = Adam(D.parameters(), lr=1e-3, betas=betas)
    data = np.random.default_rng(2)
    for _ in range(STEPS):
        real_all = np.tanh(data.standard_normal((B, 1, 4, 4))).astype(np.float32)
        z_all = data.standard_normal((B, 8)).astype(np.float32)
        eps_all = data.random((B, 1, 1, 1)).astype(np.float32)
        real, z = _slice(real_all, rank, world), _slice(z_all, rank, world)
        fake = g(z)
        loss_d = loss.d_loss(d(real), d(fake.detach()))
        if loss.penalty == "gp":  # double backward through D's parameters
            eps = _slice(eps_all, rank, world)
            loss_d = loss_d + gradient_penalty(d, real, fake.detach(), loss.lambda_, eps=eps)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        for p in D.parameters():
            p.requires_grad_(False)
        loss_g = loss.g_loss(d(fake))
        for p in D.parameters():
            p.requires_grad_(True)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    return {**{"G." + k: v for k, v in _weights(G).items()}, **_weights(D)}


def dcgan(rank: int, world: int, parallel: bool) -> dict[str, np.ndarray]:
    """A small DCGAN with BatchNorm in G and D, in float64: SyncBatchNorm on the ranks."""
    tg.manual_seed(0)
    G = DCGANGenerator(8, (1, 28, 28), ngf=4).double()
    D = DCGANDiscriminator((1, 28, 28), ndf=4).double()
    if parallel:
        G = nn.SyncBatchNorm.convert_sync_batchnorm(G)
        D = nn.SyncBatchNorm.convert_sync_batchnorm(D)
    g, d = (DDP(G), DDP(D)) if parallel else (G, D)
    loss = get_loss("ns")
    opt_g, opt_d = Adam(G.parameters(), lr=1e-3), Adam(D.parameters(), lr=1e-3)
    data = np.random.default_rng(5)
    for _ in range(5):
        real = _slice(np.tanh(data.standard_normal((8, 1, 28, 28))), rank, world)
        fake = g(_slice(data.standard_normal((8, 8)), rank, world))
        loss_d = loss.d_loss(d(real), d(fake.detach()))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        for p in D.parameters():
            p.requires_grad_(False)
        loss_g = loss.g_loss(d(fake))
        for p in D.parameters():
            p.requires_grad_(True)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    return {**{"G." + k: v for k, v in _weights(G).items()}, **_weights(D)}


def gan(rank: int, world: int, parallel: bool) -> dict[str, np.ndarray]:
    return _gan(rank, world, parallel, "ns")


def wgan_gp(rank: int, world: int, parallel: bool) -> dict[str, np.ndarray]:
    return _gan(rank, world, parallel, "wgan-gp")


def no_sync(rank: int, world: int, parallel: bool) -> dict[str, np.ndarray]:
    """Two micro-batches per step, the first inside no_sync()."""
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 1))
    net = DDP(model) if parallel else model
    opt = SGD(model.parameters(), lr=0.05, momentum=0.5)
    data = np.random.default_rng(3)
    for _ in range(5):
        opt.zero_grad()
        for micro in range(2):
            x = data.standard_normal((B, 6)).astype(np.float32)
            with net.no_sync() if parallel and micro == 0 else _null():
                out = net(_slice(x, rank, world))
                (out * out).mean().backward()
        opt.step()
    return _weights(model)


def sync_bn(rank: int, world: int, parallel: bool) -> dict[str, np.ndarray]:
    """SyncBatchNorm on slices == BatchNorm on the batch: output, gradients, stats."""
    bn = nn.SyncBatchNorm(3) if parallel else nn.BatchNorm2d(3)
    bn.weight._array[...] = [1.0, 2.0, 0.5]
    bn.bias._array[...] = [0.1, -0.2, 0.3]
    rng = np.random.default_rng(4)
    x_all = (rng.standard_normal((B, 3, 2, 2)) * 3 + 1).astype(np.float64)
    w_all = rng.standard_normal((B, 3, 2, 2))
    bn.double()
    x = _slice(x_all, rank, world).requires_grad_(True)
    y = bn(x)
    (y * _slice(w_all, rank, world)).sum().backward()
    # The parameters' gradients are per-rank shares of the batch's: sum them.
    wg, bg = bn.weight.grad, bn.bias.grad
    if parallel:
        dist.all_reduce(wg)
        dist.all_reduce(bg)
    parts = [tg.zeros(x.shape, dtype=tg.float64) for _ in range(world)]
    dist.all_gather(parts, x.grad) if parallel else None
    xg = np.concatenate([p._array for p in parts]) if parallel else x.grad._array
    ys = [tg.zeros(y.shape, dtype=tg.float64) for _ in range(world)]
    dist.all_gather(ys, y.detach()) if parallel else None
    yv = np.concatenate([p._array for p in ys]) if parallel else y._array
    return {
        "y": yv,
        "x.grad": xg,
        "weight.grad": wg._array,
        "bias.grad": bg._array,
        "running_mean": bn.running_mean._array.copy(),
        "running_var": bn.running_var._array.copy(),
    }


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: object) -> None:
        return None


def control(rank: int, world: int, parallel: bool) -> dict[str, np.ndarray]:
    """The MLP case with every backward inside no_sync(): must NOT match."""
    if not parallel:
        return mlp(rank, world, parallel)
    ddp_init = DDP.__init__

    def local_only(self: DDP, *a: object, **k: object) -> None:
        ddp_init(self, *a, **k)
        self.reducer.sync = False

    DDP.__init__ = local_only  # type: ignore[method-assign]
    try:
        return mlp(rank, world, parallel)
    finally:
        DDP.__init__ = ddp_init  # type: ignore[method-assign]


CASES = {
    "dcgan": dcgan,
    "mlp": mlp,
    "control": control,
    "gan": gan,
    "wgan_gp": wgan_gp,
    "no_sync": no_sync,
    "sync_bn": sync_bn,
}


def collectives(rank: int, world: int, out: Path) -> None:
    t = tg.Tensor(np.full(3, rank + 1.0, np.float32))
    dist.all_reduce(t)
    m = tg.Tensor(np.array([rank], np.int64))
    dist.all_reduce(m, op=dist.ReduceOp.MAX)
    a = tg.Tensor(np.array([2.0 * rank]))
    dist.all_reduce(a, op=dist.ReduceOp.AVG, async_op=True).wait()
    b = tg.Tensor(np.array([rank + 10.0]))
    dist.broadcast(b, src=world - 1)
    parts = [tg.zeros(2) for _ in range(world)]
    dist.all_gather(parts, tg.Tensor([rank, -rank], dtype=tg.float32))
    sampler = {}
    for n, drop in ((10, False), (11, False), (11, True)):
        s = DistributedSampler(range(n), shuffle=True, seed=5, drop_last=drop)
        for epoch in (0, 1):
            s.set_epoch(epoch)
            mine = tg.Tensor(np.array(list(s), np.int64))
            got = [tg.zeros(len(s), dtype=tg.int64) for _ in range(world)]
            dist.all_gather(got, mine)
            sampler[f"{n}/{drop}/{epoch}"] = [g._array.tolist() for g in got]
    if rank == 0:
        result = {
            "sum": t._array.tolist(),
            "max": m._array.tolist(),
            "avg": a.data.tolist(),
            "bcast": b._array.tolist(),
            "gather": [p._array.tolist() for p in parts],
            "sampler": sampler,
            "world": world,
        }
        (out / "collectives.json").write_text(json.dumps(result))


def main() -> None:
    case, out = sys.argv[1], Path(sys.argv[2])
    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    if case == "fail":
        if rank == 1:
            raise ValueError("deliberate failure on rank 1")
        dist.barrier()  # rank 0 would wait here forever without the abort
        return
    if case == "collectives":
        collectives(rank, world, out)
        return
    for name in case.split(","):
        got = CASES[name](rank, world, True)
        if rank == 0:
            ref = CASES[name](0, 1, False)
            arrays = {f"dist/{k}": v for k, v in got.items()}
            arrays.update({f"ref/{k}": v for k, v in ref.items()})
            np.savez(out / f"{name}.npz", **arrays)


if __name__ == "__main__":
    main()
