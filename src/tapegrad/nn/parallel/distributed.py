"""``DistributedDataParallel``: synchronous data-parallel training over MPI.

Every rank holds a full copy of the model and runs it on its own slice of the
global batch. The wrapper

1. broadcasts rank 0's parameters and buffers when it is built, so all copies
   start equal;
2. averages the gradients over the ranks while ``backward()`` runs: each
   parameter's post-accumulate-grad hook marks it ready once its ``.grad`` holds
   this pass's whole gradient; the parameters are packed in buckets of about
   ``bucket_cap_mb`` megabytes (25 by default, as PyTorch), in reverse order of
   registration (roughly the order backward reaches them), and a bucket's
   non-blocking ``MPI_Iallreduce`` starts as soon as its last parameter is ready,
   so communication runs while backward computes the earlier layers. When the
   pass ends the reductions are awaited and each ``.grad`` becomes the average
   over ranks, identical on every rank, so every optimizer step is identical.

Averaging is linear, so it is right wherever backward accumulates: a second
backward before the step (gradients add), two models trained in turn (a GAN's G
and D, each wrapped), and a loss that contains a gradient penalty built with
``tapegrad.grad(..., create_graph=True)``: ``tapegrad.grad`` accumulates nothing
and starts no reduction; only the final ``backward()`` does.

Rules, as in PyTorch: every rank must run the same graph (the same parameters
receive gradients, in the same order), and the loss is a mean over the local
batch so that the average over ranks is the mean over the global batch.
Parameters that get no gradient in a pass keep their ``.grad`` untouched.
``no_sync()`` skips the averaging for gradient accumulation; the first backward
outside it averages everything accumulated so far.

MPI implementations progress non-blocking collectives when the library is
called, so the wrapper tests the outstanding requests each time a parameter
becomes ready.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ... import distributed as dist
from ...autograd.engine import queue_callback
from ...tensor import Tensor, _wrap
from ..module import Module

__all__ = ["DistributedDataParallel", "GradientReducer"]


class _Bucket:
    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        self.sizes = [p._array.size for p in params]
        self.buffer = np.empty(sum(self.sizes), dtype=params[0].dtype)
        self.ready: set[int] = set()
        self.request: Any = None


class GradientReducer:
    """Averages the gradients of ``params`` over the ranks during ``backward()``.

    The machinery behind :class:`DistributedDataParallel`, usable on its own to
    make a model data-parallel without wrapping it (its ``state_dict`` keys stay
    as they are).

    Args:
        params: the parameters to average (those with ``requires_grad``).
        bucket_cap_mb: bucket size in megabytes (10**6 bytes).
    """

    def __init__(self, params: Sequence[Tensor], bucket_cap_mb: float = 25.0) -> None:
        if bucket_cap_mb <= 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.world = dist.get_world_size()
        self.sync = True
        self._active = False
        self.buckets: list[_Bucket] = []
        self._where: dict[int, _Bucket] = {}
        cap = bucket_cap_mb * 1e6
        current: list[Tensor] = []
        for p in reversed(params):
            if current and (
                p.dtype != current[0].dtype
                or sum(q._array.nbytes for q in current) + p._array.nbytes > cap
            ):
                self.buckets.append(_Bucket(current))
                current = []
            current.append(p)
        if current:
            self.buckets.append(_Bucket(current))
        for b in self.buckets:
            for p in b.params:
                self._where[id(p)] = b
        self._handles = (
            [p.register_post_accumulate_grad_hook(self._ready) for p in params]
            if self.world > 1
            else []
        )

    def remove(self) -> None:
        """Stop averaging (remove the hooks)."""
        for h in self._handles:
            h()
        self._handles = []

    def reset(self) -> None:
        """Forget a pass that did not finish (a backward that raised)."""
        for b in self.buckets:
            if b.request is not None:
                b.request.Wait()
            b.request = None
            b.ready.clear()
        self._active = False

    def _ready(self, p: Tensor) -> None:
        if not self.sync:
            return
        if not self._active:
            self._active = True
            queue_callback(self._finish)
        b = self._where[id(p)]
        b.ready.add(id(p))
        if len(b.ready) == len(b.params):
            self._launch(b)
        self._progress()

    def _launch(self, b: _Bucket) -> None:
        from mpi4py import MPI

        off = 0
        for p, n in zip(b.params, b.sizes):
            dst = b.buffer[off : off + n]
            if id(p) in b.ready and p.grad is not None:
                dst[...] = p.grad._array.reshape(-1)
            else:
                dst[...] = 0
            off += n
        b.request = dist.comm().Iallreduce(MPI.IN_PLACE, b.buffer, op=MPI.SUM)

    def _progress(self) -> None:
        for b in self.buckets:
            if b.request is not None:
                b.request.Test()

    def _finish(self) -> None:
        # Buckets with unused parameters were not launched; they go now, in bucket
        # order, which every rank shares because every rank ran the same graph.
        for b in self.buckets:
            if b.request is None and b.ready:
                self._launch(b)
        scale = 1.0 / self.world
        for b in self.buckets:
            if b.request is None:
                continue
            b.request.Wait()
            b.request = None
            b.buffer *= b.buffer.dtype.type(scale)
            off = 0
            for p, n in zip(b.params, b.sizes):
                if id(p) in b.ready:
                    p.grad = _wrap(b.buffer[off : off + n].reshape(p.shape).copy())
                off += n
            b.ready.clear()
        self._active = False


def broadcast_state(module: Module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers into ``module`` on every rank."""
    if dist.get_world_size() == 1:
        return
    for t in list(module.parameters()) + [b for b in module.buffers() if b is not None]:
        dist.broadcast(t, src)


class DistributedDataParallel(Module):
    """Data-parallel ``module``: gradients averaged over the ranks in ``backward()``.

    Args:
        module: the model; ``self.module`` after wrapping (``state_dict`` keys get
            the ``module.`` prefix, as in PyTorch).
        bucket_cap_mb: gradient bucket size in megabytes (default 25).
        broadcast_buffers: copy rank 0's buffers (BatchNorm running statistics)
            to every rank at the start of each forward, as PyTorch does.

    ``forward`` calls ``module`` unchanged; input and output shapes are its own.
    """

    def __init__(
        self, module: Module, bucket_cap_mb: float = 25.0, broadcast_buffers: bool = True
    ) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a Module, got {type(module).__name__}")
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        broadcast_state(module)
        params = [p for p in module.parameters() if p.requires_grad]
        self.reducer = GradientReducer(params, bucket_cap_mb)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The wrapped module's output on the local batch (backward averages gradients)."""
        if self.reducer._active:  # the last backward raised before it ended
            self.reducer.reset()
        if self.broadcast_buffers and self.reducer.world > 1 and self.training:
            for b in self.module.buffers():
                if b is not None:
                    dist.broadcast(b, 0)
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside this block backward accumulates local gradients without averaging."""
        old = self.reducer.sync
        self.reducer.sync = False
        try:
            yield
        finally:
            self.reducer.sync = old
