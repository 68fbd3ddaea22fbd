"""Flatten parameters into one vector and back: ``parameters_to_vector``,
``vector_to_parameters``."""

from __future__ import annotations

from collections.abc import Iterable

from ...ops import shape as _sh
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All ``parameters`` flattened and concatenated in order: a 1-D Tensor of their
    total size. Differentiable (gradients flow back to the parameters)."""
    return _sh.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters`` (not recorded).

    As in PyTorch, each parameter's data becomes a view of ``vec``'s memory.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(
            f"vector_to_parameters: vec of shape {tuple(vec.shape)} does not match the "
            f"parameters' total size {total}"
        )
    pointer = 0
    for p in params:
        n = p.numel()
        p._array = vec._array[pointer : pointer + n].reshape(p.shape)
        pointer += n
