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
import tapegrad.data
from tapegrad.cli import DEFAULT_STEPS, main
from tapegrad.gan import metrics
from tapegrad.gan.losses import LOSSES
from tapegrad.gan.models import MODELS
from tapegrad.gan.runner import open_run


def _row(table: str, label: str) -> list[str]:
    """The cells of the table line that starts with ``label``."""
    line = next(ln for ln in table.splitlines() if ln.startswith(label + " "))
    return line[len(label) :].split()


def test_train_sample_resume_evaluate(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--steps", "3", "--out", str(run), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"run folder: {run}" in out
    # the defaults are the `default` recipe: the half-width conditional DCGAN
    cfg = json.loads((run / "config.json").read_text())["run"]
    assert (cfg["model"], cfg["loss"], cfg["data"]) == ("cdcgan", "ns", "mnist")
    assert cfg["model_kwargs"] == {"ngf": 32, "ndf": 32} and cfg["recipe"] == "default"
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
    assert [r["step"] for r in recs if r["kind"] == "step"] == [1, 2, 3, 4, 5]
    capsys.readouterr()

    assert main(["evaluate", str(run), "--n", "200", "--json"]) == 0
    text = capsys.readouterr().out
    res = json.loads(text[text.index("{") :])
    assert res["step"] == 5 and res["n_samples"] == 200
    assert -1.0 <= res["sample_min"] <= res["sample_max"] <= 1.0
    assert json.loads((run / "evaluation.json").read_text()) == res
    # a barely trained G is far from MNIST
    m = res["metrics"]
    assert m["fid"] > 10.0 and 0 <= m["precision"] <= 1 and m["kl_to_uniform"] > 0.01
    # the reference points are those shipped in reference_v1.json, in the JSON and the table
    ref = metrics.reference()
    assert res["reference"]["rows"] == ref["rows"]
    assert res["reference"]["classifier"] == ref["classifier"]["version"] == metrics.VERSION
    assert res["reference"]["n"] == 10000
    table = text[: text.index("{")]
    floor = ref["rows"]["real test images (floor)"]
    fd, kid = _row(table, "real test images (floor)")[:2]
    assert (fd, kid) == (f"{floor['fid']:.3f}", f"{floor['kid']:.1f}")
    assert "gaussian blur sigma 1" in table and "with 10,000 per set, this with 200" in table


@pytest.mark.filterwarnings("ignore:frechet_distance")
def test_image_metrics_match_an_independent_computation(tmp_path, capsys):
    """evaluate's numbers for 28x28 data other than MNIST: FD, KID, precision/recall,
    modes and KL against the training data, recomputed here from `sample`'s images."""
    data = tmp_path / "d.npy"
    x, _ = tg.data.load_mnist_arrays(train=False)
    np.save(data, x[:40])
    run = tmp_path / "run"
    args = ["train", "--data", str(data), "--batch-size", "8", "--steps", "2", "--out", str(run)]
    assert main([*args, "--quiet"]) == 0
    assert main(["evaluate", str(run), "--seed", "3", "--json"]) == 0
    text = capsys.readouterr().out
    res = json.loads(text[text.index("{") :])
    assert res["n_samples"] == 40 and "reference" not in res  # MNIST's references only
    npy = tmp_path / "s.npy"
    assert (
        main(["sample", str(run), "--n", "40", "--seed", "3", "--format", "npy", "--out", str(npy)])
        == 0
    )
    fake = np.load(npy)  # in [0, 1]
    ff = metrics.features(fake, input_range=(0, 1))
    fr = metrics.features(x[:40])
    k = metrics.kid(fr, ff, n_subsets=100, subset_size=40)
    expect = {
        "fid": metrics.frechet_distance(fr, ff),
        "kid": k.mean,
        "kid_std": k.std,
        **metrics.precision_recall(fr, ff, k=3),
        "modes": metrics.modes_covered(metrics.predict(fake, input_range=(0, 1)), n_classes=10),
        "kl_to_uniform": metrics.kl_to_uniform(metrics.predict(fake, input_range=(0, 1)), 10),
    }
    assert res["metrics"].keys() == expect.keys()
    for key, v in expect.items():
        assert res["metrics"][key] == pytest.approx(v, rel=1e-4, abs=1e-6), key
    assert (
        metrics.predict_from_features(ff).tolist()
        == metrics.predict(fake, input_range=(0, 1)).tolist()
    )


def test_toy_data_and_npy_folder_inputs(tmp_path, capsys):
    run = tmp_path / "ring"
    assert main(["train", "--data", "ring", "--steps", "2", "--out", str(run), "--quiet"]) == 0
    assert json.loads((run / "config.json").read_text())["run"]["model"] == "mixture"
    out = tmp_path / "pts.npy"
    assert main(["sample", str(run), "--n", "7", "--format", "npy", "--out", str(out)]) == 0
    assert np.load(out).shape == (7, 2)
    capsys.readouterr()
    # the PacGAN metrics of `sample`'s points, beside the paper's result and real samples
    for data, paper_row, paper in [
        ("ring", "PacGAN2 on the ring (paper)", (7.9, 0.956, None)),
        ("grid", "PacGAN4 on the grid (paper)", (24.8, 0.936, 0.04)),
    ]:
        r = tmp_path / f"{data}-eval"
        assert main(["train", "--data", data, "--steps", "2", "--out", str(r), "--quiet"]) == 0
        capsys.readouterr()
        assert main(["evaluate", str(r), "--n", "300", "--json"]) == 0
        text = capsys.readouterr().out
        res = json.loads(text[text.index("{") :])
        pts = tmp_path / f"{data}.npy"
        assert main(["sample", str(r), "--n", "300", "--format", "npy", "--out", str(pts)]) == 0
        modes, std = (
            (tg.data.ring_modes(), 0.01) if data == "ring" else (tg.data.grid_modes(), 0.05)
        )
        expect = metrics.mixture_metrics(np.load(pts), modes, std)
        if np.isnan(expect["reverse_kl"]):  # no high-quality point: null in strict JSON
            expect["reverse_kl"] = None
        assert res["metrics"] == pytest.approx(expect)
        rows = res["reference"]["rows"]
        # Lin et al. 2018, Table 1 (docs/gan_mixture.md)
        keys = ("modes", "high_quality_fraction", "reverse_kl")
        assert rows[paper_row] == dict(zip(keys, paper))
        assert paper_row in text and f"{100 * paper[1]:.1f}" in text
        real = rows[f"real samples of the {data} (N=300, seed 0)"]
        assert real["modes"] == len(modes)
        assert abs(real["high_quality_fraction"] - (1 - np.exp(-4.5))) < 0.03

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


@pytest.mark.filterwarnings("ignore:frechet_distance", "ignore:kid")
def test_seeds_summary_is_the_mean_of_the_runs(tmp_path, capsys):
    data = tmp_path / "d.npy"
    x, _ = tg.data.load_mnist_arrays(train=False)
    np.save(data, x[:32])
    out = tmp_path / "seeds"
    args = ["train", "--data", str(data), "--batch-size", "8", "--steps", "2", "--quiet"]
    assert main([*args, "--seed", "3", "--seeds", "2", "--eval-n", "24", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["seed_3", "seed_4", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == [3, 4]
    per_run = []
    for s in (3, 4):
        run = out / f"seed_{s}"
        assert json.loads((run / "config.json").read_text())["run"]["seed"] == s
        assert tg.load(run / "checkpoints" / "last.safetensors")["step"] == 2
        assert main(["evaluate", str(run), "--n", "24", "--json"]) == 0  # again, on its own
        ev = capsys.readouterr().out
        per_run.append(json.loads(ev[ev.index("{") :])["metrics"])
    assert per_run[0]["fid"] != per_run[1]["fid"]  # two different runs
    for key in ("fid", "kid", "precision", "recall", "coverage", "modes", "kl_to_uniform"):
        vals = [r[key] for r in per_run]
        assert summary["summary"][key]["mean"] == pytest.approx(np.mean(vals), rel=1e-12)
        assert summary["summary"][key]["std"] == pytest.approx(np.std(vals, ddof=1), rel=1e-9)
        assert summary["summary"][key]["n_runs"] == 2
    assert [r["metrics"] for r in summary["runs"]] == per_run
    # the table: one row per seed, then mean and std
    assert _row(text, "seed 3")[0] == f"{per_run[0]['fid']:.3f}"
    assert _row(text, "seed 4")[0] == f"{per_run[1]['fid']:.3f}"
    assert _row(text, "mean (2 runs)")[0] == f"{summary['summary']['fid']['mean']:.3f}"
    assert _row(text, "std")[0] == f"{summary['summary']['fid']['std']:.3f}"

    # several runs at once, or the --seeds folder, give the same summary
    assert main(["evaluate", str(out / "seed_3"), str(out / "seed_4"), "--n", "24", "--json"]) == 0
    ev = capsys.readouterr().out
    assert json.loads(ev[ev.index("\n{") :])["summary"] == summary["summary"]
    (out / "summary.json").unlink()
    assert main(["evaluate", str(out), "--n", "24"]) == 0
    assert json.loads((out / "summary.json").read_text())["summary"] == summary["summary"]
    # each seed's folder is an ordinary, resumable run
    assert main(["resume", str(out / "seed_4"), "--steps", "3", "--quiet"]) == 0
    assert tg.load(out / "seed_4" / "checkpoints" / "last.safetensors")["step"] == 3


def test_spectral_norm_wraps_the_discriminator(tmp_path):
    from tapegrad.nn import Linear

    base = ["train", "--recipe", "mlp", "--steps", "1", "--batch-size", "16", "--quiet", "--out"]
    assert main([*base, str(tmp_path / "sn"), "--spectral-norm"]) == 0
    assert main([*base, str(tmp_path / "plain")]) == 0
    sn = tg.load(tmp_path / "sn" / "checkpoints" / "last.safetensors")
    plain = tg.load(tmp_path / "plain" / "checkpoints" / "last.safetensors")
    d_keys = list(sn["D"])
    assert sorted(k for k in d_keys if k.endswith("weight_orig")) == [
        "features.0.weight_orig",
        "features.2.weight_orig",
        "head.weight_orig",
    ]
    assert all(k.endswith(("bias", "weight_orig", "weight_u", "weight_v")) for k in d_keys)
    assert not any(k.endswith("weight_orig") for k in sn["G"])  # D only
    assert not any(k.endswith("weight_orig") for k in plain["D"])
    tr = open_run(tmp_path / "sn").trainer
    linears = [m for m in tr.D.modules() if isinstance(m, Linear)]
    raw = [np.linalg.norm(m.weight_orig.data, 2) for m in linears]
    assert max(abs(r - 1) for r in raw) > 0.1  # unnormalised, the weights are not at 1
    tr.D.train()
    x = tg.tensor(np.random.default_rng(0).standard_normal((4, 784)).astype(np.float32))
    with tg.no_grad():
        for _ in range(60):  # one power iteration per forward in training mode
            tr.D(x)
    for m in linears:
        assert np.linalg.norm(m.weight.data, 2) == pytest.approx(1.0, abs=1e-2)


@pytest.mark.parametrize(
    "args",
    [
        ["--loss", "hinge"],
        ["--loss", "lsgan", "--spectral-norm"],
        ["--model", "dcgan", "--loss", "wgan-gp"],
        ["--model", "cdcgan", "--data", "mnist"],
        ["--r1", "5", "--optimizer", "rmsprop"],
    ],
)
def test_models_and_losses_from_the_command_line(tmp_path, args):
    from tapegrad.nn import BatchNorm2d

    run = tmp_path / "run"
    assert (
        main(["train", *args, "--steps", "1", "--batch-size", "16", "--out", str(run), "--quiet"])
        == 0
    )
    opened = open_run(run)
    tr, cfg = opened.trainer, opened.config
    assert tr.step == 1 and tr.hparams["loss"] == cfg.loss
    x = tr.generate(4)
    assert x.shape == (4, 1, 28, 28) and np.isfinite(x).all()
    if "cdcgan" in args:  # the digits' labels reach G and D
        assert tr.conditional and len(tr.loader.dataset.tensors) == 2
        assert type(tr.D).__name__ == "ConditionalDiscriminator" and tr.G.n_classes == 10
    if "--r1" in args:  # R1 in D's loss, and the optimizer named
        assert tr.loss.penalty == "r1" and tr.loss.lambda_ == 5.0 and cfg.r1 == 5.0
        assert type(tr.opt_g).__name__ == "RMSprop"
    if "wgan-gp" in args:  # the per-sample gradient penalty with no batch norm in D
        assert cfg.model_kwargs == {"batch_norm": False}
        assert not any(isinstance(m, BatchNorm2d) for m in tr.D.modules())


def test_train_help_lists_models_and_losses(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # argparse wraps help text at the terminal's width
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in (*MODELS, *LOSSES, "--spectral-norm", "--seeds"):
        assert name in text, name


@pytest.mark.parametrize("k", ["0", "-2"])
def test_seeds_must_be_positive(tmp_path, capsys, k):
    out = tmp_path / "r"
    assert main(["train", "--seeds", k, "--steps", "1", "--out", str(out)]) == 2
    assert f"argument --seeds: wants a positive integer, got {k}" in capsys.readouterr().err
    assert not out.exists()


def test_seeds_refuses_a_non_empty_out(tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["train", "--seeds", "2", "--steps", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out} exists and is not empty" in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_evaluate_names_a_path_that_is_no_run(tmp_path, capsys):
    junk = tmp_path / "junk.safetensors"
    junk.write_text("not a checkpoint")
    folder = tmp_path / "empty"
    folder.mkdir()
    for p in (junk, folder, tmp_path / "missing"):
        assert main(["evaluate", str(p)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("tapegrad: error:") and str(p) in err and len(err.splitlines()) == 1


@pytest.fixture
def odd_size_npy(tmp_path):
    p = tmp_path / "odd.npy"
    np.save(p, np.zeros((8, 1, 30, 30), np.float32))
    return p


@pytest.mark.parametrize(
    "args,message",
    [
        (["--model", "nope"], "--model nope: unknown model; valid: " + ", ".join(MODELS)),
        (["--loss", "nope"], "--loss nope: unknown loss; valid: " + ", ".join(LOSSES)),
        (["--data", "/no/such/folder"], "--data /no/such/folder: no such file or folder"),
        (["--data", "/no/such/file.npy"], "--data /no/such/file.npy: no such file"),
        (["--model", "dcgan", "--data", "ODD"], "image size 30 is not supported"),
        (["--model", "cgan-mlp", "--data", "ODD"], "conditional and needs labelled data"),
        (["--batch-size", "0"], "--batch-size must be a positive integer, got 0"),
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
    assert "--loss bogus: unknown loss" in p.stderr and "hinge" in p.stderr and p.stdout == ""
    assert len(p.stderr.splitlines()) == 1


def test_evaluate_refuses_to_average_different_data(tmp_path, capsys):
    runs = []
    for data in ("ring", "grid"):
        runs.append(str(tmp_path / data))
        assert main(["train", "--data", data, "--steps", "1", "--out", runs[-1], "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", *runs]) == 2
    err = capsys.readouterr().err
    assert f"cannot average runs on different data: {runs[0]} (ring) and {runs[1]} (grid)" in err
    assert not any((tmp_path / d / "evaluation.json").exists() for d in ("ring", "grid"))


def test_betas_reach_both_optimisers_and_survive_resume(tmp_path):
    run = tmp_path / "run"
    base = ["train", "--steps", "2", "--batch-size", "16", "--quiet", "--out", str(run)]
    assert main([*base, "--betas", "0.25,0.75"]) == 0
    opened = open_run(run)
    tr, cfg = opened.trainer, opened.config
    assert cfg.betas_g == cfg.betas_d == (0.25, 0.75)
    for opt in (tr.opt_g, tr.opt_d):
        assert all(g["betas"] == (0.25, 0.75) for g in opt.param_groups)
    assert main(["resume", str(run), "--steps", "3", "--quiet"]) == 0
    tr = open_run(run).trainer
    assert tr.step == 3 and tr.opt_d.param_groups[0]["betas"] == (0.25, 0.75)


@pytest.mark.parametrize("text", ["0.5", "0.5,x", "0.5,1.0", "-0.1,0.9", "0.1,0.2,0.3"])
def test_bad_betas_is_a_usage_error(tmp_path, capsys, text):
    out = tmp_path / "run"
    assert main(["train", f"--betas={text}", "--steps", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "argument --betas: wants two numbers" in err and repr(text) in err
    assert not out.exists()
