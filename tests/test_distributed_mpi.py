"""Data-parallel training on 2 MPI ranks equals one process on the whole batch.

Each test launches ``mpiexec -n 2`` on tests/distributed_worker.py with a
timeout, so a hang fails the test instead of blocking the suite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name("distributed_worker.py")
SRC = Path(__file__).resolve().parents[1] / "src"
TIMEOUT = 180


def _mpiexec() -> str:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip("mpi4py is not installed (pip install 'tapegrad[mpi]')")
    # The pip MPICH puts mpiexec next to the interpreter.
    here = Path(sys.executable).with_name("mpiexec")
    exe = str(here) if here.exists() else shutil.which("mpiexec")
    if exe is None:
        pytest.skip("no mpiexec found next to the interpreter or on PATH")
    return exe


def _launch(case: str, out: Path, ranks: int = 2) -> subprocess.CompletedProcess:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(SRC))
    cmd = [_mpiexec(), "-n", str(ranks), sys.executable, str(WORKER), case, str(out)]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def _worst(npz: Path) -> tuple[float, int]:
    z = np.load(npz)
    worst, n = 0.0, 0
    for k in z.files:
        if k.startswith("dist/"):
            a, b = z[k], z["ref/" + k[5:]]
            assert a.shape == b.shape, k
            worst = max(worst, float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12)))
            n += 1
    return worst, n


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ddp")
    r = _launch("mlp,gan,wgan_gp,no_sync,sync_bn,control,dcgan", out)
    assert r.returncode == 0, f"mpiexec failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return out


@pytest.mark.parametrize("case", ["mlp", "gan", "wgan_gp", "no_sync"])
def test_two_ranks_match_one_process(trained: Path, case: str) -> None:
    # mlp: SGD with momentum; gan: the MLP GAN with Adam; wgan_gp: gradient
    # penalty (double backward) in every D step; no_sync: gradient accumulation.
    worst, n = _worst(trained / f"{case}.npz")
    assert n >= 4
    assert worst < 1e-5, f"{case}: weights differ by {worst:.3g} of their scale"


def test_dcgan_with_sync_batchnorm_matches_one_process(trained: Path) -> None:
    # float64, so that Adam's normalised first steps do not magnify float32 rounding
    # in the near-zero gradient of the Linear layer that feeds BatchNorm
    worst, n = _worst(trained / "dcgan.npz")
    assert n >= 20
    assert worst < 1e-10, worst


def test_without_averaging_the_weights_differ(trained: Path) -> None:
    worst, _ = _worst(trained / "control.npz")
    assert worst > 1e-3, worst


def test_sync_batchnorm_matches_batchnorm_on_the_whole_batch(trained: Path) -> None:
    worst, n = _worst(trained / "sync_bn.npz")
    assert n == 6
    assert worst < 1e-12, worst


def test_collectives_and_sampler(tmp_path: Path) -> None:
    r = _launch("collectives", tmp_path)
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "collectives.json").read_text())
    assert res["sum"] == [3.0, 3.0, 3.0]
    assert res["max"] == [1]
    assert res["avg"] == [1.0]  # (0 + 2) / 2
    assert res["bcast"] == [11.0]  # rank 1's value
    assert res["gather"] == [[0.0, 0.0], [1.0, -1.0]]
    s = res["sampler"]
    for epoch in ("0", "1"):
        even = s[f"10/False/{epoch}"]
        assert sorted(even[0] + even[1]) == list(range(10))  # each index exactly once
        padded = s[f"11/False/{epoch}"]
        assert len(padded[0]) == len(padded[1]) == 6
        assert set(padded[0] + padded[1]) == set(range(11))
        dropped = s[f"11/True/{epoch}"]
        flat = dropped[0] + dropped[1]
        assert len(flat) == len(set(flat)) == 10
    assert s["10/False/0"] != s["10/False/1"]  # set_epoch reshuffles


def test_a_failing_rank_aborts_the_job(tmp_path: Path) -> None:
    r = _launch("fail", tmp_path)
    assert r.returncode != 0
    err = r.stderr + r.stdout
    assert "deliberate failure on rank 1" in err
    assert "[rank 1/2] uncaught exception, aborting all ranks" in err


def _files(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())


def _weights(run: Path) -> dict[str, np.ndarray]:
    from tapegrad.serialization import load

    state = load(run / "checkpoints" / "last.safetensors")
    return {f"{net}.{k}": np.asarray(v._array) for net in ("G", "D") for k, v in state[net].items()}


def test_tapegrad_train_on_two_ranks_is_one_run(tmp_path: Path) -> None:
    from tapegrad.cli import main

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(SRC))
    args = ["train", "--recipe", "mlp", "--steps", "20", "--batch-size", "32", "--quiet"]
    cmd = [_mpiexec(), "-n", "2", sys.executable, "-m", "tapegrad.cli"]
    r = subprocess.run(
        cmd + args + ["--out", str(tmp_path / "two")],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("run folder:") == 2  # rank 0's two lines only
    assert main(args + ["--out", str(tmp_path / "one")]) == 0
    assert _files(tmp_path / "two") == _files(tmp_path / "one")
    one, two = _weights(tmp_path / "one"), _weights(tmp_path / "two")
    assert one.keys() == two.keys() and len(one) >= 4
    for k, v in one.items():
        if v.dtype.kind == "f":
            rel = np.abs(two[k] - v).max() / max(np.abs(v).max(), 1e-12)
            assert rel < 1e-5, (k, rel)


def test_a_batch_that_does_not_split_is_a_usage_error(tmp_path: Path) -> None:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(SRC))
    cmd = [_mpiexec(), "-n", "2", sys.executable, "-m", "tapegrad.cli", "train", "--steps", "1"]
    cmd += ["--batch-size", "33", "--quiet", "--out", str(tmp_path / "run")]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode != 0
    assert "cannot be split evenly over 2 ranks" in r.stderr
    assert "Traceback" not in r.stderr
