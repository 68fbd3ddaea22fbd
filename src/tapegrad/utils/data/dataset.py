"""Datasets: indexable collections of samples, iterable streams, and ways to
combine and split them (``ConcatDataset``, ``Subset``, ``random_split``).

A dataset is any object with ``__len__`` and ``__getitem__(i)`` returning one
sample. A dataset may also offer ``get_batch(indices)``: given a 1-D int64
NumPy array of indices it returns the collated batch in one go, equal to
``default_collate([ds[i] for i in indices])`` but without building each sample;
:class:`~tapegrad.data.DataLoader` uses it when no ``collate_fn`` is given.
"""

from __future__ import annotations

import bisect
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...backend import xp
from ...tensor import Tensor, _wrap
from ._rng import resolve_generator
from .collate import default_collate

__all__ = [
    "Dataset",
    "IterableDataset",
    "TensorDataset",
    "ConcatDataset",
    "Subset",
    "random_split",
]


class Dataset(ABC):
    """Base class of map-style datasets: implement ``__getitem__`` and ``__len__``."""

    @abstractmethod
    def __getitem__(self, index: int) -> Any:
        """The sample at ``index``."""

    @abstractmethod
    def __len__(self) -> int:
        """The number of samples."""

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of stream-style datasets: implement ``__iter__`` yielding samples.

    A :class:`~tapegrad.utils.data.DataLoader` with workers gives each worker its
    own copy; use :func:`~tapegrad.utils.data.get_worker_info` in ``__iter__`` to
    split the stream among them, as in PyTorch.
    """

    def __iter__(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __getitem__(self, index: int) -> Any:
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate it, do not index")

    def __len__(self) -> int:
        raise TypeError(f"{type(self).__name__} is an IterableDataset and has no len()")

    def __add__(self, other: Any) -> Any:
        raise TypeError("IterableDatasets cannot be concatenated with +")


class ConcatDataset(Dataset):
    """The samples of several datasets one after another.

    ``cumulative_sizes[i]`` is the number of samples in datasets 0..i.
    """

    def __init__(self, datasets: Sequence[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if index < 0:
            if -index > n:
                raise ValueError(f"ConcatDataset: index {index} is out of range for {n} samples")
            index += n
        if index >= n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {n} samples")
        k = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][index - start]


def _index(indices: np.ndarray) -> Any:
    return indices if xp is np else xp.asarray(indices)  # CuPy wants device indices


class TensorDataset(Dataset):
    """Samples are the rows of equally long Tensors (or NumPy arrays).

    ``TensorDataset(x, y)[i]`` is ``(x[i], y[i])``: a Tensor row for a Tensor
    column (a constant, cut from any graph), a NumPy row for a NumPy column.
    ``get_batch`` slices all columns at once with fancy indexing, which is what
    makes a :class:`~tapegrad.data.DataLoader` over it fast.

    Args:
        *tensors: one or more Tensors or NumPy arrays with at least one dimension,
            all with the same first dimension.

    Raises:
        ValueError: no tensors, a 0-d tensor, or first dimensions that differ
            (the message lists them).
    """

    def __init__(self, *tensors: Tensor | np.ndarray) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        arrays, is_tensor = [], []
        for i, t in enumerate(tensors):
            if isinstance(t, Tensor):
                arrays.append(t._array)
                is_tensor.append(True)
            elif isinstance(t, np.ndarray) or isinstance(t, xp.ndarray):
                arrays.append(t)
                is_tensor.append(False)
            else:
                raise TypeError(
                    f"TensorDataset: argument {i} is a {type(t).__name__}, expected a Tensor "
                    f"or a NumPy array"
                )
            if arrays[-1].ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is 0-d; samples index dim 0")
        sizes = [a.shape[0] for a in arrays]
        if len(set(sizes)) > 1:
            raise ValueError(
                f"TensorDataset: all tensors must have the same size in dim 0, got sizes "
                f"{sizes} (shapes {[tuple(a.shape) for a in arrays]})"
            )
        self.tensors = tuple(tensors)
        self._arrays = tuple(arrays)
        self._is_tensor = tuple(is_tensor)

    def __len__(self) -> int:
        return self._arrays[0].shape[0]

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return tuple(
            _wrap(a[index]) if t else a[index] for a, t in zip(self._arrays, self._is_tensor)
        )

    def get_batch(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        """The rows ``indices`` (1-D int64) of every column, as Tensors (copies)."""
        idx = _index(indices)
        return tuple(_wrap(a[idx]) for a in self._arrays)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(
                f"Subset: indices must lie in [0, {n}) for a dataset of {n} samples, got "
                f"min {self.indices.min()}, max {self.indices.max()}"
            )

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def get_batch(self, indices: np.ndarray) -> Any:
        """The collated batch of samples ``indices`` of this subset."""
        inner = self.indices[indices]
        getter = getattr(self.dataset, "get_batch", None)
        if getter is not None:
            return getter(inner)
        return default_collate([self.dataset[int(i)] for i in inner])


def random_split(
    dataset: Any, lengths: Sequence[int | float], generator: Any = None
) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random Subsets of the given ``lengths``.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1
    (floors, then the remainder given out one by one from the first, as in
    PyTorch). ``generator``: a :class:`tapegrad.Generator`, NumPy Generator or
    int seed; tapegrad's global generator when None.
    """
    n = len(dataset)
    lens: list[Any] = list(lengths)
    if math.isclose(sum(lens), 1) and sum(lens) <= 1:
        counts = [int(math.floor(n * f)) for f in lens]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lens = counts
    if sum(lens) != n:
        raise ValueError(
            f"random_split: the lengths {list(lengths)} sum to {sum(lens)}, but the dataset "
            f"has {n} samples"
        )
    order = resolve_generator(generator, "random_split").permutation(n)
    out, start = [], 0
    for k in lens:
        out.append(Subset(dataset, order[start : start + k]))
        start += k
    return out
