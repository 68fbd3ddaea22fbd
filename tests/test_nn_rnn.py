"""RNN, LSTM, GRU and their cells against torch.nn with the same parameters."""

import math

import numpy as np
import pytest
import torch

import tapegrad as tg
from helpers import assert_close, check_second_order_vs_torch
from tapegrad.autograd import gradcheck, gradgradcheck
from tapegrad.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from tapegrad.ops.recurrent import lstm_layer

TORCH_DT = {np.float64: torch.float64, np.float32: torch.float32}
TOLS = {np.float64: dict(rtol=1e-8, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}

LAYERS = {
    "rnn_tanh": (RNN, torch.nn.RNN, {}),
    "rnn_relu": (RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (LSTM, torch.nn.LSTM, {}),
    "gru": (GRU, torch.nn.GRU, {}),
}
CELLS = {
    "rnn_tanh": (RNNCell, torch.nn.RNNCell, {}),
    "rnn_relu": (RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (LSTMCell, torch.nn.LSTMCell, {}),
    "gru": (GRUCell, torch.nn.GRUCell, {}),
}


def _pair(cls, tcls, dtype, *args, **kw):
    """A torch module and ours with torch's (random) parameters copied in by name."""
    theirs = tcls(*args, dtype=TORCH_DT[dtype], **kw)
    ours = cls(*args, dtype=dtype, **kw)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in theirs.named_parameters()
    ]
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _compare(ours, theirs, arrays, dtype, seed=0):
    """Run both on the same inputs (None = not given); compare outputs and all gradients."""
    tol = TOLS[dtype]
    xs_tg = [None if a is None else tg.Tensor(a, requires_grad=True) for a in arrays]
    xs_t = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]

    def call(m, xs, state_tuple):
        if len(xs) == 1 or xs[1] is None:
            return m(xs[0])
        hx = tuple(xs[1:]) if state_tuple else xs[1]
        return m(xs[0], hx)

    tuple_state = isinstance(ours, (LSTM, LSTMCell))
    out_tg, out_t = _flat(call(ours, xs_tg, tuple_state)), _flat(call(theirs, xs_t, tuple_state))
    assert len(out_tg) == len(out_t)
    rng = np.random.default_rng(seed)
    gs = [rng.standard_normal(tuple(b.shape)).astype(dtype) for b in out_t]
    for i, (a, b) in enumerate(zip(out_tg, out_t)):
        assert a.dtype == dtype
        assert_close(a.data, b, what=f"output {i}", **tol)
    tg.autograd.backward(out_tg, [tg.Tensor(g) for g in gs])
    torch.autograd.backward(out_t, [torch.tensor(g) for g in gs])
    for i, (a, b) in enumerate(zip(xs_tg, xs_t)):
        if a is not None:
            assert_close(a.grad._array, b.grad, what=f"gradient of input {i}", **tol)
    tp = dict(theirs.named_parameters())
    for n, p in ours.named_parameters():
        assert_close(p.grad._array, tp[n].grad, what=f"gradient of {n}", **tol)


# (num_layers, batch_first, initial state given, bidirectional, bias)
CONFIGS = [
    (1, False, False, False, True),
    (1, True, True, False, True),
    (2, False, True, False, True),
    (2, True, False, False, False),
    (2, False, True, True, True),
    (1, True, False, True, True),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("kind", list(LAYERS))
def test_layer_vs_torch(kind, config, dtype):
    layers, batch_first, given, bidir, bias = config
    cls, tcls, kw = LAYERS[kind]
    ours, theirs = _pair(
        cls,
        tcls,
        dtype,
        3,
        4,
        num_layers=layers,
        batch_first=batch_first,
        bidirectional=bidir,
        bias=bias,
        **kw,
    )
    rng = np.random.default_rng(1)
    t, b = 5, 2
    x = rng.standard_normal((b, t, 3) if batch_first else (t, b, 3)).astype(dtype)
    arrays = [x]
    if given:
        n_states = 2 if kind == "lstm" else 1
        arrays += [
            rng.standard_normal((layers * (2 if bidir else 1), b, 4)).astype(dtype) * 0.5
            for _ in range(n_states)
        ]
    _compare(ours, theirs, arrays, dtype)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_layer_unbatched_vs_torch(kind):
    cls, tcls, kw = LAYERS[kind]
    ours, theirs = _pair(cls, tcls, np.float64, 3, 4, num_layers=2, batch_first=True, **kw)
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((6, 3))]
    arrays += [rng.standard_normal((2, 4)) for _ in range(2 if kind == "lstm" else 1)]
    _compare(ours, theirs, arrays, np.float64)
    _compare(*_pair(cls, tcls, np.float64, 3, 4, **kw), arrays[:1], np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize(
    "batched,given,bias",
    [(True, True, True), (True, False, False), (False, True, True), (False, False, True)],
)
def test_cell_vs_torch(kind, batched, given, bias, dtype):
    cls, tcls, kw = CELLS[kind]
    ours, theirs = _pair(cls, tcls, dtype, 3, 5, bias=bias, **kw)
    rng = np.random.default_rng(3)
    lead = (4,) if batched else ()
    arrays = [rng.standard_normal(lead + (3,)).astype(dtype)]
    if given:
        arrays += [
            rng.standard_normal(lead + (5,)).astype(dtype)
            for _ in range(2 if kind == "lstm" else 1)
        ]
    _compare(ours, theirs, arrays, dtype)


def test_cell_steps_equal_layer():
    # Running LSTMCell over a sequence gives the LSTM layer's outputs (same weights).
    rng = np.random.default_rng(4)
    layer = LSTM(3, 4, dtype=np.float64)
    cell = LSTMCell(3, 4, dtype=np.float64)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = tg.Tensor(rng.standard_normal((5, 2, 3)))
    out, (h_n, c_n) = layer(x)
    state = None
    for t in range(5):
        state = cell(x[t], state)
        np.testing.assert_allclose(state[0]._array, out._array[t], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(state[1]._array, c_n._array[0], rtol=1e-12, atol=1e-14)


def test_dropout_between_layers():
    # p = 1 drops every output of layer 0, so training output is deterministic: compare with torch.
    ours, theirs = _pair(GRU, torch.nn.GRU, np.float64, 3, 4, num_layers=2, dropout=1.0)
    x = np.random.default_rng(5).standard_normal((4, 2, 3))
    _compare(ours, theirs, [x], np.float64)
    # Eval ignores dropout; a fractional p changes training output but not eval output.
    ours, theirs = _pair(LSTM, torch.nn.LSTM, np.float64, 3, 4, num_layers=2, dropout=0.5)
    ours.eval()
    theirs.eval()
    _compare(ours, theirs, [x], np.float64)
    ours.train()
    y_train = ours(tg.Tensor(x))[0]._array
    assert not np.allclose(y_train, ours.eval()(tg.Tensor(x))[0]._array)


def test_default_init_and_names():
    for cls, tcls, kw in LAYERS.values():
        m = cls(3, 16, num_layers=2, bidirectional=True, **kw)
        t = tcls(3, 16, num_layers=2, bidirectional=True, **kw)
        assert list(m.state_dict()) == list(t.state_dict())
        assert repr(m) == repr(t)
        allv = np.concatenate([p._array.ravel() for p in m.parameters()])
        assert allv.dtype == np.float32
        bound = 1 / math.sqrt(16)
        assert np.abs(allv).max() <= bound
        # U(-k, k) has variance k^2 / 3
        assert abs(allv.var() - bound**2 / 3) < 0.1 * bound**2 / 3
    for cls, tcls, kw in CELLS.values():
        assert repr(cls(3, 5, **kw)) == repr(tcls(3, 5, **kw))
        assert list(cls(3, 5, bias=False).state_dict()) == list(tcls(3, 5, bias=False).state_dict())


def test_lstm_gradgradcheck_and_second_order_vs_torch():
    rng = np.random.default_rng(6)
    ours, theirs = _pair(LSTM, torch.nn.LSTM, np.float64, 2, 2)
    x = rng.standard_normal((3, 1, 2))
    h0, c0 = rng.standard_normal((1, 1, 2)), rng.standard_normal((1, 1, 2))

    def f_tg(x, h0, c0):
        out, (h, c) = ours(x, (h0, c0))
        return out, c

    xs = [tg.Tensor(a, requires_grad=True) for a in (x, h0, c0)]
    assert gradgradcheck(f_tg, xs)
    check_second_order_vs_torch(
        lambda x, h0, c0: (ours(x, (h0, c0))[0] ** 2).sum(),
        lambda x, h0, c0: (theirs(x, (h0, c0))[0] ** 2).sum(),
        [x, h0, c0],
    )


def test_gru_and_rnn_gradgradcheck_including_parameters():
    rng = np.random.default_rng(7)
    gru = GRU(2, 2, dtype=np.float64)
    rnn = RNN(2, 2, dtype=np.float64, batch_first=True)
    x = tg.Tensor(rng.standard_normal((2, 1, 2)), requires_grad=True)
    h0 = tg.Tensor(rng.standard_normal((1, 1, 2)), requires_grad=True)
    # The parameters are passed as inputs too: gradgradcheck perturbs them in place,
    # so the second derivatives with respect to the weights are checked as well.
    assert gradgradcheck(
        lambda x, h0, w, b: gru(x, h0)[0], [x, h0, gru.weight_hh_l0, gru.bias_hh_l0]
    )
    xb = tg.Tensor(rng.standard_normal((1, 2, 2)), requires_grad=True)  # batch first
    assert gradgradcheck(lambda x, h0, w: rnn(x, h0)[1], [xb, h0, rnn.weight_ih_l0])


@pytest.mark.parametrize("kind", list(LAYERS))
def test_create_graph_gradients_and_hessian_vector_product_vs_torch(kind):
    # With create_graph the fused steps evaluate their backward in tapegrad ops;
    # its first-order values and the Hessian-vector product must match torch's.
    cls, tcls, kw = LAYERS[kind]
    ours, theirs = _pair(cls, tcls, np.float64, 2, 3, num_layers=2, **kw)
    rng = np.random.default_rng(8)
    x, h0 = rng.standard_normal((3, 2, 2)), rng.standard_normal((2, 2, 3))
    gy = rng.standard_normal((3, 2, 3))
    hx_tg = lambda h: (h, h * 0.5) if kind == "lstm" else h  # noqa: E731
    xs = [tg.Tensor(a, requires_grad=True) for a in (x, h0)]
    ts = [torch.tensor(a, requires_grad=True) for a in (x, h0)]
    params = list(ours.parameters())
    g_tg = tg.grad(ours(xs[0], hx_tg(xs[1]))[0], xs + params, tg.Tensor(gy), create_graph=True)
    g_t = torch.autograd.grad(
        theirs(ts[0], hx_tg(ts[1]))[0], ts + list(theirs.parameters()), torch.tensor(gy)
    )
    for i, (a, b) in enumerate(zip(g_tg, g_t)):
        assert a.requires_grad
        assert_close(a.data, b, rtol=1e-9, atol=1e-12, what=f"create_graph gradient {i}")
    check_second_order_vs_torch(
        lambda x, h0: (ours(x, hx_tg(h0))[0] ** 2).sum(),
        lambda x, h0: (theirs(x, hx_tg(h0))[0] ** 2).sum(),
        [x, h0],
    )


def test_errors():
    with pytest.raises(ValueError, match=r"LSTM: input of shape \(5, 2, 4\) has 4 features"):
        LSTM(3, 4)(tg.randn(5, 2, 4))
    with pytest.raises(ValueError, match=r"GRU: expected 3-D input \(seq, batch, 3\)"):
        GRU(3, 4)(tg.randn(5, 2, 3, 1))
    with pytest.raises(ValueError, match=r"RNN: expected h_0 of shape \(2, 2, 4\)"):
        RNN(3, 4, num_layers=2)(tg.randn(5, 2, 3), tg.randn(1, 2, 4))
    with pytest.raises(ValueError, match=r"LSTM: expected c_0 of shape \(1, 2, 4\)"):
        LSTM(3, 4)(tg.randn(5, 2, 3), (tg.randn(1, 2, 4), tg.randn(1, 3, 4)))
    with pytest.raises(TypeError, match="LSTM: hx must be a tuple"):
        LSTM(3, 4)(tg.randn(5, 2, 3), tg.randn(1, 2, 4))
    with pytest.raises(ValueError, match="RNN: unknown nonlinearity 'sigmoid'"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"GRUCell: expected input of shape \(batch, 3\)"):
        GRUCell(3, 4)(tg.randn(2, 5))
    with pytest.raises(ValueError, match=r"LSTMCell: expected hidden state of shape \(2, 4\)"):
        LSTMCell(3, 4)(tg.randn(2, 3), (tg.randn(2, 4), tg.randn(2, 5)))
    with pytest.raises(ValueError, match="GRU: expected a sequence of at least one step"):
        GRU(3, 4)(tg.randn(0, 2, 3))
    with pytest.raises(NotImplementedError, match="LSTM: proj_size"):
        LSTM(3, 4, proj_size=2)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_layer_function_vs_torch_cell_loop(reverse, bias):
    # The whole-sequence Function against PyTorch's LSTMCell stepped over time, both
    # directions, all seven inputs (outputs h_n and c_n get their own gradients).
    rng = np.random.default_rng(9)
    t, b, n_in, hs = 6, 3, 4, 5
    shapes = [(t, b, n_in), (4 * hs, n_in), (4 * hs, hs), (b, hs), (b, hs)]
    shapes += [(4 * hs,), (4 * hs,)] if bias else []
    arrays = [rng.standard_normal(s) * 0.7 for s in shapes]

    def torch_layer(x, w_ih, w_hh, h, c, *bs):
        outs = [None] * t
        for k in range(t - 1, -1, -1) if reverse else range(t):
            h, c = torch._VF.lstm_cell(x[k], (h, c), w_ih, w_hh, *(bs or (None, None)))
            outs[k] = h
        return torch.stack(outs), h, c

    xs_tg = [tg.Tensor(a, requires_grad=True) for a in arrays]
    xs_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_tg = lstm_layer(*xs_tg[:5], *xs_tg[5:], reverse=reverse)
    out_t = torch_layer(*xs_t)
    gs = [rng.standard_normal(tuple(o.shape)) for o in out_t]
    for i, (a, o) in enumerate(zip(out_tg, out_t)):
        assert_close(a.data, o, rtol=1e-10, atol=1e-12, what=f"output {i}")
    tg.autograd.backward(list(out_tg), [tg.Tensor(g) for g in gs])
    torch.autograd.backward(out_t, [torch.tensor(g) for g in gs])
    for i, (a, o) in enumerate(zip(xs_tg, xs_t)):
        assert_close(a.grad._array, o.grad, rtol=1e-10, atol=1e-12, what=f"gradient {i}")
    # second order: Hessian-vector products of a scalar of all three outputs
    check_second_order_vs_torch(
        lambda *a: sum((o * o).sum() for o in lstm_layer(*a[:5], *a[5:], reverse=reverse)),
        lambda *a: sum((o * o).sum() for o in torch_layer(*a)),
        arrays,
    )


def test_lstm_layer_gradgradcheck_every_input():
    rng = np.random.default_rng(10)
    shapes = [(3, 2, 2), (8, 2), (8, 2), (2, 2), (2, 2), (8,), (8,)]
    xs = [tg.Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    for reverse in (False, True):
        f = lambda *a, r=reverse: lstm_layer(*a[:5], *a[5:], reverse=r)  # noqa: E731
        assert gradcheck(f, xs)
        assert gradgradcheck(f, xs)


def test_lstm_module_gradgradcheck_with_parameters():
    # Bidirectional, two layers, batch first: second derivatives reach the weights.
    rng = np.random.default_rng(11)
    lstm = LSTM(2, 2, num_layers=2, bidirectional=True, batch_first=True, dtype=np.float64)
    x = tg.Tensor(rng.standard_normal((1, 3, 2)), requires_grad=True)
    params = [lstm.weight_hh_l0_reverse, lstm.bias_ih_l1, lstm.weight_ih_l1]
    assert gradgradcheck(lambda x, *p: lstm(x)[0], [x, *params])


def test_lstm_float32_matches_torch_at_benchmark_size():
    # The float32 path (gates from a tanh of half-scaled inputs) over 28 steps of a batch
    # of 64, as in the benchmark. Sums of 1792 float32 terms round on both sides, so both
    # are held to the float64 result: within 1e-5 of each gradient's largest entry, and
    # no further from it than twice PyTorch's own float32 error.
    rng = np.random.default_rng(12)
    x = rng.standard_normal((64, 28, 28))
    gys = [rng.standard_normal(s) for s in ((64, 28, 128), (1, 64, 128), (1, 64, 128))]
    ref = torch.nn.LSTM(28, 128, batch_first=True, dtype=torch.float64)
    sd = {k: v.detach().numpy() for k, v in ref.state_dict().items()}

    def run(lib, dtype):
        if lib is tg:
            m = LSTM(28, 128, batch_first=True, dtype=dtype)
            m.load_state_dict({k: v.astype(dtype) for k, v in sd.items()})
            out, (h, c) = m(tg.Tensor(x.astype(dtype)))
            tg.autograd.backward([out, h, c], [tg.Tensor(g.astype(dtype)) for g in gys])
            return [out.data] + [p.grad._array for p in m.parameters()]
        m = torch.nn.LSTM(28, 128, batch_first=True, dtype=TORCH_DT[dtype])
        m.load_state_dict({k: torch.tensor(v.astype(dtype)) for k, v in sd.items()})
        out, (h, c) = m(torch.tensor(x.astype(dtype)))
        torch.autograd.backward([out, h, c], [torch.tensor(g.astype(dtype)) for g in gys])
        return [out.detach().numpy()] + [p.grad.numpy() for p in m.parameters()]

    exact = run(torch, np.float64)
    ours, theirs = run(tg, np.float32), run(torch, np.float32)
    for k, (a, b, e) in enumerate(zip(ours, theirs, exact)):
        assert a.dtype == np.float32
        err, err_torch = np.abs(a - e).max(), np.abs(b - e).max()
        assert err <= 1e-5 * np.abs(e).max(), (k, err)
        assert err <= 2 * err_torch + 1e-7, (k, err, err_torch)


def test_lstm_output_changed_in_place_raises_on_backward():
    lstm = LSTM(3, 4, dtype=np.float64)
    out, (h, _) = lstm(tg.randn(5, 2, 3, dtype=tg.float64))
    loss = (h * h).sum()
    out.add_(1.0)  # shares memory with what backward reads
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
