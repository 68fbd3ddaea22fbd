"""BatchNorm1d/2d and LayerNorm layers against torch.nn with identical parameters."""

import numpy as np
import pytest
import torch

import tapegrad as tg
from helpers import assert_close
from tapegrad.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm

TORCH_DT = {np.float64: torch.float64, np.float32: torch.float32}
TOL = {np.float64: dict(rtol=1e-9, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}


def _copy_params(ours, theirs, rng):
    """Give both modules the same random parameters (torch's copied into ours by name)."""
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape))).to(p.dtype))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})


def _grads_match(ours, theirs, tol):
    tp = dict(theirs.named_parameters())
    names = [n for n, _ in ours.named_parameters()]
    assert names == list(tp)
    for n, p in ours.named_parameters():
        assert_close(p.grad._array, tp[n].grad, what=f"grad of {n}", **tol)


def _buffers_match(ours, theirs, tol):
    tb = dict(theirs.named_buffers())
    assert [n for n, _ in ours.named_buffers()] == list(tb)
    for n, b in ours.named_buffers():
        if b.dtype == np.int64:
            assert int(b._array) == int(tb[n]), n
        else:
            assert_close(b._array, tb[n], what=n, **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "cls,tcls,shape",
    [
        (BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)),
        (BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 5)),
        (BatchNorm2d, torch.nn.BatchNorm2d, (3, 3, 4, 2)),
    ],
)
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"momentum": None},
        {"affine": False, "momentum": 0.5},
        {"track_running_stats": False},
        {"bias": False},
    ],
)
def test_batchnorm_training_steps_then_eval(dtype, cls, tcls, shape, kw):
    rng = np.random.default_rng(0)
    tol = TOL[dtype]
    c = shape[1]
    ours = cls(c, eps=1e-4, dtype=dtype, **kw)
    theirs = tcls(c, eps=1e-4, dtype=TORCH_DT[dtype], **kw)
    _copy_params(ours, theirs, rng)
    for step in range(3):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        gy = rng.standard_normal(shape).astype(dtype)
        xa, xb = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ya, yb = ours(xa), theirs(xb)
        assert ya.dtype == dtype
        assert_close(ya._array, yb, what=f"output of step {step}", **tol)
        ours.zero_grad()
        theirs.zero_grad()
        ya.backward(tg.Tensor(gy))
        yb.backward(torch.tensor(gy))
        assert_close(xa.grad._array, xb.grad, what=f"input grad of step {step}", **tol)
        if ours.affine:
            _grads_match(ours, theirs, tol)
        _buffers_match(ours, theirs, tol)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape).astype(dtype)
    xa, xb = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yb = ours(xa), theirs(xb)
    assert_close(ya._array, yb, what="eval output", **tol)
    gy = rng.standard_normal(shape).astype(dtype)
    ya.backward(tg.Tensor(gy))
    yb.backward(torch.tensor(gy))
    assert_close(xa.grad._array, xb.grad, what="eval input grad", **tol)
    _buffers_match(ours, theirs, tol)  # eval leaves the running statistics alone


def test_batchnorm_state_dict_matches_torch_and_loads():
    theirs = torch.nn.BatchNorm2d(4)
    theirs.train()(torch.randn(3, 4, 2, 2))
    ours = BatchNorm2d(4)
    sd = ours.state_dict()
    assert list(sd) == list(theirs.state_dict())
    assert sd["num_batches_tracked"].dtype == np.int64 and sd["num_batches_tracked"].ndim == 0
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert int(ours.num_batches_tracked.data) == 1
    np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy())
    assert list(BatchNorm1d(3, affine=False, track_running_stats=False).state_dict()) == []
    assert repr(BatchNorm1d(3)) == repr(torch.nn.BatchNorm1d(3))


def test_batchnorm_reset_and_double():
    bn = BatchNorm1d(2)
    bn(tg.randn(4, 2) * 3 + 1)
    bn.reset_running_stats()
    np.testing.assert_array_equal(bn.running_mean.data, [0, 0])
    np.testing.assert_array_equal(bn.running_var.data, [1, 1])
    assert int(bn.num_batches_tracked.data) == 0
    bn.double()
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2-D \(N, C\) or 3-D"):
        BatchNorm1d(3)(tg.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4-D \(N, C, H, W\) input"):
        BatchNorm2d(3)(tg.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): input of shape \(2, 5\) has 5"):
        BatchNorm1d(3)(tg.randn(2, 5))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): input of shape \(2, 4, 1, 1\)"):
        BatchNorm2d(3)(tg.randn(2, 4, 1, 1))
    with pytest.raises(ValueError, match="BatchNorm1d: Expected more than 1 value per channel"):
        BatchNorm1d(3)(tg.randn(1, 3))
    bn = BatchNorm1d(3).eval()
    assert bn(tg.randn(1, 3)).shape == (1, 3)  # a batch of one is fine in eval


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "ns,shape,kw",
    [
        (5, (3, 5), {}),
        ((3, 4), (2, 3, 4), {"eps": 1e-3}),
        (4, (2, 3, 4), {"elementwise_affine": False}),
        (4, (3, 4), {"bias": False}),
    ],
)
def test_layernorm_vs_torch(dtype, ns, shape, kw):
    rng = np.random.default_rng(1)
    tol = TOL[dtype]
    ours = LayerNorm(ns, dtype=dtype, **kw)
    theirs = torch.nn.LayerNorm(ns, dtype=TORCH_DT[dtype], **kw)
    _copy_params(ours, theirs, rng)
    x = rng.standard_normal(shape).astype(dtype) * 2 + 1
    gy = rng.standard_normal(shape).astype(dtype)
    xa, xb = tg.Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yb = ours(xa), theirs(xb)
    assert_close(ya._array, yb, what="output", **tol)
    ya.backward(tg.Tensor(gy))
    yb.backward(torch.tensor(gy))
    assert_close(xa.grad._array, xb.grad, what="input grad", **tol)
    if list(theirs.parameters()):
        _grads_match(ours, theirs, tol)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_layernorm_errors_and_repr():
    with pytest.raises(ValueError, match=r"LayerNorm\(\(4,\)\): input of shape \(2, 5\)"):
        LayerNorm(4)(tg.randn(2, 5))
    assert repr(LayerNorm((3, 4))) == repr(torch.nn.LayerNorm((3, 4)))
