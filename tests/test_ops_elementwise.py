"""Every op of tapegrad.ops.elementwise against PyTorch: values, gradients (float64
and float32, broadcasting, non-contiguous inputs, special points PyTorch defines),
second order, dtypes, and errors that name the op and the shapes."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import tapegrad as tg
from helpers import check_second_order_vs_torch, check_vs_torch, noncontig
from tapegrad.autograd import gradgradcheck

DTYPES = [np.float64, np.float32]


def _normal(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _positive(shape, dtype=np.float64, seed=0, lo=0.5, hi=2.0):
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(dtype)


def _away_from_zero(shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)).astype(dtype)


# ------------------------------------------------------------ binary ops
# name: (tapegrad function, torch function, generator of the second operand)
BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b, _normal),
    "sub": (lambda a, b: a - b, lambda a, b: a - b, _normal),
    "mul": (lambda a, b: a * b, lambda a, b: a * b, _normal),
    "div": (lambda a, b: a / b, lambda a, b: a / b, _away_from_zero),
    "pow": (lambda a, b: a**b, lambda a, b: a**b, _normal),
    "maximum": (tg.maximum, torch.maximum, _normal),
    "minimum": (tg.minimum, torch.minimum, _normal),
    "f_add": (tg.add, torch.add, _normal),
    "f_sub": (tg.sub, torch.sub, _normal),
    "f_mul": (tg.mul, torch.mul, _normal),
    "f_div": (tg.div, torch.div, _away_from_zero),
    "f_pow": (tg.pow, torch.pow, _normal),
}
SHAPE_PAIRS = [
    ((2, 3), (2, 3)),
    ((2, 3), (3,)),
    ((3,), (2, 3)),
    ((4, 1, 3), (5, 1)),
    ((2, 1), (1, 3)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((), ()),
]


def _binary_arrays(name, sa, sb, dtype, seed=0):
    gen_b = BINARY[name][2]
    # pow needs a positive base to be real; the other ops take any first operand
    a = _positive(sa, dtype, seed) if name.endswith("pow") else _normal(sa, dtype, seed)
    return a, gen_b(sb, dtype, seed + 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sa, sb", SHAPE_PAIRS)
@pytest.mark.parametrize("name", BINARY)
def test_binary_vs_torch(name, sa, sb, dtype):
    f, g, _ = BINARY[name]
    a, b = _binary_arrays(name, sa, sb, dtype)
    check_vs_torch(f, g, [a, b])
    assert f(tg.Tensor(a), tg.Tensor(b)).dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", BINARY)
def test_binary_noncontiguous_broadcast(name, dtype):
    f, g, _ = BINARY[name]
    a, b = _binary_arrays(name, (3, 4, 5), (4, 5), dtype, seed=3)
    a, b = noncontig(a), noncontig(b)
    assert not a.flags.c_contiguous and not b.flags.c_contiguous
    check_vs_torch(f, g, [a, b])
    if not name.endswith("pow"):  # the swapped pow would have negative bases
        check_vs_torch(lambda x, y: f(y, x), lambda x, y: g(y, x), [a, b])


@pytest.mark.parametrize("name", BINARY)
def test_binary_gradient_for_one_input_only(name):
    f, g, _ = BINARY[name]
    a, b = _binary_arrays(name, (2, 3), (3,), np.float64)
    check_vs_torch(f, g, [a, b], grad=[True, False])
    check_vs_torch(f, g, [a, b], grad=[False, True])


def test_mixed_float_dtypes_promote_and_grads_keep_input_dtype():
    a, b = _normal((2, 3), np.float32), _normal((3,), np.float64)
    for f in (lambda x, y: x * y + x / (y * y + 1), lambda x, y: tg.maximum(x, y) - abs(x) ** y):
        out = f(tg.Tensor(a), tg.Tensor(b))
        assert out.dtype == np.float64
    check_vs_torch(
        lambda x, y: x * y + x / (y * y + 1), lambda x, y: x * y + x / (y * y + 1), [a, b]
    )


# ------------------------------------------------------------- scalars
SCALAR_OPS = {
    "x+2": (lambda x: x + 2, lambda x: x + 2),
    "2+x": (lambda x: 2 + x, lambda x: 2 + x),
    "x-2.5": (lambda x: x - 2.5, lambda x: x - 2.5),
    "2-x": (lambda x: 2 - x, lambda x: 2 - x),
    "3*x": (lambda x: 3 * x, lambda x: 3 * x),
    "x*0.5": (lambda x: x * 0.5, lambda x: x * 0.5),
    "x/3": (lambda x: x / 3, lambda x: x / 3),
    "2/x": (lambda x: 2 / x, lambda x: 2 / x),
    "x**2": (lambda x: x**2, lambda x: x**2),
    "x**3": (lambda x: x**3, lambda x: x**3),
    "x**1": (lambda x: x**1, lambda x: x**1),
    "x**0": (lambda x: x**0, lambda x: x**0),
    "x**0.5": (lambda x: x**0.5, lambda x: x**0.5),
    "x**-1.5": (lambda x: x**-1.5, lambda x: x**-1.5),
    "2**x": (lambda x: 2**x, lambda x: 2**x),
    "0.5**x": (lambda x: 0.5**x, lambda x: 0.5**x),
    "-x": (lambda x: -x, lambda x: -x),
    "neg": (tg.neg, torch.neg),
    "square": (tg.square, torch.square),
    "x.square": (lambda x: x.square(), lambda x: x.square()),
    "x.pow(3)": (lambda x: x.pow(3), lambda x: x.pow(3)),
    "x.add(x, alpha=2)": (lambda x: x.add(x, alpha=2.0), lambda x: x.add(x, alpha=2.0)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (7,), (2, 3, 4)])
@pytest.mark.parametrize("name", SCALAR_OPS)
def test_python_scalar_operands_vs_torch_and_keep_dtype(name, shape, dtype):
    f, g = SCALAR_OPS[name]
    x = _positive(shape, dtype)  # positive: fractional and negative powers stay real
    check_vs_torch(f, g, [x])
    assert f(tg.Tensor(x)).dtype == dtype, f"{name} changed {dtype} to {f(tg.Tensor(x)).dtype}"


@pytest.mark.parametrize("name", SCALAR_OPS)
def test_python_scalar_operands_noncontiguous(name):
    f, g = SCALAR_OPS[name]
    check_vs_torch(f, g, [noncontig(_positive((3, 4), seed=5))])


def test_numpy_array_operands_count_as_tensors_of_their_dtype():
    x = _normal((2, 3), np.float32)
    c = np.arange(3.0)  # float64 with dims: it promotes, as in PyTorch (unlike a Python float)
    for f in (lambda t: t + c, lambda t: t * c):
        assert f(tg.Tensor(x)).dtype == np.float64
        assert f(torch.tensor(x)).dtype == torch.float64
    assert (tg.Tensor(x) * np.float64(2.0)).dtype == np.float32
    assert (torch.tensor(x) * np.float64(2.0)).dtype == torch.float32
    check_vs_torch(
        lambda t: c - t * c, lambda t: torch.tensor(c).float() - t * torch.tensor(c).float(), [x]
    )


# ------------------------------------------------- pow at PyTorch's special points
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0 ** -1 = inf is intended here
@pytest.mark.parametrize("dtype", DTYPES)
def test_pow_tensor_tensor_base_zero(dtype):
    a = np.array([0.0, 0.0, 0.0, 0.0, 2.0, 0.5, -2.0], dtype=dtype)
    b = np.array([0.0, 2.0, 0.5, -1.0, 0.0, 3.0, 2.0], dtype=dtype)
    check_vs_torch(lambda x, y: x**y, lambda x, y: x**y, [a, b])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", DTYPES)
def test_pow_scalar_exponent_at_zero(dtype):
    x = np.array([0.0, 1.5, -2.0], dtype=dtype)
    for c in (0, 0.0, 1, 2, 3):
        check_vs_torch(lambda t, c=c: t**c, lambda t, c=c: t**c, [x])
    check_vs_torch(lambda t: t**0.5, lambda t: t**0.5, [np.array([0.0, 4.0], dtype=dtype)])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("dtype", DTYPES)
def test_scalar_base_pow(dtype):
    e = np.array([0.0, 1.0, 2.5, -1.0], dtype=dtype)
    for base in (0, 0.0, 2, 0.5, 3.0):
        check_vs_torch(lambda t, b=base: b**t, lambda t, b=base: b**t, [e])


# ------------------------------------------------------------ unary math
# name: (tapegrad function, torch function, input generator)
UNARY = {
    "exp": (tg.exp, torch.exp, _normal),
    "log": (tg.log, torch.log, _positive),
    "log1p": (tg.log1p, torch.log1p, lambda s, d, seed=0: _positive(s, d, seed, -0.5, 2.0)),
    "sqrt": (tg.sqrt, torch.sqrt, _positive),
    "rsqrt": (tg.rsqrt, torch.rsqrt, _positive),
    "abs": (tg.abs, torch.abs, _away_from_zero),
    "sin": (tg.sin, torch.sin, _normal),
    "cos": (tg.cos, torch.cos, _normal),
    "neg": (tg.neg, torch.neg, _normal),
    "square": (tg.square, torch.square, _normal),
    "m.exp": (lambda x: x.exp(), lambda x: x.exp(), _normal),
    "m.log": (lambda x: x.log(), lambda x: x.log(), _positive),
    "m.log1p": (lambda x: x.log1p(), lambda x: x.log1p(), _positive),
    "m.sqrt": (lambda x: x.sqrt(), lambda x: x.sqrt(), _positive),
    "m.rsqrt": (lambda x: x.rsqrt(), lambda x: x.rsqrt(), _positive),
    "m.abs": (lambda x: abs(x), lambda x: abs(x), _away_from_zero),
    "m.sin": (lambda x: x.sin(), lambda x: x.sin(), _normal),
    "m.cos": (lambda x: x.cos(), lambda x: x.cos(), _normal),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (7,), (2, 3, 4)])
@pytest.mark.parametrize("name", UNARY)
def test_unary_vs_torch(name, shape, dtype):
    f, g, gen = UNARY[name]
    x = gen(shape, dtype)
    check_vs_torch(f, g, [x])
    assert f(tg.Tensor(x)).dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY)
def test_unary_noncontiguous(name, dtype):
    f, g, gen = UNARY[name]
    check_vs_torch(f, g, [noncontig(gen((3, 4, 5), dtype, seed=2))])


@pytest.mark.parametrize("dtype", DTYPES)
def test_abs_gradient_at_zero_is_zero(dtype):
    check_vs_torch(tg.abs, torch.abs, [np.array([-1.0, 0.0, -0.0, 2.0], dtype=dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sign_values_and_zero_gradient(dtype):
    x = np.array([-2.0, -0.0, 0.0, 3.0, np.inf, -np.inf], dtype=dtype)
    out = tg.sign(tg.Tensor(x))
    np.testing.assert_array_equal(out._array, torch.sign(torch.tensor(x)).numpy())
    assert out.dtype == dtype
    # sign is locally constant: d/dx (sign(x) * x) = sign(x), as in PyTorch
    y = np.array([-2.0, 0.0, 3.0], dtype=dtype)
    check_vs_torch(lambda t: t.sign() * t, lambda t: t.sign() * t, [y])


# --------------------------------------------------------------- clamp
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "lo, hi", [(-0.5, 0.5), (-0.5, None), (None, 0.5), (0, 1), (0.5, -0.5), (1.0, 1.0)]
)
def test_clamp_scalar_bounds_vs_torch(lo, hi, dtype):
    # random values plus the bounds themselves: PyTorch lets the gradient through there
    x = np.concatenate([_normal(12, dtype), np.array([-0.5, 0.5, 0.0, 1.0], dtype=dtype)])
    check_vs_torch(lambda t: tg.clamp(t, lo, hi), lambda t: torch.clamp(t, lo, hi), [x])
    check_vs_torch(lambda t: t.clamp(min=lo, max=hi), lambda t: t.clamp(min=lo, max=hi), [x])
    check_vs_torch(lambda t: t.clip(lo, hi), lambda t: t.clip(lo, hi), [noncontig(x.reshape(4, 4))])
    assert tg.clamp(tg.Tensor(x), lo, hi).dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_clamp_tensor_bounds_with_ties_vs_torch(dtype):
    x = np.array([-1.0, 0.0, 1.0, 2.0, 0.5, 0.3, -3.0, 3.0], dtype=dtype)
    lo = np.array([-1.0, 0.0, 1.5, 2.0, 0.0, 0.5, -2.0, -2.0], dtype=dtype)
    hi = np.array([1.0, 0.0, 1.5, 2.0, 0.2, 0.1, 2.0, 2.0], dtype=dtype)  # ties, lo > hi
    check_vs_torch(
        lambda t, a, b: tg.clamp(t, a, b), lambda t, a, b: torch.clamp(t, a, b), [x, lo, hi]
    )
    check_vs_torch(lambda t, a: tg.clamp(t, min=a), lambda t, a: torch.clamp(t, min=a), [x, lo])
    check_vs_torch(lambda t, b: tg.clamp(t, max=b), lambda t, b: torch.clamp(t, max=b), [x, hi])


@pytest.mark.parametrize("dtype", DTYPES)
def test_clamp_tensor_bounds_broadcast(dtype):
    x = noncontig(_normal((3, 4), dtype))
    lo = _normal((4,), dtype, seed=1) - 0.5
    hi = _normal((3, 1), dtype, seed=2) + 1.5
    check_vs_torch(
        lambda t, a, b: tg.clamp(t, a, b), lambda t, a, b: torch.clamp(t, a, b), [x, lo, hi]
    )
    # a scalar bound next to a tensor bound (PyTorch wants both as tensors)
    check_vs_torch(
        lambda t, a: tg.clamp(t, a, 0.5),
        lambda t, a: torch.clamp(t, a, torch.tensor(0.5, dtype=a.dtype)),
        [x, lo],
    )


# ---------------------------------------------------- maximum, minimum, where
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_ties_split_the_gradient(op, dtype):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, (3, 4)).astype(dtype)  # many exact ties
    b = rng.integers(0, 3, (4,)).astype(dtype)
    check_vs_torch(getattr(tg, op), getattr(torch, op), [a, b])
    check_vs_torch(lambda x, y: getattr(x, op)(y), lambda x, y: getattr(x, op)(y), [a, b])
    check_vs_torch(
        lambda x: getattr(tg, op)(x, 1.0),
        lambda x: getattr(torch, op)(x, torch.tensor(1.0, dtype=x.dtype)),
        [a],
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_where_broadcasting_condition(dtype):
    rng = np.random.default_rng(0)
    cond = rng.random((3, 1)) > 0.5
    a, b = _normal((1, 4), dtype), _normal((3, 4), dtype, seed=1)
    tc = torch.tensor(cond)
    check_vs_torch(lambda x, y: tg.where(cond, x, y), lambda x, y: torch.where(tc, x, y), [a, b])
    check_vs_torch(
        lambda x, y: tg.where(tg.tensor(cond), x, y),
        lambda x, y: torch.where(tc, x, y),
        [a, noncontig(b)],
    )
    # Python scalars on either side keep the tensor's dtype
    check_vs_torch(lambda x: tg.where(cond, x, 0.0), lambda x: torch.where(tc, x, 0.0), [a])
    check_vs_torch(lambda x: tg.where(cond, 2, x), lambda x: torch.where(tc, 2.0, x), [b])
    assert tg.where(cond, tg.Tensor(a), 0.0).dtype == dtype
    # a float condition counts as "nonzero"
    fc = np.array([[0.0], [2.0], [-1.0]])
    check_vs_torch(
        lambda x, y: tg.where(fc, x, y),
        lambda x, y: torch.where(torch.tensor(fc) != 0, x, y),
        [a, b],
    )


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_where_against_zero_keeps_nan_inf_and_signed_zero_bits(dtype):
    # where(cond, x, 0) clears bits instead of selecting: NaN, inf and -0.0 where
    # cond holds must come through bit for bit, and +0.0 elsewhere, as in PyTorch
    x = np.array([np.nan, -np.inf, -0.0, 1.5, np.nan, np.inf, -0.0, -2.0], dtype=dtype)
    cond = np.array([True, True, True, True, False, False, False, False])
    for other in (0.0, -0.0):  # -0.0 must stay -0.0 where cond is false
        got = tg.where(cond, tg.Tensor(x), other).numpy()
        want = torch.where(torch.tensor(cond), torch.tensor(x), other).numpy()
        assert got.dtype == want.dtype
        assert got.tobytes() == want.tobytes(), other
    # broadcasting either way: the mask wider than x, and x wider than the mask
    for c, v in ((cond.reshape(2, 1, 4), x.reshape(2, 4)), (cond[:4], x.reshape(2, 4))):
        got = tg.where(c, tg.Tensor(v), 0.0).numpy()
        want = torch.where(torch.tensor(c), torch.tensor(v), 0.0).numpy()
        assert got.shape == want.shape and got.tobytes() == want.tobytes()


# ------------------------------------------------------------ cast, clone
@pytest.mark.parametrize("src, dst", [(np.float32, np.float64), (np.float64, np.float32)])
def test_cast_between_floats_gives_gradient_in_source_dtype(src, dst):
    x = _normal((3, 4), src)
    tdst = torch.float64 if dst == np.float64 else torch.float32
    check_vs_torch(lambda t: tg.cast(t, dst) * 2.0, lambda t: t.to(tdst) * 2.0, [x])
    check_vs_torch(lambda t: t.to(dst).exp(), lambda t: t.to(tdst).exp(), [x])
    out = tg.cast(tg.Tensor(x, requires_grad=True), dst)
    assert out.dtype == dst
    x_t = tg.Tensor(x, requires_grad=True)
    x_t.to(dst).sum().backward()
    assert x_t.grad.dtype == src


def test_cast_to_integer_truncates_and_cuts_the_graph():
    x = np.array([-2.7, -0.5, 0.5, 2.7])
    t = tg.Tensor(x, requires_grad=True)
    for m in ("long", "int"):
        out = getattr(t, m)()
        np.testing.assert_array_equal(out._array, getattr(torch.tensor(x), m)().numpy())
        assert not out.requires_grad
    assert tg.cast(t, np.int64).dtype == np.int64


@pytest.mark.parametrize("dtype", DTYPES)
def test_clone_copies_data_and_passes_gradient(dtype):
    x = _normal((2, 3), dtype)
    check_vs_torch(lambda t: tg.clone(t) * t, lambda t: torch.clone(t) * t, [x])
    check_vs_torch(lambda t: t.clone() * 3.0, lambda t: t.clone() * 3.0, [noncontig(x)])
    t = tg.Tensor(x.copy())
    c = t.clone()
    c._array[0, 0] = 100.0
    assert t._array[0, 0] == x[0, 0] != 100.0


# ------------------------------------------------ comparisons and logic
CMP = ["eq", "ne", "lt", "le", "gt", "ge"]
CMP_OPS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _ints(shape, seed):
    return np.random.default_rng(seed).integers(0, 3, shape).astype(np.float64)


@pytest.mark.parametrize("op", CMP)
def test_comparison_functions_and_methods(op):
    a, b = _ints((3, 4), 0), _ints((4,), 1)  # small integers: many equal pairs
    ref = getattr(torch, op)(torch.tensor(a), torch.tensor(b)).numpy()
    for out in (
        getattr(tg, op)(tg.Tensor(a), tg.Tensor(b)),
        getattr(tg.Tensor(a), op)(tg.Tensor(b)),
    ):
        assert out.dtype == np.bool_
        np.testing.assert_array_equal(out._array, ref)
    # a Python scalar on either side
    np.testing.assert_array_equal(
        getattr(tg, op)(tg.Tensor(a), 1)._array, getattr(torch, op)(torch.tensor(a), 1).numpy()
    )


@pytest.mark.parametrize("sym", CMP_OPS)
def test_comparison_operators(sym):
    f = CMP_OPS[sym]
    a, b = _ints((2, 3), 2), _ints((3,), 3)
    np.testing.assert_array_equal(
        f(tg.Tensor(a), tg.Tensor(b))._array, f(torch.tensor(a), torch.tensor(b)).numpy()
    )
    np.testing.assert_array_equal(f(tg.Tensor(a), 1.0)._array, f(torch.tensor(a), 1.0).numpy())
    np.testing.assert_array_equal(f(1.0, tg.Tensor(a))._array, f(1.0, torch.tensor(a)).numpy())


def test_comparison_of_tensor_requiring_grad_is_constant():
    x = tg.Tensor(_normal((3,)), requires_grad=True)
    assert not (x > 0).requires_grad and not tg.eq(x, x).requires_grad


def test_logical_ops_and_nan_checks():
    a = np.array([[True, False, True, False]])
    b = np.array([[True], [False]])
    ta, tb = torch.tensor(a), torch.tensor(b)
    for mine, ref in [
        (tg.logical_and(tg.tensor(a), tg.tensor(b)), torch.logical_and(ta, tb)),
        (tg.logical_or(tg.tensor(a), tg.tensor(b)), torch.logical_or(ta, tb)),
        (tg.logical_not(tg.tensor(a)), torch.logical_not(ta)),
        (tg.tensor(a) & tg.tensor(b), ta & tb),
        (tg.tensor(a) | tg.tensor(b), ta | tb),
        (~tg.tensor(a), ~ta),
    ]:
        assert mine.dtype == np.bool_
        np.testing.assert_array_equal(mine._array, ref.numpy())
    f = np.array([0.0, 1.5, np.nan, np.inf, -np.inf])
    tf = torch.tensor(f)
    np.testing.assert_array_equal(
        tg.logical_not(tg.Tensor(f))._array, torch.logical_not(tf).numpy()
    )
    np.testing.assert_array_equal(
        tg.logical_and(tg.Tensor(f), 1.0)._array, torch.logical_and(tf, torch.tensor(1.0)).numpy()
    )
    np.testing.assert_array_equal(tg.isnan(tg.Tensor(f))._array, torch.isnan(tf).numpy())
    np.testing.assert_array_equal(tg.isfinite(tg.Tensor(f))._array, torch.isfinite(tf).numpy())


# ------------------------------------------------------------ second order
GRADGRAD_UNARY = {
    "exp": (tg.exp, _normal),
    "log": (tg.log, _positive),
    "log1p": (tg.log1p, _positive),
    "sqrt": (tg.sqrt, _positive),
    "rsqrt": (tg.rsqrt, _positive),
    "abs": (tg.abs, _away_from_zero),
    "sin": (tg.sin, _normal),
    "cos": (tg.cos, _normal),
    "neg": (tg.neg, _normal),
    "square": (tg.square, _normal),
    "x**3": (lambda x: x**3, _normal),
    "x**-1.5": (lambda x: x**-1.5, _positive),
    "x**0.5": (lambda x: x**0.5, _positive),
    "2/x": (lambda x: 2 / x, _away_from_zero),
    "2**x": (lambda x: 2**x, _normal),
    "2-x": (lambda x: 2 - x, _normal),
    "clamp": (lambda x: tg.clamp(x, -1.0, 1.0), lambda s, d: _away_from_zero(s, d) * 0.9),
    "clamp_min": (lambda x: tg.clamp(x, min=0.0), _away_from_zero),
    "clone": (lambda x: tg.clone(x) * x, _normal),
    "sign": (lambda x: tg.sign(x) * x * x, _away_from_zero),
}


@pytest.mark.parametrize("name", GRADGRAD_UNARY)
def test_unary_gradgradcheck(name):
    f, gen = GRADGRAD_UNARY[name]
    gradgradcheck(f, [tg.Tensor(gen((2, 3), np.float64), requires_grad=True)])


GRADGRAD_BINARY = {
    "add": (lambda a, b: a + b, _normal),
    "sub": (lambda a, b: a - b, _normal),
    "mul": (lambda a, b: a * b, _normal),
    "div": (lambda a, b: a / b, _away_from_zero),
    "pow": (lambda a, b: a**b, _normal),
    "maximum": (tg.maximum, _normal),
    "minimum": (tg.minimum, _normal),
    "where": (lambda a, b: tg.where(np.array([True, False, True]), a * a, b * a), _normal),
    "clamp_tensor": (lambda a, b: tg.clamp(a, min=b), _normal),
}


@pytest.mark.parametrize("name", GRADGRAD_BINARY)
def test_binary_gradgradcheck_with_broadcasting(name):
    f, gen = GRADGRAD_BINARY[name]
    a = _positive((2, 3)) if name == "pow" else _normal((2, 3))
    b = gen((3,), np.float64, 1)
    gradgradcheck(f, [tg.Tensor(a, requires_grad=True), tg.Tensor(b, requires_grad=True)])


@pytest.mark.parametrize(
    "f",
    [
        lambda a, b: a * b / (b * b + 1) - a**3,
        lambda a, b: (a.abs() + 1.0) ** b,
        lambda a, b: 2.0**a * b.exp() - (a * b).sin() * a.cos(),
        lambda a, b: (a * a + 1).log() * (b * b + 1).sqrt() + (b * b + 1).rsqrt() * (a * a).log1p(),
        lambda a, b: (a * b).clamp(-0.5, 0.5) * a + (a - b) ** 2,
    ],
)
def test_second_order_compositions_vs_torch(f):
    a, b = _normal((3, 4)), _normal((4,), seed=1)
    check_second_order_vs_torch(f, f, [a, b])


def test_cast_second_order_vs_torch():
    x = _normal((3,))
    check_second_order_vs_torch(
        lambda t: tg.cast(t * t, np.float32).exp(),
        lambda t: (t * t).to(torch.float32).exp(),
        [x],
        rtol=1e-5,
    )


# ---------------------------------------------------------------- property
@settings(max_examples=15, deadline=None)
@given(
    mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
    st.sampled_from(["add", "mul", "div", "maximum"]),
)
def test_random_broadcast_shapes(shapes, name):
    (sa, sb), _ = shapes
    f, g, _ = BINARY[name]
    a, b = _binary_arrays(name, sa, sb, np.float64)
    check_vs_torch(f, g, [a, b])


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "name, f",
    [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: a - b),
        ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / b),
        ("pow", lambda a, b: a**b),
        ("add", tg.add),
        ("maximum", tg.maximum),
        ("minimum", tg.minimum),
        ("eq", tg.eq),
        ("lt", lambda a, b: a < b),
        ("logical_and", tg.logical_and),
    ],
)
def test_broadcast_error_names_op_and_both_shapes(name, f):
    a, b = tg.ones(2, 3, requires_grad=True), tg.ones(4)
    with pytest.raises(
        ValueError, match=rf"{name}: shapes \(2, 3\) and \(4,\) cannot be broadcast"
    ):
        f(a, b)


def test_where_and_clamp_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"where: condition \(2,\), x \(3,\) and y \(\) cannot"):
        tg.where(np.array([True, False]), tg.ones(3), 0.0)
    with pytest.raises(ValueError, match=r"clamp: shapes \(2, 3\), \(4,\) cannot be broadcast"):
        tg.clamp(tg.ones(2, 3), tg.zeros(4))
    with pytest.raises(ValueError, match="clamp: at least one of min and max"):
        tg.clamp(tg.ones(2))
