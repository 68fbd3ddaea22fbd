"""Data loading: MNIST, toy distributions, and (re-exported from their home,
:mod:`tapegrad.utils.data`, PyTorch's ``torch.utils.data``) datasets, samplers
and the batching ``DataLoader``.

``MNIST`` reads (and verifies) the original IDX files, with the test
split shipped in the package; :mod:`tapegrad.data.toy` has the ring, grid and
Stacked-MNIST distributions used to measure GAN mode collapse; :func:`load_dataset`
reads what ``tapegrad train --data`` names (MNIST, ring, grid, an image folder, a
``.npy`` file).
"""

from ..utils.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    get_worker_info,
    random_split,
)
from . import toy
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
    "BatchSampler",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "default_collate",
    "DataError",
    "load_dataset",
    "get_worker_info",
    "random_split",
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
