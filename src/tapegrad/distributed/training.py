"""What a training loop needs to run data-parallel under ``mpiexec``.

The ``tapegrad train`` command calls these in a few places, and they do nothing
in an ordinary single-process run (MPI is not even loaded then):

- :func:`setup`: join the MPI job when a launcher started more than one rank;
  on ranks other than 0, standard output is discarded (only rank 0 talks).
- :func:`data_parallel`: make a model average its gradients over the ranks
  (BatchNorm layers become SyncBatchNorm, rank 0's weights are copied to all);
  the model object, and so its ``state_dict`` and checkpoints, stay as they are.
- :func:`check_batch_size`: the global batch must split evenly over the ranks.
- :func:`shard`: this rank's slice of a global batch (data, labels, noise).
- :func:`is_writer`: True on the one rank that writes the run folder.
- :func:`mean_over_ranks`: a logged number averaged over the ranks.
- :func:`exit_code`: a rank that ends with an error ends the whole job.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from ..tensor import Tensor, _wrap
from . import process_group as pg

__all__ = [
    "check_batch_size",
    "data_parallel",
    "exit_code",
    "is_writer",
    "mean_over_ranks",
    "setup",
    "shard",
    "world",
]


def setup() -> int:
    """Join the job if ``mpiexec`` started several ranks; returns the world size."""
    if pg.launcher_world_size() > 1:
        pg.init_process_group()
        if pg.get_rank() != 0:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the process's lifetime
    return world()


def world() -> int:
    """The number of ranks training together (1 unless :func:`setup` joined a job)."""
    return pg.get_world_size() if pg.is_initialized() else 1


def is_writer() -> bool:
    """True on the rank that logs, writes the run folder and checkpoints (rank 0)."""
    return world() == 1 or pg.get_rank() == 0


def data_parallel(module: Any, bucket_cap_mb: float = 25.0) -> Any:
    """``module`` itself, averaging its gradients over the ranks from now on.

    BatchNorm layers are replaced by SyncBatchNorm (same parameters and buffers),
    so statistics span the global batch; rank 0's parameters and buffers are
    copied to every rank. A no-op in a single process.
    """
    if world() == 1:
        return module
    from ..nn.parallel.distributed import GradientReducer, broadcast_state
    from ..nn.sync_batchnorm import SyncBatchNorm

    module = SyncBatchNorm.convert_sync_batchnorm(module)
    broadcast_state(module)
    params = [p for p in module.parameters() if p.requires_grad]
    # Kept on the module so the hooks live as long as the model.
    module._grad_reducer = GradientReducer(params, bucket_cap_mb)
    return module


def check_batch_size(batch_size: int) -> None:
    """Raise ValueError unless ``batch_size`` splits evenly over the ranks."""
    if batch_size % world():
        raise ValueError(
            f"a global batch of {batch_size} samples cannot be split evenly over {world()} "
            f"ranks; use a batch size that is a multiple of {world()}"
        )


def shard(*items: Any) -> tuple[Any, ...]:
    """This rank's contiguous slice (along dim 0) of each global-batch item.

    Items are Tensors, arrays or None (passed through). The batch size must be a
    multiple of the number of ranks. Returns the items in order.
    """
    n, r = world(), (pg.get_rank() if world() > 1 else 0)
    if n == 1:
        return items
    out: list[Any] = []
    for x in items:
        if x is None:
            out.append(None)
            continue
        check_batch_size(x.shape[0])
        k = x.shape[0] // n
        if isinstance(x, Tensor):
            out.append(_wrap(np.ascontiguousarray(x._array[r * k : (r + 1) * k])))
        else:
            out.append(np.ascontiguousarray(np.asarray(x)[r * k : (r + 1) * k]))
    return tuple(out)


def mean_over_ranks(value: float) -> float:
    """``value`` averaged over the ranks (so every rank sees the same number: a NaN
    on one rank is a NaN on all, and every rank stops together)."""
    if world() == 1:
        return value
    from mpi4py import MPI

    buf = np.array([value], np.float64)
    pg.comm().Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
    return float(buf[0] / world())


def exit_code(code: int) -> int:
    """Return ``code``; a non-zero code on one of several ranks aborts the whole job
    (the other ranks would otherwise wait for it forever)."""
    if code != 0 and world() > 1:
        pg.abort(f"exiting with status {code}; aborting all ranks", code)
    return code
