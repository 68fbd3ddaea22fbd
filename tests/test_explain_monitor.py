"""GradientMonitor (per-layer gradient norms, update-to-weight ratios, vanishing and
exploding warnings, plot) and the gradient-flow demonstrations built on it."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad import optim
from tapegrad.explain import GradientMonitor, GradientWarning, linreg
from tapegrad.explain import gradient_flow as gf

ROOT = Path(__file__).resolve().parents[1]


def _sgd_steps(model, x, y, mon, steps=3, lr=0.1):
    opt = optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        mon.step()


def test_norms_and_update_ratios_match_an_independent_computation():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 1)).to(tg.float64)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4)), rng.normal(size=(8, 1))
    before = {k: v.detach().numpy().copy() for k, v in model.named_parameters()}
    mon = GradientMonitor(model, warn=False)
    _sgd_steps(model, tg.tensor(x), tg.tensor(y), mon, steps=1, lr=0.1)
    assert mon.layers == ["0", "2"] and mon.kinds == ["Linear", "Linear"]
    # the same first step in torch
    tm = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1))
    tm = tm.double()
    with torch.no_grad():
        for k, p in tm.named_parameters():
            p.copy_(torch.tensor(before[k]))
    torch.nn.functional.mse_loss(tm(torch.tensor(x)), torch.tensor(y)).backward()
    g = {k: p.grad.numpy() for k, p in tm.named_parameters()}
    for i, layer in enumerate(("0", "2")):
        gn = math.sqrt(sum((g[f"{layer}.{n}"] ** 2).sum() for n in ("weight", "bias")))
        wn = math.sqrt(sum((before[f"{layer}.{n}"] ** 2).sum() for n in ("weight", "bias")))
        assert math.isclose(mon.grad_norms[0, i], gn, rel_tol=1e-10)
        # plain SGD moves each layer by lr * its gradient
        assert math.isclose(mon.update_ratios[0, i], 0.1 * gn / wn, rel_tol=1e-8)
    s = mon.summary()
    assert s["layers"] == ["0", "2"] and len(s["grad_norms"]) == 1 and s["alerts"] == []


def test_vanishing_warning_fires_once_per_layer_and_not_on_relu():
    x, y = gf.data(n=32, width=16)
    tg.manual_seed(0)
    deep = gf.build(depth=12, width=16, act="sigmoid")
    mon = GradientMonitor(deep)
    with pytest.warns(GradientWarning, match="vanishing") as rec:
        _sgd_steps(deep, x, y, mon, steps=3, lr=0.01)
    vanished = {a.layer for a in mon.alerts if a.kind == "vanishing"}
    assert "0" in vanished  # the input-side layer
    g0 = mon.grad_norms[0]
    for a in mon.alerts:  # each alert is true of the recorded numbers
        i = mon.layers.index(a.layer)
        assert mon.grad_norms[a.step, i] / np.nanmax(mon.grad_norms[a.step]) < 1e-4
    assert len(rec) == len(vanished)  # one warning per layer, though alerts repeat
    assert len(mon.alerts) == 3 * len(vanished)
    assert g0[0] / g0[-1] < 1e-4
    tg.manual_seed(0)
    relu = gf.build(depth=12, width=16, act="relu", init_scale=1.0)
    mon = GradientMonitor(relu)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradientWarning)
        _sgd_steps(relu, x, y, mon, steps=3, lr=0.01)
    assert mon.alerts == []


def test_exploding_warning_and_thresholds():
    x, y = gf.teacher_data(n=32, width=16)
    tg.manual_seed(0)
    model = gf.build(depth=12, width=16, act="relu", init_scale=2.0)
    mon = GradientMonitor(model, warn=False)
    with np.errstate(all="ignore"):
        _sgd_steps(model, x, y, mon, steps=2, lr=0.01)
    first = [a for a in mon.alerts if a.step == 0]
    assert first and all(a.kind == "exploding" for a in first)
    for a in first:
        assert a.value > 1e3 or not math.isfinite(a.value)
    # a stricter threshold flags the healthy network too; a looser one nothing
    tg.manual_seed(0)
    model = gf.build(depth=3, width=16, act="relu", init_scale=1.0)
    strict = GradientMonitor(model, explode_abs=1e-3, warn=False)
    _sgd_steps(model, x, y, strict, steps=1, lr=0.01)
    assert {a.kind for a in strict.alerts} == {"exploding"}
    with pytest.raises(ValueError, match="no trainable parameters"):
        GradientMonitor(nn.ReLU())


def test_plot_writes_png_and_closes_figures(tmp_path):
    import matplotlib.pyplot as plt

    x, y = gf.data(n=16, width=8)
    model = gf.build(depth=4, width=8, act="sigmoid")
    mon = GradientMonitor(model, warn=False)
    with pytest.raises(ValueError, match="nothing recorded"):
        mon.plot(str(tmp_path / "m.png"))
    _sgd_steps(model, x, y, mon, steps=4)
    before = len(plt.get_fignums())
    mon.plot(str(tmp_path / "m.png"), "test")
    img = plt.imread(tmp_path / "m.png")
    assert img.shape[0] > 200 and img.shape[1] > 600
    assert len(plt.get_fignums()) == before


def test_depth_demo_remedies_keep_the_gradient():
    r = gf.train_depth(depth=12, width=16, steps=15)
    ratio = {k: v["first_last"] for k, v in r.items()}
    assert ratio["sigmoid"] < 1e-6
    for k in ("relu (He init)", "relu + batchnorm", "residual relu"):
        assert ratio[k] > 1e-3, (k, ratio[k])
        assert r[k]["losses"][-1] < r[k]["losses"][0]
    assert any(a.kind == "vanishing" for a in r["sigmoid"]["monitor"].alerts)


def test_exploding_demo_clipping_keeps_training_finite():
    r = gf.train_exploding(depth=12, width=32, steps=30)
    plain, clipped, he = r.values()
    assert not math.isfinite(plain["losses"][-1]) and len(plain["losses"]) <= 3
    assert all(math.isfinite(v) for v in clipped["losses"])
    assert clipped["losses"][-1] < 0.1 * clipped["losses"][0]
    # the clipped gradients the optimizer used have joint norm at most 1
    joint = np.sqrt(np.nansum(clipped["monitor"].grad_norms ** 2, axis=1))
    assert joint.max() <= 1.0 + 1e-4
    assert he["losses"][-1] < he["losses"][0]


def test_learning_rate_demo_follows_the_spectral_radius():
    r = linreg.learning_rates(epochs=60)
    lam = np.linalg.eigvalsh(2 / 5 * np.array([[55.0, 15.0], [15.0, 5.0]]))
    for lr, v in r.items():
        rho = max(abs(1 - lr * lam))
        assert math.isclose(v["rho"], rho, rel_tol=1e-12)
        grew = v["losses"][-1] > v["losses"][0]
        assert grew == (rho > 1)
    small, right, large = (r[k]["losses"][-1] for k in (1e-3, 0.05, 0.09))
    assert right < small < r[1e-3]["losses"][0] < large


def test_gradient_flow_example_writes_its_plots(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples/explain/gradient_flow.py"), "--quick", "--out",
         str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        f"explain_{n}.png"
        for n in (
            "depth_losses", "depth_profiles", "monitor_sigmoid", "monitor_relu_bn",
            "exploding", "learning_rates",
        )
    )  # fmt: skip
    assert "spectral radius" in out.stdout and "first/last layer gradient" in out.stdout
    bad = subprocess.run(
        [sys.executable, str(ROOT / "examples/explain/gradient_flow.py"), "--out",
         str(tmp_path / "missing")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "does not exist" in bad.stderr
