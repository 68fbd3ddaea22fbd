"""Memory of long runs and of loading large image files, measured in fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/status"), reason="resident memory is read from /proc"
)

LONG_RUN = r"""
import gc, json, os, sys
import numpy as np
import tapegrad as tg
from tapegrad.gan.models import build_models
from tapegrad.gan.trainer import Trainer

steps, out = int(sys.argv[1]), sys.argv[2]
page = os.sysconf("SC_PAGE_SIZE")
tg.manual_seed(0)
x = np.random.default_rng(0).integers(0, 256, (4000, 4, 4), dtype=np.uint8)  # 500 steps/epoch
G, D = build_models("mlp", (1, 4, 4), 2, g_hidden=(4,), d_hidden=(4,))
seen = []

def probe(tr, rec):  # after every epoch: its log, checkpoint and pictures come next
    if rec["kind"] == "epoch":
        gc.collect()
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * page
        seen.append((tr.step, rss, sys.getallocatedblocks()))

tr = Trainer(G, D, "ns", x, batch_size=8, out_dir=out, n_samples=4, callbacks=[probe])
tr.train(epochs=10**6, max_steps=steps)
print(json.dumps(seen))
"""


def test_ten_thousand_logged_steps_keep_memory_flat(tmp_path):
    """10,000 steps, a log row each, 20 epochs of checkpoints, sample grids and curves:
    after two epochs of warm-up, resident memory grows by under 8 MB and Python's
    allocated memory blocks by under 10,000 (keeping every record costs about 7 blocks
    a step, 70,000 here; keeping every figure, thousands an epoch)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    p = subprocess.run(
        [sys.executable, "-c", LONG_RUN, "10000", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    seen = json.loads(p.stdout)
    assert [s for s, _, _ in seen] == list(range(500, 10001, 500))
    warm = seen[1]
    rss_growth = max(r for _, r, _ in seen[2:]) - warm[1]
    blocks = max(n for _, _, n in seen[2:]) - warm[2]
    print(f"after warm-up: {rss_growth / 2**20:.2f} MB and {blocks} blocks more")
    assert rss_growth < 8 * 2**20, f"resident memory grew by {rss_growth / 2**20:.1f} MB"
    assert blocks < 10_000, f"{blocks} more memory blocks allocated by Python"
    rows = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 10000 + 20  # and nothing was lost for it


LOAD = r"""
import json, sys
from tapegrad.data.files import load_dataset
from tapegrad.gan.models import build_models
from tapegrad.gan.trainer import Trainer

def status(key):  # kB; VmHWM is this process's peak (ru_maxrss may include its parent's)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

before = status("VmRSS:")
x, _, _ = load_dataset(sys.argv[1])
G, D = build_models("mlp", x.shape[1:], 2, g_hidden=(4,), d_hidden=(4,))
tr = Trainer(G, D, "ns", x, batch_size=8)
print(json.dumps({"before": before, "peak": status("VmHWM:"), "dtype": str(tr.data.dtype),
                  "first": float(tr.data[0, 0, 0, 0]), "last": float(tr.data[-1, 0, -1, -1])}))
"""


def test_loading_a_uint8_npy_peaks_under_three_times_its_float32_size(tmp_path):
    n, side = 6000, 64  # 24.6 MB of uint8, 98 MB as float32
    path = tmp_path / "images.npy"
    x = np.random.default_rng(0).integers(0, 256, (n, side, side), dtype=np.uint8)
    np.save(path, x)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    p = subprocess.run(
        [sys.executable, "-c", LOAD, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    float32 = x.size * 4
    extra = r["peak"] - r["before"]
    assert extra < 3 * float32, f"peak {extra / 2**20:.0f} MB over {float32 / 2**20:.0f} MB"
    # and the values are those of the one-shot conversion
    assert r["dtype"] == "float32"
    assert r["first"] == np.float32(x[0, 0, 0]) / np.float32(127.5) - np.float32(1)
    assert r["last"] == np.float32(x[-1, -1, -1]) / np.float32(127.5) - np.float32(1)
