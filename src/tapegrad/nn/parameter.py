"""``Parameter``: a Tensor that a :class:`~tapegrad.nn.Module` registers as learnable.

A Parameter is an ordinary leaf Tensor (the engine accumulates ``.grad`` into it
like any other leaf) whose type tells a Module, on attribute assignment, to
list it in ``parameters()`` and ``state_dict()``. Operations on a Parameter give
plain Tensors.
"""

from __future__ import annotations

from typing import Any

from ..backend import xp
from ..dtypes import get_default_dtype
from ..tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A learnable leaf Tensor.

    Args:
        data: array-like or Tensor; a Tensor's or an ndarray's memory is shared,
            not copied. ``None`` gives an empty 1-D tensor of the default dtype.
        requires_grad: record operations for backward (default ``True``).
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = xp.empty((0,), dtype=get_default_dtype())
        super().__init__(data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol: Any) -> Any:
        # Rebuild through __init__ so a pickled or deep-copied Parameter stays one.
        return (Parameter, (self._array, self.requires_grad))

    def __deepcopy__(self, memo: dict[int, Any]) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        p = Parameter(self._array.copy(), self.requires_grad)
        if self.grad is not None:
            p.grad = Tensor(self.grad._array.copy())
        memo[id(self)] = p
        return p
