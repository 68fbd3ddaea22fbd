"""Spectral normalisation against ``torch.nn.utils.spectral_norm`` on the same weights and u, v."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tapegrad as tg
from tapegrad.nn.utils import remove_spectral_norm, spectral_norm


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Torch's tiny float64 convolutions run ~100x slower with 2 threads on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-5)}


def _layers(kind: str):
    """A tapegrad layer, its torch twin, and a function making an input array."""
    if kind == "linear":
        return tg.nn.Linear(6, 4), torch.nn.Linear(6, 4), lambda r: r.standard_normal((3, 6))
    if kind == "conv":
        return (
            tg.nn.Conv2d(3, 5, 3, padding=1),
            torch.nn.Conv2d(3, 5, 3, padding=1),
            lambda r: r.standard_normal((2, 3, 5, 5)),
        )
    if kind == "convT":
        return (
            tg.nn.ConvTranspose2d(3, 5, 4, 2, 1),
            torch.nn.ConvTranspose2d(3, 5, 4, 2, 1),
            lambda r: r.standard_normal((2, 3, 3, 3)),
        )
    if kind == "embedding":
        return tg.nn.Embedding(7, 5), torch.nn.Embedding(7, 5), lambda r: r.integers(0, 7, (4, 3))
    raise AssertionError(kind)


def _twins(kind: str, dtype, n_power_iterations: int = 1, dim: int | None = None):
    m, t, make_x = _layers(kind)
    m.to(dtype)
    t.to(torch.float64 if dtype == np.float64 else torch.float32)
    t.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in m.state_dict().items()})
    spectral_norm(m, n_power_iterations=n_power_iterations, dim=dim)
    torch.nn.utils.spectral_norm(t, n_power_iterations=n_power_iterations, dim=dim)
    with torch.no_grad():  # the same starting u, v in both
        t.weight_u.copy_(torch.from_numpy(m.weight_u.numpy().copy()))
        t.weight_v.copy_(torch.from_numpy(m.weight_v.numpy().copy()))
    return m, t, make_x


def _matrix(w: np.ndarray, dim: int) -> np.ndarray:
    w = np.moveaxis(w, dim, 0)
    return w.reshape(w.shape[0], -1)


def _close(a, b, dtype, what):
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    np.testing.assert_allclose(np.asarray(a), b, err_msg=what, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["linear", "conv", "convT", "embedding"])
@pytest.mark.parametrize("n_iter", [1, 3])
def test_training_forwards_match_torch(kind, dtype, n_iter):
    m, t, make_x = _twins(kind, dtype, n_iter)
    dim = 1 if kind == "convT" else 0
    rng = np.random.default_rng(0)
    for step in range(4):
        x = make_x(rng)
        if x.dtype.kind == "f":
            x = x.astype(dtype)
        xt = torch.from_numpy(x.copy())
        xg = tg.Tensor(x)
        if x.dtype.kind == "f":
            xt.requires_grad_(True)
            xg.requires_grad_(True)
        y, yt = m(xg), t(xt)
        _close(y._array, yt, dtype, f"output, step {step}")
        _close(m.weight_u.data, t.weight_u, dtype, f"u, step {step}")
        _close(m.weight_v.data, t.weight_v, dtype, f"v, step {step}")
        # sigma as the forward used it: u^T W v from the updated buffers
        w = m.weight_orig._array
        sig = m.weight_u._array @ _matrix(w, dim) @ m.weight_v._array
        wt = t.weight_orig.detach().numpy()
        sig_t = t.weight_u.numpy() @ _matrix(wt, dim) @ t.weight_v.numpy()
        _close(sig, sig_t, dtype, f"sigma, step {step}")
        _close(m.weight.data, t.weight, dtype, f"normalised weight, step {step}")
        _close(w / sig, t.weight, dtype, f"weight_orig / sigma, step {step}")
        gy = rng.standard_normal(y.shape).astype(dtype)
        y.backward(tg.Tensor(gy))
        yt.backward(torch.from_numpy(gy))
        _close(m.weight_orig.grad._array, t.weight_orig.grad, dtype, f"grad weight_orig {step}")
        if kind != "embedding":
            _close(m.bias.grad._array, t.bias.grad, dtype, f"grad bias, step {step}")
            _close(xg.grad._array, xt.grad, dtype, f"grad input, step {step}")
        # an SGD step on both, so that the power iteration keeps chasing a moving W
        with torch.no_grad():
            for p, q in zip(m.parameters(), t.parameters()):
                p._array -= 0.1 * p.grad._array
                q -= 0.1 * q.grad
                p.grad, q.grad = None, None


@pytest.mark.parametrize("kind", ["linear", "convT"])
def test_eval_reuses_u_v(kind):
    m, t, make_x = _twins(kind, np.float64)
    rng = np.random.default_rng(1)
    x = make_x(rng)
    m(tg.Tensor(x))  # one training step moves u, v
    t(torch.from_numpy(x))
    m.eval()
    t.eval()
    u0, v0 = m.weight_u.numpy().copy(), m.weight_v.numpy().copy()
    for _ in range(2):
        x = make_x(rng)
        _close(m(tg.Tensor(x))._array, t(torch.from_numpy(x)), np.float64, "eval output")
    np.testing.assert_array_equal(m.weight_u.numpy(), u0)
    np.testing.assert_array_equal(m.weight_v.numpy(), v0)
    _close(m.weight_u.data, t.weight_u, np.float64, "u")


def test_u_v_buffers_updated_in_place():
    m = spectral_norm(tg.nn.Linear(5, 3))
    u, v = m.weight_u, m.weight_v
    u_arr = u._array
    before = u_arr.copy()
    m(tg.randn(2, 5))
    assert m.weight_u is u and m.weight_v is v and m.weight_u._array is u_arr
    assert not np.array_equal(u_arr, before)
    assert not u.requires_grad and not v.requires_grad


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_double_backward_through_sigma_matches_torch(kind):
    """A gradient penalty through a normalised layer: d/dW ||d out / d x||^2."""
    m, t, make_x = _twins(kind, np.float64)
    rng = np.random.default_rng(2)
    x = make_x(rng)
    xg = tg.Tensor(x, requires_grad=True)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    y, yt = m(xg), t(xt)
    v = rng.standard_normal(y.shape)
    (g,) = tg.grad((y * tg.Tensor(v)).tanh().sum(), xg, create_graph=True)
    (gt,) = torch.autograd.grad((yt * torch.from_numpy(v)).tanh().sum(), xt, create_graph=True)
    (g * g).sum().backward()
    (gt * gt).sum().backward()
    _close(m.weight_orig.grad._array, t.weight_orig.grad, np.float64, "second-order grad")
    _close(m.bias.grad._array, t.bias.grad, np.float64, "second-order grad bias")


def test_dim_default_and_explicit():
    ct = spectral_norm(tg.nn.ConvTranspose2d(3, 5, 4))
    assert ct.weight_u.shape == (5,) and ct.weight_v.shape == (3 * 16,)
    c = spectral_norm(tg.nn.Conv2d(3, 5, 4))
    assert c.weight_u.shape == (5,) and c.weight_v.shape == (3 * 16,)
    c1 = spectral_norm(tg.nn.Conv2d(3, 5, 4), dim=1)
    assert c1.weight_u.shape == (3,) and c1.weight_v.shape == (5 * 16,)
    m, t, make_x = _twins("conv", np.float64, dim=1)
    x = make_x(np.random.default_rng(3))
    for _ in range(2):
        _close(m(tg.Tensor(x))._array, t(torch.from_numpy(x)), np.float64, "dim=1 output")
    _close(m.weight_v.data, t.weight_v, np.float64, "dim=1 v")


def test_state_dict_keys_and_load_from_torch():
    for kind in ("linear", "conv", "convT"):
        m, t, make_x = _twins(kind, np.float64)
        assert list(m.state_dict()) == list(t.state_dict())
        assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
        t(torch.from_numpy(make_x(np.random.default_rng(4))))  # torch's u, v move on
        m.load_state_dict(t.state_dict())
        _close(m.weight_u.data, t.weight_u, np.float64, f"{kind}: loaded u")
        m.eval()
        t.eval()
        x = make_x(np.random.default_rng(5))
        _close(m(tg.Tensor(x))._array, t(torch.from_numpy(x)), np.float64, f"{kind}: after load")


def test_remove_spectral_norm_matches_torch():
    m, t, make_x = _twins("linear", np.float64)
    x = make_x(np.random.default_rng(6))
    m(tg.Tensor(x))
    t(torch.from_numpy(x))
    remove_spectral_norm(m)
    torch.nn.utils.remove_spectral_norm(t)
    assert list(m.state_dict()) == list(t.state_dict()) == ["bias", "weight"]
    assert isinstance(m.weight, tg.nn.Parameter)
    _close(m.weight.data, t.weight, np.float64, "weight after remove")
    assert not m._forward_pre_hooks
    before = m.weight._array.copy()
    m(tg.Tensor(x))  # no normalisation any more: the weight does not change
    np.testing.assert_array_equal(m.weight.data, before)


def test_errors():
    m = spectral_norm(tg.nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="two spectral_norm hooks.*'weight'"):
        spectral_norm(m)
    with pytest.raises(ValueError, match="spectral_norm of 'bias' not found in Linear"):
        remove_spectral_norm(m, "bias")
    with pytest.raises(ValueError, match="Linear has no parameter 'kernel'"):
        spectral_norm(tg.nn.Linear(3, 2), name="kernel")
    with pytest.raises(ValueError, match="n_power_iterations"):
        spectral_norm(tg.nn.Linear(3, 2), n_power_iterations=-1)
    with pytest.raises(ValueError, match="dim 4 is out of range.*\\(5, 3, 2, 2\\)"):
        spectral_norm(tg.nn.Conv2d(3, 5, 2), dim=4)
    # a bias-only spectral norm is allowed (a 1-D "matrix", sigma = |b|)
    b = spectral_norm(tg.nn.Linear(3, 2), name="bias")
    out = b(tg.randn(4, 3))
    np.testing.assert_allclose(np.linalg.norm(b.bias.data), 1.0, rtol=1e-5)
    assert out.shape == (4, 2)


def test_sigma_converges_to_top_singular_value():
    m = spectral_norm(tg.nn.Linear(8, 6).double(), n_power_iterations=50)
    m(tg.randn(2, 8).double())
    top = np.linalg.svd(m.weight_orig.data, compute_uv=False)[0]
    sig = m.weight_u.numpy() @ m.weight_orig.data @ m.weight_v.numpy()
    np.testing.assert_allclose(sig, top, rtol=1e-8)
    np.testing.assert_allclose(np.linalg.svd(m.weight.data, compute_uv=False)[0], 1.0, 1e-8)
