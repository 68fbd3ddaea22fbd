"""Losses against torch.nn.functional: values, gradients, second order, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tapegrad as tg
from helpers import check_second_order_vs_torch, check_vs_torch, noncontig
from tapegrad.autograd import gradgradcheck

DTYPES = [np.float64, np.float32]
REDUCTIONS = ["mean", "sum", "none"]
SHAPES = [(5,), (4, 3), (2, 3, 4)]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _probs(rng, shape, dtype):
    """Probabilities kept away from 0 and 1, where BCE's gradient is well conditioned."""
    return (0.05 + 0.9 * rng.random(shape)).astype(dtype)


def _t(a, requires_grad=False):
    return tg.Tensor(a, requires_grad=requires_grad)


# ------------------------------------------------------------ mse and l1
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"], ids=["mse", "l1"])
def test_regression_losses_vs_torch(name, shape, reduction, dtype):
    rng = _rng()
    x = rng.standard_normal(shape).astype(dtype)
    t = rng.standard_normal(shape).astype(dtype)
    f_tg, f_t = getattr(tg, name), getattr(F, name)
    check_vs_torch(
        lambda a, b: f_tg(a, b, reduction=reduction),
        lambda a, b: f_t(a, b, reduction=reduction),
        [noncontig(x), t],
    )


def test_l1_gradient_at_ties_is_zero_like_torch():
    x = np.array([1.0, 2.0, 3.0])
    t = np.array([1.0, 0.0, 3.0])
    check_vs_torch(tg.l1_loss, F.l1_loss, [x, t])


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_regression_losses_second_order(name):
    rng = _rng(1)
    x = _t(rng.standard_normal((3, 2)), True)
    t = _t(rng.standard_normal((3, 2)), True)
    for red in REDUCTIONS:
        assert gradgradcheck(lambda a, b, r=red: getattr(tg, name)(a, b, reduction=r), [x, t])
    check_second_order_vs_torch(
        lambda a, b: tg.mse_loss(a, b) * tg.mse_loss(a, b),
        lambda a, b: F.mse_loss(a, b) * F.mse_loss(a, b),
        [x._array, t._array],
    )


def test_empty_mean_is_nan_like_torch():
    out = tg.mse_loss(tg.zeros(0), tg.zeros(0))
    assert np.isnan(out.item()) and np.isnan(F.mse_loss(torch.zeros(0), torch.zeros(0)).item())


# ------------------------------------------------------------------ BCE
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_vs_torch(weighted, reduction, dtype):
    rng = _rng(2)
    x = _probs(rng, (4, 5), dtype)
    t = rng.random((4, 5)).astype(dtype)
    w = rng.random(5).astype(dtype) if weighted else None
    check_vs_torch(
        lambda a, b: tg.binary_cross_entropy(a, b, None if w is None else _t(w), reduction),
        lambda a, b: F.binary_cross_entropy(
            a, b, None if w is None else torch.tensor(w), reduction=reduction
        ),
        [noncontig(x), t],
    )


def test_binary_cross_entropy_clamps_logs_at_minus_100():
    x = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    t = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    out = tg.binary_cross_entropy(_t(x), _t(t), reduction="none")
    # an impossible prediction costs 100, a certain correct one 0 (by the definition)
    np.testing.assert_allclose(out._array, [100.0, 100.0, 0.0, 0.0, np.log(2.0)], rtol=1e-12)
    check_vs_torch(
        lambda a, b: tg.binary_cross_entropy(a, b, reduction="sum"),
        lambda a, b: F.binary_cross_entropy(a, b, reduction="sum"),
        [x, t],
        grad=[True, False],
    )


def test_binary_cross_entropy_second_order():
    rng = _rng(3)
    x = _t(_probs(rng, (2, 3), np.float64), True)
    t = _t(rng.random((2, 3)), True)
    w = _t(rng.random(3))
    for red in REDUCTIONS:
        assert gradgradcheck(
            lambda a, b, r=red: tg.binary_cross_entropy(a, b, w, reduction=r), [x, t]
        )
    check_second_order_vs_torch(
        lambda a, b: tg.binary_cross_entropy(a, b, w, reduction="sum"),
        lambda a, b: F.binary_cross_entropy(a, b, torch.tensor(w._array), reduction="sum"),
        [x._array, t._array],
    )


# ------------------------------------------------------ BCE with logits
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos", [False, True])
def test_bce_with_logits_vs_torch(pos, weighted, reduction, dtype):
    rng = _rng(4)
    x = (3 * rng.standard_normal((6, 4))).astype(dtype)
    t = rng.random((6, 4)).astype(dtype)
    w = rng.random((6, 1)).astype(dtype) if weighted else None
    pw = (0.5 + 2 * rng.random(4)).astype(dtype) if pos else None

    def f_tg(a, b):
        return tg.binary_cross_entropy_with_logits(
            a, b, None if w is None else _t(w), reduction, None if pw is None else _t(pw)
        )

    def f_t(a, b):
        return F.binary_cross_entropy_with_logits(
            a,
            b,
            None if w is None else torch.tensor(w),
            reduction=reduction,
            pos_weight=None if pw is None else torch.tensor(pw),
        )

    check_vs_torch(f_tg, f_t, [noncontig(x), t])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pos", [False, True])
def test_bce_with_logits_extreme_logits_are_finite_and_exact(pos, dtype):
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0, 50.0, -50.0, 0.0], dtype=dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.3, 0.7, 0.5], dtype=dtype)
    pw = np.full(7, 3.0, dtype=dtype) if pos else None
    xt = _t(x, True)
    out = tg.binary_cross_entropy_with_logits(
        xt, _t(t), reduction="none", pos_weight=None if pw is None else _t(pw)
    )
    assert np.all(np.isfinite(out._array))
    check_vs_torch(
        lambda a, b: tg.binary_cross_entropy_with_logits(
            a, b, reduction="none", pos_weight=None if pw is None else _t(pw)
        ),
        lambda a, b: F.binary_cross_entropy_with_logits(
            a, b, reduction="none", pos_weight=None if pw is None else torch.tensor(pw)
        ),
        [x, t],
    )
    # a wrong logit of 1000 costs exactly 1000 (not inf): independently derived
    assert out._array[2] == pytest.approx(1000.0) and out._array[0] == 0.0


def test_bce_with_logits_is_one_node():
    x = tg.randn(3, 4, requires_grad=True)
    loss = tg.binary_cross_entropy_with_logits(x, tg.rand(3, 4))
    assert loss.grad_fn.next_edges[0][0] is x  # fed by the leaf directly: one fused Function


def test_bce_with_logits_second_order():
    rng = _rng(5)
    x = _t(2 * rng.standard_normal((3, 2)), True)
    t = _t(rng.random((3, 2)), True)
    pw = _t(np.array([0.5, 2.0]))
    w = _t(rng.random((3, 1)))
    for red in REDUCTIONS:
        for p in (None, pw):
            assert gradgradcheck(
                lambda a, b, r=red, p=p: tg.binary_cross_entropy_with_logits(
                    a, b, w, reduction=r, pos_weight=p
                ),
                [x, t],
            )
    check_second_order_vs_torch(
        lambda a, b: tg.binary_cross_entropy_with_logits(a, b, pos_weight=pw),
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=torch.tensor(pw._array)),
        [x._array, t._array],
    )


# -------------------------------------------------------- cross-entropy
CLASS_SHAPES = [(6, 4), (3, 4, 5), (2, 4, 3, 2), (4,)]


def _class_target(rng, x_shape, ignore=False):
    c = x_shape[0] if len(x_shape) == 1 else x_shape[1]
    t_shape = () if len(x_shape) == 1 else (x_shape[0],) + x_shape[2:]
    t = rng.integers(0, c, t_shape)
    if ignore and t.ndim:
        t.reshape(-1)[::3] = -1
    return t


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", CLASS_SHAPES, ids=str)
@pytest.mark.parametrize(
    "weighted,ignore,smoothing",
    [
        (False, False, 0.0),
        (True, False, 0.0),
        (False, True, 0.0),
        (True, True, 0.15),
        (False, False, 0.3),
    ],
)
def test_cross_entropy_class_indices_vs_torch(weighted, ignore, smoothing, shape, reduction, dtype):
    rng = _rng(6)
    x = (2 * rng.standard_normal(shape)).astype(dtype)
    t = _class_target(rng, shape, ignore)
    c = shape[0] if len(shape) == 1 else shape[1]
    w = (0.2 + rng.random(c)).astype(dtype) if weighted else None
    ii = -1 if ignore else -100

    def f_tg(a, b):
        w_ = None if w is None else _t(w)
        return tg.cross_entropy(a, b, w_, ii, reduction, smoothing)

    def f_t(a, b):
        w_ = None if w is None else torch.tensor(w)
        return F.cross_entropy(
            a, b, w_, ignore_index=ii, reduction=reduction, label_smoothing=smoothing
        )

    check_vs_torch(f_tg, f_t, [noncontig(x), t])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", CLASS_SHAPES, ids=str)
@pytest.mark.parametrize("weighted,smoothing", [(False, 0.0), (True, 0.0), (True, 0.2)])
def test_cross_entropy_probabilities_vs_torch(weighted, smoothing, shape, reduction, dtype):
    rng = _rng(7)
    x = (2 * rng.standard_normal(shape)).astype(dtype)
    q = rng.random(shape)
    q = (q / q.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)).astype(dtype)
    c = shape[0] if len(shape) == 1 else shape[1]
    w = (0.2 + rng.random(c)).astype(dtype) if weighted else None
    check_vs_torch(
        lambda a, b: tg.cross_entropy(
            a, b, None if w is None else _t(w), reduction=reduction, label_smoothing=smoothing
        ),
        lambda a, b: F.cross_entropy(
            a,
            b,
            None if w is None else torch.tensor(w),
            reduction=reduction,
            label_smoothing=smoothing,
        ),
        [x, q],  # the gradient with respect to the target probabilities is compared too
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_extreme_logits(dtype):
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]], dtype=dtype)
    t = np.array([1, 2])
    out = tg.cross_entropy(_t(x), _t(t), reduction="none")
    assert np.all(np.isfinite(out._array))
    # -log softmax: 2000 for the first row, log(1 + e^-1) ~ 1.3133 for the second
    np.testing.assert_allclose(out._array, [2000.0, 1.0 + np.log1p(np.exp(-1.0))], rtol=1e-6)
    check_vs_torch(
        lambda a, b: tg.cross_entropy(a, b, label_smoothing=0.1),
        lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1),
        [x, t],
    )


def test_cross_entropy_all_ignored_mean_is_nan_like_torch():
    x = np.zeros((2, 3))
    t = np.array([-100, -100])
    a = tg.cross_entropy(_t(x), _t(t))
    b = F.cross_entropy(torch.tensor(x), torch.tensor(t))
    assert np.isnan(a.item()) and np.isnan(b.item())


def test_cross_entropy_is_one_node():
    x = tg.randn(3, 4, requires_grad=True)
    loss = tg.cross_entropy(x, tg.tensor([0, 3, 1]))
    assert loss.grad_fn.next_edges[0][0] is x


def test_cross_entropy_second_order():
    rng = _rng(8)
    x = _t(rng.standard_normal((3, 4, 2)), True)
    t = _t(np.array([[0, 3], [-100, 1], [2, 2]]))
    w = _t(0.5 + rng.random(4))
    for red in REDUCTIONS:
        assert gradgradcheck(
            lambda a, r=red: tg.cross_entropy(a, t, w, reduction=r, label_smoothing=0.1), [x]
        )
    q = rng.random((3, 4))
    q = _t(q / q.sum(1, keepdims=True), True)
    x2 = _t(rng.standard_normal((3, 4)), True)
    assert gradgradcheck(lambda a, b: tg.cross_entropy(a, b, w, label_smoothing=0.2), [x2, q])
    check_second_order_vs_torch(
        lambda a: tg.cross_entropy(a, t, w, label_smoothing=0.1),
        lambda a: F.cross_entropy(
            a, torch.tensor(t._array), torch.tensor(w._array), label_smoothing=0.1
        ),
        [x._array],
    )


# ------------------------------------------------------------------ NLL
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", CLASS_SHAPES, ids=str)
@pytest.mark.parametrize("weighted,ignore", [(False, False), (True, False), (True, True)])
def test_nll_loss_vs_torch(weighted, ignore, shape, reduction, dtype):
    rng = _rng(9)
    logp = torch.log_softmax(
        torch.tensor(rng.standard_normal(shape)), dim=0 if len(shape) == 1 else 1
    )
    x = logp.numpy().astype(dtype)
    t = _class_target(rng, shape, ignore)
    c = shape[0] if len(shape) == 1 else shape[1]
    w = (0.2 + rng.random(c)).astype(dtype) if weighted else None
    ii = -1 if ignore else -100
    check_vs_torch(
        lambda a, b: tg.nll_loss(a, b, None if w is None else _t(w), ii, reduction),
        lambda a, b: F.nll_loss(
            a, b, None if w is None else torch.tensor(w), ignore_index=ii, reduction=reduction
        ),
        [noncontig(x), t],
    )


def test_nll_loss_second_order():
    rng = _rng(10)
    x = _t(rng.standard_normal((4, 3)), True)
    t = _t(np.array([0, 2, 1, -100]))
    assert gradgradcheck(lambda a: tg.nll_loss(a, t, _t(np.array([1.0, 2.0, 0.5]))), [x])
    # nll of log_softmax(a * a) has a non-zero Hessian, and must equal cross_entropy's
    check_second_order_vs_torch(
        lambda a: tg.nll_loss(tg.log(a * a + 1.0), t),
        lambda a: F.nll_loss(torch.log(a * a + 1.0), torch.tensor(t._array)),
        [x._array],
    )


# ---------------------------------------------------------------- errors
def test_invalid_reduction_names_valid_ones():
    x = tg.randn(3)
    for f in (tg.mse_loss, tg.l1_loss, tg.binary_cross_entropy_with_logits):
        with pytest.raises(ValueError, match=r"reduction must be one of 'mean', 'sum', 'none'"):
            f(x, x, reduction="avg")
    with pytest.raises(ValueError, match="cross_entropy: reduction must be one of"):
        tg.cross_entropy(tg.randn(2, 3), tg.tensor([0, 1]), reduction="elementwise_mean")


@pytest.mark.parametrize(
    "name",
    ["mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits"],
)
def test_shape_mismatch_names_both_shapes(name):
    with pytest.raises(ValueError, match=rf"{name}: target shape \(4, 1\).*input shape \(4,\)"):
        getattr(tg, name)(tg.rand(4), tg.rand(4, 1))


def test_bce_input_outside_unit_interval():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: .*between 0 and 1.*1\.5"):
        tg.binary_cross_entropy(tg.tensor([0.5, 1.5]), tg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="between 0 and 1"):
        tg.binary_cross_entropy(tg.tensor([float("nan")]), tg.tensor([0.0]))


def test_class_out_of_range_names_value_and_classes():
    with pytest.raises(IndexError, match=r"cross_entropy: target class 5 .* 3 classes"):
        tg.cross_entropy(tg.randn(2, 3), tg.tensor([0, 5]))
    with pytest.raises(IndexError, match=r"nll_loss: target class -2 .* 3 classes"):
        tg.nll_loss(tg.randn(2, 3), tg.tensor([-2, 1]))


def test_class_target_shape_mismatch():
    with pytest.raises(ValueError, match=r"input of shape \(2, 3, 4\).*\(2, 4\).*\(2, 3\)"):
        tg.cross_entropy(tg.randn(2, 3, 4), tg.tensor([[0, 1, 2], [0, 1, 2]]))
    with pytest.raises(ValueError, match=r"probability target.*\(2, 3\).*\(2, 4\)"):
        tg.cross_entropy(tg.randn(2, 3), tg.rand(2, 4))
    with pytest.raises(ValueError, match=r"unbatched input of shape \(3,\).*0-d"):
        tg.cross_entropy(tg.randn(3), tg.tensor([1]))


def test_float_target_to_nll_loss():
    with pytest.raises(TypeError, match=r"nll_loss: expected an integer class-index target.*float"):
        tg.nll_loss(tg.randn(2, 3), tg.tensor([0.0, 1.0]))


def test_weight_errors():
    with pytest.raises(ValueError, match=r"cross_entropy: weight must have shape \(3,\).*\(4,\)"):
        tg.cross_entropy(tg.randn(2, 3), tg.tensor([0, 1]), weight=tg.ones(4))
    with pytest.raises(ValueError, match="weight cannot require grad"):
        tg.cross_entropy(tg.randn(2, 3), tg.tensor([0, 1]), weight=tg.ones(3, requires_grad=True))
    with pytest.raises(
        ValueError, match=r"pos_weight of shape \(3,\) cannot be broadcast.*\(2, 4\)"
    ):
        tg.binary_cross_entropy_with_logits(tg.randn(2, 4), tg.rand(2, 4), pos_weight=tg.ones(3))


def test_cross_entropy_argument_errors():
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        tg.cross_entropy(tg.randn(2, 3), tg.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="ignore_index .* not supported for class-probability"):
        tg.cross_entropy(tg.randn(2, 3), tg.rand(2, 3), ignore_index=0)
    with pytest.raises(TypeError, match="cross_entropy: input must be a floating-point"):
        tg.cross_entropy(tg.tensor([[1, 2]]), tg.tensor([0]))
