"""Tensor's op methods, attached to :class:`~tapegrad.tensor.Tensor` in one place.

``tensor.py`` holds the Tensor's own state (its array, gradient, graph node and
hooks) and depends on nothing above the array backend. The methods a user
calls on a tensor (``x.exp()``, ``x + y``, ``x.sum(1)``) are thin delegations
to the op modules in :mod:`tapegrad.ops`, which build on the autograd core.
Defining them here, above both, keeps the imports running one way:
``tensor`` <- ``autograd`` <- ``ops`` <- ``tensor_methods``.
:func:`attach` copies them, and the in-place methods of
:mod:`tapegrad.tensor_inplace`, onto ``Tensor``; ``tapegrad/__init__.py`` calls
it once, right after the ops are imported.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .autograd import engine as _engine
from .autograd import functional as _functional
from .autograd.grad_mode import state
from .dtypes import bool_, float32, float64, int32, int64
from .ops import activation as _act
from .ops import elementwise as _ew
from .ops import indexing as _ix
from .ops import linalg as _la
from .ops import reduce as _red
from .ops import shape as _sh
from .ops import softmax as _sm
from .tensor import Tensor
from .tensor_inplace import InplaceMethods


class TensorMethods:
    """The methods of :class:`~tapegrad.tensor.Tensor` that delegate to ops.

    Never instantiated: :func:`attach` copies its attributes onto ``Tensor``.
    Type checkers see ``Tensor`` as a subclass of it.
    """

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
        _functional.backward(self, gradient, retain_graph, create_graph, inputs)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if self._node is None:
            return
        ref = weakref.ref(self)

        def keep(g: Tensor) -> None:
            t = ref()
            if t is not None:
                g2 = g if state.enabled else g.detach()
                t.grad = g2 if t.grad is None else t.grad + g2

        self.register_hook(keep)

    def register_post_accumulate_grad_hook(
        self, hook: Callable[[Tensor], None]
    ) -> Callable[[], None]:
        """Call ``hook(self)`` once a backward pass has accumulated this leaf's ``.grad``.

        Runs after the last contribution of the pass, not inside ``tapegrad.grad``.
        Returns a function that removes the hook.
        """
        if self._node is not None or not self.requires_grad:
            raise RuntimeError(
                "register_post_accumulate_grad_hook needs a leaf tensor that requires grad"
            )
        return _engine.register_post_accumulate_grad_hook(self, hook)

    # ------------------------------------------------------------- dtype
    def to(self, dtype: Any = None, *args: Any, **kwargs: Any) -> Tensor:
        """Convert to ``dtype`` (differentiable between float dtypes).

        Device strings (``"cpu"``) are accepted and ignored for PyTorch habits.
        """
        if isinstance(dtype, str) and dtype in ("cpu", "cuda"):
            dtype = kwargs.get("dtype", args[0] if args else None)
        if dtype is None or np.dtype(dtype) == self._array.dtype:
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

    def __getitem__(self, key: Any) -> Tensor:
        return _ix.getitem(self, key)

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

    def add(self, o: Any, *, alpha: Any = 1) -> Tensor:
        """``self + alpha * o``."""
        return _ew.add(self, o, alpha=alpha)

    def sub(self, o: Any, *, alpha: Any = 1) -> Tensor:
        """``self - alpha * o``."""
        return _ew.sub(self, o, alpha=alpha)

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
        return _sm.softmax(self, dim)

    def log_softmax(self, dim: int = -1) -> Tensor:
        return _sm.log_softmax(self, dim)

    def logsumexp(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _sm.logsumexp(self, dim, keepdim)

    # ------------------------------------------------------------ reductions
    def sum(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _red.sum(self, dim, keepdim, **kw)

    def mean(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _red.mean(self, dim, keepdim, **kw)

    def max(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
        return _red.max(self, dim, keepdim, **kw)

    def min(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
        return _red.min(self, dim, keepdim, **kw)

    def var(
        self, dim: Any = None, unbiased: Any = None, keepdim: bool = False, **kw: Any
    ) -> Tensor:
        return _red.var(self, dim, unbiased, keepdim, **kw)

    def std(
        self, dim: Any = None, unbiased: Any = None, keepdim: bool = False, **kw: Any
    ) -> Tensor:
        return _red.std(self, dim, unbiased, keepdim, **kw)

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
        return _ix.narrow(self, dim, start, length)

    def gather(self, dim: int, index: Any) -> Tensor:
        return _ix.gather(self, dim, index)

    def index_select(self, dim: int, index: Any) -> Tensor:
        return _ix.index_select(self, dim, index)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        return _ix.masked_fill(self, mask, value)


# Set by Python on any class that defines __eq__, or by the class machinery:
# never copied onto Tensor (Tensor keeps its own identity hash).
_NOT_COPIED = frozenset(
    {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__hash__"}
)


def attach() -> None:
    """Copy every method and property of :class:`TensorMethods` and
    :class:`~tapegrad.tensor_inplace.InplaceMethods` onto ``Tensor``."""
    for cls in (TensorMethods, InplaceMethods):
        for name, value in vars(cls).items():
            if name not in _NOT_COPIED:
                setattr(Tensor, name, value)
