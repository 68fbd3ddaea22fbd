"""The package's shape: imports run one way, files stay short, Functions say what they are.

These tests read the source with :mod:`ast`; nothing is imported, so an
optional dependency missing on the machine changes nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PKG = SRC / "tapegrad"
MAX_LINES = 700


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, inside functions too, except under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.orelse:  # the else branch does run
                    visit_stmt(sub)
                continue
            visit_stmt(child)

    def visit_stmt(child: ast.AST) -> None:
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            found.append(child)
        visit(child)

    visit(tree)
    return found


def _resolve(node: ast.ImportFrom, module: str, is_pkg: bool) -> str:
    """The absolute name of the module a ``from ... import`` reads from."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    # A package's own module name is its package; a plain module's package is its parent.
    base = base if is_pkg else base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    """Module -> the tapegrad modules it imports (``from .a import b`` is a.b if a module)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_pkg = path.name == "__init__.py"
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                src = _resolve(node, mod, is_pkg)
                targets = []
                for a in node.names:
                    sub = f"{src}.{a.name}"
                    targets.append(sub if sub in mods else src)
            for t in targets:
                # ``import tapegrad.nn.functional`` names a module; a name inside one
                # that is not a module maps to the longest module prefix.
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t.startswith("tapegrad") and t != mod:
                    graph[mod].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of modules (first == last), or None."""
    colour: dict[str, int] = {}  # 1: on the current path, 2: finished
    for start in sorted(graph):
        if start in colour:
            continue
        path = [start]
        colour[start] = 1
        stack = [iter(sorted(graph[start]))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = 2
                stack.pop()
                continue
            state = colour.get(nxt)
            if state == 1:
                return path[path.index(nxt) :] + [nxt]
            if state is None:
                colour[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_find_cycle_reports_a_cycle():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    cyc = find_cycle(g)
    assert cyc is not None and cyc[0] == cyc[-1] and set(cyc) == {"a", "b", "c"}
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_import_graph_reads_relative_and_function_imports():
    graph = import_graph()
    # the engine imports the un-broadcast helper of its own package
    assert "tapegrad.autograd.broadcast" in graph["tapegrad.autograd.engine"]
    # ``from . import reduce as _red`` is an edge to the module, not the package
    assert "tapegrad.ops.reduce" in graph["tapegrad.ops.loss"]
    assert "tapegrad.ops" not in graph["tapegrad.ops.loss"]


def test_no_import_cycle():
    cyc = find_cycle(import_graph())
    assert cyc is None, "import cycle: " + " -> ".join(cyc or [])


def test_no_source_file_over_700_lines():
    long = {}
    for path in sorted(PKG.rglob("*.py")):
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > MAX_LINES:
            long[str(path.relative_to(SRC))] = n
    assert not long, f"source files over {MAX_LINES} lines (split them by concept): {long}"


def function_subclasses() -> dict[str, str]:
    """Every class of the package that derives from ``Function`` -> its module.

    Bases are matched by their last name (``Function``, ``ops.SomeFunction``),
    to a fixed point, so subclasses of subclasses count too.
    """
    classes: list[tuple[str, str, list[str]]] = []
    for mod, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = []
                for b in node.bases:
                    if isinstance(b, ast.Name):
                        bases.append(b.id)
                    elif isinstance(b, ast.Attribute):
                        bases.append(b.attr)
                classes.append((node.name, mod, bases))
    derived = {"Function"}
    out: dict[str, str] = {}
    changed = True
    while changed:
        changed = False
        for name, mod, bases in classes:
            key = f"{mod}.{name}"
            if key not in out and any(b in derived for b in bases):
                if not (name == "Function" and mod == "tapegrad.autograd.function"):
                    out[key] = mod
                    derived.add(name)
                    changed = True
    return out


def test_function_subclasses_are_named_function():
    subs = function_subclasses()
    assert "tapegrad.ops.linalg.MatMulFunction" in subs  # the scan sees real ops
    bad = sorted(k for k in subs if not k.rpartition(".")[2].endswith("Function"))
    assert not bad, f"Function subclasses must be named <Op>Function: {bad}"
