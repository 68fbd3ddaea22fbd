"""Both convolution kernel layouts (channels-last and channel-major) against PyTorch.

Which kernels run depends on the channel count; these tests force each one on
every case of test_ops_conv (values and gradients, then second order), with
chunks of one or two samples so the chunk loop and the reused buffers are
exercised, and feed inputs in both memory orders. The channels-last kernels
run twice: with their compiled im2col/col2im where numba is installed
("channels_last"), and with the NumPy copies ("channels_last_numpy").
"""

import numpy as np
import pytest
import torch.nn.functional as F

import tapegrad as tg
from helpers import check_vs_torch
from tapegrad.autograd import gradgradcheck
from tapegrad.ops import compiled, conv_kernels
from test_ops_conv import CONV_CASES, CONVT_CASES, _arrays, _tensors

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


@pytest.fixture(params=["channels_last", "channels_last_numpy", "channel_major"])
def layout(request, monkeypatch):
    """Forces one kernel layout and small chunks; yields a counter of channels-last calls."""
    last = request.param.startswith("channels_last")
    if request.param == "channels_last_numpy":
        monkeypatch.setattr(compiled, "_numba_on", False)
    monkeypatch.setattr(conv_kernels, "_NHWC_MIN_C", 1 if last else 10**9)
    monkeypatch.setattr(conv_kernels, "_NHWC_COLS", 200)
    monkeypatch.setattr(conv_kernels, "_COLS_MAX", 500)
    calls = {"n": 0}
    for name in ("_conv_fwd_nhwc", "_conv_adj_nhwc", "_conv_wgrad_nhwc"):
        real = getattr(conv_kernels, name)

        def counted(*a, _real=real, **k):
            calls["n"] += 1
            return _real(*a, **k)

        monkeypatch.setattr(conv_kernels, name, counted)
    yield request.param, calls
    # grouped cases always take the channel-major kernels
    assert (calls["n"] > 0) == (last and calls.get("ungrouped", True)), calls


def _ungrouped(kw, calls):
    calls["ungrouped"] = kw.get("groups", 1) == 1


@pytest.mark.parametrize("xs,ws,kw", CONV_CASES)
def test_conv2d_both_layouts(layout, xs, ws, kw):
    _ungrouped(kw, layout[1])
    arrays = _arrays(40, np.float64, xs, ws, (ws[0],))
    check_vs_torch(lambda *a: tg.conv2d(*a, **kw), lambda *a: F.conv2d(*a, **kw), arrays)


@pytest.mark.parametrize("xs,ws,kw", CONVT_CASES)
def test_conv_transpose2d_both_layouts(layout, xs, ws, kw):
    _ungrouped(kw, layout[1])
    arrays = _arrays(41, np.float64, xs, ws, (ws[1] * kw.get("groups", 1),))
    check_vs_torch(
        lambda *a: tg.conv_transpose2d(*a, **kw), lambda *a: F.conv_transpose2d(*a, **kw), arrays
    )


@pytest.mark.parametrize("kw", [dict(stride=2, padding=1), dict(padding=1, dilation=2)])
def test_gradgradcheck_both_layouts(layout, kw):
    x, w, b = _tensors(42, (3, 2, 6, 5), (3, 2, 3, 3), (3,))
    assert gradgradcheck(lambda *a: tg.conv2d(*a, **kw), [x, w, b])
    xt, wt = _tensors(43, (3, 3, 4, 4), (3, 2, 3, 3))
    assert gradgradcheck(lambda *a: tg.conv_transpose2d(*a, **kw), [xt, wt])


@pytest.mark.parametrize("order", ["nchw", "nhwc", "cnhw"])
def test_float32_inputs_in_every_memory_order(layout, order):
    x, w, b = _arrays(44, np.float32, (5, 8, 7, 6), (6, 8, 4, 4), (6,))
    perm = {"nchw": (0, 1, 2, 3), "nhwc": (0, 2, 3, 1), "cnhw": (1, 0, 2, 3)}[order]
    inv = np.argsort(perm)
    xo = np.ascontiguousarray(x.transpose(perm)).transpose(inv)
    assert np.array_equal(xo, x)
    kw = dict(stride=2, padding=1)
    check_vs_torch(
        lambda *a: tg.conv2d(*a, **kw), lambda *a: F.conv2d(*a, **kw), [xo, w, b], atol=1e-4
    )
