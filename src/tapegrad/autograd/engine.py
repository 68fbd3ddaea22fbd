"""Reverse-mode backward pass over the recorded graph.

The graph is made of :class:`~tapegrad.autograd.function.Function` nodes. Each
node's ``next_edges`` says where the gradient of each input goes: ``None`` (no
gradient wanted), ``(leaf_tensor, -1)`` (accumulate into ``leaf.grad``) or
``(parent_node, i)`` (output ``i`` of another node). The engine

1. orders the nodes reachable from the roots topologically (iterative
   depth-first search, so deep graphs such as long RNNs do not hit Python's
   recursion limit);
2. walks them from the roots down, summing the gradients that reach each node's
   outputs, calling its ``backward`` once, and reducing each input gradient to
   the input's shape where broadcasting widened it (the one central place where
   broadcast gradients are reduced);
3. frees each node's saved values as soon as it is done, unless
   ``retain_graph``.

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
from .saved import check_saved

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
        out = _run(roots, root_grads, retain_graph, create_graph, inputs, sum_to)
    finally:
        state.enabled = prev_mode
        queued = _callbacks.pop() if inputs is None else []
    for fn in queued:
        fn()
    return out


def _run(roots, root_grads, retain_graph, create_graph, inputs, sum_to):  # noqa: C901
    grads: dict[int, list[Any]] = {}  # id(node) -> gradient of each output
    leaf_grads: dict[int, Any] = {}  # id(leaf) -> gradient (capture mode)
    capture = inputs is not None
    want_leaf: set[int] = set()
    want_node: dict[tuple[int, int], int] = {}  # (id(node), output) -> position in inputs
    if capture:
        for pos, t in enumerate(inputs):
            if t._node is None:
                want_leaf.add(id(t))
            else:
                want_node[(id(t._node), t._index)] = pos
    results: list[Any] = [None] * (len(inputs) if capture else 0)

    def add_to_node(node: Function, i: int, g: Any) -> None:
        slot = grads.get(id(node))
        if slot is None:
            slot = grads[id(node)] = [None] * node.n_outputs
        slot[i] = g if slot[i] is None else slot[i] + g

    # Arrays already handed to a leaf's .grad in this pass: a second leaf that
    # would receive the same memory (x + y gives both the same gradient) gets a
    # copy, so an in-place change of one .grad (gradient clipping) never
    # changes another.
    handed: set[int] = set()
    got: set[int] = set()  # leaves whose .grad this pass accumulated into

    # A leaf's hooks see the sum of every gradient that reaches it in this pass,
    # once, as PyTorch's AccumulateGrad does; so leaf gradients are gathered
    # here and handed over once no node left can add to them: right after the
    # last node that feeds the leaf for a leaf with a post-accumulate hook (so
    # data-parallel all-reduces start while backward goes on), at the end of
    # the walk for the others.
    pending: dict[int, tuple[Tensor, Any]] = {}

    def to_leaf(leaf: Tensor, g: Any) -> None:
        key = id(leaf)
        if capture:
            if key in want_leaf:
                prev = leaf_grads.get(key)
                leaf_grads[key] = g if prev is None else prev + g
            return
        prev = pending.get(key)
        pending[key] = (leaf, g if prev is None else prev[1] + g)

    def accumulate(leaf: Tensor, g: Any) -> None:
        if leaf._hooks:
            for hook in list(leaf._hooks.values()):
                out = hook(g)
                if out is not None:
                    g = out
        if g.dtype != leaf.dtype:
            g = g.to(leaf.dtype)
        if not create_graph:
            arr = g._array
            # A view (a broadcast, a reshape) is copied into memory of its own,
            # so every .grad is writable and owned by that leaf alone.
            if arr.base is not None or id(arr) in handed:
                g = _wrap(xp.array(arr))
            elif g.requires_grad:
                g = g.detach()
            handed.add(id(g._array))
        got.add(id(leaf))
        if leaf.grad is None:
            leaf.grad = g
        else:
            # Out of place: the old .grad may be shared with user code.
            leaf.grad = leaf.grad + g if create_graph else type(g)(leaf.grad._array + g._array)

    def flush(leaves: Sequence[Tensor]) -> None:
        for leaf in leaves:
            entry = pending.pop(id(leaf), None)
            if entry is not None:
                accumulate(*entry)
        _fire(leaves, got)

    root_nodes = []
    for t, g in zip(roots, root_grads):
        if t._node is None:
            to_leaf(t, g)
        else:
            add_to_node(t._node, t._index, g)
            root_nodes.append(t._node)

    order = _toposort(root_nodes)

    # In capture mode, skip every node that cannot reach a wanted input.
    useful: set[int] | None = None
    if capture:
        useful = set()
        for node in reversed(order):  # inputs-side first
            edges = node.next_edges
            if edges is None:
                continue
            hit = any(k[0] == id(node) for k in want_node)
            for e in edges:
                if e is None:
                    continue
                if (e[1] < 0 and id(e[0]) in want_leaf) or (e[1] >= 0 and id(e[0]) in useful):
                    hit = True
            if hit:
                useful.add(id(node))

    fire_after = _last_feeders(order, roots) if _post_hooks and not capture else None
    for k, node in enumerate(order):
        if fire_after:
            flush(fire_after.pop(k - 1, ()))
        slot = grads.pop(id(node), None)
        if slot is None:
            continue
        if node._freed:
            raise _freed_error(node)
        if node._saved:
            check_saved(node)
        if useful is not None and id(node) not in useful:
            continue
        if node._tensor_hooks:
            for i, hooks in node._tensor_hooks.items():
                if slot[i] is not None:
                    for hook in list(hooks.values()):
                        out = hook(slot[i])
                        if out is not None:
                            slot[i] = out
        if capture:
            for i, g in enumerate(slot):
                pos = want_node.get((id(node), i))
                if pos is not None:
                    results[pos] = g
        gys = _fill_missing(node, slot)
        edges = node.next_edges
        need = node.needs_input_grad
        if useful is not None:
            need = tuple(
                e is not None
                and ((e[1] < 0 and id(e[0]) in want_leaf) or (e[1] >= 0 and id(e[0]) in useful))
                for e in edges
            )
            saved_need = node.needs_input_grad
            node.needs_input_grad = need
        anomaly = state.anomaly
        state.anomaly = False  # ops inside a backward are judged by check_backward
        try:
            gxs = node.backward(*gys)
        finally:
            state.anomaly = anomaly
            if useful is not None:
                node.needs_input_grad = saved_need
        if not isinstance(gxs, tuple):
            gxs = (gxs,)
        if len(gxs) != len(edges):
            raise RuntimeError(
                f"{node.name}.backward returned {len(gxs)} gradients for {len(edges)} inputs"
            )
        if state.anomaly:
            from .anomaly import check_backward

            check_backward(node, gxs)
        for e, shape, gx, wanted in zip(edges, node.in_shapes, gxs, need):
            if e is None or gx is None or not wanted:
                continue
            if gx.shape != shape:
                gx = sum_to(gx, shape)
            target, i = e
            if i < 0:
                to_leaf(target, gx)
            else:
                add_to_node(target, i, gx)
        if not retain_graph:
            node.release()

    if fire_after:
        for k in sorted(fire_after):
            flush(fire_after[k])
    for leaf, g in pending.values():
        accumulate(leaf, g)
    if capture:
        for pos, t in enumerate(inputs):
            if t._node is None:
                results[pos] = leaf_grads.get(id(t))
        return results
    return None


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
    if len(slot) == 1 or all(g is not None for g in slot):
        return slot
    out = list(slot)
    for i, g in enumerate(out):
        if g is None:
            shape, dtype = node._out_meta[i]
            out[i] = _wrap(xp.zeros(shape, dtype=dtype))
    return out
