"""Number and table formatting shared by the explain modules."""

from __future__ import annotations

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
