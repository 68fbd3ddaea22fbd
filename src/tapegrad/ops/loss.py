"""Loss functions, with PyTorch's names, argument order, defaults and definitions.

Every loss takes ``reduction`` in ``{'mean', 'sum', 'none'}``. The common
losses are fused Functions: the forward is computed in NumPy in one go (for
``cross_entropy``: log-softmax and the negative log-likelihood together, the
backward being ``softmax - onehot``), which is both faster and more stable than
a chain of ops.

Each Function's backward is one formula written against an array namespace
``F`` (:mod:`tapegrad.ops.namespace`): it runs on NumPy arrays in an ordinary
``loss.backward()``, and as tapegrad ops on the input Tensors when the
backward itself is recorded (``create_graph=True``: gradient penalties,
Hessian-vector products), so that it can be differentiated again.

Weights (``weight``, ``pos_weight``) are constants: as in PyTorch, passing one
that requires grad is an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor, _wrap, as_tensor
from . import reduce as _red
from . import softmax as _sm
from .elementwise import cast
from .namespace import ArrayNamespace, namespace
from .shape import reshape

__all__ = [
    "mse_loss",
    "l1_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll_loss",
]

_REDUCTIONS = ("mean", "sum", "none")


# ------------------------------------------------------------------ helpers
def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of 'mean', 'sum', 'none', got {reduction!r}")


def _float_input(op: str, x: Any) -> Tensor:
    x = as_tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be a floating-point tensor, got {x.dtype}")
    return x


def _same_shape_target(op: str, x: Tensor, target: Any) -> Tensor:
    """``target`` as a Tensor of ``x``'s dtype; its shape must equal ``x``'s."""
    t = target if isinstance(target, Tensor) else Tensor(target, dtype=x.dtype)
    if t.shape != x.shape:
        # PyTorch broadcasts some losses here with a warning; it is almost always a bug
        # ((N, 1) against (N,)), so it is an error.
        raise ValueError(
            f"{op}: target shape {tuple(t.shape)} does not match input shape {tuple(x.shape)}"
        )
    if t.dtype != x.dtype:
        t = cast(t, x.dtype)
    return t


def _const(op: str, name: str, w: Any, like: Tensor) -> Any:
    """A constant weight as an array of ``like``'s dtype (None stays None)."""
    if w is None:
        return None
    if isinstance(w, Tensor):
        if w.requires_grad:
            raise ValueError(
                f"{op}: {name} cannot require grad (it is a constant, as in PyTorch); "
                f"pass {name}.detach()"
            )
        w = w._array
    return xp.asarray(w).astype(like.dtype, copy=False)


def _check_broadcast(op: str, name: str, w: Any, shape: tuple[int, ...]) -> None:
    try:
        ok = np.broadcast_shapes(w.shape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{op}: {name} of shape {tuple(w.shape)} cannot be broadcast to the input "
            f"shape {tuple(shape)}"
        )


def _inv(n: Any, dtype: Any) -> Any:
    """1 / n as a 0-d array of ``dtype`` (NaN for n == 0, as a mean of nothing)."""
    if n == 0:  # (errstate costs more than the division: only where it can warn)
        return xp.asarray(np.nan, dtype=dtype)
    return xp.asarray(1, dtype=dtype) / xp.asarray(n, dtype=dtype)


def _reduce_array(a: Any, reduction: str, inv_n: Any) -> Any:
    if reduction == "none":
        return a
    s = a.sum()
    if reduction == "sum":
        return s
    return s * inv_n  # an empty mean is 0 * NaN = NaN, as in PyTorch


def _upstream(F: ArrayNamespace, gy: Tensor, reduction: str, inv_n: Any) -> Any:
    """The upstream gradient of each element of an elementwise loss, in ``F``."""
    g = F.value(gy)
    return g * F.const(inv_n) if reduction == "mean" else g


# ------------------------------------------------------------- regression
class _MSELossFunction(Function):
    keep_inputs = True

    def __init__(self, reduction: str) -> None:
        self.reduction = reduction

    def forward(self, x, t):
        d = x - t
        self.inv_n = _inv(d.size, d.dtype)
        return _reduce_array(d * d, self.reduction, self.inv_n)

    def backward(self, gy):
        F = namespace()
        x, t = F.inputs(self)
        g = _upstream(F, gy, self.reduction, self.inv_n) * 2.0 * (x - t)
        nx, nt = self.needs_input_grad
        return F.grads((g if nx else None), (-g if nt else None))


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target)**2``, reduced.

    Args:
        input, target: tensors of the same shape (no broadcasting, unlike
            PyTorch, which only warns).
        reduction: ``'mean'`` (over all elements), ``'sum'`` or ``'none'``.

    Returns:
        A 0-d tensor, or one of the input's shape for ``'none'``.
    """
    _check_reduction("mse_loss", reduction)
    x = _float_input("mse_loss", input)
    t = _same_shape_target("mse_loss", x, target)
    return _MSELossFunction(reduction)(x, t)


class _L1LossFunction(Function):
    def __init__(self, reduction: str) -> None:
        self.reduction = reduction

    def forward(self, x, t):
        d = x - t
        self.sign = xp.sign(d)
        self.inv_n = _inv(d.size, d.dtype)
        return _reduce_array(xp.abs(d), self.reduction, self.inv_n)

    def backward(self, gy):
        # sign(x - t) has zero derivative almost everywhere, so a constant is exact.
        F = namespace()
        g = _upstream(F, gy, self.reduction, self.inv_n) * F.const(self.sign)
        nx, nt = self.needs_input_grad
        return F.grads((g if nx else None), (-g if nt else None))


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Absolute error ``|input - target|``, reduced; same shapes as :func:`mse_loss`.

    The gradient at ``input == target`` is 0, as in PyTorch.
    """
    _check_reduction("l1_loss", reduction)
    x = _float_input("l1_loss", input)
    t = _same_shape_target("l1_loss", x, target)
    return _L1LossFunction(reduction)(x, t)


# ------------------------------------------------------ binary cross-entropy
class _BCELossFunction(Function):
    keep_inputs = True

    def __init__(self, weight: Any, reduction: str) -> None:
        self.weight, self.reduction = weight, reduction

    def forward(self, x, t):
        with np.errstate(divide="ignore"):
            # PyTorch clamps the logs at -100 so that a saturated prediction costs 100, not inf.
            lx = xp.maximum(xp.log(x), -100)
            l1x = xp.maximum(xp.log1p(-x), -100)
        loss = -(t * lx + (1 - t) * l1x)
        if self.weight is not None:
            loss = loss * self.weight
        self.inv_n = _inv(loss.size, loss.dtype)
        return _reduce_array(loss, self.reduction, self.inv_n)

    def backward(self, gy):
        F = namespace()
        x, t = F.inputs(self)
        nx, nt = self.needs_input_grad
        g = _upstream(F, gy, self.reduction, self.inv_n)
        if self.weight is not None:
            g = g * F.const(self.weight)
        gx = gt = None
        if nx:
            # PyTorch's formula, with its floor of 1e-12 on x(1 - x)
            gx = g * (x - t) / F.clamp_min(x * (1.0 - x), 1e-12)
        if nt:
            gt = g * (F.log1p(-x) - F.log(x))
        return F.grads(gx, gt)


def binary_cross_entropy(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean"
) -> Tensor:
    """``-w * (t * log(x) + (1 - t) * log(1 - x))``, reduced; logs are clamped at -100.

    Args:
        input: probabilities in [0, 1], any shape.
        target: same shape as ``input``.
        weight: a constant broadcastable to the input's shape, or None.
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.

    Returns:
        A 0-d tensor, or one of the input's shape for ``'none'``.
    """
    op = "binary_cross_entropy"
    _check_reduction(op, reduction)
    x = _float_input(op, input)
    t = _same_shape_target(op, x, target)
    xd = x._array
    if not bool(((xd >= 0) & (xd <= 1)).all()):
        bad = xd[~((xd >= 0) & (xd <= 1))].reshape(-1)[0]
        raise ValueError(
            f"{op}: all elements of input (shape {tuple(x.shape)}) must be between 0 and 1, "
            f"found {bad}; for logits use binary_cross_entropy_with_logits"
        )
    w = _const(op, "weight", weight, x)
    if w is not None:
        _check_broadcast(op, "weight", w, x.shape)
    return _BCELossFunction(w, reduction)(x, t)


class _BCEWithLogitsLossFunction(Function):
    keep_inputs = True

    def __init__(self, weight: Any, pos_weight: Any, reduction: str) -> None:
        self.weight, self.pos_weight, self.reduction = weight, pos_weight, reduction

    def forward(self, x, t):
        # exp(-|x|) never overflows, so logits of +-1000 give exact losses.
        e = self.e = xp.exp(-xp.abs(x))
        pw = self.pos_weight
        if pw is None:
            loss = xp.maximum(x, 0) - x * t + xp.log1p(e)
        else:
            # softplus(-x) = -log(sigmoid(x)), weighted by pos_weight on positives
            sp_neg = xp.log1p(e) + xp.maximum(-x, 0)
            loss = (1 - t) * x + ((pw - 1) * t + 1) * sp_neg
        if self.weight is not None:
            loss = loss * self.weight
        self.inv_n = _inv(loss.size, loss.dtype)
        return _reduce_array(loss, self.reduction, self.inv_n)

    def backward(self, gy):
        F = namespace()
        x, t = F.inputs(self)
        nx, nt = self.needs_input_grad
        pw = self.pos_weight
        g = _upstream(F, gy, self.reduction, self.inv_n)
        if self.weight is not None:
            g = g * F.const(self.weight)
        gx = gt = None
        if nx:
            # sigmoid(x) from the saved exp(-|x|) on arrays; recomputed on Tensors
            x0 = self.inputs[0]._array
            sig = F.residual(xp.where(x0 >= 0, 1, self.e) / (1 + self.e), lambda: F.sigmoid(x))
            if pw is None:
                gx = g * (sig - t)
            else:
                gx = g * ((1.0 - t) + (t * F.const(pw - 1) + 1.0) * (sig - 1.0))
        if nt:
            gt = -g * x if pw is None else g * (F.const(pw - 1) * F.softplus(-x) - x)
        return F.grads(gx, gt)


def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)``, computed stably from the logits.

    ``max(x, 0) - x * t + log(1 + exp(-|x|))`` per element (times ``weight``);
    with ``pos_weight`` p the positive term is weighted by p:
    ``(1 - t) * x + (1 + (p - 1) * t) * softplus(-x)``.

    Args:
        input: logits, any shape. target: same shape, values in [0, 1].
        weight: constant broadcastable to the input's shape, or None.
        reduction: ``'mean'``, ``'sum'`` or ``'none'``.
        pos_weight: constant broadcastable to the input's shape (typically (C,)
            for input (N, C)), or None.

    Returns:
        A 0-d tensor, or one of the input's shape for ``'none'``.
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    x = _float_input(op, input)
    t = _same_shape_target(op, x, target)
    w = _const(op, "weight", weight, x)
    pw = _const(op, "pos_weight", pos_weight, x)
    if w is not None:
        _check_broadcast(op, "weight", w, x.shape)
    if pw is not None:
        _check_broadcast(op, "pos_weight", pw, x.shape)
    return _BCEWithLogitsLossFunction(w, pw, reduction)(x, t)


# ------------------------------------------------------ multi-class losses
def _class_target(op: str, x: Tensor, target: Any, ignore_index: int) -> tuple[Any, Any]:
    """Check a class-index target against input (N, C, d1, ...).

    Returns (target with ignored entries set to class 0, mask of the entries
    that count, or None when all count).
    """
    t = target._array if isinstance(target, Tensor) else xp.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: expected an integer class-index target for input of shape "
            f"{tuple(x.shape)}, got a {t.dtype} target of shape {tuple(t.shape)}"
        )
    want = (x.shape[0],) + x.shape[2:]
    if t.shape != want:
        raise ValueError(
            f"{op}: input of shape {tuple(x.shape)} needs a class-index target of shape "
            f"{want}, got target of shape {tuple(t.shape)}"
        )
    n_classes = x.shape[1]
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(
            f"{op}: target class {int(t[bad].reshape(-1)[0])} is out of range for "
            f"{n_classes} classes (valid: 0 to {n_classes - 1}, or ignore_index={ignore_index})"
        )
    if valid.all():
        return t, None
    return xp.where(valid, t, 0), valid


def _class_weight(op: str, weight: Any, x: Tensor) -> Any:
    w = _const(op, "weight", weight, x)
    if w is not None and w.shape != (x.shape[1],):
        raise ValueError(
            f"{op}: weight must have shape ({x.shape[1]},) for input of shape "
            f"{tuple(x.shape)} with {x.shape[1]} classes, got {tuple(w.shape)}"
        )
    return w


def _class_view(w: Any, ndim: int) -> Any:
    """(C,) weights shaped to broadcast against (N, C, d1, ...)."""
    return w.reshape((1, -1) + (1,) * (ndim - 2))


def _batched(op: str, x: Tensor, target: Any) -> tuple[Tensor, Any, bool]:
    """Unbatched input (C,) with a 0-d target becomes (1, C) with target (1,)."""
    if x.ndim == 0:
        raise ValueError(f"{op}: input must have at least 1 dim (C,), got a 0-d tensor")
    if x.ndim > 1:
        return x, target, False
    t = target._array if isinstance(target, Tensor) else xp.asarray(target)
    if t.dtype.kind == "f":  # class probabilities, shape (C,)
        tt = target if isinstance(target, Tensor) else Tensor(t, dtype=x.dtype)
        if tt.shape != x.shape:
            raise ValueError(
                f"{op}: class-probability target must have the input's shape "
                f"{tuple(x.shape)}, got {tuple(tt.shape)}"
            )
        return reshape(x, (1,) + x.shape), reshape(tt, (1,) + x.shape), True
    if t.shape != ():
        raise ValueError(
            f"{op}: unbatched input of shape {tuple(x.shape)} needs a 0-d class-index target, "
            f"got target of shape {tuple(t.shape)}"
        )
    return reshape(x, (1,) + x.shape), t.reshape(1), True


def _sample_upstream(F: ArrayNamespace, gy: Tensor, reduction: str, inv_d: Any) -> Any:
    """The upstream gradient per sample, shaped (N, 1, d1, ...) to broadcast over classes."""
    g = F.value(gy)
    if reduction == "none":
        return F.reshape(g, (gy.shape[0], 1) + tuple(gy.shape[1:]))
    if reduction == "sum":
        return g
    return g * F.const(inv_d)


class _CrossEntropyFunction(Function):
    """log_softmax + nll (+ label smoothing) over class axis 1 of (N, C, d1, ...)."""

    keep_inputs = True  # a differentiable softmax (create_graph) is recomputed from x

    def __init__(self, tgt, valid, weight, smoothing: float, reduction: str) -> None:
        self.tgt, self.valid, self.weight = tgt, valid, weight
        self.smoothing, self.reduction = smoothing, reduction

    def forward(self, x):
        c = x.shape[1]
        eps, w, valid = self.smoothing, self.weight, self.valid
        z = x - x.max(axis=1, keepdims=True)
        ez = xp.exp(z)
        s = ez.sum(axis=1, keepdims=True)
        lse = xp.log(s)
        idx = self.tgt[:, None]
        nll = (lse - xp.take_along_axis(z, idx, axis=1))[:, 0]
        # coefficient of the target class's -log p in each sample's loss
        w_t = w[self.tgt] if w is not None else None
        if w is not None:
            loss = nll * ((1.0 - eps) * w_t)
        else:
            loss = nll * (1.0 - eps) if eps else nll
        if eps:
            # every class's -log p, weighted, with total weight eps
            if w is None:
                smooth = c * lse[:, 0] - z.sum(axis=1)
            else:
                smooth = w.sum() * lse[:, 0] - (z * _class_view(w, x.ndim)).sum(axis=1)
            loss = loss + (eps / c) * smooth
        if valid is not None:
            loss = xp.where(valid, loss, 0)
        self.ez, self.s = ez, s
        if self.reduction == "mean":
            # PyTorch's mean: divided by the total weight of the counted targets
            if w is None:
                d = valid.sum() if valid is not None else nll.size
            else:
                d = (w_t * valid).sum() if valid is not None else w_t.sum()
            self.inv_d = _inv(d, x.dtype)
        else:
            self.inv_d = None
        return _reduce_array(loss, self.reduction, self.inv_d)

    def _coefficients(self, shape: tuple[int, ...], dtype: Any) -> tuple[Any, Any]:
        """(S, Q) with grad = softmax * S - Q per unit of upstream gradient.

        Each sample's loss is -sum_c Q[c] log p[c]; S = sum_c Q[c].
        """
        eps, w, valid = self.smoothing, self.weight, self.valid
        c = shape[1]
        idx = self.tgt[:, None]
        on_t = (1.0 - eps) * w[idx] if w is not None else xp.full(idx.shape, 1.0 - eps, dtype)
        q = xp.zeros(shape, dtype=dtype)
        xp.put_along_axis(q, idx, on_t, axis=1)
        if eps:
            q += (eps / c) * (_class_view(w, len(shape)) if w is not None else 1.0)
        if valid is not None:
            q *= valid[:, None]
        return q.sum(axis=1, keepdims=True), q

    def backward(self, gy):
        F = namespace()
        s_coef, q = self._coefficients(self.ez.shape, self.ez.dtype)
        g = _sample_upstream(F, gy, self.reduction, self.inv_d)
        p = F.residual(self.ez / self.s, lambda: F.softmax(self.inputs[0], 1))
        return F.grads((p * F.const(s_coef) - F.const(q)) * g)


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between the softmax of ``input`` (logits) and ``target``, as in PyTorch.

    Args:
        input: logits of shape (N, C), (N, C, d1, ...) or unbatched (C,).
        target: class indices (integer, shape (N,), (N, d1, ...) or () for
            unbatched input; values in [0, C) or ``ignore_index``), or class
            probabilities (floating, same shape as ``input``).
        weight: constant (C,) weight of each class, or None.
        ignore_index: class-index targets equal to it contribute nothing, neither
            to the loss nor to the mean's denominator. Not allowed (>= 0) with
            probability targets.
        reduction: ``'mean'``: for class indices the weighted mean over the
            counted targets (sum of losses / sum of their classes' weights); for
            probabilities the sum divided by the number of samples N*d1*....
            ``'sum'``, or ``'none'`` (shape (N, d1, ...), () for unbatched input).
        label_smoothing: in [0, 1]; the target becomes ``(1 - ls) * target + ls / C``.

    Returns:
        A 0-d tensor, or the per-sample losses for ``'none'``.
    """
    op = "cross_entropy"
    _check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = _float_input(op, input)
    x, target, unbatched = _batched(op, x, target)
    w = _class_weight(op, weight, x)
    t_dtype = target.dtype if isinstance(target, Tensor) else xp.asarray(target).dtype
    if t_dtype.kind == "f":
        out = _cross_entropy_probs(op, x, target, w, ignore_index, reduction, label_smoothing)
    else:
        tgt, valid = _class_target(op, x, target, ignore_index)
        out = _CrossEntropyFunction(tgt, valid, w, float(label_smoothing), reduction)(x)
    if unbatched and reduction == "none":
        out = reshape(out, ())
    return out


def _cross_entropy_probs(op, x, target, w, ignore_index, reduction, smoothing) -> Tensor:
    """Cross-entropy with class-probability targets, as a composition of ops."""
    t = target if isinstance(target, Tensor) else Tensor(target, dtype=x.dtype)
    if t.shape != x.shape:
        raise ValueError(
            f"{op}: class-probability target must have the input's shape {tuple(x.shape)}, "
            f"got {tuple(t.shape)}"
        )
    if ignore_index >= 0:
        raise ValueError(
            f"{op}: ignore_index ({ignore_index}) is not supported for class-probability targets"
        )
    if t.dtype != x.dtype:
        t = cast(t, x.dtype)
    c = x.shape[1]
    if smoothing:
        t = t * (1.0 - smoothing) + smoothing / c
    if w is not None:
        t = t * _wrap(_class_view(w, x.ndim))
    per_sample = -_red.sum(_sm.log_softmax(x, 1) * t, 1)
    if reduction == "none":
        return per_sample
    total = _red.sum(per_sample)
    if reduction == "sum":
        return total
    n_samples = x._array.size // c if c else 0
    return total * _wrap(_inv(n_samples, x.dtype))


class _NLLLossFunction(Function):
    def __init__(self, tgt, valid, weight, reduction: str) -> None:
        self.tgt, self.valid, self.weight, self.reduction = tgt, valid, weight, reduction

    def forward(self, x):
        w, valid = self.weight, self.valid
        idx = self.tgt[:, None]
        loss = -xp.take_along_axis(x, idx, axis=1)[:, 0]
        w_t = w[self.tgt] if w is not None else None
        if w is not None:
            loss = loss * w_t
        if valid is not None:
            loss = xp.where(valid, loss, 0)
        self.shape = x.shape
        if self.reduction == "mean":
            if w is None:
                d = valid.sum() if valid is not None else loss.size
            else:
                d = (w_t * valid).sum() if valid is not None else w_t.sum()
            self.inv_d = _inv(d, x.dtype)
        else:
            self.inv_d = None
        return _reduce_array(loss, self.reduction, self.inv_d)

    def backward(self, gy):
        # The loss is linear in the input: the gradient is a constant times gy.
        dtype = gy.dtype
        idx = self.tgt[:, None]
        on_t = -self.weight[idx] if self.weight is not None else xp.full(idx.shape, -1, dtype)
        q = xp.zeros(self.shape, dtype=dtype)
        xp.put_along_axis(q, idx, on_t, axis=1)
        if self.valid is not None:
            q *= self.valid[:, None]
        F = namespace()
        return F.grads(F.const(q) * _sample_upstream(F, gy, self.reduction, self.inv_d))


def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood ``-weight[t] * input[n, t]``, as in PyTorch.

    Args:
        input: log-probabilities of shape (N, C), (N, C, d1, ...) or (C,).
        target: integer class indices of shape (N,), (N, d1, ...) or ().
        weight, ignore_index, reduction: as in :func:`cross_entropy`.

    Returns:
        A 0-d tensor, or the per-sample losses for ``'none'``.
    """
    op = "nll_loss"
    _check_reduction(op, reduction)
    x = _float_input(op, input)
    x, target, unbatched = _batched(op, x, target)
    w = _class_weight(op, weight, x)
    tgt, valid = _class_target(op, x, target, ignore_index)
    out = _NLLLossFunction(tgt, valid, w, reduction)(x)
    if unbatched and reduction == "none":
        out = reshape(out, ())
    return out
