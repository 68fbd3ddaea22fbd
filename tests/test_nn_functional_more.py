"""The nn.functional additions and their modules against PyTorch: values, gradients,
second order (1-D convolution and pooling, unfold/fold, pixel shuffle, normalize,
cosine similarity, one_hot, robust losses, KL divergence, instance norm, bicubic)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tapegrad as tg
import tapegrad.nn.functional as F
from helpers import check_second_order_vs_torch, check_vs_torch


def _n(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _prob(shape, seed=0):
    p = np.random.default_rng(seed).uniform(0.1, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


# name: (tapegrad f, torch f, arrays); every array requires grad
CASES = {
    "conv1d": (F.conv1d, TF.conv1d, [_n((2, 4, 9)), _n((6, 4, 3), 1), _n((6,), 2)]),
    "conv1d_args": (
        lambda x, w: F.conv1d(x, w, None, 2, 1, 2, 2),
        lambda x, w: TF.conv1d(x, w, None, 2, 1, 2, 2),
        [_n((2, 4, 11)), _n((6, 2, 3), 1)],
    ),
    "conv1d_same": (
        lambda x, w: F.conv1d(x, w, padding="same"),
        lambda x, w: TF.conv1d(x, w, padding="same"),
        [_n((4, 8)), _n((3, 4, 4), 1)],
    ),
    "max_pool1d": (
        lambda x: F.max_pool1d(x, 3, 2, 1),
        lambda x: TF.max_pool1d(x, 3, 2, 1),
        [_n((2, 3, 10))],
    ),
    "avg_pool1d": (
        lambda x: F.avg_pool1d(x, 3, 2, 1),
        lambda x: TF.avg_pool1d(x, 3, 2, 1),
        [_n((2, 3, 10))],
    ),
    "adaptive_avg_pool1d": (
        lambda x: F.adaptive_avg_pool1d(x, 4),
        lambda x: TF.adaptive_avg_pool1d(x, 4),
        [_n((2, 3, 10))],
    ),
    "unfold": (
        lambda x: F.unfold(x, (2, 3), 1, 1, (2, 1)),
        lambda x: TF.unfold(x, (2, 3), 1, 1, (2, 1)),
        [_n((2, 3, 5, 6))],
    ),
    "unfold_dil": (
        lambda x: F.unfold(x, 2, dilation=2),
        lambda x: TF.unfold(x, 2, dilation=2),
        [_n((1, 2, 5, 5))],
    ),
    "fold": (
        lambda c: F.fold(c, (5, 6), (2, 3), 1, 1, (2, 1)),
        lambda c: TF.fold(c, (5, 6), (2, 3), 1, 1, (2, 1)),
        [_n((2, 18, 18))],
    ),
    "pixel_shuffle": (
        lambda x: F.pixel_shuffle(x, 2),
        lambda x: TF.pixel_shuffle(x, 2),
        [_n((2, 8, 3, 4))],
    ),
    "pixel_unshuffle": (
        lambda x: F.pixel_unshuffle(x, 2),
        lambda x: TF.pixel_unshuffle(x, 2),
        [_n((2, 2, 4, 6))],
    ),
    "normalize": (F.normalize, TF.normalize, [_n((3, 4))]),
    "normalize_p1": (lambda x: F.normalize(x, 1, 0), lambda x: TF.normalize(x, 1, 0), [_n((3, 4))]),
    "cosine_similarity": (F.cosine_similarity, TF.cosine_similarity, [_n((3, 5)), _n((3, 5), 1)]),
    "cosine_similarity_bc": (
        lambda a, b: F.cosine_similarity(a, b, -1),
        lambda a, b: TF.cosine_similarity(a, b, -1),
        [_n((2, 3, 5)), _n((3, 5), 1)],
    ),
    "smooth_l1": (F.smooth_l1_loss, TF.smooth_l1_loss, [_n((4, 5)), _n((4, 5), 1)]),
    "smooth_l1_beta": (
        lambda a, b: F.smooth_l1_loss(a, b, "sum", 0.5),
        lambda a, b: TF.smooth_l1_loss(a, b, reduction="sum", beta=0.5),
        [_n((4, 5)), _n((4, 5), 1)],
    ),
    "huber": (F.huber_loss, TF.huber_loss, [_n((4, 5)), _n((4, 5), 1)]),
    "huber_none": (
        lambda a, b: F.huber_loss(a, b, "none", 0.7),
        lambda a, b: TF.huber_loss(a, b, reduction="none", delta=0.7),
        [_n((4, 5)), _n((4, 5), 1)],
    ),
    "kl_div_batchmean": (
        lambda a, b: F.kl_div(a, b, reduction="batchmean"),
        lambda a, b: TF.kl_div(a, b, reduction="batchmean"),
        [np.log(_prob((3, 4))), _prob((3, 4), 1)],
    ),
    "kl_div_zero_target": (
        lambda a, b: F.kl_div(a, b, reduction="sum"),
        lambda a, b: TF.kl_div(a, b, reduction="sum"),
        [np.log(_prob((2, 3))), np.array([[0.0, 0.4, 0.6], [1.0, 0.0, 0.0]])],
    ),
    "kl_div_log_target": (
        lambda a, b: F.kl_div(a, b, reduction="mean", log_target=True),
        lambda a, b: TF.kl_div(a, b, reduction="mean", log_target=True),
        [np.log(_prob((3, 4))), np.log(_prob((3, 4), 1))],
    ),
    "instance_norm": (
        lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
        lambda x, w, b: TF.instance_norm(x, weight=w, bias=b),
        [_n((2, 3, 4, 5)), _n((3,), 1), _n((3,), 2)],
    ),
    "bicubic": (
        lambda x: F.interpolate(x, (7, 9), mode="bicubic"),
        lambda x: TF.interpolate(x, (7, 9), mode="bicubic"),
        [_n((2, 2, 4, 5))],
    ),
    "bicubic_down_ac": (
        lambda x: F.interpolate(x, (3, 4), mode="bicubic", align_corners=True),
        lambda x: TF.interpolate(x, (3, 4), mode="bicubic", align_corners=True),
        [_n((1, 2, 6, 7))],
    ),
    "bicubic_scale": (
        lambda x: F.interpolate(x, scale_factor=1.5, mode="bicubic"),
        lambda x: TF.interpolate(x, scale_factor=1.5, mode="bicubic"),
        [_n((1, 1, 4, 6))],
    ),
}

# piecewise-linear in the inputs: nothing second-order to compare
FIRST_ORDER_ONLY = {
    "max_pool1d",
    "avg_pool1d",
    "adaptive_avg_pool1d",
    "unfold",
    "unfold_dil",
    "fold",
    "pixel_shuffle",
    "pixel_unshuffle",
    "bicubic",
    "bicubic_down_ac",
    "bicubic_scale",
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", CASES)
def test_functional_vs_torch(name, dtype):
    f, g, arrays = CASES[name]
    # at target 0, d(t log t)/dt is -inf: PyTorch gives NaN, tapegrad the finite -input
    grad = [True, False] if name == "kl_div_zero_target" else True
    check_vs_torch(f, g, [a.astype(dtype) for a in arrays], grad=grad)
    if dtype == np.float64 and name not in FIRST_ORDER_ONLY and grad is True:
        check_second_order_vs_torch(f, g, arrays)


def test_fold_is_the_adjoint_of_unfold():
    x, c = _n((1, 2, 5, 6)), _n((1, 2 * 6, 9), 1)
    u = F.unfold(tg.tensor(x), (2, 3), padding=1, stride=(2, 2)).numpy()
    f = F.fold(tg.tensor(c), (5, 6), (2, 3), padding=1, stride=(2, 2)).numpy()
    np.testing.assert_allclose((u * c).sum(), (x * f).sum(), rtol=1e-12)


@pytest.mark.parametrize("num_classes", [-1, 6])
def test_one_hot_vs_torch(num_classes):
    idx = np.array([[0, 3], [2, 1]])
    got = F.one_hot(tg.tensor(idx), num_classes)
    want = TF.one_hot(torch.tensor(idx), num_classes)
    assert got.dtype == tg.int64 and tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(ValueError, match="out of range for 2 classes"):
        F.one_hot(tg.tensor(idx), 2)


def test_instance_norm_running_stats_vs_torch():
    x = _n((4, 3, 5, 6), 0, np.float32)
    m_t = torch.nn.InstanceNorm2d(3, affine=True, track_running_stats=True)
    m_g = tg.nn.InstanceNorm2d(3, affine=True, track_running_stats=True)
    for _ in range(2):
        y_t, y_g = m_t(torch.tensor(x)), m_g(tg.tensor(x))
        np.testing.assert_allclose(y_g.detach().numpy(), y_t.detach().numpy(), atol=1e-5)
    for k in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(m_g, k).numpy(), getattr(m_t, k).numpy(), rtol=1e-5)
    m_t.eval(), m_g.eval()
    np.testing.assert_allclose(
        m_g(tg.tensor(x)).detach().numpy(), m_t(torch.tensor(x)).detach().numpy(), atol=1e-5
    )
    assert set(m_g.state_dict()) == set(m_t.state_dict())


MODULES = [
    ("Conv1d", lambda L: L.nn.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 9)),
    ("Conv1d_nobias", lambda L: L.nn.Conv1d(4, 4, 2, groups=2, bias=False), (2, 4, 7)),
    ("MaxPool1d", lambda L: L.nn.MaxPool1d(2), (2, 3, 8)),
    ("AvgPool1d", lambda L: L.nn.AvgPool1d(3, 1), (2, 3, 8)),
    ("AdaptiveAvgPool1d", lambda L: L.nn.AdaptiveAvgPool1d(3), (2, 3, 8)),
    ("InstanceNorm2d", lambda L: L.nn.InstanceNorm2d(3), (2, 3, 4, 4)),
    ("InstanceNorm1d", lambda L: L.nn.InstanceNorm1d(3, affine=True), (2, 3, 6)),
    ("Upsample_bicubic", lambda L: L.nn.Upsample(scale_factor=2, mode="bicubic"), (1, 2, 3, 3)),
    ("Upsample_nearest", lambda L: L.nn.Upsample(scale_factor=2), (1, 2, 3, 3)),
    ("PixelShuffle", lambda L: L.nn.PixelShuffle(2), (1, 8, 3, 3)),
    ("PixelUnshuffle", lambda L: L.nn.PixelUnshuffle(3), (1, 1, 6, 3)),
    ("Unfold", lambda L: L.nn.Unfold(2, padding=1), (1, 2, 4, 4)),
    ("SmoothL1Loss", lambda L: L.nn.SmoothL1Loss(beta=0.5), (3, 4)),
    ("HuberLoss", lambda L: L.nn.HuberLoss(delta=0.3), (3, 4)),
    ("KLDivLoss", lambda L: L.nn.KLDivLoss(reduction="batchmean"), (3, 4)),
]


@pytest.mark.parametrize("name, make, shape", MODULES)
def test_modules_vs_torch(name, make, shape):
    torch.manual_seed(0)
    m_t, m_g = make(torch), make(tg)
    if list(m_t.state_dict()):
        m_g.load_state_dict({k: v.numpy() for k, v in m_t.state_dict().items()})
        assert [tuple(p.shape) for p in m_g.parameters()] == [
            tuple(p.shape) for p in m_t.parameters()
        ]
    x = _n(shape, 0, np.float32)
    args_t, args_g = [torch.tensor(x, requires_grad=True)], [tg.tensor(x, requires_grad=True)]
    if name.endswith("Loss"):
        y = _n(shape, 1, np.float32)
        if name == "KLDivLoss":
            y = np.abs(y)
        args_t.append(torch.tensor(y)), args_g.append(tg.tensor(y))
    out_t, out_g = m_t(*args_t), m_g(*args_g)
    np.testing.assert_allclose(out_g.detach().numpy(), out_t.detach().numpy(), rtol=1e-4, atol=1e-5)
    out_t.sum().backward(), out_g.sum().backward()
    np.testing.assert_allclose(args_g[0].grad.numpy(), args_t[0].grad.numpy(), rtol=1e-4, atol=1e-5)
