"""GAN health: coverage histograms, alarms on a run made to collapse, quiet on a healthy one."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn
from tapegrad.data import load_mnist_arrays, toy
from tapegrad.explain import RunObserver
from tapegrad.explain.health import (
    HealthThresholds,
    check_alarms,
    coverage,
    coverage_kind,
    grad_norm,
    health_record,
)
from tapegrad.gan.losses import GANLoss, get_loss
from tapegrad.gan.models import MixtureDiscriminator
from tapegrad.gan.trainer import Trainer, TrainingDiverged

RING = toy.ring_modes()


class RingSampler(nn.Module):
    """A generator that already draws the ring (healthy) or one point (collapsed).

    ``z`` picks the mode (from its angle) and the offset within it; a learnable shift
    is added so that the trainer has a G to update and G has a gradient to measure."""

    def __init__(self, collapsed: bool = False) -> None:
        super().__init__()
        self.z_dim = 2
        self.collapsed = collapsed
        self.shift = nn.Parameter(tg.zeros(2))

    def forward(self, z):
        a = z.detach().numpy()
        if self.collapsed:
            pts = np.zeros_like(a)  # every sample at the origin, far from every mode
        else:
            k = np.floor((np.arctan2(a[:, 1], a[:, 0]) + np.pi) / (2 * np.pi) * 8).astype(int)
            pts = RING[np.clip(k, 0, 7)] + 0.01 * a
        return tg.tensor(pts.astype(np.float32)) + self.shift


def ring_run(tmp_path, collapsed: bool, loss: str = "minimax", steps: int = 300, **kw):
    tg.manual_seed(0)
    pts, _ = toy.ring(2048, generator=0)
    G = RingSampler(collapsed)
    D = MixtureDiscriminator(hidden=32, n_hidden=2)
    stream = io.StringIO()
    obs = RunObserver(
        every=25,
        coverage_every=25,
        report=False,
        thresholds=HealthThresholds(warmup_steps=100),
        stream=stream,
    )
    tr = Trainer(
        G,
        D,
        loss,
        pts.numpy(),
        batch_size=64,
        lr_g=1e-4,
        lr_d=2e-3,
        seed=0,
        out_dir=tmp_path / ("collapsed" if collapsed else "healthy"),
        config={"data": "ring"},
        callbacks=[obs],
        **kw,
    )
    tr.train(100, max_steps=steps)
    tr.run.flush_log()
    rows = [json.loads(line) for line in tr.run.metrics_path.read_text().splitlines()]
    health = [r for r in rows if r["kind"] == "health"]
    return tr, health, stream.getvalue()


def test_coverage_histograms_match_hand_counts():
    rng = np.random.default_rng(0)
    modes = rng.integers(0, 8, 1000)
    pts = RING[modes] + 0.01 * rng.standard_normal((1000, 2))
    c = coverage(pts, "ring")
    assert c["counts"] == np.bincount(modes, minlength=8).tolist()
    assert c["covered"] == 8 and c["n"] == 1000 and c["n_classes"] == 8
    p = np.bincount(modes, minlength=8) / 1000
    assert math.isclose(c["kl_to_uniform"], float(np.sum(p * np.log(p * 8))), rel_tol=1e-12)
    assert math.isclose(c["effective"], math.exp(-np.sum(p * np.log(p))), rel_tol=1e-12)
    # within 3 std of its mode: chi-square(2) mass 1 - exp(-4.5) = 0.9889
    assert abs(c["high_quality_fraction"] - (1 - math.exp(-4.5))) < 0.015
    # 4 samples of one mode among 1000: under 10% of the uniform share (12.5), not covered
    few = np.concatenate([RING[np.zeros(996, int)], RING[[1, 1, 1, 1]]])
    assert coverage(few, "ring")["covered"] == 1
    g = coverage(toy.grid_modes(), "grid")
    assert g["covered"] == 25 and g["counts"] == [1] * 25 and abs(g["kl_to_uniform"]) < 1e-12


def test_mnist_coverage_by_the_shipped_classifier():
    x, y = load_mnist_arrays(train=False)
    real = x[:500, None].astype(np.float32) / 127.5 - 1.0
    c = coverage(real, "mnist")
    assert c["covered"] == 10 and sum(c["counts"]) == 500
    # the classifier is ~99% accurate: the histogram is that of the true labels, nearly
    assert np.abs(np.array(c["counts"]) - np.bincount(y[:500], minlength=10)).sum() <= 20
    one = np.repeat(real[:1], 500, axis=0)
    assert coverage(one, "mnist")["covered"] == 1
    assert coverage_kind("mnist", (1, 28, 28)) == "mnist"
    assert coverage_kind("ring", (2,)) == "ring"
    assert coverage_kind("/some/folder", (3, 32, 32)) is None
    assert coverage(real, None) is None
    with pytest.raises(ValueError, match=r"\(N, 2\) points"):
        coverage(real, "ring")


def test_grad_norm_matches_numpy():
    lin = nn.Linear(3, 2)
    assert grad_norm(lin) is None
    lin(tg.randn(4, 3)).sum().backward()
    want = math.sqrt(
        sum(float((p.grad.numpy().astype(np.float64) ** 2).sum()) for p in lin.parameters())
    )
    assert math.isclose(grad_norm(lin), want, rel_tol=1e-12)


def _rec(step, covered, k=10, d_fake=0.5, g=1.0):
    counts = [50] * covered + [0] * (k - covered)
    cov = {"kind": "mnist", "n_classes": k, "covered": covered, "counts": counts}
    return {"step": step, "d_fake": d_fake, "g_grad_norm": g, "coverage": cov}


def test_alarm_thresholds_one_by_one():
    t = HealthThresholds()
    # a young G covering little is not alarmed before the warm-up ...
    assert check_alarms(_rec(600, 3), [_rec(100, 2)], "ns", t) == []
    # ... but is once it has had warmup_steps to learn
    assert [a["name"] for a in check_alarms(_rec(t.warmup_steps, 4), [], "ns", t)] == ["collapse"]
    # coverage that falls from a healthy value alarms at once, warm-up or not
    hist = [_rec(100, 10)]
    assert check_alarms(_rec(200, 7), hist, "ns", t) == []  # 7 >= (1 - 0.3) * 10
    fell = check_alarms(_rec(200, 6), hist, "ns", t)
    assert [a["name"] for a in fell] == ["collapse"] and "down from 10" in fell[0]["message"]
    # D wins: D(G(z)) under 0.05 and G's gradient under 0.1 x its early median (2.0)
    early = [_rec(s, 10, g=g) for s, g in ((25, 1.0), (50, 2.0), (75, 3.0))]
    assert check_alarms(_rec(100, 10, d_fake=0.04, g=0.19), early, "minimax", t)[0]["name"] == (
        "d_wins"
    )
    assert check_alarms(_rec(100, 10, d_fake=0.04, g=0.21), early, "minimax", t) == []
    assert check_alarms(_rec(100, 10, d_fake=0.06, g=0.01), early, "minimax", t) == []
    # D's output is no probability for WGAN: no d_wins
    assert check_alarms(_rec(100, 10, d_fake=0.0, g=0.0), early, "wgan", t) == []
    nan = {**_rec(100, 10), "d_loss": float("nan")}
    assert [a["name"] for a in check_alarms(nan, [], "ns", t)] == ["non_finite"]


def test_health_record_means_and_nan():
    recs = [{"d_loss": 1.0, "g_loss": None}, {"d_loss": 3.0, "g_loss": 2.0}]
    r = health_record(10, recs, 0.5, None)
    assert (r["d_loss"], r["g_loss"], r["d_real"], r["coverage"]) == (2.0, 2.0, None, None)
    r = health_record(10, [{"d_loss": 1.0}, {"d_loss": float("inf")}], None, None)
    assert r["d_loss"] == float("inf")


def test_alarms_stay_quiet_on_a_healthy_run(tmp_path):
    tr, health, printed = ring_run(tmp_path, collapsed=False)
    assert len(health) == 12 and printed == ""
    assert all(h["alarms"] == [] for h in health)
    assert all(h["coverage"]["covered"] == 8 for h in health)
    assert all(h["coverage"]["high_quality_fraction"] > 0.9 for h in health)
    # G draws the data: D cannot tell, D(G(z)) stays near D(x)
    assert all(abs(h["d_fake"] - h["d_real"]) < 0.1 for h in health)
    # the rows are in metrics.jsonl
    rows = [json.loads(s) for s in (tr.run.path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "health"] == list(range(25, 301, 25))


def test_alarms_fire_on_a_run_made_to_collapse(tmp_path):
    tr, health, printed = ring_run(tmp_path, collapsed=True)
    names = [{a["name"] for a in h["alarms"]} for h in health]
    assert all(h["coverage"]["covered"] == 1 for h in health)
    # collapse: from the warm-up (100 steps) on, every record
    assert [("collapse" in n) for n in names] == [h["step"] >= 100 for h in health]
    # D learns to reject the single point; the minimax G's gradient dies with D(G(z))
    wins = [h for h, n in zip(health, names) if "d_wins" in n]
    assert wins, [(h["d_fake"], h["g_grad_norm"]) for h in health]
    assert all(h["d_fake"] < 0.05 for h in wins)
    assert health[-1]["d_fake"] < 0.05 and "d_wins" in names[-1]
    assert "health alarm at step 100: mode collapse: samples cover 1 of 8 modes" in printed
    assert "D wins outright" in printed


def test_non_finite_loss_is_an_alarm_and_a_health_row(tmp_path):
    calls = {"n": 0}
    ns = get_loss("ns")

    def d_loss(real, fake):
        calls["n"] += 1
        out = ns.d_loss(real, fake)
        return out * float("nan") if calls["n"] == 30 else out

    loss = GANLoss("ns", d_loss, ns.g_loss)
    with pytest.raises(TrainingDiverged):
        ring_run(tmp_path, collapsed=False, loss=loss, steps=100)
    rows = [
        json.loads(s) for s in (tmp_path / "healthy" / "metrics.jsonl").read_text().splitlines()
    ]
    last = [r for r in rows if r["kind"] == "health"][-1]
    assert last["step"] == 29 and [a["name"] for a in last["alarms"]] == ["non_finite"]
    assert "D loss is nan" in last["alarms"][0]["message"]


def test_the_report_follows_the_run_while_it_trains(tmp_path):
    """With report=True the observer rebuilds report.html at each health record."""
    seen = {}

    class Spy:
        def on_log(self, trainer, record):
            page = trainer.run.path / "report.html"
            if trainer.step % 25 == 0:
                seen[trainer.step] = page.read_text(encoding="utf-8")

        def on_train_end(self, trainer, status, error):
            pass

    tg.manual_seed(0)
    pts, _ = toy.ring(512, generator=0)
    obs = RunObserver(every=25, report_every=25, sample_every=50, stream=io.StringIO())
    tr = Trainer(
        RingSampler(),
        MixtureDiscriminator(hidden=16, n_hidden=1),
        "ns",
        pts.numpy(),
        batch_size=64,
        out_dir=tmp_path / "run",
        config={"data": "ring"},
        callbacks=[obs, Spy()],
    )
    tr.train(100, max_steps=75)
    assert sorted(seen) == [25, 50, 75]
    for step, html in seen.items():
        assert f"<dt>step</dt><dd>{step}</dd>" in html
        assert f"No alarm in {step // 25} health record" in html
    # the picture saved at step 50 is in the pages from then on
    assert "step 50</figcaption>" in seen[50] and "step 50</figcaption>" not in seen[25]
