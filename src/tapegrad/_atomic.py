"""Atomic file writes: a reader sees the old file or the new one, never a mix.

The new content is written inside a private temporary folder next to the
destination (same file system, so the final rename is atomic), flushed and
``fsync``-ed; ``os.replace`` then moves it over the destination and the
destination's folder is ``fsync``-ed so the rename survives a power loss. If
anything fails before the rename, the temporary folder is removed and the
destination is untouched.

The temporary folder is named ``.<name>.tmp-<host>-<pid>-<random>``: a writer
that is killed outright (``SIGKILL``, power loss) leaves it behind, and since
everything a writer (or a library it calls, which may make its own temporary
files) creates lives inside it, nothing half-written ever carries the
destination's name. The next atomic write to the same destination on the same
host removes such leftovers whose process no longer exists.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

TEMP_MARKER = ".tmp-"


def _host() -> str:
    return socket.gethostname().replace(os.sep, "_") or "host"


def temp_dir_for(path: str | os.PathLike[str]) -> Path:
    """A fresh temporary folder name next to ``path``: ``.<name>.tmp-<host>-<pid>-<hex>``."""
    p = Path(path)
    return p.with_name(f".{p.name}{TEMP_MARKER}{_host()}-{os.getpid()}-{secrets.token_hex(4)}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: keep its files
    return True


def remove_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Delete temporary folders of writes to ``path`` whose writer died; returns them.

    Only folders made on this host by a process that no longer exists are
    removed, so a write in progress (here or on another machine sharing the
    folder) is never disturbed.
    """
    p = Path(path)
    prefix = f".{p.name}{TEMP_MARKER}"
    host = _host()
    removed: list[Path] = []
    try:
        entries = list(os.scandir(p.parent if str(p.parent) else "."))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        try:
            ent_host, pid, _ = entry.name[len(prefix) :].rsplit("-", 2)
            pid_n = int(pid)
        except ValueError:
            continue
        if ent_host != host or pid_n == os.getpid() or _pid_alive(pid_n):
            continue
        target = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(target, ignore_errors=True)
        else:
            try:
                target.unlink()
            except OSError:
                continue
        removed.append(target)
    return removed


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush ``path``'s data to disk (for files written by code we do not control)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename inside folder ``path`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # Windows: folders cannot be opened; rename durability is the OS's job
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the data itself was synced
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; on success it atomically becomes ``path``.

    The caller writes the whole file at the yielded path by any means (e.g. a
    library's ``save_file``). On leaving the ``with`` block normally the file is
    fsync-ed and renamed over ``path``; on an exception its temporary folder is
    deleted and ``path`` keeps its previous content. The destination folder must
    exist. The yielded file already exists, empty, with the permissions an
    ordinary ``open(path, "w")`` would give (0o666 minus the umask).
    """
    dest = Path(path)
    folder = dest.parent if str(dest.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot write {dest}: folder {folder} does not exist")
    remove_stale_temps(dest)
    tmp_dir = temp_dir_for(dest)
    os.mkdir(tmp_dir)
    try:
        tmp = tmp_dir / dest.name
        # 0o666 lets the umask decide the final file's mode, as for any new file
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        os.close(fd)
        yield tmp
        fsync_file(tmp)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    shutil.rmtree(tmp_dir, ignore_errors=True)
    fsync_dir(folder)


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """``open(path, mode)`` whose content appears at ``path`` only once it is complete.

    ``mode`` is ``"wb"`` or ``"w"`` (text, UTF-8). See :func:`atomic_path`.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open: mode must be 'wb' or 'w', got {mode!r}")
    with atomic_path(path) as tmp:
        encoding = None if mode == "wb" else "utf-8"
        with open(tmp, mode, encoding=encoding) as f:
            yield f


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_open(path, "wb") as f:
        f.write(data)
