"""Second order through whole models: Hessian-vector products, WGAN-GP, R1.

Each quantity is compared with PyTorch in float64 to 1e-6 and, where cheap, with
finite differences of tapegrad's own first derivatives.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tapegrad as tg
from helpers import assert_close, check_second_order_vs_torch
from tapegrad.autograd import gradcheck

TOL = dict(rtol=1e-6, atol=1e-9)


def _same_grad(a, b, what):
    """Compare gradients where None stands for zeros.

    A penalty on d D / d x does not depend on the last bias at all, and depends
    on the first bias only through LeakyReLU's mask (zero derivative): PyTorch
    then gives None or zeros, tapegrad None.
    """
    a = None if a is None else a.data
    b = None if b is None else b.detach().numpy()
    if a is None or b is None:
        assert not np.any(a if a is not None else 0) and not np.any(b if b is not None else 0), what
        return
    assert_close(a, b, what=what, **TOL)


def _params(rng, sizes):
    """Weights (out, in) and biases (out,) of an MLP with layer sizes ``sizes``."""
    out = []
    for i, o in zip(sizes, sizes[1:]):
        out += [rng.standard_normal((o, i)) / np.sqrt(i), 0.1 * rng.standard_normal(o)]
    return out


def _mlp(lib, act, params, x):
    """Linear layers with ``act`` between them (2 hidden layers for 6 params)."""
    linear = tg.linear if lib is tg else F.linear
    h = x
    for k in range(0, len(params), 2):
        h = linear(h, params[k], params[k + 1])
        if k + 2 < len(params):
            h = getattr(lib, act)(h)
    return h


# ------------------------------------------------------ Hessian-vector products
@pytest.mark.parametrize("act", ["tanh", "sigmoid"])
@pytest.mark.parametrize("loss", ["mse", "bce_logits", "cross_entropy"])
def test_mlp_hessian_vector_product_vs_torch(act, loss):
    rng = np.random.default_rng(0)
    n_out = 3 if loss == "cross_entropy" else 2
    params = _params(rng, [4, 6, 5, n_out])
    x = rng.standard_normal((7, 4))
    y_reg = rng.random((7, n_out))
    y_cls = rng.integers(0, n_out, 7)

    def f(lib):
        def fn(x, *ps):
            out = _mlp(lib, act, ps, x)
            if loss == "mse":
                return (tg.mse_loss if lib is tg else F.mse_loss)(out, lib.tensor(y_reg))
            if loss == "bce_logits":
                bce = tg.binary_cross_entropy_with_logits
                return (bce if lib is tg else F.binary_cross_entropy_with_logits)(
                    out, lib.tensor(y_reg)
                )
            ce = tg.cross_entropy if lib is tg else F.cross_entropy
            return ce(out, lib.tensor(y_cls), label_smoothing=0.1)

        return fn

    # the Hessian of the loss with respect to the input and every parameter, times v
    check_second_order_vs_torch(f(tg), f(torch), [x] + params, **TOL)


def test_hessian_vector_product_matches_finite_differences_of_gradient():
    rng = np.random.default_rng(1)
    params = [tg.Tensor(a, requires_grad=True) for a in _params(rng, [3, 5, 4, 1])]
    x = tg.Tensor(rng.standard_normal((6, 3)))
    y = tg.Tensor(rng.standard_normal((6, 1)))
    vs = [rng.standard_normal(p.shape) for p in params]

    def grads(ps):
        return tg.grad(tg.mse_loss(_mlp(tg, "tanh", ps, x), y), ps, create_graph=True)

    gs = grads(params)
    hv = tg.grad(sum((g * tg.Tensor(v)).sum() for g, v in zip(gs, vs)), params)
    eps = 1e-6
    plus = [tg.Tensor(p._array + eps * v, requires_grad=True) for p, v in zip(params, vs)]
    minus = [tg.Tensor(p._array - eps * v, requires_grad=True) for p, v in zip(params, vs)]
    for h, gp, gm in zip(hv, grads(plus), grads(minus)):
        np.testing.assert_allclose(
            h._array, (gp._array - gm._array) / (2 * eps), rtol=1e-5, atol=1e-8
        )


# ----------------------------------------------------------------- WGAN-GP
def _critic_weights(seed=2):
    rng = np.random.default_rng(seed)
    return [
        rng.standard_normal((8, 4)) * 0.5,
        rng.standard_normal(8) * 0.1,
        rng.standard_normal((1, 8)) * 0.5,
        rng.standard_normal(1) * 0.1,
    ]


def _critic(lib, ws, x, act="leaky_relu"):
    """Linear(4 -> 8) -> LeakyReLU(0.2) (or tanh) -> Linear(8 -> 1)."""
    if lib is tg:
        h = tg.linear(x, ws[0], ws[1])
        h = tg.leaky_relu(h, 0.2) if act == "leaky_relu" else tg.tanh(h)
        return tg.linear(h, ws[2], ws[3])
    h = F.linear(x, ws[0], ws[1])
    h = F.leaky_relu(h, 0.2) if act == "leaky_relu" else torch.tanh(h)
    return F.linear(h, ws[2], ws[3])


def _gradient_penalty(lib, ws, real, fake, eps):
    """10 * mean((||d D(x_hat) / d x_hat||_2 - 1)^2), x_hat between real and fake."""
    x_hat = eps * real + (1 - eps) * fake
    x_hat = x_hat.requires_grad_(True) if lib is torch else tg.Tensor(x_hat._array, True)
    d = _critic(lib, ws, x_hat)
    grad = tg.grad if lib is tg else torch.autograd.grad
    (g,) = grad(d, [x_hat], lib.ones_like(d), create_graph=True)
    norm = ((g * g).sum(1) + 1e-12).sqrt()
    return ((norm - 1.0) ** 2).mean() * 10.0


def _wgan_data(seed=3, n=16):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)) + 1.0, rng.standard_normal((n, 4)), rng.random((n, 1))


def test_wgan_gp_penalty_gradient_vs_torch():
    real, fake, eps = _wgan_data()
    w_np = _critic_weights()
    ws_tg = [tg.Tensor(w, requires_grad=True) for w in w_np]
    ws_t = [torch.tensor(w, requires_grad=True) for w in w_np]
    gp_tg = _gradient_penalty(tg, ws_tg, *(tg.Tensor(a) for a in (real, fake, eps)))
    gp_t = _gradient_penalty(torch, ws_t, *(torch.tensor(a) for a in (real, fake, eps)))
    assert_close(gp_tg._array, gp_t, what="penalty", **TOL)
    # the critic's whole WGAN-GP loss, as a training step would back-propagate it
    loss_tg = (
        _critic(tg, ws_tg, tg.Tensor(fake)).mean()
        - _critic(tg, ws_tg, tg.Tensor(real)).mean()
        + gp_tg
    )
    loss_t = (
        _critic(torch, ws_t, torch.tensor(fake)).mean()
        - _critic(torch, ws_t, torch.tensor(real)).mean()
        + gp_t
    )
    gs_tg = tg.grad(gp_tg, ws_tg, retain_graph=True, allow_unused=True)
    gs_t = torch.autograd.grad(gp_t, ws_t, retain_graph=True, allow_unused=True)
    for i, (a, b) in enumerate(zip(gs_tg, gs_t)):
        _same_grad(a, b, f"d penalty / d weight {i}")
    loss_tg.backward()
    loss_t.backward()
    for i, (a, b) in enumerate(zip(ws_tg, ws_t)):
        assert_close(a.grad._array, b.grad, what=f"d critic loss / d weight {i}", **TOL)


def test_wgan_gp_penalty_gradient_matches_finite_differences():
    real, fake, eps = (tg.Tensor(a) for a in _wgan_data(n=5))
    ws = [tg.Tensor(w, requires_grad=True) for w in _critic_weights()]

    def penalty(*w):
        with tg.enable_grad():  # gradcheck evaluates under no_grad; the penalty needs a graph
            return _gradient_penalty(tg, w, real, fake, eps)

    assert gradcheck(penalty, ws, atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------------- R1
def _r1(lib, ws, real, act, gamma=10.0):
    """gamma / 2 * mean(||d D(x) / d x||^2) on real data."""
    x = torch.tensor(real, requires_grad=True) if lib is torch else tg.Tensor(real, True)
    d = _critic(lib, ws, x, act)
    grad = tg.grad if lib is tg else torch.autograd.grad
    (g,) = grad(d.sum(), [x], create_graph=True)
    return (g * g).sum(1).mean() * (gamma / 2)


@pytest.mark.parametrize("act", ["leaky_relu", "tanh"])
def test_r1_penalty_gradient_vs_torch(act):
    real, _, _ = _wgan_data(seed=4)
    w_np = _critic_weights(5)
    ws_tg = [tg.Tensor(w, requires_grad=True) for w in w_np]
    ws_t = [torch.tensor(w, requires_grad=True) for w in w_np]
    r_tg, r_t = _r1(tg, ws_tg, real, act), _r1(torch, ws_t, real, act)
    assert_close(r_tg._array, r_t, what="R1", **TOL)
    r_tg.backward()
    r_t.backward()
    for i, (a, b) in enumerate(zip(ws_tg, ws_t)):
        _same_grad(a.grad, b.grad, f"d R1 / d weight {i}")
