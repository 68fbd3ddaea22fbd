"""The PyTorch ports in examples/pytorch_ports: each runs briefly under tapegrad (on
IDX files cut from the shipped MNIST test split), the same few steps under PyTorch
land near it, and nothing outside the import block names tapegrad."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tapegrad.data import load_mnist_arrays

PORTS = Path(__file__).resolve().parents[1] / "examples" / "pytorch_ports"


def _write_idx(path, arr):
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("mnist_idx")
    x, y = load_mnist_arrays(train=False)
    _write_idx(d / "train-images-idx3-ubyte.gz", x[:384])
    _write_idx(d / "train-labels-idx1-ubyte.gz", y[:384])
    _write_idx(d / "t10k-images-idx3-ubyte.gz", x[384:640])
    _write_idx(d / "t10k-labels-idx1-ubyte.gz", y[384:640])
    return d


def _run(script, backend, idx_dir, tmp_path, *extra):
    out = tmp_path / f"{script}-{backend}.json"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    cmd = [
        sys.executable,
        str(PORTS / f"{script}.py"),
        "--backend",
        backend,
        "--data",
        str(idx_dir),
        "--epochs",
        "1",
        "--json",
        str(out),
        *extra,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text()), proc.stdout


def test_mnist_port_runs_under_tapegrad(idx_dir, tmp_path):
    res, log = _run("mnist", "tapegrad", idx_dir, tmp_path, "--steps", "4")
    assert res["train_steps_last_epoch"] == 4
    assert "Test set: Average loss" in log
    # 4 Adadelta steps (lr 1.0) already beat chance on the held-out images
    assert res["test_accuracy"] > 0.2 and np.isfinite(res["test_loss"])


def test_dcgan_port_runs_under_tapegrad(idx_dir, tmp_path):
    grid = tmp_path / "fake.png"
    res, log = _run(
        "dcgan",
        "tapegrad",
        idx_dir,
        tmp_path,
        "--steps",
        "2",
        "--grid",
        str(grid),
        "--batch-size",
        "64",
    )
    assert res["steps"] == 2 and "Loss_D" in log
    assert 0 < res["last_100_D_x"] < 1 and np.isfinite(res["last_100_loss_G"])
    from PIL import Image

    assert Image.open(grid).size == (8 * 30 + 2, 8 * 30 + 2)  # 64 samples, 8 per row


@pytest.mark.parametrize("script", ["mnist", "dcgan"])
def test_only_the_imports_name_tapegrad(script):
    lines = (PORTS / f"{script}.py").read_text().splitlines()
    start = lines.index(
        "# ---- the only lines that differ from PyTorch's "
        + ("example: the imports ----" if script == "mnist" else "tutorial: the imports ----")
    )
    end = lines.index("# " + "-" * 73)
    outside = lines[:start] + lines[end + 1 :]
    assert not [
        ln
        for ln in outside
        if "tapegrad" in ln
        and not ln.lstrip().startswith(
            ("python examples", "_pre.add_argument", "BACKEND", '"""', "#")
        )
        and "--backend" not in ln
    ]
