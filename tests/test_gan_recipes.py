"""Named recipes: the registry, `tapegrad recipes`, `train --recipe` and its overrides."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import tapegrad as tg
from tapegrad.cli import DEFAULT_STEPS, main
from tapegrad.cli import sample as sample_cmd
from tapegrad.data import load_dataset
from tapegrad.gan import trainer as trainer_module
from tapegrad.gan.config import LEGACY_N_POINTS, RunConfig, read_run_config
from tapegrad.gan.recipes import RECIPES, Recipe, get_recipe, recipe_for_data
from tapegrad.gan.runner import open_run

NAMES = ("default", "mlp", "dcgan", "wgan-gp", "hinge-sn", "cdcgan", "mixture-grid", "mixture-ring")


def _cfg(run: Path) -> RunConfig:
    return read_run_config(run)[0]


def test_registry_holds_the_recipes_with_measurements():
    assert tuple(RECIPES) == NAMES
    for name, r in RECIPES.items():
        assert isinstance(r, Recipe) and r.name == name and r.description
        assert r.metrics and r.time and r.source.startswith("docs/"), name
        assert (Path(__file__).resolve().parents[1] / r.source).is_file()
    with pytest.raises(
        ValueError, match="unknown recipe 'nope'; valid recipes: default, mlp, dcgan"
    ):
        get_recipe("nope")
    assert recipe_for_data("grid").name == "mixture-grid"
    assert recipe_for_data("ring").name == "mixture-ring"
    assert recipe_for_data("mnist").name == "default"
    # unlabelled images (a folder, an array file) start from the tutorial's MLP GAN
    assert recipe_for_data("/some/folder").name == "mlp"
    m = get_recipe("mlp").config()
    want = ("mlp", "ns", 64, 2e-4, (0.5, 0.999))
    assert (m.model, m.loss, m.batch_size, m.lr_g, m.betas_g) == want
    assert m.steps is None and m.epochs is None and m.anneal == 0.0 and m.recipe == "mlp"
    # the default: the half-width conditional DCGAN, a fixed number of steps
    d = get_recipe("default").config()
    assert (d.model, d.model_kwargs, d.loss, d.batch_size, d.lr_g, d.betas_g) == (
        "cdcgan",
        {"ngf": 32, "ndf": 32},
        "ns",
        64,
        2e-4,
        (0.5, 0.999),
    )
    assert d.conditional and d.steps == 3000 and d.recipe == "default"


def test_train_without_flags_runs_the_default_and_its_grid_has_a_row_per_digit(
    tmp_path, capsys, monkeypatch
):
    run = tmp_path / "d"
    assert main(["train", "--steps", "2", "--out", str(run), "--quiet"]) == 0
    want = get_recipe("default").config({"steps": 2}).to_dict()
    assert _cfg(run) == RunConfig(**{**want, "epochs": _cfg(run).epochs})
    grid = np.asarray(Image.open(run / "samples" / "step_000002.png"))
    assert grid.shape == (10 * 30 + 2, 10 * 30 + 2)  # 10 x 10 tiles of 28 px, 2 px apart
    tr = open_run(run).trainer
    assert len(tr.fixed_z) == 100
    # the grid's row r is G asked for digit r: redraw row 3 with label 3 and compare
    want = tr.generate(z=tr.fixed_z[30:40], labels=np.full(10, 3))
    tiles = [grid[2 + 3 * 30 : 30 + 3 * 30, 2 + c * 30 : 30 + c * 30] for c in range(10)]
    got = np.stack(tiles).astype(np.float64) / 255.0
    assert np.abs(got - (np.clip(want[:, 0], -1, 1) + 1) / 2).max() < 1.5 / 255
    # (after 2 steps G barely depends on the label, so check the labels it is given too)
    seen = {}

    def spy(G, z, labels, ema):
        seen.update(labels=labels)
        return np.zeros((len(z), 1, 28, 28), np.float32)

    monkeypatch.setattr(trainer_module, "generate", spy)
    tr._fixed_samples()
    assert seen["labels"].tolist() == np.repeat(np.arange(10), 10).tolist()


def test_recipe_values_are_those_of_the_records():
    g = get_recipe("mixture-grid").config()
    assert g.model_kwargs == {
        "pack": 2, "g_batch_norm": False, "g_hidden": 128, "g_n_hidden": 3, "d_hidden": 128,
        "d_n_hidden": 3,
    }  # fmt: skip
    assert (g.lr_g, g.lr_d, g.betas_g, g.anneal) == (5e-4, 5e-4, (0.0, 0.9), 0.5)
    assert (g.batch_size, g.steps, g.z_dim, g.data) == (512, 24_000, 2, "grid")
    r = get_recipe("mixture-ring").config()
    assert r.data == "ring" and (r.lr_g, r.lr_d) == (1e-3, 1e-3)
    assert {
        k: v for k, v in r.to_dict().items() if k not in ("data", "recipe", "lr_g", "lr_d")
    } == {k: v for k, v in g.to_dict().items() if k not in ("data", "recipe", "lr_g", "lr_d")}
    w = get_recipe("wgan-gp").config()
    assert (w.loss, w.n_critic, w.lr_g, w.betas_d) == ("wgan-gp", 5, 1e-4, (0.5, 0.9))
    c = get_recipe("cdcgan").config()
    assert c.model == "cdcgan" and c.model_kwargs == {"ngf": 32, "ndf": 32}
    assert get_recipe("hinge-sn").config().model_kwargs == {"spectral_norm": True}
    assert get_recipe("dcgan").config().steps == 2000


def test_overrides():
    r = get_recipe("mixture-grid")
    cfg = r.config({"lr_g": 3e-4, "betas": (0.5, 0.99), "steps": None, "model_kwargs": {"pack": 4}})
    assert cfg.lr_g == 3e-4 and cfg.lr_d == r.lr_d == 5e-4 and cfg.betas_g == (0.5, 0.99)
    assert cfg.steps == 24_000 and cfg.model_kwargs["pack"] == 4
    assert cfg.model_kwargs["g_hidden"] == 128
    assert r.model_kwargs["pack"] == 2  # the registry is not changed
    # another model does not inherit the recipe's model arguments or noise size
    other = get_recipe("mixture-grid").config({"model": "mlp"})
    assert other.model_kwargs == {} and other.z_dim == 100
    with pytest.raises(ValueError, match="unknown settings"):
        r.config({"learning_rate": 1.0})


def test_recipes_command_lists_every_recipe(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    for name, r in RECIPES.items():
        assert f"{name}: {r.description}" in out
        for k, v in r.metrics.items():
            assert f"{k} {v}" in out
        assert f"({r.time}) [{r.source}]" in out


@pytest.mark.parametrize("name", NAMES)
def test_each_recipe_trains(name, tmp_path, capsys):
    run = tmp_path / name
    steps = 5 if name == "wgan-gp" else 2  # wgan-gp: a G step after 5 critic steps
    assert (
        main(["train", "--recipe", name, "--steps", str(steps), "--out", str(run), "--quiet"]) == 0
    )
    cfg = _cfg(run)
    want = get_recipe(name).config({"steps": steps})
    assert cfg == RunConfig(**{**want.to_dict(), "epochs": cfg.epochs})
    # the recipe's epochs, else about DEFAULT_STEPS steps or as many as its steps need
    n = 100_000 if name.startswith("mixture") else 60_000
    per_epoch = n // cfg.batch_size
    want_epochs = want.epochs or max(round(DEFAULT_STEPS / per_epoch), math.ceil(steps / per_epoch))
    assert cfg.epochs == want_epochs
    assert tg.load(run / "checkpoints" / "last.safetensors")["step"] == steps


def test_flags_beside_a_recipe_override_it(tmp_path, capsys):
    run = tmp_path / "r"
    args = ["train", "--recipe", "mixture-ring", "--steps", "1", "--lr-g", "3e-4", "--ema", "0.9"]
    extra = ["--betas", "0.0,0.8", "--pack", "4", "--g-batch-norm", "on", "--anneal", "0.25"]
    assert main([*args, *extra, "--out", str(run), "--quiet"]) == 0
    cfg = _cfg(run)
    assert cfg.recipe == "mixture-ring" and cfg.lr_g == 3e-4 and cfg.lr_d == 1e-3
    assert cfg.ema == 0.9 and cfg.betas_d == (0.0, 0.8) and cfg.anneal == 0.25
    assert cfg.model_kwargs["pack"] == 4 and cfg.model_kwargs["g_batch_norm"] is True
    assert cfg.model_kwargs["g_hidden"] == 128 and cfg.steps == 1
    capsys.readouterr()
    assert main(["train", "--recipe", "nope", "--out", str(tmp_path / "x")]) == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--pack", "0"], "--pack must be a positive number of samples, got 0"),
        (["--pack", "3"], "--pack 3 must divide --batch-size 512"),
        (["--anneal", "1"], "--anneal must be a fraction in [0, 1), got 1.0"),
        (["--anneal", "-0.1"], "--anneal must be a fraction in [0, 1), got -0.1"),
    ],
)
def test_bad_recipe_flags_exit_2_naming_the_flag(flags, message, tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["train", "--data", "ring", *flags, "--steps", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (out / "checkpoints").exists()


def test_epochs_alone_replace_the_recipes_steps():
    from tapegrad.cli import _parser
    from tapegrad.cli.train import run_config

    def cfg(*flags):
        return run_config(_parser().parse_args(["train", *flags]))

    assert (cfg().steps, cfg().epochs) == (3000, None)
    assert (cfg("--epochs", "5").steps, cfg("--epochs", "5").epochs) == (None, 5)
    both = cfg("--epochs", "5", "--steps", "7")
    assert (both.steps, both.epochs) == (7, 5)
    assert cfg("--recipe", "dcgan", "--epochs", "1").steps is None


def test_old_configs_without_anneal_or_recipe_still_load():
    d = RunConfig().to_dict()
    del d["anneal"], d["recipe"], d["n_points"]
    cfg = RunConfig.from_dict(d)
    assert cfg.anneal == 0.0 and cfg.recipe is None
    # runs written before n_points was stored drew 10,000 ring/grid points
    assert cfg.n_points == LEGACY_N_POINTS == 10_000
    assert RunConfig.from_dict(RunConfig().to_dict()).n_points == 100_000


def test_2d_runs_train_on_pacgans_100k_points_unless_told(tmp_path, capsys):
    run = tmp_path / "ring"
    assert main(["train", "--data", "ring", "--steps", "1", "--out", str(run), "--quiet"]) == 0
    cfg, doc = read_run_config(run)
    assert cfg.n_points == 100_000 and doc["data_description"] == "ring mixture (100,000 points)"
    x, _, _ = load_dataset("ring", cfg.seed, cfg.n_points)
    want, _ = tg.data.ring(100_000, generator=cfg.seed)
    np.testing.assert_array_equal(x, want.numpy())
    small = tmp_path / "small"
    args = ["train", "--data", "grid", "--n-points", "1024", "--steps", "1", "--quiet"]
    assert main([*args, "--out", str(small)]) == 0
    cfg, doc = read_run_config(small)
    assert cfg.n_points == 1024 and doc["data_description"] == "grid mixture (1,024 points)"
    # 1,024 points make 2 batches of 512: the epoch count follows the training set
    assert cfg.epochs == round(DEFAULT_STEPS / 2)
    capsys.readouterr()
    for flags, message in [
        (["--n-points", "0"], "--n-points must be a positive integer, got 0"),
        (["--data", "mnist", "--n-points", "5"], "--n-points is for --data ring or grid"),
    ]:
        assert main(["train", "--data", "grid", *flags, "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1


def test_2d_data_alone_selects_the_record_and_sample_shows_the_modes(tmp_path, monkeypatch):
    run = tmp_path / "grid"
    assert main(["train", "--data", "grid", "--steps", "2", "--out", str(run), "--quiet"]) == 0
    cfg = _cfg(run)
    assert cfg.recipe == "mixture-grid" and cfg.anneal == 0.5
    assert cfg.model_kwargs["pack"] == 2 and cfg.model_kwargs["g_batch_norm"] is False
    seen = {}

    def spy(path, fake, real, title=""):
        seen.update(fake=fake, real=real)

    monkeypatch.setattr(sample_cmd, "save_scatter", spy)
    assert main(["sample", str(run), "--n", "50", "--out", str(tmp_path / "s.png")]) == 0
    assert seen["fake"].shape == (50, 2) and seen["real"].shape == (50, 2)
    # the real points lie on the grid's modes (std 0.05): all within 0.5 of one
    d = np.abs(seen["real"][:, None, :] - tg.data.grid_modes()[None]).max(axis=2).min(axis=1)
    assert d.max() < 0.5
