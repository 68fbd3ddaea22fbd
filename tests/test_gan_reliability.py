"""Checkpoints that are damaged, non-finite or old; Ctrl-C while the last pictures are drawn."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.cli import main
from tapegrad.gan.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from tapegrad.gan.models import build_models
from tapegrad.gan.runs import RunDir
from tapegrad.gan.trainer import Trainer, TrainingDiverged

FIXTURE = Path(__file__).parent / "fixtures" / "run_v1"
# G's and D's arrays after the code of that time resumed the fixture to step 5
V1_RESUMED = Path(__file__).parent / "fixtures" / "run_v1_resumed_to_step5.npz"


@pytest.fixture
def old_run(tmp_path) -> Path:
    run = tmp_path / "run_v1"
    shutil.copytree(FIXTURE, run)
    return run


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (32, 1, 8, 8), dtype=np.uint8)


def _trainer(images, out, **kw) -> Trainer:
    tg.manual_seed(0)
    G, D = build_models("mlp", (1, 8, 8), 4, g_hidden=(8,), d_hidden=(8,))
    return Trainer(G, D, "ns", images, batch_size=8, out_dir=out, n_samples=4, **kw)


def test_a_run_folder_of_the_earlier_format_resumes_samples_and_evaluates(old_run, capsys):
    ckpt = old_run / "checkpoints" / "last.safetensors"
    assert "digest" not in tg.load(ckpt)  # written before checkpoints had one
    assert main(["resume", str(old_run), "--steps", "5", "--quiet"]) == 0
    state = load_checkpoint(ckpt)
    assert state["step"] == 5
    with np.load(V1_RESUMED) as expect:
        # the same two steps; a tolerance for other BLAS builds' rounding (a lost Adam
        # state or a misplaced tensor changes the weights by about the learning rate)
        assert sorted(expect) == sorted(f"{p}.{k}" for p in ("G", "D") for k in state[p])
        for name in expect:
            part, key = name.split(".", 1)
            np.testing.assert_allclose(state[part][key]._array, expect[name], rtol=1e-5, atol=1e-7)
    rows = [json.loads(s) for s in (old_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "step"] == [1, 2, 3, 4, 5]
    assert "digest" in tg.load(ckpt)  # rewritten in today's format
    shutil.copytree(FIXTURE / "checkpoints", old_run / "old")
    out = old_run / "pts.npy"
    assert main(["sample", str(old_run / "old" / "last.safetensors"), "--out", str(out)]) == 0
    assert np.load(out).shape == (64, 2)
    assert main(["evaluate", str(old_run), "--n", "200"]) == 0
    assert "step 5" in capsys.readouterr().out


def test_a_run_resumes_to_its_stored_step_target(old_run, capsys):
    """`train --steps 3` stored 3 as the target: plain `resume` has nothing to do, and
    `--steps` is a total, `--more` a count."""
    assert main(["resume", str(old_run), "--quiet"]) == 0
    assert tg.load(old_run / "checkpoints" / "last.safetensors")["step"] == 3
    assert main(["resume", str(old_run), "--more", "2", "--quiet"]) == 0
    assert load_checkpoint(old_run / "checkpoints" / "last.safetensors")["step"] == 5
    assert json.loads((old_run / "config.json").read_text())["run"]["steps"] == 5
    assert main(["resume", str(old_run), "--steps", "4"]) == 2
    err = capsys.readouterr().err
    assert "--steps 4 is the total step target" in err and "already at step 5" in err


def _flip(path: Path, offset_from_end: int) -> None:
    b = bytearray(path.read_bytes())
    b[-offset_from_end] ^= 0x10
    path.write_bytes(bytes(b))


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "is damaged"),
        (lambda p: p.write_bytes(b""), "is damaged: the file is empty"),
        (lambda p: _flip(p, 100), "is damaged: its content does not match the digest"),
        (lambda p: p.write_bytes(b"\x80\x04\x95" + bytes(200)), "is damaged or not a checkpoint"),
        (lambda p: p.write_bytes(b"PK\x03\x04" + bytes(200)), "is damaged or not a checkpoint"),
    ],
    ids=["truncated", "empty", "bit-flipped", "pickle", "zip"],
)
def test_a_damaged_checkpoint_is_named_and_never_loaded(old_run, capsys, damage, message):
    assert main(["resume", str(old_run), "--more", "1", "--quiet"]) == 0  # today's format
    ckpt = old_run / "checkpoints" / "last.safetensors"
    damage(ckpt)
    capsys.readouterr()
    for cmd in (["resume", str(old_run), "--more", "1"], ["sample", str(old_run)]):
        assert main(cmd) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"tapegrad: error: checkpoint {ckpt} ") and message in err, err
        assert len(err.splitlines()) == 1


def test_a_checkpoint_of_another_model_is_refused(old_run, images, tmp_path, capsys):
    other = _trainer(images, tmp_path / "other")
    other.train(epochs=1)
    shutil.copy(tmp_path / "other" / "checkpoints" / "last.safetensors", old_run / "checkpoints")
    assert main(["resume", str(old_run), "--more", "1"]) == 2
    err = capsys.readouterr().err
    assert "does not fit the mixture model" in err and "last.safetensors" in err


def test_nan_in_the_state_is_never_saved(images, tmp_path):
    tr = _trainer(images, tmp_path, ema_decay=0.9)
    tr.train(epochs=1)
    ckpt = tmp_path / "checkpoints" / "last.safetensors"
    before = ckpt.read_bytes()
    name = next(iter(tr.ema))
    tr.ema[name][...] = np.nan  # the EMA: training goes on, nothing but the check notices
    with pytest.raises(TrainingDiverged, match=rf"by step 8 .*ema\.{name} holds NaN"):
        tr.train(epochs=2)
    assert ckpt.read_bytes() == before


def test_sample_refuses_nan_weights_and_train_exits_1_on_divergence(images, tmp_path, capsys):
    data = tmp_path / "x.npy"
    np.save(data, images[:, 0])
    run = tmp_path / "run"
    args = ["--data", str(data), "--batch-size", "8", "--z-dim", "8", "--quiet"]
    assert main(["train", *args, "--steps", "4", "--out", str(run)]) == 0
    ckpt = run / "checkpoints" / "last.safetensors"
    state = load_checkpoint(ckpt)
    key = sorted(state["G"])[0]
    state["G"][key]._array[...] = np.nan
    save_checkpoint(state, ckpt)  # a valid file holding NaN weights
    assert main(["sample", str(run), "--out", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert f"checkpoint {ckpt} holds NaN or infinite weights (G.{key})" in err
    assert not (tmp_path / "s.png").exists()
    # a learning rate far too large: the loss turns NaN in the second epoch
    bad = tmp_path / "bad"
    big = ["--optimizer", "sgd", "--lr-g", "10", "--lr-d", "10", "--steps", "40"]
    with np.errstate(all="ignore"):
        assert main(["train", *args, *big, "--out", str(bad)]) == 1
    err = capsys.readouterr().err
    kept = load_checkpoint(bad / "checkpoints" / "last.safetensors")["step"]
    assert kept % 4 == 0 and kept < 40  # an epoch's end before the divergence
    assert f"the last finite checkpoint (step {kept}) is kept" in err
    assert "training diverged at step " in err and " loss is nan" in err


def test_ctrl_c_while_the_last_pictures_are_drawn_ends_cleanly(images, tmp_path, monkeypatch):
    plot = RunDir.save_curves

    def interrupted(self):
        if tr.step == 6:  # the final pictures (6 is inside the second epoch)
            signal.raise_signal(signal.SIGINT)
        plot(self)

    monkeypatch.setattr(RunDir, "save_curves", interrupted)
    tr = _trainer(images, tmp_path)
    assert tr.train(epochs=3, max_steps=6) == "interrupted"
    assert load_checkpoint(tmp_path / "checkpoints" / "last.safetensors")["step"] == 6
    rows = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "step"] == [1, 2, 3, 4, 5, 6]
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]  # nothing half-written
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_callbacks_see_every_logged_record(images):
    seen = []
    tr = _trainer(images, None, log_every=2, callbacks=[lambda t, r: seen.append((t.step, r))])
    tr.train(epochs=2)
    kinds = [(s, r["kind"]) for s, r in seen]
    assert kinds == [(2, "step"), (4, "step"), (4, "epoch"), (6, "step"), (8, "step"), (8, "epoch")]


def test_callback_objects_see_step_records_and_the_end(images, tmp_path):
    class Observer:
        def __init__(self):
            self.steps, self.ends = [], []

        def on_log(self, trainer, record):
            self.steps.append(record["step"])

        def on_train_end(self, trainer, status, error):
            self.ends.append((trainer.step, status, error))

    obs = Observer()
    tr = _trainer(images, tmp_path, callbacks=[obs])
    assert tr.train(epochs=2, max_steps=6) == "max_steps"
    assert obs.steps == [1, 2, 3, 4, 5, 6] and obs.ends == [(6, "max_steps", None)]
    tr.ema = {"x": np.array([np.nan], np.float32)}  # caught at the next checkpoint
    with pytest.raises(TrainingDiverged) as e:
        tr.train(epochs=2)
    assert obs.ends[-1] == (8, "diverged", e.value)


def test_checkpoint_error_names_a_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=f"no checkpoint file at {tmp_path / 'x'}"):
        load_checkpoint(tmp_path / "x")
