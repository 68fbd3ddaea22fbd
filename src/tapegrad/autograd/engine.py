"""Reverse-mode backward pass over the recorded graph.

The graph is made of :class:`~tapegrad.autograd.function.Function` nodes. Each
node's ``next_edges`` says where the gradient of each input goes: ``None`` (no
gradient wanted), ``(leaf_tensor, -1)`` (accumulate into ``leaf.grad``) or
``(parent_node, i)`` (output ``i`` of another node). The engine

1. orders the nodes reachable from the roots topologically (:func:`_toposort`,
   an iterative depth-first search, so deep graphs such as long RNNs do not hit
   Python's recursion limit);
2. in ``tapegrad.grad``, prunes them to the nodes that lead to the wanted
   inputs (:func:`_prune`);
3. walks them from the roots down (:func:`_walk`), summing the gradients that
   reach each node's outputs, calling its ``backward`` once, reducing each input
   gradient to the input's shape where broadcasting widened it (the one
   central place where broadcast gradients are reduced), and freeing each
   node's saved values as soon as it is done, unless ``retain_graph``.
   :class:`_Sink` holds where the gradients go: the nodes not yet walked, the
   leaves' ``.grad``, or the results of ``tapegrad.grad``.

Two hooks serve data-parallel training: a leaf's post-accumulate-grad hooks run
once its ``.grad`` holds the whole gradient of this pass (after the last node
that feeds it), and :func:`queue_callback` runs a function when the pass ends.
Neither runs in ``tapegrad.grad``, which accumulates nothing.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..backend import xp
from ..tensor import Tensor, _wrap
from .broadcast import sum_to
from .grad_mode import state
from .saved import check_saved, needs_check

if TYPE_CHECKING:  # pragma: no cover
    from .function import Function


# id(leaf) -> (weak reference to the leaf, its post-accumulate-grad hooks). Kept
# here, not on the Tensor, so that leaves without hooks carry nothing.
_post_hooks: dict[int, tuple[Any, list[Callable[[Any], None]]]] = {}
_callbacks: list[list[Callable[[], None]]] = []  # one list per running backward


def register_post_accumulate_grad_hook(
    leaf: Tensor, hook: Callable[[Tensor], None]
) -> Callable[[], None]:
    """Call ``hook(leaf)`` after a backward pass has accumulated ``leaf.grad`` in full.

    Returns a function that removes the hook.
    """
    key = id(leaf)
    entry = _post_hooks.get(key)
    if entry is None or entry[0]() is not leaf:
        entry = _post_hooks[key] = (weakref.ref(leaf, lambda _: _post_hooks.pop(key, None)), [])
    hooks = entry[1]
    hooks.append(hook)
    return lambda: hooks.remove(hook) if hook in hooks else None


def queue_callback(fn: Callable[[], None]) -> None:
    """Run ``fn()`` when the backward pass now running has finished (from a hook)."""
    if not _callbacks:
        raise RuntimeError("queue_callback outside a backward pass that accumulates .grad")
    _callbacks[-1].append(fn)


def _toposort(roots: Sequence[Function]) -> list[Function]:
    """Nodes reachable from ``roots``, each before every node it feeds from."""
    order: list[Function] = []
    seen: set[int] = set()
    stack: list[tuple[Function, bool]] = [(r, False) for r in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        edges = node.next_edges
        if edges is None:
            continue
        for e in edges:
            if e is not None and e[1] >= 0 and id(e[0]) not in seen:
                stack.append((e[0], False))
    order.reverse()
    return order


def _freed_error(node: Function) -> RuntimeError:
    return RuntimeError(
        f"backward through {node.name} a second time: its saved values were freed by the "
        "first backward. Pass retain_graph=True to the first backward (or tapegrad.grad) "
        "if you need to go through the graph again."
    )


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
    allow_unused: bool = True,
) -> list[Tensor | None] | None:
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    With ``inputs=None`` gradients are accumulated into the ``.grad`` of every
    leaf reached (``Tensor.backward``). With ``inputs`` given, nothing is
    accumulated anywhere: the gradients with respect to those tensors are
    returned, in order, ``None`` for an input the roots do not depend on
    (``tapegrad.grad``). Only the part of the graph that leads to ``inputs`` is
    then computed.
    """
    prev_mode = state.enabled
    state.enabled = create_graph
    if inputs is None:
        _callbacks.append([])
    try:
        sink = _Sink(create_graph, inputs)
        root_nodes = sink.seed(roots, root_grads)
        order = _toposort(root_nodes)
        useful = _prune(order, sink) if inputs is not None else None
        _walk(order, sink, useful, retain_graph, roots)
        out = sink.finish(inputs)
    finally:
        state.enabled = prev_mode
        queued = _callbacks.pop() if inputs is None else []
    for fn in queued:
        fn()
    return out


def _prune(order: list[Function], sink: _Sink) -> set[int]:
    """The nodes of ``order`` that lead to a wanted input (capture mode).

    Returns their ids. Goes from the inputs' side up: a node is useful when one
    of its outputs is wanted, or when one of its edges reaches a wanted leaf or
    a useful node. The walk skips every other node, so ``tapegrad.grad``
    computes only the part of the graph its ``inputs`` depend on.
    """
    useful: set[int] = set()
    want_leaf = sink.want_leaf
    wanted_nodes = {k[0] for k in sink.want_node}
    for node in reversed(order):
        edges = node.next_edges
        if edges is None:
            continue
        hit = id(node) in wanted_nodes
        for e in edges:
            if e is None:
                continue
            if (e[1] < 0 and id(e[0]) in want_leaf) or (e[1] >= 0 and id(e[0]) in useful):
                hit = True
        if hit:
            useful.add(id(node))
    return useful


def _walk(
    order: list[Function],
    sink: _Sink,
    useful: set[int] | None,
    retain_graph: bool,
    roots: Sequence[Tensor],
) -> None:
    """Call each node of ``order`` once and hand its input gradients on.

    For each node with a gradient: run its tensor hooks on the summed output
    gradients, call ``backward`` (outputs no gradient reached get zeros),
    reduce each input gradient to the input's shape where broadcasting widened
    it, and send it to the parent node or the leaf (:class:`_Sink`); then free
    the node's saved values unless ``retain_graph``. A leaf with a
    post-accumulate-grad hook gets its ``.grad`` (and the hook runs) right
    after the last node that feeds it, so a data-parallel all-reduce starts
    while backward goes on. ``useful`` (capture mode) limits the walk to the
    nodes that lead to a wanted input.
    """
    grads = sink.grads
    capture = useful is not None
    fire_after = _last_feeders(order, roots) if _post_hooks and not capture else None
    for k, node in enumerate(order):
        if fire_after:
            sink.flush(fire_after.pop(k - 1, ()))
        slot = grads.pop(id(node), None)
        if slot is None:
            continue
        if node._freed:
            raise _freed_error(node)
        if node._seen is not None and needs_check(node):
            check_saved(node)
        if useful is not None and id(node) not in useful:
            continue
        if node._tensor_hooks:
            _run_tensor_hooks(node, slot)
        gys = slot if len(slot) == 1 else _fill_missing(node, slot)
        edges = node.next_edges
        assert edges is not None  # every node of a graph was recorded
        if useful is not None:
            sink.capture(node, slot)
            # Ask backward only for gradients that lead to a wanted input.
            need = tuple([_leads_to(e, sink.want_leaf, useful) for e in edges])
            gxs = _call(node, gys, need)
        elif state.anomaly:
            need = node.needs_input_grad
            gxs = _call(node, gys, need)
        else:  # the common case, kept inline: it runs once per node
            need = node.needs_input_grad
            gxs = node.backward(*gys)
            if not isinstance(gxs, tuple):
                gxs = (gxs,)
        if len(gxs) != len(edges):
            raise RuntimeError(
                f"{node.name}.backward returned {len(gxs)} gradients for {len(edges)} inputs"
            )
        # Hand each wanted input gradient on; one widened by broadcasting is
        # summed back to the input's shape here, the one place where that happens.
        for e, shape, gx, wanted in zip(edges, node.in_shapes, gxs, need):
            if e is None or gx is None or not wanted:
                continue
            if gx._array.shape != shape:
                gx = sum_to(gx, shape)
            if e[1] < 0:
                sink.to_leaf(e[0], gx)
            else:
                sink.to_node(e[0], e[1], gx)
        if not retain_graph:
            node.release()
    if fire_after:
        for k in sorted(fire_after):
            sink.flush(fire_after[k])


def _call(node: Function, gys: list[Any], need: tuple[bool, ...]) -> tuple[Any, ...]:
    """``node.backward(*gys)`` as a tuple, asking only for the gradients in ``need``.

    ``need`` replaces ``node.needs_input_grad`` during the call. Under
    ``detect_anomaly`` the gradients are checked here, not op by op inside.
    """
    saved_need = node.needs_input_grad
    node.needs_input_grad = need
    anomaly = state.anomaly
    state.anomaly = False  # ops inside a backward are judged by check_backward
    try:
        out = node.backward(*gys)
    finally:
        state.anomaly = anomaly
        node.needs_input_grad = saved_need
    gxs: tuple[Any, ...] = out if isinstance(out, tuple) else (out,)
    if anomaly and len(gxs) == len(node.next_edges or ()):
        from .anomaly import check_backward

        check_backward(node, gxs)
    return gxs


def _leads_to(e: tuple[Any, int] | None, want_leaf: set[int], useful: set[int]) -> bool:
    """Whether edge ``e`` reaches a wanted leaf or a useful node."""
    if e is None:
        return False
    return id(e[0]) in want_leaf if e[1] < 0 else id(e[0]) in useful


def _run_tensor_hooks(node: Function, slot: list[Any]) -> None:
    """Let the hooks on the node's outputs see (and replace) their summed gradients."""
    for i, hooks in (node._tensor_hooks or {}).items():
        if slot[i] is not None:
            for hook in list(hooks.values()):
                out = hook(slot[i])
                if out is not None:
                    slot[i] = out


class _Sink:
    """Where the gradients of one backward pass go.

    ``grads`` holds the summed gradient of each output of each node not yet
    walked. Leaf gradients are gathered per leaf and handed to ``.grad`` once
    (:meth:`flush`, :meth:`finish`), so that a leaf's hooks see the sum of every
    gradient that reaches it in this pass, as PyTorch's AccumulateGrad does.
    In capture mode (``inputs`` given) nothing is accumulated: the gradients of
    the wanted inputs are collected and returned by :meth:`finish`.
    """

    def __init__(self, create_graph: bool, inputs: Sequence[Tensor] | None) -> None:
        self.create_graph = create_graph
        self.grads: dict[int, list[Any]] = {}  # id(node) -> gradient of each output
        self.capturing = inputs is not None
        self.want_leaf: set[int] = set()
        self.want_node: dict[tuple[int, int], int] = {}  # (id(node), output) -> position
        self.leaf_grads: dict[int, Any] = {}  # id(leaf) -> gradient (capture mode)
        self.results: list[Any] = []
        if inputs is not None:
            for pos, t in enumerate(inputs):
                if t._node is None:
                    self.want_leaf.add(id(t))
                else:
                    self.want_node[(id(t._node), t._index)] = pos
            self.results = [None] * len(inputs)
        # Arrays already handed to a leaf's .grad in this pass: a second leaf that
        # would receive the same memory (x + y gives both the same gradient) gets a
        # copy, so an in-place change of one .grad (gradient clipping) never
        # changes another.
        self.handed: set[int] = set()
        self.got: set[int] = set()  # leaves whose .grad this pass accumulated into
        self.pending: dict[int, tuple[Tensor, Any]] = {}  # id(leaf) -> (leaf, gradient)

    def seed(self, roots: Sequence[Tensor], root_grads: Sequence[Tensor]) -> list[Function]:
        """Place the roots' gradients; returns the roots' nodes (leaf roots have none)."""
        nodes: list[Function] = []
        for t, g in zip(roots, root_grads):
            if t._node is None:
                self.to_leaf(t, g)
            else:
                self.to_node(t._node, t._index, g)
                nodes.append(t._node)
        return nodes

    def to_node(self, node: Function, i: int, g: Any) -> None:
        """Add ``g`` to the gradient of output ``i`` of ``node``."""
        slot = self.grads.get(id(node))
        if slot is None:
            slot = self.grads[id(node)] = [None] * node.n_outputs
        slot[i] = g if slot[i] is None else slot[i] + g

    def to_leaf(self, leaf: Tensor, g: Any) -> None:
        """Add ``g`` to what ``leaf`` receives in this pass."""
        key = id(leaf)
        if self.capturing:
            if key in self.want_leaf:
                prev = self.leaf_grads.get(key)
                self.leaf_grads[key] = g if prev is None else prev + g
            return
        prev = self.pending.get(key)
        self.pending[key] = (leaf, g if prev is None else prev[1] + g)

    def capture(self, node: Function, slot: list[Any]) -> None:
        """Record the gradients of the node's outputs that are wanted inputs."""
        for i, g in enumerate(slot):
            pos = self.want_node.get((id(node), i))
            if pos is not None:
                self.results[pos] = g

    def accumulate(self, leaf: Tensor, g: Any) -> None:
        """Run the leaf's hooks on its summed gradient and add it to ``leaf.grad``."""
        if leaf._hooks:
            for hook in list(leaf._hooks.values()):
                out = hook(g)
                if out is not None:
                    g = out
        dt = leaf._array.dtype
        if g._array.dtype is not dt and g._array.dtype != dt:
            g = g.to(dt)
        if not self.create_graph:
            arr = g._array
            # A view (a broadcast, a reshape) is copied into memory of its own,
            # so every .grad is writable and owned by that leaf alone.
            if arr.base is not None or id(arr) in self.handed:
                g = _wrap(xp.array(arr))
            elif g.requires_grad:
                g = g.detach()
            self.handed.add(id(g._array))
        if _post_hooks:  # (read only to fire post-accumulate hooks)
            self.got.add(id(leaf))
        if leaf.grad is None:
            leaf.grad = g
        elif self.create_graph:
            leaf.grad = leaf.grad + g  # out of place: the old .grad may be shared
        else:
            leaf.grad = type(g)(leaf.grad._array + g._array)

    def flush(self, leaves: Sequence[Tensor]) -> None:
        """Hand ``leaves`` their gradients now and run their post-accumulate hooks."""
        for leaf in leaves:
            entry = self.pending.pop(id(leaf), None)
            if entry is not None:
                self.accumulate(*entry)
        _fire(leaves, self.got)

    def finish(self, inputs: Sequence[Tensor] | None) -> list[Tensor | None] | None:
        """Hand every remaining leaf its gradient; in capture mode return the results."""
        accumulate = self.accumulate
        for leaf, g in self.pending.values():
            accumulate(leaf, g)
        if inputs is None:
            return None
        for pos, t in enumerate(inputs):
            if t._node is None:
                self.results[pos] = self.leaf_grads.get(id(t))
        return self.results


def _last_feeders(order: list[Function], roots: Sequence[Tensor]) -> dict[int, list[Tensor]]:
    """Position in ``order`` of the last node feeding each hooked leaf -> those leaves."""
    last: dict[int, tuple[int, Tensor]] = {id(t): (-1, t) for t in roots if id(t) in _post_hooks}
    for k, node in enumerate(order):
        for e in node.next_edges or ():
            if e is not None and e[1] < 0 and id(e[0]) in _post_hooks:
                last[id(e[0])] = (k, e[0])
    out: dict[int, list[Tensor]] = {}
    for k, leaf in last.values():
        out.setdefault(k, []).append(leaf)
    return out


def _fire(leaves: Sequence[Tensor], got: set[int]) -> None:
    for leaf in leaves:
        entry = _post_hooks.get(id(leaf))
        if id(leaf) in got and entry is not None and entry[0]() is leaf:
            for hook in list(entry[1]):
                hook(leaf)


def _fill_missing(node: Function, slot: list[Any]) -> list[Any]:
    """Zeros for outputs no gradient reached, so backward always gets Tensors."""
    if all(g is not None for g in slot):
        return slot
    out = list(slot)
    for i, g in enumerate(out):
        if g is None:
            assert node._out_meta is not None  # set by every recorded multi-output node
            shape, dtype = node._out_meta[i]
            out[i] = _wrap(xp.zeros(shape, dtype=dtype))
    return out
