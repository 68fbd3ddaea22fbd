"""benchmarks/gan_workloads.py: both sides of every workload compute the same iteration."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "gan_workloads.py"
_spec = importlib.util.spec_from_file_location("gan_workloads_bench", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)
numpy_step = sys.modules["numpy_step"]  # imported by the benchmark from its folder
numpy_layers = sys.modules["numpy_layers"]


@pytest.mark.parametrize("name", bench.WORKLOADS)
def test_one_iteration_matches_pytorch(name):
    chk = bench.check_workload(name, batch=8)
    c32, c64 = chk["float32"], chk["float64"]
    assert chk["ok"] and c32["ok"], chk.get("message")
    assert c32["max_param_diff"] <= 1e-4
    for a, b in c32["losses"]:
        assert a == pytest.approx(b, rel=1e-5, abs=1e-6)
    # In float64 the two frameworks agree to rounding, so any wiring or layer difference shows.
    assert c64["ok"] and c64["max_param_diff"] < 1e-9
    for a, b in c64["losses"]:
        assert a == pytest.approx(b, rel=1e-10)
    tg, pt = chk["sides"]
    assert set(tg.state()) == set(pt.state())


def test_a_wiring_difference_is_caught():
    tg, pt = bench.build_pair("mlp_gan_b64", 8)
    tg.models["D"][1].negative_slope = 0.1  # PyTorch keeps 0.2
    res = bench.compare(tg, pt)
    assert not res["ok"] and "differ" in res["message"]


@pytest.mark.parametrize("name", ["mlp_gan_b64", "dcgan28", "cnn"])
def test_flop_count_matches_pytorchs_counter(name):
    """The analytic count equals torch's FlopCounterMode on the PyTorch iteration (which also
    skips the input gradient of the first layer)."""
    torch.manual_seed(0)
    pt = bench.build_side(name, "torch", 8)
    with FlopCounterMode(display=False) as fc:
        pt.step()
    assert fc.get_total_flops() == bench.iteration_flops(name, 8)


def test_wgan_flops_add_the_penalty_to_the_gan_iteration():
    b = 8
    base = bench.iteration_flops("mlp_gan_b64", b)  # 1 critic step + 1 G step, no penalty
    d_fwd = b * (2 * 784 * 128 + 2 * 128 * 64 + 2 * 64)
    # 5 critic steps, each with a penalty of 4 D forwards' worth (forward, input-gradient
    # pass, double backward counted as 2)
    g_step = b * 3 * (2 * 100 * 128 + 2 * 128 * 784) - b * 2 * 100 * 128 + 3 * d_fwd
    critic = base - g_step
    assert bench.iteration_flops("wgan_gp", b) == 5 * (critic + 4 * d_fwd) + g_step


def test_memory_child_imports_tapegrad_only():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, str(_PATH), "--mem-child", "mlp_gan_b64", "--framework", "tapegrad"]
        + ["--mem-iters", "2"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    mem = json.loads(out.stdout.strip().splitlines()[-1])
    assert mem["torch_imported"] is False and mem["hwm_reset_ok"] is True
    assert mem["hwm_mb"] >= mem["rss_before_mb"] > mem["rss_import_mb"] > 0
    assert mem["peak_mb"] == pytest.approx(mem["hwm_mb"] - mem["rss_before_mb"])


def test_summary_table_and_atomic_json(tmp_path):
    row = {
        "status": "ok",
        "tapegrad_ms": 2.5,
        "torch_ms": 2.0,
        "ratio": 1.25,
        "ratio_iqr": [1.2, 1.3],
        "cpu_ratio": 1.1,
        "target_ratio": 0.85,
        "tapegrad_gflops": 8.0,
        "torch_gflops": 10.0,
        "tapegrad_pct_peak": 40.0,
        "torch_pct_peak": 50.0,
        "memory": {"tapegrad": {"peak_mb": 3.0}, "torch": {"peak_mb": 2.0}},
        "mem_ratio": 1.5,
    }
    runs = [
        {
            "threads": 1,
            "gemm_peak_gflops": 20.0,
            "workloads": {"mlp_gan_b64": row, "cnn": {"status": "check failed"}},
        }
    ]
    table = bench.summary_table(runs)
    row_text = "| mlp_gan_b64 | 2.50 | 2.00 | 1.25 (1.20-1.30) | 1.10 | <= 0.85 | - | 8.0 / 10.0 |"
    assert row_text in table
    runs[0]["workloads"]["mlp_gan_b64"]["numpy_step"] = {
        "cpu_ratio": 0.9,
        "cpu_ratio_iqr": [0.8, 1],
    }
    assert "| <= 0.85 | 0.90 (0.80-1.00) | 8.0 / 10.0 |" in bench.summary_table(runs)
    del runs[0]["workloads"]["mlp_gan_b64"]["numpy_step"]
    assert "3.0 / 2.0 | 1.50 |" in table and "| cnn | check failed |" in table
    path = tmp_path / "r.json"
    bench._write_json_atomic(str(path), {"runs": runs})
    assert json.loads(path.read_text()) == {"runs": runs}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_profile_categories_split_numpy_time_by_caller():
    class FakeStats:
        stats = {
            ("/r/src/tapegrad/ops/conv.py", 1, "f"): (1, 1, 2.0, 2.0, {}),
            ("/r/src/tapegrad/autograd/engine.py", 9, "run"): (1, 1, 0.5, 9.0, {}),
            ("~", 0, "<numpy call>"): (
                3,
                3,
                3.0,
                3.0,
                {
                    ("/r/src/tapegrad/optim/adam.py", 1, "g"): (1, 1, 1.0, 1.0),
                    ("/r/src/tapegrad/ops/norm.py", 1, "h"): (2, 2, 2.0, 2.0),
                },
            ),
        }

    cats = bench.time_by_category(FakeStats())
    assert cats[bench._category("tapegrad/ops/conv.py")] == 2.0
    assert cats[bench._category("tapegrad/optim/adam.py")] == 1.0
    assert cats[bench._category("tapegrad/ops/norm.py")] == 2.0
    assert cats[bench._category("tapegrad/autograd/engine.py")] == 0.5
    assert len(set(cats)) == 4


@pytest.mark.parametrize("name", numpy_step.WORKLOADS)
def test_numpy_step_computes_pytorchs_step(name):
    """The hand-written NumPy step's gradients (every optimiser step's), losses and updated
    parameters and running statistics equal PyTorch's from the same weights and inputs."""
    r64 = numpy_step.check_numpy_step(name, batch=4, dtype="float64")
    assert r64["keys_match"]
    assert r64["grad_rel"] < 1e-10 and r64["state_diff"] < 1e-10, r64
    for a, b in r64["losses"]:
        assert a == pytest.approx(b, rel=1e-12)
    r32 = numpy_step.check_numpy_step(name, batch=4, dtype="float32")
    # float32: rounding only (a float32 batch-norm sum over all rows would miss this by 1e-2)
    assert r32["grad_rel"] < 1e-4 and r32["state_diff"] < 1e-4, r32


def test_numpy_step_check_catches_a_wiring_difference(monkeypatch):
    monkeypatch.setattr(numpy_layers.Act, "backward", lambda self, c, dy, need_dx=True: dy)
    assert numpy_step.check_numpy_step("cnn", batch=4)["grad_rel"] > 1e-3


def test_numpy_step_check_catches_a_wrong_penalty_gradient(monkeypatch):
    """The penalty's backward must apply the LeakyReLU masks of the input-gradient pass."""
    monkeypatch.setattr(numpy_layers.Act, "input_grad_backward", lambda s, c, dy, ddx, n: ddx)
    assert numpy_step.check_numpy_step("wgan_gp", batch=4)["grad_rel"] > 1e-3


@pytest.mark.parametrize("name", numpy_step.WORKLOADS)
def test_numpy_step_gemms_are_the_workloads(name, monkeypatch):
    """Every product of the step goes through ``numpy_layers.GEMM`` (which gemm_cpu_ms
    swaps) and their FLOPs are the workload's analytic count. WGAN-GP's penalty skips the
    one product of its double backward that only reaches the constant ones."""
    flops = [0]

    def counted(a, b):
        flops[0] += 2 * a.shape[0] * a.shape[1] * b.shape[1]
        return np.matmul(a, b)

    ns = numpy_step.build_numpy_step(name, bench.build_side(name, "torch", 4).state(), 4)
    monkeypatch.setattr(numpy_layers, "GEMM", counted)
    ns.step()
    skipped = 5 * 4 * 2 * 64 if name == "wgan_gp" else 0  # per critic step: (4, 64) @ (64, 1)
    assert flops[0] == bench.iteration_flops(name, 4) - skipped
    gemm_ms, step_ms = numpy_step.gemm_cpu_ms(ns, iters=1)
    assert 0 < gemm_ms <= step_ms and numpy_layers.GEMM is counted


def test_numpy_step_im2col_col2im_are_adjoint():
    """<col2im(c), x> == <c, im2col(x)>: the input gradient of a convolution is the adjoint
    of its column building, for a strided, overlapping kernel."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 9, 9, 3))
    c = rng.standard_normal((2, 4, 4, 3, 3, 3))
    lhs = np.sum(numpy_layers.col2im(c, 9, 9, 2) * x)
    assert lhs == pytest.approx(np.sum(c * numpy_layers.im2col(x, 3, 2, 4, 4)), rel=1e-12)
