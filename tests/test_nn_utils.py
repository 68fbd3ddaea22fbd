"""nn.utils: gradient clipping and parameter/vector conversion, against PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    get_total_norm,
    parameters_to_vector,
    vector_to_parameters,
)

SHAPES = [(3, 4), (5,), (2, 3, 2)]


def make_params(dtype, scale, seed=0, with_none=True):
    rng = np.random.default_rng(seed)
    data = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [scale * rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ours = [nn.Parameter(tg.tensor(d)) for d in data]
    theirs = [torch.nn.Parameter(torch.tensor(d)) for d in data]
    for p, q, g in zip(ours, theirs, grads):
        p.grad = tg.tensor(g.copy())
        q.grad = torch.tensor(g.copy())
    if with_none:  # a parameter without gradient is skipped by both
        ours.append(nn.Parameter(tg.zeros(2, dtype=dtype)))
        theirs.append(
            torch.nn.Parameter(torch.zeros(2, dtype=getattr(torch, np.dtype(dtype).name)))
        )
    return ours, theirs


def tol(dtype):
    return dict(rtol=1e-6, atol=1e-7) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm,scale", [(1.0, 1.0), (100.0, 1.0), (0.5, 0.01)])
def test_clip_grad_norm_matches_torch(dtype, norm_type, max_norm, scale):
    ours, theirs = make_params(dtype, scale)
    n_ours = clip_grad_norm_(ours, max_norm, norm_type)
    n_theirs = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert isinstance(n_ours, tg.Tensor) and n_ours.shape == ()
    assert n_ours.dtype == dtype
    np.testing.assert_allclose(n_ours.item(), n_theirs.item(), **tol(dtype))
    for p, q in zip(ours, theirs):
        if q.grad is None:
            assert p.grad is None
            continue
        np.testing.assert_allclose(p.grad._array, q.grad.numpy(), **tol(dtype))


def test_clip_grad_norm_single_tensor_and_module():
    m = nn.Linear(3, 2)
    for p in m.parameters():
        p.grad = tg.ones(*p.shape) * 10
    total = clip_grad_norm_(m.parameters(), 1.0)
    np.testing.assert_allclose(total.item(), 10 * math.sqrt(8), rtol=1e-6)
    after = math.sqrt(
        sum(float((p.grad._array.astype(np.float64) ** 2).sum()) for p in m.parameters())
    )
    np.testing.assert_allclose(after, 1.0, rtol=1e-5)
    p = nn.Parameter(tg.zeros(4))
    p.grad = tg.tensor([3.0, 4.0, 0.0, 0.0])
    np.testing.assert_allclose(clip_grad_norm_(p, 1.0).item(), 5.0)
    np.testing.assert_allclose(p.grad._array, [0.6, 0.8, 0, 0], rtol=1e-5)


def test_clip_grad_norm_no_grads_and_nonfinite():
    assert clip_grad_norm_([nn.Parameter(tg.zeros(2))], 1.0).item() == 0.0
    p = nn.Parameter(tg.zeros(2))
    p.grad = tg.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isinf(clip_grad_norm_([p], 1.0).item())


def test_get_total_norm_matches_torch():
    ours, theirs = make_params(np.float64, 1.0, with_none=False)
    got = get_total_norm([p.grad for p in ours], 2.5)
    want = torch.nn.utils.get_total_norm([q.grad for q in theirs], 2.5)
    np.testing.assert_allclose(got.item(), want.item(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_value_matches_torch(dtype):
    ours, theirs = make_params(dtype, 2.0)
    assert clip_grad_value_(ours, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, q in zip(ours, theirs):
        if q.grad is not None:
            np.testing.assert_array_equal(p.grad._array, q.grad.numpy())


def test_parameters_to_vector_matches_torch_and_is_differentiable():
    ours, theirs = make_params(np.float64, 1.0, with_none=False)
    v = parameters_to_vector(ours)
    w = torch.nn.utils.parameters_to_vector(theirs)
    np.testing.assert_array_equal(v._array, w.detach().numpy())
    coef = np.arange(v.shape[0], dtype=np.float64)
    for p in ours:
        p.grad = None
    (v * tg.tensor(coef)).sum().backward()
    offset = 0
    for p in ours:
        n = p.numel()
        np.testing.assert_array_equal(p.grad._array, coef[offset : offset + n].reshape(p.shape))
        offset += n


def test_vector_to_parameters_matches_torch():
    ours, theirs = make_params(np.float64, 1.0, with_none=False)
    n = sum(p.numel() for p in ours)
    vec = np.linspace(-1, 1, n)
    vector_to_parameters(tg.tensor(vec), ours)
    torch.nn.utils.vector_to_parameters(torch.tensor(vec), theirs)
    for p, q in zip(ours, theirs):
        assert p.shape == tuple(q.shape)
        np.testing.assert_array_equal(p._array, q.detach().numpy())


def test_vector_to_parameters_errors():
    ours, _ = make_params(np.float64, 1.0, with_none=False)
    with pytest.raises(TypeError, match="expected a Tensor"):
        vector_to_parameters(np.zeros(3), ours)
    with pytest.raises(ValueError, match=r"vec of shape \(3,\) does not match .* total size 29"):
        vector_to_parameters(tg.zeros(3), ours)
