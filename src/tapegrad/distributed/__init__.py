"""Multi-process training over MPI (``torch.distributed``'s names).

- :func:`init_process_group`, :func:`get_rank`, :func:`get_world_size`,
  :func:`get_local_rank`, :func:`barrier`, :func:`is_available`: the group.
- :func:`all_reduce`, :func:`broadcast`, :func:`all_gather`: collectives on tensors.
- :mod:`tapegrad.distributed.functional`: the differentiable all-reduce.

Models are made data-parallel with :class:`tapegrad.nn.parallel.DistributedDataParallel`
and data is split with :class:`tapegrad.utils.data.DistributedSampler`. Launch with
``mpiexec -n 2 python script.py``. See ``docs/distributed.md``.
"""

from . import functional
from .collectives import ReduceOp, Work, all_gather, all_reduce, broadcast
from .process_group import (
    abort,
    barrier,
    comm,
    get_local_rank,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_main_process,
    launcher_world_size,
)

__all__ = [
    "ReduceOp",
    "Work",
    "abort",
    "all_gather",
    "all_reduce",
    "barrier",
    "broadcast",
    "comm",
    "functional",
    "get_local_rank",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_main_process",
    "launcher_world_size",
]
