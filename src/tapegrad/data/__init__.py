"""Data loading: datasets, the batching ``DataLoader``, MNIST and toy distributions.

``Dataset``/``TensorDataset``/``Subset`` and ``DataLoader`` follow PyTorch's
names; ``MNIST`` reads (and verifies) the original IDX files, with the test
split shipped in the package; :mod:`tapegrad.data.toy` has the ring, grid and
Stacked-MNIST distributions used to measure GAN mode collapse; :func:`load_dataset`
reads what ``tapegrad train --data`` names (MNIST, ring, grid, an image folder, a
``.npy`` file).
"""

from . import toy
from .collate import default_collate
from .dataloader import DataLoader
from .dataset import Dataset, Subset, TensorDataset
from .files import DataError, load_dataset
from .mnist import (
    MIRRORS,
    MNIST,
    SHA256,
    MNISTDownloadError,
    download_mnist,
    find_mnist_files,
    load_mnist_arrays,
    mnist_cache_dir,
    mnist_search_dirs,
    read_idx,
)
from .toy import grid, grid_modes, ring, ring_modes, stacked_mnist

__all__ = [
    "Dataset",
    "TensorDataset",
    "Subset",
    "DataLoader",
    "default_collate",
    "DataError",
    "load_dataset",
    "MNIST",
    "MNISTDownloadError",
    "MIRRORS",
    "SHA256",
    "download_mnist",
    "find_mnist_files",
    "load_mnist_arrays",
    "mnist_cache_dir",
    "mnist_search_dirs",
    "read_idx",
    "toy",
    "ring",
    "ring_modes",
    "grid",
    "grid_modes",
    "stacked_mnist",
]
