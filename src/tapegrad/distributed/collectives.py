"""Collectives on tensors: ``all_reduce``, ``broadcast``, ``all_gather``.

Like ``torch.distributed``, ``all_reduce`` and ``broadcast`` change the tensor
in place and every rank must call the same collectives in the same order. They
work on the tensor's memory in place and are not recorded by autograd (see
:func:`tapegrad.distributed.functional.all_reduce` for the differentiable sum).
In a group of one they leave the tensor as it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor
from .process_group import _ensure

__all__ = ["ReduceOp", "Work", "all_gather", "all_reduce", "broadcast"]


class ReduceOp:
    """Reduction operations of :func:`all_reduce` (PyTorch's names)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


def _mpi_op(op: str) -> Any:
    from mpi4py import MPI

    table = {"sum": MPI.SUM, "avg": MPI.SUM, "product": MPI.PROD, "min": MPI.MIN, "max": MPI.MAX}
    if op not in table:
        raise ValueError(f"all_reduce: op must be one of {sorted(table)}, got {op!r}")
    return table[op]


class Work:
    """A started non-blocking collective; :meth:`wait` finishes it."""

    def __init__(self, request: Any = None, finish: Any = None) -> None:
        self._request, self._finish = request, finish

    def wait(self) -> bool:
        """Block until the collective is done (and its result is in the tensor)."""
        if self._request is not None:
            self._request.Wait()
            self._request = None
        if self._finish is not None:
            self._finish()
            self._finish = None
        return True

    def is_completed(self) -> bool:
        """Whether the operation has finished (never blocks)."""
        return self._request is None or bool(self._request.Test())


def _buffer(tensor: Tensor, who: str) -> np.ndarray:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{who}: expected a Tensor, got {type(tensor).__name__}")
    a = tensor._array
    if a.dtype == np.bool_ or a.dtype.kind not in "fiuc":
        raise TypeError(f"{who}: tensors of dtype {a.dtype} cannot be reduced")
    return a if a.flags.c_contiguous and a.flags.writeable else np.ascontiguousarray(a)


def all_reduce(tensor: Tensor, op: str = ReduceOp.SUM, async_op: bool = False) -> Work | None:
    """Reduce ``tensor`` over all ranks and leave the result in it on every rank.

    Args:
        tensor: any shape; changed in place.
        op: ``ReduceOp.SUM`` (default), ``AVG``, ``PRODUCT``, ``MIN`` or ``MAX``.
        async_op: start a non-blocking reduction and return its :class:`Work`.

    Returns:
        ``None``, or a :class:`Work` to ``wait()`` on when ``async_op``.
    """
    g = _ensure()
    if g.size == 1:
        _buffer(tensor, "all_reduce")
        return Work() if async_op else None
    from mpi4py import MPI

    buf = _buffer(tensor, "all_reduce")
    mpi_op = _mpi_op(op)

    def finish() -> None:
        if op == ReduceOp.AVG:
            buf[...] = buf / buf.dtype.type(g.size) if buf.dtype.kind in "fc" else buf // g.size
        if buf is not tensor._array:
            tensor._array[...] = buf

    if async_op:
        return Work(g.comm.Iallreduce(MPI.IN_PLACE, buf, op=mpi_op), finish)
    g.comm.Allreduce(MPI.IN_PLACE, buf, op=mpi_op)
    finish()
    return None


def broadcast(tensor: Tensor, src: int = 0, async_op: bool = False) -> Work | None:
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every rank (in place)."""
    g = _ensure()
    if not 0 <= src < g.size:
        raise ValueError(f"broadcast: src must be a rank in [0, {g.size}), got {src}")
    buf = _buffer(tensor, "broadcast")
    if g.size == 1:
        return Work() if async_op else None

    def finish() -> None:
        if buf is not tensor._array:
            tensor._array[...] = buf

    if async_op:
        return Work(g.comm.Ibcast(buf, root=src), finish)
    g.comm.Bcast(buf, root=src)
    finish()
    return None


def all_gather(tensor_list: list[Tensor], tensor: Tensor) -> None:
    """Fill ``tensor_list[r]`` with rank ``r``'s ``tensor`` (same shape on every rank).

    Args:
        tensor_list: one Tensor per rank, each of ``tensor``'s shape and dtype.
        tensor: this rank's contribution.
    """
    g = _ensure()
    if len(tensor_list) != g.size:
        raise ValueError(
            f"all_gather: tensor_list has {len(tensor_list)} tensors for a world of {g.size}"
        )
    src = _buffer(tensor, "all_gather")
    for i, t in enumerate(tensor_list):
        if t.shape != tensor.shape or t.dtype != tensor.dtype:
            raise ValueError(
                f"all_gather: tensor_list[{i}] is {t.dtype} {tuple(t.shape)}, the tensor is "
                f"{tensor.dtype} {tuple(tensor.shape)}"
            )
    if g.size == 1:
        tensor_list[0]._array[...] = src
        return
    out = np.empty((g.size,) + src.shape, dtype=src.dtype)
    g.comm.Allgather(src, out)
    for t, part in zip(tensor_list, out):
        t._array[...] = part
