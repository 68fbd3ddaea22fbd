"""examples/gan_augmentation.py end to end on a tiny setting, and its building blocks.

The full runs (1,000 real images, 5 seeds) and their numbers are in
docs/gan_augmentation.md.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
import gan_augmentation as ga  # noqa: E402

# The real training split when this checkout sits next to the shared data; else the
# shipped test split is cut into a pool and a disjoint test part (see load_splits).
_DATA = ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="module")
def splits():
    return ga.load_splits(str(_DATA) if _DATA.is_dir() else None)


def test_balanced_subset_has_per_class_and_no_test_images(splits):
    idx = ga.balanced_subset(splits["y_pool"], 100, seed=3)
    assert len(np.unique(idx)) == 1000
    assert idx.min() >= 0 and idx.max() < len(splits["y_pool"])
    np.testing.assert_array_equal(np.bincount(splits["y_pool"][idx], minlength=10), [100] * 10)
    test_bytes = {x.tobytes() for x in splits["x_test"]}
    assert not any(x.tobytes() in test_bytes for x in splits["x_pool"][idx])
    # reproducible per seed, different across seeds
    np.testing.assert_array_equal(idx, ga.balanced_subset(splits["y_pool"], 100, seed=3))
    assert not np.array_equal(idx, ga.balanced_subset(splits["y_pool"], 100, seed=4))


def test_balanced_subset_refuses_a_short_class():
    labels = np.array([c for c in range(10) for _ in range(5)] + [0] * 10)
    labels[labels == 7] = 0  # class 7 now empty
    with pytest.raises(ValueError, match="class 7 has 0 examples, fewer than 2"):
        ga.balanced_subset(labels, 2, seed=0)


def test_random_shift_is_a_translation_within_range():
    rng = np.random.default_rng(0)
    x = rng.integers(1, 256, (16, 6, 7)).astype(np.uint8)  # no zero pixels: shifts show
    out = ga.random_shift(x, 2, np.random.default_rng(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    seen = set()
    for img, sh in zip(x, out):
        matches = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                # the image moved by (dy, dx), zero-filled, built independently with np.roll
                ref = np.roll(img, (dy, dx), axis=(0, 1))
                if dy > 0:
                    ref[:dy] = 0
                elif dy < 0:
                    ref[dy:] = 0
                if dx > 0:
                    ref[:, :dx] = 0
                elif dx < 0:
                    ref[:, dx:] = 0
                if np.array_equal(ref, sh):
                    matches.append((dy, dx))
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 3  # the offsets really vary


def test_pipeline_end_to_end_tiny(splits):
    small = dict(splits, x_test=splits["x_test"][:2000], y_test=splits["y_test"][:2000])
    r = ga.run_seed(
        small,
        seed=1,
        per_class=20,
        gan_steps=20,
        synth_per_class=12,
        clf_steps=60,
        gan_batch=32,
        arms=("real", "real+syn", "syn"),
    )
    assert r["synth_counts"] == [12] * 10
    subset = np.array(r["subset"])
    np.testing.assert_array_equal(np.bincount(splits["y_pool"][subset], minlength=10), [20] * 10)
    assert set(r["test"]) == {"real", "real+syn", "syn"}
    for arm, acc in r["test"].items():
        assert 0.0 <= acc <= 1.0, arm
    # 60 steps on 200 images: the MLP fits its own training set far above chance (10%)
    assert r["train"]["real"] > 0.8
    assert r["test"]["real"] > 0.4


def test_synthesize_gives_balanced_labelled_uint8_digits(splits):
    x, y = splits["x_pool"][:256], splits["y_pool"][:256]
    trainer = ga.train_cgan(x, y, steps=3, seed=0, batch_size=32)
    xs, ys = ga.synthesize(trainer, per_class=7, seed=0)
    assert xs.shape == (70, 28, 28) and xs.dtype == np.uint8
    np.testing.assert_array_equal(ys, np.repeat(np.arange(10), 7))
    # the label reaches G: the same noise with two labels gives two different images
    z = np.zeros((2, trainer.z_dim), np.float32)
    a, b = trainer.generate(z=z, labels=np.array([3, 8]))
    assert np.abs(a - b).max() > 1e-3


def test_summary_paired_difference_by_hand():
    results = [
        {"seed": 0, "test": {"real": 0.90, "syn": 0.95}},
        {"seed": 1, "test": {"real": 0.80, "syn": 0.90}},
    ]
    s = ga.summarise(results)
    assert s["arms"]["real"]["mean"] == pytest.approx(0.85)
    assert s["arms"]["real"]["std"] == pytest.approx(0.0707107, rel=1e-5)  # |0.1| / sqrt(2)
    assert s["minus_real"]["syn"]["mean"] == pytest.approx(0.075)
    assert s["minus_real"]["syn"]["std"] == pytest.approx(0.0353553, rel=1e-5)  # 0.05/sqrt(2)
    table = ga.markdown(results, s)
    assert "| 0 | 90.00 | 95.00 |" in table and "+7.50 ± 3.54" in table
