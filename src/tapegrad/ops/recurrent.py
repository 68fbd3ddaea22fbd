"""A whole LSTM layer over a sequence, one direction, as one Function.

Stepping a recurrence one time step at a time records a few nodes per step,
each with its own bookkeeping; over 28 steps that bookkeeping costs more than
the arithmetic. :class:`LSTMLayerFunction` runs the forward recurrence on
arrays (the input projection of every step as one matrix product), keeps the
gate activations and the cell states, and runs backpropagation through time in
its backward, with the weight gradients as one product over all steps.

The backward is written once against the array namespace of
:mod:`tapegrad.ops.namespace`: on arrays for an ordinary ``backward()``, and as
tapegrad ops under ``create_graph=True``, where the saved gates are recomputed
from the inputs so that second derivatives are exact.

Gates are in PyTorch's order i, f, g, o along the rows of the weights;
``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor
from .namespace import ArrayNamespace, namespace

__all__ = ["LSTMLayerFunction", "lstm_layer"]


def _gate_affine(hs: int, dtype: Any) -> tuple[Any, Any]:
    """(4H,) factors ``s`` and offsets ``b`` with ``gate = s * tanh(s * pre) + b``.

    ``sigmoid(x) = 0.5 * tanh(x / 2) + 0.5`` on i, f, o and ``tanh`` on g: one
    tanh over the whole row, cheaper than an exponential and a reciprocal.
    The factors are powers of two, so the scaled products are exact.
    """
    s = xp.full(4 * hs, 0.5, dtype=dtype)
    s[2 * hs : 3 * hs] = 1.0
    return s, 1.0 - s


class LSTMLayerFunction(Function):
    """``(x, w_ih, w_hh, h0, c0[, b_ih, b_hh]) -> (out, h_n, c_n)`` over a whole sequence.

    x (T, B, I) time-major; w_ih (4H, I); w_hh (4H, H); h0, c0 (B, H); biases (4H,).
    Returns out (T, B, H), the hidden state of every step, and the final h_n, c_n
    (B, H). ``reverse`` runs the recurrence from the last step to the first
    (``out[t]`` is still the state at position t).
    """

    keep_inputs = True

    def __init__(self, reverse: bool = False) -> None:
        self.reverse = reverse

    def forward(self, x: Any, w_ih: Any, w_hh: Any, h0: Any, c0: Any, *bias: Any) -> Any:
        """The whole sequence on the arrays: x (T, B, I) -> (out (T, B, H), h_n, c_n (B, H))."""
        steps, batch, n_in = x.shape
        hs = w_hh.shape[1]
        dt = np.result_type(x, w_ih, w_hh, h0, c0, *bias)
        scale, offset = _gate_affine(hs, dt)
        # act holds the scaled input projection of every step (the biases folded in
        # as a column of ones), then the gates.
        w = (w_ih.T * scale).astype(dt, copy=False)
        x2 = x.reshape(steps * batch, n_in)
        if bias:
            x2 = np.concatenate([x2, xp.ones((steps * batch, 1), dtype=x.dtype)], 1)
            w = np.concatenate([w, ((bias[0] + bias[1]) * scale)[None].astype(dt)], 0)
        act = np.matmul(x2, w).astype(dt, copy=False).reshape(steps, batch, 4 * hs)
        whh = np.ascontiguousarray(w_hh.T * scale, dtype=dt)
        # Hidden and cell states of steps 0..T-1 plus the initial one: at the front
        # going forwards, at the back going backwards, so that the states before
        # each step and after it are two contiguous slices.
        hbuf = xp.empty((steps + 1, batch, hs), dtype=dt)
        cbuf = xp.empty((steps + 1, batch, hs), dtype=dt)
        tc = xp.empty((steps, batch, hs), dtype=dt)
        first = steps if self.reverse else 0
        hbuf[first], cbuf[first] = h0, c0
        tmp = xp.empty((batch, 4 * hs), dtype=dt)
        ig = xp.empty((batch, hs), dtype=dt)
        for t in range(steps - 1, -1, -1) if self.reverse else range(steps):
            p, n = (t + 1, t) if self.reverse else (t, t + 1)
            a = act[t]
            np.matmul(hbuf[p], whh, out=tmp)
            a += tmp
            np.tanh(a, out=a)
            a *= scale
            a += offset
            c = cbuf[n]
            np.multiply(a[:, hs : 2 * hs], cbuf[p], out=c)
            np.multiply(a[:, :hs], a[:, 2 * hs : 3 * hs], out=ig)
            c += ig
            np.tanh(c, out=tc[t])
            np.multiply(a[:, 3 * hs :], tc[t], out=hbuf[n])
        self.act, self.tc, self.hbuf, self.cbuf = act, tc, hbuf, cbuf
        last = 0 if self.reverse else steps
        out = hbuf[:steps] if self.reverse else hbuf[1:]
        return out, hbuf[last].copy(), cbuf[last].copy()

    def _residuals(self) -> tuple[Any, Any, Any, Any]:
        """Gates (T, B, 4H), tanh of the cell states, and the states before each step."""
        steps = self.act.shape[0]
        before = slice(1, None) if self.reverse else slice(0, steps)
        return self.act, self.tc, self.cbuf[before], self.hbuf[before]

    def backward(self, g_out: Any, g_hn: Any, g_cn: Any) -> Any:
        """Gradients of x, the weights, h0, c0 (and the biases) by backprop through time."""
        F = namespace()
        need = self.needs_input_grad
        x, w_ih, w_hh, h0, c0, *bias = F.inputs(self)
        steps, batch, n_in = self.in_shapes[0]
        hs = self.in_shapes[2][1]
        act, tc, c_prev, h_prev = F.residual(
            self._residuals(), lambda: _forward(F, x, w_ih, w_hh, h0, c0, bias, self.reverse)
        )
        acts, tcs, cs = F.unbind(act, 0), F.unbind(tc, 0), F.unbind(c_prev, 0)
        gys = F.unbind(F.value(g_out), 0)
        dh, dc = F.value(g_hn), F.value(g_cn)
        dpre: list[Any] = [None] * steps
        prev = -1  # the step processed last, whose gradient flows into this one's h
        for t in range(steps) if self.reverse else range(steps - 1, -1, -1):
            dh = (dh if prev < 0 else F.matmul(dpre[prev], w_hh)) + gys[t]
            a, tc_t = acts[t], tcs[t]
            i, f, g, o = F.split(a, [hs] * 4, 1)
            dc = dc + dh * o * (1.0 - tc_t * tc_t)
            # sigmoid' = s (1 - s) on all four gates at once; the g column is unused
            si, sf, _, so = F.split(a * (1.0 - a), [hs] * 4, 1)
            dpre[t] = F.cat(
                [dc * si * g, dc * sf * cs[t], dc * i * (1.0 - g * g), dh * so * tc_t], 1
            )
            dc = dc * f
            prev = t
        d = F.reshape(F.stack(dpre, 0), (steps * batch, 4 * hs))
        d_t = F.mT(d)
        grads = [
            F.reshape(F.matmul(d, w_ih), (steps, batch, n_in)) if need[0] else None,
            F.matmul(d_t, F.reshape(x, (steps * batch, n_in))) if need[1] else None,
            F.matmul(d_t, F.reshape(h_prev, (steps * batch, hs))) if need[2] else None,
            F.matmul(dpre[prev], w_hh) if need[3] else None,
            dc if need[4] else None,
        ]
        if bias:
            # per step (B terms), then over steps: short sums, accurate in float32
            db = (
                F.sum(F.sum(F.reshape(d, (steps, batch, 4 * hs)), 1), 0)
                if need[5] or need[6]
                else None
            )
            grads += [db if need[5] else None, db if need[6] else None]
        return F.grads(*grads)


def _forward(
    F: ArrayNamespace, x: Any, w_ih: Any, w_hh: Any, h0: Any, c0: Any, bias: list, reverse: bool
) -> tuple[Any, Any, Any, Any]:
    """The forward recurrence in ``F``: what :meth:`LSTMLayerFunction._residuals` returns."""
    steps, batch, n_in = x.shape
    hs = w_hh.shape[1]
    xw = F.matmul(F.reshape(x, (steps * batch, n_in)), F.mT(w_ih))
    for b in bias:
        xw = xw + b
    xws = F.unbind(F.reshape(xw, (steps, batch, 4 * hs)), 0)
    h, c = h0, c0
    acts: list[Any] = [None] * steps
    tcs, cs, hs_before = list(acts), list(acts), list(acts)
    w_t = F.mT(w_hh)
    for t in range(steps - 1, -1, -1) if reverse else range(steps):
        i, f, g, o = F.split(xws[t] + F.matmul(h, w_t), [hs] * 4, 1)
        i, f, g, o = F.sigmoid(i), F.sigmoid(f), F.tanh(g), F.sigmoid(o)
        cs[t], hs_before[t] = c, h
        c = f * c + i * g
        tcs[t] = F.tanh(c)
        h = o * tcs[t]
        acts[t] = F.cat([i, f, g, o], 1)
    return F.stack(acts, 0), F.stack(tcs, 0), F.stack(cs, 0), F.stack(hs_before, 0)


def lstm_layer(
    x: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    h0: Tensor,
    c0: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    reverse: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer, one direction, over a time-major sequence.

    x (T, B, I), w_ih (4H, I), w_hh (4H, H), h0 and c0 (B, H), biases (4H,) or
    None. Returns ``(out, h_n, c_n)``: out (T, B, H), h_n and c_n (B, H).
    """
    bias = () if b_ih is None else (b_ih, b_hh)
    return LSTMLayerFunction(reverse)(x, w_ih, w_hh, h0, c0, *bias)
