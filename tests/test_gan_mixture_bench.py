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
    m = bench.evaluate(x.data, "grid")
    assert m["modes"] == 25
    # P(|N(0, I)| <= 3) = 1 - exp(-4.5) for 2-D noise; 2,500 draws: sd 0.0021
    assert m["high_quality_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.01)
    # multinomial noise alone gives KL about (K - 1) / (2N) = 0.005
    assert 0.0 <= m["reverse_kl"] < 0.03


def test_true_ring_samples_and_a_collapsed_generator():
    x, _ = ring(2500, generator=np.random.default_rng(5))
    m = bench.evaluate(x.data, "ring")
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
    a = bench.parse_args(["--data", "ring,grid", "--pack", "1,2,4", "--losses", "ns,hinge"])
    assert a.data == ["ring", "grid"] and a.pack == [1, 2, 4] and a.losses == ["ns", "hinge"]
