"""Samplers: which dataset indices a ``DataLoader`` reads, in which order.

``Sampler`` yields indices; ``BatchSampler`` groups another sampler's indices
into lists. Random samplers take ``generator=`` (a :class:`tapegrad.Generator`,
a NumPy Generator or an int seed) and otherwise draw from tapegrad's global
generator, so :func:`tapegrad.manual_seed` makes them reproducible. The orders
differ from PyTorch's (another random stream); their distributions are the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ._rng import resolve_generator

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
]


class Sampler:
    """Base class: implement ``__iter__`` (indices) and, where known, ``__len__``."""

    def __init__(self, data_source: Any = None) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices each pass; with ``replacement``,
    ``num_samples`` independent uniform draws."""

    def __init__(
        self,
        data_source: Any,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Any = None,
    ) -> None:
        self.data_source, self.replacement = data_source, bool(replacement)
        self._num_samples, self.generator = num_samples, generator
        if num_samples is not None and (not isinstance(num_samples, int) or num_samples <= 0):
            raise ValueError(
                f"RandomSampler: num_samples should be a positive integer, got {num_samples!r}"
            )

    @property
    def num_samples(self) -> int:
        """How many indices one pass yields: the dataset's length unless set."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _gen(self) -> np.random.Generator:
        return resolve_generator(self.generator, "RandomSampler")

    def __iter__(self) -> Iterator[int]:
        n, k, gen = len(self.data_source), self.num_samples, self._gen()
        if self.replacement:
            return iter(gen.integers(0, n, size=k).tolist())
        # whole permutations, then part of one, as PyTorch does for num_samples > n
        parts = [gen.permutation(n) for _ in range(k // n)]
        if k % n:
            parts.append(gen.permutation(n)[: k % n])
        return iter(np.concatenate(parts).tolist() if parts else [])

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order each pass."""

    def __init__(self, indices: Sequence[int], generator: Any = None) -> None:
        self.indices, self.generator = list(indices), generator

    def __iter__(self) -> Iterator[int]:
        perm = resolve_generator(self.generator, "SubsetRandomSampler").permutation(
            len(self.indices)
        )
        return iter([self.indices[i] for i in perm])

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights``
    (with or without ``replacement``)."""

    def __init__(
        self,
        weights: Sequence[float] | Any,
        num_samples: int,
        replacement: bool = True,
        generator: Any = None,
    ) -> None:
        w = np.asarray(weights._array if hasattr(weights, "_array") else weights, np.float64)
        if w.ndim != 1 or w.size == 0 or (w < 0).any() or not np.isfinite(w).all():
            raise ValueError(
                "WeightedRandomSampler: weights must be a non-empty 1-D sequence of finite, "
                f"non-negative numbers, got shape {w.shape}"
            )
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(
                f"WeightedRandomSampler: num_samples should be a positive integer, got "
                f"{num_samples!r}"
            )
        if not replacement and num_samples > int((w > 0).sum()):
            raise ValueError(
                f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement "
                f"from {int((w > 0).sum())} non-zero weights"
            )
        self.weights, self.num_samples = w, num_samples
        self.replacement, self.generator = bool(replacement), generator

    def __iter__(self) -> Iterator[int]:
        gen = resolve_generator(self.generator, "WeightedRandomSampler")
        p = self.weights / self.weights.sum()
        idx = gen.choice(p.size, size=self.num_samples, replace=self.replacement, p=p)
        return iter(idx.tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler``; the last may be shorter
    unless ``drop_last``."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"BatchSampler: batch_size should be a positive integer, got {batch_size!r}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a bool, got {drop_last!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
