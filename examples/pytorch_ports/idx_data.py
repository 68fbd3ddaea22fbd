"""Reading MNIST's IDX files with NumPy, for both ports and both backends.

This is the one part of the ports that is not PyTorch's own code: PyTorch's
examples download MNIST with torchvision, which is not used here. The files
(train-images-idx3-ubyte.gz and the three others, plain or gzip-compressed) are
looked for in ``--data DIR`` or, without it, in the folder named by the
``TAPEGRAD_DATA`` environment variable.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

NAMES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def data_dir(flag: str | None) -> Path:
    """The folder given by ``--data``, else ``$TAPEGRAD_DATA``; raises if neither is set."""
    d = flag or os.environ.get("TAPEGRAD_DATA")
    if not d:
        raise SystemExit("error: give the MNIST folder with --data DIR or TAPEGRAD_DATA=DIR")
    return Path(d)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes as a uint8 array of the shape in its header."""
    raw = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    if raw[:2] != b"\0\0" or raw[2] != 8:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, file holds {data.size} values")
    return data.reshape(shape)


def load_split(folder: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 28, 28) and labels int64 (N,) of one split."""
    out = []
    for name in NAMES[train]:
        found = [p for p in (folder / name, folder / (name + ".gz")) if p.exists()]
        if not found:
            raise SystemExit(f"error: {name}(.gz) is not in {folder}")
        out.append(read_idx(found[0]))
    return out[0].copy(), out[1].astype(np.int64)
