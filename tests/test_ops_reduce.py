"""Reductions vs PyTorch: values, gradients (float64 and float32), second order, errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import tapegrad as tg
from helpers import check_second_order_vs_torch, check_vs_torch, noncontig
from tapegrad.autograd.gradcheck import gradcheck, gradgradcheck
from tapegrad.tensor import ReturnTypes

DTYPES = [np.float64, np.float32]
SHAPES_DIMS = [
    ((5,), None),
    ((5,), 0),
    ((5,), -1),
    ((3, 4), None),
    ((3, 4), 0),
    ((3, 4), -1),
    ((2, 3, 4), 1),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), (-1, -2)),
    ((), None),
]


def _rand(shape, dtype, seed=0, contig=True):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return a if contig else noncontig(a)


def _ties(shape, dtype, seed=0):
    """Values from {-1, 0, 1, 2}: many ties in every slice."""
    return np.random.default_rng(seed).integers(-1, 3, shape).astype(dtype)


def _tdim(dim):
    return list(dim) if isinstance(dim, tuple) else dim


# ------------------------------------------------------------------ sum, mean
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", SHAPES_DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_mean(op, shape, dim, keepdim, dtype):
    a = _rand(shape, dtype, contig=len(shape) != 2)

    def f_torch(x):
        fn = getattr(torch, op)
        return (
            fn(x)
            if dim is None and not keepdim
            else fn(x, [] if dim is None else _tdim(dim), keepdim)
        )

    check_vs_torch(lambda x: getattr(tg, op)(x, dim, keepdim), f_torch, [a])


def test_numpy_aliases():
    a = _rand((2, 3, 4), np.float64)
    x = tg.Tensor(a)
    np.testing.assert_allclose(tg.sum(x, axis=1, keepdims=True)._array, a.sum(1, keepdims=True))
    np.testing.assert_allclose(x.mean(axis=(0, 2))._array, a.mean((0, 2)))
    np.testing.assert_allclose(x.var(axis=0, ddof=0)._array, a.var(0))
    np.testing.assert_allclose(
        x.std(axis=-1, keepdims=True)._array, a.std(-1, ddof=1, keepdims=True)
    )
    np.testing.assert_allclose(x.prod(axis=2)._array, a.prod(2))
    np.testing.assert_allclose(tg.amax(x, axis=(1, 2))._array, a.max((1, 2)))
    np.testing.assert_allclose(x.max(axis=1).values.data, a.max(1))
    np.testing.assert_array_equal(
        x.argmin(axis=2, keepdims=True)._array, a.argmin(2, keepdims=True)
    )
    np.testing.assert_allclose(tg.norm(x, 2, axis=0)._array, np.sqrt((a * a).sum(0)))
    # An empty tuple reduces nothing for sum (NumPy), everything for amax (torch).
    np.testing.assert_allclose(tg.sum(x, axis=())._array, a.sum(axis=()))
    assert tg.amax(x, ()).item() == torch.amax(torch.tensor(a), ()).item()
    with pytest.raises(TypeError, match="sum: unexpected arguments"):
        tg.sum(x, foo=1)


def test_mean_of_integers_raises_and_sum_of_bools_is_int64():
    a = np.array([[1, 2], [3, 5]])
    x = tg.Tensor(a)
    with pytest.raises(RuntimeError, match="mean"):
        torch.tensor(a).mean(0)
    with pytest.raises(RuntimeError, match=r"mean\(\): could not infer output dtype"):
        x.mean(0)
    for op in ("var", "std"):
        with pytest.raises(RuntimeError, match="floating point"):
            getattr(torch.tensor(a), op)()
        with pytest.raises(RuntimeError, match="floating point"):
            getattr(x, op)()
    m = x.mean(0, dtype=tg.float32)
    assert m.dtype == np.float32
    np.testing.assert_allclose(m._array, torch.tensor(a).mean(0, dtype=torch.float32).numpy())
    s = (x > 1).sum()
    assert s.dtype == np.int64 and s.item() == 3


def test_mean_empty_is_nan():
    x = tg.zeros(0, 3)
    assert np.isnan(x.mean().item())
    assert torch.zeros(0, 3).mean().isnan()


# ----------------------------------------------------------------- max, min
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4)])
@pytest.mark.parametrize("ties", [False, True])
def test_max_min_all(op, shape, ties, dtype):
    a = _ties(shape, dtype) if ties else _rand(shape, dtype)
    check_vs_torch(lambda x: getattr(x, op)(), lambda x: getattr(x, op)(), [a])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("shape,dim", [((6,), 0), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1)])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_max_min_dim(op, shape, dim, keepdim, ties, dtype):
    a = _ties(shape, dtype, seed=1) if ties else _rand(shape, dtype, contig=len(shape) != 2)
    x = tg.Tensor(a, requires_grad=True)
    out = getattr(tg, op)(x, dim, keepdim)
    ref = getattr(torch, op)(torch.tensor(a), dim, keepdim)
    assert isinstance(out, ReturnTypes)
    assert out.indices.dtype == np.int64
    # On ties torch (CPU) returns the first index, as NumPy does.
    np.testing.assert_array_equal(out.indices.data, ref.indices.numpy())
    check_vs_torch(
        lambda x: getattr(tg, op)(x, dim, keepdim).values,
        lambda x: getattr(torch, op)(x, dim, keepdim).values,
        [a],
    )


def test_max_of_two_tensors_is_maximum():
    a, b = _rand((3, 4), np.float64, 0), _rand((4,), np.float64, 1)
    check_vs_torch(lambda x, y: tg.max(x, y), lambda x, y: torch.max(x, y), [a, b])
    check_vs_torch(lambda x, y: x.min(y), lambda x, y: x.min(y), [a, b])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["amax", "amin"])
@pytest.mark.parametrize(
    "shape,dim", [((6,), 0), ((3, 4), -1), ((2, 3, 4), (0, 2)), ((2, 3, 4), None)]
)
@pytest.mark.parametrize("keepdim", [False, True])
def test_amax_amin_ties(op, shape, dim, keepdim, dtype):
    a = _ties(shape, dtype, seed=2)

    def f_torch(x):
        return getattr(torch, op)(x, dim=() if dim is None else dim, keepdim=keepdim)

    check_vs_torch(lambda x: getattr(x, op)(dim, keepdim), f_torch, [a])


def test_max_nan_propagates():
    a = np.array([[1.0, np.nan, 3.0], [2.0, 0.5, 1.0]])
    x = tg.Tensor(a, requires_grad=True)
    m = x.max(1)
    ref = torch.tensor(a).max(1)
    np.testing.assert_array_equal(m.indices.data, ref.indices.numpy())
    np.testing.assert_array_equal(np.isnan(m.values.data), [True, False])
    assert np.isnan(tg.amax(x).item()) and np.isnan(x.max().item())
    a = np.array([[1.0, np.nan, 3.0, np.nan], [2.0, 0.5, 1.0, 2.0]])
    # The gradient of max() is shared among the NaNs, as in torch.
    check_vs_torch(lambda x: x.max(), lambda x: x.max(), [a])
    check_vs_torch(lambda x: x.min(), lambda x: x.min(), [a])
    check_vs_torch(lambda x: x.max(1).values, lambda x: x.max(1).values, [a])


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None, 0, -1, 1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_argmax_argmin(op, dim, keepdim, ties):
    a = _ties((3, 5), np.float32, 3) if ties else _rand((3, 5), np.float32)
    out = getattr(tg, op)(tg.Tensor(a, requires_grad=True), dim, keepdim)
    ref = getattr(torch, op)(torch.tensor(a), dim, keepdim)
    assert out.dtype == np.int64 and not out.requires_grad
    assert out.shape == tuple(ref.shape)
    np.testing.assert_array_equal(out._array, ref.numpy())


# ------------------------------------------------------------------ var, std
VAR_KW = [
    ({}, {}),
    ({"correction": 0}, {"correction": 0}),
    ({"correction": 2}, {"correction": 2}),
    ({"unbiased": False}, {"unbiased": False}),
    ({"unbiased": True}, {"unbiased": True}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["var", "std"])
@pytest.mark.parametrize(
    "shape,dim", [((6,), None), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), (0, 2))]
)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("kw_tg,kw_t", VAR_KW)
def test_var_std(op, shape, dim, keepdim, kw_tg, kw_t, dtype):
    a = _rand(shape, dtype, contig=len(shape) != 2)

    def f_torch(x):
        fn = getattr(torch, op)
        if "unbiased" in kw_t:  # torch's legacy overload takes unbiased positionally
            return fn(x, dim, kw_t["unbiased"], keepdim) if dim is not None else fn(x, **kw_t)
        return fn(x, dim=dim, keepdim=keepdim, **kw_t)

    if "unbiased" in kw_t and dim is None and keepdim:
        return
    check_vs_torch(lambda x: getattr(x, op)(dim, keepdim=keepdim, **kw_tg), f_torch, [a])


def test_var_legacy_positional_unbiased():
    a = _rand((4, 3), np.float64)
    np.testing.assert_allclose(tg.Tensor(a).var(False)._array, torch.tensor(a).var(False).numpy())
    np.testing.assert_allclose(tg.Tensor(a).std(True)._array, torch.tensor(a).std(True).numpy())


def test_var_single_element_is_nan_like_torch():
    a = np.array([2.0])
    assert np.isnan(tg.var(tg.Tensor(a)).item()) and torch.var(torch.tensor(a)).isnan()
    np.testing.assert_allclose(tg.var(tg.Tensor(a), correction=0).item(), 0.0)


# ---------------------------------------------------------------------- prod
PROD_CASES = [
    np.array([1.5, -0.7, 2.0, 0.9]),
    np.array([1.5, 0.0, 2.0, -0.9]),  # exactly one zero
    np.array([0.0, 1.5, 0.0, 2.0]),  # two zeros
    np.array([0.0, 0.0, 0.0, 2.0]),  # three zeros
    np.array([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0], [1.1, -1.2, 0.5], [0.0, 0.7, 0.0]]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(PROD_CASES)))
@pytest.mark.parametrize("dim", [None, 0, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_prod_with_zeros(case, dim, keepdim, dtype):
    a = PROD_CASES[case].astype(dtype)

    def f_torch(x):
        return torch.prod(x) if dim is None else torch.prod(x, dim, keepdim)

    def f_tg(x):
        return tg.prod(x) if dim is None else tg.prod(x, dim, keepdim)

    check_vs_torch(f_tg, f_torch, [a])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,dim", [((2, 3, 4), 1), ((3, 4), -1), ((2, 3, 2), None)])
def test_prod_random(shape, dim, dtype):
    a = _rand(shape, dtype, 5, contig=False)
    f_t = (lambda x: torch.prod(x)) if dim is None else (lambda x: torch.prod(x, dim))
    check_vs_torch(lambda x: tg.prod(x, dim), f_t, [a])


def test_prod_over_several_dims():
    a = _rand((2, 3, 4), np.float64, 6)
    a[0, 1, 2] = 0.0
    x = tg.Tensor(a, requires_grad=True)
    tg.prod(x, (0, 2)).sum().backward()
    t = torch.tensor(a, requires_grad=True)
    t.permute(1, 0, 2).reshape(3, -1).prod(1).sum().backward()
    np.testing.assert_allclose(x.grad._array, t.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("case", range(len(PROD_CASES)))
@pytest.mark.parametrize("dim", [None, 0])
def test_prod_second_order(case, dim):
    a = PROD_CASES[case]
    x = tg.Tensor(a, requires_grad=True)
    gradgradcheck(lambda x: tg.prod(x, dim), [x])
    f_t = (lambda x: torch.prod(x)) if dim is None else (lambda x: torch.prod(x, dim))
    check_second_order_vs_torch(lambda x: tg.prod(x, dim), f_t, [a])


# ---------------------------------------------------------------------- norm
NORM_PS = [2, 1, math.inf, -math.inf, "fro", 3, 1.5, 0.5, 0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", NORM_PS)
@pytest.mark.parametrize("shape,dim", [((6,), None), ((3, 4), None), ((3, 4), 1), ((2, 3, 4), -1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_norm(p, shape, dim, keepdim, dtype):
    if p == "fro" and dim is not None:
        dim = (0, 1) if len(shape) == 2 else (-2, -1)
    a = _rand(shape, dtype, 7, contig=len(shape) != 2)
    grad = p != 0  # torch's p=0 gradient is identically zero; ours has no graph
    check_vs_torch(
        lambda x: tg.norm(x, p, dim, keepdim),
        lambda x: torch.norm(x, p, dim, keepdim),
        [a],
        grad=grad,
    )


@pytest.mark.parametrize("p", [2, 3, 1.5, 1, math.inf, "fro"])
@pytest.mark.parametrize("dim", [None, 1])
def test_norm_grad_at_zero_is_zero_like_torch(p, dim):
    a = np.zeros((2, 3))
    a[1] = [1.0, -2.0, 0.5]  # with dim=1 the first row is a zero vector
    x = tg.Tensor(a, requires_grad=True)
    tg.norm(x, p, dim).sum().backward()
    t = torch.tensor(a, requires_grad=True)
    torch.norm(t, p, dim).sum().backward()
    assert not np.isnan(x.grad._array).any()
    np.testing.assert_allclose(x.grad._array, t.grad.numpy(), rtol=1e-10)


def test_norm_bad_p():
    with pytest.raises(ValueError, match="norm: p must be"):
        tg.norm(tg.ones(3), "nuc")


# ------------------------------------------------------ second order, by op
def _x(shape, seed=0):
    return tg.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


SECOND_ORDER = [
    ("sum", lambda x: tg.sum(x * x, 1)),
    ("sum_keep", lambda x: (x * x).sum((0, 1), keepdim=True)),
    ("mean", lambda x: tg.mean(x * x, -1, keepdim=True)),
    ("max", lambda x: (x * x).max()),
    ("max_dim", lambda x: (x * x).max(1).values),
    ("min_dim", lambda x: (x * x).min(0, keepdim=True).values),
    ("amax", lambda x: tg.amax(x * x, (0, 1))),
    ("amin", lambda x: tg.amin(x * x, 1)),
    ("var", lambda x: tg.var(x, 1)),
    ("var_c0", lambda x: tg.var(x, correction=0)),
    ("std", lambda x: tg.std(x, 0, keepdim=True)),
    ("prod", lambda x: tg.prod(x, 1)),
    ("norm2", lambda x: tg.norm(x)),
    ("norm2_dim", lambda x: tg.norm(x, 2, 1)),
    ("norm3", lambda x: tg.norm(x, 3, 0)),
    ("norm1", lambda x: tg.norm(x * x, 1)),
    ("norm_inf", lambda x: tg.norm(x * x, math.inf, 1)),
]


@pytest.mark.parametrize("name,fn", SECOND_ORDER, ids=[n for n, _ in SECOND_ORDER])
def test_gradcheck_and_gradgradcheck(name, fn):
    x = _x((2, 3), seed=11)
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


@pytest.mark.parametrize(
    "f_tg,f_t",
    [
        (lambda x: tg.var(x, 1), lambda x: torch.var(x, 1)),
        (lambda x: tg.std(x), lambda x: torch.std(x)),
        (lambda x: tg.norm(x, 2, 0), lambda x: torch.norm(x, 2, 0)),
        (lambda x: tg.norm(x, 3), lambda x: torch.norm(x, 3)),
        (lambda x: tg.prod(x, 0), lambda x: torch.prod(x, 0)),
        (lambda x: x.amax(1) * x.sum(), lambda x: x.amax(1) * x.sum()),
    ],
)
def test_hessian_vector_vs_torch(f_tg, f_t):
    a = np.random.default_rng(12).standard_normal((3, 4))
    check_second_order_vs_torch(f_tg, f_t, [a])


# ---------------------------------------------------------------- dtype, errors
@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.sum(0),
        lambda x: x.mean(),
        lambda x: x.max(),
        lambda x: x.max(1).values,
        lambda x: x.amin(0),
        lambda x: x.var(1),
        lambda x: x.std(),
        lambda x: x.prod(1),
        lambda x: x.norm(),
        lambda x: x.norm(3, 1),
        lambda x: x.norm(math.inf),
    ],
)
def test_float32_stays_float32(fn):
    x = tg.Tensor(_rand((3, 4), np.float32), requires_grad=True)
    y = fn(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize(
    "op", ["sum", "mean", "max", "min", "amax", "var", "std", "prod", "argmax"]
)
def test_bad_dim(op):
    x = tg.ones(2, 3)
    with pytest.raises(IndexError, match=rf"{op}: dim 2 is out of range for a tensor of 2 dims"):
        getattr(tg, op)(x, 2)
    with pytest.raises(IndexError, match=rf"{op}: dim -3 is out of range"):
        getattr(tg, op)(x, -3)


def test_zero_dim_tensor_dims():
    x = tg.Tensor(np.array(3.0), requires_grad=True)
    for dim in (0, -1):
        assert tg.sum(x, dim).item() == 3.0
        assert tg.amax(x, dim).item() == 3.0
        for keepdim in (False, True):
            m = x.max(dim, keepdim)
            ref = torch.tensor(3.0).max(dim, keepdim)
            assert m.values.shape == tuple(ref.values.shape) == ()
            assert m.values.item() == 3.0 and m.indices.item() == ref.indices.item() == 0
            assert x.argmax(dim, keepdim).shape == ()
            assert tg.amax(x, dim, keepdim).shape == ()


def test_errors():
    with pytest.raises(ValueError, match=r"max: cannot reduce over an empty dim.*\(0, 3\)"):
        tg.zeros(0, 3).max()
    with pytest.raises(ValueError, match=r"amin: cannot reduce over an empty dim"):
        tg.zeros(2, 0).amin(1)
    with pytest.raises(TypeError, match="max: dim must be an int"):
        tg.ones(2, 3).max((0, 1))
    with pytest.raises(TypeError, match="var: give only one of correction, unbiased"):
        tg.ones(3).var(correction=1, unbiased=True)
    assert tg.zeros(2, 0).amax(0).shape == (0,)


@pytest.mark.parametrize(
    "args,kw",
    [
        ((1,), {}),
        ((1, False), {}),
        ((0, True, True), {}),
        (((0, 1), False, False), {}),
        ((False,), {}),
        ((True,), {}),
        ((1,), {"correction": 0, "keepdim": True}),
        ((), {"dim": 0, "unbiased": False}),
    ],
)
@pytest.mark.parametrize("op", ["var", "std"])
def test_var_std_take_torch_positional_order(op, args, kw):
    a = np.random.default_rng(3).standard_normal((3, 4))
    x, xt = tg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, yt = getattr(x, op)(*args, **kw), getattr(xt, op)(*args, **kw)
    assert tuple(y.shape) == tuple(yt.shape)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-12)
    z, zt = getattr(tg, op)(x, *args, **kw), getattr(torch, op)(xt, *args, **kw)
    np.testing.assert_allclose(z.detach().numpy(), zt.detach().numpy(), rtol=1e-12)
    y.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10)


def test_add_sub_alpha_like_torch():
    a, b = np.random.default_rng(4).standard_normal((2, 3, 1)), np.ones((3, 4))
    for fn in ("add", "sub"):
        x, xt = tg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        w, wt = tg.tensor(b, requires_grad=True), torch.tensor(b, requires_grad=True)
        y, yt = getattr(x, fn)(w, alpha=2.5), getattr(xt, fn)(wt, alpha=2.5)
        z, zt = getattr(tg, fn)(x, w, alpha=-3), getattr(torch, fn)(xt, wt, alpha=-3)
        np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy())
        np.testing.assert_allclose(z.detach().numpy(), zt.detach().numpy())
        (y.sum() + (z * z).sum()).backward()
        (yt.sum() + (zt * zt).sum()).backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())
        np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy())
    with pytest.raises(RuntimeError, match="alpha must not be a floating point number"):
        torch.tensor([1, 2]).add(torch.tensor([1, 2]), alpha=0.5)
    with pytest.raises(RuntimeError, match="alpha must not be a floating point number"):
        tg.tensor([1, 2]).add(tg.tensor([1, 2]), alpha=0.5)


def test_softmax_and_logsumexp_of_empty_slices_like_torch():
    a = np.zeros((2, 0))
    for f in (
        lambda t: t.softmax(-1),
        lambda t: t.log_softmax(0),
        lambda t: t.logsumexp(1),
        lambda t: t.logsumexp(0),
    ):
        got, want = f(tg.tensor(a)), f(torch.tensor(a))
        assert tuple(got.shape) == tuple(want.shape)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_var_over_an_empty_dim_twice_differentiable_like_torch():
    a = np.zeros((1, 0))
    out = []
    for lib in (torch, tg):
        x = lib.tensor(a, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = (x * 1.0).var(1)
        (g,) = lib.autograd.grad(y.sum(), [x], create_graph=True)
        out.append((y.detach().numpy(), tuple(g.shape)))
    np.testing.assert_array_equal(out[1][0], out[0][0])
    assert out[1][1] == out[0][1]
