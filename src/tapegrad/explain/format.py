"""Number and table formatting shared by the explain modules."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np


def fmt_num(v: float, precision: int = 4) -> str:
    """``v`` to ``precision`` significant digits (``-0`` printed as ``0``)."""
    s = f"{float(v):.{precision}g}"
    return "0" if s == "-0" else s


def fmt_array(a: Any, precision: int = 4, max_elements: int = 8) -> str:
    """An array (or scalar) in brackets, or a summary when it has more than
    ``max_elements`` elements: shape, mean, std, min and max."""
    arr = np.asarray(a)
    if arr.ndim == 0 or arr.size == 1:
        return fmt_num(arr.reshape(-1)[0], precision) if arr.size else "[]"
    if arr.size > max_elements:
        f = np.asarray(arr, dtype=np.float64)
        return (
            f"<{'x'.join(map(str, arr.shape))}: mean {fmt_num(f.mean(), precision)}, "
            f"std {fmt_num(f.std(), precision)}, min {fmt_num(f.min(), precision)}, "
            f"max {fmt_num(f.max(), precision)}>"
        )

    def rec(x: np.ndarray) -> str:
        if x.ndim == 1:
            return "[" + ", ".join(fmt_num(v, precision) for v in x) + "]"
        return "[" + ", ".join(rec(r) for r in x) + "]"

    return rec(arr)


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table as lines; ``|`` inside cells is escaped."""

    def row(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return [row(header), "| " + " | ".join("---" for _ in header) + " |"] + [row(r) for r in rows]


# A document is a list of blocks, rendered as terminal text or Markdown:
# ("h1", title), ("h2", title), ("p", paragraph), ("list", [items]),
# ("eq", [lines]) (equations, kept verbatim), ("table", header, rows).
Block = tuple[Any, ...]


def display_width(s: str) -> int:
    """Columns ``s`` takes in a terminal: wide (CJK) characters count 2."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    cols = range(len(header))
    widths = [max(display_width(str(r[i])) for r in [header, *rows]) for i in cols]

    def fmt(r: Sequence[str]) -> str:
        # the last column is free text: no padding
        cells = [
            str(c) + " " * (w - display_width(str(c))) if i < len(r) - 1 else str(c)
            for i, (c, w) in enumerate(zip(r, widths))
        ]
        return "  ".join(cells)

    return [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]


def render_blocks(blocks: Sequence[Block], fmt: str = "text") -> str:
    """Render a document (see above) as ``"text"`` or ``"markdown"``."""
    if fmt not in ("text", "markdown"):
        raise ValueError(f"format must be 'text' or 'markdown', got {fmt!r}")
    md = fmt == "markdown"
    out: list[str] = []
    for b in blocks:
        kind = b[0]
        if kind == "h1":
            out += ([f"# {b[1]}"] if md else [b[1], "=" * display_width(b[1])]) + [""]
        elif kind == "h2":
            out += ([f"## {b[1]}"] if md else [b[1], "-" * display_width(b[1])]) + [""]
        elif kind == "p":
            out += [b[1], ""]
        elif kind == "list":
            out += [f"- {item}" for item in b[1]] + [""]
        elif kind == "eq":
            out += (["```text", *b[1], "```"] if md else [f"    {line}" for line in b[1]]) + [""]
        elif kind == "table":
            out += (md_table(b[1], b[2]) if md else _text_table(b[1], b[2])) + [""]
        else:
            raise ValueError(f"unknown block {kind!r}")
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"
