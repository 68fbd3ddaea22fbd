"""The process group: which rank this process is, how many there are, and MPI.

tapegrad does not speak a network protocol of its own: ranks talk through MPI via
``mpi4py`` (``pip install 'tapegrad[mpi]'`` installs it with MPICH; Open MPI or a
cluster's own MPI works as well when mpi4py is built against it). Launch a script
as ``mpiexec -n 4 python train.py`` and call :func:`init_process_group` first.

Without mpi4py every function here acts for a group of one process (rank 0,
world size 1), so the same script runs on a laptop. If the launcher says more
ranks were started (``PMI_SIZE``, ``OMPI_COMM_WORLD_SIZE``, ...) and mpi4py is
missing, :func:`init_process_group` raises instead of letting each rank train
alone.

Once the group has more than one rank, an uncaught exception on any rank calls
``MPI_Abort`` after printing the traceback with the rank, so the job ends with
that error instead of the other ranks waiting forever in a collective.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

__all__ = [
    "abort",
    "barrier",
    "get_local_rank",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_main_process",
    "launcher_world_size",
]

# Variables by which common launchers (MPICH/Hydra, Open MPI, Slurm, Intel MPI)
# tell a process how many ranks were started.
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS")


class _Group:
    comm: Any = None  # mpi4py.MPI.Comm, or None for a group of one without MPI
    rank = 0
    size = 1
    local_rank = 0
    initialized = False


_group = _Group()


def is_available() -> bool:
    """True when ``mpi4py`` can be imported (MPI collectives are possible)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def launcher_world_size() -> int:
    """How many ranks the launcher says it started (1 when not under a launcher)."""
    for var in _SIZE_VARS:
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def init_process_group(backend: str = "mpi") -> None:
    """Join the group of processes started by ``mpiexec`` (once; later calls do nothing).

    Args:
        backend: only ``"mpi"``.

    Raises:
        RuntimeError: more than one rank was launched but mpi4py is not installed.
        ValueError: an unknown backend.
    """
    if backend != "mpi":
        raise ValueError(f"init_process_group: backend must be 'mpi', got {backend!r}")
    if _group.initialized:
        return
    if not is_available():
        n = launcher_world_size()
        if n > 1:
            raise RuntimeError(
                f"this process is one of {n} ranks started by an MPI launcher, but mpi4py "
                "is not installed, so the ranks cannot talk: pip install 'tapegrad[mpi]' "
                "(or run without mpiexec)"
            )
        _group.initialized = True
        return
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    _group.comm = comm
    _group.rank = comm.Get_rank()
    _group.size = comm.Get_size()
    local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=_group.rank)
    _group.local_rank = local.Get_rank()
    local.Free()
    _group.initialized = True
    if _group.size > 1:
        sys.excepthook = _abort_on_exception


def _ensure() -> _Group:
    if not _group.initialized:
        init_process_group()
    return _group


def is_initialized() -> bool:
    """True once :func:`init_process_group` has run."""
    return _group.initialized


def get_rank() -> int:
    """This process's rank, 0 .. world size - 1 (0 without MPI)."""
    return _ensure().rank


def get_world_size() -> int:
    """The number of processes in the group (1 without MPI)."""
    return _ensure().size


def get_local_rank() -> int:
    """This process's rank among the ranks on the same machine."""
    return _ensure().local_rank


def is_main_process() -> bool:
    """True on rank 0, the rank that logs and writes files."""
    return get_rank() == 0


def barrier() -> None:
    """Wait until every rank has reached this call."""
    g = _ensure()
    if g.size > 1:
        g.comm.Barrier()


def comm() -> Any:
    """The ``mpi4py`` communicator of the group (None in a group of one without MPI)."""
    return _ensure().comm


def abort(message: str, code: int = 1) -> None:
    """Print ``message`` with this rank's number and end every rank of the job.

    In a group of one this raises ``SystemExit(code)`` after printing.
    """
    g = _ensure()
    prefix = f"[rank {g.rank}/{g.size}] " if g.size > 1 else ""
    print(f"{prefix}{message}", file=sys.stderr, flush=True)
    if g.size > 1:
        g.comm.Abort(code)
    raise SystemExit(code)


def _abort_on_exception(exc_type: Any, exc: BaseException, tb: Any) -> None:
    text = "".join(traceback.format_exception(exc_type, exc, tb)).rstrip()
    abort(f"uncaught exception, aborting all ranks:\n{text}", 1)
