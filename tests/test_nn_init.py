"""nn.init: statistical checks against the formulas (not values), gains vs PyTorch.

Tolerances come from the sampling distributions: with n draws the sample mean
has standard error std/sqrt(n) and the sample variance ~ var*sqrt(2/n) (normal)
or var*sqrt(0.8/n) (uniform); tests allow about 5 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import tapegrad as tg
import tapegrad.nn as nn
from tapegrad.nn import init


def check_uniform(a: np.ndarray, lo: float, hi: float) -> None:
    n = a.size
    width = hi - lo
    assert a.min() >= lo and a.max() <= hi
    # the extremes of n uniform draws lie within ~width*5/n of the bounds
    assert a.min() < lo + width * 10 / n and a.max() > hi - width * 10 / n
    var = width**2 / 12
    assert abs(a.mean() - (lo + hi) / 2) < 5 * math.sqrt(var / n)
    assert abs(a.var() - var) < 5 * var * math.sqrt(0.8 / n)


def check_normal(a: np.ndarray, mean: float, std: float) -> None:
    n = a.size
    assert abs(a.mean() - mean) < 5 * std / math.sqrt(n)
    assert abs(a.var() - std**2) < 5 * std**2 * math.sqrt(2 / n)
    # fourth standardised moment 3 separates a normal from a uniform (1.8)
    z = (a - a.mean()) / a.std()
    assert abs((z**4).mean() - 3) < 0.3


@pytest.mark.parametrize(
    "name,param",
    [
        ("linear", None),
        ("conv2d", None),
        ("conv_transpose2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("selu", None),
    ],
)
def test_calculate_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == pytest.approx(
        torch.nn.init.calculate_gain(name, param), rel=1e-12
    )


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_uniform_and_normal(dtype):
    t = tg.zeros(200, 100, dtype=dtype)
    assert init.uniform_(t, -2.0, 3.0) is t and t.dtype == dtype
    check_uniform(t._array, -2.0, 3.0)
    assert init.normal_(t, 1.5, 0.5) is t and t.dtype == dtype
    check_normal(t._array, 1.5, 0.5)


def test_constants_eye_dirac():
    t = tg.empty(3, 4)
    assert init.zeros_(t) is t and np.all(t._array == 0)
    assert init.ones_(t) is t and np.all(t._array == 1)
    init.constant_(t, 2.5)
    assert np.all(t._array == 2.5)
    init.eye_(t)
    np.testing.assert_array_equal(t._array, np.eye(3, 4))
    w = tg.empty(4, 2, 3, 3)
    init.dirac_(w)
    tw = torch.empty(4, 2, 3, 3)
    torch.nn.init.dirac_(tw)
    np.testing.assert_array_equal(w._array, tw.numpy())


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier(shape, gain):
    fan_in = shape[1] * math.prod(shape[2:])
    fan_out = shape[0] * math.prod(shape[2:])
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    t = tg.empty(*shape)
    init.xavier_uniform_(t, gain=gain)
    check_uniform(t._array, -math.sqrt(3) * std, math.sqrt(3) * std)
    init.xavier_normal_(t, gain=gain)
    check_normal(t._array, 0.0, std)


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)])
@pytest.mark.parametrize(
    "a,mode,nonlinearity",
    [(0, "fan_in", "leaky_relu"), (math.sqrt(5), "fan_in", "leaky_relu"), (0, "fan_out", "relu")],
)
def test_kaiming(shape, a, mode, nonlinearity):
    fan = (shape[1] if mode == "fan_in" else shape[0]) * math.prod(shape[2:])
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    t = tg.empty(*shape)
    assert init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity) is t
    check_uniform(t._array, -math.sqrt(3) * std, math.sqrt(3) * std)
    init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity)
    check_normal(t._array, 0.0, std)


def test_fan_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(tg.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(tg.empty(3, 3), mode="fan_avg")


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (8, 2, 2, 2), (5, 5)])
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_orthogonal(shape, gain):
    t = tg.empty(*shape, dtype=np.float64)
    init.orthogonal_(t, gain=gain)
    m = t._array.reshape(shape[0], -1)
    small = min(m.shape)
    gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(gram, gain**2 * np.eye(small), atol=1e-12)


def test_orthogonal_is_haar_distributed():
    # With the sign fix, the entries of a random orthogonal n x n matrix have mean 0 and
    # variance 1/n; without it the diagonal would be biased positive.
    n, reps = 6, 400
    diag = np.empty((reps, n))
    for i in range(reps):
        t = tg.empty(n, n, dtype=np.float64)
        init.orthogonal_(t)
        diag[i] = np.diag(t._array)
    assert abs(diag.mean()) < 5 * math.sqrt(1 / n / diag.size)


def test_trunc_normal():
    t = tg.empty(40_000, dtype=np.float64)
    init.trunc_normal_(t, mean=1.0, std=2.0, a=-1.0, b=2.0)
    a = t._array
    assert a.min() >= -1.0 and a.max() <= 2.0
    tt = torch.empty(100_000, dtype=torch.float64)
    torch.nn.init.trunc_normal_(tt, mean=1.0, std=2.0, a=-1.0, b=2.0)
    # the same truncated distribution: compare moments with a large torch sample
    ref = tt.numpy()
    assert abs(a.mean() - ref.mean()) < 5 * ref.std() / math.sqrt(a.size)
    assert abs(a.std() - ref.std()) < 0.01 * ref.std()


def test_init_uses_tapegrad_rng():
    tg.manual_seed(3)
    a = init.normal_(tg.empty(5))._array.copy()
    tg.manual_seed(3)
    b = init.normal_(tg.empty(5))._array.copy()
    np.testing.assert_array_equal(a, b)
    g = np.random.default_rng(1)
    c = init.uniform_(tg.empty(5), generator=g)._array.copy()
    assert not np.array_equal(c, a)


def test_init_on_parameter_records_nothing():
    p = nn.Parameter(tg.zeros(10, 10))
    init.kaiming_uniform_(p)
    assert p.is_leaf and p.requires_grad and p.grad is None
    assert isinstance(p, nn.Parameter)


INIT_ON_DATA = [
    ("normal_", lambda nn, t: nn.init.normal_(t, 0.0, 0.02)),
    ("uniform_", lambda nn, t: nn.init.uniform_(t, -0.1, 0.1)),
    ("constant_", lambda nn, t: nn.init.constant_(t, 0.5)),
    ("zeros_", lambda nn, t: nn.init.zeros_(t)),
    ("xavier_uniform_", lambda nn, t: nn.init.xavier_uniform_(t)),
    ("kaiming_normal_", lambda nn, t: nn.init.kaiming_normal_(t)),
    ("orthogonal_", lambda nn, t: nn.init.orthogonal_(t)),
]


@pytest.mark.parametrize("name, init", INIT_ON_DATA)
def test_init_through_data_writes_the_parameter(name, init):
    """``nn.init.normal_(m.weight.data, 0, 0.02)`` (the DCGAN initialisation) as in PyTorch."""
    import torch

    for lib in (tg, torch):
        m = lib.nn.Linear(20, 30)
        before = m.weight.detach().numpy().copy()
        out = init(lib.nn, m.weight.data)
        after = m.weight.detach().numpy()
        assert not np.array_equal(before, after), f"{lib.__name__}: weight unchanged"
        np.testing.assert_array_equal(out.detach().numpy(), after)
        assert m.weight.requires_grad


def test_init_accepts_a_tapegrad_generator():
    a = tg.nn.init.normal_(tg.empty(5), generator=tg.Generator().manual_seed(1))
    b = tg.nn.init.normal_(tg.empty(5), generator=tg.Generator().manual_seed(1))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
