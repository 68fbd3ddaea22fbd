"""Elementwise arithmetic and math: each op's forward and backward side by side.

Binary ops broadcast like NumPy; their backward returns gradients of the
broadcast shape, and the engine reduces them to each input's shape (the one
central place for that). Operands are converted to PyTorch's result dtype
first (:mod:`.promotion`), so ``x * 2.0`` stays float32 and ``int_tensor / 2``
is float32. Backward passes are written in tapegrad ops, so every op here is
twice differentiable.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import state as grad_state
from ..backend import xp
from ..tensor import Tensor, _wrap
from .conversion import cast
from .promotion import float_dtype, is_number, result_type

__all__ = [
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "pow",
    "exp",
    "log",
    "log1p",
    "sqrt",
    "rsqrt",
    "abs",
    "sin",
    "cos",
    "sign",
    "square",
    "clamp",
    "clip",
    "maximum",
    "minimum",
    "where",
]


def _operand(x: Any, dt: np.dtype) -> Tensor:
    """Operand ``x`` as a Tensor of dtype ``dt`` (a cast stays in the graph)."""
    if isinstance(x, Tensor):
        return x if x._array.dtype == dt else cast(x, dt)
    if is_number(x):
        # astype wraps out-of-range integers, as PyTorch does (uint8 tensor - 3)
        return _wrap(np.asarray(x).astype(dt))
    return Tensor(x, dtype=dt)


def _pair(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Both operands as Tensors of PyTorch's result dtype (see :mod:`.promotion`)."""
    if isinstance(a, Tensor):
        da = a._array.dtype
        if isinstance(b, Tensor):
            if b._array.dtype == da:
                return a, b
        elif type(b) is float and da.kind == "f":
            return a, _wrap(xp.asarray(b, dtype=da))
    dt = result_type(a, b)
    return _operand(a, dt), _operand(b, dt)


def _broadcast_error(op: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(
        f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together"
    )


def _binary(fn_cls: type[Function], op: str, a: Any, b: Any, floating: bool = False) -> Tensor:
    if floating:
        # true division converts the operands themselves to the float dtype
        # (uint8 tensor / -1 is -3.0, not a division by a wrapped 255)
        dt = float_dtype(result_type(a, b))
        a, b = _operand(a, dt), _operand(b, dt)
    elif type(a) is not Tensor or type(b) is not Tensor or a._array.dtype is not b._array.dtype:
        a, b = _pair(a, b)  # (two Tensors of one dtype, the common case, need nothing)
    try:
        return fn_cls()(a, b)
    except ValueError as e:
        if "broadcast" in str(e) and a.shape != b.shape:
            raise _broadcast_error(op, a, b) from None
        raise


# --------------------------------------------------------------- arithmetic
class AddFunction(Function):
    def forward(self, a: Any, b: Any) -> Any:
        """a + b on the arrays, broadcasting."""
        return a + b

    def backward(self, gy: Any) -> Any:
        """dL/da = dL/db = gy (the engine sums it to each input's shape)."""
        na, nb = self.needs_input_grad
        return (gy if na else None), (gy if nb else None)


class SubFunction(Function):
    def forward(self, a: Any, b: Any) -> Any:
        """a - b on the arrays, broadcasting."""
        return a - b

    def backward(self, gy: Any) -> Any:
        """dL/da = gy, dL/db = -gy."""
        na, nb = self.needs_input_grad
        return (gy if na else None), (-gy if nb else None)


class MulFunction(Function):
    keep_inputs = True

    def forward(self, a: Any, b: Any) -> Any:
        """a * b on the arrays, broadcasting."""
        return a * b

    def saved_inputs(self) -> tuple[int, ...]:
        """a is read only for b's gradient and b only for a's."""
        # a is read only for b's gradient and b only for a's, as PyTorch saves them
        na, nb = self.needs_input_grad
        if na:
            return (0, 1) if nb else (1,)
        return (0,) if nb else ()

    def backward(self, gy: Any) -> Any:
        """dL/da = gy * b, dL/db = gy * a."""
        assert self.inputs is not None
        a, b = self.inputs
        na, nb = self.needs_input_grad
        return (gy * b if na else None), (gy * a if nb else None)


class DivFunction(Function):
    keep_inputs = True

    def forward(self, a: Any, b: Any) -> Any:
        """a / b on the arrays, broadcasting."""
        return a / b

    def saved_inputs(self) -> tuple[int, ...]:
        """The divisor always, the dividend only for the divisor's gradient."""
        # as PyTorch: the divisor always, the dividend only for the divisor's gradient
        return (0, 1) if self.needs_input_grad[1] else (1,)

    def backward(self, gy: Any) -> Any:
        """dL/da = gy / b, dL/db = -gy * a / b^2."""
        assert self.inputs is not None
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = gy / b if na else None
        gb = -gy * a / (b * b) if nb else None
        return ga, gb


class NegFunction(Function):
    def forward(self, x: Any) -> Any:
        """-x on the array."""
        return -x

    def backward(self, gy: Any) -> Any:
        """dL/dx = -gy."""
        return -gy


class PowScalarFunction(Function):
    """x ** c for a constant exponent c."""

    keep_inputs = True

    def __init__(self, c: float) -> None:
        self.c = c

    def forward(self, x: Any) -> Any:
        """x ** c on the array (x * x for c == 2)."""
        c = self.c
        if c == 2:
            return x * x
        return x**c

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * c * x ** (c - 1), exactly 0 for c == 0."""
        assert self.inputs is not None
        (x,) = self.inputs
        c = self.c
        if c == 2:
            return gy * 2.0 * x
        if c == 1:
            return gy
        if c == 0:
            # x ** 0 is constant; c * x ** -1 would give 0 * inf = nan at x == 0
            return _wrap(xp.zeros_like(gy._array))
        return gy * c * x ** (c - 1)


class PowFunction(Function):
    """a ** b with both tensors."""

    keep_inputs = True
    keep_outputs = True

    def forward(self, a: Any, b: Any) -> Any:
        """a ** b on the arrays, broadcasting."""
        return a**b

    def backward(self, gy: Any) -> Any:
        """dL/da = gy * b a ** (b-1), dL/db = gy * a ** b log a (0 where a == 0, b >= 0)."""
        assert self.inputs is not None
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ga = None
        if na:
            ga = gy * b * a ** (b - 1)
            b0 = b._array == 0
            if b0.any():
                # as PyTorch: 0 where the exponent is 0 (not 0 * inf = nan at a == 0)
                ga = where(b0, 0.0, ga)
        gb = None
        if nb:
            # d/db a**b = a**b log a; PyTorch takes it as 0 where a == 0 and b >= 0.
            zero = (a._array == 0) & (b._array >= 0)
            safe_a = where(zero, 1.0, a)
            gb = gy * where(zero, 0.0, self.output() * log(safe_a))
        return ga, gb


def _times_alpha(op: str, a: Any, b: Any, alpha: Any) -> Any:
    """``alpha * b`` in the result dtype of ``a op b`` (PyTorch's ``alpha=``)."""
    dt = result_type(a, b)
    if dt.kind in "biu" and isinstance(alpha, float):
        raise RuntimeError(
            f"{op}: for integral input tensors, argument alpha must not be a floating point number"
        )
    if isinstance(alpha, bool) and dt.kind != "b":
        raise RuntimeError(f"{op}: boolean alpha only supported for Boolean results")
    return mul(_operand(b, dt), _wrap(np.asarray(alpha).astype(dt)))


def _no_bool(a: Any, b: Any) -> None:
    for x in (a, b):
        if isinstance(x, (bool, np.bool_)) or (isinstance(x, Tensor) and x._array.dtype == bool):
            raise RuntimeError(
                "Subtraction, the `-` operator, with a bool tensor is not supported. If you "
                "are trying to invert a mask, use the `~` or `logical_not()` operator instead."
            )


def add(a: Any, b: Any, *, alpha: Any = 1) -> Tensor:
    """a + alpha * b, broadcasting."""
    if alpha != 1:
        b = _times_alpha("add", a, b, alpha)
    return _binary(AddFunction, "add", a, b)


def sub(a: Any, b: Any, *, alpha: Any = 1) -> Tensor:
    """a - alpha * b, broadcasting."""
    _no_bool(a, b)
    if alpha != 1:
        b = _times_alpha("sub", a, b, alpha)
    return _binary(SubFunction, "sub", a, b)


def mul(a: Any, b: Any) -> Tensor:
    """a * b, broadcasting."""
    return _binary(MulFunction, "mul", a, b)


def div(a: Any, b: Any) -> Tensor:
    """a / b, broadcasting (true division: bool and integer inputs give the default float)."""
    return _binary(DivFunction, "div", a, b, floating=True)


def neg(x: Tensor) -> Tensor:
    """-x elementwise, as ``torch.neg``; same shape."""
    return NegFunction()(x)


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001
    """a ** b. A Python-number exponent uses the cheaper constant-exponent op."""
    if result_type(a, b).kind == "b":
        if isinstance(a, Tensor) and is_number(b):  # bool ** True/False, as PyTorch allows
            return _wrap(a._array.astype(np.int64) ** int(b) != 0)
        raise RuntimeError("\"pow\" not implemented for 'Bool'")
    if isinstance(a, Tensor) and is_number(b):
        a = _operand(a, result_type(a, b))
        if a._array.dtype.kind in "iu" and b < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return PowScalarFunction(b)(a)
    return _binary(PowFunction, "pow", a, b)


# --------------------------------------------------------------- unary math
def _floating(x: Any) -> Tensor:
    """x, with bool and integer tensors in the default float dtype (as torch.exp)."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    d = x._array.dtype
    return x if d.kind in "fc" else _wrap(x._array.astype(float_dtype(d)))


class ExpFunction(Function):
    keep_outputs = True

    def forward(self, x: Any) -> Any:
        """y = exp(x) on the array."""
        return xp.exp(x)

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * y."""
        return gy * self.output()


class LogFunction(Function):
    keep_inputs = True

    def forward(self, x: Any) -> Any:
        """y = log(x) on the array."""
        return xp.log(x)

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy / x."""
        assert self.inputs is not None
        return gy / self.inputs[0]


class Log1pFunction(Function):
    keep_inputs = True

    def forward(self, x: Any) -> Any:
        """y = log(1 + x) on the array."""
        return xp.log1p(x)

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy / (1 + x)."""
        assert self.inputs is not None
        return gy / (self.inputs[0] + 1.0)


class SqrtFunction(Function):
    keep_outputs = True

    def forward(self, x: Any) -> Any:
        """y = sqrt(x) on the array."""
        return xp.sqrt(x)

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy / (2 y)."""
        return gy * 0.5 / self.output()


class RsqrtFunction(Function):
    keep_outputs = True

    def forward(self, x: Any) -> Any:
        """y = 1 / sqrt(x) on the array."""
        return 1.0 / xp.sqrt(x)

    def backward(self, gy: Any) -> Any:
        """dL/dx = -gy * y^3 / 2."""
        y = self.output()
        return gy * -0.5 * y * y * y


class AbsFunction(Function):
    keep_inputs = True

    def forward(self, x: Any) -> Any:
        """y = abs(x) on the array."""
        return xp.abs(x)

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * sign(x) (0 at x == 0, as PyTorch)."""
        assert self.inputs is not None
        # sign(0) = 0: the subgradient PyTorch uses
        return mul_const(gy, xp.sign(self.inputs[0]._array))


class SinFunction(Function):
    keep_inputs = True

    def forward(self, x: Any) -> Any:
        """y = sin(x) on the array."""
        return xp.sin(x)

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy * cos(x)."""
        assert self.inputs is not None
        return gy * cos(self.inputs[0])


class CosFunction(Function):
    keep_inputs = True

    def forward(self, x: Any) -> Any:
        """y = cos(x) on the array."""
        return xp.cos(x)

    def backward(self, gy: Any) -> Any:
        """dL/dx = -gy * sin(x)."""
        assert self.inputs is not None
        return -gy * sin(self.inputs[0])


def exp(x: Tensor) -> Tensor:
    """exp(x) elementwise, as ``torch.exp`` (integer inputs give the default float); same shape."""
    return ExpFunction()(_floating(x))


def log(x: Tensor) -> Tensor:
    """Natural logarithm."""
    return LogFunction()(_floating(x))


def log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate for small x."""
    return Log1pFunction()(_floating(x))


def sqrt(x: Tensor) -> Tensor:
    """Square root elementwise, as ``torch.sqrt`` (NaN below 0); same shape."""
    return SqrtFunction()(_floating(x))


def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x)."""
    return RsqrtFunction()(_floating(x))


def abs(x: Tensor) -> Tensor:  # noqa: A001
    """abs(x) elementwise, as ``torch.abs``; same shape and dtype."""
    return AbsFunction()(x)


def sin(x: Tensor) -> Tensor:
    """Sine elementwise (radians), as ``torch.sin``; same shape."""
    return SinFunction()(_floating(x))


def cos(x: Tensor) -> Tensor:
    """Cosine elementwise (radians), as ``torch.cos``; same shape."""
    return CosFunction()(_floating(x))


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 elementwise; its gradient is zero, so it is a constant."""
    return _wrap(xp.sign(x._array))


def square(x: Tensor) -> Tensor:
    """x * x elementwise, as ``torch.square``; same shape."""
    return PowScalarFunction(2)(x)


# --------------------------------------------------- selection and clamping
def mul_const(gy: Tensor, c: Any) -> Tensor:
    """``gy * c`` for a constant array ``c`` of gy's dtype, broadcasting: a backward
    formula's product with a saved mask or sign. A recorded product while a graph
    is recorded (``create_graph``), else one NumPy product with no node, as
    :func:`~tapegrad.ops.namespace.namespace` chooses for the fused ops."""
    if grad_state.enabled:
        return gy * _wrap(c)
    return _wrap(gy._array * c)


def keep_where(gy: Tensor, keep: Any) -> Tensor:
    """gy where the boolean array ``keep`` is true, else 0 (a NaN gradient included,
    as PyTorch's ``where``-based backwards do: 0, not 0 * NaN)."""
    return WhereFunction(keep)(gy, _wrap(xp.zeros((), dtype=gy._array.dtype)))


def _mask(cond: Any, like: Tensor) -> Tensor:
    """A constant 0/1 tensor of ``like``'s dtype."""
    return _wrap(cond.astype(like._array.dtype))


class ClampFunction(Function):
    keep_inputs = True

    def __init__(self, lo: Any, hi: Any) -> None:
        self.lo, self.hi = lo, hi

    def forward(self, x: Any) -> Any:
        """x clipped to [lo, hi] on the array (either bound may be None)."""
        return xp.clip(x, self.lo, self.hi)

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy where lo <= x <= hi, else 0."""
        assert self.inputs is not None
        # The gradient passes where lo <= x <= hi, as in PyTorch.
        x = self.inputs[0]._array
        keep = xp.ones(x.shape, dtype=bool)
        if self.lo is not None:
            keep &= x >= self.lo
        if self.hi is not None:
            keep &= x <= self.hi
        return keep_where(gy, keep)


def clamp(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit x to [min, max] (either may be None). Bounds are Python numbers or tensors."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        bounds = [_pair(x, b)[1] for b in (min, max) if b is not None]
        try:
            return ClampTensorFunction(min is not None, max is not None)(x, *bounds)
        except ValueError as e:
            if "broadcast" not in str(e):
                raise
            shapes = ", ".join(str(tuple(t.shape)) for t in (x, *bounds))
            raise ValueError(f"clamp: shapes {shapes} cannot be broadcast together") from None
    return ClampFunction(min, max)(x)


class ClampTensorFunction(Function):
    """clamp(x, lo, hi) with tensor bounds; inputs are x and the bounds given.

    Not maximum/minimum: at ties PyTorch gives x the whole gradient (x == lo
    counts as inside) and the bound none, instead of splitting it.
    """

    keep_inputs = True

    def __init__(self, has_lo: bool, has_hi: bool) -> None:
        self.has_lo, self.has_hi = has_lo, has_hi

    def _bounds(self, bounds):
        return (bounds[0] if self.has_lo else None), (bounds[-1] if self.has_hi else None)

    def forward(self, x: Any, *bounds: Any) -> Any:
        """x clipped to the tensor bounds given, broadcasting."""
        lo, hi = self._bounds(bounds)
        y = x if lo is None else xp.maximum(x, lo)
        return y if hi is None else xp.minimum(y, hi)

    def backward(self, gy: Any) -> Any:
        """dL/dx: gy inside the bounds; each bound gets gy where it is the result."""
        assert self.inputs is not None
        # PyTorch's clamp_backward and clamp_backward_min_max masks
        x = self.inputs[0]._array
        lo, hi = self._bounds([t._array for t in self.inputs[1:]])
        if lo is not None and hi is not None:
            masks = [(x >= lo) & (x <= hi), (x < lo) & (lo < hi), (x > hi) | (hi < lo)]
        elif lo is not None:
            masks = [x >= lo, x < lo]
        else:
            masks = [x <= hi, x > hi]
        return tuple(
            keep_where(gy, m) if need else None for m, need in zip(masks, self.needs_input_grad)
        )


clip = clamp


class MaximumFunction(Function):
    keep_inputs = True

    def forward(self, a: Any, b: Any) -> Any:
        """max(a, b) on the arrays, broadcasting."""
        return xp.maximum(a, b)

    def backward(self, gy: Any) -> Any:
        """gy to the larger side, split in halves at ties."""
        assert self.inputs is not None
        a, b = self.inputs
        na, nb = self.needs_input_grad
        # Ties share the gradient equally, as PyTorch documents.
        ma = (a._array > b._array) + 0.5 * (a._array == b._array)
        ga = gy * _mask(ma, gy) if na else None
        gb = gy * _mask(1.0 - ma, gy) if nb else None
        return ga, gb


class MinimumFunction(Function):
    keep_inputs = True

    def forward(self, a: Any, b: Any) -> Any:
        """min(a, b) on the arrays, broadcasting."""
        return xp.minimum(a, b)

    def backward(self, gy: Any) -> Any:
        """gy to the smaller side, split in halves at ties."""
        assert self.inputs is not None
        a, b = self.inputs
        na, nb = self.needs_input_grad
        ma = (a._array < b._array) + 0.5 * (a._array == b._array)
        ga = gy * _mask(ma, gy) if na else None
        gb = gy * _mask(1.0 - ma, gy) if nb else None
        return ga, gb


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max; at ties each side gets half the gradient."""
    return _binary(MaximumFunction, "maximum", a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min; at ties each side gets half the gradient."""
    return _binary(MinimumFunction, "minimum", a, b)


# Integer dtypes of each float width: clearing a float's bits gives +0.0.
_BITS = {2: xp.int16, 4: xp.int32, 8: xp.int64}


def _clear_where_not(cond: Any, a: Any) -> Any:
    """``where(cond, a, 0)`` for a float array ``a``, broadcasting: the bits of ``a``
    times 1 where ``cond`` holds and 0 elsewhere, an integer product, so exactly
    ``a`` or +0.0 (a NaN included). One pass: NumPy's ``where`` (and masked
    ``copyto``) take 5-10x longer on an unpredictable mask such as ReLU's, which
    made this the costliest step of a ReLU backward."""
    ints = _BITS[a.dtype.itemsize]
    return xp.multiply(a.view(ints), cond, dtype=ints).view(a.dtype)


def _is_plus_zero(b: Any) -> bool:
    """Whether 0-d float array ``b`` is +0.0 (cleared bits give +0.0, never -0.0)."""
    v = float(b)
    return v == 0.0 and math.copysign(1.0, v) > 0.0


class WhereFunction(Function):
    def __init__(self, cond: Any) -> None:
        self.cond = cond

    def forward(self, a: Any, b: Any) -> Any:
        """a where ``cond`` holds, else b, broadcasting."""
        if b.ndim == 0 and a.dtype.kind == "f" and b.dtype == a.dtype and _is_plus_zero(b):
            return _clear_where_not(self.cond, a)
        return xp.where(self.cond, a, b)

    def backward(self, gy: Any) -> Any:
        """dL/da: gy where cond, else 0; dL/db: gy where not cond, else 0."""
        na, nb = self.needs_input_grad
        zero = _wrap(xp.zeros((), dtype=gy._array.dtype))
        ga = WhereFunction(self.cond)(gy, zero) if na else None
        gb = WhereFunction(self.cond)(zero, gy) if nb else None
        return ga, gb


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` is true, else ``b``; broadcasting. ``cond`` gets no gradient."""
    c = cond._array if isinstance(cond, Tensor) else xp.asarray(cond)
    if c.dtype != bool:
        c = c.astype(bool)
    a, b = _pair(a, b)
    try:
        np.broadcast_shapes(c.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"where: condition {tuple(c.shape)}, x {tuple(a.shape)} and y {tuple(b.shape)} "
            "cannot be broadcast together"
        ) from None
    return WhereFunction(c)(a, b)
