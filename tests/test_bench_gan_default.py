"""benchmarks/gan_default.py: its extra scores, the CPU budget, scoring a run folder.

Runs on the MNIST test split shipped with tapegrad.
"""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tapegrad.cli import main as cli_main
from tapegrad.data import load_mnist_arrays
from tapegrad.gan import metrics as M
from tapegrad.gan.trainer import scale_data

_DIR = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(_DIR))
_spec = importlib.util.spec_from_file_location("gan_default_bench", _DIR / "gan_default.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

TEST, LABELS = load_mnist_arrays(train=False)
REF = TEST[5000:5500]


def test_confidence_and_rarest_class_match_the_classifier():
    x = scale_data(TEST[:400].reshape(-1, 1, 28, 28))
    res = bench.score(bench.Q.Scorer(REF), x)
    p = M.probs(x)  # a second, independent pass through the whole classifier
    assert res["conf09"] == pytest.approx((p.max(axis=1) >= 0.9).mean(), abs=1 / 400)
    hist = np.bincount(p.argmax(axis=1), minlength=10)
    assert res["hist"] == hist.tolist() and sum(res["hist"]) == 400
    assert res["min_class"] == hist.min() / 400
    # real digits: nearly all confidently classified, the rarest digit near 1/10
    assert res["conf09"] > 0.9 and 0.05 < res["min_class"] < 0.1
    noise = np.random.default_rng(0).uniform(-1, 1, (400, 1, 28, 28)).astype(np.float32)
    assert bench.score(bench.Q.Scorer(REF), noise)["conf09"] < res["conf09"]


def test_cpu_budget_stops_the_torch_loop():
    x = scale_data(TEST[:512].reshape(-1, 1, 28, 28))
    _, info = bench.Q.train_torch("mlp", x, 0, epochs=100, batch_size=64, max_cpu_s=1e-9)
    assert info["steps"] == 1 and info["train_cpu_s"] > 0


def test_score_a_run_folder(tmp_path, monkeypatch):
    run = tmp_path / "run"
    args = ["train", "--steps", "2", "--model", "mlp", "--ema", "0.99", "--out", str(run)]
    assert cli_main([*args, "--quiet"]) == 0
    out = tmp_path / "s.json"
    bench.main(["score", str(run), "--n-samples", "200", "--json", str(out)])
    res = json.loads(out.read_text())
    assert res["framework"] == "tapegrad" and res["steps"] == 2 and res["seed"] == 0
    assert res["config"]["recipe"] == "default" and res["config"]["ema"] == 0.99
    assert sum(res["hist"]) == 200 and sum(res["live"]["hist"]) == 200  # EMA and live G
    assert 0 <= res["conf09"] <= 1 and res["fd"] > 0


def test_score_a_conditional_run_asks_for_every_digit(tmp_path):
    run = tmp_path / "c"
    assert cli_main(["train", "--steps", "2", "--out", str(run), "--quiet"]) == 0  # cdcgan
    out = tmp_path / "c.json"
    bench.main(["score", str(run), "--n-samples", "200", "--cpu-s", "12.5", "--json", str(out)])
    res = json.loads(out.read_text())
    assert res["config"]["model"] == "cdcgan" and res["command_cpu_s"] == 12.5
    # the labels asked for are 20 of each digit in order: recompute the agreement
    from tapegrad.gan.runner import open_run

    x = open_run(run).trainer.generate(200).reshape(-1, 1, 28, 28)
    agree = (M.probs(x).argmax(axis=1) == np.repeat(np.arange(10), 20)).mean()
    assert res["label_acc"] == pytest.approx(agree, abs=1 / 200)
