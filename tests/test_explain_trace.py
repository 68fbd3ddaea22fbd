"""tapegrad.explain.trace: leaf gradients equal autograd's (and PyTorch's where the
model is shared) on MLP, conv and LSTM losses and on a double-backward graph, and
each check is reported."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tapegrad import explain


def _assert_matches_autograd(t: explain.Trace, loss_fn, params: dict) -> None:
    loss = loss_fn()
    ref = tg.grad(loss, list(params.values()), allow_unused=True)
    assert set(t.grads) == set(params), (sorted(t.grads), sorted(params))
    for (name, p), r in zip(params.items(), ref):
        r = np.zeros(p.shape) if r is None else r.detach().numpy()
        np.testing.assert_allclose(t.grads[name], r, rtol=1e-6, atol=1e-7, err_msg=name)
    for c in t.checks:
        assert c.autograd_ok and c.fd_ok, (c.label, c.autograd_diff, c.fd_diff, c.fd_note)
        assert c.fd_samples == min(20, int(np.prod(c.shape)))
    assert t.ok


def test_trace_mlp_loss_matches_autograd_and_torch():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).to(tg.float64)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 4)), np.array([0, 2, 1, 1, 0])
    params = dict(model.named_parameters())

    def loss_fn():
        return F.cross_entropy(model(tg.tensor(x)), tg.tensor(y))

    t = explain.trace(loss_fn, params=params)
    _assert_matches_autograd(t, loss_fn, params)
    # and against PyTorch, as an oracle independent of tapegrad's engine
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    tm = tm.double()
    with torch.no_grad():
        for n, p in tm.named_parameters():
            p.copy_(torch.tensor(params[n].detach().numpy()))
    torch.nn.functional.cross_entropy(tm(torch.tensor(x)), torch.tensor(y)).backward()
    for n, p in tm.named_parameters():
        np.testing.assert_allclose(t.grads[n], p.grad.numpy(), rtol=1e-9, atol=1e-12)
    text, md = t.to_text(), t.to_markdown()
    for name in params:
        assert f"dL/d{name}" in text and f"`{name}`" in md
    assert "VJP of Linear" in text or "VJP of MatMul" in text
    assert "local d" in text  # tanh is elementwise: its local derivative is shown
    assert md.count("\n| ---") == 3


def test_trace_conv_loss():
    tg.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * 3 * 3, 2),
    ).to(tg.float64)
    x = np.random.default_rng(1).normal(size=(2, 1, 6, 6))
    params = dict(model.named_parameters())

    def loss_fn():
        return (model(tg.tensor(x)) ** 2).mean()

    t = explain.trace(loss_fn, params=params)
    _assert_matches_autograd(t, loss_fn, params)
    assert any(e.op == "Conv2d" and not e.elementwise for e in t.backward)


def test_trace_lstm_loss():
    tg.manual_seed(2)
    lstm = nn.LSTM(3, 4, batch_first=True).to(tg.float64)
    head = nn.Linear(4, 1).to(tg.float64)
    x = np.random.default_rng(2).normal(size=(2, 5, 3))
    params = {**{"lstm." + k: v for k, v in lstm.named_parameters()}, "head.weight": head.weight}

    def loss_fn():
        out, _ = lstm(tg.tensor(x))
        return head(out[:, -1]).pow(2).sum()

    t = explain.trace(loss_fn, params=params, inputs=list(params.values()))
    _assert_matches_autograd(t, loss_fn, params)


def test_trace_double_backward_graph():
    x = tg.tensor([0.3, -1.2, 0.7], dtype=tg.float64, requires_grad=True)
    w = tg.tensor([[0.5, -0.1, 0.2], [0.4, 0.3, -0.6]], dtype=tg.float64, requires_grad=True)

    def loss_fn():
        y = tg.tanh(w @ x).pow(2).sum()
        (gx,) = tg.grad(y, [x], create_graph=True)  # grad of grad
        return (gx * gx).sum()

    t = explain.trace(loss_fn, params={"x": x, "w": w})
    _assert_matches_autograd(t, loss_fn, {"x": x, "w": w})
    # the same quantity in PyTorch
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    wt = torch.tensor(w.detach().numpy(), requires_grad=True)
    (gxt,) = torch.autograd.grad(torch.tanh(wt @ xt).pow(2).sum(), [xt], create_graph=True)
    (gxt * gxt).sum().backward()
    np.testing.assert_allclose(t.grads["w"], wt.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(t.grads["x"], xt.grad.numpy(), rtol=1e-9)


def test_trace_of_tensor_outside_recording_says_why_no_fd():
    w = tg.tensor([1.0, 2.0], dtype=tg.float64, requires_grad=True)
    loss = tg.sigmoid(w * 3.0 + 1.0).sum()  # Add does not keep its constant input
    t = explain.trace(loss)
    (c,) = t.checks
    assert c.autograd_ok and c.fd_diff is None and "recording()" in c.fd_note
    with explain.recording():
        loss = tg.sigmoid(w * 3.0 + 1.0).sum()
    t = explain.trace(loss)
    assert t.checks[0].fd_ok and "not kept" not in t.to_text()


def test_trace_summarises_and_catches_wrong_gradients():
    class Wrong(tg.autograd.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return gy * 3  # deliberately wrong

    w = tg.tensor(np.arange(30.0).reshape(5, 6) / 10, requires_grad=True)
    t = explain.trace(lambda: Wrong()(w).sum(), samples=7)
    (c,) = t.checks
    assert c.fd_samples == 7 and c.fd_ok is False and not t.ok
    assert abs(c.fd_diff - 1.0) < 1e-6  # 3 (claimed) - 2 (true)
    assert "<5x6: mean" in t.to_text() and "SOME CHECKS FAILED" in t.to_text()


def test_trace_rejects_bad_input():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="scalar"):
        explain.trace(w * 2)
    with pytest.raises(ValueError, match="no graph"):
        explain.trace(tg.tensor(1.0, requires_grad=True))
    loss = (w * w).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="freed"):
        explain.trace(loss)


def test_trace_float32_model_passes_its_checks():
    # float32 gradients are compared with float64 central differences at float32's
    # tolerance: a correct float32 model must not be reported as a mismatch
    tg.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 16), nn.Sigmoid(), nn.Linear(16, 4))
    rng = np.random.default_rng(3)
    x = tg.tensor(rng.normal(size=(8, 6)).astype(np.float32))
    y = tg.tensor(rng.integers(0, 4, size=8))
    params = dict(model.named_parameters())
    t = explain.trace(lambda: F.cross_entropy(model(x), y), params=params)
    assert t.ok, t.to_text()
    assert [c.fd_samples for c in t.checks] == [20, 16, 20, 4]
