"""Tensor and Module hooks, checked against PyTorch's behaviour: the same calls in
the same order with the same arguments, the same replacement semantics, and
handles whose ``remove()`` unregisters the hook."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.utils.hooks import RemovableHandle


def _pair(seed: int = 0):
    """The same 3 -> 4 -> 2 tanh MLP in tapegrad and in torch (float64)."""
    rng = np.random.default_rng(seed)
    w1, b1 = rng.normal(size=(4, 3)), rng.normal(size=4)
    w2, b2 = rng.normal(size=(2, 4)), rng.normal(size=2)
    m_tg = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).to(tg.float64)
    m_t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    m_t = m_t.double()
    for m, lib in ((m_tg, tg), (m_t, torch)):
        for layer, (w, b) in zip((m[0], m[2]), ((w1, b1), (w2, b2))):
            layer.weight.data[...] = w if lib is tg else torch.tensor(w)
            layer.bias.data[...] = b if lib is tg else torch.tensor(b)
    x = rng.normal(size=(5, 3))
    return m_tg, m_t, x


def _np(t):
    if t is None:
        return None
    return np.array(t.detach().numpy() if isinstance(t, torch.Tensor) else t._array)


def _same_log(a, b):
    assert len(a) == len(b), f"{len(a)} calls vs torch's {len(b)}"
    for (name_a, arrs_a), (name_b, arrs_b) in zip(a, b):
        assert name_a == name_b
        assert len(arrs_a) == len(arrs_b)
        for x, y in zip(arrs_a, arrs_b):
            assert (x is None) == (y is None), (name_a, x, y)
            if x is not None:
                np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ tensor hooks


@pytest.mark.parametrize("lib", [tg, torch])
def test_tensor_hooks_order_replacement_and_removal(lib):
    log = []
    x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
    h = x * x
    h1 = h.register_hook(lambda g: log.append(("h1", g.tolist())))
    h.register_hook(lambda g: g * 2)  # replaces the non-leaf gradient downstream
    h.register_hook(lambda g: log.append(("h3", g.tolist())))
    x.register_hook(lambda g: g + 1)  # a leaf hook replaces what is accumulated
    h.sum().backward(retain_graph=True)
    assert log == [("h1", [1.0, 1.0, 1.0]), ("h3", [2.0, 2.0, 2.0])]
    np.testing.assert_allclose(_np(x.grad), [5.0, 9.0, 13.0])
    h1.remove()
    h1.remove()  # removing twice is harmless, as in torch
    log.clear()
    x.grad = None
    h.sum().backward()
    assert log == [("h3", [2.0, 2.0, 2.0])]


def test_tensor_hook_handle_is_removable_handle_and_callable():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: seen.append(1))
    assert isinstance(handle, RemovableHandle)
    handle()  # calling the handle removes the hook, as the old return value did
    (x * 3).sum().backward()
    assert seen == []
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tg.tensor([1.0]).register_hook(lambda g: g)


# ------------------------------------------------------------------ forward hooks


def test_forward_hooks_match_torch_order_args_and_replacement():
    m_tg, m_t, x = _pair()
    logs = {}
    for m, lib in ((m_tg, tg), (m_t, torch)):
        log = []
        logs[lib] = log

        def pre(mod, args, log=log):
            log.append(("pre", [_np(a) for a in args]))
            return args[0] * 2  # a non-tuple result becomes the only argument

        def post(mod, args, out, log=log):
            log.append(("post", [_np(a) for a in args] + [_np(out)]))
            return out + 1

        def post2(mod, args, out, log=log):
            log.append(("post2", [_np(out)]))

        handles = [
            m[0].register_forward_pre_hook(pre),
            m[0].register_forward_hook(post),
            m[0].register_forward_hook(post2),
        ]
        out = m(lib.tensor(x))
        log.append(("out", [_np(out)]))
        for h in handles:
            h.remove()
        log.append(("after remove", [_np(m(lib.tensor(x)))]))
    _same_log(logs[tg], logs[torch])


# ------------------------------------------------------------------ backward hooks


def _run_backward_hooks(m, lib, x, replace: bool):
    log = []

    def make(name):
        def hook(mod, grad_input, grad_output):
            log.append((name + " in", [_np(g) for g in grad_input]))
            log.append((name + " out", [_np(g) for g in grad_output]))
            if replace and name == "2":
                return tuple(None if g is None else g * 3 for g in grad_input)
            return None

        return hook

    handles = [m[i].register_full_backward_hook(make(str(i))) for i in range(3)]
    xt = lib.tensor(x, requires_grad=True)
    m(xt).pow(2).sum().backward()
    log.append(("x.grad", [_np(xt.grad)]))
    log.append(("w0.grad", [_np(m[0].weight.grad)]))
    for h in handles:
        h.remove()
    xt.grad = None
    m(xt).pow(2).sum().backward()
    log.append(("x.grad after remove", [_np(xt.grad)]))
    return log


@pytest.mark.parametrize("replace", [False, True])
def test_full_backward_hook_matches_torch(replace):
    m_tg, m_t, x = _pair(1)
    _same_log(
        _run_backward_hooks(m_tg, tg, x, replace), _run_backward_hooks(m_t, torch, x, replace)
    )


@pytest.mark.parametrize("lib", [tg, torch])
def test_full_backward_hook_without_input_grad(lib):
    m_tg, m_t, x = _pair(2)
    m = m_tg if lib is tg else m_t
    seen = []
    m[0].register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go[0].shape)))
    m(lib.tensor(x)).sum().backward()
    assert len(seen) == 1 and seen[0][0] == (None,) and tuple(seen[0][1]) == (5, 4)
    m[0].register_full_backward_hook(lambda mod, gi, go: (lib.ones(5, 3),))
    with pytest.raises(RuntimeError, match="no input requires gradient"):
        m(lib.tensor(x)).sum().backward()


def test_backward_hook_wrong_length_raises():
    m_tg, _, x = _pair(3)
    m_tg[2].register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="invalid number of grad_input"):
        m_tg(tg.tensor(x, requires_grad=True)).sum().backward()
