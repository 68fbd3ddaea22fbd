"""MNIST: 28x28 greyscale handwritten digits, read from the original IDX files.

Where the files are looked for, in order (the first folder holding both files
of the split wins; each file may be plain or ``.gz``):

1. ``root`` as given, and its ``mnist/`` and ``MNIST/raw/`` subfolders;
2. ``$TAPEGRAD_DATA`` and its ``mnist/`` and ``MNIST/raw/`` subfolders;
3. the per-user cache ``$XDG_CACHE_HOME/tapegrad/mnist`` (``~/.cache/tapegrad/mnist``);
4. the copy shipped inside the package (``tapegrad/data/mnist_train`` and
   ``tapegrad/data/mnist_test``, CC BY-SA 3.0, see their READMEs), so that both
   splits load offline.

Every file is verified on load: its IDX magic number, its length against its
header, and the SHA-256 of its decompressed bytes against the canonical values
in :data:`SHA256`. ``download=True`` fetches missing files from :data:`MIRRORS`.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib import request as _request

import numpy as np

from .._atomic import atomic_write_bytes
from ..tensor import Tensor, _wrap
from ..utils.data.collate import default_collate
from ..utils.data.dataset import Dataset

__all__ = [
    "MNIST",
    "MNISTDownloadError",
    "MIRRORS",
    "SHA256",
    "load_mnist_arrays",
    "download_mnist",
    "find_mnist_files",
    "mnist_search_dirs",
    "mnist_cache_dir",
    "read_idx",
]

#: SHA-256 of each decompressed IDX file (the mirrors' .gz bytes differ; these do not).
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Public mirrors tried in order by ``download=True``; each holds ``<name>.gz``.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

_SPLITS = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class MNISTDownloadError(FileNotFoundError):
    """The MNIST files are not on disk and could not be downloaded."""


def mnist_cache_dir() -> Path:
    """The per-user cache folder: ``$XDG_CACHE_HOME/tapegrad/mnist`` or ``~/.cache/...``."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".cache"
    return root / "tapegrad" / "mnist"


def _shipped_dir(train: bool) -> Path:
    """The split's copy inside the package (checksummed on load like any other)."""
    return Path(__file__).resolve().parent / ("mnist_train" if train else "mnist_test")


def mnist_search_dirs(train: bool = True, root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for a split, in order (see the module docstring)."""
    dirs: list[Path] = []
    for base in (root, os.environ.get("TAPEGRAD_DATA") or None):
        if base is not None:
            b = Path(os.path.expanduser(os.fspath(base)))
            dirs += [b, b / "mnist", b / "MNIST" / "raw"]
    dirs.append(mnist_cache_dir())
    dirs.append(_shipped_dir(train))
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


def _locate(folder: Path, name: str) -> Path | None:
    for cand in (folder / name, folder / f"{name}.gz"):
        if cand.is_file():
            return cand
    return None


def find_mnist_files(
    train: bool = True, root: str | os.PathLike[str] | None = None
) -> tuple[Path, Path]:
    """Paths of the (images, labels) files of a split: the first folder holding both.

    Raises:
        FileNotFoundError: no searched folder holds both files; the message lists
            every folder looked in and says where to put the files.
    """
    img_name, lab_name = _SPLITS[bool(train)]
    dirs = mnist_search_dirs(train, root)
    partial = []
    for d in dirs:
        img, lab = _locate(d, img_name), _locate(d, lab_name)
        if img is not None and lab is not None:
            return img, lab
        found = img if img is not None else lab
        if found is not None:
            partial.append(f"{d} holds only {found.name}")
    split = "training" if train else "test"
    looked = "\n".join(f"  {d}" for d in dirs)
    note = ("\n" + "\n".join(partial)) if partial else ""
    raise FileNotFoundError(
        f"MNIST {split} split not found: looked for {img_name}[.gz] and {lab_name}[.gz] in\n"
        f"{looked}{note}\nPut both files in one of these folders (or pass root=..., or set "
        f"$TAPEGRAD_DATA), or pass download=True to fetch them."
    )


def _decompress(raw: bytes, where: str) -> tuple[bytes, bool]:
    """The decompressed bytes of a gzip file and whether its stream ended early."""
    if raw[:2] != b"\x1f\x8b":
        raise ValueError(
            f"MNIST file {where} is corrupt: it is named .gz but is not gzip data "
            f"(first bytes {raw[:4].hex() or 'none: the file is empty'})"
        )
    d = zlib.decompressobj(wbits=31)
    try:
        out = d.decompress(raw) + d.flush()
    except zlib.error as e:
        raise ValueError(f"MNIST file {where} is corrupt: its gzip data is damaged ({e})") from None
    return out, not d.eof


def _parse(data: bytes, where: str, name: str, gz: bool, gz_truncated: bool) -> np.ndarray:
    """Check an IDX file's magic, length and checksum; return its array (a view of data)."""
    ndim = 3 if "images" in name else 1
    want_magic = 0x0800 | ndim
    dec = " decompressed" if gz else ""
    ended = " (the gzip stream ends early)" if gz_truncated else ""
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise ValueError(
            f"MNIST file {where} is truncated: it holds {len(data)}{dec} bytes, fewer than "
            f"its {header_len}-byte IDX header{ended}"
        )
    (magic,) = struct.unpack(">I", data[:4])
    if magic != want_magic:
        raise ValueError(
            f"MNIST file {where} is corrupt: bad magic number 0x{magic:08x}, expected "
            f"0x{want_magic:08x} (an IDX file of unsigned bytes with {ndim} dimension(s))"
        )
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    expected = header_len + int(np.prod(dims, dtype=np.int64))
    if len(data) < expected or gz_truncated:
        raise ValueError(
            f"MNIST file {where} is truncated: expected {expected}{dec} bytes (header: shape "
            f"{dims}), got {len(data)}{ended}"
        )
    if len(data) > expected:
        raise ValueError(
            f"MNIST file {where} is corrupt: it holds {len(data)}{dec} bytes but its header "
            f"(shape {dims}) says {expected}"
        )
    if name in SHA256:
        got = hashlib.sha256(data).hexdigest()
        if got != SHA256[name]:
            raise ValueError(
                f"MNIST file {where} is corrupt: the SHA-256 of its{dec} bytes is {got}, "
                f"expected {SHA256[name]} for {name}"
            )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims)


def read_idx(path: str | os.PathLike[str], name: str | None = None) -> np.ndarray:
    """Read and verify one IDX file of unsigned bytes (plain or ``.gz``).

    Args:
        path: the file.
        name: which MNIST file it is (e.g. ``"t10k-labels-idx1-ubyte"``); default: the
            file name without ``.gz``. Known names are checked against :data:`SHA256`.

    Returns:
        A read-only uint8 array of the shape in the file's header.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a corrupt (not gzip, bad magic number, too long, checksum mismatch)
            or truncated file; the message names the file and what differs.
    """
    p = Path(path)
    if name is None:
        name = p.name[:-3] if p.name.endswith(".gz") else p.name
    if not p.is_file():
        raise FileNotFoundError(f"MNIST file not found: {p}")
    raw = p.read_bytes()
    gz = p.name.endswith(".gz")
    data, truncated = _decompress(raw, str(p)) if gz else (raw, False)
    arr = _parse(data, str(p), name, gz, truncated)
    arr.flags.writeable = False
    return arr


# Decoded, verified arrays by (file, mtime, size): constructing MNIST twice is cheap.
_cache: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 8


def _read_cached(path: Path, name: str, labels: bool) -> np.ndarray:
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, name, labels)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    arr = read_idx(path, name)
    if labels:
        arr = arr.astype(np.int64)
        arr.flags.writeable = False
    with _cache_lock:
        _cache[key] = arr
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return arr


def download_mnist(
    train: bool = True,
    dest: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] = MIRRORS,
    timeout: float = 30.0,
) -> Path:
    """Download a split's two files into ``dest`` (default: the per-user cache).

    Files already in ``dest`` are kept. Each file is verified (SHA-256 of its
    decompressed bytes) before it is written, atomically, as ``<name>.gz``.

    Returns:
        The folder holding the files.

    Raises:
        MNISTDownloadError: a file could not be fetched from any mirror (e.g. offline);
            the message lists each URL tried with its error and where to put the files
            by hand.
    """
    folder = Path(dest) if dest is not None else mnist_cache_dir()
    for name in _SPLITS[bool(train)]:
        if _locate(folder, name) is not None:
            continue
        errors = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + f"/{name}.gz"
            try:
                req = _request.Request(url, headers={"User-Agent": "tapegrad"})
                with _request.urlopen(req, timeout=timeout) as resp:
                    raw = resp.read()
                data, truncated = _decompress(raw, url)
                _parse(data, url, name, True, truncated)
            except (OSError, ValueError, http.client.HTTPException) as e:
                errors.append(f"  {url}: {e}")
                continue
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(folder / f"{name}.gz", raw)
            break
        else:
            tried = "\n".join(errors) if errors else "  (no mirrors given)"
            raise MNISTDownloadError(
                f"could not download MNIST file {name}.gz; tried\n{tried}\n"
                f"If this machine is offline, copy the files {' and '.join(_SPLITS[bool(train)])} "
                f"(plain or .gz, from any MNIST mirror) into {folder}, or into a folder given as "
                f"root=... or in $TAPEGRAD_DATA."
            )
    return folder


def _load(
    train: bool, root: str | os.PathLike[str] | None, download: bool
) -> tuple[np.ndarray, np.ndarray, Path, Path]:
    try:
        img_path, lab_path = find_mnist_files(train, root)
    except FileNotFoundError:
        if not download:
            raise
        download_mnist(train, root)
        img_path, lab_path = find_mnist_files(train, root)
    img_name, lab_name = _SPLITS[bool(train)]
    images = _read_cached(img_path, img_name, labels=False)
    labels = _read_cached(lab_path, lab_name, labels=True)
    if images.shape[0] != labels.shape[0]:  # pragma: no cover - checksums make this impossible
        raise ValueError(f"MNIST: {images.shape[0]} images but {labels.shape[0]} labels")
    return images, labels, img_path, lab_path


def load_mnist_arrays(
    train: bool = True, root: str | os.PathLike[str] | None = None, download: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """A split as NumPy arrays: images uint8 ``(N, 28, 28)``, labels int64 ``(N,)``.

    N is 60,000 (``train=True``) or 10,000. The arrays are fresh, writable copies.
    See the module docstring for where the files are looked for.

    Raises:
        FileNotFoundError: the split is not found (and ``download`` is false or failed).
        ValueError: a file is corrupt or truncated.
    """
    images, labels, _, _ = _load(train, root, download)
    return images.copy(), labels.copy()


def _to_float(images: np.ndarray) -> np.ndarray:
    # shared by __getitem__ and get_batch so both give bit-identical values
    return images.astype(np.float32) / np.float32(255.0)


class MNIST(Dataset):
    """The MNIST training (60,000) or test (10,000) split.

    Args:
        root: folder holding the IDX files (searched first; see the module docstring).
        train: the training split, else the test split (both shipped with tapegrad).
        download: fetch missing files from :data:`MIRRORS` into ``root`` if given,
            else into the per-user cache.
        transform: applied to each image Tensor (float32 ``(1, 28, 28)`` in [0, 1]).
        target_transform: applied to each label (an ``int``).

    ``ds[i]`` is ``(image, label)``: a float32 Tensor ``(1, 28, 28)`` in [0, 1] (or
    what ``transform`` returns) and an ``int``. For speed, ``ds.data`` is the
    read-only uint8 array ``(N, 28, 28)`` and ``ds.targets`` the read-only int64
    array ``(N,)`` (copy them to modify); ``ds.images_path``/``ds.labels_path`` say
    which files were read.

    Raises:
        FileNotFoundError: the files are not found (the message lists where it looked);
            :class:`MNISTDownloadError` when downloading failed.
        ValueError: a file is corrupt or truncated (the message names it).
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        train: bool = True,
        download: bool = False,
        transform: Callable[[Tensor], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
    ) -> None:
        self.root = root
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        self.data, self.targets, self.images_path, self.labels_path = _load(
            self.train, root, download
        )

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image: Any = _wrap(_to_float(self.data[index])[None])
        label: Any = int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def get_batch(self, indices: np.ndarray) -> tuple[Any, Any]:
        """Images float32 ``(B, 1, 28, 28)`` and labels int64 ``(B,)`` as Tensors.

        Equal to ``default_collate([ds[i] for i in indices])``; computed on whole
        arrays when there are no transforms.
        """
        if self.transform is not None or self.target_transform is not None:
            return default_collate([self[int(i)] for i in indices])
        return _wrap(_to_float(self.data[indices])[:, None]), _wrap(self.targets[indices])

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"MNIST(split={split}, n={len(self)}, images={self.images_path})"
