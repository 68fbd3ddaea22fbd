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
import multiprocessing as mp
import pickle
import queue
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ... import random as _random
from ._rng import resolve_generator
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .worker import Exhausted, WorkerError, WorkerSpec, worker_loop

__all__ = ["DataLoader"]


def _positive_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and bool(v >= 1)


class DataLoader:
    """Iterate over ``dataset`` in mini-batches, with ``torch.utils.data.DataLoader``'s
    arguments.

    Args:
        dataset: a map-style dataset (``__len__`` and ``__getitem__``, optionally
            ``get_batch(indices)``) or an :class:`IterableDataset`.
        batch_size: samples per batch (the last may be smaller); ``None`` yields
            single samples (converted with ``default_convert`` unless ``collate_fn``).
        shuffle: draw a new random order at the start of every epoch.
        sampler: an iterable of indices (a :class:`Sampler`) to read instead.
        batch_sampler: an iterable of index lists, one per batch (excludes
            ``batch_size``, ``shuffle``, ``sampler`` and ``drop_last``).
        num_workers: worker processes loading batches in parallel; 0 loads in the
            main process. The batches and their order do not depend on it.
        collate_fn: turns a list of samples into a batch; default
            :func:`default_collate`. Without it, a dataset with ``get_batch``
            (e.g. :class:`TensorDataset`) is read a whole batch at a time.
        pin_memory: accepted for PyTorch scripts; no effect (tapegrad computes on
            the CPU, or on the GPU with CuPy, with no pinned staging buffers).
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        timeout: seconds to wait for a worker's batch (0: no limit).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker,
            after its random generators are seeded.
        multiprocessing_context: a start method name ('fork', 'spawn',
            'forkserver') or context; the platform's default when None. Except
            with 'fork', the dataset, ``collate_fn`` and ``worker_init_fn`` are
            pickled to reach the workers.
        generator: where shuffled orders come from: a :class:`tapegrad.Generator`,
            a NumPy Generator (used and advanced as is), an ``int`` seed, or
            ``None`` for tapegrad's global generator.
        prefetch_factor: batches each worker loads ahead (default 2; only with workers).
        persistent_workers: keep the workers alive between epochs.

    Each batch is what the collate function returns: for a dataset of
    ``(x, y)`` samples, a tuple ``(X, Y)`` of Tensors with a leading batch dimension.

    Raises:
        ValueError: an empty dataset, a batch size that is not a positive int,
            or arguments PyTorch also rejects together.
        TypeError: with workers started by 'spawn' or 'forkserver', a dataset (or
            ``collate_fn``, ``worker_init_fn``) that cannot be pickled.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Any = None,
        batch_sampler: Any = None,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
    ) -> None:
        self._iterable = isinstance(dataset, IterableDataset)
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                    "shuffle, sampler, and drop_last"
                )
            batch_size, drop_last = None, False
        elif batch_size is not None and not _positive_int(batch_size):
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if self._iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError(
                "DataLoader: an IterableDataset takes no shuffle, sampler or batch_sampler "
                "(it decides its own order)"
            )
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(
                f"DataLoader: num_workers must be a non-negative int, got {num_workers!r}"
            )
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "DataLoader: prefetch_factor option could only be specified in multiprocessing; "
                "let num_workers > 0 to enable it"
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if prefetch_factor is not None and not _positive_int(prefetch_factor):
            raise ValueError(
                f"DataLoader: prefetch_factor must be a positive int, got {prefetch_factor!r}"
            )
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout must be non-negative, got {timeout!r}")
        self._n = 0 if self._iterable else len(dataset)
        if not self._iterable and self._n == 0:
            raise ValueError("DataLoader: the dataset is empty")
        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.num_workers = num_workers
        self.pin_memory, self.pin_memory_device, self.timeout = (
            pin_memory,
            pin_memory_device,
            timeout,
        )
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = (
            (2 if num_workers else None) if prefetch_factor is None else prefetch_factor
        )
        self.persistent_workers = bool(persistent_workers)
        self.generator = None if generator is None else resolve_generator(generator, "DataLoader")
        self._auto_collation = self.batch_size is not None or batch_sampler is not None
        default = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn if collate_fn is not None else default
        get_batch = getattr(dataset, "get_batch", None)
        usable = collate_fn is None and callable(get_batch) and self._auto_collation
        self._get_batch = get_batch if usable and not self._iterable else None
        self._epochs_started = 0
        self._batches_done = 0
        self._order: np.ndarray | None = None
        self._cuts: np.ndarray | None = None
        self._resume = False
        self._pool: _WorkerPool | None = None
        if num_workers:
            self._check_picklable()

    # ---------------------------------------------------------------- epochs
    def __len__(self) -> int:
        """Batches per epoch."""
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def epoch(self) -> int:
        """Epochs started so far (1 during the first pass)."""
        return self._epochs_started

    def _new_plan(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """This epoch's sample order (None: 0, 1, 2, ...) and batch boundaries (None: regular)."""
        if self.batch_sampler is not None:
            batches = [np.asarray(list(b), dtype=np.int64) for b in self.batch_sampler]
            cuts = np.cumsum([0] + [len(b) for b in batches])
            return (np.concatenate(batches) if batches else np.zeros(0, np.int64)), cuts
        if self.sampler is not None:
            return np.asarray(list(self.sampler), dtype=np.int64), None
        if not self.shuffle:
            return None, None
        gen = self.generator if self.generator is not None else _random.default_generator()
        return gen.permutation(self._n), None

    def _indices(self, b: int) -> np.ndarray:
        if self._cuts is not None:
            lo, hi = int(self._cuts[b]), int(self._cuts[b + 1])
        else:
            bs = self.batch_size or 1
            total = self._n if self._order is None else len(self._order)
            lo, hi = b * bs, min((b + 1) * bs, total)
        if self._order is not None:
            return self._order[lo:hi]
        return np.arange(lo, hi, dtype=np.int64)

    def _fetch(self, dataset: Any, idx: np.ndarray) -> Any:
        if not self._auto_collation:
            return self.collate_fn(dataset[int(idx[0])])
        if self._get_batch is not None:
            return self._get_batch(idx)
        return self.collate_fn([dataset[int(i)] for i in idx])

    def _next_iterable_batch(self, it: Iterator[Any]) -> Any:
        if not self._auto_collation:
            return next(it, Exhausted())
        batch = []
        for sample in it:
            batch.append(sample)
            if len(batch) == self.batch_size:
                break
        if not batch or (self.drop_last and len(batch) < (self.batch_size or 1)):
            return Exhausted()
        return self.collate_fn(batch)

    def __iter__(self) -> Iterator[Any]:
        if self._iterable:
            self._epochs_started += 1
            return self._iterate_stream()
        if not self._resume:
            self._order, self._cuts = self._new_plan()
            self._batches_done = 0
            self._epochs_started += 1
        self._resume = False
        if self.num_workers:
            return self._multi_worker(self._batches_done)
        return self._batches(self._batches_done)

    def _batches(self, start: int) -> Iterator[Any]:
        for b in range(start, len(self)):
            batch = self._fetch(self.dataset, self._indices(b))
            # counted before the yield: once a batch is handed out it is "done"
            self._batches_done = b + 1
            yield batch

    def _iterate_stream(self) -> Iterator[Any]:
        if self.num_workers:
            yield from self._multi_worker(0)
            return
        it = iter(self.dataset)
        while not isinstance(batch := self._next_iterable_batch(it), Exhausted):
            yield batch

    # --------------------------------------------------------------- workers
    def _context(self) -> Any:
        c = self.multiprocessing_context
        return mp.get_context(c) if c is None or isinstance(c, str) else c

    def _check_picklable(self) -> None:
        method = self._context().get_start_method()
        if method == "fork":
            return
        for what, obj in (
            ("dataset", self.dataset),
            ("collate_fn", self.collate_fn),
            ("worker_init_fn", self.worker_init_fn),
        ):
            try:
                pickle.dumps(obj)
            except Exception as e:
                raise TypeError(
                    f"DataLoader: num_workers={self.num_workers} with start method {method!r} "
                    f"must send the {what} ({type(obj).__name__}) to the worker processes, but "
                    f"it cannot be pickled ({type(e).__name__}: {e}); define it at module level "
                    "without lambdas or open handles, or use num_workers=0"
                ) from None

    def _base_seed(self) -> int:
        """A seed for this epoch's workers, from the order's generator without drawing from it
        (so the sample order is the same with and without workers)."""
        gen = self.generator if self.generator is not None else _random.default_generator()
        return zlib.crc32(repr(gen.bit_generator.state).encode()) + self._epochs_started

    def _multi_worker(self, start: int) -> Iterator[Any]:
        pool = self._pool
        if pool is None or not pool.alive():
            pool = _WorkerPool(self, self._base_seed())
            if self.persistent_workers:
                self._pool = pool
        epoch = self._epochs_started
        stream = self._iterable
        total = None if stream else len(self)
        active = list(range(self.num_workers))
        owner: dict[int, int] = {}
        buffer: dict[int, Any] = {}
        sent = nxt = start
        cap = self.num_workers * (self.prefetch_factor or 2)
        try:
            while True:
                while active and sent - nxt < cap and (total is None or sent < total):
                    w = active[sent % len(active)] if stream else sent % self.num_workers
                    owner[sent] = w
                    pool.send(w, (epoch, sent, None if stream else self._indices(sent)))
                    sent += 1
                if total is not None and nxt >= total or (stream and nxt >= sent):
                    return
                while nxt not in buffer:
                    ep, number, wid, payload = pool.receive(self.timeout)
                    if ep == epoch:
                        buffer[number] = pickle.loads(payload)
                out = buffer.pop(nxt)
                if isinstance(out, WorkerError):
                    pool.shutdown()
                    self._pool = None
                    out.reraise()
                nxt += 1
                if isinstance(out, Exhausted):
                    if owner[nxt - 1] in active:
                        active.remove(owner[nxt - 1])
                    continue
                if not stream:
                    self._batches_done = nxt
                yield out
        finally:
            if not self.persistent_workers:
                pool.shutdown()

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown()

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
        if self._iterable:
            raise ValueError("DataLoader.state_dict: an IterableDataset's position cannot be saved")
        return {
            "epochs_started": self._epochs_started,
            "batches_done": self._batches_done,
            "order": None if self._order is None else self._order.copy(),
            "cuts": None if self._cuts is None else self._cuts.copy(),
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
            if self.sampler is None and self.batch_sampler is None and order.shape != (self._n,):
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
        cuts = state.get("cuts")
        self._cuts = None if cuts is None else np.asarray(cuts, dtype=np.int64).copy()
        # resume mid-epoch only if that epoch has batches left; otherwise start the next one
        self._resume = self._epochs_started > 0 and self._batches_done < len(self)


class _WorkerPool:
    """The worker processes of one loader: a task queue each, one shared result queue."""

    def __init__(self, loader: DataLoader, base_seed: int) -> None:
        ctx = loader._context()
        spec = WorkerSpec(
            loader.dataset,
            loader._fetch,
            loader._next_iterable_batch if loader._iterable else None,
            loader.num_workers,
            loader.worker_init_fn,
        )
        self.results = ctx.Queue()
        self.done = ctx.Event()
        self.tasks = [ctx.Queue() for _ in range(loader.num_workers)]
        self.procs = []
        for w in range(loader.num_workers):
            p = ctx.Process(
                target=worker_loop,
                args=(spec, w, base_seed + w, self.tasks[w], self.results, self.done),
                daemon=True,
            )
            p.start()
            self.procs.append(p)

    def alive(self) -> bool:
        return all(p.is_alive() for p in self.procs)

    def send(self, worker: int, task: Any) -> None:
        self.tasks[worker].put(task)

    def receive(self, timeout: float) -> Any:
        waited = 0.0
        while True:
            try:
                return self.results.get(timeout=1.0)
            except queue.Empty:
                waited += 1.0
            dead = [p for p in self.procs if not p.is_alive()]
            if dead:
                self.shutdown()
                raise RuntimeError(
                    f"DataLoader worker (pid {dead[0].pid}) exited unexpectedly with exit code "
                    f"{dead[0].exitcode}"
                )
            if timeout and waited >= timeout:
                self.shutdown()
                raise RuntimeError(f"DataLoader timed out after {timeout} s waiting for a batch")

    def shutdown(self) -> None:
        if not self.procs:
            return
        self.done.set()
        for q in self.tasks:
            q.put(None)
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
        self.procs = []
