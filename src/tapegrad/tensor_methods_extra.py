"""More of Tensor's methods, attached beside :mod:`tapegrad.tensor_methods`.

The ``new_*`` constructors, devices (``cuda``/``cpu``), and the ops added for
PyTorch scripts: ``any``/``all``, ``where``, ``reciprocal``, ``clamp_min``/
``clamp_max``, ``expm1``, ``log2``, ``tan``, ``atan``, ``erf``, ``cumsum``,
``cumprod``, ``tril``/``triu``, ``roll``, ``sort``/``argsort``/``topk``,
``mm``/``bmm``/``baddbmm``. Each delegates to :mod:`tapegrad.ops`;
:func:`tapegrad.tensor_methods.attach` copies this class's attributes onto
``Tensor`` too.
"""

from __future__ import annotations

from typing import Any

from . import creation as _cr
from .devices import check_device
from .ops import elementwise as _ew
from .ops import linalg as _la
from .ops import rearrange as _re
from .ops import reduce as _red
from .ops import scan as _scan
from .ops import sorting as _sort
from .ops import unary as _un
from .tensor import ReturnTypes, Tensor


class ExtraTensorMethods:
    """Never instantiated: its attributes are copied onto ``Tensor``."""

    # ---------------------------------------------------------- constructors
    def new_zeros(
        self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """Zeros of ``size``, with this tensor's dtype unless ``dtype`` is given."""
        d = self.dtype if dtype is None else dtype
        return _cr.zeros(*size, dtype=d, device=device, requires_grad=requires_grad)

    def new_ones(
        self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        d = self.dtype if dtype is None else dtype
        return _cr.ones(*size, dtype=d, device=device, requires_grad=requires_grad)

    def new_empty(
        self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        d = self.dtype if dtype is None else dtype
        return _cr.empty(*size, dtype=d, device=device, requires_grad=requires_grad)

    def new_full(
        self: Tensor,
        size: Any,
        fill_value: Any,
        *,
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        d = self.dtype if dtype is None else dtype
        return _cr.full(size, fill_value, dtype=d, device=device, requires_grad=requires_grad)

    def new_tensor(
        self: Tensor,
        data: Any,
        *,
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> Tensor:
        """A copy of ``data``, with this tensor's dtype unless ``dtype`` is given."""
        d = self.dtype if dtype is None else dtype
        return _cr.tensor(data, dtype=d, device=device, requires_grad=requires_grad)

    # ---------------------------------------------------------------- devices
    def cuda(self: Tensor, device: Any = None, non_blocking: bool = False) -> Tensor:
        """This tensor on the GPU; raises where tensors cannot live on one."""
        check_device("cuda" if device is None else device, "cuda()")
        return self

    def cpu(self: Tensor) -> Tensor:
        """This tensor on the CPU; raises where tensors cannot live there."""
        check_device("cpu", "cpu()")
        return self

    # ------------------------------------------------------------------ logic
    def any(self: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _red.any(self, dim, keepdim, **kw)

    def all(self: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _red.all(self, dim, keepdim, **kw)

    def where(self: Tensor, condition: Any, other: Any) -> Tensor:
        """``self`` where ``condition`` holds, else ``other``."""
        return _ew.where(condition, self, other)

    # ------------------------------------------------------------------- math
    def reciprocal(self: Tensor) -> Tensor:
        return _un.reciprocal(self)

    def clamp_min(self: Tensor, min: Any) -> Tensor:  # noqa: A002
        return _ew.clamp(self, min, None)

    def clamp_max(self: Tensor, max: Any) -> Tensor:  # noqa: A002
        return _ew.clamp(self, None, max)

    def expm1(self: Tensor) -> Tensor:
        return _un.expm1(self)

    def log2(self: Tensor) -> Tensor:
        return _un.log2(self)

    def tan(self: Tensor) -> Tensor:
        return _un.tan(self)

    def atan(self: Tensor) -> Tensor:
        return _un.atan(self)

    arctan = atan

    def erf(self: Tensor) -> Tensor:
        return _un.erf(self)

    # ---------------------------------------------------------- scans, order
    def cumsum(self: Tensor, dim: int, dtype: Any = None) -> Tensor:
        return _scan.cumsum(self, dim, dtype)

    def cumprod(self: Tensor, dim: int, dtype: Any = None) -> Tensor:
        return _scan.cumprod(self, dim, dtype)

    def tril(self: Tensor, diagonal: int = 0) -> Tensor:
        return _re.tril(self, diagonal)

    def triu(self: Tensor, diagonal: int = 0) -> Tensor:
        return _re.triu(self, diagonal)

    def roll(self: Tensor, shifts: Any, dims: Any = None) -> Tensor:
        return _re.roll(self, shifts, dims)

    def sort(
        self: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
    ) -> ReturnTypes:
        return _sort.sort(self, dim, descending, stable)

    def argsort(
        self: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
    ) -> Tensor:
        return _sort.argsort(self, dim, descending, stable)

    def topk(
        self: Tensor,
        k: int,
        dim: int = -1,
        largest: bool = True,
        sorted: bool = True,  # noqa: A002
    ) -> ReturnTypes:
        return _sort.topk(self, k, dim, largest, sorted)

    # ------------------------------------------------------------------ linalg
    def mm(self: Tensor, other: Any) -> Tensor:
        return _la.mm(self, other)

    def bmm(self: Tensor, other: Any) -> Tensor:
        return _la.bmm(self, other)

    def baddbmm(
        self: Tensor, batch1: Any, batch2: Any, *, beta: float = 1.0, alpha: float = 1.0
    ) -> Tensor:
        return _la.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)
