"""batch_norm, layer_norm, group_norm against PyTorch: values, gradients, second order."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tapegrad as tg
from helpers import assert_close, check_second_order_vs_torch, check_vs_torch, noncontig
from tapegrad.autograd import gradcheck, gradgradcheck
from tapegrad.ops.norm import batch_norm, group_norm, layer_norm

DTYPES = [np.float64, np.float32]
BN_SHAPES = [(5, 3), (4, 3, 6), (3, 2, 4, 5)]


def _rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- batch norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_vs_torch(dtype, shape, affine):
    rng = np.random.default_rng(1)
    c = shape[1]
    x = noncontig(_rand(rng, shape, dtype) * 3 + 1)
    arrays = [x]
    if affine:
        arrays += [_rand(rng, (c,), dtype), _rand(rng, (c,), dtype)]
    stats_tg = [tg.Tensor(np.zeros(c, dtype)), tg.Tensor(np.ones(c, dtype))]
    stats_t = [torch.from_numpy(s._array.copy()) for s in stats_tg]

    def f_tg(x, *p):
        return batch_norm(x, *stats_tg, *p, training=True, momentum=0.3)

    def f_t(x, *p):
        return F.batch_norm(x, *stats_t, *p, training=True, momentum=0.3)

    check_vs_torch(f_tg, f_t, arrays)
    tol = dict(rtol=1e-6, atol=1e-9) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    assert_close(stats_tg[0]._array, stats_t[0], what="running_mean", **tol)
    assert_close(stats_tg[1]._array, stats_t[1], what="running_var", **tol)
    assert stats_tg[0].dtype == dtype and stats_tg[1].dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_eval_vs_torch(dtype, shape):
    rng = np.random.default_rng(2)
    c = shape[1]
    rm, rv = _rand(rng, (c,), dtype), rng.uniform(0.5, 2, c).astype(dtype)
    arrays = [_rand(rng, shape, dtype), _rand(rng, (c,), dtype), _rand(rng, (c,), dtype)]
    check_vs_torch(
        lambda x, w, b: batch_norm(x, tg.Tensor(rm), tg.Tensor(rv), w, b, eps=1e-3),
        lambda x, w, b: F.batch_norm(x, torch.tensor(rm), torch.tensor(rv), w, b, eps=1e-3),
        arrays,
    )
    check_vs_torch(
        lambda x: batch_norm(x, tg.Tensor(rm), tg.Tensor(rv)),
        lambda x: F.batch_norm(x, torch.tensor(rm), torch.tensor(rv)),
        arrays[:1],
    )


def test_batch_norm_training_without_running_stats_and_partial_grads():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((6, 4, 3)), rng.standard_normal(4), rng.standard_normal(4)
    # Only the weight needs a gradient / only the input does.
    check_vs_torch(
        lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        [x, w, b],
        grad=[False, True, False],
    )
    check_vs_torch(
        lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        [x, w, b],
        grad=[True, False, False],
    )


def test_batch_norm_graph_backward_matches_array_backward():
    # With create_graph the closed form is evaluated in tapegrad ops; its first-order
    # values must equal torch's like the array path's.
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((5, 3, 4)), rng.standard_normal(3), rng.standard_normal(3)
    gy = rng.standard_normal(x.shape)
    xs = [tg.Tensor(a, requires_grad=True) for a in (x, w, b)]
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    g_tg = tg.grad(
        batch_norm(xs[0], None, None, xs[1], xs[2], training=True),
        xs,
        tg.Tensor(gy),
        create_graph=True,
    )
    g_t = torch.autograd.grad(
        F.batch_norm(ts[0], None, None, ts[1], ts[2], training=True), ts, torch.tensor(gy)
    )
    for a, c, name in zip(g_tg, g_t, "xwb"):
        assert a.requires_grad or name == "b"  # the bias gradient is sum(gy): constant
        assert_close(a.data, c, rtol=1e-9, atol=1e-12, what=f"grad of {name}")


@pytest.mark.parametrize("shape", [(4, 2), (3, 2, 3)])
def test_batch_norm_training_gradgradcheck(shape):
    rng = np.random.default_rng(5)
    c = shape[1]
    xs = [
        tg.Tensor(rng.standard_normal(shape), requires_grad=True),
        tg.Tensor(rng.standard_normal(c), requires_grad=True),
        tg.Tensor(rng.standard_normal(c), requires_grad=True),
    ]

    def f(x, w, b):
        return batch_norm(x, None, None, w, b, training=True)

    assert gradcheck(f, xs)
    assert gradgradcheck(f, xs)
    assert gradgradcheck(lambda x: batch_norm(x, None, None, training=True), xs[:1])


def test_batch_norm_eval_gradgradcheck():
    rng = np.random.default_rng(6)
    rm, rv = tg.Tensor(rng.standard_normal(2)), tg.Tensor(rng.uniform(0.5, 2, 2))
    xs = [tg.Tensor(rng.standard_normal(s), requires_grad=True) for s in [(3, 2, 2), (2,), (2,)]]

    def f(x, w, b):
        return batch_norm(x, rm, rv, w, b, training=False)

    assert gradcheck(f, xs)
    assert gradgradcheck(f, xs)


@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3)])
def test_batch_norm_second_order_vs_torch(shape):
    rng = np.random.default_rng(7)
    c = shape[1]
    arrays = [rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)]
    check_second_order_vs_torch(
        lambda x, w, b: batch_norm(x, None, None, w, b, training=True),
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        arrays,
    )
    # A nonlinear loss of the output, so the Hessian of the composition is exercised too.
    check_second_order_vs_torch(
        lambda x, w, b: (batch_norm(x, None, None, w, b, training=True) ** 2).sum(),
        lambda x, w, b: (F.batch_norm(x, None, None, w, b, training=True) ** 2).sum(),
        arrays,
    )


def test_batch_norm_errors():
    x = tg.randn(4, 3, 2)
    with pytest.raises(ValueError, match=r"batch_norm: weight has shape \(4,\).*\(4, 3, 2\)"):
        batch_norm(x, None, None, tg.ones(4), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean has shape \(2,\)"):
        batch_norm(x, tg.zeros(2), tg.ones(3), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: expected input of shape \(N, C, \*\)"):
        batch_norm(tg.randn(3), None, None, training=True)
    with pytest.raises(ValueError, match="batch_norm: Expected more than 1 value per channel"):
        batch_norm(tg.randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match="batch_norm: running_mean and running_var are needed"):
        batch_norm(x, None, None, training=False)


# ---------------------------------------------------------------- layer norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,ns", [((4, 6), (6,)), ((2, 3, 5), (5,)), ((2, 3, 4), (3, 4))])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_vs_torch(dtype, shape, ns, affine):
    rng = np.random.default_rng(8)
    arrays = [noncontig(_rand(rng, shape, dtype) * 2 - 1)]
    if affine:
        arrays += [_rand(rng, ns, dtype), _rand(rng, ns, dtype)]
    check_vs_torch(
        lambda x, *p: layer_norm(x, ns, *p, eps=1e-4),
        lambda x, *p: F.layer_norm(x, ns, *p, eps=1e-4),
        arrays,
    )


def test_layer_norm_int_shape_and_weight_only():
    rng = np.random.default_rng(9)
    x, w = rng.standard_normal((3, 5)), rng.standard_normal(5)
    check_vs_torch(lambda x, w: layer_norm(x, 5, w), lambda x, w: F.layer_norm(x, (5,), w), [x, w])


def test_layer_norm_gradgradcheck_and_second_order():
    rng = np.random.default_rng(10)
    arrays = [
        rng.standard_normal((3, 2, 3)),
        rng.standard_normal((2, 3)),
        rng.standard_normal((2, 3)),
    ]
    xs = [tg.Tensor(a, requires_grad=True) for a in arrays]

    def f(x, w, b):
        return layer_norm(x, (2, 3), w, b)

    assert gradcheck(f, xs)
    assert gradgradcheck(f, xs)
    check_second_order_vs_torch(f, lambda x, w, b: F.layer_norm(x, (2, 3), w, b), arrays)


def test_layer_norm_errors():
    with pytest.raises(ValueError, match=r"layer_norm: input of shape \(3, 4\) does not end with"):
        layer_norm(tg.randn(3, 4), (5,))
    with pytest.raises(ValueError, match=r"layer_norm: weight has shape \(3,\), expected"):
        layer_norm(tg.randn(3, 4), 4, tg.ones(3))


# ---------------------------------------------------------------- group norm
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,groups", [((3, 4, 5), 2), ((2, 6, 2, 3), 3), ((2, 4), 2)])
def test_group_norm_vs_torch(dtype, shape, groups):
    rng = np.random.default_rng(11)
    c = shape[1]
    arrays = [_rand(rng, shape, dtype), _rand(rng, (c,), dtype), _rand(rng, (c,), dtype)]
    check_vs_torch(
        lambda x, w, b: group_norm(x, groups, w, b),
        lambda x, w, b: F.group_norm(x, groups, w, b),
        arrays,
    )


def test_group_norm_gradgradcheck_and_errors():
    rng = np.random.default_rng(12)
    xs = [tg.Tensor(rng.standard_normal(s), requires_grad=True) for s in [(2, 4, 2), (4,), (4,)]]
    assert gradgradcheck(lambda x, w, b: group_norm(x, 2, w, b), xs)
    with pytest.raises(ValueError, match=r"group_norm: 4 channels .* into 3 groups"):
        group_norm(tg.randn(2, 4, 2), 3)


# PyTorch defect: with a spatial dim of width 1, F.batch_norm's input gradient
# depends on the memory layout of a permuted upstream gradient. tapegrad is
# compared with PyTorch's answer for the same upstream made contiguous (the
# mathematically identical call) and with finite differences.
@pytest.mark.parametrize(
    "shape,perm",
    [
        ((2, 3, 2, 1), (0, 2, 1, 3)),
        ((2, 3, 2, 1), (3, 0, 2, 1)),
        ((2, 3, 1, 2), (0, 3, 1, 2)),
        ((2, 3, 1, 2), (2, 0, 3, 1)),
    ],
)
def test_batch_norm_gradient_with_a_permuted_upstream_of_width_one(shape, perm):
    rng = np.random.default_rng(5)
    a = rng.standard_normal(shape)
    inv = [perm.index(i) for i in range(len(shape))]
    up = rng.standard_normal([shape[p] for p in perm])
    x = torch.tensor(a, requires_grad=True)
    g_perm = torch.tensor(up).permute(*inv)
    (want,) = torch.autograd.grad(
        F.batch_norm(x, None, None, training=True), [x], g_perm.contiguous()
    )
    (torch_perm,) = torch.autograd.grad(F.batch_norm(x, None, None, training=True), [x], g_perm)
    assert not torch.allclose(torch_perm, want)  # the defect, still present in this PyTorch
    xt = tg.tensor(a, requires_grad=True)
    y = tg.nn.functional.batch_norm(xt, None, None, training=True)
    (got,) = tg.autograd.grad(y, [xt], tg.tensor(up).permute(*inv))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-7, atol=1e-9)
    fd = np.zeros(shape)
    g = g_perm.numpy()
    for idx in np.ndindex(shape):
        d = np.zeros(shape)
        d[idx] = 1e-6
        hi = tg.nn.functional.batch_norm(tg.tensor(a + d), None, None, training=True).numpy()
        lo = tg.nn.functional.batch_norm(tg.tensor(a - d), None, None, training=True).numpy()
        fd[idx] = ((hi - lo) * g).sum() / 2e-6
    np.testing.assert_allclose(got.numpy(), fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("shape", [(2, 0), (2, 3, 0), (0, 3)])
def test_batch_norm_of_empty_inputs_like_torch(shape):
    got = tg.nn.functional.batch_norm(tg.zeros(*shape), None, None, training=True)
    want = F.batch_norm(torch.zeros(shape), None, None, training=True)
    assert tuple(got.shape) == tuple(want.shape)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        F.batch_norm(torch.zeros(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        tg.nn.functional.batch_norm(tg.zeros(1, 3), None, None, training=True)
