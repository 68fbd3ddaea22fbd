"""The ops PyTorch scripts reach for beyond the core set, against PyTorch: values,
gradients (float64 and float32), second order, dtypes, and the Tensor methods."""

import math

import numpy as np
import pytest
import torch

import tapegrad as tg
from helpers import check_second_order_vs_torch, check_vs_torch


def _normal(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _positive(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape).astype(dtype)


# name: (tapegrad, torch, input generator)
UNARY = {
    "reciprocal": (tg.reciprocal, torch.reciprocal, _positive),
    "expm1": (tg.expm1, torch.expm1, _normal),
    "log2": (tg.log2, torch.log2, _positive),
    "tan": (tg.tan, torch.tan, lambda s, d, seed=0: (0.6 * _normal(s, d, seed)).astype(d)),
    "atan": (tg.atan, torch.atan, _normal),
    "erf": (tg.erf, torch.erf, _normal),
    "m_reciprocal": (lambda x: x.reciprocal(), lambda x: x.reciprocal(), _positive),
    "m_expm1": (lambda x: x.expm1(), lambda x: x.expm1(), _normal),
    "m_log2": (lambda x: x.log2(), lambda x: x.log2(), _positive),
    "m_tan": (lambda x: x.tan(), lambda x: x.tan(), _positive),
    "m_atan": (lambda x: x.atan(), lambda x: x.atan(), _normal),
    "m_erf": (lambda x: x.erf(), lambda x: x.erf(), _normal),
    "clamp_min": (lambda x: x.clamp_min(0.1), lambda x: x.clamp_min(0.1), _normal),
    "clamp_max": (lambda x: x.clamp_max(-0.2), lambda x: x.clamp_max(-0.2), _normal),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", UNARY)
def test_unary_vs_torch(name, dtype):
    f, g, gen = UNARY[name]
    x = gen((3, 4), dtype)
    check_vs_torch(f, g, [x])
    assert f(tg.Tensor(x)).dtype == dtype
    if dtype == np.float64:
        check_second_order_vs_torch(f, g, [x])


def test_reciprocal_of_int_is_float():
    got, want = tg.reciprocal(tg.tensor([2, 4])), torch.reciprocal(torch.tensor([2, 4]))
    assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(got.numpy(), want.numpy())


# name: (tapegrad, torch, input)
SHAPED = {
    "cumsum0": (lambda x: x.cumsum(0), lambda x: x.cumsum(0), _normal((4, 3))),
    "cumsum-1": (lambda x: tg.cumsum(x, -1), lambda x: torch.cumsum(x, -1), _normal((2, 3, 4))),
    "cumprod1": (lambda x: x.cumprod(1), lambda x: x.cumprod(1), _normal((3, 5))),
    "cumprod_zero": (
        lambda x: tg.cumprod(x, 1),
        lambda x: torch.cumprod(x, 1),
        np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 0.5], [2.0, 0.7, 0.0, 1.1]]),
    ),
    "tril": (lambda x: x.tril(), lambda x: x.tril(), _normal((4, 5))),
    "tril-1": (lambda x: tg.tril(x, -1), lambda x: torch.tril(x, -1), _normal((2, 4, 3))),
    "triu1": (lambda x: tg.triu(x, 1), lambda x: torch.triu(x, 1), _normal((4, 5))),
    "roll": (lambda x: x.roll(2, 1), lambda x: x.roll(2, 1), _normal((3, 5))),
    "roll2": (
        lambda x: tg.roll(x, (1, -2), (0, 1)),
        lambda x: torch.roll(x, (1, -2), (0, 1)),
        _normal((3, 5)),
    ),
    "roll_flat": (lambda x: x.roll(3), lambda x: x.roll(3), _normal((3, 5))),
    "flip": (lambda x: x.flip(0, 1), lambda x: x.flip(0, 1), _normal((3, 5))),
    "sort": (lambda x: x.sort(1), lambda x: x.sort(1), _normal((3, 6))),
    "sort_desc0": (
        lambda x: tg.sort(x, 0, descending=True),
        lambda x: torch.sort(x, 0, descending=True),
        _normal((5, 3)),
    ),
    "argsort": (lambda x: x.argsort(-1), lambda x: x.argsort(-1), _normal((3, 6))),
    "argsort_desc": (
        lambda x: tg.argsort(x, 0, descending=True),
        lambda x: torch.argsort(x, 0, descending=True),
        _normal((5, 3)),
    ),
    "topk": (lambda x: x.topk(3), lambda x: x.topk(3), _normal((4, 7))),
    "topk_small0": (
        lambda x: tg.topk(x, 2, 0, largest=False),
        lambda x: torch.topk(x, 2, 0, largest=False),
        _normal((5, 3)),
    ),
    "norm": (lambda x: x.norm(), lambda x: x.norm(), _normal((3, 4))),
    "norm_p1_dim": (lambda x: tg.norm(x, 1, 1), lambda x: torch.norm(x, 1, 1), _normal((3, 4))),
    "linalg_norm": (tg.linalg.norm, torch.linalg.norm, _normal((3, 4))),
    "linalg_norm_inf": (
        lambda x: tg.linalg.norm(x, math.inf),
        lambda x: torch.linalg.norm(x, math.inf),
        _normal((3, 4)),
    ),
    "linalg_norm_1": (
        lambda x: tg.linalg.norm(x, 1),
        lambda x: torch.linalg.norm(x, 1),
        _normal((3, 4)),
    ),
    "linalg_norm_fro_dims": (
        lambda x: tg.linalg.norm(x, "fro", (0, 2)),
        lambda x: torch.linalg.norm(x, "fro", (0, 2)),
        _normal((2, 3, 4)),
    ),
    "linalg_norm_vec3": (
        lambda x: tg.linalg.norm(x, 3, 1, keepdim=True),
        lambda x: torch.linalg.norm(x, 3, 1, keepdim=True),
        _normal((2, 3, 4)),
    ),
    "vector_norm": (
        lambda x: tg.linalg.vector_norm(x, 2, (0, 1)),
        lambda x: torch.linalg.vector_norm(x, 2, (0, 1)),
        _normal((2, 3, 4)),
    ),
    "matrix_norm_-inf": (
        lambda x: tg.linalg.matrix_norm(x, -math.inf),
        lambda x: torch.linalg.matrix_norm(x, -math.inf),
        _normal((2, 3, 4)),
    ),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", SHAPED)
def test_shaped_ops_vs_torch(name, dtype):
    f, g, x = SHAPED[name]
    check_vs_torch(f, g, [x.astype(dtype)])
    # argsort has no gradient; the 1- and inf-norms are piecewise linear (zero Hessian)
    linear = ("argsort", "norm_p1", "linalg_norm_inf", "linalg_norm_1", "matrix_norm")
    if dtype == np.float64 and not name.startswith(linear):

        def first(h):
            return lambda t: h(t)[0] if name.startswith(("sort", "topk")) else h(t)

        check_second_order_vs_torch(first(f), first(g), [x])


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", [torch.int32, torch.bool, torch.int64])
def test_integer_scans_accumulate_in_int64(op, dtype):
    a = torch.tensor([[1, 0, 3], [2, 2, 1]]).to(dtype)
    got = getattr(tg, op)(tg.tensor(a.numpy()), 1)
    want = getattr(torch, op)(a, 1)
    assert str(got.dtype) == str(want.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_sort_ties_are_stable_like_torch_stable():
    a = np.array([[2.0, 1.0, 2.0, 1.0, 3.0, 2.0]])
    for desc in (False, True):
        v, i = tg.sort(tg.tensor(a), descending=desc)
        tv, ti = torch.sort(torch.tensor(a), descending=desc, stable=True)
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        np.testing.assert_array_equal(v.numpy(), tv.numpy())


def test_topk_rejects_k_too_large():
    with pytest.raises(ValueError, match="k=5 is out of range"):
        tg.topk(tg.zeros(3), 5)


def test_matrix_spectral_norm_raises_clearly():
    with pytest.raises(NotImplementedError, match="singular values"):
        tg.linalg.norm(tg.ones(2, 2), 2)


# ------------------------------------------------------------ matrix products
MATMULS = {
    "mm": (lambda a, b: a.mm(b), lambda a, b: a.mm(b), (3, 4), (4, 2)),
    "tg.mm": (tg.mm, torch.mm, (3, 4), (4, 2)),
    "bmm": (lambda a, b: a.bmm(b), lambda a, b: a.bmm(b), (2, 3, 4), (2, 4, 5)),
    "tg.bmm": (tg.bmm, torch.bmm, (2, 3, 4), (2, 4, 5)),
    "einsum": (
        lambda a, b: tg.einsum("bij,bjk->bik", a, b),
        lambda a, b: torch.einsum("bij,bjk->bik", a, b),
        (2, 3, 4),
        (2, 4, 5),
    ),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", MATMULS)
def test_matrix_products_vs_torch(name, dtype):
    f, g, sa, sb = MATMULS[name]
    a, b = _normal(sa, dtype), _normal(sb, dtype, 1)
    check_vs_torch(f, g, [a, b])
    if dtype == np.float64:
        check_second_order_vs_torch(f, g, [a, b])


@pytest.mark.parametrize("beta, alpha", [(1.0, 1.0), (0.5, -2.0), (0.0, 3.0)])
@pytest.mark.parametrize("in_shape", [(2, 3, 5), (3, 5), (1, 5)])
def test_baddbmm_vs_torch(beta, alpha, in_shape):
    arrays = [_normal(in_shape), _normal((2, 3, 4), seed=1), _normal((2, 4, 5), seed=2)]

    def f(x, a, b):
        return tg.baddbmm(x, a, b, beta=beta, alpha=alpha)

    def g(x, a, b):
        return torch.baddbmm(x, a, b, beta=beta, alpha=alpha)

    check_vs_torch(f, g, arrays)
    check_second_order_vs_torch(f, g, arrays)
    m = tg.Tensor(arrays[0]).baddbmm(tg.Tensor(arrays[1]), tg.Tensor(arrays[2]), beta=beta)
    want = torch.tensor(arrays[0]).baddbmm(
        torch.tensor(arrays[1]), torch.tensor(arrays[2]), beta=beta
    )
    np.testing.assert_allclose(m.numpy(), want.numpy(), rtol=1e-12)


def test_baddbmm_beta_zero_ignores_nan():
    x = tg.full((2, 3, 5), float("nan"))
    out = tg.baddbmm(x, tg.ones(2, 3, 4), tg.ones(2, 4, 5), beta=0)
    assert not np.isnan(out.numpy()).any()


@pytest.mark.parametrize(
    "f, shapes, msg",
    [
        (tg.mm, [(2, 3, 4), (4, 2)], "mm: expects 2-D"),
        (tg.bmm, [(3, 4), (4, 2)], "bmm: expects 3-D"),
        (tg.bmm, [(2, 3, 4), (3, 4, 2)], "bmm: batch sizes differ"),
    ],
)
def test_matrix_product_errors(f, shapes, msg):
    with pytest.raises(ValueError, match=msg):
        f(*[tg.zeros(*s) for s in shapes])


# -------------------------------------------------------------------- logic
@pytest.mark.parametrize("op", ["any", "all"])
@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), ((0, 1), False)])
def test_any_all_vs_torch(op, dim, keepdim):
    a = np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 3.0]])
    t = torch.tensor(a)
    if dim is None:
        want = getattr(t, op)()
        got = getattr(tg.tensor(a), op)()
    else:
        want = getattr(torch, op)(t, dim, keepdim=keepdim)
        got = getattr(tg, op)(tg.tensor(a), dim, keepdim=keepdim)
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_where_method_vs_torch():
    a, b = _normal((3, 4)), _normal((4,), seed=1)
    cond = a > 0

    def f(x, y):
        return x.where(tg.tensor(cond), y)

    def g(x, y):
        return x.where(torch.tensor(cond), y)

    check_vs_torch(f, g, [a, b])
    check_second_order_vs_torch(f, g, [a, b])
