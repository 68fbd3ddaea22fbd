"""The tutorials' examples, corrected (examples/seeds/): every number checked independently.

Each hand-written gradient is compared with PyTorch's autograd (float64) and/or
finite differences; training runs are checked against closed-form theory
(gradient descent on a quadratic), least squares, known entropies, or simply
against chance. Settings are small so the whole file runs in well under a minute.
"""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import tapegrad as tg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "seeds"))
import demo_backprop_vs_gd as dbg  # noqa: E402
import demo_gan_vs_vae as dgv  # noqa: E402
import demo_learning_rate as dlr  # noqa: E402
import demo_vanishing_exploding as dve  # noqa: E402
import e01_linear_regression as e01  # noqa: E402
import e02_mnist_gan as e02  # noqa: E402
import e03_cnn as e03  # noqa: E402
import e04_dcgan as e04  # noqa: E402
import e05_worked_example as e05  # noqa: E402
import e06_keras_style_mlp as e06  # noqa: E402
import e07_linear_layer as e07  # noqa: E402
import e08_e10_sigmoid_mlp as e08  # noqa: E402
import e11_linear_regression_backprop as e11  # noqa: E402
import e12_logistic_regression as e12  # noqa: E402
import e13_small_cnn as e13  # noqa: E402
import e14_rnn_lstm_bptt as e14  # noqa: E402
import e15_numpy_gan as e15  # noqa: E402
import seedutil  # noqa: E402

RNG = np.random.default_rng(1234)


def T(a, grad=True):
    """A float64 torch leaf from a NumPy array."""
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


# ---------------------------------------------------------------- E1
def test_e01_hand_gradient_matches_torch_and_tapegrad():
    w, b = RNG.standard_normal(1), RNG.standard_normal(1)
    loss, dw, db = e01.loss_and_grad(w, b)
    wt, bt = T(w), T(b)
    lt = ((torch.tensor(e01.X) @ wt + bt - torch.tensor(e01.Y)) ** 2).mean()
    lt.backward()
    close(loss, lt.item())
    close(dw, wt.grad.numpy())
    close(db, bt.grad.numpy())
    _, gw, gb = e01.autograd_grad(w, b)
    close(gw, dw)
    close(gb, db)


def test_e01_article_gradient_is_the_negated_sum():
    # the article's dw is -n times the true mean gradient, its db the true db negated
    w, b = RNG.standard_normal(1), RNG.standard_normal(1)
    _, dw, db = e01.loss_and_grad(w, b)
    _, aw, ab = e01.article_grad(w, b)
    close(aw, -len(e01.Y) * dw)
    close(ab, -db)


def test_e01_training_follows_gradient_descent_theory():
    lr, epochs = 0.01, 3000
    r = e01.train(epochs, lr, seed=3, check_every=300)
    # GD on a quadratic: e_k = (I - lr H)^k e_0 with H = 2/n A^T A, optimum (w, b) = (1, 0)
    a = np.hstack([e01.X, np.ones((5, 1))])
    h = 2.0 / 5 * a.T @ a
    e = np.linalg.matrix_power(np.eye(2) - lr * h, epochs) @ np.array([r["w0"] - 1.0, r["b0"]])
    close([r["w"], r["b"]], [1.0 + e[0], e[1]], tol=1e-9)
    assert abs(r["w"] - 1) < 1e-3 and abs(r["b"]) < 1e-3
    assert r["max_grad_diff"] < 1e-12


def test_e01_article_update_diverges():
    r = e01.train(200, 0.01, seed=3, gradient="article")
    assert r["diverged"] and r["losses"][-1] > 1e6 * r["losses"][0]


# ---------------------------------------------------------------- E5
def _torch_e05(p, output):
    t = {k: T(v) for k, v in p.items()}
    a0 = torch.sigmoid(t["w0"] * torch.tensor(e05.X) + t["b0"])
    a1 = torch.sigmoid(t["W1"] @ a0 + t["b1"])
    z2 = t["W2"] @ a1 + t["b2"]
    y_hat = z2 if output == "linear" else torch.sigmoid(z2)
    c = (0.5 * (e05.Y - y_hat) ** 2).sum()
    c.backward()
    return c.item(), {k: v.grad.numpy() for k, v in t.items()}


def test_e05_corrected_sigmoid_values():
    assert round(1 / (1 + math.exp(-0.2)), 4) == 0.5498
    assert round(1 / (1 + math.exp(-0.6)), 4) == 0.6457
    f = e05.forward(e05.initial_params())
    close(f["z0"], [0.2, 0.6], tol=1e-12)  # the tutorial's first line
    close(f["a0"], [1 / (1 + math.exp(-z)) for z in (0.2, 0.6)], tol=1e-12)


@pytest.mark.parametrize("output", ["linear", "sigmoid"])
def test_e05_every_gradient_and_update_matches_torch(output):
    p = e05.initial_params()
    h = e05.backward(p, output=output)
    c, g = _torch_e05(p, output)
    close(h["C"], c, tol=1e-12)
    for k in p:
        close(h["grads"][k], g[k], tol=1e-12)
    new = e05.sgd_update(p, h["grads"])
    for k in p:
        close(new[k], p[k] - e05.LR * g[k], tol=1e-12)
    r = e05.train(3, output)
    assert r["costs"][-1] < r["costs"][0]


def test_e05_sigmoid_output_cannot_reach_target():
    r = e05.train(50, "sigmoid", lr=1.0)
    assert min(r["costs"]) > 0.5 * (3 - 1) ** 2  # y_hat < 1 => C > 2
    r = e05.train(200, "linear", lr=0.1)
    assert r["costs"][-1] < 1e-4


# ---------------------------------------------------------------- E6
@pytest.mark.parametrize("head", ["sigmoid", "linear"])
def test_e06_matches_torch_from_the_same_weights(head):
    epochs = 60
    r = e06.train(epochs, head=head, dtype=tg.float64)
    layers = [torch.nn.Linear(2, 3), torch.nn.Sigmoid(), torch.nn.Linear(3, 3), torch.nn.Sigmoid()]
    layers.append(torch.nn.Linear(3, 1))
    if head == "sigmoid":
        layers.append(torch.nn.Sigmoid())
    model = torch.nn.Sequential(*layers).double()
    model.load_state_dict({k: torch.tensor(v) for k, v in r["initial_state"].items()})
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    s = 4.0 if head == "sigmoid" else 1.0
    x, y = torch.tensor(e06.X_TRAIN), torch.tensor(e06.Y_TRAIN / s)
    losses = []
    for _ in range(epochs):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    close(r["losses"], losses, tol=1e-8)
    with torch.no_grad():
        close(r["prediction"], model(torch.tensor([[1.0, 2.0]]).double()).item() * s, tol=1e-8)


def test_e06_training_reaches_the_target():
    r = e06.train(300)
    assert r["losses"][-1] < 1e-3 * r["losses"][0]
    assert abs(r["prediction"] - 3.0) < 0.05


# ---------------------------------------------------------------- E7-E12
def test_e07_linear_layer_gradients_match_torch():
    x, w, b, t = (RNG.standard_normal(s) for s in ((4, 3), (3, 2), (2,), (4, 2)))
    loss, g = e07.backward(x, w, e07.forward(x, w, b), t)
    xt, wt, bt = T(x), T(w), T(b)
    lt = torch.nn.functional.mse_loss(xt @ wt + bt, torch.tensor(t))
    lt.backward()
    close(loss, lt.item())
    for k, ref in (("W", wt), ("b", bt), ("x", xt)):
        close(g[k], ref.grad.numpy())
    r = e07.train(steps=20)
    assert r["losses"][-1] < 1e-3 * r["losses"][0] and r["max_grad_diff"] < 1e-12


def test_e08_sigmoid_layer_gradients_match_torch():
    x, w, b = RNG.standard_normal((5, 3)), RNG.standard_normal((3, 2)), RNG.standard_normal(2)
    y = RNG.random((5, 2))
    loss, g = e08.layer_backward(x, e08.layer_forward(x, w, b), y)
    wt, bt = T(w), T(b)
    lt = torch.nn.functional.mse_loss(torch.sigmoid(torch.tensor(x) @ wt + bt), torch.tensor(y))
    lt.backward()
    close(loss, lt.item())
    close(g["W"], wt.grad.numpy())
    close(g["b"], bt.grad.numpy())
    ag = e08.autograd_layer_grads(x, y, w, b)
    close(ag["W"], g["W"])


def test_e09_layer_training_fits_the_article_data():
    r = e08.train_layer(e08.X2, e08.Y2, epochs=2000, lr=1.0)
    assert r["losses"][-1] < 0.01 * r["losses"][0]
    assert np.array_equal(r["out"].round(), e08.Y2)


def test_e10_two_layer_gradients_match_torch_and_learn_xor():
    p = e08.init_two_layer(3, 4, seed=5)
    x, y = RNG.standard_normal((6, 3)), RNG.random((6, 1))
    loss, g = e08.two_layer_backward(x, y, p)
    t = {k: T(v) for k, v in p.items()}
    h = torch.sigmoid(torch.tensor(x) @ t["W1"] + t["b1"])
    lt = torch.nn.functional.mse_loss(torch.sigmoid(h @ t["W2"] + t["b2"]), torch.tensor(y))
    lt.backward()
    close(loss, lt.item())
    for k in p:
        close(g[k], t[k].grad.numpy())
    r = e08.train_two_layer(e08.X_XOR, e08.Y_XOR, hidden=3, epochs=10000, lr=1.0)
    assert np.array_equal(r["out"].round(), e08.Y_XOR)


def test_e11_gradients_match_torch_and_reach_least_squares():
    x, y = e11.synthetic(50, seed=2)
    w, b = RNG.standard_normal(2), 0.3
    loss, dw, db = e11.loss_and_grads(x, y, w, b)
    wt, bt = T(w), T(b)
    lt = torch.nn.functional.mse_loss(torch.tensor(x) @ wt + bt, torch.tensor(y))
    lt.backward()
    close([loss, db], [lt.item(), bt.grad.item()])
    close(dw, wt.grad.numpy())
    r = e11.train(x, y, epochs=1000, lr=0.1)
    w_ls, b_ls = e11.least_squares(x, y)
    close(r["w"], w_ls, tol=1e-6)
    close(r["b"], b_ls, tol=1e-6)
    r = e11.train(e11.X_ARTICLE, e11.Y_ARTICLE, epochs=1000, lr=0.01)
    assert r["losses"][-1] < 1e-4 and r["max_grad_diff"] < 1e-12


def test_e12_bce_gradients_match_torch_and_learn_separable_data():
    x, y = e12.blobs(40, seed=3)
    w, b = RNG.standard_normal(2), -0.2
    loss, dw, db = e12.bce_and_grads(x, y, w, b)
    wt, bt = T(w), T(b)
    lt = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.tensor(x) @ wt + bt, torch.tensor(y)
    )
    lt.backward()
    close([loss, db], [lt.item(), bt.grad.item()])
    close(dw, wt.grad.numpy())
    _, gw, gb = e12.autograd_grads(x, y, w, b)
    close(gw, dw)
    r = e12.train(*e12.blobs(200), epochs=500, lr=0.1)
    assert r["accuracy"] == 1.0 and r["losses"][-1] < 0.05


def test_e12_mse_on_sigmoid_gradient_vanishes_when_confidently_wrong():
    g = e12.gradient_at(-6.0, 1.0)
    z = T(np.array(-6.0))
    torch.nn.functional.binary_cross_entropy_with_logits(z, torch.tensor(1.0).double()).backward()
    close(g["bce"], z.grad.item())
    z = T(np.array(-6.0))
    ((torch.sigmoid(z) - 1.0) ** 2).backward()
    close(g["mse"], z.grad.item())
    assert abs(g["mse"]) < 0.01 * abs(g["bce"])


# ---------------------------------------------------------------- E13, E3
@pytest.mark.parametrize("padding", [0, 1])
def test_e13_numpy_conv_backward_matches_torch(padding):
    x, w, b = RNG.standard_normal((2, 3, 7, 6)), RNG.standard_normal((4, 3, 3, 2)), RNG.random(4)
    y = e13.conv2d_forward(x, w, b, padding)
    xt, wt, bt = T(x), T(w), T(b)
    yt = torch.nn.functional.conv2d(xt, wt, bt, padding=padding)
    close(y, yt.detach().numpy())
    gy = RNG.standard_normal(y.shape)
    yt.backward(torch.tensor(gy))
    g = e13.conv2d_backward(x, w, gy, padding)
    for k, ref in (("x", xt), ("w", wt), ("b", bt)):
        close(g[k], ref.grad.numpy())
    assert e13.check_conv_backward(padding=padding) < 1e-10


def test_e13_small_cnn_learns_real_digits():
    r = e13.train(limit=1000, epochs=1, batch_size=32, lr=3e-3, n_test=500)
    assert r["accuracy"] > 0.4  # chance is 0.1


def test_e03_article_loop_lowers_its_loss_but_learns_nothing():
    r = e03.article_self_labels(steps=4, n_eval=300)
    assert r["losses"][-1] < 0.5 * r["losses"][0]
    assert r["accuracy"] < 0.3


# ---------------------------------------------------------------- E14
def test_e14_numpy_bptt_matches_torch_rnn():
    p = e14.init_rnn(2, 5, seed=1)
    p["b"] = RNG.standard_normal(5) * 0.3
    x, y = RNG.standard_normal((3, 7, 2)), RNG.standard_normal((3, 1))
    loss, g = e14.rnn_bptt(x, y, p)
    rnn = torch.nn.RNN(2, 5, batch_first=True).double()
    fc = torch.nn.Linear(5, 1).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(p["W_ih"]))
        rnn.weight_hh_l0.copy_(torch.tensor(p["W_hh"]))
        rnn.bias_ih_l0.copy_(torch.tensor(p["b"]))
        rnn.bias_hh_l0.zero_()
        fc.weight.copy_(torch.tensor(p["W_out"]))
        fc.bias.copy_(torch.tensor(p["b_out"]))
    _, h = rnn(torch.tensor(x))
    lt = torch.nn.functional.mse_loss(fc(h[0]), torch.tensor(y))
    lt.backward()
    close(loss, lt.item())
    ref = {"W_ih": rnn.weight_ih_l0, "W_hh": rnn.weight_hh_l0, "b": rnn.bias_hh_l0}
    ref.update({"W_out": fc.weight, "b_out": fc.bias})
    for k, t in ref.items():
        close(g[k], t.grad.numpy())
    _, gt = e14.tapegrad_rnn_grads(x, y, p)
    for k in g:
        close(gt[k], g[k])


def test_e14_numpy_rnn_and_tapegrad_lstm_learn():
    r = e14.train_numpy_rnn(steps=300)
    assert r["test_mse"] < 0.5 * r["baseline_mse"]
    r = e14.train_lstm(steps=300, seq_len=6, hidden=8)
    assert r["test_mse"] < 0.2 * r["baseline_mse"]


# ---------------------------------------------------------------- E15 and the GAN/VAE demo
def test_e15_hand_gan_gradients_match_torch():
    theta, w = np.array([0.4, 1.3]), RNG.standard_normal(3) * 0.5
    xr, z = 3 + 0.5 * RNG.standard_normal(32), RNG.standard_normal(32)
    xf = theta[0] + theta[1] * z
    ld, gw = e15.d_loss_grad(w, xr, xf)
    lg, gth = e15.g_loss_grad(theta, w, z)
    wt, tt = T(w), T(theta)

    def logit(v):
        return wt[0] * v**2 + wt[1] * v + wt[2]

    # the article's formulas literally: L_D = -1/2 E log D(x) - 1/2 E log(1 - D(G(z))),
    # L_G = -1/2 E log D(G(z))
    ldt = (
        -0.5 * torch.log(torch.sigmoid(logit(torch.tensor(xr)))).mean()
        - 0.5 * torch.log(1 - torch.sigmoid(logit(torch.tensor(xf)))).mean()
    )
    ldt.backward()
    close([ld], [ldt.item()])
    close(gw, wt.grad.numpy())
    wt.grad = None
    lgt = -0.5 * torch.log(torch.sigmoid(logit(tt[0] + tt[1] * torch.tensor(z)))).mean()
    lgt.backward()
    close([lg], [lgt.item()])
    close(gth, tt.grad.numpy())
    ag = e15.autograd_gan_grads(theta, w, xr, z)
    close(ag["w"], gw)
    close(ag["theta"], gth)


def test_e15_numpy_gan_moves_toward_the_data():
    r = e15.numpy_gan(steps=3000, batch=128, seed=1)
    assert abs(r["gen_mean"] - e15.DATA_MEAN) < 0.1  # from 0
    assert abs(r["gen_std"] - e15.DATA_STD) < 0.5 * abs(1.0 - e15.DATA_STD)  # from 1


def test_e15_tapegrad_gan_moves_toward_the_data():
    r = e15.tapegrad_gan(300, lr=1e-3, seed=0)
    start, end = r["start"], r["end"]
    d0 = np.linalg.norm(start["mean"] - e15.MEAN_2D)
    assert np.linalg.norm(end["mean"] - e15.MEAN_2D) < 0.3 * d0
    s0 = np.linalg.norm(start["std"] - e15.STD_2D)
    assert np.linalg.norm(end["std"] - e15.STD_2D) < 0.75 * s0
    assert all(np.isfinite(r["losses"]).ravel())


def test_vae_pieces_match_closed_forms():
    mu, logvar = RNG.standard_normal((4, 2)), RNG.standard_normal((4, 2))
    kl = dgv.kl_to_standard_normal(tg.tensor(mu), tg.tensor(logvar)).numpy()
    q = torch.distributions.Normal(torch.tensor(mu), torch.tensor(np.exp(0.5 * logvar)))
    ref = torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(1)
    close(kl, ref.numpy())
    ent = torch.distributions.Normal(torch.zeros(2), torch.tensor(e15.STD_2D)).entropy().sum()
    close(dgv.true_log_density(), -ent.item())
    r = dgv.reparameterisation_check(n=2000)
    close(r["autograd"], r["formula"])


def test_vae_elbo_rises_to_just_below_the_true_log_density():
    r = dgv.train_vae(400)
    assert r["final_elbo"] > -2.6 and r["final_elbo"] > r["elbo"][0] + 1.0
    assert r["final_elbo"] < dgv.true_log_density() + 0.1  # a lower bound, up to MC noise
    assert np.abs(r["mean"] - e15.MEAN_2D).max() < 0.15


# ---------------------------------------------------------------- E2, E4
def test_e02_mnist_gan_steps(tmp_path):
    r = e02.train(steps=25, batch_size=64, limit=2000, seed=0)
    h = r["history"]
    assert all(np.isfinite([row[k] for row in h for k in row]))
    assert np.mean([row["d_real"] for row in h]) > np.mean([row["d_fake"] for row in h])
    x = e02.sample(r["G"], 4)
    assert x.shape == (4, 1, 28, 28) and x.min() >= -1 and x.max() <= 1
    path = seedutil.save_grid(x, tmp_path / "grid")
    g = np.load(path) if path.suffix == ".npy" else None
    if g is not None:  # without Pillow: the grid array itself, 2x2 tiles of 28 with 2-pixel gaps
        assert g.shape == (62, 62)
        expect = np.clip((x[3, 0] + 1) * 127.5, 0, 255).round().astype(np.uint8)
        assert np.array_equal(g[32:60, 32:60], expect)
    else:
        assert path.suffix == ".png" and path.stat().st_size > 0


def test_mnist_is_scaled_to_the_generators_range():
    x, y, note = seedutil.mnist_scaled(limit=100)
    raw, labels = tg.data.load_mnist_arrays(train=note.startswith("MNIST training"))
    assert x.shape == (100, 1, 28, 28) and x.dtype == np.float32
    close(x[:, 0], raw[:100] / 127.5 - 1.0, tol=1e-6)
    assert np.array_equal(y, labels[:100])
    assert x.min() == -1.0 and x.max() == 1.0


@pytest.mark.parametrize("size,channels", [(32, 3), (64, 1)])
def test_e04_dcgan_shapes(size, channels):
    G = e04.build_generator(size, channels, ngf=4)
    D = e04.build_discriminator(size, channels, ndf=4)
    with tg.no_grad():
        x = G(tg.randn(2, e04.Z_DIM, 1, 1))
        assert x.shape == (2, channels, size, size)
        assert D(x).shape == (2, 1)
    real = e04.real_images(3, size, channels)
    assert real.shape == (3, channels, size, size)
    assert real.min() >= -1 and real.max() <= 1 and np.all(real[:, :, 0, :] == -1.0)


def test_e04_dcgan_trains_a_few_steps():
    r = e04.train(steps=2, batch_size=8, ngf=8, ndf=8, n_real=64)
    assert r["fake_shape"] == (8, 3, 32, 32) and r["d_out_shape"] == (8, 1)
    assert all(np.isfinite([row[k] for row in r["history"] for k in row]))


# ---------------------------------------------------------------- demos
def test_learning_rate_curves_follow_theory():
    epochs = 30
    lam = float(np.linalg.eigvalsh(dlr.hessian(dlr.make_data()[0])).max())
    results = dlr.sweep(epochs=epochs)
    for lr, r in results.items():
        if lr < 2 / lam:
            pred = dlr.predicted_losses(lr, epochs, r["theta0"])
            np.testing.assert_allclose(r["losses"], pred, rtol=1e-4)
            assert not r["diverged"]
        else:
            assert r["diverged"] or r["losses"][-1] > 1e3 * r["losses"][0]
    assert 2 / lam < 1.0  # so lr = 1 is in the divergent range
    assert results[1e-4]["losses"][-1] > 0.95 * results[1e-4]["losses"][0]  # too slow
    assert results[0.1]["losses"][-1] < 0.05 * results[0.1]["losses"][0]


def test_vanishing_gradients_and_remedies():
    r = dve.vanishing(depth=20, width=32)
    ratio = {k: v[0] / v[-1] for k, v in r.items()}
    assert ratio["sigmoid"] < 1e-8
    assert ratio["relu (He init)"] > 1e-2
    assert ratio["sigmoid + batchnorm"] > 1e-2


def test_layer_grad_norms_match_torch():
    tg.manual_seed(2)
    model = dve.build(depth=6, width=8, act="sigmoid")
    x, y = dve.data(n=10, width=8)
    norms = dve.layer_grad_norms(model, x, y)
    layers = []
    for m in dve.linear_layers(model):
        lin = torch.nn.Linear(m.in_features, m.out_features)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(m.weight.detach().numpy()))
            lin.bias.copy_(torch.tensor(m.bias.detach().numpy()))
        layers += [lin, torch.nn.Sigmoid()]
    tm = torch.nn.Sequential(*layers[:-1])
    torch.nn.functional.mse_loss(tm(torch.tensor(x.numpy())), torch.tensor(y.numpy())).backward()
    ref = [float(m.weight.grad.norm()) for m in tm if isinstance(m, torch.nn.Linear)]
    np.testing.assert_allclose(norms, ref, rtol=1e-4)


def test_exploding_gradients_and_clipping():
    r = dve.exploding(depth=12, width=32)
    grads = r["unclipped_grads"]
    total = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads))
    np.testing.assert_allclose(r["total_norm"], total, rtol=1e-4)
    assert total > 1e3
    clipped = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in r["clipped_grads"]))
    np.testing.assert_allclose(clipped, 1.0, rtol=1e-4)
    for g, c in zip(grads, r["clipped_grads"]):
        np.testing.assert_allclose(c, g / (total + 1e-6), rtol=1e-4, atol=1e-12)
    assert r["signals"][0] > 100 * r["signals"][-1]  # grows toward the input
    assert not np.isfinite(r["loss_after_plain"]) or r["loss_after_plain"] > r["loss_before"]
    assert r["loss_after_clipped"] < r["loss_before"]


def test_backprop_computes_the_gradient_optimisers_use_it():
    model, x, y = dbg.setup()
    bp = dbg.backprop_grads(model, x, y)
    fd, passes = dbg.finite_difference_grads(model, x, y)
    assert passes == 2 * sum(g.size for g in bp)
    for a, b in zip(bp, fd):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    s = dbg.sgd_vs_manual(0.1)
    for a, b in zip(s["optimizer"], s["manual"]):
        close(a, b, tol=1e-14)
    ad = dbg.adam_vs_manual(0.05, steps=3)
    for a, b in zip(ad["optimizer"], ad["manual"]):
        close(a, b, tol=1e-12)
    ig = dbg.input_gradient()
    np.testing.assert_allclose(ig["backprop"], ig["finite_differences"], rtol=1e-6, atol=1e-8)
