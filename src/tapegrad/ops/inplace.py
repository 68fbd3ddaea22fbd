"""In-place ops under autograd: PyTorch's rules, on NumPy memory.

``x.op_(...)`` computes ``op(x, ...)`` out of place, writes the result into
x's memory, bumps the version counter that x shares with its views and its
``detach()``, and, when the result is part of a graph, moves x onto the node
that made it ("rebases" it), so gradients flow through the in-place op as
they would through the out-of-place one.

- A leaf that requires grad (or a view of one) cannot be changed in place
  while gradients are recorded: its ``.grad`` would be meaningless.
- x's old value is read by the op through a stand-in tensor at x's old place
  in the graph; when the op's node keeps that value for backward, the
  stand-in gets a copy of it before x's memory is overwritten.
- When x views the memory of another tensor (its *base*: a slice, a reshape,
  a transpose...), the base is rebased too, onto a :class:`CopySlicesFunction`
  node that takes the base's old graph value everywhere but at x's positions,
  and the new value there. x's positions in its base come from the memory
  layout itself (offset and strides), so every NumPy view is handled. A view
  whose elements overlap (an ``expand``) cannot be written, as in PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..autograd.saved import retarget_saved
from ..backend import xp
from ..tensor import Tensor, _wrap
from .elementwise import cast, keep_where

__all__ = ["apply_inplace", "positions_in_base", "refresh_view"]

_ndarray = xp.ndarray


def _check_target(x: Tensor, op: str) -> None:
    if not state.enabled:
        return
    if x.requires_grad and x._node is None:
        raise RuntimeError(
            f"{op}: a leaf Variable that requires grad is being used in an in-place operation "
            "(its .grad would not be the gradient of what it holds). Do it under "
            "tapegrad.no_grad(), change .data, or use the out-of-place op."
        )
    b = x._base
    if b is not None and b.requires_grad and b._node is None:
        raise RuntimeError(
            f"{op}: a view of a leaf Variable that requires grad is being used in an in-place "
            "operation. Do it under tapegrad.no_grad(), or clone() the leaf first."
        )


def _standin(x: Tensor) -> Tensor:
    """A tensor at x's place in the graph, on x's memory, with a counter of its own."""
    s = _wrap(x._array)
    s._node, s._index, s.requires_grad = x._node, x._index, x.requires_grad
    return s


def _protect(node: Any, s: Tensor) -> None:
    """Copy what ``node`` keeps of ``s``'s memory, which is about to be overwritten."""
    root = s._array.base if s._array.base is not None else s._array
    if node.inputs is not None and any(t is s for t in node.inputs):
        s._array = s._array.copy()
    for k, v in list(vars(node).items()):
        if type(v) is _ndarray and (v is root or v.base is root):
            setattr(node, k, v.copy())


def apply_inplace(x: Tensor, op: str, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """Run ``compute(old x)`` and make x hold the result, in place; returns x.

    ``compute`` builds the out-of-place result from a tensor standing for x's
    current value (recorded in the graph when gradients are). The result must
    have x's shape and a dtype that casts to x's within its category.
    """
    if x._base is not None and x._gen != x._vc.value:  # type: ignore[union-attr]
        refresh_view(x)
    _check_target(x, op)
    s = _standin(x)
    y = compute(s)
    if tuple(y.shape) != tuple(x.shape):
        raise RuntimeError(
            f"{op}: output with shape {tuple(x.shape)} doesn't match the broadcast shape "
            f"{tuple(y.shape)}"
        )
    if y.dtype != x.dtype:
        if _category(y.dtype) > _category(x.dtype):
            raise RuntimeError(
                f"{op}: result type {y.dtype} can't be cast to the desired output type {x.dtype}"
            )
        y = cast(y, x.dtype)
    graph = state.enabled and y.requires_grad and y.dtype.kind in "fc"
    if graph and y._node is not None:
        _protect(y._node, s)
    ya = y._array
    if np.may_share_memory(ya, x._array):
        ya = ya.copy()
    try:
        x._array[...] = ya
    except ValueError as e:
        if not x._array.flags.writeable:
            raise RuntimeError(
                f"{op}: this tensor's memory is read-only (an expanded or broadcast view); "
                "clone() it first"
            ) from None
        raise RuntimeError(f"{op}: {e}") from None
    vc = x._counter()
    vc.bump(op)
    if graph:
        _rebase(x, y)
    if x._base is not None:
        x._gen = vc.value
    return x


def refresh_view(x: Tensor) -> None:
    """Put view x back on its base's graph after the memory changed (PyTorch
    regenerates a view's grad_fn the same way): other in-place ops on the base
    or on a sibling view have rebased the base since x's node was made."""
    base = x._base
    vc = x._vc
    assert base is not None and vc is not None  # x is a view: it has both
    if not (state.enabled and base.requires_grad):
        return
    try:
        pos = positions_in_base(x._array, base._array, write=False)
    except RuntimeError:  # no longer inside the base (its array was replaced via .data)
        x._gen = vc.value
        return
    v = AsStridedFunction(pos)(base)
    x._node, x._index, x.requires_grad = v._node, 0, True
    x._gen = vc.value


def _category(dtype: Any) -> int:
    return {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}[np.dtype(dtype).kind]


def _rebase(x: Tensor, y: Tensor) -> None:
    """Move x (and its base, when x is a view) onto the graph node of y."""
    node = y._node
    assert node is not None  # y was recorded: the caller checked y.requires_grad
    if y._vc is None:  # x now holds the value node's output y would have held
        node.watch_output(y._index, x._vc, x._array)
    else:
        retarget_saved(node, y._vc, x._vc)
    base = x._base
    if base is None:
        x._node, x._index, x.requires_grad = node, y._index, True
        return
    pos = positions_in_base(x._array, base._array)
    new_base = CopySlicesFunction(pos)(_standin(base), y)
    base._node, base._index, base.requires_grad = new_base._node, 0, True
    view = AsStridedFunction(pos)(base)
    x._node, x._index, x.requires_grad = view._node, 0, True


def positions_in_base(v: Any, base: Any, write: bool = True) -> Any:
    """For each element of view ``v``, its C-order position in ``base`` (same memory).

    Returns an int64 array of v's shape. Raises where v is not inside base or,
    with ``write``, several of its elements share memory (a view written to
    must not overlap itself; one only read, like an expand, may).
    """
    item = base.itemsize
    if v.dtype != base.dtype or any(s % item for s in v.strides + base.strides):
        raise RuntimeError("in-place op on a view whose layout does not fit its base")
    b_ptr = base.__array_interface__["data"][0]
    v_ptr = v.__array_interface__["data"][0]
    b_str = np.array(base.strides, dtype=np.int64) // item
    lo = int(np.minimum(b_str * (np.array(base.shape) - 1), 0).sum()) if base.ndim else 0
    hi = int(np.maximum(b_str * (np.array(base.shape) - 1), 0).sum()) if base.ndim else 0
    buf = np.full(hi - lo + 1, -1, dtype=np.int64)
    grid = np.lib.stride_tricks.as_strided(buf[-lo:], base.shape, tuple(int(s) * 8 for s in b_str))
    grid[...] = np.arange(base.size, dtype=np.int64).reshape(base.shape)
    off = (v_ptr - b_ptr) // item - lo
    v_str = [s // item for s in v.strides]
    v_lo = off + sum(min(s * (n - 1), 0) for s, n in zip(v_str, v.shape))
    v_hi = off + sum(max(s * (n - 1), 0) for s, n in zip(v_str, v.shape))
    if v.size and (v_lo < 0 or v_hi >= buf.size):
        raise RuntimeError("in-place op on a view that reaches outside its base's memory")
    pos = np.lib.stride_tricks.as_strided(buf[off:], v.shape, tuple(s * 8 for s in v_str)).copy()
    if v.size and pos.min() < 0:
        raise RuntimeError("in-place op on a view that is not inside its base's memory")
    if write and v.size and np.unique(pos).size != pos.size:
        raise RuntimeError(
            "unsupported operation: more than one element of the written-to tensor refers to "
            "a single memory location. Please clone() the tensor before performing the "
            "operation."
        )
    return xp.asarray(pos)


class CopySlicesFunction(Function):
    """The base after an in-place op on one of its views: ``(base, new view value)``.

    The memory already holds the result; forward returns it. The base's old
    value gets the gradient everywhere but at the view's positions, the view's
    new value the gradient at them.
    """

    def __init__(self, pos: Any) -> None:
        self.pos = pos

    def forward(self, base: Any, value: Any) -> Any:
        """The base array, already holding the new view value."""
        return base

    def backward(self, g: Any) -> Any:
        """dL/dbase: g with 0 at the view's positions; dL/dvalue: g at them."""
        nb, nv = self.needs_input_grad
        gb = gv = None
        if nb:
            keep = xp.ones(g.shape, dtype=bool)
            keep.reshape(-1)[self.pos] = False
            gb = keep_where(g, keep)
        if nv:
            gv = AsStridedFunction(self.pos)(g)
        return gb, gv


class AsStridedFunction(Function):
    """The elements of x at C-order positions ``pos`` (an array of the result's shape)."""

    def __init__(self, pos: Any) -> None:
        self.pos = pos

    def forward(self, x: Any) -> Any:
        """The elements of x at C-order positions ``pos``, in pos's shape."""
        self.shape = x.shape
        return xp.ascontiguousarray(x).reshape(-1)[self.pos]

    def backward(self, g: Any) -> Any:
        """dL/dx: zeros of x's shape with g added at ``pos``."""
        return ScatterPositionsFunction(self.pos, self.shape)(g)


class ScatterPositionsFunction(Function):
    """zeros(shape) with g added at C-order positions ``pos`` (AsStrided's adjoint)."""

    def __init__(self, pos: Any, shape: tuple[int, ...]) -> None:
        self.pos, self.shape = pos, shape

    def forward(self, g: Any) -> Any:
        """Zeros of ``shape`` with g added at C-order positions ``pos``."""
        z = xp.zeros(int(np.prod(self.shape, dtype=np.int64)), dtype=g.dtype)
        np.add.at(z, self.pos.reshape(-1), xp.ascontiguousarray(g).reshape(-1))
        return z.reshape(self.shape)

    def backward(self, gg: Any) -> Any:
        """dL/dg: gg's elements at ``pos``."""
        return AsStridedFunction(self.pos)(gg)


class CopyFunction(Function):
    """``x.copy_(src)`` out of place: src broadcast to x's shape and cast to its dtype.

    x's old value gets zero gradient; src the gradient, summed to its shape."""

    def forward(self, x: Any, src: Any) -> Any:
        """src broadcast to x's shape and cast to x's dtype."""
        self.src_dtype = src.dtype
        return xp.broadcast_to(src, x.shape).astype(x.dtype)

    def backward(self, g: Any) -> Any:
        """dL/dx: zeros (x is overwritten); dL/dsrc: g in src's dtype."""
        nx, ns = self.needs_input_grad
        # zeros, not g * 0: a NaN reaching an overwritten value still gives it 0, as in PyTorch
        gx = _wrap(xp.zeros(g.shape, dtype=g.dtype)) if nx else None
        gs = None
        if ns:
            gs = g if g.dtype == self.src_dtype else cast(g, self.src_dtype)
        return gx, gs
