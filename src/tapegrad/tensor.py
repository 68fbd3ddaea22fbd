"""``Tensor``: an array, its gradient, and the graph node that made it.

``data`` is the raw backend array (NumPy's ``ndarray``); ``grad`` is a Tensor
(or ``None``); ``requires_grad`` says whether operations on it are recorded;
``grad_fn`` is the :class:`~tapegrad.autograd.function.Function` that produced
it (``None`` for a leaf). Methods mirror PyTorch's names and delegate to the op
modules in :mod:`tapegrad.ops`, where each op's forward and backward live side
by side.

One deliberate difference from PyTorch: ``t.data`` is the raw array, not a
Tensor. ``p.data -= lr * p.grad.data`` still does what a PyTorch user expects.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from . import dtypes as _dtypes
from .autograd.grad_mode import state
from .backend import to_numpy, xp
from .dtypes import bool_, float32, float64, int32, int64
from .utils.hooks import RemovableHandle


def _is_float(dtype: Any) -> bool:
    return np.dtype(dtype).kind == "f"


class ReturnTypes(NamedTuple):
    """``(values, indices)``, as returned by ``max(dim)``/``min(dim)``."""

    values: Tensor
    indices: Tensor


class Tensor:
    """A multi-dimensional array that can record the operations applied to it.

    Args:
        data: array-like (nested lists, NumPy array, scalar, Tensor).
        requires_grad: record operations for backward; only for floating dtypes.
        dtype: convert to this dtype. Python floats become float32 by default,
            Python ints int64; NumPy arrays keep their dtype.
    """

    __slots__ = (
        "data",
        "grad",
        "requires_grad",
        "_node",
        "_index",
        "_hooks",
        "name",
        "__weakref__",
    )
    __array_priority__ = 1000  # make ndarray (op) Tensor defer to Tensor's reflected op

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self._node = None
        self._index = 0
        self._hooks: dict[int, Callable[[Tensor], Tensor | None]] | None = None
        self.name: str | None = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ basics
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def grad_fn(self) -> Any:
        """The Function that made this tensor, or ``None`` for a leaf."""
        return self._node

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def device(self) -> str:
        return "cpu" if xp is np else "cuda"

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, or its entry ``dim``, like ``torch.Tensor.size``."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def dim(self) -> int:
        return self.data.ndim

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __hash__(self) -> int:
        return id(self)

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous"
            )
        return bool(self.data.reshape(()))

    def __float__(self) -> float:
        return builtins.float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of one element can be converted to an index")
        return int(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = to_numpy(self.data)
        return a if dtype is None else a.astype(dtype)

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a tensor with one element, got shape {tuple(self.shape)}"
            )
        return self.data.reshape(()).item()

    def tolist(self) -> Any:
        return to_numpy(self.data).tolist()

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shares memory on the CPU backend).

        Raises for a tensor that requires grad, like PyTorch: call ``detach()``.
        """
        if self.requires_grad:
            raise RuntimeError(
                "numpy() on a tensor that requires grad: use tensor.detach().numpy()"
            )
        return to_numpy(self.data)

    def __repr__(self) -> str:
        body = np.array2string(to_numpy(self.data), separator=", ", prefix="tensor(", precision=4)
        extra = ""
        if self.data.dtype not in (float32, int64, bool_):
            extra += f", dtype={self.data.dtype}"
        if self._node is not None:
            extra += f", grad_fn={self._node!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    # ------------------------------------------------------------- autograd
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaves only); returns self."""
        if requires_grad and not _is_float(self.data.dtype):
            raise TypeError(
                f"only floating-point tensors can require grad, this one is {self.data.dtype}"
            )
        if not requires_grad and self._node is not None:
            raise RuntimeError(
                "requires_grad_(False) on a non-leaf tensor: use detach() to cut it from the graph"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, outside the graph."""
        return _wrap(self.data)

    def detach_(self) -> Tensor:
        """Cut this tensor from its graph in place; returns self."""
        self._node = None
        self._index = 0
        self.requires_grad = False
        return self

    def backward(
        self,
        gradient: Tensor | Any | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Sequence[Tensor] | None = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf of the graph.

        Args:
            gradient: d(loss)/d(self), same shape as self; may be omitted for
                a one-element tensor (it is then 1).
            retain_graph: keep the graph's saved values for another backward;
                defaults to ``create_graph``.
            create_graph: record the backward pass itself, so the gradients
                can be differentiated again (higher-order derivatives).
            inputs: accumulate only into these leaves' ``.grad``.
        """
        from .autograd.functional import backward

        backward(self, gradient, retain_graph, create_graph, inputs)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if self._node is None:
            return
        import weakref

        ref = weakref.ref(self)

        def keep(g: Tensor) -> None:
            t = ref()
            if t is not None:
                g2 = g if state.enabled else g.detach()
                t.grad = g2 if t.grad is None else t.grad + g2

        self.register_hook(keep)

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

    # ------------------------------------------------------------- dtype
    def to(self, dtype: Any = None, *args: Any, **kwargs: Any) -> Tensor:
        """Convert to ``dtype`` (differentiable between float dtypes).

        Device strings (``"cpu"``) are accepted and ignored for PyTorch habits.
        """
        if isinstance(dtype, str) and dtype in ("cpu", "cuda"):
            dtype = kwargs.get("dtype", args[0] if args else None)
        if dtype is None or np.dtype(dtype) == self.data.dtype:
            return self
        return _ew.cast(self, np.dtype(dtype))

    def type(self, dtype: Any) -> Tensor:
        return self.to(dtype)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def long(self) -> Tensor:
        return self.to(int64)

    def int(self) -> Tensor:
        return self.to(int32)

    def bool(self) -> Tensor:
        return self.to(bool_)

    def cpu(self) -> Tensor:
        return self

    def contiguous(self) -> Tensor:
        return self

    def clone(self) -> Tensor:
        """A copy that stays in the graph (its gradient flows back to self)."""
        return _ew.clone(self)

    # ------------------------------------------------------- in-place, no grad
    def _check_inplace(self, op: str) -> None:
        if state.enabled and self.requires_grad:
            raise RuntimeError(
                f"in-place {op} on a tensor that requires grad: wrap it in tapegrad.no_grad() "
                "or use the out-of-place op"
            )

    def _inplace(self, op: str, ufunc: Any, other: Any) -> Tensor:
        self._check_inplace(op)
        o = other.data if isinstance(other, Tensor) else other
        try:
            ufunc(self.data, o, out=self.data, casting="same_kind")
        except ValueError as e:
            raise ValueError(
                f"in-place {op}: shape {tuple(self.shape)} cannot take a result of "
                f"shape {np.shape(o)} ({e})"
            ) from None
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace("+=", np.add, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace("-=", np.subtract, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace("*=", np.multiply, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace("/=", np.true_divide, other)

    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        return self._inplace("add_", np.add, other if alpha == 1.0 else _data(other) * alpha)

    def sub_(self, other: Any, alpha: float = 1.0) -> Tensor:
        return self._inplace("sub_", np.subtract, other if alpha == 1.0 else _data(other) * alpha)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", np.multiply, other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", np.true_divide, other)

    def zero_(self) -> Tensor:
        self._check_inplace("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value: Any) -> Tensor:
        self._check_inplace("fill_")
        self.data[...] = _data(value)
        return self

    def copy_(self, src: Any) -> Tensor:
        self._check_inplace("copy_")
        s = _data(src)
        if np.shape(s) != self.shape and np.broadcast_shapes(np.shape(s), self.shape) != self.shape:
            raise ValueError(f"copy_: source shape {np.shape(s)} does not fit {tuple(self.shape)}")
        self.data[...] = s
        return self

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        self._check_inplace("clamp_")
        np.clip(self.data, min, max, out=self.data)
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        _sh.setitem(self, key, value)

    def __getitem__(self, key: Any) -> Tensor:
        return _sh.getitem(self, key)

    # ------------------------------------------------------------ arithmetic
    def __add__(self, o: Any) -> Tensor:
        return _ew.add(self, o)

    def __radd__(self, o: Any) -> Tensor:
        return _ew.add(o, self)

    def __sub__(self, o: Any) -> Tensor:
        return _ew.sub(self, o)

    def __rsub__(self, o: Any) -> Tensor:
        return _ew.sub(o, self)

    def __mul__(self, o: Any) -> Tensor:
        return _ew.mul(self, o)

    def __rmul__(self, o: Any) -> Tensor:
        return _ew.mul(o, self)

    def __truediv__(self, o: Any) -> Tensor:
        return _ew.div(self, o)

    def __rtruediv__(self, o: Any) -> Tensor:
        return _ew.div(o, self)

    def __pow__(self, o: Any) -> Tensor:
        return _ew.pow(self, o)

    def __rpow__(self, o: Any) -> Tensor:
        return _ew.pow(o, self)

    def __matmul__(self, o: Any) -> Tensor:
        return _la.matmul(self, o)

    def __rmatmul__(self, o: Any) -> Tensor:
        return _la.matmul(o, self)

    def __neg__(self) -> Tensor:
        return _ew.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ew.abs(self)

    def __eq__(self, o: Any) -> Tensor:  # type: ignore[override]
        return _ew.eq(self, o)

    def __ne__(self, o: Any) -> Tensor:  # type: ignore[override]
        return _ew.ne(self, o)

    def __lt__(self, o: Any) -> Tensor:
        return _ew.lt(self, o)

    def __le__(self, o: Any) -> Tensor:
        return _ew.le(self, o)

    def __gt__(self, o: Any) -> Tensor:
        return _ew.gt(self, o)

    def __ge__(self, o: Any) -> Tensor:
        return _ew.ge(self, o)

    def __invert__(self) -> Tensor:
        return _ew.logical_not(self)

    def __and__(self, o: Any) -> Tensor:
        return _ew.logical_and(self, o)

    def __or__(self, o: Any) -> Tensor:
        return _ew.logical_or(self, o)

    def add(self, o: Any, alpha: float = 1.0) -> Tensor:
        return _ew.add(self, o if alpha == 1.0 else o * alpha)

    def sub(self, o: Any, alpha: float = 1.0) -> Tensor:
        return _ew.sub(self, o if alpha == 1.0 else o * alpha)

    def mul(self, o: Any) -> Tensor:
        return _ew.mul(self, o)

    def div(self, o: Any) -> Tensor:
        return _ew.div(self, o)

    def pow(self, o: Any) -> Tensor:
        return _ew.pow(self, o)

    def neg(self) -> Tensor:
        return _ew.neg(self)

    def matmul(self, o: Any) -> Tensor:
        return _la.matmul(self, o)

    def eq(self, o: Any) -> Tensor:
        return _ew.eq(self, o)

    def ne(self, o: Any) -> Tensor:
        return _ew.ne(self, o)

    def lt(self, o: Any) -> Tensor:
        return _ew.lt(self, o)

    def le(self, o: Any) -> Tensor:
        return _ew.le(self, o)

    def gt(self, o: Any) -> Tensor:
        return _ew.gt(self, o)

    def ge(self, o: Any) -> Tensor:
        return _ew.ge(self, o)

    # ------------------------------------------------------------ math
    def exp(self) -> Tensor:
        return _ew.exp(self)

    def log(self) -> Tensor:
        return _ew.log(self)

    def log1p(self) -> Tensor:
        return _ew.log1p(self)

    def sqrt(self) -> Tensor:
        return _ew.sqrt(self)

    def rsqrt(self) -> Tensor:
        return _ew.rsqrt(self)

    def abs(self) -> Tensor:
        return _ew.abs(self)

    def sign(self) -> Tensor:
        return _ew.sign(self)

    def sin(self) -> Tensor:
        return _ew.sin(self)

    def cos(self) -> Tensor:
        return _ew.cos(self)

    def square(self) -> Tensor:
        return _ew.mul(self, self)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        return _ew.clamp(self, min, max)

    clip = clamp

    def maximum(self, o: Any) -> Tensor:
        return _ew.maximum(self, o)

    def minimum(self, o: Any) -> Tensor:
        return _ew.minimum(self, o)

    def relu(self) -> Tensor:
        return _act.relu(self)

    def sigmoid(self) -> Tensor:
        return _act.sigmoid(self)

    def tanh(self) -> Tensor:
        return _act.tanh(self)

    def softmax(self, dim: int = -1) -> Tensor:
        return _act.softmax(self, dim)

    def log_softmax(self, dim: int = -1) -> Tensor:
        return _act.log_softmax(self, dim)

    def logsumexp(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _act.logsumexp(self, dim, keepdim)

    # ------------------------------------------------------------ reductions
    def sum(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _red.sum(self, dim, keepdim, **kw)

    def mean(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _red.mean(self, dim, keepdim, **kw)

    def max(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
        return _red.max(self, dim, keepdim, **kw)

    def min(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
        return _red.min(self, dim, keepdim, **kw)

    def var(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _red.var(self, dim, keepdim=keepdim, **kw)

    def std(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _red.std(self, dim, keepdim=keepdim, **kw)

    def prod(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _red.prod(self, dim, keepdim, **kw)

    def argmax(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _red.argmax(self, dim, keepdim, **kw)

    def argmin(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _red.argmin(self, dim, keepdim, **kw)

    def norm(self, p: Any = 2, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _red.norm(self, p, dim, keepdim)

    def amax(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _red.amax(self, dim, keepdim, **kw)

    def amin(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _red.amin(self, dim, keepdim, **kw)

    # ------------------------------------------------------------ shape
    def reshape(self, *shape: Any) -> Tensor:
        return _sh.reshape(self, *shape)

    def view(self, *shape: Any) -> Tensor:
        return _sh.reshape(self, *shape)

    def view_as(self, other: Tensor) -> Tensor:
        return _sh.reshape(self, other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return _sh.reshape(self, other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _sh.flatten(self, start_dim, end_dim)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return _sh.transpose(self, dim0, dim1)

    swapaxes = transpose

    def permute(self, *dims: Any) -> Tensor:
        return _sh.permute(self, *dims)

    @property
    def T(self) -> Tensor:  # noqa: N802
        """All axes reversed (for 2-D: the transpose)."""
        return _sh.permute(self, *range(self.ndim - 1, -1, -1))

    @property
    def mT(self) -> Tensor:  # noqa: N802
        """The last two axes swapped."""
        return _sh.transpose(self, -2, -1)

    def t(self) -> Tensor:
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor of at most 2 dims, got {self.ndim}")
        return self.T

    def expand(self, *sizes: Any) -> Tensor:
        return _sh.expand(self, *sizes)

    def expand_as(self, other: Tensor) -> Tensor:
        return _sh.broadcast_to(self, other.shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return _sh.broadcast_to(self, shape)

    def squeeze(self, dim: Any = None) -> Tensor:
        return _sh.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return _sh.unsqueeze(self, dim)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        return _sh.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return _sh.chunk(self, chunks, dim)

    def repeat(self, *sizes: Any) -> Tensor:
        return _sh.repeat(self, *sizes)

    def tile(self, *dims: Any) -> Tensor:
        return _sh.tile(self, *dims)

    def flip(self, *dims: Any) -> Tensor:
        return _sh.flip(self, *dims)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        return _sh.unbind(self, dim)

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        return _sh.narrow(self, dim, start, length)

    def gather(self, dim: int, index: Any) -> Tensor:
        return _sh.gather(self, dim, index)

    def index_select(self, dim: int, index: Any) -> Tensor:
        return _sh.index_select(self, dim, index)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        return _sh.masked_fill(self, mask, value)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _to_array(data: Any, dtype: Any = None) -> Any:
    if isinstance(data, Tensor):
        arr = data.data
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
    t.data = data
    t.grad = None
    t.requires_grad = node is not None
    t._node = node
    t._index = index
    t._hooks = None
    t.name = None
    return t


def as_tensor(x: Any, dtype: Any = None) -> Tensor:
    """``x`` itself if it is a Tensor (of ``dtype``), else a new constant Tensor."""
    if isinstance(x, Tensor):
        return x if dtype is None else x.to(dtype)
    return Tensor(x, dtype=dtype)


def is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)


from .autograd import function as _function  # noqa: E402

_function.Tensor, _function._wrap, _function.as_tensor = Tensor, _wrap, as_tensor

# Op modules import Tensor from here, so they are bound after the class exists.
from .ops import activation as _act  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
from .ops import linalg as _la  # noqa: E402
from .ops import reduce as _red  # noqa: E402
from .ops import shape as _sh  # noqa: E402
