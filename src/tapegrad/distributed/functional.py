"""Differentiable collectives (``torch.distributed.nn.functional``'s idea)."""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..tensor import Tensor
from .process_group import _ensure

__all__ = ["all_reduce"]


class AllReduceSumFunction(Function):
    """``y = sum over ranks of x``; the gradient of every rank's x is the sum of the
    gradients of y over ranks (each rank's loss depends on every rank's x)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The sum of x over all processes (same shape on each)."""
        return _sum(x)

    def backward(self, gy: Tensor) -> Tensor:
        """dL/dx: the sum of gy over all processes."""
        return AllReduceSumFunction.apply(gy)


def _sum(x: np.ndarray) -> np.ndarray:
    g = _ensure()
    out = np.array(x, copy=True, order="C")
    if g.size > 1:
        from mpi4py import MPI

        g.comm.Allreduce(MPI.IN_PLACE, out, op=MPI.SUM)
    return out


def all_reduce(x: Tensor) -> Tensor:
    """Sum of ``x`` over all ranks, as a new tensor recorded by autograd.

    Its backward is again a sum over ranks, and is itself differentiable, so
    double backward (gradient penalties) works through it. Every rank must run
    the backward pass too.
    """
    return AllReduceSumFunction.apply(x)
