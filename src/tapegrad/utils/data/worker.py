"""``DataLoader`` worker processes: each loads the batches it is asked for.

The main process decides every batch's indices (so the batches and their order
are the same with any number of workers); worker ``i`` receives the tasks
``(epoch, batch number, indices)``, loads and collates the batch, pickles it and
sends it back. For an :class:`IterableDataset` a worker instead reads its next
batch from its own copy of the dataset's iterator. Each worker seeds tapegrad's
generator, Python's ``random`` and NumPy's legacy global generator with
``base_seed + worker_id``, then calls ``worker_init_fn(worker_id)``;
:func:`get_worker_info` tells code running in a worker which one it is.
"""

from __future__ import annotations

import pickle
import queue
import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ... import random as _random

__all__ = ["WorkerInfo", "get_worker_info"]


@dataclass(frozen=True)
class WorkerInfo:
    """Which worker this is: ``id`` of ``num_workers``, its ``seed`` and its ``dataset`` copy."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker process, its :class:`WorkerInfo`; ``None`` in the main process."""
    return _info


class Exhausted:
    """Sent by a worker whose iterable dataset has no more batches."""


class WorkerError:
    """An exception raised in a worker, with its traceback as text."""

    def __init__(self, worker_id: int, exc: BaseException) -> None:
        self.worker_id = worker_id
        self.text = "".join(traceback.format_exception(exc))
        try:
            pickle.dumps(exc)
            self.exc: BaseException | None = exc
        except Exception:
            self.exc = None

    def reraise(self) -> None:
        """Raise the worker's exception in this process, noting which worker raised it."""
        where = f"in DataLoader worker process {self.worker_id}:\n{self.text}"
        if self.exc is not None:
            if hasattr(self.exc, "add_note"):  # Python 3.11+
                self.exc.add_note("Caught " + where)
            raise self.exc
        raise RuntimeError("Caught an exception " + where)


@dataclass
class WorkerSpec:
    """What every worker needs; sent once, when the worker starts."""

    dataset: Any
    fetch: Callable[[Any, Any], Any]  # (dataset, indices) -> batch
    next_batch: Callable[[Any], Any] | None  # iterator -> batch (iterable datasets)
    num_workers: int
    worker_init_fn: Callable[[int], None] | None


def worker_loop(
    spec: WorkerSpec, worker_id: int, seed: int, tasks: Any, results: Any, done: Any
) -> None:
    """Serve tasks until ``None`` arrives (or ``done`` is set)."""
    global _info
    _random.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _info = WorkerInfo(worker_id, spec.num_workers, seed, spec.dataset)
    init_error = None
    if spec.worker_init_fn is not None:
        try:
            spec.worker_init_fn(worker_id)
        except Exception as e:
            init_error = WorkerError(worker_id, e)
    it, it_epoch = None, None
    while not done.is_set():
        try:
            task = tasks.get(timeout=1.0)
        except queue.Empty:
            continue
        if task is None:
            break
        epoch, number, indices = task
        try:
            if init_error is not None:
                out: Any = init_error
            elif spec.next_batch is not None:
                if it is None or it_epoch != epoch:
                    it, it_epoch = iter(spec.dataset), epoch
                out = spec.next_batch(it)
            else:
                out = spec.fetch(spec.dataset, indices)
            payload = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:
            payload = pickle.dumps(WorkerError(worker_id, e))
        results.put((epoch, number, worker_id, payload))
