"""`tapegrad train --tensorboard`: the run's scalars and sample pictures read back from
the event files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tapegrad.cli import main

pytest.importorskip("tensorboardX", reason="tensorboardX is not installed (the tensorboard extra)")

from tapegrad.explain.tensorboard import read_events  # noqa: E402


@pytest.mark.parametrize("data,steps", [("mnist", 30), ("ring", 40)])
def test_tensorboard_events_read_back(tmp_path, data, steps):
    run = tmp_path / "run"
    args = ["train", "--data", data, "--steps", str(steps), "--out", str(run), "--quiet"]
    assert main([*args, "--tensorboard"]) == 0
    rows = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    steps_ = [r for r in rows if r["kind"] == "step"]
    ev = read_events(run / "tensorboard")
    for key, tag in (
        ("d_loss", "loss/D"),
        ("g_loss", "loss/G"),
        ("d_real", "D_output/real"),
        ("d_fake", "D_output/fake"),
    ):
        got = ev[tag]
        assert [s for s, _ in got] == [r["step"] for r in steps_]
        want = np.array([r[key] for r in steps_], dtype=np.float32)  # events hold float32
        np.testing.assert_array_equal(np.array([v for _, v in got], np.float32), want)
    (health,) = [r for r in rows if r["kind"] == "health"]
    assert ev["grad_norm/G"] == [(steps, pytest.approx(health["g_grad_norm"], rel=1e-6))]
    assert ev["grad_norm/D"] == [(steps, pytest.approx(health["d_grad_norm"], rel=1e-6))]
    cov = health["coverage"]
    assert ev["coverage/covered"] == [(steps, cov["covered"])]
    assert ev["coverage/kl_to_uniform"] == [(steps, pytest.approx(cov["kl_to_uniform"], 1e-6))]
    # the sample picture is the one the run folder holds for the same step
    ((step, pixels),) = ev["samples"]
    with Image.open(run / "samples" / f"step_{steps:06d}.png") as im:
        want_px = np.asarray(im.convert("RGB" if pixels.ndim == 3 else "L"))
    assert step == steps
    np.testing.assert_array_equal(pixels, want_px)


def test_read_events_rejects_a_truncated_file(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--data", "ring", "--steps", "3", "--out", str(run), "--quiet",
                 "--tensorboard"]) == 0  # fmt: skip
    (f,) = (run / "tensorboard").glob("events.out.tfevents.*")
    f.write_bytes(f.read_bytes()[:-7])
    with pytest.raises(ValueError, match="truncated record"):
        read_events(run / "tensorboard")
    with pytest.raises(FileNotFoundError, match="no TensorBoard event files"):
        read_events(tmp_path)
