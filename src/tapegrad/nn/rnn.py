"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their single-step cells.

Parameter names, shapes, gate orders (LSTM: i, f, g, o; GRU: r, z, n) and the
default initialisation U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) are
PyTorch's, so weights copy across by name.

An ``LSTM`` layer runs each layer and direction over the whole sequence as one
Function (:func:`tapegrad.ops.recurrent.lstm_layer`): the recurrence on
arrays, backpropagation through time in its backward. ``RNN`` and ``GRU``
layers project the whole input sequence through ``weight_ih`` in one matmul
and then run the recurrence one time step at a time: per step one matmul with
``weight_hh`` and one fused Function for the gates (:class:`RNNStepFunction`,
:class:`GRUStepFunction`; the cells use these and :class:`LSTMStepFunction`).
Every backward is differentiable again, so gradients of any order flow through
the recurrence."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd.function import Function
from ..backend import xp
from ..dtypes import get_default_dtype
from ..ops import shape as _sh
from ..ops.dropout import dropout as _dropout
from ..ops.linalg import matmul
from ..ops.namespace import ArrayNamespace, namespace
from ..ops.recurrent import lstm_layer
from ..tensor import Tensor, _wrap
from . import init
from .module import Module
from .parameter import Parameter

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU"]

# Gates per mode: rows of weight_ih/weight_hh are these many blocks of hidden_size.
_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


# ------------------------------------------------------------------ steps
# One time step is one fused Function after the hidden matmul: it takes the input
# projection of this step ``xw`` (B, G*H) and the hidden projection ``hw``
# (B, G*H), and returns the new state. Its backward is one formula in an array
# namespace F (tapegrad.ops.namespace): without a recorded graph it runs on
# arrays, from the gate activations saved by forward; with one
# (create_graph=True) it runs as tapegrad ops, with the gates recomputed from
# the inputs, so second derivatives are exact.
def _sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)) on an array; exp overflowing to inf gives exactly 0."""
    out = xp.empty_like(x)
    with np.errstate(over="ignore"):
        np.negative(x, out=out)
        np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)
    return out


class RNNStepFunction(Function):
    """``act(xw + hw)`` with act tanh or relu."""

    keep_outputs = True

    def __init__(self, relu: bool) -> None:
        self.relu = relu

    def forward(self, xw: Any, hw: Any) -> Any:
        """h' = tanh(xw + hw) (or relu) on the arrays: (N, H)."""
        y = xw + hw
        if self.relu:
            np.maximum(y, 0, out=y)
        else:
            np.tanh(y, out=y)
        return y

    def backward(self, gy: Any) -> Any:
        """dL/dxw = dL/dhw = gy * act'(h')."""
        assert self._out_data is not None
        F = namespace()
        y = F.output(self)
        if self.relu:
            g = F.value(gy) * F.const((self._out_data[0] > 0).astype(gy.dtype))
        else:
            g = F.value(gy) * (1.0 - y * y)
        return F.grads(g, g)


class LSTMStepFunction(Function):
    """``(xw, hw, c) -> (h', c')`` with gates ``xw + hw`` in the order i, f, g, o."""

    keep_inputs = True

    def forward(self, xw: Any, hw: Any, c: Any) -> Any:
        """(xw, hw (N, 4H), c (N, H)) -> (h', c'), each (N, H)."""
        hs = c.shape[-1]
        pre = xw + hw
        act = _sigmoid(pre)
        act[:, 2 * hs : 3 * hs] = np.tanh(pre[:, 2 * hs : 3 * hs])
        i, f, g, o = act[:, :hs], act[:, hs : 2 * hs], act[:, 2 * hs : 3 * hs], act[:, 3 * hs :]
        c_new = f * c
        c_new += i * g
        tc = np.tanh(c_new)
        self.act, self.tc = act, tc
        return o * tc, c_new

    def backward(self, gh: Any, gc: Any) -> Any:
        """Gradients of xw, hw (N, 4H) and c (N, H) from those of h' and c'."""
        F = namespace()
        need = self.needs_input_grad
        xw, hw, c = F.inputs(self)
        hs = self.in_shapes[2][-1]
        act = self.act
        saved = (act[:, :hs], act[:, hs : 2 * hs], act[:, 2 * hs : 3 * hs], act[:, 3 * hs :])
        i, f, g, o = F.residual(saved, lambda: _lstm_gates(F, xw, hw, hs))
        tc = F.residual(self.tc, lambda: F.tanh(f * c + i * g))
        gh, gc = F.value(gh), F.value(gc)
        dc = gc + gh * o * (1.0 - tc * tc)
        parts = [dc * g * i * (1.0 - i), dc * c * f * (1.0 - f), dc * i * (1.0 - g * g)]
        d = F.cat(parts + [gh * tc * o * (1.0 - o)], 1) if need[0] or need[1] else None
        return F.grads(d, d, (dc * f if need[2] else None))


def _lstm_gates(F: ArrayNamespace, xw: Any, hw: Any, hs: int) -> list[Any]:
    """The activated gates i, f, g, o of one LSTM step, each (B, H), in ``F``."""
    i, f, g, o = F.split(xw + hw, [hs] * 4, 1)
    return [F.sigmoid(i), F.sigmoid(f), F.tanh(g), F.sigmoid(o)]


class GRUStepFunction(Function):
    """``(xw, hw, h) -> h'`` with gates r, z, n; ``hw`` includes the hidden bias.

    ``r, z = sigmoid(xw_rz + hw_rz)``, ``n = tanh(xw_n + r * hw_n)``,
    ``h' = (1 - z) * n + z * h``.
    """

    keep_inputs = True

    def forward(self, xw: Any, hw: Any, h: Any) -> Any:
        """(xw, hw (N, 3H), h (N, H)) -> h' = (1 - z) n + z h, (N, H)."""
        hs = h.shape[-1]
        rz = _sigmoid(xw[:, : 2 * hs] + hw[:, : 2 * hs])
        r, z = rz[:, :hs], rz[:, hs:]
        n = np.tanh(xw[:, 2 * hs :] + r * hw[:, 2 * hs :])
        self.rz, self.n = rz, n
        out = h - n
        out *= z
        out += n
        return out

    def backward(self, gy: Any) -> Any:
        """Gradients of xw, hw (N, 3H) and h (N, H) from that of h'."""
        F = namespace()
        need = self.needs_input_grad
        xw, hw, h = F.inputs(self)
        hs = self.in_shapes[2][-1]
        h_n = F.split(hw, [2 * hs, hs], 1)[1]
        saved = (self.rz[:, :hs], self.rz[:, hs:], self.n)
        r, z, n = F.residual(saved, lambda: _gru_gates(F, xw, h_n, hw, hs))
        g = F.value(gy)
        dn = g * (1.0 - z) * (1.0 - n * n)
        dr = dn * h_n * r * (1.0 - r)
        dz = g * (h - n) * z * (1.0 - z)
        return F.grads(
            F.cat([dr, dz, dn], 1) if need[0] else None,
            F.cat([dr, dz, dn * r], 1) if need[1] else None,
            g * z if need[2] else None,
        )


def _gru_gates(F: ArrayNamespace, xw: Any, h_n: Any, hw: Any, hs: int) -> list[Any]:
    """The gates r, z and the candidate n of one GRU step, each (B, H), in ``F``."""
    x_rz, x_n = F.split(xw, [2 * hs, hs], 1)
    h_rz = F.split(hw, [2 * hs, hs], 1)[0]
    r, z = F.split(F.sigmoid(x_rz + h_rz), [hs, hs], 1)
    return [r, z, F.tanh(x_n + r * h_n)]


def _hw(h: Tensor, whh_t: Tensor, bhh: Tensor | None) -> Tensor:
    hw = matmul(h, whh_t)
    return hw if bhh is None else hw + bhh


def _rnn_step(xw: Tensor, h: Tensor, whh_t: Tensor, bhh: Tensor | None, relu: bool) -> Tensor:
    return RNNStepFunction(relu)(xw, _hw(h, whh_t, bhh))


def _lstm_step(
    xw: Tensor, hc: tuple[Tensor, ...], whh_t: Tensor, bhh: Tensor | None
) -> tuple[Tensor, Tensor]:
    h, c = hc
    return LSTMStepFunction()(xw, _hw(h, whh_t, bhh), c)


def _gru_step(xw: Tensor, h: Tensor, whh_t: Tensor, bhh: Tensor | None) -> Tensor:
    return GRUStepFunction()(xw, _hw(h, whh_t, bhh), h)


def _uniform_params(module: Module, hidden_size: int) -> None:
    bound = 1.0 / math.sqrt(hidden_size) if hidden_size > 0 else 0.0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


def _empty(shape: tuple[int, ...], dtype: Any) -> Parameter:
    return Parameter(xp.empty(shape, dtype=get_default_dtype() if dtype is None else dtype))


def _zeros(shape: tuple[int, ...], like: Tensor) -> Tensor:
    return _wrap(xp.zeros(shape, dtype=like._array.dtype))


# ------------------------------------------------------------------ cells
class _CellBase(Module):
    """Parameters ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H)."""

    _mode = ""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool, device: Any, dtype: Any
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        g = _GATES[self._mode] * hidden_size
        self.weight_ih = _empty((g, input_size), dtype)
        self.weight_hh = _empty((g, hidden_size), dtype)
        if bias:
            self.bias_ih = _empty((g,), dtype)
            self.bias_hh = _empty((g,), dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _uniform_params(self, self.hidden_size)

    def _prepare(self, input: Tensor, hx: Any) -> tuple[Tensor, Any, bool]:  # noqa: A002
        """Check shapes, add a batch dim to 1-D input, make the zero state if none."""
        name = type(self).__name__
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input of shape (batch, {self.input_size}) or "
                f"({self.input_size},), got {tuple(input.shape)}"
            )
        batched = input.ndim == 2
        if not batched:
            input = _sh.unsqueeze(input, 0)
        want = (input.shape[0], self.hidden_size)
        states = hx if isinstance(hx, tuple) else (hx,)
        out = []
        for s in states:
            if s is None:
                out.append(_zeros(want, input))
                continue
            if not batched:
                s = _sh.unsqueeze(s, 0) if s.ndim == 1 else s
            if tuple(s.shape) != want:
                raise ValueError(
                    f"{name}: expected hidden state of shape {want if batched else want[1:]}, "
                    f"got {tuple(s.shape)} for input of shape "
                    f"{tuple(input.shape) if batched else tuple(input.shape[1:])}"
                )
            out.append(s)
        return input, tuple(out) if isinstance(hx, tuple) else out[0], batched

    def _xw(self, input: Tensor, fold_hh_bias: bool) -> tuple[Tensor, Tensor | None]:
        """The input projection (with the biases that can go there) and the leftover bias."""
        xw = matmul(input, _sh.transpose(self.weight_ih, 0, 1))
        if not self.bias:
            return xw, None
        if fold_hh_bias:
            return xw + (self.bias_ih + self.bias_hh), None
        return xw + self.bias_ih, self.bias_hh

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


class RNNCell(_CellBase):
    """One step of an Elman RNN: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Args:
        input_size, hidden_size: feature sizes of x and h.
        bias: learn ``bias_ih`` and ``bias_hh``.
        nonlinearity: ``'tanh'`` or ``'relu'``.

    ``forward(input, hx=None)``: input (B, input_size) or (input_size,), hx of
    the matching (B, hidden_size) / (hidden_size,) shape (zeros when None).
    Returns h' of hx's shape.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r} ('tanh' or 'relu')")
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        """``input`` ``(B, input_size)`` or ``(input_size,)`` -> h' of ``(B, hidden_size)``."""
        x, h, batched = self._prepare(input, hx)
        xw, _ = self._xw(x, True)
        h = _rnn_step(xw, h, _sh.transpose(self.weight_hh, 0, 1), None, self._mode == "RNN_RELU")
        return h if batched else _sh.squeeze(h, 0)

    def extra_repr(self) -> str:
        """The constructor arguments for ``repr``, with the nonlinearity if not tanh."""
        s = super().extra_repr()
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class LSTMCell(_CellBase):
    """One LSTM step, gates i, f, g, o in that order along the rows of the weights.

    ``forward(input, hx=None)``: input (B, input_size) or (input_size,), hx a
    pair ``(h, c)`` of (B, hidden_size) tensors (zeros when None). Returns
    ``(h', c')``.
    """

    _mode = "LSTM"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(
        self,
        input: Tensor,  # noqa: A002
        hx: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """``input`` ``(B, input_size)`` or ``(input_size,)`` -> ``(h', c')``, both ``(B, H)``."""
        if hx is not None and not (isinstance(hx, tuple) and len(hx) == 2):
            raise TypeError("LSTMCell: hx must be a tuple (h_0, c_0) or None")
        x, (h, c), batched = self._prepare(input, (None, None) if hx is None else hx)
        xw, _ = self._xw(x, True)
        h, c = _lstm_step(xw, (h, c), _sh.transpose(self.weight_hh, 0, 1), None)
        if not batched:
            return _sh.squeeze(h, 0), _sh.squeeze(c, 0)
        return h, c


class GRUCell(_CellBase):
    """One GRU step, gates r, z, n in that order along the rows of the weights.

    ``n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))``, ``h' = (1 - z) * n + z * h``.
    ``forward(input, hx=None)`` as :class:`RNNCell`; returns h'.
    """

    _mode = "GRU"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:  # noqa: A002
        """``input`` ``(B, input_size)`` or ``(input_size,)`` -> h' of ``(B, hidden_size)``."""
        x, h, batched = self._prepare(input, hx)
        xw, bhh = self._xw(x, False)
        h = _gru_step(xw, h, _sh.transpose(self.weight_hh, 0, 1), bhh)
        return h if batched else _sh.squeeze(h, 0)


# ------------------------------------------------------------------ layers
class _RNNBase(Module):
    """Multi-layer, optionally bidirectional recurrence over a whole sequence."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if not (isinstance(num_layers, int) and num_layers >= 1):
            raise ValueError(f"{name}: num_layers must be an int >= 1, got {num_layers!r}")
        if not (isinstance(hidden_size, int) and hidden_size >= 1):
            raise ValueError(f"{name}: hidden_size must be an int >= 1, got {hidden_size!r}")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        dirs = 2 if bidirectional else 1
        g = _GATES[mode] * hidden_size
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                setattr(self, "weight_ih" + sfx, _empty((g, in_size), dtype))
                setattr(self, "weight_hh" + sfx, _empty((g, hidden_size), dtype))
                if bias:
                    setattr(self, "bias_ih" + sfx, _empty((g,), dtype))
                    setattr(self, "bias_hh" + sfx, _empty((g,), dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _uniform_params(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """Does nothing (PyTorch compacts cuDNN weights here)."""

    def _param(self, kind: str, layer: int, d: int) -> Any:
        return getattr(self, f"{kind}_l{layer}" + ("_reverse" if d else ""))

    def _check_input(self, input: Tensor) -> bool:  # noqa: A002
        name = type(self).__name__
        if input.ndim not in (2, 3):
            raise ValueError(
                f"{name}: expected 3-D input ({'batch, seq' if self.batch_first else 'seq, batch'}"
                f", {self.input_size}) or 2-D unbatched (seq, {self.input_size}), got "
                f"{input.ndim}-D input of shape {tuple(input.shape)}"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input of shape {tuple(input.shape)} has {input.shape[-1]} features "
                f"(last dim), expected input_size={self.input_size}"
            )
        return input.ndim == 3

    def _check_state(self, s: Tensor, what: str, batched: bool, batch: int) -> Tensor:
        dirs = 2 if self.bidirectional else 1
        want = (self.num_layers * dirs, batch, self.hidden_size)
        shown = want if batched else (want[0], want[2])
        if tuple(s.shape) != shown:
            raise ValueError(
                f"{type(self).__name__}: expected {what} of shape {shown} "
                f"(num_layers * num_directions, {'batch, ' if batched else ''}hidden_size), "
                f"got {tuple(s.shape)}"
            )
        return s if batched else _sh.unsqueeze(s, 1)

    def _run(self, input: Tensor, states: list[Tensor | None]) -> tuple[Tensor, list[Tensor]]:
        """The recurrence over all layers. ``states``: initial (L*D, B, H) tensors or None.

        Returns the last layer's output sequence and the final (L*D, B, H) states.
        """
        batched = self._check_input(input)
        x = input if batched else _sh.unsqueeze(input, 1)
        tdim = 1 if (self.batch_first and batched) else 0
        steps, batch = x.shape[tdim], x.shape[1 - tdim]
        if steps == 0:
            raise ValueError(
                f"{type(self).__name__}: expected a sequence of at least one step, got input "
                f"of shape {tuple(input.shape)}"
            )
        init_states: list[tuple[Tensor, ...] | None] = []
        for k, s in enumerate(states):
            what = "h_0" if k == 0 else "c_0"
            if s is None:
                init_states.append(None)
            else:
                s = self._check_state(s, what, batched, batch)
                init_states.append(_sh.unbind(s, 0))
        zero = _zeros((batch, self.hidden_size), x)
        if self.mode == "LSTM":
            xt = _sh.transpose(x, 0, 1) if tdim else x
            out, finals = self._lstm_layers(xt, init_states, zero)
            x = _sh.transpose(out, 0, 1) if tdim else out
        else:
            x, finals = self._step_layers(x, tdim, init_states, zero)
        final = [_sh.stack(f, 0) for f in finals]
        if not batched:
            x = _sh.squeeze(x, 1)
            final = [_sh.squeeze(f, 1) for f in final]
        return x, final

    def _lstm_layers(
        self, x: Tensor, init_states: list[tuple[Tensor, ...] | None], zero: Tensor
    ) -> tuple[Tensor, list[list[Tensor]]]:
        """The LSTM layers over time-major ``x`` (T, B, I), one Function per layer and direction.

        Returns the last layer's (T, B, D*H) output and the final h and c of every
        layer and direction.
        """
        dirs = 2 if self.bidirectional else 1
        finals: list[list[Tensor]] = [[], []]
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                h0, c0 = (zero if s is None else s[k] for s in init_states)
                w_ih, w_hh = (self._param(n, layer, d) for n in ("weight_ih", "weight_hh"))
                b_ih, b_hh = (
                    (self._param(n, layer, d) for n in ("bias_ih", "bias_hh"))
                    if self.bias
                    else (None, None)
                )
                out, h, c = lstm_layer(x, w_ih, w_hh, h0, c0, b_ih, b_hh, reverse=bool(d))
                finals[0].append(h)
                finals[1].append(c)
                outs.append(out)
            x = outs[0] if dirs == 1 else _sh.cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout, True)
        return x, finals

    def _step_layers(
        self, x: Tensor, tdim: int, init_states: list[tuple[Tensor, ...] | None], zero: Tensor
    ) -> tuple[Tensor, list[list[Tensor]]]:
        """RNN and GRU layers, one fused Function per time step; as :meth:`_lstm_layers`."""
        mode = self.mode
        dirs = 2 if self.bidirectional else 1
        steps = x.shape[tdim]
        n_states = len(init_states)
        fold = mode != "GRU"  # GRU's hidden bias sits inside r * (...), so it stays per step
        finals: list[list[Tensor]] = [[] for _ in range(n_states)]
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                w_ih = self._param("weight_ih", layer, d)
                whh_t = _sh.transpose(self._param("weight_hh", layer, d), 0, 1)
                n_in = x.shape[-1]
                xw = matmul(_sh.reshape(x, (-1, n_in)), _sh.transpose(w_ih, 0, 1))
                bhh = None
                if self.bias:
                    b_ih, b_hh = self._param("bias_ih", layer, d), self._param("bias_hh", layer, d)
                    if fold:
                        xw = xw + (b_ih + b_hh)
                    else:
                        xw, bhh = xw + b_ih, b_hh
                xw = _sh.reshape(xw, x.shape[:2] + (xw.shape[-1],))
                xws = _sh.unbind(xw, tdim)
                st = tuple(zero if s is None else s[k] for s in init_states)
                hs: list[Tensor] = [zero] * steps
                order = range(steps - 1, -1, -1) if d else range(steps)
                for t in order:
                    if mode == "GRU":
                        st = (_gru_step(xws[t], st[0], whh_t, bhh),)
                    else:
                        st = (_rnn_step(xws[t], st[0], whh_t, bhh, mode == "RNN_RELU"),)
                    hs[t] = st[0]
                for j in range(n_states):
                    finals[j].append(st[j])
                outs.append(_sh.stack(hs, tdim))
            x = outs[0] if dirs == 1 else _sh.cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout, True)
        return x, finals

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(_RNNBase):
    """Multi-layer Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

    Args:
        input_size, hidden_size: feature sizes of x and h.
        num_layers: stacked layers; layer l > 0 reads the outputs of layer l - 1.
        nonlinearity: ``'tanh'`` or ``'relu'``.
        bias: learn ``bias_ih_l{k}`` and ``bias_hh_l{k}``.
        batch_first: input and output are (B, T, feature) instead of (T, B, feature).
        dropout: dropout probability on the outputs of every layer but the last
            (in training).
        bidirectional: also run each layer backwards in time (parameters with a
            ``_reverse`` suffix); outputs of both directions are concatenated.

    ``forward(input, hx=None)``: input (T, B, input_size) (or batch first, or
    unbatched (T, input_size)); hx (num_layers * num_directions, B,
    hidden_size), zeros when None. Returns ``(output, h_n)``: output (T, B,
    num_directions * hidden_size) holds the last layer's h_t for every t; h_n
    the final state of every layer and direction, shaped like hx.
    """

    def __init__(self, *args: Any, nonlinearity: str = "tanh", **kwargs: Any) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} ('tanh' or 'relu')")
        # A plain attribute, so it may be set before Module.__init__.
        self.nonlinearity = nonlinearity
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, *args, **kwargs)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        """``(output, h_n)``; shapes in the class docstring."""
        out, (h,) = self._run(input, [hx])
        return out, h


class LSTM(_RNNBase):
    """Multi-layer LSTM, gates i, f, g, o (rows of ``weight_ih_l{k}`` in that order).

    ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``. Arguments as
    :class:`RNN` (without ``nonlinearity``).

    ``forward(input, hx=None)``: hx a pair ``(h_0, c_0)``, each (num_layers *
    num_directions, B, hidden_size), zeros when None. Returns
    ``(output, (h_n, c_n))``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("proj_size", 0):
            raise NotImplementedError("LSTM: proj_size is not supported")
        kwargs.pop("proj_size", None)
        super().__init__("LSTM", *args, **kwargs)

    def forward(
        self,
        input: Tensor,  # noqa: A002
        hx: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """``(output, (h_n, c_n))``; shapes in the class docstring."""
        if hx is not None and not (isinstance(hx, tuple) and len(hx) == 2):
            raise TypeError("LSTM: hx must be a tuple (h_0, c_0) or None")
        out, (h, c) = self._run(input, [None, None] if hx is None else list(hx))
        return out, (h, c)


class GRU(_RNNBase):
    """Multi-layer GRU, gates r, z, n (rows of ``weight_ih_l{k}`` in that order).

    ``n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))``,
    ``h_t = (1 - z) * n + z * h_{t-1}``. Arguments, input and outputs as
    :class:`RNN` (without ``nonlinearity``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:  # noqa: A002
        """``(output, h_n)``; shapes in the class docstring."""
        out, (h,) = self._run(input, [hx])
        return out, h
