"""Indexing vs PyTorch and NumPy: getitem, setitem, gather, index_select, masked_fill, narrow."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad as tg
from helpers import check_vs_torch, noncontig
from tapegrad.autograd.gradcheck import gradcheck, gradgradcheck

DTYPES = [np.float64, np.float32]
rng0 = np.random.default_rng(42)
MASK_34 = rng0.random((3, 4)) > 0.5
MASK_4 = np.array([True, False, True, True])


def _rand(shape, dtype=np.float64, seed=0, contig=True):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return a if contig else noncontig(a)


def _x(shape, seed=0):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def _to_torch_key(key):
    """The same key for torch: arrays become torch tensors."""
    if not isinstance(key, tuple):
        return _to_torch_key((key,))[0]
    out = []
    for k in key:
        if isinstance(k, np.ndarray):
            out.append(torch.from_numpy(k))
        elif isinstance(k, list):
            out.append(torch.tensor(k))
        else:
            out.append(k)
    return tuple(out)


def _to_tg_key(key, how):
    """The same key for tapegrad, with arrays given as lists, ndarrays or tensors."""
    if not isinstance(key, tuple):
        return _to_tg_key((key,), how)[0]
    out = []
    for k in key:
        if isinstance(k, np.ndarray):
            k = {"list": k.tolist(), "array": k, "tensor": tg.Tensor(k)}[how]
        out.append(k)
    return tuple(out)


# Keys on a (3, 4, 5) tensor that torch also supports (positive steps only).
KEYS = [
    1,
    -1,
    (slice(None), 2),
    (slice(1, None), slice(None, 3), slice(None, None, 2)),
    (Ellipsis, -2),
    (None, 1, Ellipsis, None),
    (slice(None), None, slice(1, 3)),
    np.array([0, 2, 2, 1]),  # repeated rows accumulate
    (np.array([0, 0, 2]), np.array([1, 1, 3])),  # repeated elements accumulate
    (slice(None), np.array([[0, 1], [3, 3]])),
    (Ellipsis, np.array([4, 0, 4])),
    (np.array([1, 1]), slice(None), np.array([0, 0])),  # separated advanced indices
    (1, np.array([0, 3, 3]), slice(1, 4)),
    (np.array([[2], [0]]), np.array([1, 1, 2])),  # broadcast index arrays
    MASK_34,
    (MASK_34, np.arange(MASK_34.sum()) % 5),
    (slice(None), MASK_4),
    (MASK_4[:3], slice(2, 4)),
    (Ellipsis, np.array([True, False, False, True, True])),
    (np.array([-1, -3, -1]),),
    (np.array(2),),
    (None, np.array([2, 2]), None),
    (np.array([2, 0, 2]), 1, np.array([4, 4, 0])),  # integers and arrays on every dim
    (np.array([[1, 1]]), np.array([[3], [3]]), np.array([0, 0])),
    rng0.random((3, 4, 5)) > 0.3,  # a full mask, as in x[x > 0]
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("key", KEYS, ids=[f"key{i}" for i in range(len(KEYS))])
def test_getitem_vs_torch(key, dtype):
    a = _rand((3, 4, 5), dtype, contig=False)
    check_vs_torch(lambda x: x[_to_tg_key(key, "array")], lambda x: x[_to_torch_key(key)], [a])


@pytest.mark.parametrize("how", ["list", "tensor"])
@pytest.mark.parametrize("key", [KEYS[7], KEYS[8], KEYS[12], KEYS[14], KEYS[16]])
def test_getitem_index_kinds(key, how):
    a = _rand((3, 4, 5))
    check_vs_torch(lambda x: x[_to_tg_key(key, how)], lambda x: x[_to_torch_key(key)], [a])


# Keys PyTorch does not support (negative steps): checked against NumPy and by
# finite differences.
NUMPY_KEYS = [
    (slice(None, None, -1),),
    (slice(None), slice(None, None, -2), slice(4, 0, -3)),
    (np.array([2, 2, 0]), slice(None, None, -1)),
    (Ellipsis, slice(3, None, -1), None),
    (MASK_34[::-1], slice(None, None, -1)),
]


@pytest.mark.parametrize("key", NUMPY_KEYS, ids=[f"npkey{i}" for i in range(len(NUMPY_KEYS))])
def test_getitem_negative_steps(key):
    a = _rand((3, 4, 5))
    x = tg.Tensor(a, requires_grad=True)
    y = x[key]
    np.testing.assert_array_equal(y._array, a[key])
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(tg.Tensor(g))
    expected = np.zeros_like(a)
    np.add.at(expected, key, g)
    np.testing.assert_allclose(x.grad._array, expected, rtol=1e-12)
    assert gradcheck(lambda x: x[key], [_x((3, 4, 5))])


def test_repeated_indices_accumulate():
    x = tg.Tensor(np.arange(4.0), requires_grad=True)
    x[[0, 0, 3, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad._array, [3.0, 0.0, 0.0, 1.0])
    w = tg.Tensor(np.ones((5, 2), np.float32), requires_grad=True)  # an embedding table
    idx = tg.Tensor(np.array([[1, 1], [4, 1]]))
    w[idx].sum().backward()
    np.testing.assert_array_equal(w.grad._array[:, 0], [0, 3, 0, 0, 1])


@pytest.mark.parametrize(
    "key",
    [
        (slice(None), 1),
        (slice(None, None, -1), slice(1, None)),
        (None, Ellipsis, 0),
        np.array([0, 1, 1]),
        (np.array([1, 0, 1]), np.array([2, 2, 0])),
        (slice(None), np.array([2, 2])),
        np.array([[True, False, True], [False, True, True]]),
    ],
)
def test_getitem_second_order(key):
    x = _x((2, 3), seed=4)
    assert gradgradcheck(lambda x: x[key] * x[key], [x])


def test_getitem_out_of_range():
    x = tg.ones(3, 4)
    with pytest.raises(
        IndexError, match=r"getitem: index 5 is out of bounds for dim 1 with size 4"
    ):
        x[:, 5]
    with pytest.raises(
        IndexError, match=r"getitem: index -4 is out of bounds for dim 0 with size 3"
    ):
        x[-4]
    with pytest.raises(
        IndexError, match=r"getitem: index 7 is out of bounds for dim 0 with size 3"
    ):
        x[[0, 7]]
    with pytest.raises(IndexError, match=r"getitem: too many indices.*\(3, 4\)"):
        x[0, 0, 0]
    with pytest.raises(
        IndexError, match=r"getitem: tensors used as indices must be integer or boolean"
    ):
        x[tg.Tensor([0.0, 1.0])]


def test_iteration_uses_getitem():
    a = _rand((3, 2))
    x = tg.Tensor(a, requires_grad=True)
    rows = list(x)
    assert len(rows) == 3
    (rows[0] * 2 + rows[2]).sum().backward()
    np.testing.assert_array_equal(x.grad._array, [[2, 2], [0, 0], [1, 1]])


# ------------------------------------------------------------------ setitem
def test_setitem_on_plain_tensor():
    a = _rand((3, 4))
    x = tg.Tensor(a.copy())
    t = torch.tensor(a)
    x[0] = 5.0
    t[0] = 5.0
    x[:, [1, 3]] = tg.Tensor(np.array([[1.0, 2.0]]))
    t[:, [1, 3]] = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    x[x > 1.5] = np.float64(-1.0)
    t[t > 1.5] = -1.0
    x[1:, 2] = np.array([7.0, 8.0])
    t[1:, 2] = torch.tensor([7.0, 8.0], dtype=torch.float64)
    np.testing.assert_array_equal(x._array, t.numpy())


def test_setitem_on_a_leaf_that_requires_grad_raises_like_torch():
    x = tg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        torch.ones(3, requires_grad=True)[0] = 2.0
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x[0] = 2.0
    with tg.no_grad():
        x[0] = 2.0
    np.testing.assert_array_equal(x._array, [2.0, 1.0, 1.0])


def test_setitem_errors():
    x = tg.zeros(3, 4)
    with pytest.raises(
        IndexError, match=r"setitem: index 3 is out of bounds for dim 0 with size 3"
    ):
        x[3] = 1.0
    with pytest.raises(ValueError, match=r"setitem: a value of shape \(3,\) cannot be assigned"):
        x[0] = np.ones(3)


# ---------------------------------------------------------- gather & co.
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,dim,ishape",
    [((3, 4), 0, (5, 4)), ((3, 4), 1, (3, 6)), ((3, 4), -1, (2, 3)), ((2, 3, 4), 1, (2, 5, 3))],
)
def test_gather(shape, dim, ishape, dtype):
    a = _rand(shape, dtype, contig=False)
    idx = np.random.default_rng(1).integers(0, shape[dim], ishape)
    check_vs_torch(
        lambda x: tg.gather(x, dim, tg.Tensor(idx)),
        lambda x: torch.gather(x, dim, torch.from_numpy(idx)),
        [a],
    )
    check_vs_torch(
        lambda x: x.gather(dim, idx), lambda x: x.gather(dim, torch.from_numpy(idx)), [a]
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("index", [[0, 2, 2, 1], [1], []])
def test_index_select(dim, index, dtype):
    a = _rand((3, 4, 5), dtype, contig=False)
    idx = np.array(index, dtype=np.int64)
    check_vs_torch(
        lambda x: tg.index_select(x, dim, tg.Tensor(idx)),
        lambda x: torch.index_select(x, dim, torch.from_numpy(idx)),
        [a],
    )
    check_vs_torch(
        lambda x: x.index_select(dim, index),
        lambda x: x.index_select(dim, torch.tensor(index, dtype=torch.int64)),
        [a],
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask", [MASK_34, MASK_4, MASK_34[:, :1]])
def test_masked_fill(mask, dtype):
    a = _rand((3, 4), dtype, contig=False)
    m = torch.from_numpy(np.ascontiguousarray(mask))
    check_vs_torch(lambda x: tg.masked_fill(x, mask, -2.5), lambda x: x.masked_fill(m, -2.5), [a])
    check_vs_torch(
        lambda x: x.masked_fill(tg.Tensor(mask), float("-inf")).exp(),
        lambda x: x.masked_fill(m, float("-inf")).exp(),
        [a],
    )


def test_masked_fill_tensor_value_gets_gradient():
    a, v = _rand((3, 4)), np.array(0.7)
    m = torch.from_numpy(MASK_34)
    check_vs_torch(lambda x, v: x.masked_fill(MASK_34, v), lambda x, v: x.masked_fill(m, v), [a, v])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "dim,start,length", [(0, 1, 2), (1, 0, 4), (-1, 2, 1), (1, -3, 2), (0, 3, 0)]
)
def test_narrow(dim, start, length, dtype):
    a = _rand((3, 4), dtype, contig=False)
    check_vs_torch(
        lambda x: x.narrow(dim, start, length), lambda x: x.narrow(dim, start, length), [a]
    )


SECOND_ORDER = [
    ("gather", lambda x: tg.gather(x * x, 1, np.array([[0, 2, 2], [1, 1, 0]]))),
    ("gather_small", lambda x: tg.gather(x * x, 0, np.array([[1, 0]]))),
    ("index_select", lambda x: tg.index_select(x * x, 1, [2, 0, 2])),
    ("masked_fill", lambda x: tg.masked_fill(x * x, np.array([True, False, True]), 3.0)),
    ("narrow", lambda x: tg.narrow(x * x, 1, 1, 2)),
]


@pytest.mark.parametrize("name,fn", SECOND_ORDER, ids=[n for n, _ in SECOND_ORDER])
def test_gradcheck_and_gradgradcheck(name, fn):
    x = _x((2, 3), seed=5)
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


def test_gather_index_select_errors():
    x = tg.ones(3, 4)
    with pytest.raises(IndexError, match=r"gather: index 4 is out of range for dim 1 of size 4"):
        tg.gather(x, 1, np.array([[0, 4]]))
    with pytest.raises(IndexError, match=r"gather: index -1 is out of range for dim 0 of size 3"):
        tg.gather(x, 0, np.array([[-1]]))
    with pytest.raises(ValueError, match=r"gather: index of shape \(2,\) does not fit .*\(3, 4\)"):
        tg.gather(x, 0, np.array([0, 1]))
    with pytest.raises(IndexError, match="gather: dim 2 is out of range for a tensor of 2 dims"):
        tg.gather(x, 2, np.zeros((1, 1), np.int64))
    with pytest.raises(
        IndexError, match=r"index_select: index 3 is out of range for dim 0 of size 3"
    ):
        tg.index_select(x, 0, [0, 3])
    with pytest.raises(TypeError, match="index_select: index must be an integer tensor"):
        tg.index_select(x, 0, tg.Tensor([0.0]))
    with pytest.raises(TypeError, match="masked_fill: mask must be boolean"):
        tg.masked_fill(x, np.ones((3, 4)), 0.0)
    with pytest.raises(
        ValueError, match=r"masked_fill: mask of shape \(2, 4\) cannot be broadcast"
    ):
        tg.masked_fill(x, np.ones((2, 4), bool), 0.0)
    with pytest.raises(
        IndexError, match=r"narrow: start 3 and length 2 do not fit dim 0 of size 3"
    ):
        tg.narrow(x, 0, 3, 2)


# ------------------------------------ integers mixed with index arrays: PyTorch's order
MIXED_KEYS = [
    (0, slice(None), [0, 1]),
    ([1, 0], 0, slice(None)),
    (slice(None), [1, 0], 2),
    (1, [0, 2], slice(1, 3), [1, 3]),
    (Ellipsis, 1, [0, 2]),
    (None, 0, slice(None), [0, 1]),
    (0, np.array([True, False, True])),
    (1, [[0, 1], [2, 2]], slice(None), 0),
]


def _key(lib, key):
    return tuple(lib.tensor(k) if isinstance(k, np.ndarray) else k for k in key)


@pytest.mark.parametrize("key", MIXED_KEYS, ids=str)
def test_integers_with_index_arrays_follow_torch(key):
    dims = len([k for k in key if k is not None and k is not Ellipsis])
    shape = (2, 3, 4, 5) if dims == 4 else (2, 3, 4)
    a = np.random.default_rng(0).standard_normal(shape)
    xt, x = torch.tensor(a, requires_grad=True), tg.tensor(a, requires_grad=True)
    rt, r = xt[_key(torch, key)], x[_key(tg, key)]
    assert tuple(r.shape) == tuple(rt.shape)
    np.testing.assert_array_equal(r.detach().numpy(), rt.detach().numpy())
    up = np.random.default_rng(1).standard_normal(tuple(rt.shape))
    (rt * torch.tensor(up)).sum().backward()
    (r * tg.tensor(up)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())
    # writes: the same positions, and the gradients of the written value and the old tensor
    vt, v = torch.tensor(up, requires_grad=True), tg.tensor(up, requires_grad=True)
    yt, y = xt * 1.0, x * 1.0
    yt[_key(torch, key)] = vt * 2
    y[_key(tg, key)] = v * 2
    np.testing.assert_array_equal(y.detach().numpy(), yt.detach().numpy())
    w = np.random.default_rng(2).standard_normal(shape)
    (yt * yt * torch.tensor(w)).sum().backward()
    (y * y * tg.tensor(w)).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), vt.grad.numpy())
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())


@pytest.mark.parametrize("key", [[0, 1], "mask", slice(0, 2), 1])
def test_setitem_dtype_rules_like_torch(key):
    def run(lib):
        x = lib.zeros(3, dtype=lib.float32)
        k = lib.tensor([True, False, True]) if key == "mask" else key
        try:
            x[k] = lib.tensor(1.0, dtype=lib.float64)
        except RuntimeError:
            return "raises"
        return x.numpy().tolist()

    assert run(tg) == run(torch)
