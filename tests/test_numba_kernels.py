"""The compiled (Numba) loops against the NumPy code they replace, and the switch between them.

Both paths must agree bit for bit: the convolution's im2col/col2im against
references written here (np.pad and one slice per kernel offset), then
conv2d's three kernels, whole conv2d / conv_transpose2d steps, the tiled
max pool (values, indices, gradients) and the float64 channel sums of
channels-last batches (batch norm) with the Numba path on and off; the
compiled max pool and batch norm also against PyTorch.
The switch (TAPEGRAD_NUMBA), a missing or broken numba and an unwritable
cache folder are checked in fresh processes, which need no numba.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops import compiled, conv_kernels
from tapegrad.ops.conv_kernels import _ConvGeom

SRC = os.path.join(os.path.dirname(__file__), os.pardir, "src")

# (n, c, o, (h, w), (kh, kw), stride, pads (top, bottom, left, right), dilation)
GEOMS = [
    (7, 8, 5, (9, 9), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),
    (7, 8, 6, (10, 12), (4, 4), (2, 2), (1, 1, 1, 1), (1, 1)),
    (5, 9, 4, (11, 8), (3, 2), (2, 1), (2, 0, 1, 3), (2, 1)),
    (6, 16, 3, (7, 5), (4, 3), (3, 2), (0, 0, 0, 0), (1, 2)),
    # every window of some kernel offsets lies in the padding
    (3, 8, 4, (3, 4), (3, 3), (2, 2), (2, 2, 2, 2), (1, 1)),
    # the discriminator's 64 -> 128 layer of the DCGAN workload, default chunks
    (13, 64, 128, (14, 14), (4, 4), (2, 2), (1, 1, 1, 1), (1, 1)),
]


def _geom(n, c, hw, k, stride, pads, dil) -> _ConvGeom:
    out = tuple(
        (hw[a] + pads[2 * a] + pads[2 * a + 1] - dil[a] * (k[a] - 1) - 1) // stride[a] + 1
        for a in (0, 1)
    )
    return _ConvGeom(k, stride, pads, dil, 1, hw, out)


def _bits(a: np.ndarray) -> np.ndarray:
    """The bytes of a, so that -0.0 and +0.0 (and NaN payloads) count as different."""
    return np.ascontiguousarray(a).view(np.uint8)


def _assert_identical(a, b) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    assert np.array_equal(_bits(a), _bits(b)), f"max |diff| {np.max(np.abs(a - b))}"


@pytest.fixture
def numba_kernels():
    """The numba_kernels module (skips where numba is not installed)."""
    pytest.importorskip("numba", reason="numba is not installed (pip install numba)")
    from tapegrad.ops import numba_kernels

    return numba_kernels


def _count_calls(monkeypatch, module, *names: str) -> dict[str, int]:
    """Wraps the named functions of module to count their calls; returns the live counts."""
    calls = dict.fromkeys(names, 0)
    for name in names:
        real = getattr(module, name)

        def counted(*a, _real=real, _name=name):
            calls[_name] += 1
            return _real(*a)

        monkeypatch.setattr(module, name, counted)
    return calls


def _ref_im2col(src, g: _ConvGeom) -> np.ndarray:
    """(k, Ho, Wo, kH, kW, C) columns of src (k, H, W, C), through np.pad and slices."""
    pt, pb, pl, pr = g.pads
    p = np.pad(src, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = g.k, g.stride, g.dilation, g.out_hw
    cols = np.empty((src.shape[0], ho, wo, kh, kw, src.shape[3]), src.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j] = p[:, i * dh :: sh, j * dw :: sw][:, :ho, :wo]
    return cols


def _ref_col2im(cols, g: _ConvGeom) -> np.ndarray:
    """The adjoint of _ref_im2col: zeros, one add per kernel offset in order, then the interior."""
    pt, pb, pl, pr = g.pads
    (h, w), (kh, kw), (sh, sw), (dh, dw) = g.in_hw, g.k, g.stride, g.dilation
    (ho, wo), k, c = g.out_hw, cols.shape[0], cols.shape[-1]
    p = np.zeros((k, h + pt + pb, w + pl + pr, c), cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
            cs = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
            p[:, rows, cs] += cols[:, :, :, i, j]
    return p[:, pt : pt + h, pl : pl + w]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geom", GEOMS)
def test_kernels_match_numpy_references_bit_for_bit(numba_kernels, geom, dtype):
    n, c, _, hw, k, stride, pads, dil = geom
    g = _geom(n, c, hw, k, stride, pads, dil)
    rng = np.random.default_rng(0)
    src = rng.standard_normal((n, *hw, c)).astype(dtype)
    cols = np.full((n, *g.out_hw, *k, c), np.nan, dtype)
    numba_kernels.im2col_nhwc(src, cols, *stride, *dil, pads[0], pads[2])
    _assert_identical(cols, _ref_im2col(src, g))
    # -0.0 entries: 0.0 + -0.0 is +0.0, so the sums must start from +0.0 as NumPy's do
    cols = rng.standard_normal(cols.shape).astype(dtype)
    cols[rng.random(cols.shape) < 0.3] = -0.0
    out = np.full((n, *hw, c), np.nan, dtype)
    numba_kernels.col2im_nhwc(cols, out, *stride, *dil, pads[0], pads[2])
    _assert_identical(out, _ref_col2im(cols, g))


def _three_kernels(x, w, b, gy, b_adj, g):
    """conv2d (bias b, O entries), its adjoint (bias b_adj, C entries) and its weight gradient."""
    return (
        conv_kernels._conv_fwd(x, w, b, g),
        conv_kernels._conv_adj(gy, w, b_adj, g),
        conv_kernels._conv_wgrad(x, gy, g),
    )


@pytest.mark.parametrize("small_chunks", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geom", GEOMS)
def test_conv_kernels_same_bits_with_and_without_numba(
    numba_kernels, monkeypatch, geom, dtype, small_chunks
):
    n, c, o, hw, k, stride, pads, dil = geom
    g = _geom(n, c, hw, k, stride, pads, dil)
    if small_chunks:  # chunks of 2 samples: the last chunk of an odd batch is shorter
        monkeypatch.setattr(
            conv_kernels, "_NHWC_COLS", 2 * g.out_hw[0] * g.out_hw[1] * c * k[0] * k[1]
        )
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c, *hw)).astype(dtype)
    w = rng.standard_normal((o, c, *k)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    gy = rng.standard_normal((n, o, *g.out_hw)).astype(dtype)
    b_adj = rng.standard_normal(c).astype(dtype)
    calls = _count_calls(monkeypatch, numba_kernels, "im2col_nhwc", "col2im_nhwc")
    fast = _three_kernels(x, w, b, gy, b_adj, g)
    assert calls["im2col_nhwc"] > 0 and calls["col2im_nhwc"] > 0, calls
    monkeypatch.setattr(compiled, "_numba_on", False)
    slow = _three_kernels(x, w, b, gy, b_adj, g)
    for a, s in zip(fast, slow):
        _assert_identical(a, s)


def _dcgan_step(seed: int) -> list[np.ndarray]:
    """A conv2d and a conv_transpose2d layer of the DCGAN workload, forward and backward."""
    rng = np.random.default_rng(seed)

    def t(*shape):
        return tg.Tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)

    x, w1, w2, b2 = t(9, 64, 14, 14), t(128, 64, 4, 4), t(128, 64, 4, 4), t(64)
    h = tg.conv2d(x, w1, stride=2, padding=1).relu()
    y = tg.conv_transpose2d(h, w2, b2, stride=2, padding=1)
    (y * y).sum().backward()
    return [y.detach().numpy()] + [p.grad.numpy() for p in (x, w1, w2, b2)]


def test_conv_layers_forward_and_backward_same_bits(numba_kernels, monkeypatch):
    fast = _dcgan_step(2)
    monkeypatch.setattr(compiled, "_numba_on", False)
    for a, s in zip(fast, _dcgan_step(2)):
        _assert_identical(a, s)


# ------------------------------------------------------------------ tiled max pool
def _nhwc_memory(a: np.ndarray) -> np.ndarray:
    """a (N, C, H, W) with the same values in (N, H, W, C) memory, as a convolution leaves it."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _pool_step(x: np.ndarray, gy: np.ndarray, k) -> list[np.ndarray]:
    xt = tg.Tensor(x, requires_grad=True)
    y, idx = tg.max_pool2d(xt, k, return_indices=True)
    y.backward(tg.Tensor(gy))
    return [y.detach().numpy(), idx.numpy(), xt.grad.numpy()]


def _tie_heavy(rng, shape, dtype) -> np.ndarray:
    """Few distinct values, so windows hold ties, with a NaN and +-0.0 among them."""
    x = rng.integers(-2, 3, shape).astype(dtype)
    x[x == 0] = np.where(rng.random(int((x == 0).sum())) < 0.5, -0.0, 0.0)
    x.flat[rng.integers(0, x.size, 3)] = np.nan
    return _nhwc_memory(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape,k", [((5, 8, 9, 11), 2), ((3, 16, 8, 8), 2), ((2, 3, 7, 8), (3, 2))]
)
def test_tiled_max_pool_same_bits_with_and_without_numba(
    numba_kernels, monkeypatch, shape, k, dtype
):
    rng = np.random.default_rng(4)
    kk = (k, k) if isinstance(k, int) else k
    out_shape = shape[:2] + (shape[2] // kk[0], shape[3] // kk[1])
    cases = [(_nhwc_memory(rng.standard_normal(shape).astype(dtype)), False)]
    cases.append((_tie_heavy(rng, shape, dtype), False))
    cases.append((cases[0][0], True))  # an infinite gradient: the exact (masked) path
    calls = _count_calls(monkeypatch, numba_kernels, "maxpool_tiled_nhwc", "maxpool_scatter_nhwc")
    for x, inf in cases:
        gy = _nhwc_memory(rng.standard_normal(out_shape).astype(dtype))
        if inf:
            gy[0, 0, 0, 0] = -np.inf
        fast = _pool_step(x, gy, k)
        with monkeypatch.context() as m:
            m.setattr(compiled, "_numba_on", False)
            slow = _pool_step(x, gy, k)
        y, ys = fast[0], slow[0]
        # A zero maximum held as both +0.0 and -0.0 may take either sign (see numba_kernels)
        zero = y == 0
        assert np.array_equal(ys == 0, zero) and np.array_equal(np.isnan(y), np.isnan(ys))
        _assert_identical(np.where(zero, 0, y), np.where(zero, 0, ys))
        for a, b in zip(fast[1:], slow[1:]):
            _assert_identical(a, b)
    assert calls["maxpool_tiled_nhwc"] == 3 and calls["maxpool_scatter_nhwc"] == 3, calls


def test_compiled_max_pool_matches_torch_to_second_order(numba_kernels):
    import torch
    import torch.nn.functional as F

    from helpers import check_second_order_vs_torch, check_vs_torch
    from tapegrad.autograd import gradgradcheck

    rng = np.random.default_rng(5)
    x = _nhwc_memory(rng.standard_normal((2, 8, 7, 9)))
    assert compiled.kernels_for(x) is not None and x.transpose(0, 2, 3, 1).flags.c_contiguous
    check_vs_torch(lambda a: tg.max_pool2d(a, 2), lambda a: F.max_pool2d(a, 2), [x])
    ties = _nhwc_memory(rng.integers(0, 3, (2, 8, 6, 6)).astype(np.float64))
    y, idx = tg.max_pool2d(tg.Tensor(ties), 2, return_indices=True)
    yt, idxt = F.max_pool2d(torch.tensor(ties), 2, return_indices=True)
    np.testing.assert_array_equal(y.numpy(), yt.numpy())
    np.testing.assert_array_equal(idx.numpy(), idxt.numpy())
    t = tg.Tensor(x, requires_grad=True)
    assert gradgradcheck(lambda a: tg.max_pool2d(a, 2) ** 2, [t])
    check_second_order_vs_torch(
        lambda a: tg.max_pool2d(a, 2) ** 2, lambda a: F.max_pool2d(a, 2) ** 2, [x]
    )


# --------------------------------------------------- channel sums (batch norm, biases)
def _zero_heavy(rng, shape) -> np.ndarray:
    """float32 values, half of them -0.0, and channel 0 all -0.0 (its sum must be +0.0)."""
    a = rng.standard_normal(shape).astype(np.float32) * 100
    a[rng.random(shape) < 0.5] = -0.0
    a[:, 0] = -0.0
    return a


@pytest.mark.parametrize("keepdims", [True, False])
@pytest.mark.parametrize("shape", [(64, 16, 8, 8), (20, 9, 7, 11), (33, 1, 6, 7)])
def test_channel_sums_same_bits_with_and_without_numba(numba_kernels, monkeypatch, shape, keepdims):
    from tapegrad.ops.namespace import _sum_f64

    rng = np.random.default_rng(6)
    calls = _count_calls(monkeypatch, numba_kernels, "channel_sums_f64")
    for a in (rng.standard_normal(shape).astype(np.float32) * 1e3, _zero_heavy(rng, shape)):
        a = _nhwc_memory(a)
        fast = _sum_f64(a, (0, 2, 3), keepdims)
        with monkeypatch.context() as m:
            m.setattr(compiled, "_numba_on", False)
            slow = _sum_f64(a, (0, 2, 3), keepdims)
        _assert_identical(fast, slow)
    assert calls["channel_sums_f64"] == 2, calls


def _bn_step(x: np.ndarray, gy: np.ndarray, w: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    ts = [tg.Tensor(a, requires_grad=True) for a in (x, w, b)]
    y = tg.batch_norm(ts[0], None, None, ts[1], ts[2], training=True)
    y.backward(tg.Tensor(gy))
    return [y.detach().numpy()] + [t.grad.numpy() for t in ts]


def test_channels_last_float32_batch_norm_same_bits_and_vs_torch(numba_kernels, monkeypatch):
    import torch.nn.functional as F

    from helpers import check_vs_torch

    rng = np.random.default_rng(7)
    x = _nhwc_memory(rng.standard_normal((32, 16, 8, 8)).astype(np.float32) * 3 + 1)
    gy = _nhwc_memory(rng.standard_normal(x.shape).astype(np.float32))
    w, b = (rng.standard_normal(16).astype(np.float32) for _ in range(2))
    names = ("channel_sums_f64", "centered_square_sums_f64", "normalize_rows")
    calls = _count_calls(monkeypatch, numba_kernels, *names)
    fast = _bn_step(x, gy, w, b)
    assert calls["channel_sums_f64"] >= 2, calls  # the mean, the gradients' sums
    assert calls["centered_square_sums_f64"] == calls["normalize_rows"] == 1, calls
    with monkeypatch.context() as m:
        m.setattr(compiled, "_numba_on", False)
        slow = _bn_step(x, gy, w, b)
    for a, s in zip(fast, slow):
        _assert_identical(a, s)
    check_vs_torch(
        lambda *a: tg.batch_norm(a[0], None, None, *a[1:], training=True),
        lambda *a: F.batch_norm(a[0], None, None, *a[1:], training=True),
        [x, w, b],
    )


# ------------------------------------------------------- the switch, in fresh processes
_PROBE = """
import numpy as np, sys, warnings
{prelude}
warnings.simplefilter("{warnings}")  # "error": any warning from here on fails the run
import tapegrad as tg
from tapegrad.ops import compiled
rng = np.random.default_rng(3)
x = tg.Tensor(rng.standard_normal((3, 8, 6, 5)).astype(np.float32))
w = tg.Tensor(rng.standard_normal((4, 8, 3, 3)).astype(np.float32))
{before_conv}
y = tg.conv2d(x, w, stride=2, padding=1).numpy()
print(json.dumps({{"status": compiled.numba_status(), "numba": "numba" in sys.modules,
                  "y": y.tobytes().hex()}}))
"""


def _probe(
    env: dict, prelude: str = "", before_conv: str = "", warnings: str = "error"
) -> subprocess.CompletedProcess:
    code = "import json\n" + _PROBE.format(
        prelude=prelude, before_conv=before_conv, warnings=warnings
    )
    full_env = {k: v for k, v in os.environ.items() if k != "TAPEGRAD_NUMBA"}
    full_env.update(PYTHONPATH=os.path.abspath(SRC), **env)
    return subprocess.run(
        [sys.executable, "-c", code], env=full_env, capture_output=True, text=True, timeout=120
    )


def _numpy_conv_bytes(monkeypatch) -> str:
    monkeypatch.setattr(compiled, "_numba_on", False)
    rng = np.random.default_rng(3)
    x = tg.Tensor(rng.standard_normal((3, 8, 6, 5)).astype(np.float32))
    w = tg.Tensor(rng.standard_normal((4, 8, 3, 3)).astype(np.float32))
    return tg.conv2d(x, w, stride=2, padding=1).numpy().tobytes().hex()


def test_switch_off_never_imports_numba(monkeypatch):
    r = _probe({"TAPEGRAD_NUMBA": "0"})
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "off (TAPEGRAD_NUMBA=0)" and not out["numba"]
    assert out["y"] == _numpy_conv_bytes(monkeypatch)


def test_without_numba_the_numpy_path_runs(monkeypatch):
    r = _probe({}, prelude="sys.modules['numba'] = None  # as if not installed")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "off (numba is not installed)"
    assert out["y"] == _numpy_conv_bytes(monkeypatch)
    # asking for it anyway: one warning naming the switch, and the same bits
    r = _probe({"TAPEGRAD_NUMBA": "1"}, prelude="sys.modules['numba'] = None", warnings="default")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("TAPEGRAD_NUMBA=1 but numba is not installed") == 1, r.stderr
    assert json.loads(r.stdout)["y"] == _numpy_conv_bytes(monkeypatch)


def test_bad_switch_value_is_named_and_ignored():
    r = _probe({"TAPEGRAD_NUMBA": "yes"}, warnings="default")
    assert r.returncode == 0, r.stderr
    assert "TAPEGRAD_NUMBA must be '0' or '1' (or unset), got 'yes'; it is ignored" in r.stderr
    assert json.loads(r.stdout)["status"] in ("on", "off (numba is not installed)")


def test_cli_names_a_bad_switch_without_a_traceback():
    env = {k: v for k, v in os.environ.items() if k != "TAPEGRAD_NUMBA"}
    env.update(PYTHONPATH=os.path.abspath(SRC), TAPEGRAD_NUMBA="2")
    r = subprocess.run(
        [sys.executable, "-m", "tapegrad.cli", "recipes"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "got '2'; it is ignored" in r.stderr and "Traceback" not in r.stderr
    assert "default" in r.stdout  # the command itself ran


def test_broken_numba_falls_back_with_one_warning(tmp_path, monkeypatch):
    (tmp_path / "numba").mkdir()
    (tmp_path / "numba" / "__init__.py").write_text("raise ImportError('built for another NumPy')")
    r = _probe(
        {},
        prelude=f"sys.path.insert(0, {str(tmp_path)!r})",
        before_conv="warnings.simplefilter('default')",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "off (numba failed to import: built for another NumPy)"
    assert r.stderr.count("RuntimeWarning") == 1, r.stderr
    assert out["y"] == _numpy_conv_bytes(monkeypatch)


def test_unwritable_cache_folders_compile_in_memory_quietly(numba_kernels, monkeypatch):
    # Every cache folder numba tries fails its write test, as in a read-only install
    # with a read-only home: the kernels must still compile, with no warning.
    prelude = textwrap.dedent("""
        import numba.core.caching as caching
        def _unwritable(self):
            raise PermissionError("read-only")
        caching._CacheLocator.ensure_cache_path = _unwritable
    """)
    r = _probe({}, prelude=prelude)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "on" and out["numba"] and r.stderr == "", r.stderr
    assert out["y"] == _numpy_conv_bytes(monkeypatch)
