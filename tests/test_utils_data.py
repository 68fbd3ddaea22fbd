"""tapegrad.utils.data against torch.utils.data: where the names live, samplers,
ConcatDataset, random_split, IterableDataset, and the DataLoader's sampler,
batch_sampler and worker-process options."""

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import tapegrad as tg
import tapegrad.data
import tapegrad.utils.data as ud

NAMES = [
    "Dataset",
    "IterableDataset",
    "DataLoader",
    "TensorDataset",
    "ConcatDataset",
    "Subset",
    "random_split",
    "Sampler",
    "RandomSampler",
    "SequentialSampler",
    "BatchSampler",
    "WeightedRandomSampler",
    "SubsetRandomSampler",
    "get_worker_info",
    "default_collate",
]


@pytest.mark.parametrize("name", NAMES)
def test_names_live_in_utils_data_and_tapegrad_data_reexports(name):
    assert hasattr(tud, name), f"torch.utils.data has no {name}"
    assert getattr(tapegrad.data, name) is getattr(ud, name)
    assert name in ud.__all__


class Squares(ud.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.array([i, i * i], dtype=np.float32), i


class TorchSquares(tud.Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.tensor([i, i * i], dtype=torch.float32), i


def _np(batch):
    return [b.numpy() if hasattr(b, "numpy") else np.asarray(b) for b in batch]


def _same_batches(ours, theirs):
    ours, theirs = list(ours), list(theirs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        for x, y in zip(_np(a), _np(b)):
            np.testing.assert_array_equal(x, y)


# ------------------------------------------------------------------ samplers
@pytest.mark.parametrize("bs, drop", [(3, False), (3, True), (5, False), (10, True)])
def test_sequential_and_batch_sampler_like_torch(bs, drop):
    ours = ud.BatchSampler(ud.SequentialSampler(range(10)), bs, drop)
    theirs = tud.BatchSampler(tud.SequentialSampler(range(10)), bs, drop)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize(
    "kw",
    [dict(), dict(replacement=True), dict(num_samples=25), dict(replacement=True, num_samples=7)],
)
def test_random_sampler_like_torch(kw):
    ours = ud.RandomSampler(range(10), generator=tg.Generator().manual_seed(1), **kw)
    theirs = tud.RandomSampler(range(10), generator=torch.Generator().manual_seed(1), **kw)
    a, b = list(ours), list(theirs)
    assert len(a) == len(b) == len(ours) == len(theirs)
    if not kw.get("replacement"):  # whole permutations first, as PyTorch draws them
        for k in range(0, len(a) - len(a) % 10, 10):
            assert sorted(a[k : k + 10]) == list(range(10))
    again = ud.RandomSampler(range(10), generator=tg.Generator().manual_seed(1), **kw)
    assert list(again) == a


def test_weighted_random_sampler_frequencies():
    w = [0.1, 0.0, 0.6, 0.3]
    draws = list(ud.WeightedRandomSampler(w, 20000, generator=tg.Generator().manual_seed(0)))
    freq = np.bincount(draws, minlength=4) / len(draws)
    np.testing.assert_allclose(freq, w, atol=0.015)
    unique = list(ud.WeightedRandomSampler(w, 3, replacement=False))
    assert sorted(unique) == [0, 2, 3]
    assert len(ud.WeightedRandomSampler(w, 5)) == len(tud.WeightedRandomSampler(w, 5))
    with pytest.raises(ValueError, match="without replacement"):
        ud.WeightedRandomSampler(w, 4, replacement=False)


def test_subset_random_sampler():
    s = ud.SubsetRandomSampler([3, 5, 7, 9])
    assert sorted(s) == [3, 5, 7, 9] and len(s) == 4


# ------------------------------------------------------------ datasets
def test_concat_dataset_like_torch():
    ours = ud.ConcatDataset([Squares(3), Squares(4)]) + Squares(2)
    theirs = tud.ConcatDataset([TorchSquares(3), TorchSquares(4)]) + TorchSquares(2)
    assert len(ours) == len(theirs) == 9
    for i in list(range(9)) + [-1, -9]:
        np.testing.assert_array_equal(ours[i][0], theirs[i][0].numpy())
        assert ours[i][1] == theirs[i][1]
    assert ud.ConcatDataset([Squares(3), Squares(4)]).cumulative_sizes == [3, 7]


@pytest.mark.parametrize("lengths", [[3, 7], [0.3, 0.7], [0.33, 0.33, 0.34], [1 / 3] * 3])
def test_random_split_like_torch(lengths):
    ours = ud.random_split(Squares(10), lengths, generator=tg.Generator().manual_seed(0))
    theirs = tud.random_split(TorchSquares(10), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    got = sorted(int(s[i][1]) for s in ours for i in range(len(s)))
    assert got == list(range(10))
    with pytest.raises(ValueError, match="sum to"):
        ud.random_split(Squares(10), [3, 3])


class Stream(ud.IterableDataset):
    """0..n-1, split among workers by stride, as PyTorch's docs suggest."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = ud.get_worker_info()
        k, w = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(k, self.n, w))


class TorchStream(tud.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = tud.get_worker_info()
        k, w = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(k, self.n, w))


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("bs, drop", [(3, False), (4, True), (None, False)])
def test_iterable_dataset_like_torch(workers, bs, drop):
    ours = ud.DataLoader(Stream(11), batch_size=bs, drop_last=drop, num_workers=workers)
    theirs = tud.DataLoader(TorchStream(11), batch_size=bs, drop_last=drop, num_workers=workers)
    a = [np.asarray(b).tolist() for b in ours]
    b = [np.asarray(t).tolist() for t in theirs]
    assert a == b


# ----------------------------------------------------------------- loader
def test_sampler_and_batch_sampler_like_torch():
    order = [4, 1, 7, 0, 9, 2]
    _same_batches(
        ud.DataLoader(Squares(10), batch_size=4, sampler=order),
        tud.DataLoader(TorchSquares(10), batch_size=4, sampler=order),
    )
    batches = [[0, 1], [5], [9, 8, 7]]
    _same_batches(
        ud.DataLoader(Squares(10), batch_sampler=batches),
        tud.DataLoader(TorchSquares(10), batch_sampler=batches),
    )
    assert len(ud.DataLoader(Squares(10), batch_sampler=batches)) == 3
    _same_batches(
        ud.DataLoader(Squares(5), batch_size=None), tud.DataLoader(TorchSquares(5), batch_size=None)
    )


@pytest.mark.parametrize(
    "kw, msg",
    [
        (dict(batch_sampler=[[0]], batch_size=2), "mutually exclusive"),
        (dict(sampler=[0], shuffle=True), "mutually exclusive with shuffle"),
        (dict(prefetch_factor=2), "prefetch_factor"),
        (dict(persistent_workers=True), "persistent_workers"),
        (dict(num_workers=-1), "num_workers"),
    ],
)
def test_loader_rejects_what_torch_rejects(kw, msg):
    with pytest.raises(ValueError):
        tud.DataLoader(TorchSquares(3), **kw)
    with pytest.raises(ValueError, match=msg):
        ud.DataLoader(Squares(3), **kw)


def _init_fn(worker_id):
    np.random.seed(1000 + worker_id)


class WhoLoads(ud.Dataset):
    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = ud.get_worker_info()
        return i, -1 if info is None else info.id


@pytest.mark.parametrize("persistent", [False, True])
def test_workers_give_the_same_batches_in_the_same_order(persistent):
    x = np.arange(60, dtype=np.float32).reshape(30, 2)

    def run(workers, **kw):
        loader = ud.DataLoader(
            ud.TensorDataset(x, np.arange(30)),
            batch_size=4,
            shuffle=True,
            generator=tg.Generator().manual_seed(7),
            num_workers=workers,
            pin_memory=True,
            **kw,
        )
        return [[b.numpy().tolist() for b in batch] for _ in range(2) for batch in loader]

    single = run(0)
    assert single == run(
        2, persistent_workers=persistent, prefetch_factor=3, worker_init_fn=_init_fn
    )
    assert single == run(3, drop_last=False, collate_fn=None)


def test_workers_are_real_processes_and_take_turns():
    loader = ud.DataLoader(WhoLoads(), batch_size=3, num_workers=2)
    ids = [b[1].tolist() for b in loader]
    assert ids == [[0, 0, 0], [1, 1, 1], [0, 0, 0], [1, 1, 1]]
    assert [b[1].tolist() for b in ud.DataLoader(WhoLoads(), batch_size=6)] == [[-1] * 6] * 2


class Failing(ud.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            raise KeyError("sample 2 is missing")
        return i


def test_worker_exception_reaches_the_main_process():
    with pytest.raises(KeyError, match="sample 2 is missing") as info:
        list(ud.DataLoader(Failing(), batch_size=1, num_workers=2))
    assert "DataLoader worker process" in "".join(getattr(info.value, "__notes__", []))


class Unpicklable(ud.Dataset):
    def __init__(self):
        self.f = lambda i: i

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return self.f(i)


def test_unpicklable_dataset_gets_a_clear_error():
    with pytest.raises(TypeError, match=r"spawn.*dataset \(Unpicklable\).*cannot be pickled"):
        ud.DataLoader(Unpicklable(), num_workers=2, multiprocessing_context="spawn")
    # with fork the dataset is inherited, and lambdas work as in PyTorch
    assert [
        int(b) for b in ud.DataLoader(Unpicklable(), num_workers=2, multiprocessing_context="fork")
    ] == [0, 1, 2]


class Draws(ud.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return int(np.random.randint(1 << 30)), ud.get_worker_info().id


def test_worker_init_fn_runs_in_each_worker_before_loading():
    got = [
        tuple(int(v) for v in b)
        for b in ud.DataLoader(Draws(), batch_size=None, num_workers=2, worker_init_fn=_init_fn)
    ]
    # worker w's first draw after np.random.seed(1000 + w); batches alternate workers
    first = {w: int(np.random.RandomState(1000 + w).randint(1 << 30)) for w in (0, 1)}
    assert got[0] == (first[0], 0) and got[1] == (first[1], 1)
