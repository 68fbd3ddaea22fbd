"""Tensor's in-place methods (``add_``, ``relu_``, ``x[i] = v``, ``+=``...).

Each one is its out-of-place op written back into the tensor's memory, with
PyTorch's autograd rules (see :mod:`tapegrad.ops.inplace`): allowed on tensors
in the middle of a graph, which then continue from the in-place op; refused on
a leaf that requires grad (and on its views) while gradients are recorded;
every change bumps the version counter the tensor shares with its views and
its ``detach()``, so a backward that needs the overwritten values raises
instead of computing a wrong gradient. ``t.data`` has a counter of its own:
changes through it are neither recorded nor checked.

:func:`tapegrad.tensor_methods.attach` copies these methods onto ``Tensor``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import random as _random
from .ops import activation as _act
from .ops import elementwise as _ew
from .ops import indexing as _ix
from .ops.inplace import CopyFunction, apply_inplace, refresh_view
from .tensor import Tensor, _wrap


class InplaceMethods:
    """The in-place methods of :class:`~tapegrad.tensor.Tensor`; never instantiated."""

    # ------------------------------------------------------------ arithmetic
    def add_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
        """``self += alpha * other``, in place; returns self."""
        return apply_inplace(self, "add_", lambda s: _ew.add(s, other, alpha=alpha))

    def sub_(self: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
        """``self -= alpha * other``, in place; returns self."""
        return apply_inplace(self, "sub_", lambda s: _ew.sub(s, other, alpha=alpha))

    def mul_(self: Tensor, other: Any) -> Tensor:
        """In-place self * other; returns self."""
        return apply_inplace(self, "mul_", lambda s: _ew.mul(s, other))

    def div_(self: Tensor, other: Any) -> Tensor:
        """In-place self / other; returns self."""
        return apply_inplace(self, "div_", lambda s: _ew.div(s, other))

    def pow_(self: Tensor, exponent: Any) -> Tensor:
        """In-place self ** exponent; returns self."""
        return apply_inplace(self, "pow_", lambda s: _ew.pow(s, exponent))

    def neg_(self: Tensor) -> Tensor:
        """In-place -self; returns self."""
        return apply_inplace(self, "neg_", _ew.neg)

    def abs_(self: Tensor) -> Tensor:
        """In-place abs(self); returns self."""
        return apply_inplace(self, "abs_", _ew.abs)

    def exp_(self: Tensor) -> Tensor:
        """In-place exp(self); returns self."""
        return apply_inplace(self, "exp_", _ew.exp)

    def log_(self: Tensor) -> Tensor:
        """In-place log(self); returns self."""
        return apply_inplace(self, "log_", _ew.log)

    def sqrt_(self: Tensor) -> Tensor:
        """In-place sqrt(self); returns self."""
        return apply_inplace(self, "sqrt_", _ew.sqrt)

    def __iadd__(self: Tensor, other: Any) -> Tensor:
        return apply_inplace(self, "add_", lambda s: _ew.add(s, other))

    def __isub__(self: Tensor, other: Any) -> Tensor:
        return apply_inplace(self, "sub_", lambda s: _ew.sub(s, other))

    def __imul__(self: Tensor, other: Any) -> Tensor:
        return apply_inplace(self, "mul_", lambda s: _ew.mul(s, other))

    def __itruediv__(self: Tensor, other: Any) -> Tensor:
        return apply_inplace(self, "div_", lambda s: _ew.div(s, other))

    def __ipow__(self: Tensor, other: Any) -> Tensor:
        return apply_inplace(self, "pow_", lambda s: _ew.pow(s, other))

    # ----------------------------------------------------------- activations
    def relu_(self: Tensor) -> Tensor:
        """In-place max(self, 0); returns self."""
        return apply_inplace(self, "relu_", _act.relu)

    def sigmoid_(self: Tensor) -> Tensor:
        """In-place sigmoid(self); returns self."""
        return apply_inplace(self, "sigmoid_", _act.sigmoid)

    def tanh_(self: Tensor) -> Tensor:
        """In-place tanh(self); returns self."""
        return apply_inplace(self, "tanh_", _act.tanh)

    def clamp_(self: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
        """In-place clamp to [min, max]; returns self."""
        return apply_inplace(self, "clamp_", lambda s: _ew.clamp(s, min, max))

    clip_ = clamp_

    def clamp_min_(self: Tensor, min: Any) -> Tensor:  # noqa: A002
        """In-place max(self, min); returns self."""
        return apply_inplace(self, "clamp_min_", lambda s: _ew.clamp(s, min, None))

    def clamp_max_(self: Tensor, max: Any) -> Tensor:  # noqa: A002
        """In-place min(self, max); returns self."""
        return apply_inplace(self, "clamp_max_", lambda s: _ew.clamp(s, None, max))

    # --------------------------------------------------------- overwriting
    def copy_(self: Tensor, src: Any) -> Tensor:
        """Copy ``src`` (broadcast to self's shape, cast to its dtype) into self."""
        return _copy_into(self, src, "copy_")

    def fill_(self: Tensor, value: Any) -> Tensor:
        """Set every element to ``value`` (a number or a 0-d tensor)."""
        if isinstance(value, Tensor) and value.ndim != 0:
            raise RuntimeError(
                f"fill_ only supports 0-dimension value tensor, got shape {tuple(value.shape)}"
            )
        return _copy_into(self, value, "fill_")

    def zero_(self: Tensor) -> Tensor:
        """Fill with zeros in place; returns self."""
        return _copy_into(self, 0, "zero_")

    def masked_fill_(self: Tensor, mask: Any, value: Any) -> Tensor:
        """In-place ``value`` where ``mask`` is true; returns self."""
        return apply_inplace(self, "masked_fill_", lambda s: _ix.masked_fill(s, mask, value))

    def __setitem__(self: Tensor, key: Any, value: Any) -> None:
        _ix.setitem(self, key, value)

    def _sync_view(self: Tensor) -> None:
        """Called by the graph recorder when this view's memory changed in place."""
        refresh_view(self)

    # -------------------------------------------------------------- random
    def normal_(
        self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None
    ) -> Tensor:
        """Fill with draws from N(mean, std**2); returns self."""
        g = _random.default_generator() if generator is None else generator
        return _fill_random(self, "normal_", g.normal(mean, std, size=self.shape))

    def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Tensor:
        """Fill with draws from U(a, b); returns self."""
        g = _random.default_generator() if generator is None else generator
        return _fill_random(self, "uniform_", g.uniform(a, b, size=self.shape))


def _copy_into(t: Tensor, src: Any, op: str) -> Tensor:
    src = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
    try:
        np.broadcast_shapes(src.shape, t.shape)
    except ValueError:
        raise RuntimeError(
            f"{op}: source of shape {tuple(src.shape)} does not broadcast to {tuple(t.shape)}"
        ) from None
    return apply_inplace(t, op, lambda s: CopyFunction()(s, src))


def _fill_random(t: Tensor, op: str, values: Any) -> Tensor:
    # like fill_: t's old value gets a zero gradient (and a leaf that requires grad
    # can be filled only under no_grad, as in PyTorch)
    return _copy_into(t, _wrap(np.asarray(values).astype(t.dtype, copy=False)), op)
