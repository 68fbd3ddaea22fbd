"""``Function``: one node of the graph, with its forward and backward side by side.

A Function instance is created per call. ``forward`` works on raw arrays and
returns array(s); ``backward`` receives the gradients of the outputs as
Tensors and returns the gradients of the inputs as Tensors (or ``None`` for an
input that needs none), written in tapegrad ops. Because backward is made of
ordinary differentiable ops, running it while a graph is being recorded
(``create_graph=True``) gives second and higher derivatives for free; when no
graph is asked for, the engine runs it under ``no_grad`` where each op is a
thin wrapper around one NumPy call. A fused op whose backward would take many
small ops writes it once against the array namespace of
:mod:`tapegrad.ops.namespace`, which runs the same formula on arrays or on
Tensors.

A node keeps only what its backward needs (Chainer's rule): its input Tensors
when ``keep_inputs`` is set, the arrays of its outputs when ``keep_outputs`` is
set, and whatever else ``forward`` stores on ``self``. It never holds its
output Tensors, so no reference cycle ties a graph to its tensors; an output is
rebuilt for backward with :meth:`output`, a Tensor that stands for the same
graph value. The versions of what it kept are noted when it is recorded and
checked before its backward runs (:mod:`tapegrad.autograd.saved`), so a
tensor changed in place since makes backward raise instead of mislead; an op
that keeps an input only for some gradients says which in :meth:`saved_inputs`.

Subclass it for a custom op, like ``torch.autograd.Function``::

    class CubeFunction(Function):
        keep_inputs = True

        def forward(self, x):
            return x ** 3

        def backward(self, gy):
            (x,) = self.inputs
            return gy * 3 * x * x

    y = CubeFunction()(x)  # or CubeFunction.apply(x)
"""

from __future__ import annotations

import traceback
from typing import Any

from ..tensor import Tensor, VersionCounter, _wrap, as_tensor
from .grad_mode import state
from .saved import link_view, record_saved, stored_roots, watch_output


class Function:
    """Base class of every differentiable operation. See the module docstring."""

    #: keep the input Tensors on the node as ``self.inputs`` for backward
    keep_inputs: bool = False
    #: keep the output arrays on the node; :meth:`output` rebuilds them as Tensors
    keep_outputs: bool = False

    # Set by __call__ when a graph is recorded.
    inputs: tuple[Tensor, ...] | None = None
    next_edges: tuple[tuple[Any, int] | None, ...] | None = None
    needs_input_grad: tuple[bool, ...] = ()
    in_shapes: tuple[tuple[int, ...], ...] = ()
    n_outputs: int = 1
    _out_data: tuple[Any, ...] | None = None
    _out_meta: tuple[tuple[tuple[int, ...], Any], ...] | None = None
    _tensor_hooks: dict[int, dict[int, Any]] | None = None
    _trace: list[str] | None = None
    _input_values: tuple[Any, ...] | None = None
    _freed: bool = False
    _saved: list[Any] | None = None
    _seen: int | None = None

    # ``*args: Any, **kwargs: Any`` is how a type checker spells "any signature":
    # each op declares forward and backward with its own arguments.
    def forward(self, *xs: Any, **kwargs: Any) -> Any:
        """Compute the outputs from input arrays. Returns one array or a tuple."""
        raise NotImplementedError(f"{type(self).__name__} has no forward")

    def backward(self, *gys: Any, **kwargs: Any) -> Any:
        """Gradients of the inputs (Tensors or None) from those of the outputs."""
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    @classmethod
    def apply(cls, *inputs: Any, **kwargs: Any) -> Any:
        """Construct the Function with ``kwargs`` and call it on ``inputs``."""
        return cls(**kwargs)(*inputs)

    def __call__(self, *inputs: Any) -> Any:
        # One- and two-input ops are nearly all ops; their paths avoid generator
        # expressions, which cost more than the NumPy call on small arrays.
        # (a view always shares its base's version counter, so _vc is set where _base is)
        n = len(inputs)
        if n == 1:
            x0 = inputs[0]
            if type(x0) is not Tensor:
                x0 = as_tensor(x0)
                inputs = (x0,)
            if x0._base is not None and x0._gen != x0._vc.value:  # type: ignore[union-attr]
                x0._sync_view()
            a0 = x0._array
            ys = self.forward(a0)
            need_any = x0.requires_grad
            same = ys is a0  # forward returned its input (an identity op)
        elif n == 2:
            x0, x1 = inputs
            if type(x0) is not Tensor or type(x1) is not Tensor:
                x0, x1 = as_tensor(x0), as_tensor(x1)
                inputs = (x0, x1)
            if x0._base is not None and x0._gen != x0._vc.value:  # type: ignore[union-attr]
                x0._sync_view()
            if x1._base is not None and x1._gen != x1._vc.value:  # type: ignore[union-attr]
                x1._sync_view()
            a0, a1 = x0._array, x1._array
            ys = self.forward(a0, a1)
            need_any = x0.requires_grad or x1.requires_grad
            same = ys is a0 or ys is a1
        elif n == 3:  # (linear with a bias, the third most common)
            x0, x1, x2 = inputs
            if type(x0) is not Tensor or type(x1) is not Tensor or type(x2) is not Tensor:
                x0, x1, x2 = inputs = (as_tensor(x0), as_tensor(x1), as_tensor(x2))
            for x in inputs:
                if x._base is not None and x._gen != x._vc.value:
                    x._sync_view()
            a0, a1, a2 = x0._array, x1._array, x2._array
            ys = self.forward(a0, a1, a2)
            need_any = x0.requires_grad or x1.requires_grad or x2.requires_grad
            same = ys is a0 or ys is a1 or ys is a2
        else:
            inputs = tuple([x if type(x) is Tensor else as_tensor(x) for x in inputs])
            for x in inputs:
                if x._base is not None and x._gen != x._vc.value:
                    x._sync_view()
            ys = self.forward(*[x._array for x in inputs])
            need_any = any([x.requires_grad for x in inputs])
            same = any([ys is x._array for x in inputs])

        single = type(ys) is not tuple
        if state.anomaly:
            from .anomaly import check_forward

            check_forward(self, (ys,) if single else ys)
        if not (need_any and state.enabled):
            if single:
                y = _wrap(ys)
                # (most ops make a new array: a view, or an input itself, is the exception)
                if same or y._array.base is not None:
                    _link_views(inputs, (y,))
                return y
            outs = tuple([_wrap(y) for y in ys])
            _link_views(inputs, outs)
            return outs

        # Arrays forward stored on the node, looked for before the graph's own
        # fields are added: most ops store nothing, and then this is one test.
        roots = stored_roots(self) if self.__dict__ else None
        self._record(inputs)
        if single:
            if self.keep_outputs:
                self._out_data = (ys,)
            y = _wrap(ys, self, 0)
            if roots is not None:
                record_saved(self, inputs, roots)
            elif self.keep_inputs:
                # Inputs without a counter were never changed in place: then only
                # the count of changes is noted (see autograd/saved.py).
                if _no_counters(inputs, n):
                    self._seen = VersionCounter.bumps
                else:
                    record_saved(self, inputs, roots)
            if same or y._array.base is not None:
                _link_views(inputs, (y,))
            return y
        self.n_outputs = len(ys)
        self._out_meta = tuple([(y.shape, y.dtype) for y in ys])
        if self.keep_outputs:
            self._out_data = ys
        outs = tuple([_wrap(y, self, i) for i, y in enumerate(ys)])
        record_saved(self, inputs, roots)
        _link_views(inputs, outs)
        return outs

    def saved_inputs(self) -> range | tuple[int, ...]:
        """Positions of the kept inputs whose values backward reads (all by default).

        Their versions are checked before backward; an op that keeps an input
        only for some gradients narrows this, so that changing the other
        input in place stays allowed, as in PyTorch."""
        return range(len(self.inputs or ()))

    def _record(self, inputs: tuple[Tensor, ...]) -> None:
        """Link this node into the graph: where each input's gradient goes."""
        if len(inputs) == 2:  # (most ops: each tuple built at once, no lists)
            x0, x1 = inputs
            self.needs_input_grad = (x0.requires_grad, x1.requires_grad)
            self.next_edges = (_edge(x0), _edge(x1))
            self.in_shapes = (x0._array.shape, x1._array.shape)
        elif len(inputs) == 1:
            x0 = inputs[0]
            self.needs_input_grad = (x0.requires_grad,)
            self.next_edges = (_edge(x0),)
            self.in_shapes = (x0._array.shape,)
        elif len(inputs) == 3:
            x0, x1, x2 = inputs
            self.needs_input_grad = (x0.requires_grad, x1.requires_grad, x2.requires_grad)
            self.next_edges = (_edge(x0), _edge(x1), _edge(x2))
            self.in_shapes = (x0._array.shape, x1._array.shape, x2._array.shape)
        else:
            self.needs_input_grad = tuple([x.requires_grad for x in inputs])
            self.next_edges = tuple([_edge(x) for x in inputs])
            self.in_shapes = tuple([x._array.shape for x in inputs])
        if self.keep_inputs:
            self.inputs = inputs
        if state.keep_values:
            self._input_values = tuple([x._array for x in inputs])
        if state.anomaly:
            self._trace = traceback.format_stack()[:-3]

    def watch_output(self, i: int, vc: Any, array: Any) -> None:
        """Output ``i`` has just got version counter ``vc``: check it before backward
        if backward reads that output (see :mod:`tapegrad.autograd.saved`)."""
        watch_output(self, i, vc, array)

    def output(self, i: int = 0) -> Tensor:
        """Output ``i`` as a Tensor attached to this node (needs ``keep_outputs``)."""
        if self._out_data is None:
            raise RuntimeError(
                f"{type(self).__name__}.output({i}): outputs were not kept "
                "(set keep_outputs = True) or the graph was freed"
            )
        return _wrap(self._out_data[i], self, i)

    def release(self) -> None:
        """Drop what backward needed; a later backward through here raises."""
        d = self.__dict__
        kept = {k: d[k] for k in _KEEP_ON_RELEASE if k in d}
        d.clear()  # (the class attributes read None for inputs and _out_data now)
        d.update(kept)
        self._freed = True

    @property
    def name(self) -> str:
        """The op's name: the class name less its ``Function`` suffix (``Add``)."""
        n = type(self).__name__
        return n[: -len("Function")] if n.endswith("Function") and n != "Function" else n

    def __repr__(self) -> str:
        return f"<{self.name}Backward>"


def _no_counters(inputs: tuple[Tensor, ...], n: int) -> bool:
    if n == 2:
        return inputs[0]._vc is None and inputs[1]._vc is None
    return all([x._vc is None for x in inputs])


def _edge(x: Tensor) -> tuple[Any, int] | None:
    """Where x's gradient goes: (leaf, -1), (node, output index), or None."""
    if x.requires_grad:
        node = x._node
        return (x, -1) if node is None else (node, x._index)
    return None


def _link_views(inputs: tuple[Tensor, ...], outs: tuple[Tensor, ...]) -> None:
    """Outputs that view an input's memory share its version counter."""
    for y in outs:
        ya = y._array
        b = ya.base
        for x in inputs:
            xa = x._array
            if ya is xa or (b is not None and (b is xa or b is xa.base)):
                link_view(x, y)
                break


# Attributes the engine still needs after a node's saved values are dropped.
_KEEP_ON_RELEASE = frozenset(
    {
        "next_edges",
        "needs_input_grad",
        "in_shapes",
        "n_outputs",
        "_freed",
        "_tensor_hooks",
        "_out_meta",
    }
)
