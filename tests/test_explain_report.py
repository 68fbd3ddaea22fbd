"""report.html: built by `tapegrad train`, rebuilt by `tapegrad report`, offline, atomic,
and rendered by a real browser (headless Chromium) with the network cut off."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tapegrad.cli import main
from tapegrad.explain import report

SECTIONS = ("summary", "alarms", "samples", "curves", "coverage", "final", "config")
BEFORE = Path(__file__).parent / "data" / "run_before_report"


class _Page(HTMLParser):
    """Section ids, <img> sources, <svg> count and every attribute value of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.svgs = 0
        self.attrs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag == "section":
            self.sections.append(a.get("id", ""))
        elif tag == "img":
            self.images.append(a.get("src", ""))
        elif tag == "svg":
            self.svgs += 1


def parse(html: str) -> _Page:
    p = _Page()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> Path:
    """A `tapegrad train --recipe mlp --steps 30` run folder (the tutorial's MNIST GAN,
    whose 8 x 8 sample grid the report shows at its own size)."""
    run = tmp_path_factory.mktemp("report") / "run"
    args = ["train", "--recipe", "mlp", "--steps", "30", "--out", str(run), "--quiet"]
    assert main(args) == 0
    return run


def test_train_writes_a_report_with_every_section(cli_run):
    html = (cli_run / "report.html").read_text(encoding="utf-8")
    page = parse(html)
    assert page.sections == list(SECTIONS)
    # the one sample picture of a 30-step run, inline and byte for byte the file
    png = (cli_run / "samples" / "step_000030.png").read_bytes()
    assert page.images == ["data:image/png;base64," + base64.b64encode(png).decode()]
    # losses, D outputs, gradient norms; covered, KL, histogram, heat map
    assert page.svgs == 7
    rows = [json.loads(s) for s in (cli_run / "metrics.jsonl").read_text().splitlines()]
    health = [r for r in rows if r["kind"] == "health"]
    assert [h["step"] for h in health] == [30]
    assert sum(health[0]["coverage"]["counts"]) == 500
    # a 30-step G covers few digits, but that is no collapse before the warm-up
    assert health[0]["alarms"] == [] and "No alarm in 1 health record" in html
    assert "MNIST" in html and "<th>lr_g</th><td>0.0002</td>" in html
    # the summary names the model and the recipe the run started from
    assert "<dt>model</dt><dd>mlp (recipe mlp)</dd>" in html


def test_report_rebuilds_a_run_made_before_reports(tmp_path, capsys):
    run = tmp_path / "old"
    shutil.copytree(BEFORE, run)
    assert not (run / "report.html").exists()
    assert main(["report", str(run)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {run / 'report.html'}"
    html = (run / "report.html").read_text(encoding="utf-8")
    page = parse(html)
    assert page.sections == list(SECTIONS)
    png = (run / "samples" / "step_000030.png").read_bytes()
    assert page.images == ["data:image/png;base64," + base64.b64encode(png).decode()]
    assert "no health records" in html
    # the final table's mean D loss is that of the log's last 30 steps
    rows = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    want = np.mean([r["d_loss"] for r in rows if r["kind"] == "step"][-50:])
    assert f"<td>{want:.4g}</td>" in html


def test_report_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no run folder at" in err
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no config.json and no metrics.jsonl" in err
    bad = tmp_path / "bad"
    shutil.copytree(BEFORE, bad)
    with open(bad / "metrics.jsonl", "a") as f:
        f.write('{"kind": "step", "st\n')
    assert main(["report", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "metrics.jsonl, line 31: not a JSON record" in err
    assert not (bad / "report.html").exists()


def test_report_is_written_atomically(tmp_path, monkeypatch):
    run = tmp_path / "old"
    shutil.copytree(BEFORE, run)
    (run / "report.html").write_text("the previous report")
    real = report.atomic_open

    @contextmanager
    def dies_after_writing(path, mode):
        with real(path, mode) as f:
            yield f
            f.flush()
            raise OSError("disk full")

    monkeypatch.setattr(report, "atomic_open", dies_after_writing)
    with pytest.raises(OSError, match="disk full"):
        report.build_report(run)
    assert (run / "report.html").read_text() == "the previous report"
    assert sorted(p.name for p in run.iterdir()) == [
        "config.json",
        "metrics.jsonl",
        "report.html",
        "samples",
    ]


def test_no_external_url_in_the_report(cli_run):
    html = (cli_run / "report.html").read_text(encoding="utf-8")
    page = parse(html)
    for tag, key, value in page.attrs:
        if key in ("src", "href", "xlink:href", "action", "poster", "data"):
            assert value.startswith("data:"), (tag, key, value[:80])
    for pattern in (
        r"https?:",
        r"(src|href)\s*=\s*[\"']?//",
        r"url\(",
        r"@import",
        r"<script",
        r"<link",
    ):
        assert re.search(pattern, html, re.I) is None, pattern


# ------------------------------------------------------------------ headless Chromium
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed (Debian: apt-get install chromium); CI installs it")


def run_chromium(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        # no network: every host name fails to resolve, and no proxy can be reached
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        *extra,
        page.resolve().as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def page_requests(netlog: Path) -> list[str]:
    """URLs the page (not the browser's own services) asked the network for."""
    doc = json.loads(netlog.read_text())
    start = doc["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for e in doc["events"]:
        p = e.get("params", {})
        if e["type"] == start and "url" in p and p.get("initiator") != "not an origin":
            urls.append(p["url"])
    return urls


def test_chromium_renders_the_report_offline(cli_run, tmp_path):
    shot = tmp_path / "shot.png"
    net = tmp_path / "net.json"
    run_chromium(
        cli_run / "report.html",
        tmp_path / "p1",
        "--window-size=1280,2600",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        f"--log-net-log={net}",
    )
    assert page_requests(net) == []
    with Image.open(shot) as im:
        px = np.asarray(im.convert("RGB")).astype(int)
    assert px.shape == (2600, 1280, 3)
    # the sample grid is drawn, 242 pixels wide: its pure black pixels (the padding
    # between tiles) appear in the screenshot in the same share as in the PNG; the
    # page itself has no black (its darkest colour is the header's #111827)
    with Image.open(cli_run / "samples" / "step_000030.png") as im:
        grid = np.asarray(im.convert("L"))
    want = (grid < 8).mean() * 242 * 242 * grid.shape[0] / grid.shape[1]
    black = (px.max(axis=2) < 8).sum()
    assert abs(black - want) < 0.25 * want, (black, want)
    # the SVG charts' lines: pixels of the palette's blue and red
    assert ((np.abs(px - [37, 99, 235]).sum(axis=2) < 30).sum()) > 500
    assert ((np.abs(px - [220, 38, 38]).sum(axis=2) < 30).sum()) > 200

    dom = run_chromium(cli_run / "report.html", tmp_path / "p2", "--dump-dom").stdout
    page = parse(dom)
    assert page.sections == list(SECTIONS)
    assert len(page.images) == 1 and page.images[0].startswith("data:image/png;base64,")
    assert page.svgs == 7
    assert "Health alarms" in dom and "Samples over time" in dom


def test_the_network_check_sees_a_page_that_fetches(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="http://example.com/x.png"></body></html>')
    net = tmp_path / "net.json"
    run_chromium(bad, tmp_path / "p", f"--log-net-log={net}", "--dump-dom")
    assert page_requests(net) == ["http://example.com/x.png"]


def test_data_without_classes_and_resume(tmp_path):
    """A .npy of images has no classes to count; resume keeps the health rows in step."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.integers(0, 256, (128, 28, 28), dtype=np.uint8))
    run = tmp_path / "run"
    args = ["--data", str(tmp_path / "x.npy"), "--batch-size", "32", "--quiet"]
    assert main(["train", "--steps", "3", "--out", str(run), *args]) == 0
    assert main(["resume", str(run), "--steps", "6", "--quiet"]) == 0
    rows = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    health = [r for r in rows if r["kind"] == "health"]
    assert [h["step"] for h in health] == [3, 6]
    assert all(h["coverage"] is None and h["alarms"] == [] for h in health)
    assert all(h["g_grad_norm"] > 0 and h["d_grad_norm"] > 0 for h in health)
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "No class histogram for this data" in html
    assert "<dt>step</dt><dd>6</dd>" in html and "No alarm in 2 health records" in html


def test_tensorboard_without_tensorboardx_is_a_usage_error(tmp_path, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tensorboardX" else real(name, *a),
    )
    run = tmp_path / "run"
    assert (
        main(["train", "--data", "ring", "--steps", "2", "--out", str(run), "--tensorboard"]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert (
        "--tensorboard needs the tensorboardX package: pip install 'tapegrad[tensorboard]'" in err
    )
    assert not (run / "checkpoints" / "last.safetensors").exists()
