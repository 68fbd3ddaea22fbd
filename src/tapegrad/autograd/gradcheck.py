"""Check analytic gradients against finite differences.

``gradcheck`` compares the Jacobian that backward computes with one from
central differences, element by element; ``gradgradcheck`` does the same for
the gradient itself (second derivatives, through ``create_graph=True``). Both
want float64 inputs: in float32 finite differences are too coarse to tell a
right gradient from a slightly wrong one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..tensor import Tensor
from .functional import grad
from .grad_mode import enable_grad, no_grad


class GradcheckError(AssertionError):
    """Raised when an analytic gradient disagrees with finite differences."""


def _outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> tuple[Any, ...]:
    out = fn(*inputs)
    if isinstance(out, Tensor):
        return (out,)
    return tuple(out)


def _check_inputs(inputs: Sequence[Any], what: str) -> list[int]:
    idx = []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad:
            if x.dtype != np.float64:
                raise TypeError(
                    f"{what}: input {i} is {x.dtype}; use float64 inputs (finite differences "
                    "in lower precision cannot tell a right gradient from a wrong one)"
                )
            idx.append(i)
    if not idx:
        raise ValueError(f"{what}: no input has requires_grad=True")
    return idx


def _numerical(
    fn: Callable[..., Any],
    inputs: list[Any],
    wrt: list[int],
    outs_shapes: list[tuple[int, ...]],
    eps: float,
) -> list[list[np.ndarray]]:
    """Jacobian blocks J[o][i] of shape (out_size, in_size) by central differences."""
    jac = [[np.zeros((int(np.prod(s)), inputs[i]._array.size)) for i in wrt] for s in outs_shapes]
    with no_grad():
        for col, i in enumerate(wrt):
            inputs[i]._array = np.array(inputs[i]._array, order="C")
            flat = inputs[i]._array.reshape(-1)  # a view: writing it perturbs the input
            for k in range(flat.size):
                orig = flat[k]
                flat[k] = orig + eps
                plus = [
                    np.asarray(o._array, dtype=np.float64).reshape(-1).copy()
                    for o in _outputs(fn, inputs)
                ]
                flat[k] = orig - eps
                minus = [
                    np.asarray(o._array, dtype=np.float64).reshape(-1).copy()
                    for o in _outputs(fn, inputs)
                ]
                flat[k] = orig
                for o in range(len(outs_shapes)):
                    jac[o][col][:, k] = (plus[o] - minus[o]) / (2 * eps)
    return jac


def _analytic(
    fn: Callable[..., Any], inputs: list[Any], wrt: list[int], outs: Sequence[Tensor]
) -> list[list[np.ndarray]]:
    """Jacobian blocks J[o][i] of shape (out_size, in_size), one backward per output element."""
    jac = [[np.zeros((o._array.size, inputs[i]._array.size)) for i in wrt] for o in outs]
    targets = [inputs[i] for i in wrt]
    for oi, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for r in range(o._array.size):
            g_out = np.zeros(o._array.size, dtype=o.dtype)
            g_out[r] = 1
            gs = grad(
                o, targets, Tensor(g_out.reshape(o.shape)), retain_graph=True, allow_unused=True
            )
            for col, g in enumerate(gs):
                if g is not None:
                    jac[oi][col][r, :] = np.asarray(g._array, dtype=np.float64).reshape(-1)
    return jac


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare backward's Jacobian of ``fn`` with central finite differences.

    Args:
        fn: takes ``*inputs`` and returns a Tensor or a tuple of Tensors.
        inputs: Tensors (float64 where ``requires_grad``) and other arguments.
        eps: finite-difference step. atol, rtol: tolerance
            ``|analytic - numerical| <= atol + rtol * |numerical|``.
        raise_exception: raise :class:`GradcheckError` on a mismatch (else
            return False).

    Returns:
        True when every element agrees. The error names the input, the output,
        the element and both values of the worst disagreement.
    """
    inputs = list(inputs)
    wrt = _check_inputs(inputs, "gradcheck")
    outs = _outputs(fn, inputs)
    num = _numerical(fn, inputs, wrt, [o.shape for o in outs], eps)
    ana = _analytic(fn, inputs, wrt, outs)
    for oi, o in enumerate(outs):
        for col, i in enumerate(wrt):
            a, n = ana[oi][col], num[oi][col]
            bad = np.abs(a - n) > atol + rtol * np.abs(n)
            if bad.any():
                err = np.where(bad, np.abs(a - n), -1.0)
                r, k = np.unravel_index(np.argmax(err), err.shape)
                out_el = [int(v) for v in np.unravel_index(r, o.shape)] if o.ndim else []
                in_el = (
                    [int(v) for v in np.unravel_index(k, inputs[i].shape)] if inputs[i].ndim else []
                )
                msg = (
                    f"gradcheck: d(output {oi}{out_el})/d(input {i}{in_el}) is "
                    f"{float(a[r, k]):.6g} by backward but {float(n[r, k]):.6g} by finite "
                    f"differences ({int(bad.sum())} of {bad.size} Jacobian entries of this "
                    "pair disagree)"
                )
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    grad_outputs: Sequence[Any] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check second derivatives: gradcheck of ``v -> grad(fn(x), x, v)``.

    The gradients of ``fn``'s outputs, taken with ``create_graph=True`` and
    contracted with ``grad_outputs`` (random float64 when not given), are
    themselves checked against finite differences, with respect to both the
    inputs and ``grad_outputs``.
    """
    inputs = list(inputs)
    wrt = _check_inputs(inputs, "gradgradcheck")
    outs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        grad_outputs = [
            Tensor(rng.standard_normal(o.shape), dtype=np.float64, requires_grad=True) for o in outs
        ]
    n_in = len(inputs)

    def first_grads(*args: Any) -> tuple[Any, ...]:
        xs, gos = list(args[:n_in]), args[n_in:]
        targets = [xs[i] for i in wrt]
        with enable_grad():  # the finite-difference pass runs fn under no_grad
            ys = _outputs(fn, xs)
            gs = grad(ys, targets, list(gos), create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(np.zeros(t.shape)) for g, t in zip(gs, targets))

    return gradcheck(first_grads, inputs + list(grad_outputs), eps, atol, rtol, raise_exception)
