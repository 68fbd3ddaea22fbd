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
        """Ones of ``size``, with this tensor's dtype unless ``dtype`` is given."""
        d = self.dtype if dtype is None else dtype
        return _cr.ones(*size, dtype=d, device=device, requires_grad=requires_grad)

    def new_empty(
        self: Tensor, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """An uninitialised tensor of ``size``, with this tensor's dtype by default."""
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
        """``fill_value`` in ``size``, with this tensor's dtype by default."""
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
        """True where any element (over ``dim``) is nonzero; see tapegrad.any."""
        return _red.any(self, dim, keepdim, **kw)

    def all(self: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        """True where all elements (over ``dim``) are nonzero; see tapegrad.all."""
        return _red.all(self, dim, keepdim, **kw)

    def where(self: Tensor, condition: Any, other: Any) -> Tensor:
        """``self`` where ``condition`` holds, else ``other``."""
        return _ew.where(condition, self, other)

    # ------------------------------------------------------------------- math
    def reciprocal(self: Tensor) -> Tensor:
        """Elementwise 1 / x; see tapegrad.reciprocal."""
        return _un.reciprocal(self)

    def clamp_min(self: Tensor, min: Any) -> Tensor:  # noqa: A002
        """Elementwise max(x, min); see tapegrad.clamp."""
        return _ew.clamp(self, min, None)

    def clamp_max(self: Tensor, max: Any) -> Tensor:  # noqa: A002
        """Elementwise min(x, max); see tapegrad.clamp."""
        return _ew.clamp(self, None, max)

    def expm1(self: Tensor) -> Tensor:
        """Elementwise exp(x) - 1; see tapegrad.expm1."""
        return _un.expm1(self)

    def log2(self: Tensor) -> Tensor:
        """Elementwise base-2 logarithm; see tapegrad.log2."""
        return _un.log2(self)

    def tan(self: Tensor) -> Tensor:
        """Elementwise tangent; see tapegrad.tan."""
        return _un.tan(self)

    def atan(self: Tensor) -> Tensor:
        """Elementwise arctangent; see tapegrad.atan."""
        return _un.atan(self)

    arctan = atan

    def erf(self: Tensor) -> Tensor:
        """Elementwise error function; see tapegrad.erf."""
        return _un.erf(self)

    # ---------------------------------------------------------- scans, order
    def cumsum(self: Tensor, dim: int, dtype: Any = None) -> Tensor:
        """Cumulative sum along ``dim``; see tapegrad.cumsum."""
        return _scan.cumsum(self, dim, dtype)

    def cumprod(self: Tensor, dim: int, dtype: Any = None) -> Tensor:
        """Cumulative product along ``dim``; see tapegrad.cumprod."""
        return _scan.cumprod(self, dim, dtype)

    def tril(self: Tensor, diagonal: int = 0) -> Tensor:
        """The lower triangle (below ``diagonal``), the rest 0; see tapegrad.tril."""
        return _re.tril(self, diagonal)

    def triu(self: Tensor, diagonal: int = 0) -> Tensor:
        """The upper triangle (above ``diagonal``), the rest 0; see tapegrad.triu."""
        return _re.triu(self, diagonal)

    def roll(self: Tensor, shifts: Any, dims: Any = None) -> Tensor:
        """Elements shifted by ``shifts`` along ``dims``, wrapping; see tapegrad.roll."""
        return _re.roll(self, shifts, dims)

    def sort(
        self: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
    ) -> ReturnTypes:
        """(values, indices) sorted along ``dim``; see tapegrad.sort."""
        return _sort.sort(self, dim, descending, stable)

    def argsort(
        self: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
    ) -> Tensor:
        """The indices that sort along ``dim``; see tapegrad.argsort."""
        return _sort.argsort(self, dim, descending, stable)

    def topk(
        self: Tensor,
        k: int,
        dim: int = -1,
        largest: bool = True,
        sorted: bool = True,  # noqa: A002
    ) -> ReturnTypes:
        """(values, indices) of the ``k`` largest (or smallest) along ``dim``; see tapegrad.topk."""
        return _sort.topk(self, k, dim, largest, sorted)

    # ------------------------------------------------------------------ linalg
    def mm(self: Tensor, other: Any) -> Tensor:
        """(n, m) @ (m, p) -> (n, p); see tapegrad.mm."""
        return _la.mm(self, other)

    def bmm(self: Tensor, other: Any) -> Tensor:
        """(b, n, m) @ (b, m, p) -> (b, n, p); see tapegrad.bmm."""
        return _la.bmm(self, other)

    def baddbmm(
        self: Tensor, batch1: Any, batch2: Any, *, beta: float = 1.0, alpha: float = 1.0
    ) -> Tensor:
        """beta * self + alpha * batch1 @ batch2; see tapegrad.baddbmm."""
        return _la.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)
