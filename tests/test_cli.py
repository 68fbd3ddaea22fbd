"""The ``tapegrad`` command: train, sample, resume, evaluate, and bad-input errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import tapegrad as tg
from tapegrad.cli import DEFAULT_STEPS, main
from tapegrad.gan.losses import LOSSES
from tapegrad.gan.models import MODELS


def test_train_sample_resume_evaluate(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--steps", "3", "--out", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"run folder: {run}" in out
    # the defaults are the seed's MNIST GAN
    cfg = json.loads((run / "config.json").read_text())["cli"]
    assert (cfg["model"], cfg["loss"], cfg["data"]) == ("mlp", "ns", "mnist")
    assert cfg["lr_g"] == cfg["lr_d"] == 2e-4 and cfg["betas_g"] == [0.5, 0.999]
    assert cfg["batch_size"] == 64 and cfg["z_dim"] == 100
    n_train = 60000 if "training split" in out else 10000
    assert cfg["epochs"] == round(DEFAULT_STEPS / (n_train // 64))
    assert tg.load(run / "checkpoints" / "last.safetensors")["step"] == 3
    # a run stopped inside an epoch still shows its samples
    with Image.open(run / "samples" / "step_000003.png") as im:
        assert im.size[0] > 28 and np.asarray(im).std() > 0

    png = tmp_path / "grid.png"
    assert main(["sample", str(run), "--n", "16", "--out", str(png)]) == 0
    with Image.open(png) as im:
        assert im.size == (4 * 30 + 2, 4 * 30 + 2) and im.mode == "L"
    npy = tmp_path / "s.npy"
    ckpt = run / "checkpoints" / "last.safetensors"
    assert main(["sample", str(ckpt), "--n", "5", "--format", "npy", "--out", str(npy)]) == 0
    arr = np.load(npy)
    assert arr.shape == (5, 28, 28) and arr.dtype == np.float32
    assert arr.min() >= 0.0 and arr.max() <= 1.0 and arr.std() > 0

    assert main(["resume", str(run), "--steps", "5", "--quiet"]) == 0
    assert tg.load(ckpt)["step"] == 5
    recs = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [1, 2, 3, 4, 5]
    capsys.readouterr()

    assert main(["evaluate", str(run), "--n", "200"]) == 0
    text = capsys.readouterr().out
    res = json.loads(text[text.index("{") :])
    assert res["step"] == 5 and res["n_samples"] == 200
    assert -1.0 <= res["sample_min"] <= res["sample_max"] <= 1.0
    if "fid_mnist_test" in res:  # metrics present: a barely trained G is far from MNIST
        assert res["fid_mnist_test"] > 10.0
    assert json.loads((run / "evaluation.json").read_text()) == res


def test_toy_data_and_npy_folder_inputs(tmp_path, capsys):
    run = tmp_path / "ring"
    assert main(["train", "--data", "ring", "--steps", "2", "--out", str(run), "--quiet"]) == 0
    assert json.loads((run / "config.json").read_text())["cli"]["model"] == "mixture"
    out = tmp_path / "pts.npy"
    assert main(["sample", str(run), "--n", "7", "--format", "npy", "--out", str(out)]) == 0
    assert np.load(out).shape == (7, 2)

    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    r2 = tmp_path / "folder-run"
    args = ["train", "--data", str(folder), "--batch-size", "4", "--steps", "2", "--quiet"]
    assert main([*args, "--out", str(r2)]) == 0
    npy = tmp_path / "c.npy"
    assert main(["sample", str(r2), "--n", "3", "--format", "npy", "--out", str(npy)]) == 0
    assert np.load(npy).shape == (3, 3, 16, 16)

    data = tmp_path / "d.npy"
    np.save(data, rng.random((8, 16, 16)).astype(np.float32))
    args = ["train", "--model", "dcgan", "--data", str(data), "--batch-size", "4", "--steps", "1"]
    assert main([*args, "--out", str(tmp_path / "npy-run"), "--quiet"]) == 0


@pytest.fixture
def odd_size_npy(tmp_path):
    p = tmp_path / "odd.npy"
    np.save(p, np.zeros((8, 1, 30, 30), np.float32))
    return p


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", "nope"], "unknown model 'nope'; valid models: " + ", ".join(MODELS)),
        (["--loss", "nope"], "unknown loss 'nope'; valid losses: " + ", ".join(LOSSES)),
        (["--data", "/no/such/folder"], "dataset not found"),
        (["--data", "/no/such/file.npy"], "dataset not found: no file"),
        (["--model", "dcgan", "--data", "ODD"], "image size 30 is not supported"),
        (["--model", "cgan-mlp", "--data", "ODD"], "conditional and needs labelled data"),
        (["--batch-size", "0"], "--batch-size must be positive"),
    ],
)
def test_bad_input_exits_2(tmp_path, capsys, odd_size_npy, args, message):
    args = [str(odd_size_npy) if a == "ODD" else a for a in args]
    out = tmp_path / "run"
    assert main(["train", *args, "--out", str(out), "--steps", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tapegrad: error:") and message in err
    assert not (out / "checkpoints" / "last.safetensors").exists()


def test_missing_run_exits_2(tmp_path, capsys):
    for cmd in (["sample", str(tmp_path / "x")], ["evaluate", str(tmp_path)], ["resume", "nope"]):
        assert main(cmd) == 2
        assert "tapegrad: error:" in capsys.readouterr().err


def test_subprocess_exit_code_and_stderr(tmp_path):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    code = "import sys; from tapegrad.cli import main; sys.exit(main(sys.argv[1:]))"
    p = subprocess.run(
        [sys.executable, "-c", code, "train", "--loss", "bogus", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert p.returncode == 2
    assert "unknown loss 'bogus'" in p.stderr and "hinge" in p.stderr and p.stdout == ""
