"""DOT and Mermaid exports of an MLP loss and a conv net: every op once, every edge,
parameter names, valid syntax (DOT drawn by Graphviz's ``dot`` where installed)."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tapegrad import explain


def _mlp_loss():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = tg.tensor(np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32))
    loss = F.cross_entropy(model(x), tg.tensor([0, 1, 2, 1, 0]))
    return loss, dict(model.named_parameters())


def _conv_out():
    tg.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 2)
    )
    x = tg.tensor(np.random.default_rng(1).normal(size=(2, 1, 4, 4)).astype(np.float32))
    return model(x).sum(), dict(model.named_parameters())


def _reference_graph(t):
    """Op names (as a multiset) and op->op / leaf->op edges, walked here through the
    public grad_fn / next_edges, independently of the exporter."""
    ops, edges, seen, stack = Counter(), set(), set(), [t.grad_fn]
    leaf_edges = []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        ops[node.name.lstrip("_")] += 1
        for e in node.next_edges:
            if e is None:
                continue
            if e[1] < 0:
                leaf_edges.append((id(e[0]), node.name.lstrip("_")))
            else:
                edges.add((e[0].name.lstrip("_"), node.name.lstrip("_")))
                stack.append(e[0])
    return ops, edges, leaf_edges


def _parse_dot(text):
    nodes = dict(re.findall(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)"', text, re.M))
    edges = re.findall(r'^  (\w+) -> (\w+) \[label="([^"]*)"\];$', text, re.M)
    return nodes, edges


def _parse_mermaid(text):
    lines = text.strip().split("\n")
    assert lines[0] == "flowchart TB"
    nodes, edges = {}, []
    for line in lines[1:]:
        if m := re.fullmatch(r'  (\w+)(?:\["([^"]*)"\]|\("([^"]*)"\))', line):
            nodes[m[1]] = m[2] if m[2] is not None else m[3]
        elif m := re.fullmatch(r'  (\w+) -->\|"([^"]*)"\| (\w+)', line):
            edges.append((m[1], m[3], m[2]))
        else:
            assert re.fullmatch(r"  (classDef \w+ .+|class [\w,]+ \w+)", line), line
    return nodes, edges


@pytest.mark.parametrize("make", [_mlp_loss, _conv_out], ids=["mlp", "conv"])
def test_dot_and_mermaid_structure(make):
    t, params = make()
    ops, op_edges, leaf_edges = _reference_graph(t)
    for fmt, (nodes, edges) in (
        ("dot", _parse_dot(explain.to_dot(t, params))),
        ("mermaid", _parse_mermaid(explain.to_mermaid(t, params))),
    ):
        sep = "\\n" if fmt == "dot" else "<br/>"
        first = {k: v.split(sep)[0] for k, v in nodes.items()}
        op_ids = [k for k in nodes if k.startswith("op")]
        assert Counter(first[k] for k in op_ids) == ops, fmt  # every op exactly once
        assert len(nodes) == len(op_ids) + len({a for a, _ in leaf_edges}) + 1, fmt
        for a, b, shp in edges:
            assert a in nodes and b in nodes, (fmt, a, b)
            if a.startswith("op"):  # an op's node shows the shape it sends along
                assert nodes[a].split(sep)[1] == shp, (fmt, nodes[a], shp)
        got_op_edges = {(first[a], first[b]) for a, b, _ in edges if a.startswith("op")}
        assert got_op_edges - {(first[a], "output") for a in op_ids} == op_edges, fmt
        n_leaf_edges = sum(1 for a, _, _ in edges if a.startswith("leaf"))
        assert n_leaf_edges == len(leaf_edges), fmt
        for name, p in params.items():
            leaf = [k for k, v in first.items() if v == name]
            assert len(leaf) == 1, (fmt, name)
            assert str(tuple(p.shape)) in nodes[leaf[0]], (fmt, name)
        assert first["output"] == "output"
    # every reference edge (with multiplicity) appears in the DOT text
    nodes, edges = _parse_dot(explain.to_dot(t, params))
    first = {k: v.split("\\n")[0] for k, v in nodes.items()}
    ref_multi = Counter()
    stack, seen = [t.grad_fn], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for e in node.next_edges:
            if e is not None and e[1] >= 0:
                ref_multi[(e[0].name.lstrip("_"), node.name.lstrip("_"))] += 1
                stack.append(e[0])
    got = Counter((first[a], first[b]) for a, b, _ in edges if a.startswith("op") and b != "output")
    assert got == ref_multi


def test_values_and_grads_in_labels():
    w = tg.tensor([0.5, -1.0], requires_grad=True)
    with explain.recording():
        loss = (tg.sigmoid(w) * 2).sum()
    loss.backward(retain_graph=True)
    dot = explain.to_dot(loss, {"w": w}, values=True, grads=True)
    s = 1 / (1 + np.exp(-np.array([0.5, -1.0])))
    assert f"value [{s[0]:.4g}, {s[1]:.4g}]" in dot
    g = 2 * s * (1 - s)
    assert f"grad [{g[0]:.4g}, {g[1]:.4g}]" in dot
    assert "grad [" in explain.to_mermaid(loss, {"w": w}, grads=True)


@pytest.mark.parametrize("make", [_mlp_loss, _conv_out], ids=["mlp", "conv"])
@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_render_with_dot(make, suffix, tmp_path):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (apt-get install graphviz)")
    t, params = make()
    path = explain.render(t, tmp_path / ("g" + suffix), params)
    data = path.read_bytes()
    if suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        root = ET.fromstring(data)
        titles = [e.text for e in root.iter("{http://www.w3.org/2000/svg}title")]
        ops, _, _ = _reference_graph(t)
        assert sum(1 for x in titles if x.startswith("op") and "->" not in x) == sum(ops.values())
        assert "weight" in data.decode()
    assert [p.name for p in tmp_path.iterdir()] == ["g" + suffix]


def test_render_errors(tmp_path, monkeypatch):
    t, _ = _mlp_loss()
    with pytest.raises(ValueError, match=r"\.svg, \.png or \.pdf"):
        explain.render(t, tmp_path / "g.jpg")
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on this PATH
    with pytest.raises(RuntimeError, match="not installed"):
        explain.render(t, tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()
