"""make_grid and save_image against torchvision's documented layout, with grids built
by hand: padding around and between tiles, nrow per row, one channel repeated to three,
normalize with value_range / scale_each, 8-bit rounding in save_image."""

import io

import numpy as np
import pytest
from PIL import Image

import tapegrad as tg
from tapegrad.utils import make_grid, save_image


def _tiles(n, c=1, h=2, w=3):
    return np.stack([np.full((c, h, w), k + 1.0, np.float32) for k in range(n)])


def test_grid_layout_by_hand():
    imgs = _tiles(3)  # values 1, 2, 3; 2x3 each
    g = make_grid(tg.tensor(imgs), nrow=2, padding=1, pad_value=0.5).numpy()
    p = 0.5
    row = lambda *vals: [p] + sum(([v] * 3 + [p] for v in vals), [])  # noqa: E731
    pad_row = [p] * 9
    want = np.array([pad_row, row(1, 2), row(1, 2), pad_row, row(3, p), row(3, p), pad_row])
    assert g.shape == (3, 7, 9)
    for ch in range(3):  # one channel became three equal ones
        np.testing.assert_array_equal(g[ch], want)


@pytest.mark.parametrize("n, nrow, padding", [(5, 8, 2), (8, 3, 0), (1, 8, 2), (4, 2, 3)])
def test_grid_shape_follows_torchvision_formula(n, nrow, padding):
    g = make_grid(tg.rand(n, 3, 4, 5), nrow=nrow, padding=padding)
    if n == 1:  # a single image comes back as it is
        assert g.shape == (3, 4, 5)
        return
    cols, rows = min(nrow, n), -(-n // min(nrow, n))
    assert g.shape == (3, (4 + padding) * rows + padding, (5 + padding) * cols + padding)


def test_list_and_single_image_inputs():
    a = [tg.full((1, 2, 2), 0.25), tg.full((1, 2, 2), 0.75)]
    g = make_grid(a, padding=0).numpy()
    np.testing.assert_array_equal(
        g, np.concatenate([np.full((3, 2, 2), 0.25), np.full((3, 2, 2), 0.75)], axis=2)
    )
    single = make_grid(tg.full((2, 2), 0.3)).numpy()
    np.testing.assert_allclose(single, np.full((3, 2, 2), 0.3))


def test_normalize_value_range_and_scale_each():
    imgs = np.array([[[[-1.0, 0.0], [1.0, 3.0]]], [[[2.0, 4.0], [6.0, 10.0]]]], np.float32)
    both = make_grid(tg.tensor(imgs), padding=0, normalize=True).numpy()[0]
    np.testing.assert_allclose(both, np.hstack([(imgs[0, 0] + 1) / 11, (imgs[1, 0] + 1) / 11]))
    each = make_grid(tg.tensor(imgs), padding=0, normalize=True, scale_each=True).numpy()[0]
    np.testing.assert_allclose(each, np.hstack([(imgs[0, 0] + 1) / 4, (imgs[1, 0] - 2) / 8]))
    clip = make_grid(tg.tensor(imgs), padding=0, normalize=True, value_range=(0.0, 4.0))
    np.testing.assert_allclose(
        clip.numpy()[0], np.hstack([np.clip(imgs[0, 0], 0, 4) / 4, np.clip(imgs[1, 0], 0, 4) / 4])
    )
    assert imgs.min() == -1.0, "the input must not be changed"
    with pytest.raises(TypeError, match="value_range"):
        make_grid(tg.tensor(imgs), normalize=True, value_range=[0, 1])


def test_save_image_png_round_trip(tmp_path):
    imgs = np.random.default_rng(0).uniform(0, 1, (3, 1, 4, 4)).astype(np.float32)
    path = tmp_path / "grid.png"
    save_image(tg.tensor(imgs), path, nrow=2, padding=1)
    got = np.asarray(Image.open(path))
    grid = make_grid(tg.tensor(imgs), nrow=2, padding=1).numpy()
    want = np.clip(np.floor(grid * 255 + 0.5), 0, 255).astype(np.uint8).transpose(1, 2, 0)
    assert got.shape == (11, 11, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)
    buf = io.BytesIO()
    save_image(tg.tensor(imgs), buf, format="png")
    assert buf.getvalue()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="format"):
        save_image(tg.tensor(imgs), tmp_path / "grid.unknown")
    assert not (tmp_path / "grid.unknown").exists()
