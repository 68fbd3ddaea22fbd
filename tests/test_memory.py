"""Memory: a long training loop keeps resident memory flat, and graphs are freed.

Graphs are freed by reference counting alone (a node never holds its outputs),
so these tests run with the cyclic garbage collector disabled: anything that
survives would be a reference cycle or a leak.
"""

import gc
import os
import weakref

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import Function

PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


@pytest.fixture
def no_gc():
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    yield
    if was:
        gc.enable()


def _mlp():
    rng = np.random.default_rng(0)
    params = [
        tg.Tensor(rng.standard_normal((32, 10)) * 0.3, requires_grad=True),
        tg.Tensor(np.zeros(32), requires_grad=True),
        tg.Tensor(rng.standard_normal((1, 32)) * 0.3, requires_grad=True),
        tg.Tensor(np.zeros(1), requires_grad=True),
    ]
    return params


def _forward(params, x, y):
    w1, b1, w2, b2 = params
    return tg.mse_loss(tg.linear(tg.relu(tg.linear(x, w1, b1)), w2, b2), y)


def _sgd_step(params, x, y, lr=0.01):
    loss = _forward(params, x, y)
    loss.backward()
    for p in params:
        p._array -= lr * p.grad._array
        p.grad = None
    return loss.item()


def _n_functions():
    # type(o), not isinstance: isinstance reads o.__class__, which some lazy module
    # attributes (torch's) answer with a deprecation warning
    return sum(issubclass(type(o), Function) for o in gc.get_objects())


def test_training_loop_memory_is_flat(no_gc):
    rng = np.random.default_rng(1)
    x = tg.Tensor(rng.standard_normal((16, 10)))
    y = tg.Tensor(rng.standard_normal((16, 1)))
    params = _mlp()
    for _ in range(200):  # warm-up: allocator pools, lazily created caches
        first = _sgd_step(params, x, y)
    before_rss, before_fn = _rss_bytes(), _n_functions()
    for _ in range(10_000):
        last = _sgd_step(params, x, y)
    growth = _rss_bytes() - before_rss
    assert growth < 20 * 2**20, f"resident memory grew by {growth / 2**20:.1f} MB"
    assert _n_functions() <= before_fn, "graph nodes survive the steps that made them"
    assert last < first  # the loop really trained (the steps were not no-ops)


def test_graph_is_freed_after_backward_and_del(no_gc):
    params = _mlp()
    x, y = tg.randn(4, 10, dtype=tg.float64), tg.randn(4, 1, dtype=tg.float64)
    w1, b1, w2, b2 = params
    h = tg.relu(tg.linear(x, w1, b1))
    loss = tg.mse_loss(tg.linear(h, w2, b2), y)
    nodes = [weakref.ref(loss.grad_fn), weakref.ref(h.grad_fn)]
    loss.backward()
    assert all(p.grad is not None for p in params)
    del loss, h
    assert all(r() is None for r in nodes), "a Function of the last graph is still alive"


def test_graph_is_freed_without_backward(no_gc):
    x = tg.randn(8, 3, requires_grad=True)
    loss = tg.cross_entropy(x * 2.0, tg.tensor([0, 1, 2, 0, 1, 2, 0, 1]))
    node = weakref.ref(loss.grad_fn)
    del loss
    assert node() is None


def test_second_order_graph_is_freed(no_gc):
    params = _mlp()
    x, y = tg.randn(4, 10, dtype=tg.float64), tg.randn(4, 1, dtype=tg.float64)
    loss = _forward(params, x, y)
    grads = tg.grad(loss, params, create_graph=True)
    first = weakref.ref(loss.grad_fn)
    second = weakref.ref(grads[0].grad_fn)
    gnorm = sum((g * g).sum() for g in grads)
    hv = tg.grad(gnorm, params)
    assert hv[0].shape == params[0].shape and hv[0].grad_fn is None
    del loss, grads, gnorm, hv
    assert first() is None and second() is None
