"""Activations and the softmax family against torch.nn.functional: values, first,
second and third derivatives, kinks, extreme inputs, dims, dtypes, errors; and
the erf approximation against math.erf."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad as tg
from helpers import check_second_order_vs_torch, check_vs_torch, noncontig
from tapegrad.autograd import gradgradcheck
from tapegrad.ops.special import erf as _erf
from tapegrad.ops.special import erfc as _erfc

# name: (tapegrad function, torch function)
POINTWISE = {
    "relu": (tg.relu, F.relu),
    "leaky_relu": (tg.leaky_relu, F.leaky_relu),
    "leaky_relu_0.2": (
        lambda x: tg.leaky_relu(x, negative_slope=0.2),
        lambda x: F.leaky_relu(x, negative_slope=0.2),
    ),
    "elu": (tg.elu, F.elu),
    "elu_0.5": (lambda x: tg.elu(x, alpha=0.5), lambda x: F.elu(x, alpha=0.5)),
    "selu": (tg.selu, F.selu),
    "gelu": (tg.gelu, F.gelu),
    "gelu_tanh": (
        lambda x: tg.gelu(x, approximate="tanh"),
        lambda x: F.gelu(x, approximate="tanh"),
    ),
    "sigmoid": (tg.sigmoid, torch.sigmoid),
    "tanh": (tg.tanh, torch.tanh),
    "softplus": (tg.softplus, F.softplus),
    "softplus_2_4": (
        lambda x: tg.softplus(x, beta=2.0, threshold=4.0),
        lambda x: F.softplus(x, beta=2.0, threshold=4.0),
    ),
    "silu": (tg.silu, F.silu),
    "hardtanh": (tg.hardtanh, F.hardtanh),
    "hardtanh_0_6": (
        lambda x: tg.hardtanh(x, min_val=0.0, max_val=6.0),
        lambda x: F.hardtanh(x, min_val=0.0, max_val=6.0),
    ),
}
# Piecewise linear: the second derivative is zero, so second order is tested on x * f(x).
PIECEWISE = {"relu", "leaky_relu", "leaky_relu_0.2", "hardtanh", "hardtanh_0_6"}
SMOOTH = [n for n in POINTWISE if n not in PIECEWISE]

SHAPES = [(), (7,), (2, 3, 4)]
DTYPES = [np.float64, np.float32]


def _rand(shape, dtype=np.float64, seed=0, scale=3.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def _off_kinks(shape, seed=0):
    """float64 values at least 0.15 away from every integer (all kinks here are integers)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.15, 0.85, shape) + rng.integers(-3, 3, shape)


def _check_dtype(f, a):
    out = f(tg.Tensor(a))
    assert out.dtype == a.dtype, f"output dtype {out.dtype} for input {a.dtype}"


# ------------------------------------------------------------ first order
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_vs_torch(name, shape, dtype):
    f, g = POINTWISE[name]
    a = _rand(shape, dtype)
    check_vs_torch(f, g, [a])
    _check_dtype(f, a)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_noncontiguous(name, dtype):
    f, g = POINTWISE[name]
    a = noncontig(_rand((3, 4, 5), dtype, seed=1))
    assert not a.flags.c_contiguous
    check_vs_torch(f, g, [a])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", POINTWISE)
def test_gradient_at_kinks_matches_torch(name, dtype):
    # exactly 0 (relu: gradient 0, leaky_relu: the slope, elu/selu: the negative branch),
    # the hardtanh bounds (gradient 0 on them), softplus's threshold beta * x == threshold
    a = np.array([-6.0, -2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 2.0, 6.0, 20.0], dtype=dtype)
    f, g = POINTWISE[name]
    check_vs_torch(f, g, [a])


@pytest.mark.filterwarnings("error")  # no overflow or invalid-value warnings either
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_extreme_inputs(name, dtype):
    a = np.array([-1000.0, -100.0, -40.0, -10.0, 0.0, 10.0, 40.0, 100.0, 1000.0], dtype=dtype)
    f, g = POINTWISE[name]
    check_vs_torch(f, g, [a])


@pytest.mark.filterwarnings("error")
def test_sigmoid_tail_is_accurate_not_just_bounded():
    x = np.array([-30.0, -200.0, -700.0])
    y = tg.sigmoid(tg.Tensor(x))._array
    np.testing.assert_allclose(y, np.exp(x) / (1 + np.exp(x)), rtol=1e-14)
    assert tg.sigmoid(tg.Tensor(np.array([-1000.0])))._array[0] == 0.0


def test_softplus_relative_accuracy_in_both_tails():
    z = np.concatenate([np.linspace(-700, 30, 7301), -np.logspace(-12, 2, 200)])
    ref = np.array([math.log1p(math.exp(v)) for v in z])
    for beta in (1.0, 2.0):
        out = tg.softplus(tg.Tensor(z / beta), beta=beta, threshold=1000.0)._array
        np.testing.assert_allclose(out, ref / beta, rtol=1e-14, atol=0)


def test_integer_input_gives_default_float():
    for f, g in [(tg.sigmoid, torch.sigmoid), (tg.tanh, torch.tanh), (tg.gelu, F.gelu)]:
        a = np.array([-2, 0, 3])
        out, ref = f(tg.tensor(a)), g(torch.tensor(a).float())
        assert out.dtype == np.float32
        np.testing.assert_allclose(out._array, ref.numpy(), rtol=1e-4, atol=1e-6)


# --------------------------------------------------------- softmax family
SOFTMAX = {
    "softmax": (tg.softmax, F.softmax),
    "log_softmax": (tg.log_softmax, F.log_softmax),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("name", SOFTMAX)
def test_softmax_family_dims_vs_torch(name, dim, dtype):
    f, g = SOFTMAX[name]
    a = _rand((2, 3, 4), dtype)
    check_vs_torch(lambda x: f(x, dim), lambda x: g(x, dim), [a])
    check_vs_torch(lambda x: f(x, dim=dim), lambda x: g(x, dim=dim), [noncontig(a)])
    _check_dtype(lambda x: f(x, dim), a)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", SOFTMAX)
def test_softmax_family_default_dim_and_small_shapes(name, dtype):
    f, g = SOFTMAX[name]
    for shape in [(), (1,), (5,), (3, 1)]:
        check_vs_torch(f, lambda x: g(x, -1), [_rand(shape, dtype)])


@pytest.mark.parametrize("name", SOFTMAX)
def test_softmax_family_dtype_argument(name):
    f, g = SOFTMAX[name]
    a = _rand((3, 4), np.float32)
    out = f(tg.Tensor(a), 1, dtype=tg.float64)
    assert out.dtype == np.float64
    check_vs_torch(lambda x: f(x, 1, dtype=tg.float64), lambda x: g(x, 1, dtype=torch.float64), [a])


LOGITS = np.array(
    [[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0], [-1000.0, -1000.0, -1000.0], [1, 2, 3]]
)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [0, 1])
def test_softmax_family_extreme_logits(dim, dtype):
    a = LOGITS.astype(dtype)
    for name, (f, g) in SOFTMAX.items():
        check_vs_torch(lambda x, f=f: f(x, dim), lambda x, g=g: g(x, dim), [a])
        assert np.isfinite(f(tg.Tensor(a), dim)._array).all(), name
    check_vs_torch(lambda x: tg.logsumexp(x, dim), lambda x: torch.logsumexp(x, dim), [a])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1, (0, 2), (2, 0, 1), [1]])
def test_logsumexp_dims_vs_torch(dim, keepdim, dtype):
    a = _rand((2, 3, 4), dtype)
    check_vs_torch(
        lambda x: tg.logsumexp(x, dim, keepdim), lambda x: torch.logsumexp(x, dim, keepdim), [a]
    )
    check_vs_torch(
        lambda x: tg.logsumexp(x, dim=dim, keepdim=keepdim),
        lambda x: torch.logsumexp(x, dim=dim, keepdim=keepdim),
        [noncontig(a)],
    )
    _check_dtype(lambda x: tg.logsumexp(x, dim, keepdim), a)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_all_axes(dtype):
    a = _rand((3, 4), dtype)
    all_dims = lambda x: torch.logsumexp(x, (0, 1))  # noqa: E731
    check_vs_torch(lambda x: tg.logsumexp(x), all_dims, [a])
    check_vs_torch(lambda x: tg.logsumexp(x, None, True), lambda x: all_dims(x).reshape(1, 1), [a])
    check_vs_torch(lambda x: tg.logsumexp(x, 0), lambda x: torch.logsumexp(x, 0), [a[0, 0]])


@pytest.mark.filterwarnings("error")
def test_logsumexp_infinite_slices_match_torch():
    a = np.array([[-np.inf, -np.inf], [np.inf, 1.0], [-np.inf, 2.0]])
    out = tg.logsumexp(tg.Tensor(a), 1)._array
    np.testing.assert_array_equal(out, torch.logsumexp(torch.tensor(a), 1).numpy())


# --------------------------------------------------------- Tensor methods
@pytest.mark.parametrize(
    "method",
    [
        lambda t: t.relu(),
        lambda t: t.sigmoid(),
        lambda t: t.tanh(),
        lambda t: t.softmax(0),
        lambda t: t.log_softmax(1),
        lambda t: t.softmax(-1),
        lambda t: t.logsumexp(1),
        lambda t: t.logsumexp(1, True),
    ],
)
def test_tensor_methods(method):
    check_vs_torch(method, method, [_rand((3, 4))])


# ----------------------------------------------------------- second order
@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_gradgradcheck(name):
    f, _ = POINTWISE[name]
    gradgradcheck(f, [tg.Tensor(_off_kinks((2, 3)), requires_grad=True)])


@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise_second_order_vs_torch(name):
    f, g = POINTWISE[name]
    if name in PIECEWISE:
        # f'' is zero: x * f(x) exercises the backward's dependence on the upstream gradient
        f_tg, f_t = (lambda x: x * f(x)), (lambda x: x * g(x))
    else:
        f_tg, f_t = f, g
    check_second_order_vs_torch(f_tg, f_t, [_off_kinks((3, 4), seed=2)])


@pytest.mark.parametrize(
    "f, g",
    [
        (lambda x: tg.softmax(x, 1), lambda x: F.softmax(x, 1)),
        (lambda x: tg.softmax(x, 0), lambda x: F.softmax(x, 0)),
        (lambda x: tg.log_softmax(x, 1), lambda x: F.log_softmax(x, 1)),
        (lambda x: tg.log_softmax(x, 0), lambda x: F.log_softmax(x, 0)),
        (lambda x: tg.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1)),
        (lambda x: tg.logsumexp(x, 0, True), lambda x: torch.logsumexp(x, 0, True)),
        (lambda x: tg.logsumexp(x), lambda x: torch.logsumexp(x, (0, 1))),
    ],
)
def test_softmax_family_second_order(f, g):
    gradgradcheck(f, [tg.Tensor(_rand((2, 3)), requires_grad=True)])
    check_second_order_vs_torch(f, g, [_rand((3, 4), seed=3)])


def _third_derivative(f, x, ws, grad):
    """<grad <grad <grad <f(x), w0>, w1>, w2>, x>: one contraction of the third derivative."""
    y = (f(x) * ws[0]).sum()
    (g1,) = grad(y, [x], create_graph=True)
    (g2,) = grad((g1 * ws[1]).sum(), [x], create_graph=True)
    (g3,) = grad((g2 * ws[2]).sum(), [x])
    return g3


@pytest.mark.parametrize(
    "name", SMOOTH + ["softmax", "log_softmax", "logsumexp"], ids=lambda n: str(n)
)
def test_third_derivative_vs_torch(name):
    # the fused backward Functions must themselves be differentiated correctly twice
    if name in POINTWISE:
        f, g = POINTWISE[name]
    elif name == "logsumexp":
        f, g = (lambda x: tg.logsumexp(x, 1, True)), (lambda x: torch.logsumexp(x, 1, True))
    else:
        f, g = (lambda x: getattr(tg, name)(x, 1)), (lambda x: getattr(F, name)(x, 1))
    a = _off_kinks((3, 4), seed=4)
    rng = np.random.default_rng(5)
    out_shape = tuple(g(torch.tensor(a)).shape)
    ws = [
        rng.standard_normal(out_shape),
        rng.standard_normal(a.shape),
        rng.standard_normal(a.shape),
    ]
    mine = _third_derivative(
        f, tg.Tensor(a, requires_grad=True), [tg.Tensor(w) for w in ws], tg.grad
    )
    ref = _third_derivative(
        g, torch.tensor(a, requires_grad=True), [torch.tensor(w) for w in ws], torch.autograd.grad
    )
    np.testing.assert_allclose(mine._array, ref.numpy(), rtol=1e-6, atol=1e-8)


# -------------------------------------------------------------- properties
@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.floats(-50, 50), min_size=1, max_size=6),
    st.floats(-100, 100),
)
def test_softmax_properties(values, shift):
    x = np.array(values)
    p = tg.softmax(tg.Tensor(x))._array
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(tg.softmax(tg.Tensor(x + shift))._array, p, rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(
        tg.log_softmax(tg.Tensor(x))._array,
        x - tg.logsumexp(tg.Tensor(x))._array,
        rtol=1e-12,
        atol=1e-12,
    )


# ---------------------------------------------------------------------- erf
def test_erf_matches_math_erf_on_dense_grid():
    x = np.linspace(-7.0, 7.0, 70001)
    ref = np.array([math.erf(v) for v in x])
    err = np.abs(_erf(x) - ref) / np.maximum(np.abs(ref), 1e-300)
    assert err.max() < 1e-14, f"max relative error {err.max():.3g} at x = {x[err.argmax()]}"


def test_erfc_matches_math_erfc_into_the_tail():
    x = np.concatenate([np.linspace(-6.0, 26.0, 32001), [1e3, 1e10]])
    ref = np.array([math.erfc(v) for v in x])
    normal = ref > 1e-300  # below that the result is subnormal in float64
    err = np.abs(_erfc(x) - ref)[normal] / ref[normal]
    assert err.max() < 1e-13, f"max relative error {err.max():.3g}"
    assert np.all(np.abs(_erfc(x) - ref)[~normal] < 1e-300)


def test_erf_special_values_shapes_and_float32():
    np.testing.assert_array_equal(_erf(np.array([np.inf, -np.inf, 0.0])), [1.0, -1.0, 0.0])
    np.testing.assert_array_equal(_erfc(np.array([np.inf, -np.inf])), [0.0, 2.0])
    assert np.isnan(_erf(np.array([np.nan]))).all() and np.isnan(_erfc(np.array([np.nan]))).all()
    assert _erf(np.array(0.3)).shape == () and _erf(np.zeros((2, 0, 3))).shape == (2, 0, 3)
    x = np.linspace(-5, 5, 1001).astype(np.float32)
    y = _erf(x)
    assert y.dtype == np.float32
    ref = np.array([math.erf(float(v)) for v in x])
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-7)


def test_erfc_float32_formula():
    # float32 takes a faster formula with float32's accuracy, tails included
    x = np.linspace(-6, 8, 14001).astype(np.float32)
    y = _erfc(x)
    assert y.dtype == np.float32
    ref = np.array([math.erfc(float(v)) for v in x])
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=0)
    special = _erfc(np.array([np.inf, -np.inf, 0.0, np.nan], dtype=np.float32))
    np.testing.assert_array_equal(special[:3], [0.0, 2.0, 1.0])
    assert np.isnan(special[3])
    assert _erfc(np.array(1.0, np.float32)).shape == ()


# -------------------------------------------------------------------- errors
def test_errors_name_op_and_shape():
    x = tg.Tensor(_rand((2, 3)))
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        tg.gelu(x, approximate="fast")
    with pytest.raises(IndexError, match=r"softmax: dim 2 .*shape \(2, 3\)"):
        tg.softmax(x, 2)
    with pytest.raises(IndexError, match=r"log_softmax: dim -3 .*shape \(2, 3\)"):
        tg.log_softmax(x, -3)
    with pytest.raises(IndexError, match=r"logsumexp: dim 5 .*shape \(2, 3\)"):
        tg.logsumexp(x, (0, 5))
    with pytest.raises(TypeError, match="softmax: dim must be an int"):
        tg.softmax(x, (0, 1))
    with pytest.raises(ValueError, match="hardtanh: min_val 2.0 is greater than max_val 1.0"):
        tg.hardtanh(x, 2.0, 1.0)
