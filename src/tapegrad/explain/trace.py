"""Chain-rule traces: every forward value and every backward step behind a scalar.

``trace(loss)`` walks the graph behind a scalar tensor. The forward part lists
each node in forward order (op, inputs, shape, value). The backward part walks
the nodes from the output to the leaves, as the engine does, and shows for each
node the upstream gradient, then either the local derivative (for elementwise
ops: gradient = upstream x local) or the vector-Jacobian product the op computes
(matmul, convolution, reductions, reshapes, ...), and the gradients it sends to
its inputs. Each leaf's gradient is then checked twice: against tapegrad's
autograd (``tapegrad.grad``) and against central finite differences in float64
on up to ``samples`` elements per leaf.

Forward values are complete when the graph was built inside
:func:`~tapegrad.explain.recording` (or when ``trace`` is given a function,
which it calls inside it); otherwise a value the graph did not keep is shown as
``not kept`` and the finite-difference check says why it was not run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd.functional import grad as autograd_grad
from ..autograd.grad_mode import no_grad
from ..ops.shape import sum_to
from ..tensor import Tensor, _wrap
from .format import fmt_array, md_table
from .graph import ELEMENTWISE, Graph, op_name, recording, replay, replayable, walk


@dataclass
class ForwardEntry:
    """One forward value: a leaf (``op`` is ``"leaf"``) or an op node's output."""

    label: str
    op: str
    inputs: list[str]
    shape: tuple[int, ...]
    value: np.ndarray | None


@dataclass
class BackwardEntry:
    """One node's backward step: ``upstream`` (gradient of each output),
    ``local`` (per input: the elementwise local derivative, or None where the op's
    VJP is shown instead) and ``results`` (per input: the gradient sent, or None)."""

    label: str
    op: str
    inputs: list[str]
    upstream: list[np.ndarray | None]
    local: list[np.ndarray | None]
    results: list[np.ndarray | None]

    @property
    def elementwise(self) -> bool:
        """Whether the step has an elementwise local derivative to show."""
        return any(v is not None for v in self.local)


@dataclass
class LeafCheck:
    """A leaf's gradient and its two checks (largest absolute differences)."""

    label: str
    shape: tuple[int, ...]
    grad: np.ndarray
    autograd_diff: float
    autograd_ok: bool
    fd_diff: float | None
    fd_ok: bool | None
    fd_samples: int
    fd_note: str = ""

    @property
    def ok(self) -> bool:
        """Whether autograd agrees and central differences do not disagree."""
        return self.autograd_ok and self.fd_ok is not False


@dataclass
class Trace:
    """What :func:`trace` returns. ``grads`` maps each leaf label to its gradient."""

    output: float
    forward: list[ForwardEntry]
    backward: list[BackwardEntry]
    checks: list[LeafCheck]
    precision: int = 4
    max_elements: int = 8
    grads: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every leaf gradient passed every check that was run."""
        return all(c.ok for c in self.checks)

    def _f(self, a: Any) -> str:
        return fmt_array(a, self.precision, self.max_elements)

    def _header(self) -> str:
        return (
            f"Chain-rule trace of a scalar output = {self._f(self.output)} "
            f"(numbers to {self.precision} significant digits; tensors of more than "
            f"{self.max_elements} elements summarised)"
        )

    def _backward_lines(self, e: BackwardEntry) -> list[str]:
        """The step's text: one line per input that receives a gradient."""
        up = " ".join(self._f(u) for u in e.upstream if u is not None)
        lines = [f"upstream dL/d{e.label} = {up}"]
        for k, (inp, loc, res) in enumerate(zip(e.inputs, e.local, e.results)):
            if res is None:
                continue
            if loc is not None:
                lines.append(
                    f"local d{e.label}/d{inp} = {self._f(loc)}; "
                    f"dL/d{inp} = upstream * local = {self._f(res)}"
                )
            else:
                lines.append(f"VJP of {e.op} for input {k} -> dL/d{inp} = {self._f(res)}")
        return lines

    def _check_text(self, c: LeafCheck) -> tuple[str, str]:
        ag = f"max |diff| {c.autograd_diff:.1e} ({'ok' if c.autograd_ok else 'MISMATCH'})"
        if c.fd_diff is None:
            fd = f"not run: {c.fd_note}"
        else:
            fd = (
                f"{c.fd_samples} of {int(np.prod(c.shape))} elements, max |diff| "
                f"{c.fd_diff:.1e} ({'ok' if c.fd_ok else 'MISMATCH'})"
            )
        return ag, fd

    def to_text(self) -> str:
        """The trace for a terminal: forward pass, backward pass, leaf checks."""
        out = [self._header(), "", "Forward pass (forward order)"]
        for e in self.forward:
            args = f"({', '.join(e.inputs)})" if e.inputs else ""
            val = "not kept" if e.value is None else self._f(e.value)
            out.append(f"  {e.label:>6} = {e.op}{args}  shape {e.shape}  value {val}")
        out += ["", "Backward pass (chain rule, output to leaves)"]
        for b in self.backward:
            lines = self._backward_lines(b)
            out.append(f"  {b.label:>6} {b.op}: {lines[0]}")
            out += [f"  {'':>6}   {line}" for line in lines[1:]]
        out += ["", "Leaf gradients (checked against autograd and central differences, float64)"]
        for c in self.checks:
            ag, fd = self._check_text(c)
            out.append(f"  {c.label} {c.shape}: dL/d{c.label} = {self._f(c.grad)}")
            out.append(f"      autograd: {ag}; finite differences: {fd}")
        out.append("")
        out.append("All checks passed." if self.ok else "SOME CHECKS FAILED.")
        return "\n".join(out)

    def to_markdown(self) -> str:
        """The trace as Markdown: a header and three tables."""
        rows = [
            [
                f"`{e.label}`",
                e.op,
                ", ".join(f"`{i}`" for i in e.inputs),
                str(e.shape),
                "not kept" if e.value is None else self._f(e.value),
            ]
            for e in self.forward
        ]
        out = [f"**{self._header()}**", "", "### Forward pass", ""]
        out += md_table(["node", "op", "inputs", "shape", "value"], rows)
        out += ["", "### Backward pass", ""]
        rows = []
        for e in self.backward:
            lines = self._backward_lines(e)
            rows.append([f"`{e.label}`", e.op, lines[0], "<br>".join(lines[1:])])
        out += md_table(["node", "op", "upstream", "to the inputs"], rows)
        out += ["", "### Leaf gradients", ""]
        rows = []
        for c in self.checks:
            ag, fd = self._check_text(c)
            rows.append([f"`{c.label}`", str(c.shape), self._f(c.grad), ag, fd])
        out += md_table(["leaf", "shape", "gradient", "vs autograd", "vs finite differences"], rows)
        out += ["", "All checks passed." if self.ok else "**Some checks failed.**"]
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()


def _tolerances(dtype: Any) -> tuple[float, float]:
    """(rtol, atol as a fraction of the gradient's largest magnitude) for the checks."""
    return (1e-6, 1e-7) if np.dtype(dtype) == np.float64 else (2e-3, 1e-4)


def _walk_backward(g: Graph) -> tuple[list[BackwardEntry], dict[int, np.ndarray]]:
    """Backward steps in backward order and ``id(leaf) -> gradient``."""
    grads: dict[int, list[Any]] = {}
    root = g.root
    assert root._node is not None  # a Graph's root has a node
    grads[id(root._node)] = [None] * root._node.n_outputs
    grads[id(root._node)][root._index] = _wrap(np.ones_like(root._array))
    leaf_grads: dict[int, Any] = {}
    steps = []
    with no_grad():
        for node in reversed(g.nodes):
            slot = grads.pop(id(node), None)
            if slot is None:
                continue
            gys = [
                s if s is not None else _wrap(np.zeros(g.out_shape(node, i), g.root.dtype))
                for i, s in enumerate(slot)
            ]
            gxs = node.backward(*gys)
            gxs = gxs if isinstance(gxs, tuple) else (gxs,)
            local: list[np.ndarray | None] = [None] * len(gxs)
            out_shape = g.out_shape(node, 0)
            if node.name in ELEMENTWISE and node.n_outputs == 1:
                ones = node.backward(_wrap(np.ones(out_shape, gys[0].dtype)))
                ones = ones if isinstance(ones, tuple) else (ones,)
                for k, (o, shp) in enumerate(zip(ones, node.in_shapes)):
                    if o is not None and tuple(shp) == out_shape and o.shape == out_shape:
                        local[k] = np.array(o._array)
            results: list[np.ndarray | None] = []
            for e, shp, gx, need in zip(
                node.next_edges or (), node.in_shapes, gxs, node.needs_input_grad
            ):
                if e is None or gx is None or not need:
                    results.append(None)
                    continue
                if gx.shape != tuple(shp):
                    gx = sum_to(gx, shp)
                results.append(np.array(gx._array))
                src, i = e
                if i < 0:
                    prev = leaf_grads.get(id(src))
                    leaf_grads[id(src)] = gx._array if prev is None else prev + gx._array
                else:
                    s = grads.setdefault(id(src), [None] * src.n_outputs)
                    s[i] = gx if s[i] is None else s[i] + gx
            steps.append(
                BackwardEntry(
                    label=g.labels[id(node)],
                    op=op_name(node),
                    inputs=[g.input_label(node, k) for k in range(len(node.next_edges or ()))],
                    upstream=[None if s is None else np.array(s._array) for s in slot],
                    local=local,
                    results=results,
                )
            )
    return steps, leaf_grads


def _forward_entries(g: Graph) -> list[ForwardEntry]:
    out = [
        ForwardEntry(g.labels[id(t)], "leaf", [], tuple(t.shape), np.array(t._array))
        for t in g.leaves
    ]
    for node in g.nodes:
        for i in range(node.n_outputs):
            lab = g.labels[id(node)] + (f"[{i}]" if node.n_outputs > 1 else "")
            v = g.values.get((id(node), i))
            out.append(
                ForwardEntry(
                    lab,
                    op_name(node),
                    [g.input_label(node, k) for k in range(len(node.next_edges or ()))],
                    g.out_shape(node, i),
                    None if v is None else np.array(v),
                )
            )
    return out


def _fd_check(
    g: Graph, leaf: Tensor, grad: np.ndarray, samples: int, eps: float, rng: Any
) -> tuple[float, int]:
    """Largest |central difference - grad| over up to ``samples`` elements of ``leaf``."""
    base = {id(t): np.array(t._array, dtype=np.float64) for t in g.leaves}
    flat = base[id(leaf)].reshape(-1)
    n = flat.size
    idx = rng.choice(n, size=min(n, samples), replace=False)
    worst = 0.0
    for j in idx:
        old = flat[j]
        flat[j] = old + eps
        fp = replay(g, base)
        flat[j] = old - eps
        fm = replay(g, base)
        flat[j] = old
        worst = max(worst, abs((fp - fm) / (2 * eps) - float(grad.reshape(-1)[j])))
    return worst, len(idx)


def trace(
    output: Tensor | Callable[[], Tensor],
    inputs: Sequence[Tensor] | None = None,
    *,
    params: Mapping[str, Tensor] | None = None,
    samples: int = 20,
    eps: float = 1e-6,
    precision: int = 4,
    max_elements: int = 8,
    seed: int = 0,
) -> Trace:
    """Trace the chain rule from a scalar ``output`` back to its leaves.

    Args:
        output: a scalar Tensor with a graph, or a function of no arguments that
            returns one (it is called inside :func:`recording`, so every forward
            value is shown and the finite-difference check can run).
        inputs: the leaf tensors whose gradients are checked; default every leaf
            that requires grad.
        params: ``name -> tensor`` (e.g. ``dict(model.named_parameters())``) to
            name leaves.
        samples: elements per leaf checked by central differences (step ``eps``,
            float64).
        precision: significant digits printed; ``max_elements``: tensors larger
            than this are summarised (shape, mean, std, min, max).
        seed: chooses the sampled elements.

    Returns:
        a :class:`Trace`; ``Trace.grads`` maps leaf labels to gradients.
    """
    if callable(output) and not isinstance(output, Tensor):
        with recording():
            output = output()
    if not isinstance(output, Tensor) or output.numel() != 1:
        shape = getattr(output, "shape", None)
        raise ValueError(f"trace needs a scalar (one-element) Tensor, got shape {shape}")
    if output.dtype.kind != "f":
        raise ValueError(f"trace needs a floating output, got {output.dtype}")
    g = walk(output, params)
    leaves = list(inputs) if inputs is not None else list(g.leaves)
    for t in leaves:
        if not isinstance(t, Tensor) or t.grad_fn is not None or id(t) not in g.labels:
            raise ValueError(
                "trace: every tensor in inputs must be a leaf of the output's graph "
                f"(got {'a non-leaf' if isinstance(t, Tensor) else type(t).__name__})"
            )
    forward = _forward_entries(g)
    steps, leaf_grads = _walk_backward(g)
    ag = autograd_grad(output, leaves, retain_graph=True, allow_unused=True)
    why_no_fd = replayable(g)
    rng = np.random.default_rng(seed)
    checks = []
    for t, a in zip(leaves, ag):
        mine = leaf_grads.get(id(t))
        mine = np.zeros(t.shape, t.dtype) if mine is None else np.asarray(mine)
        ref = np.zeros(t.shape, t.dtype) if a is None else np.asarray(a.data)
        rtol, atol = _tolerances(t.dtype)
        scale = float(np.abs(ref).max()) if ref.size else 0.0
        tol = atol * max(scale, 1.0)
        ag_diff = float(np.abs(mine - ref).max()) if ref.size else 0.0
        ag_ok = bool(np.allclose(mine, ref, rtol=rtol, atol=tol))
        fd_diff: float | None = None
        fd_ok: bool | None = None
        n_fd = 0
        if why_no_fd is None and samples > 0 and t.numel() > 0:
            fd_diff, n_fd = _fd_check(g, t, mine, samples, eps, rng)
            # central differences in float64 are good to about eps^2 + 1e-16/eps
            fd_ok = fd_diff <= max(rtol, 1e-5) * max(scale, 1.0) + tol
        checks.append(
            LeafCheck(
                g.labels[id(t)],
                tuple(t.shape),
                mine,
                ag_diff,
                ag_ok,
                fd_diff,
                fd_ok,
                n_fd,
                fd_note=why_no_fd or ("samples=0" if samples <= 0 else ""),
            )
        )
    return Trace(
        output=float(output._array.reshape(-1)[0]),
        forward=forward,
        backward=steps,
        checks=checks,
        precision=precision,
        max_elements=max_elements,
        grads={c.label: c.grad for c in checks},
    )
