"""``report.html``: one self-contained, offline web page per GAN run folder.

:func:`build_report` reads only the run folder (``config.json``, ``metrics.jsonl``,
``samples/*.png`` and ``evaluation.json``, whichever exist), so it also works for runs
made before health records existed, and writes ``RUN/report.html`` atomically: a
browser reloading it during training sees the previous page or the new one, never half
of one. The page has no script and makes no network request: pictures are inline
base64 PNG, charts inline SVG (:mod:`tapegrad.explain.svg`), styles inline CSS.

Sections (each an element with that ``id``): ``summary`` (where the run stands),
``alarms`` (the health alarms, see :mod:`tapegrad.explain.health`), ``samples`` (sample
grids over time), ``curves`` (losses, D(x) and D(G(z)), gradient norms), ``coverage``
(covered classes, KL to uniform, the class histogram now and over time), ``final``
(final metrics) and ``config`` (how the run was made).
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import time
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_open
from .svg import Series, bar_chart, heatmap, line_chart

__all__ = ["build_report", "read_run", "REPORT"]

REPORT = "report.html"
MAX_GRIDS = 12


# ------------------------------------------------------------------ reading
def _read_records(path: Path) -> list[dict[str, Any]]:
    records = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}, line {i}: not a JSON record ({e.msg})") from None
        if not isinstance(r, dict):
            raise ValueError(f"{path}, line {i}: expected a JSON object, got {type(r).__name__}")
        records.append(r)
    return records


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return doc


def read_run(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """What the report shows, read from a run folder.

    Returns ``{"path", "config", "records", "evaluation", "grids": [(step or None,
    label, Path)]}``. FileNotFoundError when ``run_dir`` is not a folder, ValueError
    when it holds neither ``config.json`` nor ``metrics.jsonl`` or one is malformed.
    """
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"no run folder at {run}")
    cfg_path, log_path = run / "config.json", run / "metrics.jsonl"
    if not cfg_path.is_file() and not log_path.is_file():
        raise ValueError(f"{run} is not a run folder: it has no config.json and no metrics.jsonl")
    records = _read_records(log_path) if log_path.is_file() else []
    epoch_step = {
        int(r["epoch"]): int(r["step"])
        for r in records
        if r.get("kind") == "epoch" and "epoch" in r and "step" in r
    }
    grids: list[tuple[int | None, str, Path]] = []
    for p in sorted((run / "samples").glob("*.png")):
        m = re.fullmatch(r"(epoch|step)_(\d+)\.png", p.name)
        if m is None:
            grids.append((None, p.stem, p))
        elif m.group(1) == "step":
            grids.append((int(m.group(2)), f"step {int(m.group(2))}", p))
        else:
            e = int(m.group(2))
            grids.append((epoch_step.get(e), f"epoch {e}", p))
    grids.sort(key=lambda g: (g[0] is None, g[0] or 0, g[1]))
    return {
        "path": run,
        "config": _read_json(cfg_path) or {},
        "records": records,
        "evaluation": _read_json(run / "evaluation.json"),
        "grids": grids,
    }


# ------------------------------------------------------------------ pieces
def _num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return escape(str(v))
    if isinstance(v, int):
        return f"{v:,}"
    if not math.isfinite(v):
        return str(v)
    return f"{v:.{digits}g}"


def _png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _pick(items: list[Any], most: int) -> list[Any]:
    """At most ``most`` items spread evenly, always the first and the last."""
    if len(items) <= most:
        return items
    idx = sorted({round(i * (len(items) - 1) / (most - 1)) for i in range(most)})
    return [items[i] for i in idx]


def _series(rows: list[dict[str, Any]], key: str, label: str, smooth: int = 0) -> Series:
    xs = [r["step"] for r in rows]
    return Series(label, xs, [r.get(key) for r in rows], smooth=smooth)


def _run_section(cfg: dict[str, Any]) -> dict[str, Any]:
    """The settings the run was made with: ``config.json``'s ``run`` (today) or ``cli``
    (run folders written before the typed RunConfig)."""
    sec = cfg.get("run", cfg.get("cli", {}))
    return sec if isinstance(sec, dict) else {}


def _config_rows(cfg: dict[str, Any]) -> list[tuple[str, Any]]:
    flat: dict[str, Any] = {}
    for k, v in _run_section(cfg).items():
        flat[k] = v
    for k, v in cfg.items():
        if k in ("cli", "run", "trainer"):
            continue
        flat[k] = v
    for k, v in cfg.get("trainer", {}).items():
        flat.setdefault(k, v)
    return sorted(flat.items())


def _cfg_value(v: Any) -> str:
    if isinstance(v, (dict, list)):
        return escape(json.dumps(v, sort_keys=True))
    return _num(v, 6)


def _alarm_groups(health: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive health records with the same alarm, as one entry each."""
    groups: list[dict[str, Any]] = []
    open_: dict[str, dict[str, Any]] = {}
    for h in health:
        names = set()
        for a in h.get("alarms") or []:
            names.add(a["name"])
            g = open_.get(a["name"])
            if g is None:
                g = {"name": a["name"], "first": h["step"], "count": 0}
                open_[a["name"]] = g
                groups.append(g)
            g.update(last=h["step"], message=a["message"])
            g["count"] += 1
        for n in list(open_):
            if n not in names:
                del open_[n]
    return groups


def _class_labels(cov: dict[str, Any]) -> list[str]:
    k = cov["n_classes"]
    if cov["kind"] == "mnist":
        return [str(i) for i in range(k)]
    return [f"m{i}" for i in range(k)]


# ------------------------------------------------------------------ sections
def _summary(run: dict[str, Any], steps: list[dict[str, Any]], health: list[dict]) -> str:
    cfg = run["config"]
    epochs = [r for r in run["records"] if r.get("kind") == "epoch" and "epoch" in r]
    cli = _run_section(cfg)
    last = steps[-1] if steps else (health[-1] if health else {})
    n_alarm = sum(len(h.get("alarms") or []) for h in health)
    if not health:
        badge = '<span class="badge grey">no health records</span>'
    elif n_alarm:
        badge = f'<span class="badge red">{n_alarm} alarm{"s" * (n_alarm != 1)}</span>'
    else:
        badge = '<span class="badge green">healthy</span>'
    model = cfg.get("model") or cli.get("model", "?")  # (older run folders: top level)
    if cli.get("recipe"):
        model = f"{model} (recipe {cli['recipe']})"
    loss = cfg.get("trainer", {}).get("loss", cli.get("loss", "?"))
    plan = []
    if cli.get("epochs") or cfg.get("epochs"):
        plan.append(f"{cli.get('epochs') or cfg.get('epochs')} epochs")
    if cli.get("steps"):
        plan.append(f"at most {cli['steps']:,} steps")
    facts = [
        ("model", escape(str(model))),
        ("loss", escape(str(loss))),
        ("data", escape(str(cfg.get("data_description") or cfg.get("data", "?")))),
        ("step", _num(last.get("step"))),
        ("epochs done", _num(max([r["epoch"] for r in epochs] or [0]))),
        ("planned", escape(", ".join(plan) or "–")),
    ]
    items = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts)
    return f'<section id="summary"><h2>Run {badge}</h2><dl class="facts">{items}</dl></section>'


def _alarms(health: list[dict[str, Any]]) -> str:
    head = '<section id="alarms"><h2>Health alarms</h2>'
    if not health:
        return (
            head + '<p class="note">This run\'s log has no health records (it was trained '
            "without a health observer, or before tapegrad kept them).</p></section>"
        )
    groups = _alarm_groups(health)
    if not groups:
        return (
            head + f'<p class="ok">No alarm in {len(health)} health record'
            f"{'s' * (len(health) != 1)} (last at step {health[-1]['step']:,}).</p></section>"
        )
    rows = "".join(
        f"<tr><td><b>{escape(g['name'])}</b></td><td>{g['first']:,}"
        f"{'' if g['last'] == g['first'] else ' – ' + format(g['last'], ',')}</td>"
        f"<td>{g['count']}</td><td>{escape(g['message'])}</td></tr>"
        for g in groups
    )
    return (
        head + '<table class="alarms"><tr><th>alarm</th><th>steps</th><th>records</th>'
        f"<th>last message</th></tr>{rows}</table></section>"
    )


def _samples(run: dict[str, Any]) -> str:
    grids = _pick(run["grids"], MAX_GRIDS)
    head = '<section id="samples"><h2>Samples over time</h2>'
    if not grids:
        return head + '<p class="note">No sample pictures in samples/ yet.</p></section>'
    figs = "".join(
        f'<figure><img src="{_png(p)}" alt="samples at {escape(label)}">'
        f"<figcaption>{escape(label)}"
        f"{'' if step is None or label.startswith('step') else f' (step {step:,})'}"
        "</figcaption></figure>"
        for step, label, p in grids
    )
    more = len(run["grids"]) - len(grids)
    note = f'<p class="note">{more} more pictures in samples/.</p>' if more > 0 else ""
    return f'{head}<div class="grids">{figs}</div>{note}</section>'


def _curves(steps: list[dict[str, Any]], health: list[dict[str, Any]]) -> str:
    sm = max(1, min(50, len(steps) // 20))
    charts = [
        line_chart(
            [_series(steps, "d_loss", "D loss", sm), _series(steps, "g_loss", "G loss", sm)],
            "Losses",
        ),
        line_chart(
            [_series(steps, "d_real", "D(x)", sm), _series(steps, "d_fake", "D(G(z))", sm)],
            "Mean D output on real and generated samples",
        ),
        line_chart(
            [
                _series(health, "g_grad_norm", "G gradient norm"),
                _series(health, "d_grad_norm", "D gradient norm"),
            ],
            "Gradient norms (health records, log scale)",
            log_y=True,
        ),
    ]
    body = "".join(f"<div>{c}</div>" for c in charts)
    return (
        f'<section id="curves"><h2>Training curves</h2><div class="charts">{body}</div></section>'
    )


def _coverage(health: list[dict[str, Any]]) -> str:
    head = '<section id="coverage"><h2>What the samples cover</h2>'
    cov = [h for h in health if h.get("coverage")]
    if not cov:
        why = (
            "No health records yet."
            if not health
            else "No class histogram for this data (only MNIST digits and the ring and "
            "grid mixtures have classes to count)."
        )
        return head + f'<p class="note">{why}</p></section>'
    last = cov[-1]["coverage"]
    what = "digits (shipped classifier)" if last["kind"] == "mnist" else "nearest modes"
    rows = [{"step": h["step"], **h["coverage"]} for h in cov]
    k = last["n_classes"]
    counts = np.array([h["coverage"]["counts"] for h in cov], dtype=np.float64)
    frac = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    charts = [
        line_chart(
            [
                _series(rows, "covered", "covered"),
                _series(rows, "effective", "exp(entropy)"),
            ],
            f"Classes covered, of {k}",
        ),
        line_chart([_series(rows, "kl_to_uniform", "KL to uniform")], "KL(samples || uniform)"),
        bar_chart(
            _class_labels(last),
            last["counts"],
            f"Histogram at step {cov[-1]['step']:,} ({last['n']:,} samples)",
        ),
        heatmap([h["step"] for h in cov], frac, _class_labels(last), "Histogram over time (share)"),
    ]
    body = "".join(f"<div>{c}</div>" for c in charts)
    return head + f'<p class="note">Classes: {what}.</p><div class="charts">{body}</div></section>'


def _final(run: dict[str, Any], steps: list[dict[str, Any]], health: list[dict]) -> str:
    rows: list[tuple[str, Any]] = []
    ev = run["evaluation"]
    if ev and isinstance(ev.get("metrics"), dict):
        n = ev.get("n_samples")
        for k, v in ev["metrics"].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                rows.append((f"{k} (evaluate, N = {n})", v))
    tail = steps[-50:]
    for key, name in (("d_loss", "D loss"), ("g_loss", "G loss"), ("d_real", "D(x)")):
        vals = [r[key] for r in tail if r.get(key) is not None]
        if vals:
            rows.append(
                (f"{name}, mean of the last {len(tail)} logged steps", float(np.mean(vals)))
            )
    vals = [r["d_fake"] for r in tail if r.get("d_fake") is not None]
    if vals:
        rows.append((f"D(G(z)), mean of the last {len(tail)} logged steps", float(np.mean(vals))))
    if health:
        h = health[-1]
        for key in ("g_grad_norm", "d_grad_norm"):
            rows.append((f"{key.replace('_', ' ')} at step {h['step']:,}", h.get(key)))
        cov = h.get("coverage")
        if cov:
            rows.append(
                (
                    f"classes covered at step {h['step']:,}",
                    f"{cov['covered']} of {cov['n_classes']}",
                )
            )
            rows.append(("KL to uniform", cov["kl_to_uniform"]))
            if "high_quality_fraction" in cov:
                rows.append(("high-quality fraction", cov["high_quality_fraction"]))
    head = '<section id="final"><h2>Final metrics</h2>'
    if not rows:
        return head + '<p class="note">Nothing logged yet.</p></section>'
    body = "".join(f"<tr><th>{escape(k)}</th><td>{_num(v)}</td></tr>" for k, v in rows)
    hint = (
        ""
        if ev
        else '<p class="note">Run <code>tapegrad evaluate RUN</code> for FD, KID, '
        "precision and recall.</p>"
    )
    return f'{head}<table class="kv">{body}</table>{hint}</section>'


def _config(cfg: dict[str, Any]) -> str:
    body = "".join(
        f"<tr><th>{escape(str(k))}</th><td>{_cfg_value(v)}</td></tr>" for k, v in _config_rows(cfg)
    )
    return f'<section id="config"><h2>Configuration</h2><table class="kv">{body}</table></section>'


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f3f4f6;color:#111827}
header{background:#111827;color:#f9fafb;padding:14px 28px}
header h1{margin:0;font-size:20px}header p{margin:2px 0 0;color:#9ca3af;font-size:12px}
main{max-width:1440px;margin:0 auto;padding:12px 20px 28px}
section{background:#fff;border-radius:8px;box-shadow:0 1px 2px #0002;margin:14px 0;
padding:12px 18px}
h2{font-size:16px;margin:4px 0 10px}
.badge{font-size:12px;border-radius:10px;padding:2px 9px;margin-left:8px;color:#fff;
vertical-align:2px}
.green{background:#16a34a}.red{background:#dc2626}.grey{background:#6b7280}
.facts{display:flex;flex-wrap:wrap;gap:8px 32px;margin:0}.facts dt{font-size:11px;
color:#6b7280;text-transform:uppercase}.facts dd{margin:0;font-weight:600}
.grids{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;text-align:center}
figure img{width:242px;border:1px solid #e5e7eb}
figcaption{font-size:12px;color:#374151}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(400px,1fr));gap:12px}
.chart{width:100%;height:auto}
.chart .ct{font-size:13px;font-weight:600;fill:#111827}
.chart .tk{font-size:10px;fill:#4b5563}.chart .lg{font-size:11px;fill:#111827}
.chart .na{font-size:12px;fill:#9ca3af}
.chart .pa{fill:#fafafa;stroke:#d1d5db}.chart .fr{fill:none;stroke:#d1d5db}
.chart .gr{stroke:#e5e7eb}.chart .ax{stroke:#9ca3af}
.chart .ln{fill:none;stroke-width:1.6}.chart .raw{fill:none;stroke-width:.8;opacity:.25}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #e5e7eb;
text-align:left;vertical-align:top}table.kv th{font-weight:500;color:#374151}
table.alarms th{background:#fef2f2}.ok{color:#15803d;font-weight:600}
.note{color:#6b7280}code{background:#f3f4f6;padding:0 4px;border-radius:3px}
"""


def render(run: dict[str, Any]) -> str:
    """The report page for :func:`read_run`'s result, as HTML text."""
    records = run["records"]
    steps = [r for r in records if r.get("kind") == "step" and "step" in r]
    health = [r for r in records if r.get("kind") == "health" and "step" in r]
    title = f"tapegrad run {run['path'].name}"
    made = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    parts = [
        _summary(run, steps, health),
        _alarms(health),
        _samples(run),
        _curves(steps, health),
        _coverage(health),
        _final(run, steps, health),
        _config(run["config"]),
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><p>report written {made}; "
        "rebuilt while the run trains: reload to follow it</p></header>"
        f"<main>{''.join(parts)}</main></body></html>\n"
    )


def build_report(run_dir: str | os.PathLike[str]) -> Path:
    """Write ``RUN/report.html`` from the run folder's files, atomically; returns its path.

    FileNotFoundError / ValueError as :func:`read_run`."""
    run = read_run(run_dir)
    page = render(run)
    path = run["path"] / REPORT
    with atomic_open(path, "w") as f:
        f.write(page)
    return path
