"""Every public function of tapegrad has a docstring and full type hints.

Public means a function or method whose name does not start with ``_``, defined
at module level or in a class whose name does not start with ``_`` (nested
classes included). Full hints: every parameter but a method's ``self`` or
``cls`` is annotated, ``*args`` and ``**kwargs`` too, and so is the return.
``@overload`` signatures are exempt from the docstring: the implementation
below them carries it.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "tapegrad"


def _is_overload(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for d in fn.decorator_list:
        name = d.attr if isinstance(d, ast.Attribute) else getattr(d, "id", None)
        if name == "overload":
            return True
    return False


def _missing_hints(fn: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> list[str]:
    a = fn.args
    params = a.posonlyargs + a.args
    if method and params and params[0].arg in ("self", "cls"):
        params = params[1:]
    params = params + a.kwonlyargs + [p for p in (a.vararg, a.kwarg) if p is not None]
    missing = [p.arg for p in params if p.annotation is None]
    if fn.returns is None:
        missing.append("return")
    return missing


def undocumented(source: str, where: str) -> tuple[list[str], list[str]]:
    """Public functions of ``source`` without a docstring, and those without full
    hints (each as ``where:Class.name``, the hints as ``(missing, ...)``)."""
    no_doc: list[str] = []
    no_hints: list[str] = []

    def visit(body: list[ast.stmt], prefix: str, in_class: bool) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                if not node.name.startswith("_"):
                    visit(node.body, f"{prefix}{node.name}.", True)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.name.startswith("_"):
                    continue
                name = f"{where}:{prefix}{node.name}"
                if ast.get_docstring(node) is None and not _is_overload(node):
                    no_doc.append(name)
                missing = _missing_hints(node, in_class)
                if missing:
                    no_hints.append(f"{name} ({', '.join(missing)})")

    visit(ast.parse(source).body, "", False)
    return no_doc, no_hints


def test_the_scan_finds_what_it_should() -> None:
    source = '''
class Public:
    def documented(self, x: int) -> int:
        """Doc."""
        return x

    def bare(self, x, *args, **kw):
        return x

    def _private(self, x):
        return x

class _Hidden:
    def bare(self, x):
        return x

def free(x: int, *, k=1) -> int:
    return x

def _helper(x):
    return x
'''
    no_doc, no_hints = undocumented(source, "m.py")
    assert no_doc == ["m.py:Public.bare", "m.py:free"]
    assert no_hints == ["m.py:Public.bare (x, args, kw, return)", "m.py:free (k)"]


def test_every_public_function_has_a_docstring_and_type_hints() -> None:
    no_doc: list[str] = []
    no_hints: list[str] = []
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 100, f"found only {len(files)} source files under {SRC}"
    for path in files:
        d, h = undocumented(path.read_text(encoding="utf-8"), str(path.relative_to(SRC)))
        no_doc += d
        no_hints += h
    assert not no_doc, f"{len(no_doc)} public functions without a docstring:\n" + "\n".join(no_doc)
    assert not no_hints, f"{len(no_hints)} public functions without full type hints:\n" + "\n".join(
        no_hints
    )
