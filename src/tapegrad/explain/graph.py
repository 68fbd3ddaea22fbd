"""The recorded graph behind a tensor, as plain lists a reader (or an exporter) can walk.

:func:`walk` turns the nodes reachable from a tensor into a :class:`Graph`: the
op nodes in forward order, the leaf tensors they read, and a label for each.
:func:`recording` makes every node created inside it keep its input arrays, so
that every forward value is known afterwards and the graph can be
:func:`replay`-ed on other leaf values (finite differences in float64).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd.engine import _toposort
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad, state
from ..tensor import Tensor
from .format import fmt_array

#: Ops whose backward multiplies the upstream gradient elementwise by a local
#: derivative of the same shape (so a trace can show that derivative).
ELEMENTWISE = frozenset(
    "Add Sub Mul Div Neg PowScalar Pow Exp Log Log1p Sqrt Rsqrt Abs Sin Cos Clamp "
    "ClampTensor Maximum Minimum Where Cast Clone ReLU LeakyReLU Hardtanh ELU Sigmoid "
    "Tanh Softplus SiLU GELU _ScaleMask SigmoidBackward TanhBackward ELUBackward "
    "SoftplusBackward SiLUBackward GELUBackward".split()
)


def op_name(node: Function) -> str:
    """The op's display name: its class name without a private underscore."""
    return node.name.lstrip("_")


@contextmanager
def recording() -> Iterator[None]:
    """Inside this context every recorded op keeps its input arrays, so
    :func:`walk` knows every forward value and :func:`replay` can re-run the graph."""
    prev = state.keep_values
    state.keep_values = True
    try:
        yield
    finally:
        state.keep_values = prev


@dataclass
class Graph:
    """The graph behind ``root``.

    ``nodes``: op nodes in forward order (inputs before the ops that read them);
    ``leaves``: leaf tensors that require grad, in the order first read;
    ``labels``: ``id(node or leaf) -> label`` (``"%3"`` for ops, a parameter name
    or ``"x0"`` for leaves); ``values``: ``(id(node), output index) -> array``
    for every forward value the graph kept.
    """

    root: Tensor
    nodes: list[Function]
    leaves: list[Tensor]
    labels: dict[int, str] = field(default_factory=dict)
    values: dict[tuple[int, int], Any] = field(default_factory=dict)
    shapes: dict[tuple[int, int], tuple[int, ...]] = field(default_factory=dict)

    def out_shape(self, node: Function, i: int = 0) -> tuple[int, ...]:
        """Shape of output ``i`` of ``node`` (``()`` for an output nothing read)."""
        if node._out_meta is not None:
            return tuple(node._out_meta[i][0])
        return self.shapes.get((id(node), i), ())

    def input_label(self, node: Function, k: int) -> str:
        """Label of input ``k`` of ``node``: ``"%3"``, ``"%3[1]"``, a leaf name, or
        ``"const"`` (with its value when it was kept and has at most 4 elements)."""
        e = node.next_edges[k] if node.next_edges else None
        if e is None:
            kept = node._input_values
            if kept is None and node.inputs is not None:
                kept = tuple(t._array for t in node.inputs)
            if kept is not None and np.size(kept[k]) <= 4:
                return "const " + fmt_array(kept[k])
            return "const"
        src, i = e
        lab = self.labels[id(src)]
        if i > 0 or (i == 0 and src.n_outputs > 1):
            return f"{lab}[{i}]"
        return lab


def _check_output(output: Any) -> Tensor:
    if not isinstance(output, Tensor):
        raise TypeError(f"expected a tapegrad Tensor, got {type(output).__name__}")
    if output._node is None:
        raise ValueError(
            "the tensor has no graph behind it (it is a leaf or was computed without "
            "grad): compute it from tensors with requires_grad=True"
        )
    return output


def walk(output: Tensor, params: Mapping[str, Tensor] | None = None) -> Graph:
    """The graph behind ``output`` (see :class:`Graph`).

    ``params``: optional ``name -> tensor`` (e.g. ``dict(model.named_parameters())``)
    used to label leaves; other leaves are labelled by their ``.name`` or ``x0``, ``x1``...
    """
    output = _check_output(output)
    assert output._node is not None  # _check_output raised otherwise
    nodes = _toposort([output._node])
    nodes.reverse()
    names = {id(t): n for n, t in (params or {}).items()}
    g = Graph(root=output, nodes=nodes, leaves=[])
    for j, node in enumerate(nodes):
        if node._freed:
            raise RuntimeError(
                f"the graph was freed by a backward pass ({node.name} has no saved values): "
                "build the output again, or call backward with retain_graph=True"
            )
        g.labels[id(node)] = f"%{j}"
        for e in node.next_edges or ():
            if e is not None and e[1] < 0 and id(e[0]) not in g.labels:
                leaf = e[0]
                g.leaves.append(leaf)
                g.labels[id(leaf)] = names.get(id(leaf)) or leaf.name or f"x{len(g.leaves) - 1}"
    _collect_values(g)
    return g


def _collect_values(g: Graph) -> None:
    for node in g.nodes:
        for e, shp in zip(node.next_edges or (), node.in_shapes):
            if e is not None and e[1] >= 0:
                g.shapes[(id(e[0]), e[1])] = tuple(shp)
        arrays = node._input_values
        if arrays is None and node.inputs is not None:
            arrays = tuple(t._array for t in node.inputs)
        if arrays is not None:
            for e, a in zip(node.next_edges or (), arrays):
                if e is not None and e[1] >= 0:
                    g.values[(id(e[0]), e[1])] = a
        if node._out_data is not None:
            for i, a in enumerate(node._out_data):
                g.values[(id(node), i)] = a
    g.values[(id(g.root._node), g.root._index)] = g.root._array
    g.shapes[(id(g.root._node), g.root._index)] = tuple(g.root.shape)


def replayable(g: Graph) -> str | None:
    """None when :func:`replay` can re-run ``g``, else the reason it cannot."""
    for node in g.nodes:
        if node._input_values is None and node.inputs is None:
            if any(e is None for e in node.next_edges or ()):
                return (
                    f"{node.name} ({g.labels[id(node)]}) did not keep its constant inputs; "
                    "build the output inside tapegrad.explain.recording() or pass trace a "
                    "function"
                )
    return None


def replay(g: Graph, leaf_values: Mapping[int, np.ndarray]) -> float:
    """Re-run the recorded forward pass with the leaves set to ``leaf_values``
    (``id(leaf) -> array``, cast to float64 like every floating constant) and
    return the root's value as a float. Each node is re-run on a copy of itself,
    so the graph is unchanged."""
    out: dict[tuple[int, int], Any] = {}
    with no_grad():
        for node in g.nodes:
            kept = node._input_values
            if kept is None and node.inputs is not None:
                kept = tuple(t._array for t in node.inputs)
            args = []
            for k, e in enumerate(node.next_edges or ()):
                if e is None:
                    assert kept is not None  # callers check replayable(g) first
                    a = kept[k]
                elif e[1] < 0:
                    a = leaf_values[id(e[0])]
                else:
                    a = out[(id(e[0]), e[1])]
                if isinstance(a, np.ndarray) and a.dtype.kind == "f":
                    a = a.astype(np.float64)
                args.append(a)
            if node.name == "Cast" and args[0].dtype.kind == "f":
                ys = args[0]  # a float cast would throw away float64's digits
            else:
                ys = copy.copy(node).forward(*args)
            ys = ys if isinstance(ys, tuple) else (ys,)
            for i, y in enumerate(ys):
                out[(id(node), i)] = y
    return float(np.asarray(out[(id(g.root._node), g.root._index)]).sum())
