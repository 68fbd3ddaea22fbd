"""GAN losses and penalties against PyTorch formulas written here, on the same D weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tapegrad as tg
from tapegrad.gan import (
    LOSSES,
    DCGANDiscriminator,
    MLPDiscriminator,
    clip_weights_,
    get_loss,
    gradient_penalty,
    r1_penalty,
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Torch's tiny float64 convolutions run ~100x slower with 2 threads on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


TOL = {np.float64: dict(rtol=1e-6, atol=1e-9), np.float32: dict(rtol=1e-4, atol=1e-5)}


# ------------------------------------------------------------------ torch mirrors
class TorchMLPD(torch.nn.Module):
    def __init__(self, n_in: int, hidden=(5, 4)):
        super().__init__()
        layers, d = [], n_in
        for h in hidden:
            layers += [torch.nn.Linear(d, h), torch.nn.LeakyReLU(0.2)]
            d = h
        self.features = torch.nn.Sequential(*layers)
        self.head = torch.nn.Linear(d, 1)

    def forward(self, x):
        return self.head(self.features(x.reshape(x.shape[0], -1)))


class TorchConvD(torch.nn.Module):
    """DCGANDiscriminator((1, 16, 16), ndf=2, batch_norm=False)."""

    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 2, 4, 2, 1),
            torch.nn.LeakyReLU(0.2),
            torch.nn.Conv2d(2, 4, 4, 2, 1),
            torch.nn.LeakyReLU(0.2),
        )
        self.head = torch.nn.Conv2d(4, 1, 4, 1, 0)

    def forward(self, x):
        return self.head(self.features(x)).reshape(x.shape[0], 1)


def _pair(kind: str, dtype):
    """(tapegrad D, torch D with the same weights, sample shape)."""
    if kind == "mlp":
        shape = (2, 3, 3)
        d = MLPDiscriminator(shape, hidden=(5, 4))
        t = TorchMLPD(18)
    elif kind == "smooth":  # an input gradient that depends on the input
        shape = (4,)
        d = tg.nn.Sequential(tg.nn.Linear(4, 6), tg.nn.Tanh(), tg.nn.Linear(6, 1))
        t = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1))
    else:
        shape = (1, 16, 16)
        d = DCGANDiscriminator(shape, ndf=2, batch_norm=False, init_weights=False)
        t = TorchConvD()
    d.to(dtype)
    t.to(torch.float64 if dtype == np.float64 else torch.float32)
    t.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in d.state_dict().items()})
    return d, t, shape


def _close(a, b, dtype, what):
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    np.testing.assert_allclose(np.asarray(a), b, err_msg=what, **TOL[dtype])


def _compare_grads(d, t, xs_tg, xs_t, dtype, what):
    for (name, p), (tname, q) in zip(d.named_parameters(), t.named_parameters()):
        assert name == tname
        # a parameter the loss does not reach (e.g. the head's bias in a penalty) may
        # have no gradient at all, in either framework: then the other's must be zero
        a = np.zeros(p.shape) if p.grad is None else p.grad._array
        b = np.zeros(q.shape) if q.grad is None else q.grad
        _close(a, b, dtype, f"{what}: grad of {name}")
    for i, (x, y) in enumerate(zip(xs_tg, xs_t)):
        a = np.zeros(x.shape) if x.grad is None else x.grad._array
        b = np.zeros(y.shape) if y.grad is None else y.grad
        _close(a, b, dtype, f"{what}: grad of input {i}")


# The formulas, written independently of tapegrad's (probabilities through sigmoid).
TORCH_D = {
    "minimax": lambda r, f: (
        F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
        + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))
    ),
    "ns": lambda r, f: -torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean(),
    "wgan": lambda r, f: f.mean() - r.mean(),
    "wgan-gp": lambda r, f: f.mean() - r.mean(),
    "lsgan": lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean(),
    "hinge": lambda r, f: torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean(),
}
TORCH_G = {
    "minimax": lambda f: torch.log(1 - torch.sigmoid(f)).mean(),
    "ns": lambda f: -torch.log(torch.sigmoid(f)).mean(),
    "wgan": lambda f: -f.mean(),
    "wgan-gp": lambda f: -f.mean(),
    "lsgan": lambda f: 0.5 * ((f - 1) ** 2).mean(),
    "hinge": lambda f: -f.mean(),
}


def _inputs(shape, n, dtype, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    arrs = [(rng.standard_normal((n,) + shape) * scale).astype(dtype) for _ in range(2)]
    xs_tg = [tg.Tensor(a.copy(), requires_grad=True) for a in arrs]
    xs_t = [torch.from_numpy(a.copy()).requires_grad_(True) for a in arrs]
    return xs_tg, xs_t


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["mlp", "conv"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_d_loss_matches_torch(name, kind, dtype):
    d, t, shape = _pair(kind, dtype)
    # scale the inputs so that some hinge terms are active and some are not
    (xr, xf), (tr, tf) = _inputs(shape, 6, dtype, seed=1, scale=30.0 if kind == "mlp" else 20.0)
    loss = get_loss(name).d_loss(d(xr), d(xf))
    ref = TORCH_D[name](t(tr), t(tf))
    assert loss.shape == () and loss.dtype == dtype
    _close(loss._array, ref, dtype, f"{name} d_loss value")
    loss.backward()
    ref.backward()
    _compare_grads(d, t, [xr, xf], [tr, tf], dtype, f"{name} d_loss")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["mlp", "conv"])
@pytest.mark.parametrize("name", list(LOSSES))
def test_g_loss_matches_torch(name, kind, dtype):
    d, t, shape = _pair(kind, dtype)
    (_, xf), (_, tf) = _inputs(shape, 5, dtype, seed=2, scale=30.0 if kind == "mlp" else 20.0)
    loss = get_loss(name).g_loss(d(xf))
    ref = TORCH_G[name](t(tf))
    assert loss.shape == () and loss.dtype == dtype
    _close(loss._array, ref, dtype, f"{name} g_loss value")
    loss.backward()
    ref.backward()
    _compare_grads(d, t, [xf], [tf], dtype, f"{name} g_loss")


def test_hinge_has_active_and_inactive_terms():
    """The hinge test above must exercise both sides of relu (else it proves little)."""
    d, _, shape = _pair("mlp", np.float64)
    (xr, xf), _ = _inputs(shape, 6, np.float64, seed=1, scale=30.0)
    r, f = d(xr)._array, d(xf)._array
    both = np.concatenate([1 - r, 1 + f]).ravel()
    assert (both > 0).any() and (both < 0).any()


def test_probabilistic_losses_stable_for_large_logits():
    big = tg.Tensor(np.array([[60.0], [-80.0], [200.0]], dtype=np.float32), requires_grad=True)
    for name in ("minimax", "ns"):
        loss = get_loss(name)
        vals = [loss.d_loss(big, -big), loss.g_loss(big), loss.g_loss(-big)]
        for v in vals:
            assert np.isfinite(v.item())
    # softplus(x) = x for large x: D's loss on (real=-80) is 80 per element
    one = tg.Tensor(np.array([[-80.0]]))
    np.testing.assert_allclose(get_loss("ns").d_loss(one, -one).item(), 160.0, rtol=1e-12)
    g = tg.grad(get_loss("ns").g_loss(big), big)[0]
    np.testing.assert_allclose(g._array.ravel(), [0.0, -1 / 3, 0.0], atol=1e-7)


def test_minimax_and_ns_share_d_and_differ_in_g():
    f = tg.Tensor(np.array([[-3.0], [0.5]]), requires_grad=True)
    p = 1 / (1 + np.exp(-f._array))
    (gm,) = tg.grad(get_loss("minimax").g_loss(f), f)
    (gn,) = tg.grad(get_loss("ns").g_loss(f), f)
    # d/dl mean log(1 - sigmoid(l)) = -p / n; d/dl -mean log sigmoid(l) = -(1 - p) / n
    np.testing.assert_allclose(gm._array, -p / 2, rtol=1e-12)
    np.testing.assert_allclose(gn._array, -(1 - p) / 2, rtol=1e-12)
    assert get_loss("minimax").d_loss is get_loss("ns").d_loss


# ------------------------------------------------------------------ penalties
def _torch_gp(t, real, fake, eps, lam):
    x = eps * real + (1 - eps) * fake
    if not x.requires_grad:
        x.requires_grad_(True)
    (g,) = torch.autograd.grad(t(x).sum(), x, create_graph=True)
    return lam * ((g.reshape(g.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()


def _torch_r1(t, real, gamma):
    if not real.requires_grad:
        real = real.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(t(real).sum(), real, create_graph=True)
    return gamma / 2 * (g.reshape(g.shape[0], -1) ** 2).sum(1).mean()


@pytest.mark.parametrize("kind", ["mlp", "conv", "smooth"])
@pytest.mark.parametrize("inputs_need_grad", [True, False])
def test_gradient_penalty_matches_torch(kind, inputs_need_grad):
    """Value, gradient w.r.t. D's weights (a double backward) and w.r.t. real and fake."""
    dtype = np.float64
    d, t, shape = _pair(kind, dtype)
    (xr, xf), (tr, tf) = _inputs(shape, 4, dtype, seed=3)
    if not inputs_need_grad:
        xr, xf = xr.detach(), xf.detach()
        tr, tf = tr.detach(), tf.detach()
    eps = np.random.default_rng(7).random((4,) + (1,) * len(shape))
    gp = gradient_penalty(d, xr, xf, lambda_=3.5, generator=np.random.default_rng(7))
    ref = _torch_gp(t, tr, tf, torch.from_numpy(eps), 3.5)
    assert gp.shape == () and gp.dtype == dtype
    _close(gp._array, ref, dtype, "gp value")
    gp.backward()
    ref.backward()
    if inputs_need_grad:
        _compare_grads(d, t, [xr, xf], [tr, tf], dtype, "gp")
        if kind == "smooth":  # piecewise-linear D's have a zero gradient here
            assert np.abs(xr.grad._array).max() > 1e-3 and np.abs(xf.grad._array).max() > 1e-3
    else:
        _compare_grads(d, t, [], [], dtype, "gp")
    # the same eps passed explicitly gives the same penalty
    gp2 = gradient_penalty(d, xr.detach(), xf.detach(), lambda_=3.5, eps=eps)
    _close(gp2._array, ref, dtype, "gp with explicit eps")


@pytest.mark.parametrize("kind", ["mlp", "conv", "smooth"])
def test_r1_penalty_matches_torch(kind):
    dtype = np.float64
    d, t, shape = _pair(kind, dtype)
    (xr, _), (tr, _) = _inputs(shape, 4, dtype, seed=4)
    r1 = r1_penalty(d, xr.detach(), gamma=2.5)
    ref = _torch_r1(t, tr.detach(), 2.5)
    _close(r1._array, ref, dtype, "r1 value")
    r1.backward()
    ref.backward()
    _compare_grads(d, t, [], [], dtype, "r1")
    # reusing D(real) from the loss step, with real requiring grad: also d/d real
    d.zero_grad()
    t.zero_grad()
    out = d(xr)
    loss = get_loss("ns").d_loss(out, out * 0.5) + r1_penalty(None, xr, 2.5, real_out=out)
    tout = t(tr)
    (g,) = torch.autograd.grad(tout.sum(), tr, create_graph=True)
    tloss = TORCH_D["ns"](tout, tout * 0.5) + 1.25 * (g.reshape(4, -1) ** 2).sum(1).mean()
    _close(loss._array, tloss, dtype, "ns + r1 value")
    loss.backward()
    tloss.backward()
    _compare_grads(d, t, [xr], [tr], dtype, "ns + r1")


def test_penalties_on_a_linear_critic_match_closed_forms():
    """For D(x) = w.x + b the input gradient is w everywhere."""
    lin = tg.nn.Linear(5, 1).double()
    w = lin.weight._array.ravel()
    x = tg.randn(7, 5).double()
    gp = gradient_penalty(lin, x, tg.randn(7, 5).double(), lambda_=10.0)
    np.testing.assert_allclose(gp.item(), 10.0 * (np.linalg.norm(w) - 1) ** 2, rtol=1e-12)
    np.testing.assert_allclose(r1_penalty(lin, x, gamma=4.0).item(), 2.0 * w @ w, rtol=1e-12)
    lin.weight.data[...] = w / np.linalg.norm(w)
    assert abs(gradient_penalty(lin, x, x * 2.0).item()) < 1e-20  # a 1-Lipschitz critic


def test_penalty_errors():
    lin = tg.nn.Linear(3, 1)
    with pytest.raises(ValueError, match=r"gradient_penalty: real \(4, 3\) and fake \(5, 3\)"):
        gradient_penalty(lin, tg.randn(4, 3), tg.randn(5, 3))
    with pytest.raises(ValueError, match="r1_penalty: real_out was given"):
        r1_penalty(None, tg.randn(4, 3), real_out=lin(tg.randn(4, 3)))
    with pytest.raises(ValueError, match="r1_penalty: pass D"):
        r1_penalty(None, tg.randn(4, 3))


def test_float32_penalty_stays_float32():
    lin = tg.nn.Linear(3, 1)
    x = tg.randn(4, 3)
    assert gradient_penalty(lin, x, tg.randn(4, 3)).dtype == np.float32
    assert r1_penalty(lin, x).dtype == np.float32


# ------------------------------------------------------------------ clipping, registry
def test_clip_weights():
    d = MLPDiscriminator((6,), hidden=(8,))
    before = {n: p._array.copy() for n, p in d.named_parameters()}
    clip_weights_(d, 0.1)
    for n, p in d.named_parameters():
        assert p._array.max() <= 0.1 and p._array.min() >= -0.1
        np.testing.assert_array_equal(p._array, np.clip(before[n], -0.1, 0.1))
    with pytest.raises(ValueError, match="clip_weights_: .* positive, got 0"):
        clip_weights_(d, 0)


def test_registry():
    assert list(LOSSES) == ["minimax", "ns", "wgan", "wgan-gp", "lsgan", "hinge"]
    assert get_loss("wgan").clip == 0.01 and get_loss("wgan").penalty is None
    assert get_loss("wgan-gp").penalty == "gp" and get_loss("wgan-gp").lambda_ == 10.0
    assert get_loss("hinge").name == "hinge" and "hinge" in repr(get_loss("hinge"))
    with pytest.raises(ValueError, match="unknown GAN loss 'bce'.*minimax, ns, wgan, wgan-gp"):
        get_loss("bce")
    with pytest.raises(TypeError, match="ns_g_loss"):
        get_loss("ns").g_loss(np.zeros((3, 1)))
