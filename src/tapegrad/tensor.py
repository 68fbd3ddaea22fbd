"""``Tensor``: an array, its gradient, and the graph node that made it.

The array lives in the private slot ``_array`` (NumPy's ``ndarray``, or CuPy's);
``grad`` is a Tensor
(or ``None``); ``requires_grad`` says whether operations on it are recorded;
``grad_fn`` is the :class:`~tapegrad.autograd.function.Function` that produced
it (``None`` for a leaf). This module holds that state and depends on nothing
but the array backend; the methods that compute (``x.exp()``, ``x + y``,
``x.sum(1)``) delegate to the op modules in :mod:`tapegrad.ops` and are attached
in one place, :mod:`tapegrad.tensor_methods`, so the imports run one way.

``t.data`` is, as in PyTorch, a Tensor that shares ``t``'s memory and stands
outside the graph: ``m.weight.data.normal_(0.0, 0.02)`` and
``p.data -= lr * p.grad.data`` do what a PyTorch user expects. The library
itself reads ``_array``, never ``.data``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from . import devices as _device
from . import dtypes as _dtypes
from .backend import to_numpy, xp
from .dtypes import bool_, float32, int64
from .utils.hooks import RemovableHandle

if TYPE_CHECKING:  # pragma: no cover - type checkers see the attached methods
    from .autograd.function import Function
    from .tensor_inplace import InplaceMethods
    from .tensor_methods import TensorMethods
    from .tensor_methods_extra import ExtraTensorMethods

    class _MethodsBase(TensorMethods, ExtraTensorMethods, InplaceMethods): ...
else:
    _MethodsBase = object


def _is_float(dtype: Any) -> bool:
    kind: str = np.dtype(dtype).kind
    return kind == "f"


class ReturnTypes(NamedTuple):
    """``(values, indices)``, as returned by ``max(dim)``/``min(dim)``."""

    values: Tensor
    indices: Tensor


class Tensor(_MethodsBase):
    """A multi-dimensional array that can record the operations applied to it.

    Args:
        data: array-like (nested lists, NumPy array, scalar, Tensor).
        requires_grad: record operations for backward; only for floating dtypes.
        dtype: convert to this dtype. Python floats become float32 by default,
            Python ints int64; NumPy arrays keep their dtype.
    """

    __slots__ = (
        "_array",
        "grad",
        "requires_grad",
        "_node",
        "_index",
        "_hooks",
        "name",
        "_vc",
        "_base",
        "_gen",
        "__weakref__",
    )
    __array_priority__ = 1000  # make ndarray (op) Tensor defer to Tensor's reflected op

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._array = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self._node: Function | None = None
        self._index = 0
        self._hooks: dict[int, Callable[[Tensor], Tensor | None]] | None = None
        self.name: str | None = None
        self._vc: VersionCounter | None = None
        self._base: Tensor | None = None
        self._gen = 0  # for a view: the version its graph node was made at
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ basics
    @property
    def data(self) -> Tensor:
        """A Tensor sharing this tensor's memory, outside the graph (PyTorch's ``.data``).

        Changes made through it are not recorded and not checked by autograd.
        Assigning ``t.data = other`` makes ``t`` use ``other``'s array (same shape
        not required, as in PyTorch).
        """
        return _wrap(self._array)

    @data.setter
    def data(self, value: Any) -> None:
        """Make this tensor use ``value``'s array (see the getter)."""
        arr = value._array if isinstance(value, Tensor) else _to_array(value)
        if self.requires_grad and arr.dtype.kind != "f":
            raise TypeError(
                f"data: cannot give a tensor that requires grad an array of dtype {arr.dtype}"
            )
        self._array = arr

    @property
    def shape(self) -> tuple[int, ...]:
        """The size of each dimension."""
        shape: tuple[int, ...] = self._array.shape  # _array is NumPy's or CuPy's: typed Any
        return shape

    @property
    def dtype(self) -> np.dtype:
        """The element type, a NumPy dtype."""
        dtype: np.dtype = self._array.dtype
        return dtype

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        ndim: int = self._array.ndim
        return ndim

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's memory has seen (shared with views)."""
        return 0 if self._vc is None else self._vc.value

    def _counter(self) -> VersionCounter:
        """The version counter, made on first use (most tensors never need one)."""
        vc = self._vc
        if vc is None:
            vc = self._vc = VersionCounter()
            if self._node is not None:
                # the node that made this tensor checks the output it saved against it
                self._node.watch_output(self._index, vc, self._array)
        return vc

    @property
    def grad_fn(self) -> Function | None:
        """The Function that made this tensor, or ``None`` for a leaf."""
        return self._node

    @property
    def is_leaf(self) -> bool:
        """True for a tensor no recorded op produced (it has no ``grad_fn``)."""
        return self._node is None

    @property
    def device(self) -> _device.device:
        """Where the tensor lives: ``device(type='cpu')`` (or cuda:0 under CuPy)."""
        return _device.current_device()

    @property
    def is_cuda(self) -> bool:
        """Whether the current device is a CUDA device (CuPy backend)."""
        return _device.current_device().type == "cuda"

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, or its entry ``dim``, like ``torch.Tensor.size``."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        """The number of elements (the product of the shape)."""
        return int(self._array.size)

    def dim(self) -> int:
        """The number of dimensions (as ``ndim``)."""
        return self.ndim

    def __len__(self) -> int:
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._array.shape[0]))

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        if self._array.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self._array.size} elements is ambiguous"
            )
        return bool(self._array.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._array.dtype.kind not in "iub" or self._array.size != 1:
            raise TypeError("only integer tensors of one element can be converted to an index")
        return int(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = to_numpy(self._array)
        return a if dtype is None else a.astype(dtype)

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self._array.size != 1:
            raise ValueError(
                f"item() needs a tensor with one element, got shape {tuple(self.shape)}"
            )
        return self._array.reshape(()).item()

    def tolist(self) -> Any:
        """The data as nested Python lists (a Python number for a 0-d tensor)."""
        return to_numpy(self._array).tolist()

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shares memory on the CPU backend).

        Raises for a tensor that requires grad, like PyTorch: call ``detach()``.
        """
        if self.requires_grad:
            raise RuntimeError(
                "numpy() on a tensor that requires grad: use tensor.detach().numpy()"
            )
        return to_numpy(self._array)

    def __repr__(self) -> str:
        body = np.array2string(to_numpy(self._array), separator=", ", prefix="tensor(", precision=4)
        extra = ""
        if self._array.dtype not in (float32, int64, bool_):
            extra += f", dtype={self._array.dtype}"
        if self._node is not None:
            extra += f", grad_fn={self._node!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ------------------------------------------------------------- autograd
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaves only); returns self."""
        if requires_grad and not _is_float(self._array.dtype):
            raise TypeError(
                f"only floating-point tensors can require grad, this one is {self._array.dtype}"
            )
        if not requires_grad and self._node is not None:
            raise RuntimeError(
                "requires_grad_(False) on a non-leaf tensor: use detach() to cut it from the graph"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data and version counter, outside the graph.

        An in-place change through it bumps the version that autograd checks,
        as in PyTorch (``.data`` does not)."""
        t = _wrap(self._array)
        t._vc = self._counter()
        return t

    def detach_(self) -> Tensor:
        """Cut this tensor from its graph in place; returns self."""
        self._counter()  # its maker still checks the value it saved against this counter
        self._node = None
        self._index = 0
        self.requires_grad = False
        return self

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed.

        The hook may return a replacement gradient. Returns a RemovableHandle:
        ``handle.remove()`` (or ``handle()``) removes the hook."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._node is None:
            if self._hooks is None:
                self._hooks = {}
            hooks = self._hooks
        else:
            node = self._node
            if node._tensor_hooks is None:
                node._tensor_hooks = {}
            hooks = node._tensor_hooks.setdefault(self._index, {})
        hooks[(handle := RemovableHandle(hooks)).id] = hook
        return handle


class VersionCounter:
    """Counts in-place changes of one block of memory; shared by a tensor, its
    views and its ``detach()``. ``op`` names the last in-place op, for errors."""

    __slots__ = ("value", "op")

    #: Bumps of all counters so far. A node that noted this count when it was
    #: recorded, and finds it unchanged at backward, has seen no in-place change
    #: anywhere since: its check is skipped.
    bumps: int = 0

    def __init__(self) -> None:
        self.value = 0
        self.op = ""

    def bump(self, op: str) -> None:
        """Count one in-place change, made by ``op`` (named in the error if backward fails)."""
        self.value += 1
        self.op = op
        VersionCounter.bumps += 1


def _data(x: Any) -> Any:
    return x._array if isinstance(x, Tensor) else x


def _to_array(data: Any, dtype: Any = None) -> Any:
    if isinstance(data, Tensor):
        arr = data._array
    elif isinstance(data, xp.ndarray):
        arr = data
    elif isinstance(data, np.ndarray):
        arr = xp.asarray(data)
    elif isinstance(data, np.generic):
        arr = xp.asarray(data)
    else:
        arr = np.asarray(data)
        if dtype is None:
            if arr.dtype.kind == "f":
                arr = arr.astype(_dtypes.get_default_dtype())
            elif arr.dtype.kind in "iu":
                arr = arr.astype(np.int64)
        if arr.dtype == object:
            raise TypeError(f"cannot make a tensor from {type(data).__name__}: {data!r:.80}")
        arr = xp.asarray(arr)
    if dtype is not None:
        d = np.dtype(dtype)
        if arr.dtype != d:
            arr = arr.astype(d)
    return arr


_new = object.__new__
_ndarray = xp.ndarray


def _wrap(data: Any, node: Any = None, index: int = 0) -> Tensor:
    """Fast internal constructor: no conversion, no checks."""
    t = _new(Tensor)
    if type(data) is not _ndarray:
        data = xp.asarray(data)
    t._array = data
    t.grad = None
    t.requires_grad = node is not None
    t._node = node
    t._index = index
    t._hooks = None
    t.name = None
    t._vc = None
    t._base = None  # (_gen is read only where _base is set, so it is left unset here)
    return t


def as_tensor(x: Any, dtype: Any = None) -> Tensor:
    """``x`` itself if it is a Tensor (of ``dtype``), else a new constant Tensor."""
    if isinstance(x, Tensor):
        return x if dtype is None else x.to(dtype)
    return Tensor(x, dtype=dtype)


def is_tensor(x: Any) -> bool:
    """Whether ``x`` is a tapegrad Tensor."""
    return isinstance(x, Tensor)
