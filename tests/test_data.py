"""tapegrad.data: Dataset, TensorDataset, Subset, DataLoader, default_collate, toy distributions."""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
import pytest
import torch
import torch.utils.data

import tapegrad as tg
from tapegrad.data import (
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    grid,
    grid_modes,
    ring,
    ring_modes,
    stacked_mnist,
)


def as_np(x):
    return x._array if isinstance(x, tg.Tensor) else np.asarray(x)


class Squares(Dataset):
    """A plain map-style dataset: sample i is (i, i*i as float array)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i, np.array([i * i], dtype=np.float64)


def epoch_ids(loader):
    """Sample ids in the order a loader over Squares/arange hands them out."""
    return np.concatenate([as_np(b[0]).reshape(-1) for b in loader])


# ------------------------------------------------------------------ datasets
def test_dataset_is_abstract():
    with pytest.raises(TypeError):
        Dataset()


def test_tensor_dataset_items_and_len():
    x = tg.tensor(np.arange(12.0).reshape(6, 2))
    y = np.arange(6) * 10
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[4]
    assert isinstance(xi, tg.Tensor) and not isinstance(yi, tg.Tensor)
    np.testing.assert_array_equal(xi._array, [8.0, 9.0])
    assert yi == 40
    xb, yb = ds.get_batch(np.array([5, 0]))
    np.testing.assert_array_equal(xb._array, [[10, 11], [0, 1]])
    np.testing.assert_array_equal(yb._array, [50, 0])


def test_tensor_dataset_items_are_detached_constants():
    x = tg.randn(4, 3, requires_grad=True)
    (xi,) = TensorDataset(x)[1]
    assert not xi.requires_grad and xi.grad_fn is None


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match=r"same size in dim 0.*\[5, 4\]"):
        TensorDataset(tg.zeros(5, 2), tg.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(TypeError, match="argument 1 is a list"):
        TensorDataset(tg.zeros(2), [1, 2])
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(tg.tensor(1.0))


def test_subset():
    ds = Subset(Squares(10), [7, 2, 2])
    assert len(ds) == 3 and ds[0] == (7, np.array([49.0]))
    ids, sq = DataLoader(ds, batch_size=3).__iter__().__next__()
    np.testing.assert_array_equal(ids._array, [7, 2, 2])
    np.testing.assert_array_equal(sq._array, [[49.0], [4.0], [4.0]])
    x = tg.tensor(np.arange(10) * 3)
    (b,) = next(iter(DataLoader(Subset(TensorDataset(x), [9, 1]), batch_size=2)))
    np.testing.assert_array_equal(b._array, [27, 3])
    with pytest.raises(IndexError, match=r"\[0, 10\)"):
        Subset(Squares(10), [10])


# ------------------------------------------------------------------ collate
def test_default_collate_structures_match_torch():
    rng = np.random.default_rng(0)
    samples = [
        {
            "img": rng.standard_normal((2, 3)).astype(np.float32),
            "label": int(rng.integers(10)),
            "pair": (rng.standard_normal(2), np.int32(i)),
            "name": f"s{i}",
        }
        for i in range(4)
    ]
    ours = default_collate(samples)
    theirs = torch.utils.data.default_collate(samples)
    assert set(ours) == set(theirs)
    for key in ("img", "label"):
        np.testing.assert_array_equal(ours[key]._array, theirs[key].numpy())
        assert ours[key].dtype == theirs[key].numpy().dtype
    assert isinstance(ours["pair"], tuple)
    for a, b in zip(ours["pair"], theirs["pair"]):
        np.testing.assert_array_equal(a.data, b.numpy())
        assert a.dtype == b.numpy().dtype
    assert ours["name"] == theirs["name"] == ["s0", "s1", "s2", "s3"]


def test_default_collate_numbers_and_containers():
    b = default_collate([0.5, 1.5])
    assert b.dtype == np.float32 and b.shape == (2,)  # Python floats take the default dtype
    assert default_collate([1, 2]).dtype == np.int64
    assert default_collate([True, False]).dtype == np.bool_
    assert default_collate([np.float64(1), np.float64(2)]).dtype == np.float64
    assert default_collate([None, None]) == [None, None]
    t = default_collate([tg.ones(2, 3), tg.zeros(2, 3)])
    assert t.shape == (2, 2, 3) and not t.requires_grad
    out = default_collate([[1, 2.0], [3, 4.0]])
    assert isinstance(out, list) and out[0].dtype == np.int64 and out[1].dtype == np.float32
    P = namedtuple("P", "x y")
    p = default_collate([P(1, np.zeros(2)), P(2, np.ones(2))])
    assert isinstance(p, P) and p.y.shape == (2, 2)


def test_default_collate_errors():
    with pytest.raises(ValueError, match=r"different shapes \[\(2,\), \(3,\)\]"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(ValueError, match="different shapes.*in key 'x'"):
        default_collate([{"x": np.zeros(2)}, {"x": np.zeros(3)}])
    with pytest.raises(ValueError, match="different lengths"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(ValueError, match="different keys"):
        default_collate([{"a": 1}, {"b": 1}])
    with pytest.raises(TypeError, match="samples of type set"):
        default_collate([{1}, {2}])
    with pytest.raises(ValueError, match="empty"):
        default_collate([])


# ------------------------------------------------------------------ DataLoader
@pytest.mark.parametrize("n, bs", [(10, 3), (9, 3), (1, 4), (7, 1), (64, 64)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_len_and_batches_cover_dataset(n, bs, drop_last):
    loader = DataLoader(Squares(n), batch_size=bs, shuffle=True, drop_last=drop_last, generator=1)
    want = n // bs if drop_last else math.ceil(n / bs)
    batches = list(loader)
    assert len(loader) == len(batches) == want
    ids = np.concatenate([b[0]._array for b in batches]) if batches else np.array([])
    sizes = [len(b[0]._array) for b in batches]
    assert all(s == bs for s in sizes[:-1]) and (not drop_last or all(s == bs for s in sizes))
    assert len(set(ids.tolist())) == len(ids)  # no repeats
    if not drop_last:
        assert sorted(ids.tolist()) == list(range(n))


def test_unshuffled_order_and_values():
    ids, sq = zip(*DataLoader(Squares(7), batch_size=3))
    np.testing.assert_array_equal(np.concatenate([i._array for i in ids]), np.arange(7))
    np.testing.assert_array_equal(np.concatenate([s._array for s in sq])[:, 0], np.arange(7) ** 2)


def test_shuffle_reproducible_from_seed_and_generator():
    a = [epoch_ids(DataLoader(Squares(50), 8, shuffle=True, generator=3)) for _ in range(2)]
    np.testing.assert_array_equal(a[0], a[1])
    np.testing.assert_array_equal(a[0], np.random.Generator(np.random.PCG64(3)).permutation(50))
    b = epoch_ids(DataLoader(Squares(50), 8, shuffle=True, generator=4))
    assert not np.array_equal(a[0], b)
    # a Generator object is used (and advanced) as it is
    gen = np.random.default_rng(11)
    loader = DataLoader(Squares(50), 8, shuffle=True, generator=gen)
    ref = np.random.default_rng(11)
    e1, e2 = epoch_ids(loader), epoch_ids(loader)
    np.testing.assert_array_equal(e1, ref.permutation(50))
    np.testing.assert_array_equal(e2, ref.permutation(50))


def test_shuffle_without_generator_uses_tapegrad_rng():
    tg.manual_seed(5)
    loader = DataLoader(Squares(30), 4, shuffle=True)
    first = epoch_ids(loader)
    np.testing.assert_array_equal(first, np.random.Generator(np.random.PCG64(5)).permutation(30))
    tg.manual_seed(5)  # a later reseed is honoured (the generator is looked up per epoch)
    np.testing.assert_array_equal(epoch_ids(loader), first)
    assert not np.array_equal(epoch_ids(loader), first)


def test_fast_path_equals_item_by_item_path():
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((23, 2, 3)).astype(np.float32))
    y = tg.tensor(rng.integers(0, 5, 23))
    w = rng.standard_normal(23)  # a NumPy column
    ds = TensorDataset(x, y, w)
    fast = DataLoader(ds, batch_size=5, shuffle=True, generator=2)
    slow = DataLoader(ds, batch_size=5, shuffle=True, generator=2, collate_fn=default_collate)
    assert fast._get_batch is not None and slow._get_batch is None
    n = 0
    for bf, bs in zip(fast, slow):
        n += 1
        assert len(bf) == len(bs) == 3
        for a, b in zip(bf, bs):
            assert isinstance(a, tg.Tensor) and isinstance(b, tg.Tensor)
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a.data, b._array)
    assert n == 5


def test_fast_path_batches_are_copies():
    x = tg.tensor(np.zeros((4, 2), np.float32))
    (b,) = next(iter(DataLoader(TensorDataset(x), batch_size=4)))
    b._array += 1
    np.testing.assert_array_equal(x._array, 0)


def test_custom_collate_fn_is_used():
    ds = TensorDataset(tg.arange(6))
    loader = DataLoader(ds, batch_size=4, collate_fn=lambda items: [int(t[0]) for t in items])
    assert list(loader) == [[0, 1, 2, 3], [4, 5]]


def test_loader_errors():
    with pytest.raises(ValueError, match="DataLoader: the dataset is empty"):
        DataLoader(Squares(0))
    with pytest.raises(ValueError, match="DataLoader: the dataset is empty"):
        DataLoader(TensorDataset(tg.zeros(0, 3)))
    for bad in (0, -1, 2.0, True):  # None is valid: single samples, as in PyTorch
        with pytest.raises(ValueError, match="batch_size must be a positive int"):
            DataLoader(Squares(3), batch_size=bad)
    with pytest.raises(TypeError, match="generator must be"):
        DataLoader(Squares(3), generator="seed")


# ------------------------------------------------------------------ resuming
@pytest.mark.parametrize("own_generator", [True, False])
@pytest.mark.parametrize("stop_at", [0, 3, 7])  # batches of epoch 2 seen before the "crash"
def test_resume_mid_epoch_exactly(tmp_path, own_generator, stop_at):
    def make():
        gen = 123 if own_generator else None
        return DataLoader(Squares(29), batch_size=4, shuffle=True, generator=gen)

    tg.manual_seed(9)
    ref = [[epoch_ids([b]) for b in loader_epoch] for loader_epoch in _epochs(make(), 3)]

    tg.manual_seed(9)
    loader = make()
    seen = [[epoch_ids([b]) for b in loader]]
    it = iter(loader)
    seen.append([epoch_ids([next(it)]) for _ in range(stop_at)])
    path = tmp_path / "state.safetensors"
    tg.save({"loader": loader.state_dict(), "rng": tg.get_rng_state()}, path)
    del loader, it

    tg.manual_seed(0)  # a fresh process would start from some other state
    state = tg.load(path)
    tg.set_rng_state(state["rng"])
    loader = make()
    loader.load_state_dict(state["loader"])
    assert loader.epoch == 2
    seen[1] += [epoch_ids([b]) for b in loader]
    seen.append([epoch_ids([b]) for b in loader])
    for got, want in zip(seen, ref):
        np.testing.assert_array_equal(np.concatenate(got), np.concatenate(want))


def _epochs(loader, n):
    for _ in range(n):
        yield list(loader)


def test_state_after_full_epoch_starts_next_epoch():
    loader = DataLoader(Squares(10), batch_size=5, shuffle=True, generator=1)
    ref = DataLoader(Squares(10), batch_size=5, shuffle=True, generator=1)
    epoch_ids(ref)
    want = epoch_ids(ref)
    epoch_ids(loader)
    fresh = DataLoader(Squares(10), batch_size=5, shuffle=True, generator=1)
    fresh.load_state_dict(loader.state_dict())
    np.testing.assert_array_equal(epoch_ids(fresh), want)


def test_load_state_dict_mismatch_errors():
    state = DataLoader(Squares(10), batch_size=5, shuffle=True, generator=1).state_dict()
    with pytest.raises(ValueError, match="dataset_size=10.*dataset_size=11"):
        DataLoader(Squares(11), batch_size=5, shuffle=True, generator=1).load_state_dict(state)
    with pytest.raises(ValueError, match="batch_size=5.*batch_size=2"):
        DataLoader(Squares(10), batch_size=2, shuffle=True, generator=1).load_state_dict(state)
    with pytest.raises(ValueError, match="global generator"):
        DataLoader(Squares(10), batch_size=5, shuffle=True).load_state_dict(state)
    with pytest.raises(ValueError, match="no 'batch_size'"):
        DataLoader(Squares(10), batch_size=5).load_state_dict({"dataset_size": 10})


# ------------------------------------------------------------------ toy distributions
def test_ring_modes_geometry():
    m = ring_modes()
    assert m.shape == (8, 2) and m.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, rtol=1e-6)
    d = np.linalg.norm(m[:, None] - m[None], axis=2) + np.eye(8) * 10
    np.testing.assert_allclose(d.min(), 2 * np.sin(np.pi / 8), rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(ring_modes(5, 3.0), axis=1), 3.0, rtol=1e-6)


def test_grid_modes_geometry():
    m = grid_modes()
    assert m.shape == (25, 2) and m.dtype == np.float32
    assert {tuple(p) for p in m.tolist()} == {
        (float(a), float(b)) for a in (-4, -2, 0, 2, 4) for b in (-4, -2, 0, 2, 4)
    }


@pytest.mark.parametrize(
    "sample, modes, std",
    [
        (lambda n, g: ring(n, generator=g), ring_modes(), 0.01),
        (
            lambda n, g: ring(n, n_modes=5, radius=2.0, std=0.1, generator=g),
            ring_modes(5, 2.0),
            0.1,
        ),
        (lambda n, g: grid(n, generator=g), grid_modes(), 0.05),
    ],
)
def test_mixture_statistics(sample, modes, std):
    n = 20000
    x, k = sample(n, 7)
    assert x.shape == (n, 2) and x.dtype == np.float32
    assert k.shape == (n,) and k.dtype == np.int64
    x, k = x._array.astype(np.float64), k._array
    # every sample is nearest to its own mode (modes are far apart relative to std)
    nearest = np.argmin(((x[:, None] - modes[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(nearest, k)
    # modes are equally likely: each count within 5 binomial standard deviations
    K = len(modes)
    counts = np.bincount(k, minlength=K)
    assert len(counts) == K
    assert np.all(np.abs(counts - n / K) < 5 * np.sqrt(n * (1 / K) * (1 - 1 / K)))
    # noise is isotropic N(0, std^2): the std estimate per axis is within 5 standard errors
    resid = x - modes[k]
    np.testing.assert_allclose(resid.mean(0), 0.0, atol=5 * std / np.sqrt(n))
    s = resid.std(axis=0, ddof=1)
    assert np.all(np.abs(s - std) < 5 * std / np.sqrt(2 * (n - 1)))


def test_toy_generators():
    a, _ = ring(100, generator=3)
    b, _ = ring(100, generator=np.random.default_rng(3))
    np.testing.assert_array_equal(a.data, b._array)
    tg.manual_seed(4)
    c, kc = grid(50)
    tg.manual_seed(4)
    d, kd = grid(50)
    np.testing.assert_array_equal(c._array, d._array)
    np.testing.assert_array_equal(kc._array, kd._array)
    e, _ = grid(50)
    assert not np.array_equal(c._array, e._array)
    with pytest.raises(ValueError, match="ring: n must be"):
        ring(-1)
    with pytest.raises(ValueError, match="grid: std must be"):
        grid(3, std=-1.0)


def test_stacked_mnist_label_arithmetic():
    # synthetic "digits": image i is constant 20 * label_i, so each channel reveals its digit
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    images = np.broadcast_to((20 * labels).astype(np.uint8)[:, None, None], (500, 28, 28)).copy()
    x, y = stacked_mnist(images, labels, 3000, generator=1)
    assert x.shape == (3000, 3, 28, 28) and x.dtype == np.float32
    assert y.shape == (3000,) and y.dtype == np.int64
    assert x._array.min() >= 0 and x._array.max() <= 1
    digits = np.rint(x._array[:, :, 0, 0] * 255 / 20).astype(np.int64)  # (n, 3): R, G, B digits
    np.testing.assert_array_equal(y._array, 100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2])
    # the three channels are independent draws: all 1000 modes appear in a large sample
    assert len(np.unique(y._array)) > 900
    # float images are kept as they are; (N, 1, 28, 28) and Tensors are accepted
    xf, yf = stacked_mnist(
        tg.tensor(images[:, None].astype(np.float32)), tg.tensor(labels), 10, generator=1
    )
    np.testing.assert_array_equal(xf._array, np.rint(x._array[:10] * 255))
    np.testing.assert_array_equal(yf._array, y._array[:10])


def test_stacked_mnist_errors():
    with pytest.raises(ValueError, match=r"stacked_mnist: expected images.*\(4, 28\)"):
        stacked_mnist(np.zeros((4, 28)), np.zeros(4), 2)
    with pytest.raises(ValueError, match="digits 0-9"):
        stacked_mnist(np.zeros((4, 28, 28)), np.array([0, 1, 2, 12]), 2)
