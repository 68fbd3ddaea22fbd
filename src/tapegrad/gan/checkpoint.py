"""Trainer checkpoints with a digest, verified on load, and a finiteness check before saving.

A checkpoint is a :func:`tapegrad.save` file (safetensors) holding the trainer's state
plus ``"digest"``: the SHA-256 of every value in the state (each array's key path,
dtype, shape and bytes; every plain value's key path and JSON), stored in the file's
metadata with the rest of the structure. :func:`load_checkpoint` recomputes it, so a
truncated, overwritten or bit-flipped file is reported as damaged, naming its path,
and never loaded. Checkpoints written before digests existed (no ``"digest"`` entry)
still load; nothing can be verified for them beyond the safetensors header.

:func:`first_non_finite` finds the first NaN or infinite array of a state (parameters,
EMA, optimizer moments) so that such a state is never saved as good.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..serialization import load as _load
from ..serialization import save as _save
from ..tensor import Tensor

__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "state_digest",
    "first_non_finite",
    "DIGEST_KEY",
]

DIGEST_KEY = "digest"


class CheckpointError(ValueError):
    """A checkpoint file that is missing, damaged or not a trainer checkpoint; the message
    names the path."""


def _leaves(obj: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """``(key path, leaf)`` in a deterministic order; Tensors, arrays and NumPy scalars are
    leaves, so are plain values."""
    if isinstance(obj, dict):
        for k in sorted(obj, key=str):
            yield from _leaves(obj[k], f"{path}.{k}" if path else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{path}.{i}" if path else str(i))
    else:
        yield path, obj


def _as_array(v: Any) -> np.ndarray | None:
    if isinstance(v, Tensor):
        return np.asarray(v)  # the Tensor's array, however the Tensor keeps it
    if isinstance(v, (np.ndarray, np.generic)):
        return np.asarray(v)
    return None


def state_digest(state: dict[str, Any]) -> str:
    """SHA-256 (hex) of ``state`` without its ``"digest"`` entry (see the module docstring)."""
    h = hashlib.sha256()
    for key, v in _leaves({k: v for k, v in state.items() if k != DIGEST_KEY}):
        h.update(key.encode() + b"\0")
        a = _as_array(v)
        if a is None:
            h.update(b"v" + json.dumps(v, sort_keys=True).encode() + b"\0")
        else:
            h.update(f"a{a.dtype.str}{a.shape}".encode() + b"\0")
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def first_non_finite(state: dict[str, Any]) -> str | None:
    """The key path of the first floating array of ``state`` holding NaN or infinity
    (e.g. ``"G.net.0.weight"``, ``"opt_d.state.2.exp_avg_sq"``), or None."""
    for key, v in _leaves(state):
        a = _as_array(v)
        if a is not None and a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
            return key
    return None


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``state`` with its digest to ``path``, atomically."""
    _save({**state, DIGEST_KEY: state_digest(state)}, path)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and verify a checkpoint; returns the state (without its digest).

    Raises:
        CheckpointError: no such file, not a safetensors file, a file that does not
            hold a dict, or a digest that does not match (each message names ``path``
            and says what is wrong).
    """
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"no checkpoint file at {p}")
    if p.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {p} is damaged: the file is empty")
    try:
        state = _load(p)
    except (ValueError, OSError, TypeError, KeyError) as e:
        raise CheckpointError(
            f"checkpoint {p} is damaged or not a checkpoint: {_short(e)}"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{p} is not a trainer checkpoint (it holds one array)")
    digest = state.pop(DIGEST_KEY, None)
    if digest is not None and digest != state_digest(state):
        raise CheckpointError(
            f"checkpoint {p} is damaged: its content does not match the digest written "
            f"with it (the file was changed or corrupted after it was saved)"
        )
    return state


def _short(e: BaseException) -> str:
    text = str(e).replace("tapegrad.load: ", "")
    return text.splitlines()[0] if text else type(e).__name__
