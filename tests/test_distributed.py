"""tapegrad.distributed in one process: engine hooks, world-size-1 behaviour,
DistributedSampler, SyncBatchNorm conversion. The 2-rank tests are in
tests/test_distributed_mpi.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad as tg
import tapegrad.distributed as dist
from tapegrad import nn
from tapegrad.distributed import process_group
from tapegrad.nn.parallel import DistributedDataParallel
from tapegrad.utils.data import DataLoader, DistributedSampler, Subset, TensorDataset


def test_post_accumulate_hook_fires_once_with_the_whole_gradient() -> None:
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    x = tg.Tensor([3.0, 4.0])
    seen: list[np.ndarray] = []
    w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad._array.copy()))
    # w feeds three nodes; the hook must see the sum of all three contributions.
    ((w * x).sum() + (w * w).sum() + w.sum() * 2).backward()
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    tx = torch.tensor([3.0, 4.0])
    ((tw * tx).sum() + (tw * tw).sum() + tw.sum() * 2).backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], tw.grad.numpy())


def test_post_accumulate_hook_skips_grad_and_sees_accumulation() -> None:
    w = tg.Tensor([1.0, -1.0], requires_grad=True)
    calls: list[float] = []
    remove = w.register_post_accumulate_grad_hook(lambda p: calls.append(float(p.grad.sum())))
    (g,) = tg.grad((w**3).sum(), w, create_graph=True)
    assert calls == []  # tapegrad.grad accumulates nothing
    (g * g).sum().backward()  # double backward: d/dw sum(9 w^4) = 36 w^3
    assert calls == [0.0]
    (w * 2).sum().backward()
    assert calls == [0.0, 4.0]  # .grad is now (36 - 36) + 2 + 2
    remove()
    w.sum().backward()
    assert len(calls) == 2


def test_post_accumulate_hook_needs_a_leaf() -> None:
    w = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)


def test_queue_callback_runs_after_the_pass() -> None:
    from tapegrad.autograd.engine import queue_callback

    w = tg.Tensor([2.0], requires_grad=True)
    order: list[str] = []

    def hook(p: tg.Tensor) -> None:
        order.append("hook")
        queue_callback(lambda: order.append(f"end {float(p.grad.item())}"))

    w.register_post_accumulate_grad_hook(hook)
    (w * w).sum().backward()
    assert order == ["hook", "end 4.0"]
    with pytest.raises(RuntimeError, match="outside a backward pass"):
        queue_callback(lambda: None)


def test_world_of_one_collectives_leave_tensors_alone() -> None:
    dist.init_process_group()
    assert dist.get_world_size() == 1 and dist.get_rank() == 0 and dist.is_main_process()
    t = tg.Tensor([1.0, 2.0])
    dist.all_reduce(t)
    dist.broadcast(t, 0)
    dist.all_reduce(t, op=dist.ReduceOp.AVG, async_op=True).wait()
    out = [tg.zeros(2)]
    dist.all_gather(out, t)
    assert t.tolist() == [1.0, 2.0] and out[0].tolist() == [1.0, 2.0]
    dist.barrier()
    with pytest.raises(ValueError, match="src must be a rank"):
        dist.broadcast(t, 1)
    with pytest.raises(ValueError, match="tensor_list has 2 tensors for a world of 1"):
        dist.all_gather([tg.zeros(2), tg.zeros(2)], t)
    with pytest.raises(TypeError, match="dtype bool"):
        dist.all_reduce(tg.Tensor([True]))


def test_more_ranks_without_mpi4py_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(process_group, "_group", process_group._Group())
    monkeypatch.setattr(process_group, "is_available", lambda: False)
    monkeypatch.setenv("PMI_SIZE", "4")
    with pytest.raises(RuntimeError, match="one of 4 ranks .* mpi4py is not installed"):
        dist.init_process_group()
    monkeypatch.setenv("PMI_SIZE", "1")
    dist.init_process_group()
    assert dist.get_world_size() == 1
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        dist.init_process_group("nccl")


def test_ddp_in_one_process_is_the_model() -> None:
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    ddp = DistributedDataParallel(model)
    x = tg.randn(5, 3)
    np.testing.assert_array_equal(ddp(x)._array, model(x)._array)
    assert set(ddp.state_dict()) == {"module." + k for k in model.state_dict()}
    ddp(x).sum().backward()
    g = model[0].weight.grad._array.copy()
    with ddp.no_sync():
        ddp(x).sum().backward()
    np.testing.assert_allclose(model[0].weight.grad._array, 2 * g, rtol=1e-6)
    with pytest.raises(TypeError, match="wraps a Module"):
        DistributedDataParallel(lambda v: v)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "n,world,drop", [(10, 2, False), (11, 3, False), (11, 3, True), (2, 4, False)]
)
def test_sampler_shards_cover_the_dataset(n: int, world: int, drop: bool) -> None:
    for epoch in (0, 1):
        shares = []
        for rank in range(world):
            s = DistributedSampler(range(n), world, rank, seed=7, drop_last=drop)
            s.set_epoch(epoch)
            shares.append(list(s))
            assert len(shares[-1]) == len(s)
        flat = [i for sh in shares for i in sh]
        if drop:
            assert len(flat) == len(set(flat)) == (n // world) * world
        else:
            assert set(flat) == set(range(n))
            assert len(flat) == -(-n // world) * world
            if n % world == 0:
                assert sorted(flat) == list(range(n))


def test_sampler_matches_torch_split_rule_and_reshuffles() -> None:
    s = DistributedSampler(range(9), 2, 1, shuffle=False)
    ts = torch.utils.data.DistributedSampler(range(9), 2, 1, shuffle=False)
    assert list(s) == list(ts)  # padding and striding as PyTorch
    s = DistributedSampler(range(50), 2, 0, seed=1)
    first = list(s)
    s.set_epoch(1)
    other = DistributedSampler(range(50), 2, 1, seed=1)
    other.set_epoch(1)
    assert list(s) != first and sorted(list(s) + list(other)) == list(range(50))
    with pytest.raises(ValueError, match="invalid rank 2"):
        DistributedSampler(range(4), 2, 2)
    loader = DataLoader(Subset(TensorDataset(np.arange(50.0)), first[:4]), batch_size=2)
    assert [b[0].tolist() for b in loader] == [first[:2], first[2:4]]


def test_sync_batchnorm_alone_is_batchnorm() -> None:
    tg.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU())
    ref = {k: v._array.copy() for k, v in model.state_dict().items()}
    x = tg.randn(8, 4)
    before = model(x)._array.copy()
    model.load_state_dict({k: tg.Tensor(v) for k, v in ref.items()})
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert conv is model and isinstance(model[1], nn.SyncBatchNorm)
    assert set(model.state_dict()) == set(ref)
    np.testing.assert_allclose(model(x)._array, before, rtol=1e-6)
    with pytest.raises(ValueError, match=r"SyncBatchNorm\(6\).*3 channels"):
        model[1](tg.randn(4, 3))
