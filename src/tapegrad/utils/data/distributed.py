"""``DistributedSampler``: each rank's share of a dataset's indices for one epoch.

Like ``torch.utils.data.DistributedSampler``: the order of epoch ``e`` is a
permutation drawn from ``seed + e`` (the same on every rank, so
:meth:`DistributedSampler.set_epoch` reshuffles identically everywhere); it is
padded with its own first indices to a multiple of the number of ranks (or cut
to one with ``drop_last``), and rank ``r`` takes every ``num_replicas``-th index
from position ``r``. Without padding or dropping, the ranks' shares are disjoint
and cover the dataset exactly once per epoch.

Iterate it for the indices, and read them with ``Subset``::

    sampler = DistributedSampler(dataset)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        loader = DataLoader(Subset(dataset, list(sampler)), batch_size=per_rank_batch)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ...distributed import get_rank, get_world_size

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` reads this epoch.

    Args:
        dataset: anything with ``__len__``.
        num_replicas: the number of ranks (default: the world size).
        rank: this rank (default: the process's rank).
        shuffle: a new permutation each epoch (else 0, 1, 2, ...).
        seed: the base seed; every rank must pass the same one.
        drop_last: drop the tail so every rank has ``len(dataset) // num_replicas``
            indices instead of padding to ``ceil(len(dataset) / num_replicas)``.
    """

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None:
            num_replicas = get_world_size()
        if rank is None:
            rank = get_rank()
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(
                f"DistributedSampler: invalid rank {rank}, rank should be in the interval "
                f"[0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if drop_last:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > n:
            reps = math.ceil((self.total_size - n) / max(n, 1))
            order = np.concatenate([order] + [order] * reps)[: self.total_size]
        return iter(order[self.rank : self.total_size : self.num_replicas].tolist())

    def __len__(self) -> int:
        """Indices per rank and epoch."""
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s permutation (call it with the same value on every rank)."""
        self.epoch = int(epoch)
