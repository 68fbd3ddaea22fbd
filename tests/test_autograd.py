"""The engine: accumulation, graph lifetime, modes, higher order, custom ops, errors."""

import gc
import weakref

import numpy as np
import pytest
import torch

import tapegrad as tg
from helpers import check_vs_torch
from tapegrad.autograd import Function, GradcheckError, gradcheck, gradgradcheck


def test_grad_accumulates_across_uses_and_calls():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x + x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad._array, 2 * x._array + 1)
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad._array, 2 * x._array + 1 + 3)


def test_broadcast_gradients_reduce_to_input_shape():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((4, 1, 3)), rng.standard_normal((5, 1)), rng.standard_normal(())]
    check_vs_torch(
        lambda a, b, c: a * b + c / (b * b + 1), lambda a, b, c: a * b + c / (b * b + 1), arrays
    )


def test_same_array_is_not_shared_between_leaf_grads():
    a = tg.ones(3, requires_grad=True)
    b = tg.ones(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad._array *= 5  # an in-place change of one .grad must not reach the other
    np.testing.assert_array_equal(b.grad._array, np.ones(3))


def test_no_grad_records_nothing_and_decorator_form():
    x = tg.randn(3, requires_grad=True)
    with tg.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None

    @tg.no_grad()
    def f(t):
        return t * 2

    assert f(x).grad_fn is None
    with tg.no_grad():
        with tg.enable_grad():
            assert (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_second_backward_through_freed_graph_raises():
    x = tg.randn(3, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = tg.randn(3, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    g1 = x.grad._array.copy()
    y.backward()
    np.testing.assert_allclose(x.grad._array, 2 * g1, rtol=1e-6)


def test_backward_on_non_scalar_needs_gradient():
    x = tg.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"one-element output.*\(3,\)"):
        (x * 2).backward()
    (x * 2).backward(tg.ones(3))
    np.testing.assert_allclose(x.grad._array, 2 * np.ones(3))


def test_backward_without_graph_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.ones(2).sum().backward()


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="int64"):
        tg.tensor([1, 2, 3], requires_grad=True)


def test_graph_dies_with_its_tensors():
    gc.disable()
    try:
        x = tg.randn(100, requires_grad=True)
        y = (x.exp() * x).sum()
        node = weakref.ref(y.grad_fn)
        del y
        assert node() is None, "a reference cycle keeps the graph alive"
    finally:
        gc.enable()


def test_grad_function_and_non_leaf_inputs_match_torch():
    a = np.random.default_rng(1).standard_normal((3, 4))
    x, xt = tg.Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    h, ht = x.exp() * 2, xt.exp() * 2
    (g,) = tg.grad((h * h).sum(), h)
    (gt,) = torch.autograd.grad((ht * ht).sum(), ht)
    np.testing.assert_allclose(g._array, gt.numpy(), rtol=1e-12)
    assert x.grad is None, "grad() must not accumulate into .grad"


def test_grad_unused_input():
    x, z = tg.randn(2, requires_grad=True), tg.randn(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="input 1"):
        tg.grad((x * 2).sum(), [x, z])
    gx, gz = tg.grad((x * 2).sum(), [x, z], allow_unused=True)
    assert gz is None and np.allclose(gx._array, 2)


def test_hessian_vector_product_matches_torch():
    rng = np.random.default_rng(2)
    w1, w2 = rng.standard_normal((5, 4)), rng.standard_normal((1, 5))
    xin = rng.standard_normal((8, 4))
    v1, v2 = rng.standard_normal((5, 4)), rng.standard_normal((1, 5))

    def hvp(tensor, grad, sigmoid):
        W1, W2 = tensor(w1, requires_grad=True), tensor(w2, requires_grad=True)
        h = sigmoid(tensor(xin) @ W1.T)
        loss = ((h @ W2.T) ** 2).mean()
        g1, g2 = grad(loss, [W1, W2], create_graph=True)
        s = (g1 * tensor(v1)).sum() + (g2 * tensor(v2)).sum()
        return grad(s, [W1, W2])

    # tapegrad's side uses only the core ops: sigmoid(z) = exp(z) / (exp(z) + 1)
    ours = hvp(tg.Tensor, tg.grad, lambda z: z.exp() / (z.exp() + 1.0))
    theirs = hvp(torch.tensor, torch.autograd.grad, torch.sigmoid)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-6, atol=1e-10)


def test_retain_grad_and_hooks():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    h.retain_grad()
    seen = []
    h.register_hook(lambda g: seen.append(g._array.copy()))
    x.register_hook(lambda g: g * 10.0)  # a leaf hook may replace the gradient
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad._array, 2 * h._array)
    np.testing.assert_allclose(seen[0], 2 * h._array)
    np.testing.assert_allclose(x.grad._array, 10 * 3 * 2 * h._array)


def test_custom_function_and_gradcheck_catches_wrong_backward():
    class Cube(Function):
        keep_inputs = True

        def forward(self, x):
            return x**3

        def backward(self, gy):
            (x,) = self.inputs
            return gy * 3.0 * x * x

    class WrongCube(Cube):
        def backward(self, gy):
            (x,) = self.inputs
            return gy * 2.0 * x * x

    x = tg.randn(4, dtype=tg.float64, requires_grad=True)
    assert gradcheck(Cube.apply, [x])
    assert gradgradcheck(Cube.apply, [x])
    with pytest.raises(GradcheckError, match=r"input 0\[\d\]"):
        gradcheck(WrongCube.apply, [x])
    assert gradcheck(WrongCube.apply, [x], raise_exception=False) is False


def test_gradcheck_rejects_float32():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2, [tg.randn(3, requires_grad=True)])


def test_anomaly_names_the_op():
    x = tg.tensor([-1.0, 1.0], requires_grad=True)
    with tg.autograd.detect_anomaly():
        with pytest.raises(FloatingPointError, match="Sqrt"):
            x.sqrt()
        y = (x * 0.0).sqrt().sum()  # forward is 0, backward divides by 0
        with pytest.raises(FloatingPointError, match="SqrtBackward returned Inf"):
            y.backward()


def test_float32_stays_float32():
    x = tg.randn(3, 3, requires_grad=True)
    y = ((x * 2.0 + 1) / 3.0) ** 2
    assert y.dtype == tg.float32
    y.sum().backward()
    assert x.grad.dtype == tg.float32
    d = tg.randn(3, dtype=tg.float64)
    assert (d * 2.0).dtype == tg.float64


def test_inplace_on_leaf_requiring_grad():
    w = tg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w -= 1.0
    with tg.no_grad():
        w -= 1.0
    np.testing.assert_array_equal(w._array, np.zeros(3))


def test_deep_graph_has_no_recursion_limit():
    x = tg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad._array, [1.0001**5000], rtol=1e-3)
