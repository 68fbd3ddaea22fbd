"""Killing real ``tapegrad train``/``resume`` processes: at each fault-injection point
between the writes of a run (``TAPEGRAD_FAULT``) and with SIGKILL at random moments.

After every kill the folder must satisfy the invariant that makes resume exact: the
metrics log's step rows are 1..m with no gap and no repeat, and m reaches at least the
checkpoint's step. After the last resume the weights, optimizer state and log equal
those of an uninterrupted run. SIGTERM and Ctrl-C are checked here too.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.gan.runs import FAULT_EXIT, FAULT_POINTS

STEPS = 16  # 4 epochs of 4 steps
TRAIN = ["--batch-size", "8", "--z-dim", "8", "--steps", str(STEPS), "--quiet"]
CODE = "import sys; from tapegrad.cli import main; sys.exit(main(sys.argv[1:]))"


def _env(fault: str | None = None) -> dict[str, str]:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.pop("TAPEGRAD_FAULT", None)
    if fault:
        env["TAPEGRAD_FAULT"] = fault
    return env


def _start(args: list[str], fault: str | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CODE, *args],
        env=_env(fault),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run(args: list[str], fault: str | None = None) -> tuple[int, str]:
    p = _start(args, fault)
    out, err = p.communicate(timeout=120)
    assert "Traceback" not in err, err
    return p.returncode, out + err


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("data") / "images.npy"
    np.save(p, np.random.default_rng(0).integers(0, 256, (32, 8, 8), dtype=np.uint8))
    return p


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("ref") / "run"
    code, text = _run(["train", "--data", str(data), *TRAIN, "--out", str(run)])
    assert code == 0, text
    return run


def _rows(run: Path) -> list[dict]:
    """The log's complete rows (a last line cut short by a kill is not one)."""
    out = []
    path = run / "metrics.jsonl"
    if not path.exists():
        return out
    for line in path.read_text().splitlines(keepends=True):
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            assert not line.endswith("\n"), f"a damaged line inside the log: {line!r}"
            continue
        r.pop("seconds", None)  # a timing
        out.append(r)
    return out


def _check_consistent(run: Path) -> None:
    """The invariant a kill must leave: log rows 1..m, m >= the checkpoint's step."""
    ckpt = run / "checkpoints" / "last.safetensors"
    if not ckpt.exists():
        return
    step = tg.load(ckpt)["step"]
    steps = [r["step"] for r in _rows(run) if r["kind"] == "step"]
    assert steps == list(range(1, len(steps) + 1)), f"gap or repeat in the log: {steps}"
    assert len(steps) >= step, f"the log ({len(steps)} steps) lost rows of checkpoint {step}"


def _assert_same_as(run: Path, ref: Path, steps: int = STEPS) -> None:
    a = tg.load(run / "checkpoints" / "last.safetensors")
    b = tg.load(ref / "checkpoints" / "last.safetensors")
    assert a["step"] == b["step"] == steps
    for part in ("G", "D"):
        for k in b[part]:
            assert np.array_equal(a[part][k]._array, b[part][k]._array), f"{part}.{k}"
    for opt in ("opt_g", "opt_d"):
        for i, s in b[opt]["state"].items():
            for k, v in s.items():
                got = a[opt]["state"][i][k]
                assert np.array_equal(
                    np.asarray(getattr(got, "data", got)), np.asarray(getattr(v, "data", v))
                )
    assert _rows(run) == _rows(ref)
    assert json.loads((run / "status.json").read_text())["step"] == steps


def _until_done(run: Path, data: Path, fault: str, max_kills: int = 20) -> int:
    """Train, then resume while killed at ``fault`` (at most ``max_kills`` times);
    returns the number of kills."""
    kills = 0
    args = ["train", "--data", str(data), *TRAIN, "--out", str(run)]
    for _ in range(max_kills + 1):
        code, text = _run(args, fault if kills < max_kills else None)
        if code == 0:
            return kills
        assert code == FAULT_EXIT, text
        kills += 1
        _check_consistent(run)
        if (run / "checkpoints" / "last.safetensors").exists():
            args = ["resume", str(run), "--quiet"]
    raise AssertionError("never finished")


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_kill_at_each_fault_point_then_resume(point, data, reference, tmp_path):
    # Each process dies the first time it passes the point (after the log: the second
    # time, else it would never get past its first checkpoint), so every process gets
    # an epoch further. status.json is written once, at the end: one kill there.
    nth = {"after_log": 2, "after_status": 1}.get(point, 1)
    last = point == "after_status"
    kills = _until_done(tmp_path / "run", data, f"{point}:{nth}", 1 if last else 20)
    print(f"{point}: {kills} kills")
    assert kills >= (1 if last else 3)
    _assert_same_as(tmp_path / "run", reference)


def test_random_sigkills_then_resume(data, tmp_path):
    """SIGKILL after a random time, again and again; a run that finishes first is
    checked and a fresh one started, until 8 kills have landed."""
    steps = 40
    train = ["--batch-size", "8", "--z-dim", "8", "--steps", str(steps), "--quiet"]
    ref = tmp_path / "ref"
    code, text = _run(["train", "--data", str(data), *train, "--out", str(ref)])
    assert code == 0, text
    rng = random.Random(0)
    kills = finished = 0
    while kills < 8:
        run = tmp_path / f"run{finished}"
        args = ["train", "--data", str(data), *train, "--out", str(run)]
        while True:
            p = _start(args)
            time.sleep(rng.uniform(0.2, 1.4))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.communicate(timeout=60)
                kills += 1
                _check_consistent(run)
                if (run / "checkpoints" / "last.safetensors").exists():
                    args = ["resume", str(run), "--quiet"]
                if kills < 8:
                    continue
                code, text = _run(["resume" if args[0] == "resume" else "train", *args[1:]])
            else:
                code, text = p.returncode, "".join(p.communicate())
            assert code == 0, text
            _assert_same_as(run, ref, steps)
            finished += 1
            break
    print(f"random: {kills} kills, {finished} runs")


def test_sigterm_saves_and_exits_130_then_resume_finishes(data, tmp_path):
    run = tmp_path / "run"
    args = ["--batch-size", "8", "--z-dim", "8", "--steps", "100000", "--quiet"]
    p = _start(["train", "--data", str(data), *args, "--out", str(run)])
    deadline = time.time() + 60
    while not (run / "checkpoints" / "last.safetensors").exists() and time.time() < deadline:
        assert p.poll() is None, p.communicate()
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted at step" in err and "Traceback" not in err
    _check_consistent(run)
    step = tg.load(run / "checkpoints" / "last.safetensors")["step"]
    assert step == len([r for r in _rows(run) if r["kind"] == "step"])  # the log was flushed
    assert json.loads((run / "status.json").read_text())["status"] == "interrupted"
    code, text = _run(["resume", str(run), "--more", "3", "--quiet"])
    assert code == 0, text
    assert tg.load(run / "checkpoints" / "last.safetensors")["step"] == step + 3
    assert [r["step"] for r in _rows(run) if r["kind"] == "step"] == list(range(1, step + 4))
