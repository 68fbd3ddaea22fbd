"""Dropout: statistics, gradients, reproducibility, evaluation mode, errors."""

import math

import numpy as np
import pytest

import tapegrad as tg
from helpers import noncontig
from tapegrad.autograd import gradcheck, gradgradcheck

ALPHA_PRIME = 1.7580993408473766  # SELU's alpha * scale, as PyTorch's alpha_dropout uses


def _binomial_ok(count, n, p, k=5.0):
    """|count - n p| within k standard deviations of a Binomial(n, p)."""
    return abs(count - n * p) <= k * math.sqrt(n * p * (1 - p)) + 1


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_statistics(p, dtype):
    n = 200_000
    x = tg.ones(n, dtype=dtype)
    y = tg.dropout(x, p)
    assert y.dtype == dtype and y.shape == (n,)
    zeros = int((y._array == 0).sum())
    assert _binomial_ok(zeros, n, p)
    # kept elements are scaled by 1/(1-p): the mean stays 1 within 5 standard errors
    kept = y._array[y._array != 0]
    np.testing.assert_allclose(kept, 1.0 / (1.0 - p), rtol=1e-6)
    assert abs(y._array.mean() - 1.0) <= 5 * math.sqrt(p / ((1 - p) * n))


@pytest.mark.parametrize("p", [0.2, 0.7])
def test_dropout_gradient_is_mask_times_scale(p):
    rng = np.random.default_rng(0)
    x = tg.Tensor(noncontig(rng.uniform(1.0, 2.0, (30, 40))), requires_grad=True)
    y = tg.dropout(x, p)
    g = rng.standard_normal(y.shape)
    y.backward(tg.Tensor(g))
    # mask * scale recovered from the output independently: y / x (x has no zeros)
    mask_scale = y._array / x._array
    assert set(np.unique(np.round(mask_scale, 12))) <= {0.0, round(1 / (1 - p), 12)}
    np.testing.assert_allclose(x.grad._array, g * mask_scale, rtol=1e-12)


def test_dropout_second_order_with_fixed_mask():
    x = tg.randn(4, 3, dtype=tg.float64, requires_grad=True)

    def f(a):
        tg.manual_seed(7)  # the same mask on every call, so finite differences make sense
        return tg.dropout(a, 0.4) * a

    assert gradcheck(f, [x])
    assert gradgradcheck(f, [x])


def test_dropout_reproducible_under_manual_seed():
    x = tg.randn(50, 50)
    tg.manual_seed(123)
    a = tg.dropout(x, 0.5)._array
    tg.manual_seed(123)
    b = tg.dropout(x, 0.5)._array
    c = tg.dropout(x, 0.5)._array
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)  # the generator moved on


@pytest.mark.parametrize("fn", [tg.dropout, tg.dropout2d, tg.alpha_dropout])
def test_eval_mode_and_p0_are_identity(fn):
    x = tg.randn(2, 3, 4, 5, requires_grad=True)
    for y in (fn(x, 0.5, training=False), fn(x, 0.0)):
        np.testing.assert_array_equal(y._array, x._array)
        y.sum().backward()
    np.testing.assert_array_equal(x.grad._array, 2 * np.ones(x.shape, dtype=np.float32))


@pytest.mark.parametrize("fn", [tg.dropout, tg.dropout2d, tg.alpha_dropout])
def test_p1_gives_zeros_and_zero_gradient(fn):
    x = tg.randn(2, 3, 4, 4, requires_grad=True)
    y = fn(x, 1.0)
    np.testing.assert_array_equal(y._array, 0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad._array, 0)


@pytest.mark.parametrize("fn", [tg.dropout, tg.dropout2d, tg.alpha_dropout])
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_p_out_of_range(fn, p):
    with pytest.raises(ValueError, match=rf"{fn.__name__}: .*p must be in \[0, 1\], got {p}"):
        fn(tg.randn(2, 3, 4, 4), p)


def test_integer_input_rejected():
    with pytest.raises(TypeError, match="dropout: input must be a floating-point tensor"):
        tg.dropout(tg.tensor([1, 2, 3]))


@pytest.mark.parametrize("shape", [(8, 50, 3, 3), (400, 2, 5)], ids=["NCHW", "CHW"])
def test_dropout2d_zeroes_whole_channels(shape):
    p = 0.3
    rng = np.random.default_rng(1)
    x = tg.Tensor(rng.uniform(1.0, 2.0, shape), requires_grad=True)
    y = tg.dropout2d(x, p)
    ratio = (y._array / x._array).reshape(shape[:-2] + (-1,))
    # every channel is entirely 0 or entirely 1/(1-p)
    first = ratio[..., :1]
    np.testing.assert_allclose(ratio, np.broadcast_to(first, ratio.shape), rtol=1e-12)
    assert set(np.unique(np.round(first, 12))) <= {0.0, round(1 / (1 - p), 12)}
    n_channels = first.size
    assert _binomial_ok(int((first == 0).sum()), n_channels, p)
    g = rng.standard_normal(shape)
    y.backward(tg.Tensor(g))
    np.testing.assert_allclose(x.grad._array, g * y._array / x._array, rtol=1e-12)


def test_dropout2d_rejects_other_ranks():
    with pytest.raises(ValueError, match=r"dropout2d: .*\(N, C, H, W\).*got \(4, 5\)"):
        tg.dropout2d(tg.randn(4, 5))


def test_alpha_dropout_keeps_mean_and_variance():
    p = 0.2
    x = tg.randn(400_000, dtype=tg.float64, requires_grad=True)
    y = tg.alpha_dropout(x, p)
    # a standard normal input stays standard within a few standard errors
    assert abs(y._array.mean()) < 0.01 and abs(y._array.std() - 1.0) < 0.01
    a = 1.0 / math.sqrt((ALPHA_PRIME**2 * p + 1) * (1 - p))
    kept = np.isclose(y._array, a * x._array + ALPHA_PRIME * a * p, rtol=0, atol=1e-12)
    dropped = np.isclose(y._array, -ALPHA_PRIME * a * (1 - p), rtol=0, atol=1e-12)
    assert np.all(kept | dropped)
    assert _binomial_ok(int((dropped & ~kept).sum()), x.shape[0], p)
    y.sum().backward()
    np.testing.assert_allclose(x.grad._array, np.where(kept, a, 0.0), rtol=1e-12)
