"""matmul, linear and einsum against PyTorch: values, gradients, second order, errors."""

import numpy as np
import pytest
import torch

import tapegrad as tg
from helpers import check_second_order_vs_torch, check_vs_torch, noncontig
from tapegrad.autograd import gradgradcheck
from tapegrad.ops import linalg

DTYPES = [np.float64, np.float32]


def _rand(rng, shape, dtype=np.float64):
    return rng.standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------ matmul
MATMUL_SHAPES = [
    ((3,), (3,)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),
    ((3,), (2, 3, 4)),
    ((2, 3, 4), (4,)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((1, 3, 4), (6, 4, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_matches_torch(sa, sb, dtype):
    rng = np.random.default_rng(0)
    check_vs_torch(tg.matmul, torch.matmul, [_rand(rng, sa, dtype), _rand(rng, sb, dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_noncontiguous_and_operator(dtype):
    rng = np.random.default_rng(1)
    a, b = noncontig(_rand(rng, (2, 4, 3), dtype)), noncontig(_rand(rng, (3, 5), dtype))
    assert not a.flags.c_contiguous
    check_vs_torch(lambda x, y: x @ y, lambda x, y: x @ y, [a, b])


@pytest.mark.parametrize("sa,sb", [((3,), (3, 2)), ((2, 3), (3,)), ((2, 1, 3, 2), (4, 2, 3))])
def test_matmul_second_order(sa, sb):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    check_second_order_vs_torch(lambda x, y: (x @ y) ** 2, lambda x, y: (x @ y) ** 2, [a, b])
    ta, tb = tg.Tensor(a, requires_grad=True), tg.Tensor(b, requires_grad=True)
    assert gradgradcheck(tg.matmul, [ta, tb])


def test_matmul_errors_name_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) @ \(4, 5\).*3 and 4"):
        tg.matmul(tg.ones(2, 3), tg.ones(4, 5))
    with pytest.raises(ValueError, match=r"matmul: batch dims of \(2, 3, 4\) and \(5, 4, 2\)"):
        tg.matmul(tg.ones(2, 3, 4), tg.ones(5, 4, 2))
    with pytest.raises(ValueError, match="matmul: operands must have at least 1 dim"):
        tg.matmul(tg.tensor(2.0), tg.ones(3))


# ------------------------------------------------------------------ linear
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xshape", [(4, 5), (2, 3, 5), (5,), (1, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(xshape, bias, dtype):
    rng = np.random.default_rng(3)
    arrays = [_rand(rng, xshape, dtype), _rand(rng, (3, 5), dtype)]
    if bias:
        arrays.append(_rand(rng, (3,), dtype))
    check_vs_torch(tg.linear, torch.nn.functional.linear, arrays)


def test_linear_noncontiguous_and_one_node():
    rng = np.random.default_rng(4)
    x, w, b = noncontig(rng.standard_normal((6, 4))), noncontig(rng.standard_normal((3, 4))), None
    check_vs_torch(tg.linear, torch.nn.functional.linear, [x, w])
    b = rng.standard_normal(3)
    y = tg.linear(tg.Tensor(x, requires_grad=True), tg.Tensor(w), tg.Tensor(b))
    assert y.grad_fn.name == "Linear"  # one fused node, not matmul + add


@pytest.mark.parametrize("xshape", [(3, 4), (2, 2, 4)])
def test_linear_second_order(xshape):
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(xshape), rng.standard_normal((3, 4)), rng.standard_normal(3)]
    check_second_order_vs_torch(
        lambda x, w, b: tg.linear(x, w, b).tanh(),
        lambda x, w, b: torch.nn.functional.linear(x, w, b).tanh(),
        arrays,
    )
    ts = [tg.Tensor(a, requires_grad=True) for a in arrays]
    assert gradgradcheck(tg.linear, ts)


def test_linear_errors_name_shapes():
    with pytest.raises(
        ValueError,
        match=r"linear: input \(64, 785\) does not match weight \(128, 784\): "
        r"in_features 785 != 784",
    ):
        tg.linear(tg.zeros(64, 785), tg.zeros(128, 784))
    with pytest.raises(ValueError, match=r"linear: bias \(4,\) does not match weight \(3, 5\)"):
        tg.linear(tg.zeros(2, 5), tg.zeros(3, 5), tg.zeros(4))
    with pytest.raises(ValueError, match=r"linear: weight must be 2-D .* \(5,\)"):
        tg.linear(tg.zeros(2, 5), tg.zeros(5))


# ------------------------------------------------------------------ einsum
EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("iij->j", [(3, 3, 2)]),
    ("iji->j", [(3, 2, 3)]),
    ("ij,ij->ij", [(3, 1), (3, 4)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("...ij->...", [(2, 3, 4)]),
    ("...ij->ij", [(2, 3, 4)]),
    ("b...,b...->b", [(2, 3, 4), (2, 3, 4)]),
    ("ijk,jl,lm->ikm", [(2, 3, 4), (3, 5), (5, 2)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
    ("Ab,bC", [(2, 3), (3, 4)]),
    ("ba,ab->", [(3, 4), (4, 3)]),
    ("i,jk,k", [(2,), (3, 4), (4,)]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eq,shapes", EINSUM_CASES)
def test_einsum_matches_torch(eq, shapes, dtype):
    rng = np.random.default_rng(6)
    arrays = [_rand(rng, s, dtype) for s in shapes]
    check_vs_torch(lambda *t: tg.einsum(eq, *t), lambda *t: torch.einsum(eq, *t), arrays)


def test_einsum_noncontiguous_and_list_operands():
    rng = np.random.default_rng(7)
    a, b = noncontig(rng.standard_normal((3, 4))), noncontig(rng.standard_normal((4, 2)))
    check_vs_torch(
        lambda x, y: tg.einsum("ij,jk->ki", [x, y]),
        lambda x, y: torch.einsum("ij,jk->ki", x, y),
        [a, b],
    )


@pytest.mark.parametrize(
    "eq,shapes",
    [
        ("ij,jk->ik", [(2, 3), (3, 2)]),
        ("ii->i", [(3, 3)]),
        ("ij,ij->i", [(2, 1), (2, 3)]),
        ("...i,i->...", [(2, 3), (3,)]),
        ("ijk,jl,lm->ikm", [(2, 2, 2), (2, 3), (3, 2)]),
    ],
)
def test_einsum_second_order(eq, shapes):
    rng = np.random.default_rng(8)
    arrays = [rng.standard_normal(s) for s in shapes]
    ts = [tg.Tensor(a, requires_grad=True) for a in arrays]
    assert gradgradcheck(lambda *t: tg.einsum(eq, *t), ts)
    check_second_order_vs_torch(
        lambda *t: tg.einsum(eq, *t) ** 2, lambda *t: torch.einsum(eq, *t) ** 2, arrays
    )


def test_einsum_caches_the_contraction_path():
    rng = np.random.default_rng(9)
    arrays = [rng.standard_normal(s) for s in [(2, 3), (3, 4), (4, 5)]]
    linalg._PATH_CACHE.clear()
    y1 = tg.einsum("ij,jk,kl->il", *arrays)
    assert len(linalg._PATH_CACHE) == 1
    path = next(iter(linalg._PATH_CACHE.values()))
    y2 = tg.einsum("ij,jk,kl->il", *arrays)
    assert len(linalg._PATH_CACHE) == 1 and next(iter(linalg._PATH_CACHE.values())) is path
    np.testing.assert_allclose(y2._array, arrays[0] @ arrays[1] @ arrays[2])
    np.testing.assert_array_equal(y1._array, y2._array)


def test_einsum_float32_stays_float32():
    a = tg.ones(2, 3, dtype=tg.float32, requires_grad=True)
    y = tg.einsum("ij,ij->", a, a)
    y.backward()
    assert y.dtype == np.float32 and a.grad.dtype == np.float32


def test_einsum_errors_name_the_problem():
    a, b = tg.ones(2, 3), tg.ones(4, 5)
    with pytest.raises(ValueError, match=r"einsum: equation 'ij,jk' names 2 operands but 3"):
        tg.einsum("ij,jk", a, b, b)
    with pytest.raises(
        ValueError,
        match=r"einsum: subscript 'j' has size 3 in operand 0 \(2, 3\) but 4 in "
        r"operand 1 \(4, 5\)",
    ):
        tg.einsum("ij,jk->ik", a, b)
    with pytest.raises(ValueError, match=r"einsum: operand 0 has shape \(2, 3\) .* 'ijk' name 3"):
        tg.einsum("ijk->i", a)
    with pytest.raises(ValueError, match=r"einsum: output subscript 'z' is not in any operand"):
        tg.einsum("ij->z", a)
    with pytest.raises(ValueError, match=r"einsum: output subscript 'i' appears more than once"):
        tg.einsum("ij->ii", a)
    with pytest.raises(ValueError, match=r"einsum: invalid subscript characters \['1'\]"):
        tg.einsum("i1->i", a)
