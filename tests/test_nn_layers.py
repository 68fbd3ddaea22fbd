"""Every layer against PyTorch with identical weights: outputs, input gradients and
parameter gradients; default initialisation statistics; shape errors; modes.

Weights go from torch into tapegrad through NumPy (``load_state_dict``), and
for some layers the other way, so both directions of the state-dict bridge are
exercised too.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch

import tapegrad as tg
import tapegrad.nn as nn
import tapegrad.nn.functional as F
from tapegrad.autograd.gradcheck import gradcheck, gradgradcheck

DTYPES = [np.float32, np.float64]
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def tols(dtype, rtol64=1e-8):
    if np.dtype(dtype) == np.float32:
        return dict(rtol=1e-5, atol=1e-5)
    return dict(rtol=rtol64, atol=1e-10)


def close(a, b, what, **tol):
    a = np.asarray(a.data if isinstance(a, tg.Tensor) else a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, err_msg=what, **tol)


def sync(ours, theirs, dtype, direction="torch->tg"):
    """Same dtype and same weights in both modules."""
    ours.to(dtype)
    theirs.to(TORCH_DTYPE[np.dtype(dtype).type])
    if direction == "torch->tg":
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    else:
        theirs.load_state_dict(
            {k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()}
        )


def compare_layer(
    ours,
    theirs,
    x,
    dtype,
    direction="torch->tg",
    grad_x=True,
    rtol64=1e-8,
    forward_kw=None,
    seed=0,
):
    """Forward and backward the same input through both modules and compare everything."""
    sync(ours, theirs, dtype, direction)
    forward_kw = forward_kw or {}
    x = np.asarray(x)
    if x.dtype.kind == "f":
        x = x.astype(dtype)
    needs = grad_x and x.dtype.kind == "f"
    xo = tg.tensor(x, requires_grad=needs)
    xt = torch.tensor(x, requires_grad=needs)
    yo = ours(xo, **forward_kw)
    yt = theirs(xt, **forward_kw)
    tol = tols(dtype, rtol64)
    close(yo, yt, f"{ours!r} forward", **tol)
    assert yo.dtype == yt.detach().numpy().dtype
    g = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(dtype)
    yo.backward(tg.tensor(g))
    yt.backward(torch.tensor(g))
    if needs:
        close(xo.grad, xt.grad, f"{ours!r} input grad", **tol)
    named_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        q = named_t[name]
        assert (p.grad is None) == (q.grad is None), name
        if q.grad is not None:
            close(p.grad, q.grad, f"{ours!r} grad of {name}", **tol)
    return yo, yt


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ----------------------------------------------------------------- Linear


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 5), (5,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(dtype, shape, bias):
    compare_layer(nn.Linear(5, 3, bias=bias), torch.nn.Linear(5, 3, bias=bias), rand(*shape), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_weights_from_tapegrad_into_torch(dtype):
    compare_layer(nn.Linear(6, 4), torch.nn.Linear(6, 4), rand(3, 6), dtype, direction="tg->torch")


def test_linear_shape_error_names_layer_and_shapes():
    msg = "Linear(in_features=784, out_features=128): expected input (*, 784), got (64, 100)"
    with pytest.raises(
        ValueError, match=msg.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")
    ):
        nn.Linear(784, 128)(tg.zeros(64, 100))


def test_linear_second_order():
    lin = nn.Linear(3, 2, dtype=tg.float64)
    x = tg.tensor(rand(4, 3), requires_grad=True)
    assert gradgradcheck(lambda x, w: (tg.linear(x, w, lin.bias) ** 2).sum(), [x, lin.weight])


# ----------------------------------------------------------------- convolutions

CONV_CASES = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1),
    dict(in_channels=2, out_channels=4, kernel_size=(3, 2), stride=(1, 2), padding=(1, 0)),
    dict(in_channels=4, out_channels=6, kernel_size=3, dilation=2, groups=2, bias=False),
    dict(in_channels=3, out_channels=2, kernel_size=4, padding="same"),
    dict(in_channels=3, out_channels=2, kernel_size=3, padding="same", dilation=2),
    dict(in_channels=3, out_channels=2, kernel_size=3, padding="valid"),
    dict(in_channels=3, out_channels=2, kernel_size=3, padding=1, padding_mode="reflect"),
    dict(in_channels=3, out_channels=2, kernel_size=3, padding=(2, 1), padding_mode="replicate"),
    dict(in_channels=3, out_channels=2, kernel_size=3, padding=1, padding_mode="circular"),
    dict(in_channels=3, out_channels=2, kernel_size=4, padding="same", padding_mode="reflect"),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", CONV_CASES, ids=lambda kw: str(sorted(kw.items())))
def test_conv2d(dtype, kw):
    c = kw["in_channels"]
    compare_layer(nn.Conv2d(**kw), torch.nn.Conv2d(**kw), rand(2, c, 7, 6), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_unbatched_and_reverse_direction(dtype):
    compare_layer(
        nn.Conv2d(3, 2, 3, padding=1), torch.nn.Conv2d(3, 2, 3, padding=1), rand(3, 5, 5), dtype
    )
    compare_layer(
        nn.Conv2d(3, 2, 3), torch.nn.Conv2d(3, 2, 3), rand(2, 3, 5, 5), dtype, direction="tg->torch"
    )


def test_conv2d_errors():
    conv = nn.Conv2d(3, 16, 3)
    with pytest.raises(
        ValueError, match=r"Conv2d\(3, 16, .*expected input \(N, 3, H, W\).*got \(2, 4, 8, 8\)"
    ):
        conv(tg.zeros(2, 4, 8, 8))
    with pytest.raises(ValueError, match=r"got \(8, 8\)"):
        conv(tg.zeros(8, 8))
    with pytest.raises(ValueError, match="in_channels \\(3\\) must be divisible by groups \\(2\\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")


CONVT_CASES = [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1, output_padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 2), stride=(2, 1), groups=2, bias=False),
    dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, dilation=2, output_padding=1),
    dict(in_channels=4, out_channels=2, kernel_size=4, stride=2, padding=1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", CONVT_CASES, ids=lambda kw: str(sorted(kw.items())))
def test_conv_transpose2d(dtype, kw):
    c = kw["in_channels"]
    compare_layer(nn.ConvTranspose2d(**kw), torch.nn.ConvTranspose2d(**kw), rand(2, c, 4, 5), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_transpose2d_output_size(dtype):
    kw = dict(in_channels=3, out_channels=2, kernel_size=3, stride=2, padding=1)
    yo, _ = compare_layer(
        nn.ConvTranspose2d(**kw),
        torch.nn.ConvTranspose2d(**kw),
        rand(2, 3, 4, 5),
        dtype,
        forward_kw=dict(output_size=[8, 10]),
    )
    assert yo.shape == (2, 2, 8, 10)
    with pytest.raises(ValueError, match="requested an output size of \\(11, 10\\)"):
        nn.ConvTranspose2d(**kw)(tg.zeros(2, 3, 4, 5), output_size=(11, 10))


def test_conv_transpose2d_errors():
    with pytest.raises(ValueError, match="zeros"):
        nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(3, 4.*got \(1, 2, 5, 5\)"):
        nn.ConvTranspose2d(3, 4, 3)(tg.zeros(1, 2, 5, 5))


# ----------------------------------------------------------------- pooling and resizing


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=(2, 3), stride=1),
        dict(kernel_size=3, stride=2, ceil_mode=True),
        dict(kernel_size=2, dilation=2),
    ],
    ids=str,
)
def test_maxpool2d(dtype, kw):
    # distinct values: ties would make the argmax (and the gradient) ambiguous
    x = np.random.default_rng(0).permutation(2 * 3 * 7 * 8).reshape(2, 3, 7, 8) / 10.0
    compare_layer(nn.MaxPool2d(**kw), torch.nn.MaxPool2d(**kw), x, dtype)


def test_maxpool2d_return_indices():
    x = np.random.default_rng(1).permutation(2 * 3 * 6 * 6).reshape(2, 3, 6, 6).astype(np.float64)
    yo, io = nn.MaxPool2d(2, return_indices=True)(tg.tensor(x))
    yt, it = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    close(yo, yt, "values", rtol=0, atol=0)
    np.testing.assert_array_equal(io._array, it.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "kw",
    [
        dict(kernel_size=2),
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
        dict(kernel_size=3, stride=2, ceil_mode=True),
        dict(kernel_size=2, divisor_override=3),
    ],
    ids=str,
)
def test_avgpool2d(dtype, kw):
    compare_layer(nn.AvgPool2d(**kw), torch.nn.AvgPool2d(**kw), rand(2, 3, 7, 8), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size", [1, (1, 1), (3, 2), 5, (None, 2)], ids=str)
def test_adaptive_avgpool2d(dtype, size):
    compare_layer(
        nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), rand(2, 3, 7, 6), dtype
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "kw",
    [
        dict(scale_factor=2),
        dict(size=(5, 7)),
        dict(scale_factor=2, mode="bilinear", align_corners=False),
        dict(scale_factor=2, mode="bilinear", align_corners=True),
        dict(size=(7, 3), mode="bilinear", align_corners=False),
    ],
    ids=str,
)
def test_upsample(dtype, kw):
    compare_layer(nn.Upsample(**kw), torch.nn.Upsample(**kw), rand(2, 3, 4, 5), dtype)


def test_pool_input_errors():
    for layer in (nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1)):
        with pytest.raises(
            ValueError, match=r"expected input \(N, C, H, W\) or \(C, H, W\), got \(4, 4\)"
        ):
            layer(tg.zeros(4, 4))
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        nn.Upsample()


# ----------------------------------------------------------------- activations

ACTS = [
    ("ReLU", (), {}),
    ("LeakyReLU", (0.2,), {}),
    ("ELU", (), {"alpha": 0.7}),
    ("SELU", (), {}),
    ("GELU", (), {}),
    ("GELU", (), {"approximate": "tanh"}),
    ("Sigmoid", (), {}),
    ("Tanh", (), {}),
    ("Softplus", (), {}),
    ("Softplus", (), {"beta": 2.0, "threshold": 1.0}),
    ("SiLU", (), {}),
    ("Hardtanh", (-2.0, 0.5), {}),
    ("ReLU6", (), {}),
    ("Softmax", (), {"dim": 1}),
    ("Softmax", (), {"dim": -1}),
    ("LogSoftmax", (), {"dim": 1}),
    ("LogSoftmax", (), {"dim": 0}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,args,kw", ACTS, ids=lambda v: str(v))
def test_activation_modules(dtype, name, args, kw):
    x = 3 * rand(3, 4, 5)
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    compare_layer(ours, theirs, x, dtype, rtol64=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 3])
def test_prelu(dtype, n):
    compare_layer(nn.PReLU(n), torch.nn.PReLU(n), rand(2, 3, 4), dtype)
    assert repr(nn.PReLU(n)) == repr(torch.nn.PReLU(n))


def test_softmax_implicit_dim_matches_torch():
    x = rand(2, 3, 4)
    with pytest.warns(UserWarning):
        yo = nn.Softmax()(tg.tensor(x))
    with pytest.warns(UserWarning):
        yt = torch.nn.Softmax()(torch.tensor(x))
    close(yo, yt, "softmax implicit dim", rtol=1e-12, atol=0)


def test_inplace_relu_overwrites_its_input_like_torch():
    m = nn.ReLU(inplace=True)
    x, xt = tg.tensor([-1.0, 2.0]), torch.tensor([-1.0, 2.0])
    y, yt = m(x), torch.nn.ReLU(inplace=True)(xt)
    assert repr(m) == "ReLU(inplace=True)" == repr(torch.nn.ReLU(inplace=True))
    assert y is x and yt is xt
    np.testing.assert_array_equal(x._array, xt.numpy())


# ----------------------------------------------------------------- dropout


def test_dropout_train_and_eval():
    d = nn.Dropout(0.3)
    x = tg.ones(200, 100)
    y = d(x)._array
    frac = (y == 0).mean()
    assert abs(frac - 0.3) < 5 * math.sqrt(0.3 * 0.7 / y.size)
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    d.eval()
    assert np.array_equal(d(x)._array, x._array)
    d.train()
    assert (d(x)._array == 0).any()


def test_dropout_gradient_uses_the_same_mask():
    x = tg.tensor(rand(50, 40), requires_grad=True)
    y = nn.Dropout(0.5)(x)
    y.backward(tg.ones(50, 40))
    keep = y._array != 0
    np.testing.assert_allclose(x.grad._array, keep * 2.0)


def test_dropout2d_zeroes_whole_channels():
    d = nn.Dropout2d(0.5)
    y = d(tg.ones(8, 16, 4, 4))._array
    per_channel = y.reshape(8, 16, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))
    assert 0 < (per_channel == 0).all(-1).mean() < 1
    d.eval()
    assert np.all(d(tg.ones(2, 3, 4, 4))._array == 1)


def test_sequential_eval_toggles_dropout():
    m = nn.Sequential(nn.Linear(10, 10), nn.Dropout(0.9))
    x = tg.tensor(rand(20, 10))
    m.eval()
    a, b = m(x)._array, m(x)._array
    np.testing.assert_array_equal(a, b)
    m.train()
    assert (m(x)._array == 0).mean() > 0.5


def test_dropout_bad_p():
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


# ----------------------------------------------------------------- embedding


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_repeated_indices_and_padding(dtype, padding_idx):
    idx = np.array([[1, 2, 1, 4], [4, 4, 0, 2]])
    ours = nn.Embedding(6, 3, padding_idx=padding_idx)
    theirs = torch.nn.Embedding(6, 3, padding_idx=padding_idx)
    compare_layer(ours, theirs, idx, dtype, grad_x=False)
    if padding_idx is not None:
        assert np.all(ours.weight.grad._array[padding_idx] == 0)
    assert repr(ours) == repr(theirs)


def test_embedding_accepts_tensor_indices_and_1d():
    emb = nn.Embedding(5, 2)
    y = emb(tg.tensor([3, 3, 0]))
    assert y.shape == (3, 2)
    np.testing.assert_array_equal(y._array[0], emb.weight.data[3])


def test_embedding_max_norm_matches_torch():
    ours, theirs = nn.Embedding(5, 4, max_norm=1.0), torch.nn.Embedding(5, 4, max_norm=1.0)
    sync(ours, theirs, np.float64)
    idx = np.array([0, 2, 2])
    yo, yt = ours(tg.tensor(idx)), theirs(torch.tensor(idx))
    close(yo, yt, "max_norm output", rtol=1e-6, atol=1e-9)
    close(ours.weight, theirs.weight, "max_norm renormalised weight", rtol=1e-6, atol=1e-9)


def test_embedding_errors():
    with pytest.raises(IndexError, match="index out of range"):
        nn.Embedding(3, 2)(tg.tensor([0, 3]))
    with pytest.raises(TypeError, match="indices must be integers"):
        nn.Embedding(3, 2)(tg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx 5"):
        nn.Embedding(3, 2, padding_idx=5)


def test_embedding_from_pretrained():
    w = rand(4, 3)
    emb = nn.Embedding.from_pretrained(tg.tensor(w))
    assert not emb.weight.requires_grad
    np.testing.assert_array_equal(emb(tg.tensor([1]))._array[0], w[1])
    assert nn.Embedding.from_pretrained(tg.tensor(w), freeze=False).weight.requires_grad


def test_embedding_gradcheck_and_second_order():
    idx = tg.tensor([[0, 2], [2, 1]])
    w = tg.tensor(rand(3, 2), requires_grad=True)
    assert gradcheck(lambda w: F.embedding(idx, w), [w])
    # padding_idx deliberately stops a true dependence (as in PyTorch), so only the
    # consistency of the backward with its own derivative is checked there
    assert gradgradcheck(lambda w: (F.embedding(idx, w) ** 3).sum(), [w])
    assert gradgradcheck(lambda w: (F.embedding(idx, w, padding_idx=2) ** 3).sum(), [w])


def test_embedding_padding_row_with_values_and_second_order_match_torch():
    """A non-zero padding row is looked up as it is, gets no gradient, at any order."""
    w0 = rand(5, 3)
    idx = np.array([[1, 3, 3], [0, 3, 1]])
    wo = tg.tensor(w0, requires_grad=True)
    wt = torch.tensor(w0, requires_grad=True)
    yo = F.embedding(tg.tensor(idx), wo, padding_idx=3)
    yt = torch.nn.functional.embedding(torch.tensor(idx), wt, padding_idx=3)
    close(yo, yt, "embedding with padding row", rtol=0, atol=0)
    (go,) = tg.grad((yo**3).sum(), [wo], create_graph=True)
    (gt,) = torch.autograd.grad((yt**3).sum(), [wt], create_graph=True)
    close(go, gt, "first derivative", rtol=1e-12, atol=1e-12)
    assert np.all(go._array[3] == 0)
    (ggo,) = tg.grad((go * go).sum(), [wo])
    (ggt,) = torch.autograd.grad((gt * gt).sum(), [wt])
    close(ggo, ggt, "second derivative", rtol=1e-10, atol=1e-12)


def test_embedding_max_norm_gradient_matches_torch():
    ours, theirs = nn.Embedding(6, 4, max_norm=0.5), torch.nn.Embedding(6, 4, max_norm=0.5)
    sync(ours, theirs, np.float64)
    idx = np.array([[0, 2, 2], [5, 0, 1]])
    yo, yt = ours(tg.tensor(idx)), theirs(torch.tensor(idx))
    (yo * yo).sum().backward()
    (yt * yt).sum().backward()
    close(ours.weight.grad, theirs.weight.grad, "max_norm gradient", rtol=1e-10, atol=1e-12)


def test_embedding_sparse_gradients_are_refused():
    # PyTorch returns a sparse .grad; tapegrad has no sparse tensors, so it says so.
    torch.nn.Embedding(4, 2, sparse=True)  # valid there
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.Embedding(4, 2, sparse=True)


# ----------------------------------------------------------------- losses


def compare_loss(ours, theirs, x, target, dtype, rtol64=1e-10, grad_target=False):
    x = x.astype(dtype)
    if target.dtype.kind == "f":
        target = target.astype(dtype)
    ours.to(dtype)
    theirs.to(TORCH_DTYPE[np.dtype(dtype).type])
    xo, xt = tg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    to_, tt = (
        tg.tensor(target, requires_grad=grad_target),
        torch.tensor(target, requires_grad=grad_target),
    )
    lo, lt = ours(xo, to_), theirs(xt, tt)
    tol = tols(dtype, rtol64)
    close(lo, lt, f"{ours!r} value", **tol)
    g = np.random.default_rng(1).standard_normal(tuple(lt.shape)).astype(dtype)
    lo.backward(tg.tensor(g))
    lt.backward(torch.tensor(g))
    close(xo.grad, xt.grad, f"{ours!r} input grad", **tol)
    if grad_target:
        close(to_.grad, tt.grad, f"{ours!r} target grad", **tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(dtype, reduction):
    x, t = rand(4, 3), rand(4, 3, seed=1)
    for name in ("MSELoss", "L1Loss"):
        compare_loss(
            getattr(nn, name)(reduction=reduction),
            getattr(torch.nn, name)(reduction=reduction),
            x,
            t,
            dtype,
            grad_target=True,
        )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_losses(dtype, reduction):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 3)) * 2
    probs = 1 / (1 + np.exp(-logits))
    t = rng.uniform(size=(5, 3))
    w = rng.uniform(0.5, 2, size=3)
    pw = rng.uniform(0.5, 3, size=3)
    compare_loss(
        nn.BCELoss(reduction=reduction), torch.nn.BCELoss(reduction=reduction), probs, t, dtype
    )
    compare_loss(
        nn.BCELoss(weight=tg.tensor(w), reduction=reduction),
        torch.nn.BCELoss(weight=torch.tensor(w), reduction=reduction),
        probs,
        t,
        dtype,
    )
    compare_loss(
        nn.BCEWithLogitsLoss(weight=tg.tensor(w), reduction=reduction, pos_weight=tg.tensor(pw)),
        torch.nn.BCEWithLogitsLoss(
            weight=torch.tensor(w), reduction=reduction, pos_weight=torch.tensor(pw)
        ),
        logits,
        t,
        dtype,
    )


def test_bce_with_logits_buffers_like_torch():
    ours = nn.BCEWithLogitsLoss(pos_weight=tg.ones(3))
    theirs = torch.nn.BCEWithLogitsLoss(pos_weight=torch.ones(3))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["pos_weight"]
    assert list(nn.CrossEntropyLoss(weight=tg.ones(3)).state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    ours.double()
    assert ours.pos_weight.dtype == np.float64


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"reduction": "sum"},
        {"reduction": "none"},
        {"ignore_index": 1},
        {"weight": True},
        {"weight": True, "ignore_index": 0, "reduction": "mean"},
        {"label_smoothing": 0.2},
        {"label_smoothing": 0.1, "weight": True, "ignore_index": 2},
    ],
    ids=str,
)
@pytest.mark.parametrize("shape", [(6, 4), (2, 4, 3, 2)], ids=str)
def test_cross_entropy_and_nll(dtype, kw, shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    t = rng.integers(0, shape[1], size=(shape[0],) + shape[2:])
    kw = dict(kw)
    w = rng.uniform(0.5, 2, size=shape[1])
    kw_o, kw_t = dict(kw), dict(kw)
    if kw.get("weight"):
        kw_o["weight"], kw_t["weight"] = tg.tensor(w), torch.tensor(w)
    compare_loss(nn.CrossEntropyLoss(**kw_o), torch.nn.CrossEntropyLoss(**kw_t), x, t, dtype)
    if "label_smoothing" not in kw:
        logp = x - np.log(np.exp(x).sum(1, keepdims=True))
        compare_loss(nn.NLLLoss(**kw_o), torch.nn.NLLLoss(**kw_t), logp, t, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_probability_targets(dtype):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4))
    p = rng.uniform(size=(5, 4))
    p /= p.sum(1, keepdims=True)
    compare_loss(
        nn.CrossEntropyLoss(label_smoothing=0.1),
        torch.nn.CrossEntropyLoss(label_smoothing=0.1),
        x,
        p,
        dtype,
    )


def test_loss_bad_reduction():
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of"):
        nn.MSELoss(reduction="avg")


# ----------------------------------------------------------------- shape modules


@pytest.mark.parametrize("dtype", DTYPES)
def test_flatten_unflatten_identity(dtype):
    x = rand(2, 3, 4, 5)
    compare_layer(nn.Flatten(), torch.nn.Flatten(), x, dtype)
    compare_layer(nn.Flatten(0, 2), torch.nn.Flatten(0, 2), x, dtype)
    compare_layer(nn.Unflatten(1, (3, 1)), torch.nn.Unflatten(1, (3, 1)), x, dtype)
    compare_layer(nn.Unflatten(-1, (-1, 5)), torch.nn.Unflatten(-1, (-1, 5)), x, dtype)
    compare_layer(nn.Identity(54, foo=1), torch.nn.Identity(54, foo=1), x, dtype)
    assert repr(nn.Unflatten(1, (2, 5))) == repr(torch.nn.Unflatten(1, (2, 5)))
    assert repr(nn.Flatten(0, 2)) == repr(torch.nn.Flatten(0, 2))


def test_unflatten_error():
    with pytest.raises(ValueError, match=r"cannot split dim 1 of size 6 into \(4, 2\)"):
        nn.Unflatten(1, (4, 2))(tg.zeros(2, 6))


# ----------------------------------------------------------------- a whole model


def cnn(lib):
    return lib.Sequential(
        lib.Conv2d(1, 4, 3, padding=1),
        lib.ReLU(),
        lib.MaxPool2d(2),
        lib.Conv2d(4, 6, 3, stride=2, bias=False),
        lib.LeakyReLU(0.1),
        lib.Dropout(0.5),
        lib.Flatten(),
        lib.Linear(6 * 1 * 1, 8),
        lib.Tanh(),
        lib.Linear(8, 3),
        lib.LogSoftmax(dim=1),
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_small_cnn_end_to_end_in_eval_mode(dtype):
    ours, theirs = cnn(nn).eval(), cnn(torch.nn).eval()
    compare_layer(ours, theirs, rand(3, 1, 6, 6), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_on_model_matches_torch(dtype):
    ours, theirs = cnn(nn).eval(), cnn(torch.nn).eval()
    sync(ours, theirs, dtype)
    x = rand(4, 1, 6, 6).astype(dtype)
    t = np.array([0, 2, 1, 2])
    lo = nn.NLLLoss()(ours(tg.tensor(x)), tg.tensor(t))
    lt = torch.nn.NLLLoss()(theirs(torch.tensor(x)), torch.tensor(t))
    lo.backward()
    lt.backward()
    tol = tols(dtype)
    close(lo, lt, "loss", **tol)
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        close(p.grad, q.grad, n, **tol)


# ----------------------------------------------------------------- default initialisation


def check_uniform(a, bound):
    n = a.size
    assert np.abs(a).max() <= bound
    assert np.abs(a).max() > bound * (1 - 10 / n)
    assert abs(a.mean()) < 5 * bound / math.sqrt(3 * n)
    assert abs(a.var() - bound**2 / 3) < 5 * bound**2 / 3 * math.sqrt(0.8 / n)


def test_linear_default_init_follows_torch_formula():
    lin = nn.Linear(300, 400)
    bound = 1 / math.sqrt(300)  # kaiming_uniform_(a=sqrt(5)) gives exactly this bound
    check_uniform(lin.weight._array, bound)
    b = nn.Linear(300, 4000).bias._array
    check_uniform(b, bound)
    assert lin.weight.dtype == np.float32


@pytest.mark.parametrize("groups", [1, 2])
def test_conv_default_init_follows_torch_formula(groups):
    conv = nn.Conv2d(16, 64, 5, groups=groups)
    fan_in = 16 // groups * 25
    check_uniform(conv.weight._array, 1 / math.sqrt(fan_in))
    convt = nn.ConvTranspose2d(64, 32, 4, groups=groups)
    # torch computes the transposed conv's fan_in from weight dim 1: out_channels // groups
    fan_in_t = 32 // groups * 16
    check_uniform(convt.weight._array, 1 / math.sqrt(fan_in_t))
    assert np.abs(convt.bias.data).max() <= 1 / math.sqrt(fan_in_t)
    tw = torch.nn.ConvTranspose2d(64, 32, 4, groups=groups).weight
    assert abs(tw.abs().max().item() - convt.weight.data.__abs__().max()) < 0.01 / math.sqrt(
        fan_in_t
    )


def test_embedding_default_init_standard_normal():
    emb = nn.Embedding(500, 100, padding_idx=3)
    w = emb.weight.data
    assert np.all(w[3] == 0)
    rest = np.delete(w, 3, axis=0)
    assert abs(rest.mean()) < 5 / math.sqrt(rest.size)
    assert abs(rest.var() - 1) < 5 * math.sqrt(2 / rest.size)


def test_reset_parameters_uses_tapegrad_rng():
    tg.manual_seed(7)
    a = nn.Linear(4, 3).weight._array.copy()
    tg.manual_seed(7)
    b = nn.Linear(4, 3).weight._array.copy()
    np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------- functional namespace


def test_functional_reexports():
    names = [
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
        "sigmoid",
        "tanh",
        "softplus",
        "silu",
        "hardtanh",
        "softmax",
        "log_softmax",
        "linear",
        "conv2d",
        "conv_transpose2d",
        "max_pool2d",
        "avg_pool2d",
        "adaptive_avg_pool2d",
        "interpolate",
        "dropout",
        "dropout2d",
        "mse_loss",
        "l1_loss",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        "cross_entropy",
        "nll_loss",
        "pad",
        "embedding",
    ]
    missing = [n for n in names if not callable(getattr(F, n, None))]
    assert not missing, f"nn.functional lacks {missing}"
    x = rand(3, 4)
    close(F.relu(tg.tensor(x)), torch.nn.functional.relu(torch.tensor(x)), "F.relu", rtol=0, atol=0)


def test_state_dict_roundtrip_preserves_outputs():
    a, b = cnn(nn).eval(), cnn(nn).eval()
    x = tg.tensor(rand(2, 1, 6, 6).astype(np.float32))
    b.load_state_dict(OrderedDict((k, v.numpy().copy()) for k, v in a.state_dict().items()))
    np.testing.assert_array_equal(a(x)._array, b(x)._array)
