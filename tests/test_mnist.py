"""tapegrad.data.MNIST: the shipped test split, search order, verification errors, download."""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import shutil
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.data import (
    MNIST,
    DataLoader,
    MNISTDownloadError,
    default_collate,
    download_mnist,
    find_mnist_files,
    load_mnist_arrays,
    mnist,
    read_idx,
)

SHIPPED = Path(mnist.__file__).parent / "mnist_test"
SHIPPED_TRAIN = Path(mnist.__file__).parent / "mnist_train"
REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_LABELS = "t10k-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
REAL_URLOPEN = urllib.request.urlopen


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No $TAPEGRAD_DATA and an empty per-user cache; never touch the network."""
    monkeypatch.delenv("TAPEGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", offline)


def shipped_bytes(name: str) -> bytes:
    return gzip.decompress((SHIPPED / f"{name}.gz").read_bytes())


def idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes()


# ------------------------------------------------------------------ the shipped test split
def test_shipped_test_split():
    ds = MNIST(train=False)
    assert ds.images_path.parent == SHIPPED
    assert len(ds) == 10000
    assert ds.data.shape == (10000, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets.shape == (10000,) and ds.targets.dtype == np.int64
    assert np.bincount(ds.targets).tolist() == TEST_COUNTS
    # independently decoded from the same file: IDX header is 16 bytes for images, 8 for labels
    raw = np.frombuffer(shipped_bytes(TEST_IMAGES), np.uint8, offset=16).reshape(-1, 28, 28)
    np.testing.assert_array_equal(ds.data, raw)
    np.testing.assert_array_equal(
        ds.targets, np.frombuffer(shipped_bytes(TEST_LABELS), np.uint8)[8:]
    )
    assert not ds.data.flags.writeable


def test_shipped_training_split_loads_offline():
    # TAPEGRAD_DATA is unset and the cache empty (the autouse fixture): the package's copy
    ds = MNIST(train=True)
    assert ds.images_path.parent == SHIPPED_TRAIN and ds.labels_path.parent == SHIPPED_TRAIN
    assert ds.data.shape == (60000, 28, 28) and ds.data.dtype == np.uint8
    assert np.bincount(ds.targets).tolist() == TRAIN_COUNTS
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        raw = gzip.decompress((SHIPPED_TRAIN / f"{name}.gz").read_bytes())
        assert hashlib.sha256(raw).hexdigest() == mnist.SHA256[name]
    raw = gzip.decompress((SHIPPED_TRAIN / "train-images-idx3-ubyte.gz").read_bytes())
    np.testing.assert_array_equal(
        ds.data, np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)
    )
    x, y = load_mnist_arrays(train=True)
    np.testing.assert_array_equal(x, ds.data)
    np.testing.assert_array_equal(y, ds.targets)
    # the two splits share no image: scores against the test split never see training images
    test = MNIST(train=False).data
    train_keys = {img.tobytes() for img in ds.data}
    assert not any(img.tobytes() in train_keys for img in test)
    text = (SHIPPED_TRAIN / "README.md").read_text() + (SHIPPED_TRAIN / "LICENSE").read_text()
    assert "CC BY-SA 3.0" in text and "LeCun" in text and "training split" in text


def no_shipped_training_split(monkeypatch, tmp_path):
    """Hide the package's training split, as for a package installed without its data."""
    shipped = mnist._shipped_dir
    missing = tmp_path / "not-shipped"
    monkeypatch.setattr(mnist, "_shipped_dir", lambda train: missing if train else shipped(False))
    return missing


def test_shipped_files_and_licence_note():
    for name in (TEST_IMAGES, TEST_LABELS):
        want = mnist.SHA256[name]
        assert hashlib.sha256(shipped_bytes(name)).hexdigest() == want
    text = (SHIPPED / "README.md").read_text() + (SHIPPED / "LICENSE").read_text()
    assert "LeCun" in text and "CC BY-SA 3.0" in text


def test_items_and_batches():
    ds = MNIST(train=False)
    img, label = ds[123]
    assert isinstance(img, tg.Tensor) and img.shape == (1, 28, 28) and img.dtype == np.float32
    assert type(label) is int and label == int(ds.targets[123])
    np.testing.assert_allclose(img._array[0], ds.data[123] / 255.0, rtol=1e-6)
    assert 0.0 <= img._array.min() and img._array.max() <= 1.0 and img._array.max() > 0.9
    idx = np.array([5, 9999, 0, 123])
    fast = ds.get_batch(idx)
    slow = default_collate([ds[int(i)] for i in idx])
    for a, b in zip(fast, slow):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.data, b.data)
    xb, yb = next(iter(DataLoader(ds, batch_size=32, shuffle=True, generator=0)))
    assert xb.shape == (32, 1, 28, 28) and yb.dtype == np.int64


def test_transforms():
    ds = MNIST(train=False, transform=lambda t: t.reshape(784) * 2, target_transform=str)
    img, label = ds[7]
    assert img.shape == (784,) and label == str(int(ds.targets[7]))
    xb, yb = ds.get_batch(np.array([7, 8]))
    assert xb.shape == (2, 784) and yb == [str(int(ds.targets[7])), str(int(ds.targets[8]))]
    np.testing.assert_allclose(xb._array[0], ds.data[7].reshape(-1) / 255.0 * 2, rtol=1e-6)


def test_load_mnist_arrays_are_writable_copies():
    x, y = load_mnist_arrays(train=False)
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    x[0] = 0
    x2, _ = load_mnist_arrays(train=False)
    assert x2[0].any()  # the cached copy is unchanged


def test_real_training_split_from_shared_folder(monkeypatch, tmp_path):
    if not REAL.is_dir():
        # A checkout without the project's data folder: then the explicit root must
        # fail with an error that names it (with an empty per-user cache, no
        # $TAPEGRAD_DATA and the shipped copy hidden, nothing else could supply the files).
        no_shipped_training_split(monkeypatch, tmp_path)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        monkeypatch.delenv("TAPEGRAD_DATA", raising=False)
        with pytest.raises(FileNotFoundError, match=re.escape(str(REAL))):
            MNIST(root=REAL)
        return
    ds = MNIST(root=REAL)
    assert len(ds) == 60000
    assert np.bincount(ds.targets).tolist() == TRAIN_COUNTS
    np.testing.assert_allclose(ds.data.mean(dtype=np.float64), 33.3184, atol=1e-4)
    test = MNIST(root=REAL, train=False)
    assert test.images_path.parent == REAL
    assert np.bincount(test.targets).tolist() == TEST_COUNTS


# ------------------------------------------------------------------ where files are found
def put(folder: Path, names, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / (n + (".gz" if gz else ""))).write_bytes(b"x")


def test_search_order(tmp_path, monkeypatch):
    split = [TEST_IMAGES, TEST_LABELS]
    root, env, cache = tmp_path / "root", tmp_path / "env", tmp_path / "xdg" / "tapegrad" / "mnist"
    assert find_mnist_files(False)[0].parent == SHIPPED  # last resort
    put(cache, split)
    assert find_mnist_files(False)[0].parent == cache
    put(env / "mnist", split, gz=False)
    monkeypatch.setenv("TAPEGRAD_DATA", str(env))
    img, lab = find_mnist_files(False)
    assert img == env / "mnist" / TEST_IMAGES and lab == env / "mnist" / TEST_LABELS
    put(root / "MNIST" / "raw", split)
    assert find_mnist_files(False, root)[0].parent == root / "MNIST" / "raw"
    put(root, split)
    assert find_mnist_files(False, str(root))[0] == root / f"{TEST_IMAGES}.gz"


def test_missing_files_list_where_it_looked(tmp_path, monkeypatch):
    missing = no_shipped_training_split(monkeypatch, tmp_path)
    monkeypatch.setenv("TAPEGRAD_DATA", str(tmp_path / "env"))
    put(tmp_path / "root", ["train-images-idx3-ubyte"])
    with pytest.raises(FileNotFoundError) as e:
        MNIST(root=tmp_path / "root", train=True)
    msg = str(e.value)
    for d in (
        tmp_path / "root",
        tmp_path / "root" / "MNIST" / "raw",
        tmp_path / "env" / "mnist",
        tmp_path / "xdg" / "tapegrad" / "mnist",
    ):
        assert f"  {d}\n" in msg
    assert "train-labels-idx1-ubyte" in msg and "holds only train-images-idx3-ubyte" in msg
    assert "download=True" in msg
    assert f"  {missing}\n" in msg and str(SHIPPED) not in msg  # the split's own copy only


def test_plain_and_gz_copies_in_root_load_the_same(tmp_path):
    plain, gz = tmp_path / "plain", tmp_path / "gz"
    plain.mkdir()
    for name in (TEST_IMAGES, TEST_LABELS):
        (plain / name).write_bytes(shipped_bytes(name))
    shutil.copytree(SHIPPED, gz)
    a = MNIST(root=plain, train=False)
    b = MNIST(root=gz, train=False)
    assert a.images_path == plain / TEST_IMAGES and b.images_path == gz / f"{TEST_IMAGES}.gz"
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.targets, b.targets)


# ------------------------------------------------------------------ broken files
def test_truncated_plain_file(tmp_path):
    p = tmp_path / TEST_LABELS
    p.write_bytes(shipped_bytes(TEST_LABELS)[:5000])
    with pytest.raises(
        ValueError, match=re.escape(str(p)) + r" is truncated: expected 10008 bytes.*got 5000"
    ):
        read_idx(p)


def test_truncated_gz_file(tmp_path):
    p = tmp_path / f"{TEST_IMAGES}.gz"
    p.write_bytes((SHIPPED / f"{TEST_IMAGES}.gz").read_bytes()[:400_000])
    with pytest.raises(
        ValueError,
        match=re.escape(str(p)) + r" is truncated: expected 7840016 decompressed bytes.*"
        r"got \d+ \(the gzip stream ends early\)",
    ):
        read_idx(p)


def test_tiny_file_shorter_than_header(tmp_path):
    p = tmp_path / TEST_IMAGES
    p.write_bytes(b"\0\0\x08\x03\0\0")
    with pytest.raises(ValueError, match="truncated.*6 bytes, fewer than its 16-byte IDX header"):
        read_idx(p)


def test_bad_magic(tmp_path):
    p = tmp_path / TEST_LABELS
    p.write_bytes(struct.pack(">II", 0x803, 3) + b"\1\2\3")
    with pytest.raises(
        ValueError,
        match=re.escape(str(p)) + r" is corrupt: bad magic number 0x00000803, expected 0x00000801",
    ):
        read_idx(p)


def test_checksum_mismatch_names_both_hashes(tmp_path):
    labels = np.frombuffer(shipped_bytes(TEST_LABELS), np.uint8)[8:].copy()
    labels[17] = (labels[17] + 1) % 10
    data = idx_labels(labels)
    p = tmp_path / f"{TEST_LABELS}.gz"
    p.write_bytes(gzip.compress(data))
    got = hashlib.sha256(data).hexdigest()
    want = mnist.SHA256[TEST_LABELS]
    with pytest.raises(ValueError, match=re.escape(str(p)) + f" is corrupt.*{got}.*{want}"):
        read_idx(p)
    # and through the dataset, which must not fall back to another folder silently
    shutil.copy(SHIPPED / f"{TEST_IMAGES}.gz", tmp_path)
    with pytest.raises(ValueError, match=f"corrupt.*{got}"):
        MNIST(root=tmp_path, train=False)


def test_extra_bytes_and_not_gzip(tmp_path):
    p = tmp_path / TEST_LABELS
    p.write_bytes(shipped_bytes(TEST_LABELS) + b"\0")
    with pytest.raises(ValueError, match="corrupt: it holds 10009 bytes but its header.*10008"):
        read_idx(p)
    q = tmp_path / f"{TEST_LABELS}.gz"
    q.write_bytes(shipped_bytes(TEST_LABELS))
    with pytest.raises(ValueError, match=re.escape(str(q)) + " is corrupt: .*not gzip"):
        read_idx(q)
    r = tmp_path / "x.gz"
    r.write_bytes(b"\x1f\x8b" + b"\xff" * 40)
    with pytest.raises(ValueError, match="gzip data is damaged"):
        read_idx(r, TEST_LABELS)


def test_read_idx_unknown_name_skips_checksum(tmp_path):
    p = tmp_path / "my-labels"
    p.write_bytes(idx_labels(np.array([3, 1, 4])))
    np.testing.assert_array_equal(read_idx(p, "labels"), [3, 1, 4])
    with pytest.raises(FileNotFoundError, match="MNIST file not found"):
        read_idx(tmp_path / "nope")


# ------------------------------------------------------------------ download
def test_download_offline_fails_with_clear_message(tmp_path, monkeypatch):
    no_shipped_training_split(monkeypatch, tmp_path)
    with pytest.raises(MNISTDownloadError) as e:
        MNIST(train=True, download=True)
    msg = str(e.value)
    cache = tmp_path / "xdg" / "tapegrad" / "mnist"
    assert "network disabled in tests" in msg
    for mirror in mnist.MIRRORS:
        assert mirror + "train-images-idx3-ubyte.gz" in msg
    assert f"into {cache}" in msg and "offline" in msg
    assert isinstance(e.value, FileNotFoundError)  # callers catching "not found" see it too


def test_download_unreachable_mirror_fails_fast(tmp_path, monkeypatch):
    # the real urlopen, against a local port nobody listens on: refused at once
    monkeypatch.setattr(urllib.request, "urlopen", REAL_URLOPEN)
    with pytest.raises(MNISTDownloadError, match=r"http://127\.0\.0\.1:9/t10k-images.*\n.*offline"):
        download_mnist(train=False, dest=tmp_path / "d", mirrors=["http://127.0.0.1:9/"], timeout=2)
    assert not (tmp_path / "d").exists() or list((tmp_path / "d").iterdir()) == []


class FakeMirror:
    """Stands in for urlopen: serves the shipped files, optionally broken on one mirror."""

    def __init__(self, broken_prefix=None):
        self.broken_prefix = broken_prefix
        self.urls = []

    def __call__(self, req, timeout=None):
        url = req.full_url
        self.urls.append(url)
        name = url.rsplit("/", 1)[1]
        data = (SHIPPED / name).read_bytes()
        if self.broken_prefix and url.startswith(self.broken_prefix):
            data = gzip.compress(gzip.decompress(data)[:-10], compresslevel=1)  # truncated
        return io.BytesIO(data)


def test_download_verifies_and_writes_into_cache(tmp_path, monkeypatch):
    fake = FakeMirror(broken_prefix=mnist.MIRRORS[0])
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    folder = download_mnist(train=False)
    cache = tmp_path / "xdg" / "tapegrad" / "mnist"
    assert folder == cache
    assert sorted(p.name for p in cache.iterdir()) == [f"{TEST_IMAGES}.gz", f"{TEST_LABELS}.gz"]
    # the first mirror served a truncated file: rejected, the second mirror used
    assert fake.urls[0].startswith(mnist.MIRRORS[0]) and fake.urls[1].startswith(mnist.MIRRORS[1])
    ds = MNIST(train=False)
    assert ds.images_path.parent == cache
    assert np.bincount(ds.targets).tolist() == TEST_COUNTS
    # files already there are not fetched again
    n = len(fake.urls)
    download_mnist(train=False)
    assert len(fake.urls) == n


def test_download_true_uses_root_or_shipped_copy(tmp_path, monkeypatch):
    fake = FakeMirror()
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    # the test split is always available (shipped): nothing to download
    ds = MNIST(root=tmp_path / "data", train=False, download=True)
    assert ds.images_path.parent == SHIPPED and fake.urls == []
    folder = download_mnist(train=False, dest=tmp_path / "data")
    assert folder == tmp_path / "data"
    assert fake.urls == [mnist.MIRRORS[0] + f"{n}.gz" for n in (TEST_IMAGES, TEST_LABELS)]
    assert MNIST(root=tmp_path / "data", train=False).images_path.parent == tmp_path / "data"
    # without the shipped copy, the training split is downloaded into root when one is
    # given (offline here: the message says where the files were to go)
    no_shipped_training_split(monkeypatch, tmp_path)
    with pytest.raises(MNISTDownloadError, match=re.escape(f"into {tmp_path / 'data'},")):
        MNIST(root=tmp_path / "data", train=True, download=True)
    assert fake.urls[-1] == mnist.MIRRORS[-1] + "train-images-idx3-ubyte.gz"
