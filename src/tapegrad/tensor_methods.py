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

from . import devices as _dev
from .autograd import engine as _engine
from .autograd import functional as _functional
from .autograd.grad_mode import state
from .dtypes import bool_, float32, float64, int32, int64
from .ops import activation as _act
from .ops import compare as _cmp
from .ops import conversion as _conv
from .ops import elementwise as _ew
from .ops import indexing as _ix
from .ops import linalg as _la
from .ops import reduce as _red
from .ops import shape as _sh
from .ops import softmax as _sm
from .tensor import Tensor
from .tensor_inplace import InplaceMethods
from .tensor_methods_extra import ExtraTensorMethods


class TensorMethods:
    """The methods of :class:`~tapegrad.tensor.Tensor` that delegate to ops.

    Never instantiated: :func:`attach` copies its attributes onto ``Tensor``.
    Type checkers see ``Tensor`` as a subclass of it.
    """

    def backward(
        self: Tensor,
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

    def retain_grad(self: Tensor) -> None:
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
        self: Tensor, hook: Callable[[Tensor], None]
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
    def to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        """Convert to a dtype (differentiable between float dtypes) and/or a device.

        ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)`` and the
        keywords ``dtype=``, ``device=``. A device must be one tensors can live on
        (:mod:`tapegrad.devices`); anything else raises.
        """
        dtype, device = _dev.split_to_args(args, kwargs)
        if device is not None:
            _dev.check_device(device, "to")
        if dtype is None or np.dtype(dtype) == self._array.dtype:
            return self
        return _conv.cast(self, np.dtype(dtype))

    def type(self: Tensor, dtype: Any) -> Tensor:
        """This tensor converted to ``dtype``; see Tensor.to."""
        return self.to(dtype)

    def type_as(self: Tensor, other: Tensor) -> Tensor:
        """This tensor converted to ``other``'s dtype."""
        return self.to(other.dtype)

    def contiguous(self: Tensor) -> Tensor:
        """This tensor itself: tapegrad's ops accept any memory layout."""
        return self

    def clone(self: Tensor) -> Tensor:
        """A copy that stays in the graph (its gradient flows back to self)."""
        return _conv.clone(self)

    def __getitem__(self: Tensor, key: Any) -> Tensor:
        return _ix.getitem(self, key)

    # ------------------------------------------------------------ arithmetic
    def __add__(self: Tensor, o: Any) -> Tensor:
        return _ew.add(self, o)

    def __radd__(self: Tensor, o: Any) -> Tensor:
        return _ew.add(o, self)

    def __sub__(self: Tensor, o: Any) -> Tensor:
        return _ew.sub(self, o)

    def __rsub__(self: Tensor, o: Any) -> Tensor:
        return _ew.sub(o, self)

    def __mul__(self: Tensor, o: Any) -> Tensor:
        return _ew.mul(self, o)

    def __rmul__(self: Tensor, o: Any) -> Tensor:
        return _ew.mul(o, self)

    def __truediv__(self: Tensor, o: Any) -> Tensor:
        return _ew.div(self, o)

    def __rtruediv__(self: Tensor, o: Any) -> Tensor:
        return _ew.div(o, self)

    def __pow__(self: Tensor, o: Any) -> Tensor:
        return _ew.pow(self, o)

    def __rpow__(self: Tensor, o: Any) -> Tensor:
        return _ew.pow(o, self)

    def __matmul__(self: Tensor, o: Any) -> Tensor:
        return _la.matmul(self, o)

    def __rmatmul__(self: Tensor, o: Any) -> Tensor:
        return _la.matmul(o, self)

    def __neg__(self: Tensor) -> Tensor:
        return _ew.neg(self)

    def __pos__(self: Tensor) -> Tensor:
        return self

    def __abs__(self: Tensor) -> Tensor:
        return _ew.abs(self)

    def __eq__(self: Tensor, o: Any) -> Tensor:  # type: ignore[override]
        return _cmp.eq(self, o)

    def __ne__(self: Tensor, o: Any) -> Tensor:  # type: ignore[override]
        return _cmp.ne(self, o)

    def __lt__(self: Tensor, o: Any) -> Tensor:
        return _cmp.lt(self, o)

    def __le__(self: Tensor, o: Any) -> Tensor:
        return _cmp.le(self, o)

    def __gt__(self: Tensor, o: Any) -> Tensor:
        return _cmp.gt(self, o)

    def __ge__(self: Tensor, o: Any) -> Tensor:
        return _cmp.ge(self, o)

    def __invert__(self: Tensor) -> Tensor:
        return _cmp.logical_not(self)

    def __and__(self: Tensor, o: Any) -> Tensor:
        return _cmp.logical_and(self, o)

    def __or__(self: Tensor, o: Any) -> Tensor:
        return _cmp.logical_or(self, o)

    def add(self: Tensor, o: Any, *, alpha: Any = 1) -> Tensor:
        """``self + alpha * o``."""
        return _ew.add(self, o, alpha=alpha)

    def sub(self: Tensor, o: Any, *, alpha: Any = 1) -> Tensor:
        """``self - alpha * o``."""
        return _ew.sub(self, o, alpha=alpha)

    def mul(self: Tensor, o: Any) -> Tensor:
        """self * o, broadcasting; see tapegrad.mul."""
        return _ew.mul(self, o)

    def div(self: Tensor, o: Any) -> Tensor:
        """self / o, true division, broadcasting; see tapegrad.div."""
        return _ew.div(self, o)

    def pow(self: Tensor, o: Any) -> Tensor:
        """self ** o, broadcasting; see tapegrad.pow."""
        return _ew.pow(self, o)

    def neg(self: Tensor) -> Tensor:
        """-self; see tapegrad.neg."""
        return _ew.neg(self)

    def matmul(self: Tensor, o: Any) -> Tensor:
        """self @ o; see tapegrad.matmul."""
        return _la.matmul(self, o)

    def eq(self: Tensor, o: Any) -> Tensor:
        """self == o as a bool tensor; see tapegrad.eq."""
        return _cmp.eq(self, o)

    def ne(self: Tensor, o: Any) -> Tensor:
        """self != o as a bool tensor; see tapegrad.ne."""
        return _cmp.ne(self, o)

    def lt(self: Tensor, o: Any) -> Tensor:
        """self < o as a bool tensor; see tapegrad.lt."""
        return _cmp.lt(self, o)

    def le(self: Tensor, o: Any) -> Tensor:
        """self <= o as a bool tensor; see tapegrad.le."""
        return _cmp.le(self, o)

    def gt(self: Tensor, o: Any) -> Tensor:
        """self > o as a bool tensor; see tapegrad.gt."""
        return _cmp.gt(self, o)

    def ge(self: Tensor, o: Any) -> Tensor:
        """self >= o as a bool tensor; see tapegrad.ge."""
        return _cmp.ge(self, o)

    # ------------------------------------------------------------ math
    def exp(self: Tensor) -> Tensor:
        """Elementwise exponential; see tapegrad.exp."""
        return _ew.exp(self)

    def log(self: Tensor) -> Tensor:
        """Elementwise natural logarithm; see tapegrad.log."""
        return _ew.log(self)

    def log1p(self: Tensor) -> Tensor:
        """Elementwise log(1 + x); see tapegrad.log1p."""
        return _ew.log1p(self)

    def sqrt(self: Tensor) -> Tensor:
        """Elementwise square root; see tapegrad.sqrt."""
        return _ew.sqrt(self)

    def rsqrt(self: Tensor) -> Tensor:
        """Elementwise 1 / sqrt(x); see tapegrad.rsqrt."""
        return _ew.rsqrt(self)

    def abs(self: Tensor) -> Tensor:
        """Elementwise absolute value; see tapegrad.abs."""
        return _ew.abs(self)

    def sign(self: Tensor) -> Tensor:
        """Elementwise sign (-1, 0 or 1), no gradient; see tapegrad.sign."""
        return _ew.sign(self)

    def sin(self: Tensor) -> Tensor:
        """Elementwise sine; see tapegrad.sin."""
        return _ew.sin(self)

    def cos(self: Tensor) -> Tensor:
        """Elementwise cosine; see tapegrad.cos."""
        return _ew.cos(self)

    def square(self: Tensor) -> Tensor:
        """Elementwise self * self; see tapegrad.square."""
        return _ew.mul(self, self)

    def clamp(self: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """Elementwise clamp to [min, max]; see tapegrad.clamp."""
        return _ew.clamp(self, min, max)

    clip = clamp

    def maximum(self: Tensor, o: Any) -> Tensor:
        """Elementwise max with o; see tapegrad.maximum."""
        return _ew.maximum(self, o)

    def minimum(self: Tensor, o: Any) -> Tensor:
        """Elementwise min with o; see tapegrad.minimum."""
        return _ew.minimum(self, o)

    def relu(self: Tensor) -> Tensor:
        """Elementwise max(x, 0); see tapegrad.relu."""
        return _act.relu(self)

    def sigmoid(self: Tensor) -> Tensor:
        """Elementwise logistic sigmoid; see tapegrad.sigmoid."""
        return _act.sigmoid(self)

    def tanh(self: Tensor) -> Tensor:
        """Elementwise hyperbolic tangent; see tapegrad.tanh."""
        return _act.tanh(self)

    def softmax(self: Tensor, dim: int = -1) -> Tensor:
        """Softmax along ``dim``; see tapegrad.softmax."""
        return _sm.softmax(self, dim)

    def log_softmax(self: Tensor, dim: int = -1) -> Tensor:
        """Log-softmax along ``dim``; see tapegrad.log_softmax."""
        return _sm.log_softmax(self, dim)

    def logsumexp(self: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
        """log(sum(exp(x))) over ``dim``; see tapegrad.logsumexp."""
        return _sm.logsumexp(self, dim, keepdim)

    # ------------------------------------------------------------ reductions
    def sum(self: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        """Sum over ``dim`` (all if None); see tapegrad.sum."""
        return _red.sum(self, dim, keepdim, **kw)

    def mean(self: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        """Mean over ``dim`` (all if None); see tapegrad.mean."""
        return _red.mean(self, dim, keepdim, **kw)

    def max(self: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
        """The max, or (values, indices) along ``dim``; see tapegrad.max."""
        return _red.max(self, dim, keepdim, **kw)

    def min(self: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Any:
        """The min, or (values, indices) along ``dim``; see tapegrad.min."""
        return _red.min(self, dim, keepdim, **kw)

    def var(
        self: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, **kw: Any
    ) -> Tensor:
        """Variance over ``dim``; see tapegrad.var."""
        return _red.var(self, dim, unbiased, keepdim, **kw)

    def std(
        self: Tensor, dim: Any = None, unbiased: Any = None, keepdim: bool = False, **kw: Any
    ) -> Tensor:
        """Standard deviation over ``dim``; see tapegrad.std."""
        return _red.std(self, dim, unbiased, keepdim, **kw)

    def prod(self: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        """Product over ``dim``; see tapegrad.prod."""
        return _red.prod(self, dim, keepdim, **kw)

    def argmax(self: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        """Index of the max (flat, or along ``dim``); see tapegrad.argmax."""
        return _red.argmax(self, dim, keepdim, **kw)

    def argmin(self: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        """Index of the min (flat, or along ``dim``); see tapegrad.argmin."""
        return _red.argmin(self, dim, keepdim, **kw)

    def norm(self: Tensor, p: Any = 2, dim: Any = None, keepdim: bool = False) -> Tensor:
        """p-norm over ``dim``; see tapegrad.norm."""
        return _red.norm(self, p, dim, keepdim)

    def amax(self: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        """Max over ``dim``, ties sharing the gradient; see tapegrad.amax."""
        return _red.amax(self, dim, keepdim, **kw)

    def amin(self: Tensor, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        """Min over ``dim``, ties sharing the gradient; see tapegrad.amin."""
        return _red.amin(self, dim, keepdim, **kw)

    # ------------------------------------------------------------ shape
    def reshape(self: Tensor, *shape: Any) -> Tensor:
        """This tensor with a new ``shape`` (one size may be -1); see tapegrad.reshape."""
        return _sh.reshape(self, *shape)

    def view(self: Tensor, *shape: Any) -> Tensor:
        """This tensor with a new ``shape``, as reshape; see tapegrad.reshape."""
        return _sh.reshape(self, *shape)

    def view_as(self: Tensor, other: Tensor) -> Tensor:
        """This tensor reshaped to ``other``'s shape."""
        return _sh.reshape(self, other.shape)

    def reshape_as(self: Tensor, other: Tensor) -> Tensor:
        """This tensor reshaped to ``other``'s shape."""
        return _sh.reshape(self, other.shape)

    def flatten(self: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Dims ``start_dim`` to ``end_dim`` merged into one; see tapegrad.flatten."""
        return _sh.flatten(self, start_dim, end_dim)

    def transpose(self: Tensor, dim0: int, dim1: int) -> Tensor:
        """Dims ``dim0`` and ``dim1`` swapped; see tapegrad.transpose."""
        return _sh.transpose(self, dim0, dim1)

    swapaxes = transpose

    def permute(self: Tensor, *dims: Any) -> Tensor:
        """Dims reordered as ``dims``; see tapegrad.permute."""
        return _sh.permute(self, *dims)

    @property
    def T(self: Tensor) -> Tensor:  # noqa: N802
        """All axes reversed (for 2-D: the transpose)."""
        return _sh.permute(self, *range(self.ndim - 1, -1, -1))

    @property
    def mT(self: Tensor) -> Tensor:  # noqa: N802
        """The last two axes swapped."""
        return _sh.transpose(self, -2, -1)

    def t(self: Tensor) -> Tensor:
        """The transpose of a tensor of at most 2 dims, as ``torch.Tensor.t``."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor of at most 2 dims, got {self.ndim}")
        return self.T

    def expand(self: Tensor, *sizes: Any) -> Tensor:
        """A broadcast view to ``sizes`` (-1 keeps a size); see tapegrad.expand."""
        return _sh.expand(self, *sizes)

    def expand_as(self: Tensor, other: Tensor) -> Tensor:
        """This tensor broadcast to ``other``'s shape."""
        return _sh.broadcast_to(self, other.shape)

    def broadcast_to(self: Tensor, shape: Sequence[int]) -> Tensor:
        """This tensor broadcast to ``shape``; see tapegrad.broadcast_to."""
        return _sh.broadcast_to(self, shape)

    def squeeze(self: Tensor, dim: Any = None) -> Tensor:
        """Size-1 dims removed (or only ``dim``); see tapegrad.squeeze."""
        return _sh.squeeze(self, dim)

    def unsqueeze(self: Tensor, dim: int) -> Tensor:
        """A size-1 dim inserted at ``dim``; see tapegrad.unsqueeze."""
        return _sh.unsqueeze(self, dim)

    def split(self: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        """Pieces along ``dim``; see tapegrad.split."""
        return _sh.split(self, split_size_or_sections, dim)

    def chunk(self: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """``chunks`` nearly equal pieces along ``dim``; see tapegrad.chunk."""
        return _sh.chunk(self, chunks, dim)

    def repeat(self: Tensor, *sizes: Any) -> Tensor:
        """This tensor tiled ``sizes`` times along each dim, as ``torch.Tensor.repeat``."""
        return _sh.repeat(self, *sizes)

    def tile(self: Tensor, *dims: Any) -> Tensor:
        """This tensor tiled ``dims`` times along each dim; see tapegrad.tile."""
        return _sh.tile(self, *dims)

    def flip(self: Tensor, *dims: Any) -> Tensor:
        """This tensor reversed along ``dims``; see tapegrad.flip."""
        return _sh.flip(self, *dims)

    def unbind(self: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
        """The slices along ``dim``, that dim removed; see tapegrad.unbind."""
        return _sh.unbind(self, dim)

    def narrow(self: Tensor, dim: int, start: int, length: int) -> Tensor:
        """``length`` elements from ``start`` along ``dim``; see tapegrad.narrow."""
        return _ix.narrow(self, dim, start, length)

    def gather(self: Tensor, dim: int, index: Any) -> Tensor:
        """Values along ``dim`` at ``index``; see tapegrad.gather."""
        return _ix.gather(self, dim, index)

    def index_select(self: Tensor, dim: int, index: Any) -> Tensor:
        """The slices at ``index`` along ``dim``; see tapegrad.index_select."""
        return _ix.index_select(self, dim, index)

    def masked_fill(self: Tensor, mask: Any, value: Any) -> Tensor:
        """``value`` where ``mask`` is true, else self; see tapegrad.masked_fill."""
        return _ix.masked_fill(self, mask, value)

    # ---------------------------------------------- dtype by name
    # Last in the class: from their definition on, ``float``, ``int`` and ``bool``
    # in annotations of this class body would name these methods, not the builtins.
    def float(self: Tensor) -> Tensor:
        """This tensor as float32."""
        return self.to(float32)

    def double(self: Tensor) -> Tensor:
        """This tensor as float64."""
        return self.to(float64)

    def long(self: Tensor) -> Tensor:
        """This tensor as int64."""
        return self.to(int64)

    def int(self: Tensor) -> Tensor:
        """This tensor as int32."""
        return self.to(int32)

    def bool(self: Tensor) -> Tensor:
        """This tensor as bool."""
        return self.to(bool_)


# Set by Python on any class that defines __eq__, or by the class machinery:
# never copied onto Tensor (Tensor keeps its own identity hash).
_NOT_COPIED = frozenset(
    {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__hash__"}
)


def attach() -> None:
    """Copy every method and property of :class:`TensorMethods` and
    :class:`~tapegrad.tensor_methods_extra.ExtraTensorMethods` and
    :class:`~tapegrad.tensor_inplace.InplaceMethods` onto ``Tensor``."""
    for cls in (TensorMethods, ExtraTensorMethods, InplaceMethods):
        for name, value in vars(cls).items():
            if name not in _NOT_COPIED:
                setattr(Tensor, name, value)
