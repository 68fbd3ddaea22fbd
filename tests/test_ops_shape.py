"""Shape ops vs PyTorch: values, gradients (float64 and float32), second order, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tapegrad as tg
from helpers import check_vs_torch, noncontig
from tapegrad.autograd.gradcheck import gradcheck, gradgradcheck

DTYPES = [np.float64, np.float32]


def _rand(shape, dtype=np.float64, seed=0, contig=True):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return a if contig else noncontig(a)


def _x(shape, seed=0):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


# ------------------------------------------------ reshape family
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "f_tg,f_t,shape",
    [
        (lambda x: x.reshape(4, -1), lambda x: x.reshape(4, -1), (2, 3, 4)),
        (lambda x: x.view(24), lambda x: x.reshape(24), (2, 3, 4)),
        (lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1), (2, 3, 4)),
        (lambda x: x.transpose(-1, 0), lambda x: x.transpose(-1, 0), (2, 3, 4)),
        (lambda x: x.unsqueeze(-1), lambda x: x.unsqueeze(-1), (2, 3)),
        (lambda x: x.squeeze(), lambda x: x.squeeze(), (2, 1, 3, 1)),
        (lambda x: x.squeeze(1), lambda x: x.squeeze(1), (2, 1, 3, 1)),
        (lambda x: x.expand(2, 4, -1), lambda x: x.expand(2, 4, -1), (4, 1)),
        (lambda x: x.T, lambda x: x.permute(1, 0), (3, 4)),
    ],
)
def test_reshape_family(f_tg, f_t, shape, dtype):
    check_vs_torch(f_tg, f_t, [_rand(shape, dtype, contig=len(shape) != 2)])


# ------------------------------------------------------------------ flatten
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,start,end",
    [
        ((2, 3, 4), 0, -1),
        ((2, 3, 4), 1, -1),
        ((2, 3, 4, 5), 1, 2),
        ((2, 3, 4), -2, -2),
        ((), 0, -1),
    ],
)
def test_flatten(shape, start, end, dtype):
    a = _rand(shape, dtype, contig=False)
    check_vs_torch(lambda x: tg.flatten(x, start, end), lambda x: x.flatten(start, end), [a])
    check_vs_torch(lambda x: x.flatten(start, end), lambda x: x.flatten(start, end), [a])


def test_flatten_errors():
    with pytest.raises(ValueError, match="flatten: start_dim 2 comes after end_dim 1"):
        tg.ones(2, 3, 4).flatten(2, 1)
    with pytest.raises(IndexError, match="flatten: dim 3 is out of range for a tensor of 3 dims"):
        tg.ones(2, 3, 4).flatten(3)


# ----------------------------------------------------- flip, repeat, tile
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dims", [(0,), (-1,), (0, 2), (1, 0, 2)])
def test_flip(dims, dtype):
    a = _rand((2, 3, 4), dtype, contig=False)
    check_vs_torch(lambda x: tg.flip(x, dims), lambda x: torch.flip(x, dims), [a])
    check_vs_torch(lambda x: x.flip(*dims), lambda x: x.flip(*dims), [a])
    check_vs_torch(lambda x: x.flip(list(dims)), lambda x: x.flip(list(dims)), [a])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,sizes",
    [
        ((3,), (2,)),
        ((3,), (2, 2)),
        ((2, 3), (2, 1)),
        ((2, 1), (1, 3)),
        ((2, 3), (2, 2, 3)),
        ((2, 3), (1, 1)),
    ],
)
def test_repeat(shape, sizes, dtype):
    a = _rand(shape, dtype, contig=False)
    check_vs_torch(lambda x: x.repeat(*sizes), lambda x: x.repeat(*sizes), [a])
    check_vs_torch(lambda x: tg.repeat(x, sizes), lambda x: x.repeat(sizes), [a])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,dims", [((2, 3), (2,)), ((2, 3), (2, 2)), ((3,), (2, 1, 2)), ((2, 3, 2), (3, 1))]
)
def test_tile(shape, dims, dtype):
    a = _rand(shape, dtype)
    check_vs_torch(lambda x: tg.tile(x, dims), lambda x: torch.tile(x, dims), [a])
    check_vs_torch(lambda x: x.tile(*dims), lambda x: x.tile(*dims), [a])


def test_repeat_errors():
    with pytest.raises(ValueError, match=r"repeat: 1 repeat sizes given for a tensor of 2 dims"):
        tg.ones(2, 3).repeat(2)


# ------------------------------------------------------------- cat, stack
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, -1, -2])
def test_cat(dim, dtype):
    shapes = [(2, 3, 4), (2, 3, 4), (2, 3, 4)]
    sh = [list(s) for s in shapes]
    for i, s in enumerate(sh):
        s[dim] += i  # different sizes along dim
    arrays = [_rand(tuple(s), dtype, seed=i, contig=i != 1) for i, s in enumerate(sh)]
    check_vs_torch(lambda *xs: tg.cat(xs, dim), lambda *xs: torch.cat(xs, dim), arrays)
    check_vs_torch(lambda *xs: tg.concat(list(xs), dim=dim), lambda *xs: torch.cat(xs, dim), arrays)


def test_cat_some_inputs_without_grad():
    a, b = _rand((2, 3)), _rand((4, 3), seed=1)
    check_vs_torch(
        lambda x, y: tg.cat([x, y]), lambda x, y: torch.cat([x, y]), [a, b], grad=[False, True]
    )
    check_vs_torch(
        lambda x, y: tg.cat([x, y]) * 2,
        lambda x, y: torch.cat([x, y]) * 2,
        [a, b],
        grad=[True, False],
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_stack(dim, dtype):
    arrays = [_rand((2, 3), dtype, seed=i, contig=i != 0) for i in range(3)]
    check_vs_torch(lambda *xs: tg.stack(xs, dim), lambda *xs: torch.stack(xs, dim), arrays)


def test_cat_stack_errors():
    a, b = tg.ones(2, 3), tg.ones(2, 4)
    with pytest.raises(ValueError, match=r"cat: .*\(2, 3\).*\(2, 4\).*along dim 0"):
        tg.cat([a, b], 0)
    with pytest.raises(ValueError, match=r"cat: .*\(2, 3\).*\(3,\)"):
        tg.cat([a, tg.ones(3)], 0)
    with pytest.raises(ValueError, match=r"stack: .*\(2, 3\).*\(2, 4\).*dim 1"):
        tg.stack([a, b], 1)
    with pytest.raises(IndexError, match=r"cat: dim 2 is out of range for a tensor of 2 dims"):
        tg.cat([a, a], 2)
    with pytest.raises(IndexError, match=r"stack: dim 3 is out of range for a result of 3 dims"):
        tg.stack([a, a], 3)
    with pytest.raises(ValueError, match="cat: expects a non-empty list"):
        tg.cat([])
    with pytest.raises(TypeError, match="stack: expects a list or tuple"):
        tg.stack(a)


# ---------------------------------------------------- split, chunk, unbind
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,arg,dim",
    [
        ((7, 3), 2, 0),
        ((7, 3), 3, 0),
        ((3, 7), [2, 4, 1], -1),
        ((3, 6), [0, 6], 1),
        ((2, 6, 2), 6, 1),
    ],
)
def test_split(shape, arg, dim, dtype):
    a = _rand(shape, dtype, contig=False)
    check_vs_torch(lambda x: tg.split(x, arg, dim), lambda x: torch.split(x, arg, dim), [a])
    check_vs_torch(lambda x: x.split(arg, dim), lambda x: x.split(arg, dim), [a])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,chunks,dim", [((6, 2), 4, 0), ((7, 2), 3, 0), ((2, 5), 2, -1), ((2, 3), 5, 1)]
)
def test_chunk(shape, chunks, dim, dtype):
    a = _rand(shape, dtype)
    check_vs_torch(lambda x: tg.chunk(x, chunks, dim), lambda x: torch.chunk(x, chunks, dim), [a])
    assert len(tg.chunk(tg.Tensor(a), chunks, dim)) == len(
        torch.chunk(torch.tensor(a), chunks, dim)
    )


def test_chunk_of_empty_dim():
    pieces = tg.chunk(tg.zeros(0, 2), 3)
    assert [p.shape for p in pieces] == [tuple(p.shape) for p in torch.chunk(torch.zeros(0, 2), 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("used", [[0], [2], [0, 2], [1, 1]])
def test_split_only_some_pieces_used(used, dtype):
    a = _rand((7, 3), dtype)

    def f(split):
        def g(x):
            parts = split(x)
            return sum((parts[i] * (k + 1.0)).sum() for k, i in enumerate(used))

        return g

    check_vs_torch(f(lambda x: tg.split(x, 3)), f(lambda x: torch.split(x, 3)), [a])
    check_vs_torch(f(lambda x: tg.chunk(x, 3, 1)), f(lambda x: torch.chunk(x, 3, 1)), [a])
    check_vs_torch(f(lambda x: x.unbind(1)), f(lambda x: x.unbind(1)), [a])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind(dim):
    a = _rand((2, 3, 4), contig=False)
    check_vs_torch(lambda x: tg.unbind(x, dim), lambda x: torch.unbind(x, dim), [a])


def test_split_errors():
    x = tg.ones(5, 3)
    with pytest.raises(ValueError, match=r"split: sizes \[2, 2\] must .*add up to 5.*dim 0"):
        tg.split(x, [2, 2])
    with pytest.raises(IndexError, match="split: dim 2 is out of range for a tensor of 2 dims"):
        tg.split(x, 2, 2)
    with pytest.raises(ValueError, match="chunk: number of chunks must be positive"):
        tg.chunk(x, 0)


# ------------------------------------------------------------------- pad
PAD_CASES = [
    ((2, 3, 5), (1, 2)),
    ((2, 3, 5), (0, 3)),
    ((1, 2, 4, 5), (1, 2, 3, 1)),
    ((1, 2, 3, 4, 4), (1, 1, 2, 0, 1, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pads", PAD_CASES)
def test_pad(shape, pads, mode, dtype):
    a = _rand(shape, dtype, contig=False)
    kw = {"value": 1.5} if mode == "constant" else {}
    check_vs_torch(lambda x: tg.pad(x, pads, mode, **kw), lambda x: F.pad(x, pads, mode, **kw), [a])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pads", [(-1, 2), (1, -2, 0, 1), (-1, -1, -2, 0), (2, 1, 1, 1, 1, 0)])
def test_pad_constant_negative_and_many_dims(pads, dtype):
    a = _rand((2, 4, 5), dtype)
    check_vs_torch(lambda x: tg.pad(x, pads), lambda x: F.pad(x, pads), [a])


def test_pad_errors():
    x = tg.ones(1, 2, 3)
    with pytest.raises(
        ValueError, match=r"pad: reflect padding \(3, 0\) must be smaller than the size 3 of dim 2"
    ):
        tg.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="pad: 3 pad widths given for a tensor of shape"):
        tg.pad(x, (1, 1, 1))
    with pytest.raises(ValueError, match="pad: mode must be"):
        tg.pad(x, (1, 1), mode="symmetric")


# ---------------------------------------------------------- second order
SECOND_ORDER = [
    ("flatten", lambda x: tg.flatten(x * x)),
    ("flip", lambda x: tg.flip(x * x, 0, 1) * x),
    ("repeat", lambda x: (x * x).repeat(2, 1, 2)),
    ("tile", lambda x: tg.tile(x * x, (2,))),
    ("cat", lambda x: tg.cat([x * x, x, x * x * x], 1)),
    ("stack", lambda x: tg.stack([x * x, x], -1)),
    ("split", lambda x: tg.split(x * x, [1, 2], 1)[1] * x[:, :2]),
    ("chunk", lambda x: tg.chunk(x * x, 2, 0)[0]),
    ("unbind", lambda x: tg.unbind(x * x, 1)[2] * x[:, 0]),
    ("pad_constant", lambda x: tg.pad(x * x, (1, -1, 2, 0), value=0.5)),
    ("pad_reflect", lambda x: tg.pad((x * x).reshape(1, 2, 3), (2, 1), "reflect")),
    ("pad_replicate", lambda x: tg.pad((x * x).reshape(1, 1, 2, 3), (2, 1, 1, 1), "replicate")),
    ("pad_circular", lambda x: tg.pad((x * x).reshape(1, 2, 3), (3, 2), "circular")),
]


@pytest.mark.parametrize("name,fn", SECOND_ORDER, ids=[n for n, _ in SECOND_ORDER])
def test_gradcheck_and_gradgradcheck(name, fn):
    x = _x((2, 3), seed=3)
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.flatten(),
        lambda x: x.flip(0),
        lambda x: x.repeat(2, 2),
        lambda x: tg.cat([x, x]),
        lambda x: tg.stack([x, x]),
        lambda x: tg.split(x, 1)[0],
        lambda x: tg.pad(x, (1, 1)),
        lambda x: tg.pad(x.reshape(1, 3, 4), (1, 1), "reflect"),
    ],
)
def test_float32_stays_float32(fn):
    x = tg.Tensor(_rand((3, 4), np.float32), requires_grad=True)
    y = fn(x)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32


def test_reshape_error():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\)"):
        tg.ones(2, 3).reshape(4, 2)
