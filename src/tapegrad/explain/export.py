"""The graph behind a tensor as Graphviz DOT or a Mermaid flowchart, and drawn to a file.

Both drawings show the forward flow, top to bottom: leaf tensors (boxes, named
by ``params`` where a Module owns them, with their shapes), one node per op
(rounded, with its output shape), and the output tensor; each edge carries the
shape of the tensor that flows along it. ``values=True`` adds the forward
values the graph kept, ``grads=True`` the leaves' ``.grad``.

Mermaid is what GitHub renders inside Markdown (and what the backpropagation
tutorial draws its flow in); DOT is drawn by Graphviz's ``dot`` program, which
:func:`render` calls to write SVG, PNG or PDF.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .._atomic import atomic_path
from ..tensor import Tensor
from .format import fmt_array
from .graph import op_name, walk


@dataclass
class _Item:
    """One drawn node: id, lines of its label, kind (``leaf``, ``op``, ``output``)."""

    id: str
    lines: list[str]
    kind: str


def _items(
    tensor: Tensor, params: Mapping[str, Tensor] | None, values: bool, grads: bool
) -> tuple[list[_Item], list[tuple[str, str, str]]]:
    """Nodes and ``(source id, target id, shape label)`` edges of the drawing."""
    g = walk(tensor, params)
    ids: dict[int, str] = {}
    items: list[_Item] = []
    for j, leaf in enumerate(g.leaves):
        ids[id(leaf)] = f"leaf{j}"
        lines = [g.labels[id(leaf)], str(tuple(leaf.shape))]
        if values:
            lines.append("value " + fmt_array(leaf._array))
        if grads and leaf.grad is not None:
            lines.append("grad " + fmt_array(leaf.grad._array))
        items.append(_Item(f"leaf{j}", lines, "leaf"))
    edges: list[tuple[str, str, str]] = []
    for j, node in enumerate(g.nodes):
        nid = f"op{j}"
        ids[id(node)] = nid
        shapes = [str(g.out_shape(node, i)) for i in range(node.n_outputs)]
        lines = [op_name(node), " ".join(shapes)]
        if values:
            v = g.values.get((id(node), 0))
            if v is not None and node.n_outputs == 1:
                lines.append("value " + fmt_array(v))
        items.append(_Item(nid, lines, "op"))
        for e, shp in zip(node.next_edges or (), node.in_shapes):
            if e is not None:
                edges.append((ids[id(e[0])], nid, str(tuple(shp))))
    root = g.root
    items.append(_Item("output", ["output", str(tuple(root.shape))], "output"))
    edges.append((ids[id(root._node)], "output", str(tuple(root.shape))))
    return items, edges


def _dot_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


_DOT_STYLE = {
    "leaf": 'shape=box, style="filled", fillcolor="#dbe9f6"',
    "op": 'shape=box, style="rounded,filled", fillcolor="#f2f2f2"',
    "output": 'shape=box, style="filled", fillcolor="#d9f2d0"',
}


def to_dot(
    tensor: Tensor,
    params: Mapping[str, Tensor] | None = None,
    *,
    values: bool = False,
    grads: bool = False,
) -> str:
    """The graph behind ``tensor`` as Graphviz DOT text (``digraph tapegrad {...}``).

    ``params``: ``name -> tensor`` (``dict(model.named_parameters())``) to name
    leaves; ``values``/``grads``: add forward values / leaves' ``.grad``.
    """
    items, edges = _items(tensor, params, values, grads)
    out = [
        "digraph tapegrad {",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for it in items:
        label = "\\n".join(s.replace("\\", "\\\\").replace('"', '\\"') for s in it.lines)
        out.append(f'  {it.id} [label="{label}", {_DOT_STYLE[it.kind]}];')
    for a, b, shp in edges:
        out.append(f"  {a} -> {b} [label={_dot_str(shp)}];")
    out.append("}")
    return "\n".join(out) + "\n"


def _mm_str(s: str) -> str:
    return s.replace('"', "#quot;")


def to_mermaid(
    tensor: Tensor,
    params: Mapping[str, Tensor] | None = None,
    *,
    values: bool = False,
    grads: bool = False,
) -> str:
    """The graph behind ``tensor`` as a Mermaid flowchart (``flowchart TB``), which
    GitHub renders in a fenced ``mermaid`` block. Arguments as for :func:`to_dot`."""
    items, edges = _items(tensor, params, values, grads)
    out = ["flowchart TB"]
    for it in items:
        text = "<br/>".join(_mm_str(s) for s in it.lines)
        if it.kind == "op":
            out.append(f'  {it.id}("{text}")')
        else:
            out.append(f'  {it.id}["{text}"]')
    for a, b, shp in edges:
        out.append(f'  {a} -->|"{_mm_str(shp)}"| {b}')
    out.append("  classDef leaf fill:#dbe9f6,stroke:#4a7ab0")
    out.append("  classDef out fill:#d9f2d0,stroke:#4a9a3a")
    leaves = ",".join(it.id for it in items if it.kind == "leaf")
    if leaves:
        out.append(f"  class {leaves} leaf")
    out.append("  class output out")
    return "\n".join(out) + "\n"


def dot_available() -> str | None:
    """Path of Graphviz's ``dot`` program, or None when it is not installed."""
    return shutil.which("dot")


def render(
    tensor: Tensor,
    path: str | os.PathLike[str],
    params: Mapping[str, Tensor] | None = None,
    *,
    values: bool = False,
    grads: bool = False,
) -> Path:
    """Draw the graph behind ``tensor`` into ``path`` (``.svg``, ``.png`` or ``.pdf``)
    with Graphviz's ``dot``; returns the path. The file appears whole or not at all.

    Raises:
        RuntimeError: ``dot`` is not installed (the message says how to get it).
        ValueError: the suffix is not one of the three.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"render: {path.name!r} should end in .svg, .png or .pdf")
    dot = dot_available()
    if dot is None:
        raise RuntimeError(
            "render needs Graphviz's `dot` program, which is not installed "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz); "
            "to_dot() and to_mermaid() work without it"
        )
    text = to_dot(tensor, params, values=values, grads=grads)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"render: folder {str(path.parent)!r} does not exist")
    with atomic_path(path) as tmp:
        proc = subprocess.run(
            [dot, f"-T{fmt}", "-o", str(tmp)], input=text.encode(), capture_output=True
        )
        if proc.returncode != 0:
            raise RuntimeError(f"dot failed: {proc.stderr.decode(errors='replace').strip()}")
    return path
