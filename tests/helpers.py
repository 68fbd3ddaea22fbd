"""Compare a tapegrad function with its PyTorch counterpart, forward and backward.

``check_vs_torch(f_tg, f_torch, arrays)`` builds tapegrad and PyTorch tensors
from the same NumPy arrays, runs both functions, compares the outputs, then
back-propagates the same random upstream gradient through both and compares
the gradients of every floating input. float64 is checked to 1e-6 relative,
float32 to 1e-4, the tolerances we hold the engine to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import tapegrad as tg

TOL = {np.float64: dict(rtol=1e-6, atol=1e-8), np.float32: dict(rtol=1e-4, atol=1e-5)}


def noncontig(a: np.ndarray) -> np.ndarray:
    """The same values in a non-contiguous (transposed-storage) array."""
    if a.ndim < 2:
        return np.repeat(a, 2)[::2] if a.ndim == 1 else a
    return np.ascontiguousarray(np.swapaxes(a, -1, -2)).swapaxes(-1, -2)


def _tols(dtype: Any, rtol: float | None, atol: float | None) -> dict[str, float]:
    t = dict(TOL[np.dtype(dtype).type])
    if rtol is not None:
        t["rtol"] = rtol
    if atol is not None:
        t["atol"] = atol
    return t


def _flat_outputs(out: Any) -> list[Any]:
    if isinstance(out, (tuple, list)):
        return list(out)
    return [out]


def assert_close(a: Any, b: Any, rtol: float, atol: float, what: str) -> None:
    a = np.asarray(a.detach().numpy() if isinstance(a, torch.Tensor) else a)
    b = np.asarray(b.detach().numpy() if isinstance(b, torch.Tensor) else b)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def check_vs_torch(
    f_tg: Callable[..., Any],
    f_torch: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    grad: Sequence[bool] | bool = True,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
) -> None:
    """Assert f_tg(*tapegrad tensors) matches f_torch(*torch tensors), values and grads.

    ``grad``: per array, whether it requires grad (floating arrays only).
    """
    arrays = list(arrays)
    if isinstance(grad, bool):
        grad = [grad and a.dtype.kind == "f" for a in arrays]
    fdt = next((a.dtype for a in arrays if a.dtype.kind == "f"), np.dtype(np.float64))
    tol = _tols(fdt, rtol, atol)
    xs_tg = [
        tg.Tensor(a.copy() if a.flags.c_contiguous else a, requires_grad=g)
        for a, g in zip(arrays, grad)
    ]
    xs_t = [torch.tensor(np.array(a, order="C"), requires_grad=g) for a, g in zip(arrays, grad)]
    out_tg = _flat_outputs(f_tg(*xs_tg))
    out_t = _flat_outputs(f_torch(*xs_t))
    assert len(out_tg) == len(out_t), f"{len(out_tg)} outputs vs torch's {len(out_t)}"
    for i, (a, b) in enumerate(zip(out_tg, out_t)):
        assert_close(a.data, b, what=f"forward output {i}", **tol)
    if not any(grad):
        return
    rng = np.random.default_rng(seed)
    pairs = [(a, b) for a, b in zip(out_tg, out_t) if b.requires_grad]
    if not pairs:
        return
    gs = [rng.standard_normal(b.shape).astype(b.detach().numpy().dtype) for _, b in pairs]
    tg.autograd.backward([a for a, _ in pairs], [tg.Tensor(g) for g in gs])
    torch.autograd.backward([b for _, b in pairs], [torch.tensor(g) for g in gs])
    for i, (xa, xb, g) in enumerate(zip(xs_tg, xs_t, grad)):
        if not g:
            continue
        if xb.grad is None:
            assert xa.grad is None or np.all(xa.grad._array == 0), f"input {i}: torch has no grad"
            continue
        assert xa.grad is not None, f"input {i}: tapegrad computed no gradient"
        assert xa.grad.dtype == xa.dtype, f"input {i}: grad dtype {xa.grad.dtype} != {xa.dtype}"
        assert_close(xa.grad._array, xb.grad, what=f"gradient of input {i}", **tol)


def check_second_order_vs_torch(
    f_tg: Callable[..., Any],
    f_torch: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    rtol: float = 1e-6,
    atol: float = 1e-8,
    seed: int = 1,
) -> None:
    """Compare the gradient of <grad f(x), v> with respect to x (a Hessian-vector product).

    All arrays must be float64 and are treated as inputs requiring grad.
    """
    rng = np.random.default_rng(seed)
    xs_tg = [tg.Tensor(a, requires_grad=True) for a in arrays]
    xs_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    y_tg, y_t = f_tg(*xs_tg), f_torch(*xs_t)
    gout = rng.standard_normal(y_t.shape)
    g_tg = tg.grad(y_tg, xs_tg, tg.Tensor(gout), create_graph=True, allow_unused=True)
    g_t = torch.autograd.grad(y_t, xs_t, torch.tensor(gout), create_graph=True, allow_unused=True)
    vs = [rng.standard_normal(a.shape) for a in arrays]
    s_tg = sum((g * tg.Tensor(v)).sum() for g, v in zip(g_tg, vs) if g is not None)
    s_t = sum((g * torch.tensor(v)).sum() for g, v in zip(g_t, vs) if g is not None)
    if not isinstance(s_t, torch.Tensor) or not s_t.requires_grad:
        return  # the gradient is constant: nothing second-order to compare
    h_tg = tg.grad(s_tg, xs_tg, allow_unused=True)
    h_t = torch.autograd.grad(s_t, xs_t, allow_unused=True)
    for i, (a, b) in enumerate(zip(h_tg, h_t)):
        if b is None:
            assert a is None or np.allclose(a.data, 0), f"input {i}: torch second grad is None"
            continue
        assert a is not None, f"input {i}: tapegrad gave no second-order gradient"
        assert_close(a.data, b, rtol=rtol, atol=atol, what=f"second-order gradient of input {i}")
