"""benchmarks/gan_mixture.py: a tiny end-to-end run, and the evaluation on true samples."""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from tapegrad.data import grid, grid_modes, ring

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "gan_mixture.py"
_spec = importlib.util.spec_from_file_location("gan_mixture_bench", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

TINY = ["--seeds", "1", "--steps", "4", "--batch-size", "16", "--n-data", "256"]
TINY += ["--n-eval", "500", "--quiet"]


@pytest.mark.parametrize("data,loss,pack,k", [("grid", "ns", 2, 25), ("ring", "wgan-gp", 1, 8)])
def test_tiny_run_is_well_formed(tmp_path, data, loss, pack, k):
    out = tmp_path / "r.json"
    res = bench.main(
        ["--data", data, "--losses", loss, "--pack", str(pack), "--json", str(out), *TINY]
    )
    (row,) = res["rows"]
    assert (row["data"], row["loss"], row["pack"], row["steps"]) == (data, loss, pack, 4)
    (run,) = row["runs"]
    (saved,) = json.loads(out.read_text())["rows"][0]["runs"]  # strict JSON: NaN -> null
    kl = saved.pop("reverse_kl")
    assert kl == run["reverse_kl"] or (kl is None and math.isnan(run["reverse_kl"]))
    assert saved == {k: v for k, v in run.items() if k != "reverse_kl"}
    assert run["steps"] == 4 and run["status"] == "ok"
    assert isinstance(run["modes"], int) and 0 <= run["modes"] <= k
    assert 0.0 <= run["high_quality_fraction"] <= 1.0
    # an untrained G puts points near the origin: the centre grid mode, or none of the ring's
    if data == "grid":
        assert run["modes"] >= 1 and math.isfinite(run["reverse_kl"])
        assert 0.0 <= run["reverse_kl"] <= math.log(25) + 1e-12
    assert run["seconds"] > 0
    for key in ("modes", "high_quality_fraction", "seconds"):
        mean, std = row["summary"][key]
        assert mean == pytest.approx(run[key]) and std == 0.0
    assert data in bench.format_table(res["rows"])


def test_true_grid_samples_capture_all_25_modes():
    x, _ = grid(2500, generator=np.random.default_rng(123))
    m = bench.evaluate(x._array, "grid")
    assert m["modes"] == 25
    # P(|N(0, I)| <= 3) = 1 - exp(-4.5) for 2-D noise; 2,500 draws: sd 0.0021
    assert m["high_quality_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    # multinomial noise alone gives KL about (K - 1) / (2N) = 0.005
    assert 0.0 <= m["reverse_kl"] < 0.03


def test_true_ring_samples_and_a_collapsed_generator():
    x, _ = ring(2500, generator=np.random.default_rng(5))
    m = bench.evaluate(x._array, "ring")
    assert m["modes"] == 8 and m["reverse_kl"] < 0.02
    # exactly on 5 grid modes, evenly: 5 modes, all high quality, KL = log(25 / 5)
    pts = np.repeat(grid_modes()[[0, 3, 7, 12, 24]], 100, axis=0)
    pts[0] = np.nan  # a non-finite point counts as low quality
    m = bench.evaluate(pts, "grid")
    assert m["modes"] == 5
    assert m["high_quality_fraction"] == pytest.approx(499 / 500)
    counts = np.array([99, 100, 100, 100, 100]) / 499
    assert m["reverse_kl"] == pytest.approx(float(np.sum(counts * np.log(counts * 25))))


def test_bad_arguments_are_rejected():
    with pytest.raises(SystemExit):
        bench.parse_args(["--data", "spiral"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--losses", "ns,nope"])
    bads = (["--anneal", "1.5"], ["--g-hidden", "0"], ["--n-critic", "0"], ["--init", "x"])
    for bad in bads + (["--ema", "1.0"],):
        with pytest.raises(SystemExit):
            bench.parse_args(bad)
    a = bench.parse_args(["--data", "ring,grid", "--pack", "1,2,4", "--losses", "ns,hinge"])
    assert a.data == ["ring", "grid"] and a.pack == [1, 2, 4] and a.losses == ["ns", "hinge"]
    # the defaults are the paper's protocol
    assert (a.g_hidden, a.g_layers, a.d_hidden, a.d_layers) == (400, 4, 200, 3)
    assert (a.lr, a.beta1, a.beta2, a.lr_d) == (1e-4, 0.8, 0.999, None)
    assert (a.init, a.anneal, a.n_critic, a.batch_size) == ("dcgan", 0.0, 1, 100)


def test_recipe_options_reach_the_models_and_optimisers(monkeypatch):
    made = {}
    real_trainer = bench.Trainer

    def spy(G, D, loss, data, **kw):
        made.update(G=G, D=D, kw=kw)
        return real_trainer(G, D, loss, data, **kw)

    monkeypatch.setattr(bench, "Trainer", spy)
    r = bench.run_one(
        "ring", "hinge", 2, 0, steps=6, batch_size=8, n_data=64, n_eval=50, lr=1e-3,
        beta1=0.0, beta2=0.9, lr_d=3e-3, g_hidden=16, g_layers=2, d_hidden=12, d_layers=1,
        init="default", anneal=0.5, n_critic=2, ema=0.9,
    )  # fmt: skip
    assert r["status"] == "ok" and r["steps"] == 6
    G, D, kw = made["G"], made["D"], made["kw"]
    assert kw["ema_decay"] == 0.9
    widths = [p.shape for n, p in G.named_parameters() if n.endswith("weight") and p.ndim == 2]
    assert widths == [(16, 2), (16, 16), (2, 16)]
    d_widths = [p.shape for n, p in D.named_parameters() if n.endswith("weight")]
    assert d_widths == [(12, 4), (1, 12)] and D.pack == 2
    assert kw["lr_g"] == 1e-3 and kw["lr_d"] == 3e-3 and kw["n_critic"] == 2
    assert tuple(kw["betas_g"]) == (0.0, 0.9) == tuple(kw["betas_d"])
    # Kaiming-uniform init: |w| <= 1 / sqrt(fan_in) (dcgan's N(0, 0.02) would break the
    # bound only by chance, but its spread is far smaller: check that too)
    w0 = D.features[0].weight.data
    assert np.abs(w0).max() <= 1 / np.sqrt(4) and w0.std() > 0.1
    with pytest.raises(ValueError, match="init"):
        bench.run_one("ring", "ns", 1, 0, steps=1, init="xavier")
    assert any(type(m).__name__ == "BatchNorm1d" for m in G.modules())


def test_g_batch_norm_off_reaches_the_generator(monkeypatch):
    made = {}
    real_trainer = bench.Trainer

    def spy(G, D, loss, data, **kw):
        made["G"] = G
        return real_trainer(G, D, loss, data, **kw)

    monkeypatch.setattr(bench, "Trainer", spy)
    args = ["--data", "grid", "--seeds", "1", "--steps", "2", "--batch-size", "8"]
    args += ["--n-data", "64", "--n-eval", "40", "--g-hidden", "8", "--g-layers", "2"]
    out = bench.main([*args, "--g-batch-norm", "off", "--quiet"])
    G = made["G"]
    assert not any(type(m).__name__ == "BatchNorm1d" for m in G.modules())
    # without BatchNorm the hidden layers carry biases
    assert [n for n, _ in G.named_parameters()] == [
        "net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias", "net.4.weight", "net.4.bias",
    ]  # fmt: skip
    assert out["config"]["g_batch_norm"] == "off"


def test_json_into_a_missing_folder_is_refused_before_training(tmp_path, capsys, monkeypatch):
    def no_training(*a, **k):
        raise AssertionError("trained although --json cannot be written")

    monkeypatch.setattr(bench, "run_one", no_training)
    target = tmp_path / "missing" / "out.json"
    with pytest.raises(SystemExit) as e:
        bench.main(["--seeds", "1", "--steps", "1", "--json", str(target), "--quiet"])
    assert e.value.code == 2
    assert f"folder {target.parent} does not exist" in capsys.readouterr().err
    assert not target.parent.exists()
    # an existing folder is accepted and gets a complete file
    monkeypatch.undo()
    out = tmp_path / "out.json"
    args = ["--data", "ring", "--seeds", "1", "--steps", "1", "--batch-size", "8", "--n-data"]
    args += ["64", "--n-eval", "20", "--g-hidden", "8", "--g-layers", "1", "--quiet"]
    bench.main([*args, "--json", str(out)])
    assert json.loads(out.read_text())["rows"][0]["runs"][0]["steps"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temporary file left
