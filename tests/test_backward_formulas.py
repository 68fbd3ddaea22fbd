"""Each op has one backward formula.

A fused op's backward is written once against an array namespace
(``tapegrad.ops.namespace``) and runs on arrays or on Tensors. An op that
carries a second formula shows it in one of two ways, and both are caught
here by reading the source:

- a method of a Function besides ``backward`` named for a backward
  (``_backward_arrays``, ``_backward_graph``, ``backward_rows`` ...);
- code that branches on the grad mode (``state.enabled``,
  ``is_grad_enabled()``) to choose between a formula on arrays and one in
  Tensor ops. Outside the autograd core the grad mode may be read only where a
  forward decides what to keep, listed below with the reason.

The functional side (the formula gives PyTorch's first and second
derivatives on both paths) is in test_ops_*.py and test_second_order.py.
"""

from __future__ import annotations

import ast

import numpy as np

import tapegrad as tg
from tapegrad.ops.namespace import ARRAYS, TENSORS, ArrayNamespace, TensorNamespace
from test_architecture import PKG, SRC, _modules, function_subclasses

# (module, enclosing function) -> why reading the grad mode there is not a second formula.
GRAD_MODE_READS = {
    ("tapegrad.ops.namespace", "namespace"): "the one place that picks arrays or Tensors",
    ("tapegrad.ops.pooling", "max_pool2d"): "forward keeps argmax indices only if needed",
    ("tapegrad.ops.convolution", "forward"): "forward keeps im2col columns for backward",
    ("tapegrad.nn.backward_hook", "setup_input_hook"): "no hook node when nothing records",
    ("tapegrad.nn.backward_hook", "setup_output_hook"): "no hook node when nothing records",
    ("tapegrad.tensor_methods", "keep"): "retain_grad keeps a graph only under create_graph",
    ("tapegrad.ops.inplace", "_check_target"): "in-place on a leaf that requires grad raises",
    ("tapegrad.ops.inplace", "apply_inplace"): "an in-place op records a node only with grad on",
    ("tapegrad.ops.inplace", "refresh_view"): "a stale view rejoins its base's graph with grad on",
    ("tapegrad.optim.optimizer", "step"): "an optimizer step runs without a graph",
}


def _reads_grad_mode(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute) and node.attr == "enabled":
        v = node.value
        return isinstance(v, ast.Name) and v.id in ("state", "_grad_state")
    if isinstance(node, ast.Call):
        f = node.func
        name = f.id if isinstance(f, ast.Name) else getattr(f, "attr", "")
        return name == "is_grad_enabled"
    return False


def grad_mode_reads() -> dict[tuple[str, str], int]:
    """(module, innermost enclosing function) -> number of grad-mode reads, outside autograd."""
    found: dict[tuple[str, str], int] = {}
    for mod, path in _modules().items():
        if mod.startswith("tapegrad.autograd"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))

        def visit(node: ast.AST, where: str, mod: str = mod) -> None:
            for child in ast.iter_child_nodes(node):
                inner = where
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    inner = child.name
                if _reads_grad_mode(child):
                    found[(mod, inner)] = found.get((mod, inner), 0) + 1
                visit(child, inner)

        visit(tree, "<module>")
    return found


def test_grad_mode_is_read_only_where_a_forward_decides_what_to_keep():
    reads = grad_mode_reads()
    unexpected = sorted(set(reads) - set(GRAD_MODE_READS))
    assert not unexpected, (
        "these read the grad mode, as a backward with one formula on arrays and another "
        "in Tensor ops does; write the formula once against tapegrad.ops.namespace "
        f"(or, for a forward-side decision, add it to GRAD_MODE_READS with why): {unexpected}"
    )
    stale = sorted(set(GRAD_MODE_READS) - set(reads))
    assert not stale, f"GRAD_MODE_READS lists places that no longer read it: {stale}"


def _class_methods() -> dict[str, list[str]]:
    subs = function_subclasses()
    out: dict[str, list[str]] = {}
    for mod, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and f"{mod}.{node.name}" in subs:
                out[f"{mod}.{node.name}"] = [
                    f.name for f in node.body if isinstance(f, ast.FunctionDef)
                ]
    return out


def test_no_function_carries_a_second_backward_method():
    methods = _class_methods()
    assert "tapegrad.ops.norm.NormalizeFunction" in methods  # the scan sees the ops
    extra = sorted(
        f"{cls}.{m}"
        for cls, names in methods.items()
        for m in names
        if "backward" in m.lower() and m != "backward"
    )
    assert not extra, f"second backward formulas (fold them into backward): {extra}"


def test_the_scan_catches_a_branch_on_grad_mode():
    """The detector itself: a backward that branches on the mode is seen."""
    src = (
        "from ..autograd.grad_mode import state\n"
        "class TwoWayFunction(Function):\n"
        "    def backward(self, gy):\n"
        "        if state.enabled:\n"
        "            return gy * 2\n"
        "        return _wrap(gy._array * 2)\n"
    )
    tree = ast.parse(src)
    assert any(_reads_grad_mode(n) for n in ast.walk(tree))
    assert PKG.is_dir() and SRC.is_dir()


def test_tensor_namespace_overrides_every_array_function():
    """A function only ArrayNamespace has would run NumPy on Tensors and lose the graph."""
    names = [n for n in vars(ArrayNamespace) if not n.startswith("_")]
    missing = sorted(n for n in names if n not in vars(TensorNamespace))
    assert not missing, f"TensorNamespace lacks {missing}"


def test_both_namespaces_compute_the_same_values_and_the_tensor_one_records():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4))
    b = rng.standard_normal((4, 2))
    mask = a > 0
    cases = {
        "exp": lambda F, x: F.exp(x),
        "log": lambda F, x: F.log(x * x + 1.0),
        "log1p": lambda F, x: F.log1p(x * x),
        "tanh": lambda F, x: F.tanh(x),
        "sigmoid": lambda F, x: F.sigmoid(x),
        "softplus": lambda F, x: F.softplus(x),
        "rsqrt": lambda F, x: F.rsqrt(x * x + 1.0),
        "clamp_min": lambda F, x: F.clamp_min(x, 0.1),
        "where": lambda F, x: F.where(mask, x, 2.0 * x),
        "sum": lambda F, x: F.sum(x, (0,), True),
        "mean": lambda F, x: F.mean(x, 1),
        "prod": lambda F, x: F.prod(x, 1, True),
        "reshape": lambda F, x: F.reshape(x, (4, 3)),
        "broadcast_to": lambda F, x: F.broadcast_to(F.sum(x, 0, True), (3, 4)),
        "mT": lambda F, x: F.mT(x),
        "cat": lambda F, x: F.cat([x, 2.0 * x], 1),
        "split": lambda F, x: F.split(x, [1, 3], 1)[1],
        "split, negative axis": lambda F, x: F.split(x, [2, 1, 1], -1)[0],
        "stack": lambda F, x: F.stack([x, 2.0 * x], 1),
        "unbind": lambda F, x: F.unbind(x, 1)[2],
        "matmul": lambda F, x: F.matmul(x, F.const(b)),
        "softmax": lambda F, x: F.softmax(x, 1),
    }
    for name, f in cases.items():
        want = f(ARRAYS, a)
        t = tg.tensor(a, requires_grad=True)
        got = f(TENSORS, t)
        np.testing.assert_allclose(got._array, want, rtol=1e-12, atol=1e-15, err_msg=name)
        assert got.requires_grad and got.grad_fn is not None, f"{name} recorded no graph"
