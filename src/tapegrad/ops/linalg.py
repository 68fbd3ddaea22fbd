"""Linear algebra: batched matmul, ``linear`` (x @ W.T + b), ``einsum``.

Every backward is written with these same ops (matmul, linear's pieces,
einsum, sums), so all of them are differentiable to any order.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from ..autograd.function import Function
from ..backend import xp
from ..tensor import Tensor, as_tensor
from .elementwise import where
from .namespace import namespace
from .shape import broadcast_to, reshape, sum_to, transpose

__all__ = [
    "matmul",
    "mm",
    "bmm",
    "baddbmm",
    "linear",
    "einsum",
]


def _each_for_the_other(need: tuple[bool, ...]) -> tuple[int, ...]:
    """Saved inputs of a product: each operand is read only for the other's gradient,
    so only those whose partner needs a gradient are version-checked (as in PyTorch)."""
    # (this runs once per recorded product: a generator here costs more than the GEMM
    # of a small layer)
    if need[1]:
        return (0, 1) if need[0] else (0,)
    return (1,) if need[0] else ()


class MatMulFunction(Function):
    keep_inputs = True

    def forward(self, a: Any, b: Any) -> Any:
        """a @ b on the arrays (NumPy's matmul: batched, 1-D operands as vectors)."""
        return a @ b

    def saved_inputs(self) -> tuple[int, ...]:
        """Each operand is read only for the other's gradient, as PyTorch saves them."""
        return _each_for_the_other(self.needs_input_grad)

    def backward(self, gy: Any) -> Any:
        """dL/da = gy @ b^T, dL/db = a^T @ gy, summed to each operand's shape."""
        assert self.inputs is not None
        a, b = self.inputs
        na, nb = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:
            # (the common case, in the namespace: plain NumPy in an ordinary backward,
            # where a Tensor transpose would cost more than a small product)
            F = namespace()
            av, bv = F.inputs(self)
            g = F.value(gy)
            return F.grads(g @ F.mT(bv) if na else None, F.mT(av) @ g if nb else None)
        ga = gb = None
        # 1-D operands are treated as a row (a) or column (b) vector, as in NumPy.
        if a.ndim == 1 and b.ndim == 1:
            return (gy * b if na else None), (gy * a if nb else None)
        if a.ndim == 1:
            if na:
                ga = sum_to(matmul(gy.unsqueeze(-2), transpose(b, -1, -2)).squeeze(-2), a.shape)
            if nb:
                gb = sum_to(a.unsqueeze(-1) @ gy.unsqueeze(-2), b.shape)
            return ga, gb
        if b.ndim == 1:
            if na:
                ga = sum_to(gy.unsqueeze(-1) @ b.unsqueeze(-2), a.shape)
            if nb:
                gb = sum_to((transpose(a, -1, -2) @ gy.unsqueeze(-1)).squeeze(-1), b.shape)
            return ga, gb
        if na:
            ga = sum_to(matmul(gy, transpose(b, -1, -2)), a.shape)
        if nb:
            gb = sum_to(matmul(transpose(a, -1, -2), gy), b.shape)
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules: batched, broadcasting over leading dims."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least 1 dim, got {a.shape} @ {b.shape}")
    ka = a.shape[-1]
    kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if ka != kb:
        raise ValueError(
            f"matmul: shapes {tuple(a.shape)} @ {tuple(b.shape)}: inner sizes {ka} and {kb} differ"
        )
    try:
        return MatMulFunction()(a, b)
    except ValueError:
        raise ValueError(
            f"matmul: batch dims of {tuple(a.shape)} and {tuple(b.shape)} do not broadcast"
        ) from None


def _check_dims(op: str, want: int, *ts: Tensor) -> None:
    for t in ts:
        if t.ndim != want:
            shapes = " and ".join(str(tuple(u.shape)) for u in ts)
            raise ValueError(f"{op}: expects {want}-D tensors, got shapes {shapes}")


def mm(a: Any, b: Any) -> Tensor:
    """(n, k) @ (k, m) -> (n, m); no broadcasting, like ``torch.mm``."""
    a, b = as_tensor(a), as_tensor(b)
    _check_dims("mm", 2, a, b)
    return matmul(a, b)


def bmm(a: Any, b: Any) -> Tensor:
    """(B, n, k) @ (B, k, m) -> (B, n, m); the batch sizes must be equal."""
    a, b = as_tensor(a), as_tensor(b)
    _check_dims("bmm", 3, a, b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: batch sizes differ: {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def baddbmm(
    input: Any,  # noqa: A002 - PyTorch's name
    batch1: Any,
    batch2: Any,
    *,
    beta: float = 1.0,
    alpha: float = 1.0,
) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2); input broadcasts to (B, n, m).

    With ``beta == 0`` the input is ignored (NaN and inf in it do not propagate).
    """
    prod = bmm(batch1, batch2)
    if alpha != 1:
        prod = prod * alpha
    x = as_tensor(input)
    if beta == 0:
        if not x.requires_grad:
            return prod
        # a zero gradient for input, as PyTorch gives it, without reading its values
        return prod + where(False, x, 0.0)
    return prod + (x if beta == 1 else x * beta)


# ------------------------------------------------------------------ linear
class LinearFunction(Function):
    """y = x @ W.T (+ b) as one node: one GEMM over all leading dims flattened."""

    keep_inputs = True

    def forward(self, x: Any, w: Any, b: Any = None) -> Any:
        """x (..., in) @ w.T (out, in) + b (out,) -> (..., out), one GEMM."""
        if x.ndim == 2:
            y = x @ w.T
        else:
            y = (x.reshape(-1, x.shape[-1]) @ w.T).reshape(x.shape[:-1] + (w.shape[0],))
        if b is not None:
            y += b
        return y

    def saved_inputs(self) -> tuple[int, ...]:
        """x is read only for w's gradient and w only for x's."""
        return _each_for_the_other(self.needs_input_grad)  # (reads the first two)

    def backward(self, gy: Any) -> Any:
        """dL/dx = gy @ w, dL/dw = gy^T @ x, dL/db = gy summed over the rows."""
        assert self.inputs is not None
        F = namespace()
        need = self.needs_input_grad
        x, w = F.value(self.inputs[0]), F.value(self.inputs[1])
        g = F.value(gy)
        x_shape = self.in_shapes[0]
        if len(x_shape) != 2:
            # One GEMM over all leading dims flattened, as in forward.
            x = F.reshape(x, (-1, x_shape[-1]))
            g = F.reshape(g, (-1, g.shape[-1]))
        gx = gw = gb = None
        if need[0]:
            gx = g @ w
            if len(x_shape) != 2:
                gx = F.reshape(gx, x_shape)
        if need[1]:
            gw = F.mT(g) @ x
        if len(need) == 3:
            if need[2]:
                gb = F.sum(g, 0)
            return F.grads(gx, gw, gb)
        return F.grads(gx, gw)


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """``x @ weight.T + bias``, as ``torch.nn.functional.linear``.

    Args:
        x: (*, in_features); a 1-D x of shape (in_features,) is allowed.
        weight: (out_features, in_features).
        bias: (out_features,) or None.

    Returns:
        (*, out_features).
    """
    x, weight = as_tensor(x), as_tensor(weight)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {tuple(weight.shape)}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        fin = x.shape[-1] if x.ndim else "none"
        raise ValueError(
            f"linear: input {tuple(x.shape)} does not match weight {tuple(weight.shape)}: "
            f"in_features {fin} != {weight.shape[1]}"
        )
    if bias is None:
        return LinearFunction()(x, weight)
    bias = as_tensor(bias)
    if bias.shape != (weight.shape[0],):
        raise ValueError(
            f"linear: bias {tuple(bias.shape)} does not match weight {tuple(weight.shape)}: "
            f"expected ({weight.shape[0]},)"
        )
    return LinearFunction()(x, weight, bias)


# ------------------------------------------------------------------ einsum
_LETTERS = string.ascii_letters
_SPEC_CACHE: dict[tuple[Any, ...], tuple[tuple[str, ...], str]] = {}
_PATH_CACHE: dict[tuple[Any, ...], Any] = {}
_CACHE_MAX = 4096


def _einsum_spec(equation: str, shapes: tuple[tuple[int, ...], ...]) -> tuple[tuple[str, ...], str]:
    """Explicit subscripts of every operand and of the output (letters only).

    Ellipses become fresh letters, right-aligned across operands; the implicit
    output is the ellipsis dims then the letters seen once, in ASCII order
    (NumPy's and PyTorch's rule); a size-1 dim that broadcasts against a
    larger one gets a letter of its own, so it is simply summed away.
    """
    key = (equation, shapes)
    spec = _SPEC_CACHE.get(key)
    if spec is not None:
        return spec
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum: equation {equation!r} names {len(terms)} operands but "
            f"{len(shapes)} were given"
        )
    used = set(eq) - set(".,->")
    bad = sorted(c for c in used if c not in _LETTERS)
    if bad:
        raise ValueError(f"einsum: invalid subscript characters {bad} in {equation!r}")
    fresh = iter(c for c in _LETTERS if c not in used)

    n_ell = 0
    for i, (t, shp) in enumerate(zip(terms, shapes)):
        if t.count("...") > 1 or t.replace("...", "").count(".") or ("..." not in t and "." in t):
            raise ValueError(f"einsum: bad ellipsis in operand {i} subscripts {t!r}")
        named = len(t.replace("...", ""))
        extra = len(shp) - named
        if extra < 0 or ("..." not in t and extra != 0):
            raise ValueError(
                f"einsum: operand {i} has shape {tuple(shp)} ({len(shp)} dims) but "
                f"subscripts {t!r} name {named}"
            )
        n_ell = max(n_ell, extra)
    ell = "".join(next(fresh) for _ in range(n_ell))
    subs = []
    for t, shp in zip(terms, shapes):
        named = len(t.replace("...", ""))
        subs.append(t.replace("...", ell[n_ell - (len(shp) - named) :]))

    if arrow:
        if rhs.count("...") > 1 or rhs.replace("...", "").count("."):
            raise ValueError(f"einsum: bad ellipsis in output subscripts {rhs!r}")
        out = rhs.replace("...", ell)
        for c in out:
            if out.count(c) > 1:
                raise ValueError(f"einsum: output subscript {c!r} appears more than once")
            if not any(c in s for s in subs):
                raise ValueError(f"einsum: output subscript {c!r} is not in any operand")
    else:
        counts: dict[str, int] = {}
        for s in subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))

    # Sizes per letter; size-1 dims that broadcast are renamed so they sum away.
    size: dict[str, int] = {}
    where: dict[str, tuple[int, tuple[int, ...]]] = {}
    for i, (s, shp) in enumerate(zip(subs, shapes)):
        for c, n in zip(s, shp):
            if n == 1:
                continue
            if c in size and size[c] != n:
                j, shp_j = where[c]
                raise ValueError(
                    f"einsum: subscript {c!r} has size {size[c]} in operand {j} {tuple(shp_j)} "
                    f"but {n} in operand {i} {tuple(shp)}"
                )
            size[c] = n
            where[c] = (i, tuple(shp))
    renamed = []
    for s, shp in zip(subs, shapes):
        if any(n == 1 and size.get(c, 1) != 1 for c, n in zip(s, shp)):
            s = "".join(
                next(fresh) if n == 1 and size.get(c, 1) != 1 else c for c, n in zip(s, shp)
            )
        renamed.append(s)
    spec = (tuple(renamed), out)
    if len(_SPEC_CACHE) > _CACHE_MAX:
        _SPEC_CACHE.clear()
    _SPEC_CACHE[key] = spec
    return spec


def _einsum_raw(eq: str, arrays: tuple[Any, ...]) -> Any:
    """np.einsum with the contraction path looked up once per (equation, shapes)."""
    if len(arrays) == 1:
        return xp.einsum(eq, arrays[0])
    key = (eq,) + tuple(a.shape for a in arrays)
    path = _PATH_CACHE.get(key)
    if path is None:
        # The path depends on shapes only: plan it on stand-ins that take no memory.
        dummies = [np.broadcast_to(np.empty((), np.float64), a.shape) for a in arrays]
        path = np.einsum_path(eq, *dummies, optimize="greedy")[0]
        if len(_PATH_CACHE) > _CACHE_MAX:
            _PATH_CACHE.clear()
        _PATH_CACHE[key] = path
    return xp.einsum(eq, *arrays, optimize=path)


class EinsumFunction(Function):
    keep_inputs = True

    def __init__(self, subs: tuple[str, ...], out: str) -> None:
        self.subs, self.out = subs, out

    def forward(self, *arrays: Any) -> Any:
        """``np.einsum`` of the arrays with subscripts ``subs`` -> ``out``."""
        return _einsum_raw(",".join(self.subs) + "->" + self.out, arrays)

    def backward(self, gy: Any) -> Any:
        """dL/dx_i: an einsum of gy with the other operands, one per input."""
        assert self.inputs is not None
        xs = self.inputs
        grads = []
        for i, need in enumerate(self.needs_input_grad):
            grads.append(self._grad_of(i, gy, xs) if need else None)
        return tuple(grads)

    def _grad_of(self, i: int, gy: Tensor, xs: tuple[Tensor, ...]) -> Tensor:
        # d out / d x_i contracts gy with every other operand onto x_i's letters.
        target = self.subs[i]
        others = [s for j, s in enumerate(self.subs) if j != i]
        avail = set(self.out).union(*others)
        uniq = "".join(dict.fromkeys(target))
        keep = "".join(c for c in uniq if c in avail)
        ops = [gy] + [x for j, x in enumerate(xs) if j != i]
        g = _einsum_tensors((self.out, *others), keep, ops)
        if keep != uniq:
            # Letters only x_i has were summed away: their gradient is a broadcast.
            shape_u = [xs[i].shape[target.index(c)] for c in uniq]
            g = reshape(g, tuple(s if c in avail else 1 for c, s in zip(uniq, shape_u)))
            g = broadcast_to(g, tuple(shape_u))
        if uniq != target:
            g = _DiagScatterFunction(target, uniq, xs[i].shape)(g)
        return g


class _DiagScatterFunction(Function):
    """Write g on the (generalised) diagonal of zeros: the adjoint of einsum('ii->i')."""

    def __init__(self, target: str, uniq: str, shape: tuple[int, ...]) -> None:
        self.target, self.uniq, self.shape = target, uniq, shape

    def forward(self, g):
        z = xp.zeros(self.shape, dtype=g.dtype)
        # einsum with one operand and repeated letters returns a writable view.
        xp.einsum(f"{self.target}->{self.uniq}", z)[...] = g
        return z

    def backward(self, gz):
        return _einsum_tensors((self.target,), self.uniq, [gz])


def _einsum_tensors(subs: tuple[str, ...], out: str, ops: list[Tensor]) -> Tensor:
    if len(ops) == 1 and subs[0] == out:
        return ops[0]
    return EinsumFunction(tuple(subs), out)(*ops)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, like ``torch.einsum``.

    Supports implicit output (``"ij,jk"``), explicit output (``"ij,jk->ik"``),
    ``...`` for broadcast leading dims (summed when the output omits it, as in
    PyTorch), repeated letters within one operand (traces and diagonals), and
    size-1 dims that broadcast. Operands may also be given as one list.

    Returns:
        the contraction; its gradient for each operand is an einsum of the
        output gradient with the other operands.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ts = [as_tensor(o) for o in operands]
    subs, out = _einsum_spec(equation, tuple(t.shape for t in ts))
    return _einsum_tensors(subs, out, ts)
