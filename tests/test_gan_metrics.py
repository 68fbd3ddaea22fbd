"""tapegrad.gan.metrics: the shipped classifier and every metric against independent
computations (PyTorch, double loops, closed forms, hand-computed values)."""

from __future__ import annotations

import hashlib
import json
import math
import shutil

import numpy as np
import pytest
import torch

import tapegrad as tg
from tapegrad.data import grid as grid_samples
from tapegrad.data import grid_modes, load_mnist_arrays, ring, ring_modes
from tapegrad.gan import metrics as M


@pytest.fixture(scope="module")
def mnist_test():
    return load_mnist_arrays(train=False)


# ---------------------------------------------------------------- classifier


def test_weights_file_matches_version_and_sha():
    assert hashlib.sha256(M.WEIGHTS_PATH.read_bytes()).hexdigest() == M.SHA256
    obj = tg.load(M.WEIGHTS_PATH)
    assert obj["version"] == M.VERSION == "mnist-classifier-v1"
    assert all(v.dtype == np.float32 for v in obj["state_dict"].values())
    assert M.WEIGHTS_PATH.stat().st_size < 1_000_000


def test_load_classifier_cached_and_in_eval_mode():
    m = M.load_classifier()
    assert m is M.load_classifier()
    assert not m.training and not m.drop.training


def test_corrupted_copy_fails_sha_check(tmp_path):
    good = tmp_path / "good.safetensors"
    shutil.copy(M.WEIGHTS_PATH, good)
    assert isinstance(M.load_classifier(good), M.MNISTClassifier)
    bad = tmp_path / "bad.safetensors"
    raw = bytearray(M.WEIGHTS_PATH.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one bit of one weight
    bad.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="SHA-256"):
        M.load_classifier(bad)
    with pytest.raises(FileNotFoundError, match="load_classifier"):
        M.load_classifier(tmp_path / "missing.safetensors")


def test_other_version_is_refused(tmp_path):
    p = tmp_path / "v0.safetensors"
    sd = {k: v for k, v in M.MNISTClassifier().state_dict().items()}
    tg.save({"version": "mnist-classifier-v0", "state_dict": sd}, p)
    with pytest.raises(ValueError, match="mnist-classifier-v0"):
        M.load_classifier(p, sha256=None)


def test_accuracy_on_shipped_test_split(mnist_test):
    x, y = mnist_test
    assert (M.predict(x) == y).mean() >= 0.98  # uint8 input: read as 0-255


def _torch_net(x01: np.ndarray):
    """The same network in PyTorch, from the shipped weights: (features, logits)."""
    sd = {
        k: torch.from_numpy(v.numpy().copy()) for k, v in M.load_classifier().state_dict().items()
    }
    F = torch.nn.functional
    h = torch.from_numpy(x01.reshape(-1, 1, 28, 28).astype(np.float32))
    h = F.max_pool2d(F.relu(F.conv2d(h, sd["conv1.weight"], sd["conv1.bias"])), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, sd["conv2.weight"], sd["conv2.bias"])), 2)
    f = F.linear(h.reshape(h.shape[0], -1), sd["fc1.weight"], sd["fc1.bias"])
    return f.numpy(), F.linear(F.relu(f), sd["fc2.weight"], sd["fc2.bias"]).numpy()


def test_features_probs_predict_match_torch(mnist_test):
    x = mnist_test[0][:300].astype(np.float32) / 255.0
    f_t, z_t = _torch_net(x)
    f = M.features(x, batch_size=128, input_range=(0, 1))
    assert f.shape == (300, 128) and f.dtype == np.float64
    np.testing.assert_allclose(f, f_t, rtol=1e-4, atol=1e-4)
    p = M.probs(x, input_range=(0, 1))
    np.testing.assert_allclose(p, torch.softmax(torch.from_numpy(z_t).double(), 1), atol=1e-5)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(M.predict(x, input_range=(0, 1)), p.argmax(axis=1))


def test_input_ranges_and_layouts_agree(mnist_test):
    u8 = mnist_test[0][:64]
    x01 = u8.astype(np.float32) / 255.0
    ref = M.features(u8)
    np.testing.assert_allclose(M.features(x01 * 2 - 1), ref, atol=1e-4)
    np.testing.assert_allclose(
        M.features(tg.tensor(x01.reshape(64, 784)), input_range=(0, 1)), ref, atol=1e-4
    )
    np.testing.assert_allclose(M.features(x01[:, None], input_range=(0, 1)), ref, atol=1e-4)
    with pytest.warns(UserWarning, match="input_range=\\(0, 1\\)"):
        M.features(x01)  # [0, 1] images under the default (-1, 1)
    with pytest.raises(ValueError, match=r"features: expected MNIST images.*\(64, 28, 27\)"):
        M.features(np.zeros((64, 28, 27), np.float32))


# ---------------------------------------------------------------- Fréchet distance


def _torch_fd(a: np.ndarray, b: np.ndarray) -> float:
    """Textbook FD: tr sqrt(S1 S2) from the (real, non-negative) eigenvalues of S1 S2."""
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    m1, m2 = ta.mean(0), tb.mean(0)
    s1, s2 = torch.cov(ta.T), torch.cov(tb.T)
    ev = torch.linalg.eigvals(s1 @ s2).real.clamp(min=0)
    return float(((m1 - m2) ** 2).sum() + s1.trace() + s2.trace() - 2 * ev.sqrt().sum())


def test_frechet_closed_form_diagonal():
    rng = np.random.default_rng(1)
    d = 7
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    expect = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    got = M.frechet_distance_from_stats(mu1, np.diag(s1), mu2, np.diag(s2))
    assert got == pytest.approx(expect, rel=1e-10)


def test_frechet_from_gaussian_samples_near_closed_form():
    rng = np.random.default_rng(2)
    mu1, mu2 = np.zeros(4), np.array([1.0, 0, -1, 0.5])
    s1, s2 = np.array([1.0, 2, 0.5, 1]), np.array([2.0, 1, 0.5, 3])
    a = mu1 + np.sqrt(s1) * rng.standard_normal((40_000, 4))
    b = mu2 + np.sqrt(s2) * rng.standard_normal((40_000, 4))
    expect = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert M.frechet_distance(a, b) == pytest.approx(expect, rel=0.03)


@pytest.mark.parametrize("n,d", [(200, 5), (1000, 32), (300, 128)])
def test_frechet_vs_torch(n, d):
    rng = np.random.default_rng(d)
    mix = rng.normal(size=(d, d))
    a = rng.normal(size=(n, d)) @ mix
    b = rng.normal(size=(n, d)) @ (mix + 0.3 * rng.normal(size=(d, d))) + 0.2
    got = M.frechet_distance(a, b)
    assert got == pytest.approx(_torch_fd(a, b), rel=1e-7)
    assert got == pytest.approx(M.frechet_distance(b, a), rel=1e-9)
    assert M.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8 * got)


def test_frechet_singular_covariance_is_finite():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(500, 6))
    a[:, 3] = 1.0  # a constant feature: rank-deficient covariance
    b = rng.normal(size=(500, 6)) * 1.5
    b[:, 3] = 0.0
    got = M.frechet_distance(a, b)
    assert np.isfinite(got) and got == pytest.approx(_torch_fd(a, b), rel=1e-7)


def test_frechet_warns_and_raises():
    rng = np.random.default_rng(4)
    with pytest.warns(UserWarning, match="fewer samples than feature dimensions"):
        M.frechet_distance(rng.normal(size=(20, 30)), rng.normal(size=(50, 30)))
    with pytest.raises(ValueError, match=r"frechet_distance: feature widths differ.*\(5, 3\)"):
        M.frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))


def test_fid_mnist_real_vs_noisy(mnist_test):
    x = mnist_test[0][:1000].astype(np.float32) / 127.5 - 1
    y = mnist_test[0][1000:2000].astype(np.float32) / 127.5 - 1
    noisy = np.clip(y + 0.6 * np.random.default_rng(0).standard_normal(y.shape), -1, 1)
    clean = M.fid_mnist(x, y)
    assert clean == pytest.approx(M.frechet_distance(M.features(x), M.features(y)), rel=1e-12)
    assert M.fid_mnist(x, noisy) > 3 * clean


# ---------------------------------------------------------------- KID


def _loop_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    m, d = x.shape
    k = lambda u, v: (float(u @ v) / d + 1.0) ** 3  # noqa: E731
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return sxx / (m * (m - 1)) + syy / (m * (m - 1)) - 2 * sxy / m**2


def test_mmd2_vs_double_loop():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 3)) + 0.5
    assert M.mmd2_unbiased(x, y) == pytest.approx(_loop_mmd2(x, y), rel=1e-12)


def test_kid_vs_torch_on_same_subsets():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(60, 5)), rng.normal(size=(45, 5)) * 1.3
    got = M.kid(a, b, n_subsets=8, subset_size=20, seed=3)
    draw = np.random.default_rng(3)
    vals = []
    for _ in range(8):
        x = torch.from_numpy(a[draw.choice(60, 20, replace=False)])
        y = torch.from_numpy(b[draw.choice(45, 20, replace=False)])
        kxx, kyy, kxy = ((u @ v.T / 5 + 1) ** 3 for u, v in ((x, x), (y, y), (x, y)))
        mask = 1 - torch.eye(20, dtype=torch.float64)
        vals.append(float((kxx * mask).sum() / 380 + (kyy * mask).sum() / 380 - 2 * kxy.mean()))
    assert got.mean == pytest.approx(np.mean(vals), rel=1e-10)
    assert got.std == pytest.approx(np.std(vals), rel=1e-10)
    assert M.kid(a, b, n_subsets=8, subset_size=20, seed=3) == got
    assert M.kid(a, b, n_subsets=8, subset_size=20, seed=4) != got


def test_kid_unbiased_same_distribution():
    # 400 independent pairs: the unbiased estimate averages to 0 within 3 standard errors,
    # while the biased (V-statistic) version is clearly positive
    rng = np.random.default_rng(7)
    est, biased = [], []
    for _ in range(400):
        x, y = rng.normal(size=(10, 4)), rng.normal(size=(10, 4))
        est.append(M.mmd2_unbiased(x, y))
        kxx, kyy, kxy = (M.polynomial_kernel(u, v) for u, v in ((x, x), (y, y), (x, y)))
        biased.append(kxx.mean() + kyy.mean() - 2 * kxy.mean())
    se = np.std(est) / np.sqrt(len(est))
    assert abs(np.mean(est)) < 3 * se
    assert np.mean(biased) > 10 * se
    far = M.kid(rng.normal(size=(500, 4)), rng.normal(size=(500, 4)) + 1.0, 20, 200)
    near = M.kid(rng.normal(size=(500, 4)), rng.normal(size=(500, 4)), 20, 200)
    assert abs(near.mean) < 0.02 * far.mean


def test_kid_warns_on_small_sets():
    rng = np.random.default_rng(8)
    with pytest.warns(UserWarning, match="using subsets of 30"):
        r = M.kid(rng.normal(size=(30, 3)), rng.normal(size=(40, 3)), 3, 1000)
    assert np.isfinite(r.mean)


# ---------------------------------------------------------------- precision / recall


def _torch_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict[str, float]:
    r, f = torch.from_numpy(real), torch.from_numpy(fake)
    rad_r = torch.cdist(r, r).kthvalue(k + 1, dim=1).values  # +1: the point itself
    rad_f = torch.cdist(f, f).kthvalue(k + 1, dim=1).values
    d = torch.cdist(f, r)  # (fake, real)
    inside = d <= rad_r[None, :]
    return {
        "precision": float(inside.any(1).double().mean()),
        "recall": float((d <= rad_f[:, None]).any(0).double().mean()),
        "density": float(inside.sum() / (k * f.shape[0])),
        "coverage": float(inside.any(0).double().mean()),
    }


@pytest.mark.parametrize("k", [1, 3, 5])
def test_precision_recall_vs_torch(k):
    rng = np.random.default_rng(k)
    real = rng.normal(size=(300, 6))
    fake = rng.normal(size=(250, 6)) * 1.2 + 0.3
    got, ref = M.precision_recall(real, fake, k=k), _torch_prdc(real, fake, k)
    for key in ref:
        assert got[key] == pytest.approx(ref[key], abs=2.5e-3), key  # ties at the radius
    np.testing.assert_allclose(
        M.knn_radii(real, k),
        torch.cdist(*[torch.from_numpy(real)] * 2).kthvalue(k + 1, 1).values,
        rtol=1e-9,
    )


def test_precision_recall_constructed_cases():
    rng = np.random.default_rng(9)
    angle = 2 * np.pi * np.arange(10) / 10
    centres = 50.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)  # 10 far-apart modes
    real = np.repeat(centres, 100, axis=0) + rng.normal(size=(1000, 2))
    same = M.precision_recall(real, real.copy())
    # each ball holds its centre and its k = 3 nearest neighbours: density (k + 1) / k
    assert same == {
        "precision": 1.0,
        "recall": 1.0,
        "density": pytest.approx(4 / 3),
        "coverage": 1.0,
    }
    far = M.precision_recall(real, real + 1000.0)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    full = M.precision_recall(real, np.repeat(centres, 100, axis=0) + rng.normal(size=(1000, 2)))
    assert full["recall"] > 0.9 and full["density"] == pytest.approx(1.0, abs=0.1)
    half = M.precision_recall(
        real, np.repeat(centres[:5], 200, axis=0) + rng.normal(size=(1000, 2))
    )
    assert half["recall"] == pytest.approx(0.5, abs=0.05)
    assert half["recall"] == pytest.approx(full["recall"] / 2, abs=0.03)
    assert half["precision"] > 0.9 and half["coverage"] == pytest.approx(
        full["coverage"] / 2, abs=0.05
    )


# ---------------------------------------------------------------- modes


def test_histogram_modes_kl_by_hand():
    y = np.array([0, 0, 1, 3])
    np.testing.assert_array_equal(M.class_histogram(y, 5), [2, 1, 0, 1, 0])
    assert M.modes_covered(y) == 3 and M.modes_covered(y, min_count=2) == 1
    # p = (1/2, 1/4, 0, 1/4) over 4 classes
    expect = 0.5 * math.log(0.5 * 4) + 2 * 0.25 * math.log(0.25 * 4)
    assert M.kl_to_uniform(y, 4) == pytest.approx(expect, rel=1e-14)
    assert M.kl_to_uniform(np.arange(10), 10) == pytest.approx(0.0, abs=1e-15)
    assert M.kl_to_uniform(np.zeros(7, np.int64), 10) == pytest.approx(math.log(10), rel=1e-14)
    with pytest.raises(ValueError, match="class_histogram: label 5 is out of range"):
        M.class_histogram(np.array([5]), 5)


HQ_EXPECTED = 1.0 - math.exp(-4.5)  # P(chi2_2 <= 9): a 2-D Gaussian within 3 std


@pytest.mark.parametrize(
    "sampler,modes,std", [(ring, ring_modes(), 0.01), (grid_samples, grid_modes(), 0.05)]
)
def test_mixture_metrics_true_samples(sampler, modes, std):
    x, _ = sampler(2500, generator=11)
    r = M.mixture_metrics(x, modes, std)
    k = modes.shape[0]
    assert r["modes"] == k
    se = math.sqrt(HQ_EXPECTED * (1 - HQ_EXPECTED) / 2500)
    assert abs(r["high_quality_fraction"] - HQ_EXPECTED) < 4 * se
    assert 0.0 <= r["reverse_kl"] < 4 * (k - 1) / (2 * 2500)  # multinomial noise ~ (K-1)/2N


def test_mixture_metrics_half_the_modes():
    modes = ring_modes()
    rng = np.random.default_rng(12)
    which = np.repeat(np.arange(4), 625)
    balanced = modes[which] + 0.001 * rng.standard_normal((2500, 2))
    r = M.mixture_metrics(balanced, modes, 0.01)
    assert r == {
        "modes": 4,
        "high_quality_fraction": 1.0,
        "reverse_kl": pytest.approx(math.log(2), rel=1e-12),
    }
    random_half = modes[rng.integers(0, 4, 2500)] + 0.01 * rng.standard_normal((2500, 2))
    r = M.mixture_metrics(random_half, modes, 0.01)
    assert r["modes"] == 4 and r["reverse_kl"] == pytest.approx(math.log(2), abs=0.01)
    bad = M.mixture_metrics(np.full((10, 2), 5.0), modes, 0.01)
    assert bad["modes"] == 0 and bad["high_quality_fraction"] == 0 and math.isnan(bad["reverse_kl"])


def test_stacked_mnist_metrics(mnist_test):
    x, y = mnist_test
    pred = M.predict(x[:2000])
    # one correctly classified image per digit, stacked into every one of the 1000 labels
    pick = np.array([np.flatnonzero((y[:2000] == d) & (pred == d))[0] for d in range(10)])
    codes = np.arange(1000)
    digits = np.stack([codes // 100, codes // 10 % 10, codes % 10], axis=1)
    imgs = x[pick[digits]].astype(np.float32) / 127.5 - 1  # (1000, 3, 28, 28) in [-1, 1]
    r = M.stacked_mnist_metrics(imgs)
    np.testing.assert_array_equal(r["labels"], codes)
    assert r["modes"] == 1000 and r["reverse_kl"] == pytest.approx(0.0, abs=1e-12)
    r = M.stacked_mnist_metrics(tg.tensor(imgs[:100]))  # only d_R = 0: 100 modes
    assert r["modes"] == 100 and r["reverse_kl"] == pytest.approx(math.log(10), rel=1e-12)
    with pytest.raises(ValueError, match=r"stacked_mnist_metrics.*\(4, 1, 28, 28\)"):
        M.stacked_mnist_metrics(np.zeros((4, 1, 28, 28)))


def test_mean_std_over_seeds():
    runs = [{"modes": 8, "kl": 0.1, "name": "a"}, {"modes": 6, "kl": 0.3, "name": "b"}]
    out = M.mean_std_over_seeds(runs)
    assert set(out) == {"modes", "kl"}
    assert out["modes"] == pytest.approx((7.0, math.sqrt(2.0)))
    assert out["kl"] == pytest.approx((0.2, np.std([0.1, 0.3], ddof=1)))
    assert M.mean_std_over_seeds(runs[:1])["kl"] == (0.1, 0.0)
    with pytest.raises(ValueError, match="mean_std_over_seeds: result 1 has keys"):
        M.mean_std_over_seeds([{"a": 1}, {"b": 2}])


# ---------------------------------------------------------------- reference values


def test_reference_json_matches_shipped_classifier():
    ref = M.reference()
    assert ref["classifier"]["version"] == M.VERSION and ref["classifier"]["sha256"] == M.SHA256
    assert ref == json.loads(M.REFERENCE_PATH.read_text())
    rows = ref["rows"]
    floor = rows["real test images (floor)"]["fid"]
    assert all(r["fid"] > floor for name, r in rows.items() if "floor" not in name)
