"""The compiled one-pass Adam update against the NumPy form, bit for bit.

Both paths must give the same parameters and moments, so whether Numba is
installed never changes a training run. The NumPy form itself is compared with
PyTorch in test_optim.py.
"""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops import compiled
from tapegrad.optim import adam_kernel

pytestmark = [
    pytest.mark.filterwarnings("ignore::RuntimeWarning"),
    pytest.mark.skipif(
        compiled.numba_status() != "on",
        reason=f"the compiled loops are {compiled.numba_status()} (pip install numba)",
    ),
]


@pytest.fixture
def numba_switch(monkeypatch):
    """set(on): use the compiled loop (True) or the NumPy form (False) from now on."""

    def set_(on: bool) -> None:
        monkeypatch.setattr(compiled, "_numba_on", on)

    return set_


def _grads(rng, shape, dtype, steps):
    """Gradients over many magnitudes, with exact zeros, one inf and one NaN late."""
    out = []
    for i in range(steps):
        g = rng.standard_normal(shape) * 10.0 ** rng.integers(-30, 20, shape)
        g.flat[::7] = 0.0
        if i == steps - 1:
            g.flat[1], g.flat[2] = np.inf, np.nan
        out.append(g.astype(dtype))
    return out


def _train(on, numba_switch, dtype, shape, opt_cls=tg.optim.Adam, steps=6, **kw):
    numba_switch(on)
    rng = np.random.default_rng(1)
    p = tg.Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
    opt = opt_cls([p], **kw)
    used = []
    real = adam_kernel.fused_adam

    def spy(*a, **k):
        used.append(real(*a, **k))
        return used[-1]

    adam_kernel_fused = tg.optim.adam.fused_adam
    tg.optim.adam.fused_adam = spy
    try:
        for g in _grads(rng, shape, dtype, steps):
            p.grad = tg.Tensor(g)
            opt.step()
    finally:
        tg.optim.adam.fused_adam = adam_kernel_fused
    st = opt.state[p]
    return [p.detach().numpy().copy(), st["exp_avg"].copy(), st["exp_avg_sq"].copy()], used


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(lr=0.01, betas=(0.3, 0.5)),  # 1 - beta1 >= 0.5: lerp's other form
        dict(lr=0.1, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.1),
        dict(lr=0.01, maximize=True),
    ],
)
@pytest.mark.parametrize("shape", [(3,), (37, 11), (1000, 3)])  # remainder and vector lanes
def test_compiled_update_is_bit_identical(numba_switch, dtype, kw, shape):
    fast, used = _train(True, numba_switch, dtype, shape, **kw)
    slow, unused = _train(False, numba_switch, dtype, shape, **kw)
    assert used and all(used), "the compiled kernel was not used"
    assert unused and not any(unused), "the NumPy path still used the kernel"
    for a, b, what in zip(fast, slow, ("param", "exp_avg", "exp_avg_sq")):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a, b, err_msg=f"{what} differs ({dtype.__name__}, {kw})")


def test_adamw_compiled_matches(numba_switch):
    kw = dict(lr=0.05, weight_decay=0.2)
    fast, used = _train(True, numba_switch, np.float32, (64, 9), tg.optim.AdamW, **kw)
    slow, _ = _train(False, numba_switch, np.float32, (64, 9), tg.optim.AdamW, **kw)
    assert all(used)
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)


def test_amsgrad_and_odd_layouts_use_numpy(numba_switch):
    numba_switch(True)
    _, used = _train(True, numba_switch, np.float32, (5, 4), amsgrad=True)
    assert used == []  # amsgrad never asks for the kernel
    a = np.zeros((4, 5), np.float32)
    sc = adam_kernel.adam_scalars(np.float32, 0.9, 0.999, 1e-8, 1e-3, 0.5)
    assert not adam_kernel.fused_adam(a.T, a.T, a.T, a.T, sc)  # not C-contiguous
    assert not adam_kernel.fused_adam(a, a.astype(np.float64), a, a, sc)  # mixed dtypes
    assert not adam_kernel.fused_adam(a.astype(np.float16), *[a.astype(np.float16)] * 3, sc)
    a64 = a.astype(np.float64)
    assert not adam_kernel.fused_adam(a64, a64, a64.copy(), a64.copy(), sc)  # float32 scalars
    assert adam_kernel.fused_adam(a, a, a.copy(), a.copy(), sc)
