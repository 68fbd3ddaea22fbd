"""Data-parallel training: :class:`DistributedDataParallel` (over MPI)."""

from .distributed import DistributedDataParallel, GradientReducer, broadcast_state

__all__ = ["DistributedDataParallel", "GradientReducer", "broadcast_state"]
