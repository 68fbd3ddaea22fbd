"""examples/gan_gallery.py on 256 real MNIST images: each recipe trains a few steps and draws
its gallery picture; the full runs and their scores are in docs/gan_gallery.md."""

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tapegrad.data import load_mnist_arrays
from tapegrad.gan.runs import save_png

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import gan_gallery as gg  # noqa: E402


@pytest.fixture(scope="module")
def mnist():
    x, y = load_mnist_arrays(train=False)  # the split shipped with tapegrad
    return x[:256, None], y[:256]


def _params(m):
    return {k: p._array.copy() for k, p in m.named_parameters()}


@pytest.mark.parametrize("name", list(gg.RECIPES))
def test_recipe_trains_and_draws_its_grid(name, mnist, tmp_path):
    x, y = mnist
    t = gg.build_recipe(name, x, y, batch_size=32)
    g0, d0 = _params(t.G), _params(t.D)
    steps = max(3, t.n_critic)  # at least one G update
    records = []
    for batch, _ in zip(t.loader, range(steps)):
        records.append(t.train_step(batch))
        t.step += 1
    assert len(records) == steps
    assert all(np.isfinite(r["d_loss"]) for r in records)
    g_losses = [r["g_loss"] for r in records if r["g_loss"] is not None]
    assert len(g_losses) == steps // t.n_critic and all(np.isfinite(g_losses))
    for before, model in ((g0, t.G), (d0, t.D)):
        for k, p in model.named_parameters():
            if name == "wgan_gp" and model is t.D and k == "head.bias":
                # E[f(fake)] - E[f(real)] and the penalty do not depend on the critic's
                # output bias: its gradient is exactly 0, so Adam leaves it alone
                assert np.array_equal(before[k], p._array)
                continue
            assert not np.array_equal(before[k], p._array), f"{name}: {k} did not change"

    pixels = gg.sample_grid(t)
    side = (10 if name == "cdcgan" else 8) * (28 + 2) + 2
    path = tmp_path / f"gallery_{name}.png"
    save_png(path, pixels)
    with Image.open(path) as im:
        assert im.size == (side, side) and im.mode == "L"
        a = np.asarray(im)
    # the 2-pixel padding between tiles is black, the tiles are not
    assert a[:2].max() == 0 and a[:, 30:32].max() == 0
    assert a[2:30, 2:30].max() > 0


def test_recipe_settings_are_the_documented_ones(mnist):
    x, y = mnist
    wgan = gg.build_recipe("wgan_gp", x, y)
    assert wgan.loss.penalty == "gp" and wgan.loss.lambda_ == 10.0 and wgan.n_critic == 5
    assert wgan.opt_d.defaults["lr"] == 1e-4 and tuple(wgan.opt_d.defaults["betas"]) == (0.5, 0.9)
    assert not any("BatchNorm" in type(m).__name__ for m in wgan.D.modules())
    sn = gg.build_recipe("hinge_sn", x, y)
    linears = [m for m in sn.D.modules() if type(m).__name__ == "Linear"]
    assert linears and all("weight_orig" in m._parameters for m in linears)
    assert sn.opt_d.defaults["lr"] == 4e-4 and sn.opt_g.defaults["lr"] == 1e-4
    assert gg.build_recipe("cdcgan", x, y).conditional
    with pytest.raises(ValueError, match="needs labels"):
        gg.build_recipe("cdcgan", x)
    with pytest.raises(ValueError, match="valid recipes"):
        gg.build_recipe("dragan", x, y)


def test_scores_separate_real_digits_from_noise(mnist):
    x, _ = mnist
    xt, _ = load_mnist_arrays(train=False)
    test = xt[-600:, None]
    real = gg.real_floor(x, test, n=200)
    noise = np.random.default_rng(0).integers(0, 256, x.shape, dtype=np.uint8)
    fake = gg.real_floor(noise, test, n=200)
    assert real["confidence"] > 0.9 and real["modes"] == 10
    assert real["fd"] < fake["fd"] / 5
