"""``DataLoader``: mini-batches over a dataset, reproducible and resumable.

Resuming a run exactly
----------------------
``loader.state_dict()`` records where the loader is: how many epochs it has
started, how many batches of the current epoch it has handed out, that epoch's
sample order and the state of its own generator. Save it with the model and
optimizer state (``tapegrad.save`` stores it as is), and after
``loader.load_state_dict(state)`` the next ``for batch in loader`` continues
with the first batch not yet handed out, then later epochs draw the same orders
the uninterrupted run would have drawn::

    for epoch in range(start_epoch, epochs):
        for xb, yb in loader:                      # resumes mid-epoch after a load
            ...
            if step % 1000 == 0:
                tg.save({"model": model.state_dict(), "opt": opt.state_dict(),
                         "loader": loader.state_dict(), "rng": tg.get_rng_state()}, path)

A loader built with ``generator=None`` draws its orders from tapegrad's global
generator, whose state is not part of the loader's state: save and restore it
with :func:`tapegrad.get_rng_state` / :func:`tapegrad.set_rng_state` (as above).

The state follows the most recently started iterator; iterating one loader from
two loops at once is not supported.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .. import random as _random
from ._rng import resolve_generator
from .collate import default_collate

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over ``dataset`` in mini-batches.

    Args:
        dataset: an object with ``__len__`` and ``__getitem__`` (a
            :class:`~tapegrad.data.Dataset`), optionally ``get_batch(indices)``.
        batch_size: samples per batch (the last batch may be smaller).
        shuffle: draw a new random order at the start of every epoch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        generator: where shuffled orders come from: a ``numpy.random.Generator``
            (used and advanced as is), an ``int`` seed (a private PCG64 generator), or
            ``None`` for tapegrad's global generator (so :func:`tapegrad.manual_seed`
            makes the order reproducible).
        collate_fn: turns a list of samples into a batch; default
            :func:`~tapegrad.data.default_collate`. When it is not given and the
            dataset has ``get_batch`` (e.g. :class:`~tapegrad.data.TensorDataset`),
            whole batches are fetched at once with fancy indexing instead.

    Each batch is what the collate function returns: for a dataset of
    ``(x, y)`` samples, a tuple ``(X, Y)`` of Tensors with a leading batch dimension.

    Raises:
        ValueError: an empty dataset ("DataLoader: the dataset is empty") or a
            batch size that is not a positive int.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: np.random.Generator | int | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        if (
            not isinstance(batch_size, (int, np.integer))
            or isinstance(batch_size, bool)
            or batch_size < 1
        ):
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        n = len(dataset)
        if n == 0:
            raise ValueError("DataLoader: the dataset is empty")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = None if generator is None else resolve_generator(generator, "DataLoader")
        self.collate_fn = collate_fn if collate_fn is not None else default_collate
        get_batch = getattr(dataset, "get_batch", None)
        self._get_batch = get_batch if collate_fn is None and callable(get_batch) else None
        self._n = n
        self._epochs_started = 0
        self._batches_done = 0
        self._order: np.ndarray | None = None
        self._resume = False

    def __len__(self) -> int:
        """Batches per epoch."""
        if self.drop_last:
            return self._n // self.batch_size
        return math.ceil(self._n / self.batch_size)

    @property
    def epoch(self) -> int:
        """Epochs started so far (1 during the first pass)."""
        return self._epochs_started

    def _new_order(self) -> np.ndarray | None:
        if not self.shuffle:
            return None
        gen = self.generator if self.generator is not None else _random.default_generator()
        return gen.permutation(self._n)

    def __iter__(self) -> Iterator[Any]:
        if not self._resume:
            self._order = self._new_order()
            self._batches_done = 0
            self._epochs_started += 1
        self._resume = False
        return self._batches(self._order, self._batches_done)

    def _batches(self, order: np.ndarray | None, start: int) -> Iterator[Any]:
        bs, n = self.batch_size, self._n
        for b in range(start, len(self)):
            lo, hi = b * bs, min((b + 1) * bs, n)
            idx = order[lo:hi] if order is not None else np.arange(lo, hi, dtype=np.int64)
            if self._get_batch is not None:
                batch = self._get_batch(idx)
            else:
                batch = self.collate_fn([self.dataset[int(i)] for i in idx])
            # counted before the yield: once a batch is handed out it is "done"
            self._batches_done = b + 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        """Where the loader is, to resume exactly with :meth:`load_state_dict`.

        Returns a dict of plain values and one NumPy array:
        ``epochs_started`` (int), ``batches_done`` (batches of the current epoch
        handed out), ``order`` (that epoch's int64 sample order, ``None`` when not
        shuffling), ``generator_state`` (the private generator's
        ``bit_generator.state``, ``None`` when drawing from the global one), and
        ``dataset_size``, ``batch_size``, ``drop_last``, ``shuffle`` to check the
        loader it is loaded into.
        """
        return {
            "epochs_started": self._epochs_started,
            "batches_done": self._batches_done,
            "order": None if self._order is None else self._order.copy(),
            "generator_state": None
            if self.generator is None
            else self.generator.bit_generator.state,
            "dataset_size": self._n,
            "batch_size": self.batch_size,
            "drop_last": self.drop_last,
            "shuffle": self.shuffle,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; the next iteration continues from it.

        Raises:
            ValueError: the state comes from a loader over a dataset of another size,
                or with another batch size, ``drop_last`` or ``shuffle``, or is
                missing a key.
        """
        for key in ("dataset_size", "batch_size", "drop_last", "shuffle"):
            if key not in state:
                raise ValueError(f"DataLoader.load_state_dict: the state has no {key!r} entry")
            mine = {
                "dataset_size": self._n,
                "batch_size": self.batch_size,
                "drop_last": self.drop_last,
                "shuffle": self.shuffle,
            }[key]
            if state[key] != mine:
                raise ValueError(
                    f"DataLoader.load_state_dict: the state has {key}={state[key]!r} but this "
                    f"loader has {key}={mine!r}"
                )
        order = state.get("order")
        if order is not None:
            order = np.asarray(order, dtype=np.int64).copy()
            if order.shape != (self._n,):
                raise ValueError(
                    f"DataLoader.load_state_dict: the saved order has shape {order.shape}, "
                    f"expected ({self._n},)"
                )
        gen_state = state.get("generator_state")
        if gen_state is not None:
            if self.generator is None:
                raise ValueError(
                    "DataLoader.load_state_dict: the state holds a private generator's state "
                    "but this loader draws from tapegrad's global generator (generator=None)"
                )
            self.generator.bit_generator.state = gen_state
        if self.shuffle and order is None and int(state["epochs_started"]) > 0:
            raise ValueError(
                "DataLoader.load_state_dict: a shuffling loader's state needs its 'order'"
            )
        self._epochs_started = int(state["epochs_started"])
        self._batches_done = int(state["batches_done"])
        self._order = order
        # resume mid-epoch only if that epoch has batches left; otherwise start the next one
        self._resume = self._epochs_started > 0 and self._batches_done < len(self)
