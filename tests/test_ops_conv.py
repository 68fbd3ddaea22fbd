"""conv2d, conv_transpose2d, pools and interpolate against torch.nn.functional.

Values and gradients in float64 (1e-6) and float32 (1e-4), second order with
gradgradcheck (input, weight and bias together) and Hessian-vector products
against PyTorch's double backward, and the error messages.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tapegrad as tg
from helpers import check_second_order_vs_torch, check_vs_torch, noncontig
from tapegrad.autograd import gradgradcheck

DTYPES = [np.float64, np.float32]

# PyTorch warns that it copies the input for 'same' padding with even kernels.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _arrays(seed, dtype, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _tensors(seed, *shapes):
    return [tg.Tensor(a, requires_grad=True) for a in _arrays(seed, np.float64, *shapes)]


# ------------------------------------------------------------------ conv2d
# (x shape, weight shape, keyword arguments)
CONV_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), {}),
    ((2, 3, 7, 6), (4, 3, 3, 3), dict(padding=1)),
    ((2, 3, 8, 9), (5, 3, 3, 2), dict(stride=2, padding=(1, 0))),
    ((1, 2, 9, 7), (3, 2, 2, 3), dict(stride=(2, 1), padding=(0, 2), dilation=(2, 1))),
    ((2, 4, 7, 7), (6, 2, 3, 3), dict(groups=2, padding=1)),
    ((2, 6, 6, 5), (6, 1, 3, 3), dict(groups=6, stride=2, padding=1, dilation=1)),
    ((2, 4, 9, 8), (4, 2, 3, 2), dict(groups=2, stride=2, padding=2, dilation=2)),
    ((2, 3, 6, 7), (4, 3, 3, 3), dict(padding="same")),
    ((2, 3, 6, 7), (4, 3, 2, 4), dict(padding="same", dilation=(1, 2))),
    ((2, 3, 6, 7), (4, 3, 3, 3), dict(padding="valid")),
    ((2, 3, 5, 5), (4, 3, 1, 1), {}),
    ((1, 1, 4, 4), (1, 1, 4, 4), {}),
    ((3, 2, 5, 6), (2, 2, 5, 6), dict(padding=(2, 1), stride=3)),
    # strided, with kernel offsets whose every window lies in the padding
    ((2, 2, 1, 2), (3, 2, 3, 3), dict(padding=2, stride=2)),
    ((2, 2, 3, 4), (3, 2, 3, 2), dict(padding=(2, 1), stride=(3, 2), dilation=(2, 1))),
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs,ws,kw", CONV_CASES)
def test_conv2d_float64(xs, ws, kw, bias):
    arrays = _arrays(0, np.float64, xs, ws) + (_arrays(1, np.float64, (ws[0],)) if bias else [])
    check_vs_torch(lambda *a: tg.conv2d(*a, **kw), lambda *a: F.conv2d(*a, **kw), arrays)


@pytest.mark.parametrize("xs,ws,kw", CONV_CASES[::2])
def test_conv2d_float32(xs, ws, kw):
    arrays = _arrays(2, np.float32, xs, ws, (ws[0],))
    check_vs_torch(lambda *a: tg.conv2d(*a, **kw), lambda *a: F.conv2d(*a, **kw), arrays)


def test_conv2d_noncontiguous_and_unbatched():
    x, w, b = _arrays(3, np.float64, (2, 3, 6, 5), (4, 3, 3, 2), (4,))
    x, w = noncontig(x), noncontig(w)
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    kw = dict(stride=(1, 2), padding=1)
    check_vs_torch(lambda *a: tg.conv2d(*a, **kw), lambda *a: F.conv2d(*a, **kw), [x, w, b])
    check_vs_torch(lambda *a: tg.conv2d(*a, **kw), lambda *a: F.conv2d(*a, **kw), [x[0], w, b])


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_dcgan_shapes(dtype):
    # DCGAN discriminator layer Conv(64, 128, 4, 2, 1) on 14x14 (batch cut to keep it quick).
    arrays = _arrays(4, dtype, (4, 64, 14, 14), (128, 64, 4, 4), (128,))
    arrays[1] /= 32  # a realistic init scale (1/sqrt(fan_in)) keeps float32 sums O(1)
    kw = dict(stride=2, padding=1)
    check_vs_torch(lambda *a: tg.conv2d(*a, **kw), lambda *a: F.conv2d(*a, **kw), arrays)


def test_conv2d_benchmark_shapes_forward():
    for xs, ws in [((4, 1, 28, 28), (32, 1, 3, 3)), ((4, 32, 14, 14), (64, 32, 3, 3))]:
        arrays = _arrays(5, np.float32, xs, ws, (ws[0],))
        arrays[1] /= np.sqrt(np.prod(ws[1:]))
        # The weight gradient sums ~800 products of size ~1: float32 rounding is ~1e-5 of it.
        check_vs_torch(
            lambda *a: tg.conv2d(*a, padding=1),
            lambda *a: F.conv2d(*a, padding=1),
            arrays,
            atol=1e-4,
        )


def test_conv_large_batches_are_chunked_with_the_same_result(monkeypatch):
    from tapegrad.ops import conv_kernels as conv

    monkeypatch.setattr(conv, "_COLS_MAX", 500)  # forces chunks of a few samples
    x, w, b = _arrays(30, np.float64, (5, 3, 6, 5), (4, 3, 3, 2), (4,))
    kw = dict(stride=2, padding=1)
    check_vs_torch(lambda *a: tg.conv2d(*a, **kw), lambda *a: F.conv2d(*a, **kw), [x, w, b])
    wt = _arrays(31, np.float64, (3, 4, 3, 2))[0]
    check_vs_torch(
        lambda *a: tg.conv_transpose2d(*a, **kw),
        lambda *a: F.conv_transpose2d(*a, **kw),
        [x, wt, b],
    )
    # grouped, and a wide kernel whose col2im puts the batch innermost
    x, w = _arrays(32, np.float64, (5, 4, 6, 5), (6, 2, 3, 3))
    kw = dict(groups=2, padding=1)
    check_vs_torch(lambda *a: tg.conv2d(*a, **kw), lambda *a: F.conv2d(*a, **kw), [x, w])
    x, w = _arrays(33, np.float64, (5, 2, 4, 4), (2, 3, 4, 4))
    kw = dict(stride=2, padding=1)
    check_vs_torch(
        lambda *a: tg.conv_transpose2d(*a, **kw), lambda *a: F.conv_transpose2d(*a, **kw), [x, w]
    )
    xs, ws = _tensors(34, (4, 2, 5, 5), (3, 2, 3, 3))
    assert gradgradcheck(lambda a, b: tg.conv2d(a, b, padding=1), [xs, ws])


def test_conv2d_float32_stays_float32():
    x = tg.randn(2, 3, 5, 5, requires_grad=True)
    w = tg.randn(4, 3, 3, 3, requires_grad=True)
    y = tg.conv2d(x, w, tg.zeros(4), padding=1)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32 and w.grad.dtype == np.float32


# ---------------------------------------------------------- conv_transpose2d
CONVT_CASES = [
    ((2, 4, 5, 6), (4, 3, 3, 3), {}),
    ((2, 4, 5, 6), (4, 3, 3, 4), dict(stride=2, padding=1, output_padding=1)),
    ((2, 3, 4, 5), (3, 2, 3, 2), dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 2))),
    ((1, 4, 3, 4), (4, 2, 3, 3), dict(groups=2, stride=2, dilation=2, output_padding=1)),
    ((2, 6, 4, 4), (6, 1, 3, 3), dict(groups=3, padding=1)),
    ((2, 2, 3, 3), (2, 3, 2, 2), dict(dilation=(2, 3), output_padding=(1, 2))),
    ((1, 2, 4, 4), (2, 2, 4, 4), dict(stride=2, padding=1)),
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs,ws,kw", CONVT_CASES)
def test_conv_transpose2d_float64(xs, ws, kw, bias):
    g = kw.get("groups", 1)
    arrays = _arrays(6, np.float64, xs, ws) + (_arrays(7, np.float64, (ws[1] * g,)) if bias else [])
    check_vs_torch(
        lambda *a: tg.conv_transpose2d(*a, **kw), lambda *a: F.conv_transpose2d(*a, **kw), arrays
    )


@pytest.mark.parametrize("xs,ws,kw", CONVT_CASES[1::2])
def test_conv_transpose2d_float32(xs, ws, kw):
    g = kw.get("groups", 1)
    arrays = _arrays(8, np.float32, xs, ws, (ws[1] * g,))
    check_vs_torch(
        lambda *a: tg.conv_transpose2d(*a, **kw), lambda *a: F.conv_transpose2d(*a, **kw), arrays
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_transpose2d_dcgan_shape(dtype):
    # DCGAN generator layer ConvTranspose(128, 64, 4, 2, 1): 7x7 -> 14x14.
    arrays = _arrays(9, dtype, (4, 128, 7, 7), (128, 64, 4, 4), (64,))
    arrays[1] /= 32
    kw = dict(stride=2, padding=1)
    check_vs_torch(
        lambda *a: tg.conv_transpose2d(*a, **kw), lambda *a: F.conv_transpose2d(*a, **kw), arrays
    )


def test_conv_transpose2d_noncontiguous_and_unbatched():
    x, w, b = _arrays(10, np.float64, (2, 3, 4, 5), (3, 2, 3, 3), (2,))
    x, w = noncontig(x), noncontig(w)
    kw = dict(stride=2, padding=1, output_padding=1)
    f_tg, f_t = lambda *a: tg.conv_transpose2d(*a, **kw), lambda *a: F.conv_transpose2d(*a, **kw)
    check_vs_torch(f_tg, f_t, [x, w, b])
    check_vs_torch(f_tg, f_t, [x[1], w, b])


# ---------------------------------------------------------- second order
GG_CONV = [
    dict(stride=2, padding=1),
    dict(padding=(1, 0), dilation=2),
    dict(groups=2, stride=(1, 2), padding=1),
]


@pytest.mark.parametrize("kw", GG_CONV)
def test_conv2d_gradgradcheck_input_weight_bias(kw):
    g = kw.get("groups", 1)
    x, w, b = _tensors(11, (1, 2, 5, 5), (2, 2 // g, 2, 3), (2,))
    assert gradgradcheck(lambda x, w, b: tg.conv2d(x, w, b, **kw), [x, w, b])


@pytest.mark.parametrize(
    "kw",
    [
        dict(stride=2, padding=1, output_padding=1),
        dict(padding=(1, 0), dilation=2, output_padding=1),
        dict(groups=2, stride=(1, 2), padding=1, output_padding=(0, 1)),
    ],
)
def test_conv_transpose2d_gradgradcheck_input_weight_bias(kw):
    g = kw.get("groups", 1)
    x, w, b = _tensors(12, (1, 2, 3, 3), (2, 4 // g, 2, 3), (4,))
    assert gradgradcheck(lambda x, w, b: tg.conv_transpose2d(x, w, b, **kw), [x, w, b])


def test_conv_second_order_matches_torch_for_weights():
    # Curvature through the weight (d2/dw2 and d2/dx dw of a nonlinear loss), compared
    # with PyTorch's double backward: the case a naive conv backward gets wrong.
    x, w, b = _arrays(13, np.float64, (2, 4, 6, 5), (4, 2, 3, 2), (4,))
    kw = dict(stride=2, padding=1, dilation=(1, 2), groups=2)
    check_second_order_vs_torch(
        lambda x, w, b: tg.conv2d(x, w, b, **kw).tanh(),
        lambda x, w, b: F.conv2d(x, w, b, **kw).tanh(),
        [x, w, b],
    )
    x, w, b = _arrays(14, np.float64, (2, 4, 3, 3), (4, 3, 3, 2), (6,))
    kw = dict(stride=2, padding=1, output_padding=1, groups=2)
    check_second_order_vs_torch(
        lambda x, w, b: tg.conv_transpose2d(x, w, b, **kw).tanh(),
        lambda x, w, b: F.conv_transpose2d(x, w, b, **kw).tanh(),
        [x, w, b],
    )


def test_conv2d_third_order_via_weight_gradient():
    # The weight-gradient node's own backward is made of conv ops: differentiate twice more.
    x, w = _tensors(15, (1, 2, 4, 4), (2, 2, 2, 2))
    xt = torch.tensor(x._array, requires_grad=True)
    wt = torch.tensor(w._array, requires_grad=True)
    (gw,) = tg.grad((tg.conv2d(x, w, stride=2) ** 2).sum(), [w], create_graph=True)
    (gwt,) = torch.autograd.grad((F.conv2d(xt, wt, stride=2) ** 2).sum(), [wt], create_graph=True)
    (gx,) = tg.grad((gw**2).sum(), [x], create_graph=True)
    (gxt,) = torch.autograd.grad((gwt**2).sum(), [xt], create_graph=True)
    np.testing.assert_allclose(gx._array, gxt.detach().numpy(), rtol=1e-6)
    (gw3,) = tg.grad((gx**2).sum(), [w])
    (gw3t,) = torch.autograd.grad((gxt**2).sum(), [wt])
    np.testing.assert_allclose(gw3._array, gw3t.numpy(), rtol=1e-6)


# ---------------------------------------------------------------- max_pool2d
POOL_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), ceil_mode=True),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=(3, 2), stride=2, dilation=(2, 1), padding=1),
    # windows that tile the input (stride == kernel): the fast path
    dict(kernel_size=(2, 3), stride=(2, 3)),
    dict(kernel_size=3),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", POOL_CASES)
def test_max_pool2d_matches_torch(kw, dtype):
    (x,) = _arrays(16, dtype, (2, 3, 7, 8))
    check_vs_torch(lambda a: tg.max_pool2d(a, **kw), lambda a: F.max_pool2d(a, **kw), [x])


@pytest.mark.parametrize("kw", POOL_CASES)
def test_max_pool2d_indices_and_ties_follow_torch(kw):
    # Few distinct values: windows hold ties, so the argmax rule decides the gradient.
    x = np.random.default_rng(17).integers(0, 3, (2, 2, 7, 8)).astype(np.float64)
    y, idx = tg.max_pool2d(tg.Tensor(x), return_indices=True, **kw)
    yt, idxt = F.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(y._array, yt.numpy())
    np.testing.assert_array_equal(idx._array, idxt.numpy())
    assert idx.dtype == np.int64
    check_vs_torch(lambda a: tg.max_pool2d(a, **kw), lambda a: F.max_pool2d(a, **kw), [x])


def test_max_pool2d_unbatched_noncontiguous_and_gradgrad():
    (x,) = _arrays(18, np.float64, (3, 6, 7))
    x = noncontig(x)
    check_vs_torch(lambda a: tg.max_pool2d(a, 2), lambda a: F.max_pool2d(a, 2), [x])
    y, idx = tg.max_pool2d(tg.Tensor(x), 3, 2, 1, return_indices=True)
    yt, idxt = F.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(idx._array, idxt.numpy())
    (t,) = _tensors(19, (1, 2, 5, 5))
    assert gradgradcheck(lambda a: tg.max_pool2d(a, 3, 2, 1), [t])
    assert gradgradcheck(lambda a: tg.max_pool2d(a, 2, ceil_mode=True), [t])
    check_second_order_vs_torch(
        lambda a: tg.max_pool2d(a, 3, 1) ** 2, lambda a: F.max_pool2d(a, 3, 1) ** 2, [t._array]
    )


def test_tiled_max_pool2d_second_order_and_ties():
    # stride == kernel takes the tiled path; its scatter/gather pair must be each
    # other's adjoint for second derivatives, and ties must go to the first maximum.
    (t,) = _tensors(20, (2, 2, 6, 7))
    assert gradgradcheck(lambda a: tg.max_pool2d(a, 2) ** 2, [t])
    check_second_order_vs_torch(
        lambda a: tg.max_pool2d(a, 2) ** 2, lambda a: F.max_pool2d(a, 2) ** 2, [t._array]
    )
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 0, 1] = 1.0  # two maxima in the first window
    xt = tg.Tensor(x, requires_grad=True)
    tg.max_pool2d(xt, 2).sum().backward()
    xr = torch.tensor(x, requires_grad=True)
    F.max_pool2d(xr, 2).sum().backward()
    np.testing.assert_array_equal(xt.grad._array, xr.grad.numpy())
    # An infinite upstream gradient lands on its argmax cell only (no inf * 0 = NaN).
    x = np.random.default_rng(21).standard_normal((2, 3, 4, 6))
    g = np.ones((2, 3, 2, 3))
    g[0, 0, 0, 0] = np.inf
    xt = tg.Tensor(x, requires_grad=True)
    (gx,) = tg.grad(tg.max_pool2d(xt, 2), [xt], tg.Tensor(g))
    xr = torch.tensor(x, requires_grad=True)
    (gr,) = torch.autograd.grad(F.max_pool2d(xr, 2), [xr], torch.tensor(g))
    np.testing.assert_array_equal(gx._array, gr.numpy())


# ---------------------------------------------------------------- avg_pool2d
AVG_CASES = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, stride=1, divisor_override=3),
    dict(kernel_size=3),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", AVG_CASES)
def test_avg_pool2d_matches_torch(kw, dtype):
    (x,) = _arrays(20, dtype, (2, 3, 7, 8))
    check_vs_torch(lambda a: tg.avg_pool2d(a, **kw), lambda a: F.avg_pool2d(a, **kw), [x])


def test_avg_pool2d_unbatched_noncontiguous_and_gradgrad():
    (x,) = _arrays(21, np.float64, (3, 6, 7))
    x = noncontig(x)
    check_vs_torch(lambda a: tg.avg_pool2d(a, 3, 2, 1), lambda a: F.avg_pool2d(a, 3, 2, 1), [x])
    (t,) = _tensors(22, (1, 2, 5, 5))
    assert gradgradcheck(lambda a: tg.avg_pool2d(a, 2), [t])
    assert gradgradcheck(
        lambda a: tg.avg_pool2d(a, 3, 2, 1, ceil_mode=True, count_include_pad=False), [t]
    )


# ------------------------------------------------------- adaptive_avg_pool2d
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [(3, 4), (7, 2), 1, (5, 3), (4, 6), (None, 3), 8])
def test_adaptive_avg_pool2d_matches_torch(size, dtype):
    (x,) = _arrays(23, dtype, (2, 3, 7, 8))
    check_vs_torch(
        lambda a: tg.adaptive_avg_pool2d(a, size), lambda a: F.adaptive_avg_pool2d(a, size), [x]
    )


def test_adaptive_avg_pool2d_unbatched_and_gradgrad():
    (x,) = _arrays(24, np.float64, (3, 5, 7))
    f_tg, f_t = (
        lambda a: tg.adaptive_avg_pool2d(a, (2, 3)),
        lambda a: F.adaptive_avg_pool2d(a, (2, 3)),
    )
    check_vs_torch(f_tg, f_t, [noncontig(x)])
    (t,) = _tensors(25, (1, 2, 5, 4))
    assert gradgradcheck(lambda a: tg.adaptive_avg_pool2d(a, (3, 3)), [t])
    assert gradgradcheck(lambda a: tg.adaptive_avg_pool2d(a, (1, 2)), [t])


# ---------------------------------------------------------------- interpolate
INTERP_CASES = [
    dict(scale_factor=2),
    dict(scale_factor=3),
    dict(scale_factor=(2, 1)),
    dict(scale_factor=1.7),
    dict(scale_factor=0.5),
    dict(scale_factor=(1.5, 0.75)),
    dict(size=(14, 16)),
    dict(size=(5, 13)),
    dict(size=4),
    dict(size=(9, 11), mode="nearest-exact"),
    dict(scale_factor=1.5, mode="nearest-exact"),
    dict(size=(14, 3), mode="bilinear"),
    dict(scale_factor=2, mode="bilinear"),
    dict(scale_factor=(2.3, 0.6), mode="bilinear"),
    dict(size=(9, 9), mode="bilinear", align_corners=True),
    dict(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True),
    dict(size=(3, 5), mode="area"),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", INTERP_CASES)
def test_interpolate_matches_torch(kw, dtype):
    (x,) = _arrays(26, dtype, (2, 3, 7, 8))
    check_vs_torch(lambda a: tg.interpolate(a, **kw), lambda a: F.interpolate(a, **kw), [x])


@pytest.mark.parametrize(
    "kw",
    [
        dict(scale_factor=2),
        dict(size=11),
        dict(size=5, mode="linear"),
        dict(scale_factor=2.5, mode="linear", align_corners=True),
    ],
)
def test_interpolate_3d_input(kw):
    (x,) = _arrays(27, np.float64, (2, 3, 7))
    check_vs_torch(lambda a: tg.interpolate(a, **kw), lambda a: F.interpolate(a, **kw), [x])


def test_interpolate_noncontiguous_upsample_alias_and_gradgrad():
    (x,) = _arrays(28, np.float64, (2, 3, 5, 6))
    x = noncontig(x)
    check_vs_torch(
        lambda a: tg.upsample(a, scale_factor=2), lambda a: F.interpolate(a, scale_factor=2), [x]
    )
    check_vs_torch(
        lambda a: tg.upsample(a, size=(7, 9), mode="bilinear"),
        lambda a: F.interpolate(a, size=(7, 9), mode="bilinear"),
        [x],
    )
    (t,) = _tensors(29, (1, 2, 3, 4))
    assert gradgradcheck(lambda a: tg.interpolate(a, scale_factor=2), [t])
    assert gradgradcheck(lambda a: tg.interpolate(a, size=(5, 3)), [t])
    assert gradgradcheck(lambda a: tg.interpolate(a, scale_factor=1.5, mode="bilinear"), [t])
    check_second_order_vs_torch(
        lambda a: tg.interpolate(a, scale_factor=2) ** 3,
        lambda a: F.interpolate(a, scale_factor=2) ** 3,
        [t._array],
    )


# ---------------------------------------------------------------- errors
def test_conv_errors_name_shapes():
    with pytest.raises(
        ValueError,
        match=r"conv2d: input \(8, 3, 32, 32\) has 3 channels but weight \(16, 4, 3, 3\) "
        r"expects 4 \(groups=1\)",
    ):
        tg.conv2d(tg.zeros(8, 3, 32, 32), tg.zeros(16, 4, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: expected a 3-D .* got shape \(3, 32\)"):
        tg.conv2d(tg.zeros(3, 32), tg.zeros(16, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: input \(1, 3, 8, 8\) has 3 channels, not "):
        tg.conv2d(tg.zeros(1, 3, 8, 8), tg.zeros(4, 1, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"conv2d: weight \(3, 2, 3, 3\) has 3 output chan"):
        tg.conv2d(tg.zeros(1, 4, 8, 8), tg.zeros(3, 2, 3, 3), groups=2)
    with pytest.raises(
        ValueError, match=r"conv2d: kernel \(5, 5\) .* larger than the padded input \(4, 4\)"
    ):
        tg.conv2d(tg.zeros(1, 1, 4, 4), tg.zeros(1, 1, 5, 5))
    with pytest.raises(ValueError, match=r"conv2d: padding='same' needs stride 1"):
        tg.conv2d(tg.zeros(1, 1, 4, 4), tg.zeros(1, 1, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match=r"conv2d: bias \(3,\) should have shape \(2,\)"):
        tg.conv2d(tg.zeros(1, 1, 4, 4), tg.zeros(2, 1, 3, 3), tg.zeros(3))
    with pytest.raises(TypeError, match=r"conv2d: stride must be an int or a pair"):
        tg.conv2d(tg.zeros(1, 1, 4, 4), tg.zeros(2, 1, 3, 3), stride=(1, 2, 3))
    with pytest.raises(
        ValueError,
        match=r"conv_transpose2d: output_padding \(2, 2\) must be smaller than stride \(2, 2\)",
    ):
        tg.conv_transpose2d(tg.zeros(1, 1, 4, 4), tg.zeros(1, 1, 3, 3), stride=2, output_padding=2)
    with pytest.raises(
        ValueError,
        match=r"conv_transpose2d: input \(1, 3, 4, 4\) has 3 channels but weight "
        r"\(2, 1, 3, 3\) expects 2",
    ):
        tg.conv_transpose2d(tg.zeros(1, 3, 4, 4), tg.zeros(2, 1, 3, 3))
    with pytest.raises(ValueError, match=r"conv_transpose2d: expected a 3-D .* \(4, 4\)"):
        tg.conv_transpose2d(tg.zeros(4, 4), tg.zeros(2, 1, 3, 3))


def test_pool_and_interpolate_errors():
    x = tg.zeros(1, 1, 5, 5)
    with pytest.raises(ValueError, match=r"max_pool2d: padding \(2, 2\) should be at most half"):
        tg.max_pool2d(x, 3, padding=2)
    with pytest.raises(ValueError, match=r"max_pool2d: input \(1, 1, 5, 5\) is too small"):
        tg.max_pool2d(x, 7)
    with pytest.raises(ValueError, match=r"avg_pool2d: expected a 3-D .* \(5, 5\)"):
        tg.avg_pool2d(tg.zeros(5, 5), 2)
    with pytest.raises(ValueError, match=r"interpolate: give exactly one of size and scale"):
        tg.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match=r"interpolate: mode 'trilinear' is not supported"):
        tg.interpolate(x, size=3, mode="trilinear")
    with pytest.raises(ValueError, match=r"interpolate: mode 'bilinear' does not take a 3-D"):
        tg.interpolate(tg.zeros(1, 1, 5), size=3, mode="bilinear")
    with pytest.raises(ValueError, match=r"interpolate: align_corners can only be set"):
        tg.interpolate(x, size=3, align_corners=True)
