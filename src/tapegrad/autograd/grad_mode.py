"""Whether operations record a graph: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

Each works as a context manager and as a decorator, like PyTorch's. Inside
``no_grad`` no node is created and nothing is saved for backward, so no memory
is held for a backward pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    __slots__ = ("enabled", "anomaly", "keep_values")

    def __init__(self) -> None:
        self.enabled = True
        self.anomaly = False
        # Set by tapegrad.explain.recording(): each new node keeps its input arrays.
        self.keep_values = False


# Read on every op, so a plain attribute on a module-level object.
state = _State()


def is_grad_enabled() -> bool:
    """True when operations record a graph for backward."""
    return state.enabled


class set_grad_enabled:
    """Turn graph recording on or off; restores the previous mode on exit."""

    def __init__(self, mode: bool) -> None:
        self.prev = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode  # takes effect at once, like torch.set_grad_enabled

    def __enter__(self) -> None:
        state.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        state.enabled = self.prev


class _Mode:
    mode = True

    def __enter__(self) -> None:
        self.prev = state.enabled
        state.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        state.enabled = self.prev

    def __call__(self, func: F) -> F:
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = state.enabled
            state.enabled = mode
            try:
                return func(*args, **kwargs)
            finally:
                state.enabled = prev

        return wrapper  # type: ignore[return-value]


class no_grad(_Mode):
    """Context manager / decorator: record no graph inside."""

    mode = False


class enable_grad(_Mode):
    """Context manager / decorator: record a graph inside, even within ``no_grad``."""

    mode = True


class inference_mode(_Mode):
    """Context manager / decorator for inference: records no graph, like ``no_grad``.

    PyTorch's version also marks the tensors it makes as unusable in autograd
    later, for speed; tapegrad has no such cost to save, so tensors made here
    are ordinary tensors that do not require grad. ``inference_mode(False)``
    leaves the current mode as it is.
    """

    def __init__(self, mode: bool = True) -> None:
        self.enabled = bool(mode)

    def __enter__(self) -> None:
        self.prev = state.enabled
        if self.enabled:
            state.enabled = False

    def __call__(self, func: F) -> F:
        if not self.enabled:
            return func
        return no_grad()(func)
