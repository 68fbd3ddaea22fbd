"""Training data named by a string: ``mnist``, ``ring``, ``grid``, a folder of images or a
``.npy`` file (what ``tapegrad train --data`` accepts).

:func:`load_dataset` returns ``(samples, labels or None, description)``. Bad input raises
:class:`DataError` (a ``ValueError``) with one line naming the file and what is wrong:
an object or string array, an array of the wrong rank, an empty file or folder, an image
that cannot be read (the whole folder is refused, naming the file, rather than training
on a silently smaller set), or images of different sizes.

Memory: a ``.npy`` file is opened with ``np.load(mmap_mode="r")``, so it is not read
into memory here; :func:`to_float32` converts it chunk by chunk into one float32 array,
so loading a uint8 file of ``B`` bytes peaks near ``B + 4B`` (the mapped file and the
float32 copy), well under three times the float32 size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DataError", "load_dataset", "to_float32", "DATA_CHOICES", "IMAGE_EXTENSIONS"]

DATA_CHOICES = "mnist, ring, grid, a folder of images or a .npy file"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# rows converted at a time: bounds the temporary float64/float32 work arrays
_CHUNK_BYTES = 8 << 20


class DataError(ValueError):
    """Training data that cannot be used; the message names the file and the problem."""


def load_dataset(
    spec: str, seed: int = 0, n_points: int = 100_000
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """``(samples, labels or None, description)`` for a ``--data`` value.

    ``mnist``: the training split (uint8 ``(N, 1, 28, 28)``; shipped with tapegrad, so
    training never falls back to the test images its scores compare with).
    ``ring``/``grid``: ``n_points`` points of the 2-D mixtures drawn with ``seed``
    (PacGAN's training set size by default). A folder:
    every image in it (same size; greyscale unless any is colour), uint8
    ``(N, C, H, W)``. A ``.npy`` file: ``(N, H, W)``, ``(N, C, H, W)`` or ``(N, D)``
    numbers, returned memory-mapped (read-only).
    """
    from . import toy
    from .mnist import load_mnist_arrays

    if spec == "mnist":
        x, y = load_mnist_arrays(train=True)
        return x[:, None], y, "MNIST training split (60,000 images)"
    if spec in ("ring", "grid"):
        pts, modes = (toy.ring if spec == "ring" else toy.grid)(n_points, generator=seed)
        return np.asarray(pts), np.asarray(modes), f"{spec} mixture ({n_points:,} points)"
    p = Path(spec).expanduser()
    if p.is_dir():
        return _load_folder(p), None, f"images in {p}"
    if p.suffix == ".npy":
        a = _load_npy(p)
        return a, None, f"array {p} {a.shape}"
    if p.exists():
        raise DataError(f"--data {spec}: not a folder or a .npy file (expected {DATA_CHOICES})")
    raise DataError(f"--data {spec}: no such file or folder (expected {DATA_CHOICES})")


def _load_npy(p: Path) -> np.ndarray:
    if not p.is_file():
        raise DataError(f"--data {p}: no such file")
    with open(p, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise DataError(f"--data {p}: not a readable .npy file (no NumPy header)")
    try:
        a = np.load(p, mmap_mode="r", allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" in str(e) or "object" in str(e).lower():
            raise DataError(f"--data {p}: holds Python objects, not numbers") from None
        raise DataError(f"--data {p}: not a readable .npy file ({e})") from None
    except (OSError, EOFError) as e:
        raise DataError(f"--data {p}: not a readable .npy file ({e})") from None
    if a.dtype.kind not in "fiub":
        raise DataError(f"--data {p}: holds {a.dtype} values, not numbers")
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim not in (2, 4) or a.shape[0] == 0:
        raise DataError(f"--data {p}: expected (N, H, W), (N, C, H, W) or (N, D), got {a.shape}")
    return a


def _load_folder(folder: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise DataError(f"--data {folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) in the folder")
    arrays, colour = [], False
    for f in files:
        try:
            with Image.open(f) as im:
                im.load()
                colour = colour or im.mode not in ("L", "1", "I", "I;16", "F")
                arrays.append((f, im.copy()))
        except (OSError, UnidentifiedImageError, ValueError) as e:
            raise DataError(f"--data {folder}: cannot read image {f.name} ({e})") from None
    out = [np.asarray(im.convert("RGB" if colour else "L")) for _, im in arrays]
    shapes = {a.shape for a in out}
    if len(shapes) != 1:
        raise DataError(f"--data {folder}: images differ in size: {sorted(shapes)[:4]}")
    x = np.stack(out)
    return x.transpose(0, 3, 1, 2) if colour else x[:, None]


def to_float32(a: Any) -> np.ndarray:
    """``a`` as a new float32 array (``a.astype(np.float32)``), converted in chunks of rows.

    Peak memory: the output plus one chunk (8 MB), whatever ``a``'s size; ``a`` may be a
    memory-mapped array, which is then read once, in order.
    """
    if not isinstance(a, np.ndarray):
        a = np.asarray(a)
    out = np.empty(a.shape, np.float32)
    row = max(1, int(np.prod(a.shape[1:], dtype=np.int64)) * 4)
    step = max(1, _CHUNK_BYTES // row)
    for i in range(0, a.shape[0], step):
        out[i : i + step] = a[i : i + step]
    return out
