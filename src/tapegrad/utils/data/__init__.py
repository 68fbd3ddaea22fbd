"""``torch.utils.data``'s names: datasets, ``DataLoader`` and ``DistributedSampler``.

``Dataset``, ``TensorDataset``, ``Subset`` and ``DataLoader`` are those of
:mod:`tapegrad.data`.
"""

from ...data import DataLoader, Dataset, Subset, TensorDataset
from .distributed import DistributedSampler

__all__ = ["DataLoader", "Dataset", "DistributedSampler", "Subset", "TensorDataset"]
