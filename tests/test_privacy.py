"""tapegrad.privacy: per-sample gradients, DP-SGD and the accountant."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn
from tapegrad.privacy import (
    DPGANConfig,
    DPOptimizer,
    PoissonSampler,
    clip_and_sum,
    clipped_grad_sum,
    compute_epsilon,
    noise_multiplier_for_epsilon,
    per_sample_grads,
    steps_for_epsilon,
    train_dp_gan,
)

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _float64():
    old = tg.get_default_dtype()
    tg.set_default_dtype(tg.float64)
    tg.manual_seed(0)
    yield
    tg.set_default_dtype(old)


class Mixed(nn.Module):
    """Every supported layer, a shared Linear (used twice) and a conditional input."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2, padding_mode="reflect")
        self.up = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.gn = nn.GroupNorm(3, 6)
        self.fc = nn.Linear(6 * 8 * 8, 5)
        self.seq = nn.Linear(5, 5)
        self.ln = nn.LayerNorm(5)
        self.embed = nn.Embedding(4, 5, padding_idx=0)

    def forward(self, x, y):
        h = self.gn(self.up(self.conv(x).tanh())).tanh()
        h = self.ln(self.fc(h.reshape(h.shape[0], -1)))
        h = self.seq(self.seq(h).tanh())  # the same weights twice per sample
        t = self.seq(h.reshape(h.shape[0], 1, 5).expand(h.shape[0], 3, 5))  # (N, 3, 5) input
        return (h * self.embed(y)).sum(1) + t.sum((1, 2))


def _loss(out, target):
    return ((out - target) ** 2).sum()


def _batch(n=5):
    x = tg.randn(n, 2, 8, 8)
    y = tg.tensor(np.array([0, 1, 2, 3, 1, 2, 0][:n]))
    return x, y, tg.randn(n)


def test_per_sample_grads_equal_one_sample_batches():
    m = Mixed()
    x, y, t = _batch()
    ps = per_sample_grads(m, _loss, (x, y), t)
    params = list(m.parameters())
    assert len(ps) == len(params)
    for i in range(x.shape[0]):
        m.zero_grad()
        _loss(m(x[i : i + 1], y[i : i + 1]), t[i : i + 1]).backward()
        for p, g in zip(params, ps):
            assert g.shape == (x.shape[0],) + tuple(p.shape)
            np.testing.assert_allclose(g.numpy()[i], p.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_per_sample_grads_sum_to_the_batch_gradient_and_skip_frozen():
    m = Mixed()
    m.fc.bias.requires_grad_(False)
    x, y, t = _batch()
    ps = per_sample_grads(m, _loss, (x, y), t)
    m.zero_grad()
    _loss(m(x, y), t).backward()
    for p, g in zip(m.parameters(), ps):
        if p is m.fc.bias:
            assert g is None
        else:
            np.testing.assert_allclose(g.numpy().sum(0), p.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_batch_norm_is_refused_by_name():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    with pytest.raises(ValueError, match=r"BatchNorm1d at '1'.*GroupNorm"):
        per_sample_grads(m, _loss, tg.randn(4, 3), tg.randn(4, 1))


def test_unsupported_layer_is_refused_by_name():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.alpha = nn.Parameter(np.ones(3))

        def forward(self, x):
            return x * self.alpha

    m = nn.Sequential(Scale(), nn.Linear(3, 1))
    with pytest.raises(ValueError, match=r"no per-sample gradient rule for Scale at '0'.*alpha"):
        per_sample_grads(m, _loss, tg.randn(4, 3), tg.randn(4, 1))


def test_non_scalar_loss_is_an_error():
    m = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="one-element Tensor"):
        per_sample_grads(m, lambda o, t: (o - t) ** 2, tg.randn(4, 3), tg.randn(4, 2))


def _twin(torch_model, tg_model):
    tg_model.load_state_dict({k: v.detach().numpy() for k, v in torch_model.state_dict().items()})


@pytest.mark.filterwarnings("ignore:Full backward hook")
@pytest.mark.parametrize("case", ["image", "embedding"])
def test_per_sample_grads_match_opacus(case):
    opacus = pytest.importorskip("opacus", reason="opacus (test extra) is not installed")
    torch.manual_seed(0)
    if case == "image":
        tnn = torch.nn
        layers = lambda m: [  # noqa: E731
            m.Conv2d(2, 4, 3, stride=2, padding=1, groups=2),
            m.GroupNorm(2, 4),
            m.Tanh(),
            m.ConvTranspose2d(4, 3, 4, stride=2, padding=1),
            m.Tanh(),
            m.Flatten(),
            m.Linear(3 * 8 * 8, 6),
            m.LayerNorm(6),
            m.Linear(6, 2),
        ]
        tm, gm = tnn.Sequential(*layers(tnn)).double(), nn.Sequential(*layers(nn))
        xt = torch.randn(7, 2, 8, 8, dtype=torch.float64)
        xg = tg.tensor(xt.numpy())
    else:
        # No padding_idx: Opacus's Embedding sampler gives the padding row a gradient that
        # PyTorch's own backward does not (the one-sample test above covers that row).
        tm = torch.nn.Sequential(
            torch.nn.Embedding(9, 4), torch.nn.Flatten(), torch.nn.Linear(12, 2)
        ).double()
        gm = nn.Sequential(nn.Embedding(9, 4), nn.Flatten(), nn.Linear(12, 2))
        xt = torch.randint(0, 9, (7, 3))
        xg = tg.tensor(xt.numpy())
    _twin(tm, gm)
    target = np.random.default_rng(0).standard_normal((7, 2))
    gsm = opacus.GradSampleModule(tm, loss_reduction="sum")
    ((gsm(xt) - torch.tensor(target)) ** 2).sum().backward()
    ours = per_sample_grads(gm, _loss, xg, tg.tensor(target))
    for p, g in zip(tm.parameters(), ours):
        np.testing.assert_allclose(g.numpy(), p.grad_sample.numpy(), rtol=1e-9, atol=1e-11)


def test_clipped_grad_sum_equals_clipping_per_sample_grads():
    m = Mixed()
    x, y, t = _batch()
    ps = per_sample_grads(m, _loss, (x, y), t)
    norms = np.sqrt(sum((g.numpy().reshape(5, -1) ** 2).sum(1) for g in ps))
    c = float(np.median(norms))  # some samples clipped, some not
    sums, got_norms = clipped_grad_sum(m, _loss, (x, y), t, c)
    np.testing.assert_allclose(got_norms, norms, rtol=1e-10)
    scale = np.minimum(1, c / (norms + 1e-6))
    for g, s in zip(ps, sums):
        want = np.tensordot(scale, g.numpy(), 1)
        np.testing.assert_allclose(s.numpy(), want, rtol=1e-9, atol=1e-12)
    ref, _ = clip_and_sum(ps, c)
    for r, s in zip(ref, sums):
        np.testing.assert_allclose(s.numpy(), r, rtol=1e-9, atol=1e-12)


def test_clipped_norms_are_at_most_c():
    m = Mixed()
    x, y, t = _batch()
    ps = per_sample_grads(m, _loss, (x, y), t)
    c = 0.05
    _, norms = clip_and_sum(ps, c)
    assert (norms > c).all()  # every sample is clipped here
    for i in range(5):
        one = [g.numpy()[i : i + 1] for g in ps]
        sums, _ = clip_and_sum([tg.tensor(a) for a in one], c)
        clipped = math.sqrt(sum(float((s**2).sum()) for s in sums))
        assert clipped <= c * (1 + 1e-9)
        assert clipped == pytest.approx(c, rel=1e-4)


def test_dp_optimizer_without_noise_and_clipping_is_the_plain_optimizer():
    m1, m2 = Mixed(), Mixed()
    m2.load_state_dict(m1.state_dict())
    x, y, t = _batch()
    opt1 = tg.optim.Adam(m1.parameters(), lr=1e-2)
    dp = DPOptimizer(tg.optim.Adam(m2.parameters(), lr=1e-2), 1e9, 0.0, expected_batch_size=5)
    for _ in range(3):
        opt1.zero_grad()
        (_loss(m1(x, y), t) / 5).backward()
        opt1.step()
        dp.zero_grad()
        dp.private_step(m2, _loss, (x, y), t)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_allclose(p2.detach().numpy(), p1.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert dp.steps == 3


def test_step_and_private_step_agree():
    m1, m2 = Mixed(), Mixed()
    m2.load_state_dict(m1.state_dict())
    x, y, t = _batch()
    dp1 = DPOptimizer(tg.optim.SGD(m1.parameters(), lr=0.1), 0.3, 1.3, 8, generator=7)
    dp2 = DPOptimizer(tg.optim.SGD(m2.parameters(), lr=0.1), 0.3, 1.3, 8, generator=7)
    dp1.step(per_sample_grads(m1, _loss, (x, y), t))
    dp2.private_step(m2, _loss, (x, y), t)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_allclose(p2.detach().numpy(), p1.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_noise_has_standard_deviation_sigma_c_over_batch():
    w = nn.Linear(50, 1, bias=False)
    w.weight._array[...] = 0
    sigma, c, b = 2.0, 0.5, 4
    dp = DPOptimizer(tg.optim.SGD(w.parameters(), lr=1.0), c, sigma, b, generator=3)
    zero = [tg.zeros(3, 1, 50)]  # per-sample gradients of 3 samples, all zero
    draws = []
    for _ in range(2000):
        before = w.weight.detach().numpy().copy()
        dp.zero_grad()
        dp.step(zero)
        draws.append(before - w.weight.detach().numpy())
    d = np.concatenate(draws).ravel()  # 100,000 draws of the noisy mean gradient
    want = sigma * c / b
    assert abs(d.std() - want) < 0.01 * want  # std of the estimate ~ 0.22%
    assert abs(d.mean()) < 5 * want / math.sqrt(d.size)


def test_clipping_bounds_one_sample_update():
    w = nn.Linear(3, 1)
    dp = DPOptimizer(tg.optim.SGD(w.parameters(), lr=1.0), 0.25, 0.0, expected_batch_size=1)
    before = [p.detach().numpy().copy() for p in w.parameters()]
    dp.private_step(w, _loss, tg.tensor([[100.0, -50.0, 20.0]]), tg.tensor([[1e3]]))
    moved = math.sqrt(
        sum(float(((b - p.detach().numpy()) ** 2).sum()) for b, p in zip(before, w.parameters()))
    )
    assert moved == pytest.approx(0.25, rel=1e-5)
    assert dp.last_norms[0] > 1e3


def test_dp_optimizer_checks_its_arguments():
    opt = tg.optim.SGD(nn.Linear(2, 1).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="max_grad_norm"):
        DPOptimizer(opt, 0, 1.0)
    with pytest.raises(ValueError, match="noise_multiplier"):
        DPOptimizer(opt, 1.0, -1)
    dp = DPOptimizer(opt, 1.0, 1.0)
    with pytest.raises(ValueError, match="2 parameters"):
        dp.step([tg.zeros(4, 1, 2)])


def test_poisson_sampler_batch_sizes():
    s = PoissonSampler(10_000, 0.01, generator=0)
    sizes = np.array([len(s.sample()) for _ in range(400)])
    assert abs(sizes.mean() - 100) < 4 * math.sqrt(99 / 400)
    assert sizes.var() == pytest.approx(10_000 * 0.01 * 0.99, rel=0.25)
    assert len(s) == 100


# ------------------------------------------------------------------ accountant
dp_accounting = pytest.importorskip("dp_accounting", reason="dp-accounting is not installed")


def _library_epsilon(sigma, q, steps, delta, acc):
    a = dp_accounting.rdp.RdpAccountant() if acc == "rdp" else dp_accounting.pld.PLDAccountant()
    event = dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma))
    a.compose(event, steps)
    return a.get_epsilon(delta)


@pytest.mark.parametrize(
    "sigma,q,steps", [(4.0, 0.01, 10_000), (1.1, 0.01, 10_000), (1.1, 256 / 60_000, 14_040)]
)
def test_epsilon_matches_the_library(sigma, q, steps):
    for acc in ("rdp", "pld"):
        got = compute_epsilon(
            noise_multiplier=sigma, sample_rate=q, steps=steps, delta=1e-5, accountant=acc
        )
        assert got == pytest.approx(_library_epsilon(sigma, q, steps, 1e-5, acc), rel=1e-9)


def test_epsilon_of_the_dp_sgd_paper_setting():
    # Abadi et al. 2016, section 3.1: q = 0.01, sigma = 4, delta = 1e-5, T = 10,000 give
    # epsilon ~ 1.26 by their moments accountant; tighter accountants give less, not more.
    rdp = compute_epsilon(noise_multiplier=4, sample_rate=0.01, steps=10_000)
    pld = compute_epsilon(noise_multiplier=4, sample_rate=0.01, steps=10_000, accountant="pld")
    assert pld <= rdp <= 1.26
    assert rdp > 0.8


def _phi(x):
    return 0.5 * math.erfc(-x / math.sqrt(2))


def test_full_batch_epsilon_matches_the_analytic_gaussian_mechanism():
    # q = 1: T Gaussian steps of multiplier sigma are one of multiplier sigma / sqrt(T),
    # whose exact delta(eps) is Balle & Wang's (2018) formula; solve it by bisection.
    sigma, steps, delta = 4.0, 16, 1e-5
    mu = math.sqrt(steps) / sigma

    def d(eps):
        return _phi(-eps / mu + mu / 2) - math.exp(eps) * _phi(-eps / mu - mu / 2)

    lo, hi = 0.0, 20.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if d(mid) > delta else (lo, mid)
    got = compute_epsilon(
        noise_multiplier=sigma, sample_rate=1.0, steps=steps, delta=delta, accountant="pld"
    )
    assert got == pytest.approx(hi, rel=0.02)


def test_epsilon_is_monotone():
    eps_steps = [
        compute_epsilon(noise_multiplier=1.0, sample_rate=0.01, steps=s) for s in (10, 100, 1000)
    ]
    eps_sigma = [
        compute_epsilon(noise_multiplier=s, sample_rate=0.01, steps=1000) for s in (0.7, 1.0, 2.0)
    ]
    assert eps_steps[0] < eps_steps[1] < eps_steps[2]
    assert eps_sigma[0] > eps_sigma[1] > eps_sigma[2]
    assert compute_epsilon(noise_multiplier=1.0, sample_rate=0.01, steps=0) == 0.0
    assert compute_epsilon(noise_multiplier=0.0, sample_rate=0.01, steps=5) == math.inf


def test_noise_multiplier_and_steps_for_a_target_epsilon():
    sigma = noise_multiplier_for_epsilon(3.0, sample_rate=0.01, steps=2000)
    assert compute_epsilon(noise_multiplier=sigma, sample_rate=0.01, steps=2000) <= 3.0
    assert compute_epsilon(noise_multiplier=sigma - 0.01, sample_rate=0.01, steps=2000) > 3.0
    t = steps_for_epsilon(3.0, noise_multiplier=1.0, sample_rate=0.01)
    assert compute_epsilon(noise_multiplier=1.0, sample_rate=0.01, steps=t) <= 3.0
    assert compute_epsilon(noise_multiplier=1.0, sample_rate=0.01, steps=t + 1) > 3.0


def test_accountant_checks_its_arguments():
    with pytest.raises(ValueError, match="sample_rate"):
        compute_epsilon(noise_multiplier=1.0, sample_rate=1.5, steps=3)
    with pytest.raises(ValueError, match="delta"):
        compute_epsilon(noise_multiplier=1.0, sample_rate=0.1, steps=3, delta=0)
    with pytest.raises(ValueError, match="accountant"):
        compute_epsilon(noise_multiplier=1.0, sample_rate=0.1, steps=3, accountant="moments")


# ------------------------------------------------------------------ GroupNorm, the GAN
def test_group_norm_module_matches_torch():
    x = np.random.default_rng(1).standard_normal((3, 6, 4, 5))
    m = nn.GroupNorm(3, 6)
    m.weight._array[...] = np.linspace(0.5, 2, 6)
    m.bias._array[...] = np.linspace(-1, 1, 6)
    tm = torch.nn.GroupNorm(3, 6).double()
    _twin(tm, m)
    xt = torch.tensor(x, requires_grad=True)
    tm(xt).pow(2).sum().backward()
    xg = tg.tensor(x, requires_grad=True)
    (m(xg) ** 2).sum().backward()
    np.testing.assert_allclose(m(xg).detach().numpy(), tm(xt).detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(xg.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-8)
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)


def _toy_images(n=200):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    x = rng.uniform(-1, 1, (n, 1, 6, 6)).astype(np.float32) * 0.1
    x[y == 1, :, :3] += 0.8
    return x, y


def test_private_gan_spends_its_budget_and_records_it(tmp_path):
    tg.set_default_dtype(tg.float32)
    x, y = _toy_images()
    cfg = DPGANConfig(
        epsilon=2.0, delta=1e-3, d_steps=12, d_steps_per_g=3, batch_size=20, log_every=6,
        z_dim=4, g_hidden=(16,), d_arch="mlp", d_hidden=(16,),
    )  # fmt: skip
    G, D, rep = train_dp_gan(cfg, x, y, out_dir=tmp_path, log=lambda s: None)
    assert rep["d_steps_done"] == 12 and rep["g_steps_done"] == 4
    assert rep["epsilon"] <= 2.0 and rep["epsilon"] == pytest.approx(2.0, rel=0.02)
    assert rep["delta"] == 1e-3 and rep["sampling"] == "Poisson"
    assert rep["epsilon"] == pytest.approx(
        compute_epsilon(
            noise_multiplier=rep["noise_multiplier"], sample_rate=0.1, steps=12, delta=1e-3
        )
    )
    saved = (tmp_path / "config.json").read_text()
    assert '"epsilon"' in saved and (tmp_path / "G.safetensors").is_file()
    for p in D.parameters():
        assert np.isfinite(p.detach().numpy()).all()


def test_gan_config_is_checked():
    x, y = _toy_images()
    with pytest.raises(ValueError, match="epsilon"):
        train_dp_gan(DPGANConfig(epsilon=-1), x, y)
    with pytest.raises(ValueError, match="delta"):
        train_dp_gan(DPGANConfig(epsilon=1, delta=0.01, batch_size=20), x, y)


def test_conv_discriminator_private_step_matches_per_sample_clipping():
    from tapegrad.privacy.gan import SmallConvDiscriminator, _d_loss

    D = SmallConvDiscriminator(3, channels=(2, 3))
    x = tg.randn(4, 1, 28, 28)
    y = tg.tensor(np.array([0, 2, 1, 2]))
    t = tg.tensor(np.array([1.0, 1.0, 0.0, 0.0]))
    ps = per_sample_grads(D, _d_loss, (x, y), t)
    ref, ref_norms = clip_and_sum(ps, 0.01)
    got, norms = clipped_grad_sum(D, _d_loss, (x, y), t, 0.01)
    np.testing.assert_allclose(norms, ref_norms, rtol=1e-10)
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g.numpy(), r, rtol=1e-9, atol=1e-13)


def test_cli_recipe_dp_trains_and_records_epsilon(tmp_path, monkeypatch, capsys):
    from tapegrad import cli
    from tapegrad.privacy import recipe

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (300, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 300)
    monkeypatch.setattr(recipe, "load_mnist_for_dp", lambda root=None: (x, y))
    tg.set_default_dtype(tg.float32)
    out = tmp_path / "run"
    code = cli.main(
        ["train", "--recipe", "dp", "--epsilon", "3", "--delta", "1e-3", "--steps", "4",
         "--batch-size", "20", "--n-critic", "2", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    import json

    rep = json.loads((out / "config.json").read_text())
    assert rep["epsilon"] <= 3 and rep["epsilon"] == pytest.approx(3, rel=0.02)
    assert rep["delta"] == 1e-3 and rep["d_steps_done"] == 4 and rep["g_steps_done"] == 2
    assert rep["config"]["batch_size"] == 20 and rep["sample_rate"] == pytest.approx(20 / 300)
    assert (out / "samples.png").is_file() and "epsilon 3" in capsys.readouterr().out
    assert cli.main(["train", "--recipe", "dp", "--epsilon", "-1", "--out", str(out)]) == 2
    assert "--epsilon must be positive" in capsys.readouterr().err
    # the recipe's flags are named in their errors, before anything is written
    for flag, bad in (("--batch-size", "0"), ("--n-critic", "0"), ("--lr-d", "0"), ("--ema", "1")):
        bad_out = tmp_path / "never"
        args = ["train", "--recipe", "dp", "--epsilon", "3", flag, bad, "--out", str(bad_out)]
        assert cli.main(args) == 2
        assert f"{flag} must" in capsys.readouterr().err
        assert not bad_out.exists()


def test_private_gan_without_noise_or_clipping_is_the_non_private_gan():
    x, y = _toy_images()
    kw = dict(
        delta=1e-3, d_steps=9, d_steps_per_g=3, batch_size=20, log_every=100, z_dim=4,
        g_hidden=(16,), d_arch="mlp", d_hidden=(16,),
    )  # fmt: skip
    cfg_dp = DPGANConfig(epsilon=1e9, noise_multiplier=1e-20, max_grad_norm=1e6, noise_seed=5, **kw)
    G1, D1, _ = train_dp_gan(cfg_dp, x, y, log=lambda s: None)
    G2, D2, rep = train_dp_gan(DPGANConfig(epsilon=None, **kw), x, y, log=lambda s: None)
    assert rep["epsilon"] is None and rep["private"] is False
    for a, b in zip(
        list(G1.parameters()) + list(D1.parameters()), list(G2.parameters()) + list(D2.parameters())
    ):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-7, atol=1e-9)


def test_recipes_command_lists_the_private_recipe_with_its_defaults(capsys):
    from tapegrad import cli
    from tapegrad.privacy.recipe import DP_MEASURED

    assert cli.main(["recipes"]) == 0
    out = capsys.readouterr().out
    c = DPGANConfig()
    assert "\ndp: the differentially private conditional GAN" in out
    assert f"expected size {c.batch_size}," in out and f"over {c.d_steps} D steps" in out
    assert f"{c.d_steps_per_g} D steps per G step" in out
    for k, v in DP_MEASURED.items():
        assert f"{k} {v}" in out
