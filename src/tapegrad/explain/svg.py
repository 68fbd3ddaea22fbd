"""Small inline SVG charts for the run report: line charts and a class heat map.

Plain SVG text with no script and no external reference, so a page that embeds them
works offline in any browser. Every function returns one ``<svg>`` element as a string.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from html import escape

import numpy as np

__all__ = ["Series", "line_chart", "heatmap", "bar_chart", "PALETTE"]

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")

_W, _H = 460, 250
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 14, 44, 40


class Series:
    """One line of a chart: ``xs`` and ``ys`` (equal lengths; None or NaN leave gaps).

    ``smooth`` > 1 draws the raw values faintly under their running mean over that many
    points; ``color`` defaults to the palette in order."""

    def __init__(
        self,
        label: str,
        xs: Sequence[float],
        ys: Sequence[float | None],
        color: str | None = None,
        smooth: int = 0,
    ) -> None:
        self.label = label
        self.xs = np.asarray(xs, dtype=np.float64)
        self.ys = np.array([np.nan if v is None else v for v in ys], dtype=np.float64)
        if self.xs.shape != self.ys.shape:
            raise ValueError(f"Series {label!r}: {self.xs.size} xs but {self.ys.size} ys")
        self.color = color
        self.smooth = smooth


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e4 or a < 1e-3:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")
    if a >= 100:
        return f"{v:.0f}"
    return f"{v:.3g}"


def _running_mean(v: np.ndarray, width: int) -> np.ndarray:
    ok = np.isfinite(v)
    k = np.ones(min(width, max(1, v.size)))
    num = np.convolve(np.where(ok, v, 0.0), k, mode="same")
    den = np.convolve(ok.astype(float), k, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = num / den
    out[~ok] = np.nan
    return out


def _thin(xs: np.ndarray, ys: np.ndarray, most: int = 800) -> tuple[np.ndarray, np.ndarray]:
    """At most ``most`` points: means over equal runs of points (keeps a long run light)."""
    if xs.size <= most:
        return xs, ys
    edges = np.linspace(0, xs.size, most + 1).astype(int)
    with warnings.catch_warnings():  # bins holding only NaN: 'mean of empty slice'
        warnings.simplefilter("ignore", RuntimeWarning)
        bx = np.array([xs[a:b].mean() for a, b in zip(edges[:-1], edges[1:])])
        by = np.array([np.nanmean(ys[a:b]) for a, b in zip(edges[:-1], edges[1:])])
    return bx, by


def _path(px: np.ndarray, py: np.ndarray) -> str:
    parts, pen = [], False
    for x, y in zip(px, py):
        if not (math.isfinite(x) and math.isfinite(y)):
            pen = False
            continue
        parts.append(f"{'L' if pen else 'M'}{x:.1f},{y:.1f}")
        pen = True
    return "".join(parts)


def _frame(title: str, width: int, height: int) -> list[str]:
    return [
        f'<svg class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="8" y="18" class="ct">{escape(title)}</text>',
    ]


def line_chart(
    series: Sequence[Series],
    title: str,
    xlabel: str = "step",
    log_y: bool = False,
    width: int = _W,
    height: int = _H,
) -> str:
    """A line chart of ``series`` sharing axes; ``log_y`` plots the positive values on a
    log10 axis. A chart with nothing finite to draw says so in its box."""
    out = _frame(title, width, height)
    x0, x1, y0, y1 = _LEFT, width - _RIGHT, _TOP, height - _BOTTOM
    lines = []
    for s in series:
        ys = s.ys.copy()
        if log_y:
            with np.errstate(divide="ignore", invalid="ignore"):
                ys = np.where(ys > 0, np.log10(np.where(ys > 0, ys, 1.0)), np.nan)
        lines.append((s, *_thin(s.xs, ys)))
    fin_x = np.concatenate([x[np.isfinite(y)] for _, x, y in lines] or [np.empty(0)])
    fin_y = np.concatenate([y[np.isfinite(y)] for _, _, y in lines] or [np.empty(0)])
    out.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" class="pa"/>')
    if fin_y.size == 0:
        out.append(
            f'<text x="{(x0 + x1) / 2}" y="{(y0 + y1) / 2}" class="na" '
            f'text-anchor="middle">no data yet</text></svg>'
        )
        return "".join(out)
    xa, xb = float(fin_x.min()), float(fin_x.max())
    ya, yb = float(fin_y.min()), float(fin_y.max())
    if xb == xa:
        xa, xb = xa - 1, xb + 1
    pad = (yb - ya) * 0.05 or max(abs(ya) * 0.1, 0.5 if log_y else 0.1)
    ya, yb = ya - pad, yb + pad

    def sx(v: np.ndarray) -> np.ndarray:
        return x0 + (v - xa) / (xb - xa) * (x1 - x0)

    def sy(v: np.ndarray) -> np.ndarray:
        return y1 - (v - ya) / (yb - ya) * (y1 - y0)

    if log_y:
        yt = [float(t) for t in range(math.ceil(ya), math.floor(yb) + 1)]
        if len(yt) < 2:  # less than a decade: 1-2-5 ticks of the values, placed on the log axis
            yt = [math.log10(t) for t in _nice_ticks(10.0**ya, 10.0**yb) if t > 0]
    else:
        yt = _nice_ticks(ya, yb)
    for t in yt:
        py = float(sy(np.array(t)))
        label = _fmt(10.0**t) if log_y else _fmt(t)
        out.append(f'<line x1="{x0}" x2="{x1}" y1="{py:.1f}" y2="{py:.1f}" class="gr"/>')
        out.append(f'<text x="{x0 - 5}" y="{py + 4:.1f}" class="tk" text-anchor="end">')
        out.append(f"{label}</text>")
    for t in _nice_ticks(xa, xb):
        px = float(sx(np.array(t)))
        out.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{y1}" y2="{y1 + 4}" class="ax"/>')
        out.append(f'<text x="{px:.1f}" y="{y1 + 16}" class="tk" text-anchor="middle">')
        out.append(f"{_fmt(t)}</text>")
    out.append(
        f'<text x="{(x0 + x1) / 2}" y="{height - 6}" class="tk" text-anchor="middle">'
        f"{escape(xlabel)}</text>"
    )
    lx = x1 - sum(22 + 6.5 * len(s.label) for s, _, _ in lines)
    for i, (s, xs, ys) in enumerate(lines):
        color = s.color or PALETTE[i % len(PALETTE)]
        if s.smooth > 1 and np.isfinite(ys).sum() > 3:
            out.append(f'<path d="{_path(sx(xs), sy(ys))}" stroke="{color}" class="raw"/>')
            ys = _running_mean(ys, s.smooth)
        if np.isfinite(ys).sum() == 1:
            j = int(np.flatnonzero(np.isfinite(ys))[0])
            cx, cy = float(sx(xs[j : j + 1])[0]), float(sy(ys[j : j + 1])[0])
            out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3" fill="{color}"/>')
        out.append(f'<path d="{_path(sx(xs), sy(ys))}" stroke="{color}" class="ln"/>')
        out.append(f'<rect x="{lx:.1f}" y="{y0 - 13}" width="10" height="3" fill="{color}"/>')
        out.append(f'<text x="{lx + 14:.1f}" y="{y0 - 8}" class="lg">{escape(s.label)}</text>')
        lx += 22 + 6.5 * len(s.label)
    out.append("</svg>")
    return "".join(out)


def bar_chart(
    labels: Sequence[str], values: Sequence[float], title: str, width: int = _W, height: int = _H
) -> str:
    """Vertical bars of ``values`` (>= 0) labelled below with ``labels``."""
    out = _frame(title, width, height)
    x0, x1, y0, y1 = _LEFT, width - _RIGHT, _TOP, height - _BOTTOM
    v = np.asarray(values, dtype=np.float64)
    top = float(v.max()) if v.size and v.max() > 0 else 1.0
    ticks = _nice_ticks(0.0, top * 1.05)
    top = max(top * 1.05, ticks[-1])
    for t in ticks:
        py = y1 - t / top * (y1 - y0)
        out.append(f'<line x1="{x0}" x2="{x1}" y1="{py:.1f}" y2="{py:.1f}" class="gr"/>')
        out.append(
            f'<text x="{x0 - 5}" y="{py + 4:.1f}" class="tk" text-anchor="end">{_fmt(t)}</text>'
        )
    bw = (x1 - x0) / max(1, v.size)
    fs = "" if v.size <= 12 else ' style="font-size:8px"'
    for i, (lab, val) in enumerate(zip(labels, v)):
        h = val / top * (y1 - y0)
        out.append(
            f'<rect x="{x0 + i * bw + bw * 0.12:.1f}" y="{y1 - h:.1f}" width="{bw * 0.76:.1f}" '
            f'height="{h:.1f}" fill="{PALETTE[0]}"><title>{escape(lab)}: {val:g}</title></rect>'
        )
        out.append(
            f'<text x="{x0 + (i + 0.5) * bw:.1f}" y="{y1 + 14}" class="tk" '
            f'text-anchor="middle"{fs}>{escape(lab)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def heatmap(
    steps: Sequence[int],
    fractions: np.ndarray,
    row_labels: Sequence[str],
    title: str,
    width: int = _W,
    height: int = _H,
) -> str:
    """Columns = health records (at ``steps``), rows = classes; shade = each class's
    fraction ``(T, K)`` of the samples, darkest at twice the uniform share."""
    out = _frame(title, width, height)
    x0, x1, y0, y1 = _LEFT, width - _RIGHT, _TOP, height - _BOTTOM
    f = np.asarray(fractions, dtype=np.float64)
    t_n, k = f.shape
    cw, ch = (x1 - x0) / max(1, t_n), (y1 - y0) / max(1, k)
    full = 2.0 / k
    for t in range(t_n):
        for c in range(k):
            a = min(1.0, f[t, c] / full)
            out.append(
                f'<rect x="{x0 + t * cw:.2f}" y="{y0 + c * ch:.2f}" width="{cw + 0.3:.2f}" '
                f'height="{ch + 0.3:.2f}" fill="{PALETTE[0]}" fill-opacity="{a:.3f}"/>'
            )
    every = max(1, math.ceil(k / 13))
    for c in range(0, k, every):
        out.append(
            f'<text x="{x0 - 5}" y="{y0 + (c + 0.5) * ch + 4:.1f}" class="tk" '
            f'text-anchor="end">{escape(row_labels[c])}</text>'
        )
    out.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" class="fr"/>')
    if t_n:
        for j in sorted({0, t_n - 1}):
            out.append(
                f'<text x="{x0 + (j + 0.5) * cw:.1f}" y="{y1 + 16}" class="tk" '
                f'text-anchor="middle">{steps[j]}</text>'
            )
    out.append(
        f'<text x="{(x0 + x1) / 2}" y="{height - 6}" class="tk" text-anchor="middle">'
        "step (one column per health record)</text></svg>"
    )
    return "".join(out)
