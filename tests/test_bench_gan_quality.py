"""benchmarks/gan_quality.py: the two training loops, the shared metric pipeline, the verdict.

Runs on the MNIST test split shipped with tapegrad (no download, no shared folder):
its first 512 images stand in for the training set, later ones for the reference set.
"""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import tapegrad
from tapegrad.data import load_mnist_arrays
from tapegrad.gan import metrics as M
from tapegrad.gan.trainer import scale_data

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "gan_quality.py"
_spec = importlib.util.spec_from_file_location("gan_quality_bench", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

TEST, _ = load_mnist_arrays(train=False)
X_TINY = scale_data(TEST[:512].reshape(-1, 1, 28, 28))
REF = TEST[5000:5500]


def _to_torch(G_tg, G_t):
    """Copy tapegrad's weights (and BatchNorm buffers) into the PyTorch twin."""
    state = {k: torch.from_numpy(np.array(v.numpy())) for k, v in G_tg.state_dict().items()}
    G_t.load_state_dict(state, strict=True)


@pytest.mark.parametrize("recipe", ["mlp", "dcgan"])
def test_torch_models_are_tapegrad_models(recipe):
    G, D = bench.tapegrad_models(recipe, 0)
    Gt, Dt = bench.torch_models(recipe, 0)
    _to_torch(G, Gt)
    _to_torch(D, Dt)
    z = np.random.default_rng(1).standard_normal((16, 100)).astype(np.float32)
    with tapegrad.no_grad(), torch.no_grad():
        for train in (True, False):  # BatchNorm: batch statistics, then running ones
            for m in (G, D, Gt, Dt):
                m.train(train)
            x = G(tapegrad.as_tensor(z))
            xt = Gt(torch.from_numpy(z))
            np.testing.assert_allclose(x.numpy(), xt.numpy(), rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(D(x).numpy(), Dt(xt).numpy(), rtol=1e-4, atol=1e-5)
    if recipe == "dcgan":  # both sides drew the DCGAN init: N(0, 0.02), BN weights N(1, 0.02)
        for model in (G, D, Gt, Dt):
            for k, v in model.state_dict().items():
                a = np.asarray(v.numpy(), dtype=np.float64)
                if k.endswith("weight") and a.size > 1000:
                    assert abs(a.std() - 0.02) < 0.002, k
                elif k.endswith("bias"):
                    assert np.all(a == 0), k


@pytest.mark.parametrize("framework", ["tapegrad", "torch"])
def test_training_loops_update_both_players(framework):
    G, info = bench.TRAIN[framework]("mlp", X_TINY, 3, epochs=2, batch_size=128, max_steps=6)
    assert info["steps"] == 6 and info["status"] == "ok"  # 4 steps per epoch: crosses one
    assert math.isfinite(info["d_loss"]) and math.isfinite(info["g_loss"])
    G0 = (bench.tapegrad_models if framework == "tapegrad" else bench.torch_models)("mlp", 3)[0]
    for (k, a), b in zip(G.state_dict().items(), G0.state_dict().values(), strict=True):
        assert not np.allclose(a.numpy(), b.numpy()), k
    s = bench.SAMPLE[framework](G, 70, 0, batch_size=32)
    assert s.shape == (70, 1, 28, 28) and s.dtype == np.float32
    assert np.all(np.abs(s) <= 1.0)


@pytest.fixture(scope="module")
def scorer():
    return bench.Scorer(REF)


def test_metric_is_the_same_for_torch_and_tapegrad_arrays(scorer):
    G, _ = bench.tapegrad_models("mlp", 0)
    Gt, _ = bench.torch_models("mlp", 0)
    _to_torch(G, Gt)
    z = np.random.default_rng(2).standard_normal((500, 100)).astype(np.float32)
    with tapegrad.no_grad(), torch.no_grad():
        a = G(tapegrad.as_tensor(z)).numpy()
        b = Gt(torch.from_numpy(z)).numpy()
    # one array, handed over by either library: the very same numbers
    via_tg = scorer.score(tapegrad.tensor(a).numpy())
    via_torch = scorer.score(torch.from_numpy(a.copy()).numpy())
    assert via_tg == via_torch
    # the twins' outputs differ by float32 rounding only, and so do their scores
    other = scorer.score(b)
    assert other["fd"] == pytest.approx(via_tg["fd"], rel=1e-5)
    assert other["modes"] == via_tg["modes"]


def test_fd_separates_real_images_from_noise(scorer):
    real = scorer.score(scale_data(TEST[6000:6500].reshape(-1, 1, 28, 28)))
    noise = np.random.default_rng(0).uniform(-1, 1, (500, 1, 28, 28)).astype(np.float32)
    fake = scorer.score(noise)
    assert real["fd"] < 0.05 * fake["fd"]
    assert real["modes"] == 10 and real["kl"] < 0.05
    assert real["kid"] < 0.2 * fake["kid"]  # KID of 500 real images is noisy (about +-1000)
    # the digits come from the classifier's head on the features: the same as predict()
    feats = M.features(TEST[:300])
    np.testing.assert_array_equal(bench.Scorer.predict_from_features(feats), M.predict(TEST[:300]))


def test_tiny_study_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bench, "load_data", lambda root, n_train=None: (X_TINY, REF))
    out = tmp_path / "q.json"
    argv = ["--recipes", "mlp,dcgan", "--seeds", "0,1", "--epochs", "1", "--max-steps", "2"]
    argv += ["--batch-size", "16", "--n-samples", "300", "--json", str(out), "--quiet"]
    res = bench.main(argv)
    assert len(res["runs"]) == 8
    for r in res["runs"]:
        assert r["steps"] == 2 and r["status"] == "ok" and math.isfinite(r["fd"])
        assert 0 <= r["modes"] <= 10 and r["fd"] > 0
    saved = json.loads(out.read_text())
    assert saved["runs"] == json.loads(json.dumps(res["runs"]))
    assert [(r["recipe"], r["framework"]) for r in saved["rows"]] == [
        ("mlp", "tapegrad"), ("mlp", "torch"), ("dcgan", "tapegrad"), ("dcgan", "torch")
    ]  # fmt: skip
    fd = [r["fd"] for r in res["runs"] if r["recipe"] == "mlp" and r["framework"] == "torch"]
    mean, std = res["rows"][1]["summary"]["fd"]
    assert mean == pytest.approx(np.mean(fd)) and std == pytest.approx(np.std(fd, ddof=1))
    assert [v["recipe"] for v in res["verdicts"]] == ["mlp", "dcgan"]
    bench.main(["--from-json", str(out)])
    assert "mlp: FD gap tapegrad - torch" in capsys.readouterr().out


def _rows(tg, pt):
    return [
        {"recipe": "mlp", "framework": "tapegrad", "summary": {"fd": tg}},
        {"recipe": "mlp", "framework": "torch", "summary": {"fd": pt}},
    ]


@pytest.mark.parametrize(
    "tg,pt,within,word",
    [
        ((10.0, 1.0), (9.2, 0.5), True, "within spread"),  # gap 0.8 <= max std 1.0
        ((10.0, 0.2), (9.2, 0.5), False, "WORSE"),  # gap 0.8 > 0.5
        ((8.0, 0.1), (9.2, 0.1), True, "lower FD"),  # lower is always fine
    ],
)
def test_verdict_rule(tg, pt, within, word):
    v = bench.verdict(_rows(tg, pt), "mlp")
    assert v["within"] is within and word in v["text"]
    assert v["gap"] == pytest.approx(tg[0] - pt[0])
    assert bench.verdict(_rows(tg, pt)[:1], "mlp") is None
