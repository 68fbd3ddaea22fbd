"""Random tensor programs, run step by step on PyTorch and on tapegrad side by side.

A program starts from a few leaf tensors (float64, sometimes float32, with
shapes chosen so that broadcasting happens) and constants (bool, uint8, int32,
int64, float). Each step draws one operation: elementwise math, binary ops
with tensors or Python numbers of any dtype, views (slices, transposes,
reshapes, expands, selections), indexing reads with integer arrays and masks,
in-place ops (``mul_``, ``add_(alpha=)``, ``relu_``, ``clamp_``,
``masked_fill_``, ``x[key] = v``, ``copy_``, ``zero_``...) on values and on
views of them, reductions, casts, matmul and batch norm. Every step runs on
both libraries; when PyTorch raises, tapegrad must raise too, and the program
stops there.

At the end :func:`compare` checks every value's dtype and contents, then the
first derivatives of a random linear function of the values with respect to
the leaves, then second derivatives (the gradient of a random linear function
of the first ones). Where the two disagree and the program contains a batch
norm, central finite differences of tapegrad's own forward decide: PyTorch's
batch-norm input gradient is wrong for some permuted upstreams when the
normalised width is 1 (see docs/fuzzing.md), and such a case is counted as a
PyTorch defect, not a tapegrad failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

import tapegrad as tg

LIBS = (torch, tg)
BN_DEFECT = "batch_norm's gradient"


@dataclass
class Program:
    """The two runs of one program: pools of values, leaves, and what happened."""

    pools: tuple[list[Any], list[Any]] = field(default_factory=lambda: ([], []))
    leaves: tuple[list[Any], list[Any]] = field(default_factory=lambda: ([], []))
    steps: list[str] = field(default_factory=list)
    replay: list[Any] = field(default_factory=list)
    float32: bool = False
    batch_norm: bool = False
    raised: str = ""


class Mismatch(AssertionError):
    """tapegrad disagreed with PyTorch (and, where asked, with finite differences)."""


class TorchDefect(Exception):
    """PyTorch disagreed with finite differences where tapegrad agreed."""


# --------------------------------------------------------------- drawing
SIZES = st.sampled_from([1, 2, 3])


def _shape(data: Any, ndim: int | None = None) -> tuple[int, ...]:
    n = data.draw(st.integers(0, 3)) if ndim is None else ndim
    return tuple(data.draw(SIZES) for _ in range(n))


def _array(data: Any, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    seed = data.draw(st.integers(0, 2**31 - 1))
    r = np.random.default_rng(seed)
    if dtype == "bool":
        return r.random(shape) > 0.5
    if dtype in ("uint8", "int32", "int64"):
        return r.integers(0, 4, size=shape).astype(dtype)
    return (r.standard_normal(shape) * 1.5).astype(dtype)


def _pair(lib: Any, a: np.ndarray, requires_grad: bool = False) -> Any:
    return lib.tensor(a.copy(), requires_grad=requires_grad)


def start(data: Any) -> Program:
    p = Program()
    for _ in range(data.draw(st.integers(1, 3))):
        dt = data.draw(st.sampled_from(["float64", "float64", "float32"]))
        p.float32 |= dt == "float32"
        a = _array(data, _shape(data), dt)
        for k, lib in enumerate(LIBS):
            t = _pair(lib, a, True)
            p.leaves[k].append(t)
            p.pools[k].append(t)
        p.steps.append(f"leaf {dt}{a.shape}")
        p.replay.append(None)  # leaves come from the caller of replay
    return p


def _pick(data: Any, p: Program, want_float: bool = False) -> int | None:
    pool = p.pools[0]
    idx = [i for i, t in enumerate(pool) if not want_float or t.dtype.is_floating_point]
    if not idx:
        return None
    return data.draw(st.sampled_from(idx))


def _run(p: Program, name: str, fn: Any, *idx: int, add: bool = True) -> None:
    """Run ``fn(lib, *values)`` on both; compare raising; add the results to the pools."""
    p.steps.append(name + "(" + ", ".join(f"v{i}" for i in idx) + ")")
    outs = []
    errs = []
    for k, lib in enumerate(LIBS):
        args = [p.pools[k][i] for i in idx]
        try:
            outs.append(fn(lib, *args))
            errs.append(None)
        except Exception as e:  # noqa: BLE001 - any error is PyTorch's "no"
            outs.append(None)
            errs.append(e)
    if (errs[0] is None) != (errs[1] is None):
        raise Mismatch(f"{_trace(p)}: PyTorch {errs[0]!r}, tapegrad {errs[1]!r}")
    if errs[0] is not None:
        p.raised = f"{type(errs[0]).__name__}: {str(errs[0])[:80]}"
        return
    p.replay.append(lambda lib, pool: _extend(pool, fn(lib, *[pool[i] for i in idx]), add))
    for k in range(2):
        _extend(p.pools[k], outs[k], add)
    p.float32 |= any(t.dtype == torch.float32 for t in p.pools[0])


def _extend(pool: list[Any], out: Any, add: bool) -> None:
    if add:
        vals = out if isinstance(out, tuple) else (out,)
        pool.extend(v for v in vals if isinstance(v, (torch.Tensor, tg.Tensor)))


def replay(p: Program, leaves: list[Any]) -> list[Any]:
    """tapegrad's pool after running the program again from the given leaf tensors."""
    pool: list[Any] = []
    it = iter(leaves)
    for f in p.replay:
        if f is None:
            pool.append(next(it))
        else:
            f(tg, pool)
    return pool


def _settled(p: Program, i: int, margin: Any = None) -> bool:
    """Whether value i is safe to feed to a discontinuous op (a cast to bool or int,
    a comparison, a mask): the same bits in both runs, or (with ``margin(values)``)
    far enough from the discontinuity that rounding differences cannot cross it.
    Values that are mathematically equal but computed in different orders (the
    mean of identical rows) would otherwise flip a comparison in one run only."""
    a, b = _np(p.pools[0][i]), _np(p.pools[1][i])
    if np.array_equal(a, b, equal_nan=True):
        return True
    return margin is not None and bool(np.all(margin(a.astype(np.float64)) > 1e-7))


def _distinct(p: Program, i: int) -> bool:
    """No repeated elements and a spread well above rounding: the variance of values
    equal up to rounding (``x / x``) is rounding noise, different in each run."""
    a = _np(p.pools[0][i]).reshape(-1).astype(np.float64)
    if a.size <= 1:
        return True
    return a.size == np.unique(a).size and np.ptp(a) > 1e-3 * np.abs(a).max()


def _trace(p: Program) -> str:
    return " -> ".join(p.steps)


UNARY = {
    "exp": lambda lib, x: x.tanh().exp(),
    "log": lambda lib, x: (x.abs() + 1).log(),
    "sqrt": lambda lib, x: (x * x + 0.1).sqrt(),
    "sin": lambda lib, x: x.sin(),
    "cos": lambda lib, x: x.cos(),
    "tanh": lambda lib, x: x.tanh(),
    "sigmoid": lambda lib, x: x.sigmoid(),
    "relu": lambda lib, x: lib.nn.functional.relu(x),
    "leaky": lambda lib, x: lib.nn.functional.leaky_relu(x, 0.2),
    "elu": lambda lib, x: lib.nn.functional.elu(x),
    "abs": lambda lib, x: x.abs(),
    "neg": lambda lib, x: -x,
    "square": lambda lib, x: x * x,
    "softmax": lambda lib, x: x.softmax(-1) if x.dim() else x,
    "clone": lambda lib, x: x.clone(),
}
BINARY = {
    "add": lambda lib, a, b: a + b,
    "sub": lambda lib, a, b: a - b,
    "mul": lambda lib, a, b: a * b,
    "div": lambda lib, a, b: a / (b * b + 0.5),
    "truediv": lambda lib, a, b: a / b,
    "maximum": lambda lib, a, b: lib.maximum(a, b),
    "minimum": lambda lib, a, b: lib.minimum(a, b),
    "where": lambda lib, a, b: lib.where(a > b, a, b),
    "add_alpha": lambda lib, a, b: a.add(b, alpha=2),
    "sub_alpha": lambda lib, a, b: lib.sub(a, b, alpha=3),
    "pow": lambda lib, a, b: (a * a + 0.5) ** b,
    "lt": lambda lib, a, b: a < b,
    "eq": lambda lib, a, b: a == b,
}
SCALARS = [2, -1, 0.5, 2.5, True, 0]


def step(data: Any, p: Program) -> None:  # noqa: C901 - one branch per kind of step
    kind = data.draw(
        st.sampled_from(
            [
                "unary",
                "binary",
                "scalar",
                "const",
                "view",
                "index",
                "inplace",
                "reduce",
                "cast",
                "matmul",
                "batch_norm",
            ]
        )
    )
    if kind == "const":
        dt = data.draw(st.sampled_from(["bool", "uint8", "int32", "int64", "float32", "float64"]))
        a = _array(data, _shape(data), dt)
        p.steps.append(f"const {dt}{a.shape}")
        for k, lib in enumerate(LIBS):
            p.pools[k].append(_pair(lib, a))
        p.replay.append(lambda lib, pool: pool.append(_pair(lib, a)))
        p.float32 |= dt == "float32"
        return
    if kind == "unary":
        i = _pick(data, p, True)
        if i is not None:
            name = data.draw(st.sampled_from(sorted(UNARY)))
            _run(p, name, UNARY[name], i)
        return
    if kind == "binary":
        i, j = _pick(data, p), _pick(data, p)
        name = data.draw(st.sampled_from(sorted(BINARY)))
        if name in ("lt", "eq", "where", "maximum", "minimum") and not (
            _settled(p, i) and _settled(p, j)
        ):
            return
        _run(p, name, BINARY[name], i, j)
        return
    if kind == "scalar":
        i = _pick(data, p)
        s = data.draw(st.sampled_from(SCALARS))
        op = data.draw(st.sampled_from(["add", "rsub", "mul", "div", "rdiv", "pow"]))
        fns = {
            "add": lambda lib, x: x + s,
            "rsub": lambda lib, x: s - x,
            "mul": lambda lib, x: x * s,
            "div": lambda lib, x: x / s if s else x,
            "rdiv": lambda lib, x: s / (x * x + 1),
            "pow": lambda lib, x: (x * x + 1) ** s,
        }
        _run(p, f"{op} {s!r}", fns[op], i)
        return
    if kind == "view":
        _view_step(data, p)
        return
    if kind == "index":
        _index_step(data, p)
        return
    if kind == "inplace":
        _inplace_step(data, p)
        return
    if kind == "reduce":
        _reduce_step(data, p)
        return
    if kind == "cast":
        i = _pick(data, p)
        dt = data.draw(st.sampled_from(["float32", "float64", "int64", "bool"]))
        margin = {"bool": np.abs, "int64": lambda a: np.abs(a - np.round(a))}.get(dt)
        if margin is not None and not _settled(p, i, margin):
            return
        p.float32 |= dt == "float32"
        _run(p, f"to {dt}", lambda lib, x: x.to(getattr(lib, dt)), i)
        return
    if kind == "matmul":
        i, j = _pick(data, p, True), _pick(data, p, True)
        if i is not None and j is not None:
            _run(p, "matmul", lambda lib, a, b: a @ b.to(a.dtype), i, j)
        return
    i = _pick(data, p, True)
    if (
        i is not None
        and p.pools[0][i].dim() >= 2
        and p.pools[0][i].shape[0] > 1
        and _distinct(p, i)
    ):
        p.batch_norm = True
        _run(
            p,
            "batch_norm",
            lambda lib, x: lib.nn.functional.batch_norm(x, None, None, training=True),
            i,
        )


def _view_step(data: Any, p: Program) -> None:
    i = _pick(data, p)
    x = p.pools[0][i]
    if x.numel() == 0:  # nothing to select from an empty tensor
        return
    nd = x.dim()
    kind = data.draw(
        st.sampled_from(["t", "slice", "select", "unsqueeze", "reshape", "expand", "flatten"])
    )
    if kind in ("t", "slice", "select") and nd == 0:
        kind = "unsqueeze"
    if kind == "t":
        d0, d1 = data.draw(st.integers(0, nd - 1)), data.draw(st.integers(0, nd - 1))
        _run(p, f"transpose{d0, d1}", lambda lib, v: v.transpose(d0, d1), i)
    elif kind == "slice":
        d = data.draw(st.integers(0, nd - 1))
        n = x.shape[d]
        a = data.draw(st.integers(0, n - 1))
        step_ = data.draw(st.sampled_from([1, 2]))
        key = (slice(None),) * d + (slice(a, None, step_),)
        _run(p, f"[{key}]", lambda lib, v: v[key], i)
    elif kind == "select":
        d = data.draw(st.integers(0, nd - 1))
        k = data.draw(st.integers(-x.shape[d], x.shape[d] - 1))
        _run(p, f"select({d}, {k})", lambda lib, v: v[(slice(None),) * d + (k,)], i)
    elif kind == "unsqueeze":
        d = data.draw(st.integers(0, nd))
        _run(p, f"unsqueeze({d})", lambda lib, v: v.unsqueeze(d), i)
    elif kind == "reshape":
        _run(p, "reshape(-1)", lambda lib, v: v.reshape(-1), i)
    elif kind == "flatten":
        _run(p, "flatten()", lambda lib, v: v.flatten(), i)
    else:
        shape = (2,) + tuple(x.shape)
        _run(p, f"expand{shape}", lambda lib, v: v.expand(*shape), i)


def _index_step(data: Any, p: Program) -> None:
    i = _pick(data, p)
    x = p.pools[0][i]
    if x.numel() == 0:  # nothing to select from an empty tensor
        return
    if x.dim() == 0:
        return
    key = _draw_key(data, tuple(x.shape))
    _run(p, f"[{key}]", lambda lib, v: v[_lib_key(lib, key)], i)


def _draw_key(data: Any, shape: tuple[int, ...]) -> tuple[Any, ...]:
    key: list[Any] = []
    for n in shape:
        kind = data.draw(st.sampled_from(["full", "int", "list", "slice", "mask"]))
        if kind == "full":
            key.append(slice(None))
        elif kind == "int":
            key.append(data.draw(st.integers(-n, n - 1)))
        elif kind == "list":
            key.append(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=3)))
        elif kind == "slice":
            key.append(
                slice(data.draw(st.integers(0, n - 1)), None, data.draw(st.sampled_from([1, 2])))
            )
        else:
            key.append(np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n))))
    return tuple(key)


def _lib_key(lib: Any, key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(lib.tensor(k) if isinstance(k, np.ndarray) else k for k in key)


def _inplace_step(data: Any, p: Program) -> None:
    i = _pick(data, p)
    j = _pick(data, p)
    x = p.pools[0][i]
    if x.numel() == 0:
        return
    if 0 in x.stride() and x.numel() > 1:
        # writes into an expanded tensor: PyTorch refuses some (add_) and lets
        # others through (masked_fill_); tapegrad refuses all (docs/fuzzing.md)
        return
    on_view = data.draw(st.booleans()) and x.dim() > 0
    d = data.draw(st.integers(0, max(x.dim() - 1, 0)))
    k = data.draw(st.integers(0, x.shape[d] - 1)) if x.dim() else 0

    def target(lib: Any, v: Any) -> Any:
        return v[(slice(None),) * d + (slice(k, k + 1),)] if on_view else v

    kind = data.draw(
        st.sampled_from(
            [
                "mul_",
                "add_",
                "sub_",
                "div_",
                "relu_",
                "clamp_",
                "sigmoid_",
                "masked_fill_",
                "setitem",
                "setitem_adv",
                "copy_",
                "zero_",
                "iadd",
                "mul_scalar",
            ]
        )
    )
    key = _draw_key(data, tuple(x.shape)) if kind == "setitem_adv" and x.dim() else (Ellipsis,)
    if kind in ("masked_fill_", "relu_", "clamp_") and not (
        _settled(p, j, np.abs) and _settled(p, i, np.abs)
    ):
        return
    fns = {
        "mul_": lambda lib, v, o: target(lib, v).mul_(o),
        "add_": lambda lib, v, o: target(lib, v).add_(o, alpha=2),
        "sub_": lambda lib, v, o: target(lib, v).sub_(o),
        "div_": lambda lib, v, o: target(lib, v).div_(o * o + 1),
        "relu_": lambda lib, v, o: target(lib, v).relu_(),
        "clamp_": lambda lib, v, o: target(lib, v).clamp_(-0.5, 0.7),
        "sigmoid_": lambda lib, v, o: target(lib, v).sigmoid_(),
        "masked_fill_": lambda lib, v, o: target(lib, v).masked_fill_(o > 0, 0.25),
        "setitem": lambda lib, v, o: target(lib, v).__setitem__(Ellipsis, o),
        "setitem_adv": lambda lib, v, o: v.__setitem__(_lib_key(lib, key), o.sum()),
        "copy_": lambda lib, v, o: target(lib, v).copy_(o),
        "zero_": lambda lib, v, o: target(lib, v).zero_(),
        "iadd": lambda lib, v, o: target(lib, v).__iadd__(o),
        "mul_scalar": lambda lib, v, o: target(lib, v).mul_(1.5),
    }
    where = f"[:, {k}:{k + 1}]@{d}" if on_view else ""
    _run(p, f"v{i}{where}.{kind}", fns[kind], i, j, add=False)


def _reduce_step(data: Any, p: Program) -> None:
    i = _pick(data, p)
    x = p.pools[0][i]
    nd = x.dim()
    dim = data.draw(st.integers(-nd, nd - 1)) if nd else None
    keep = data.draw(st.booleans())
    kind = data.draw(st.sampled_from(["sum", "mean", "var", "std", "amax", "logsumexp", "prod"]))
    if kind in ("var", "std", "amax") and not (_distinct(p, i) and _settled(p, i)):
        return
    fns = {
        "sum": lambda lib, v: v.sum(dim, keepdim=keep) if dim is not None else v.sum(),
        "mean": lambda lib, v: v.mean(dim, keepdim=keep) if dim is not None else v.mean(),
        "var": lambda lib, v: v.var(dim, False, keep) if dim is not None else v.var(False),
        "std": lambda lib, v: (
            (v * v + 1).std(dim, True, keep) if dim is not None else (v * v + 1).std()
        ),
        "amax": lambda lib, v: v.amax(dim, keepdim=keep) if dim is not None else v.amax(),
        "logsumexp": lambda lib, v: v.logsumexp(dim, keepdim=keep) if dim is not None else v,
        "prod": lambda lib, v: v.prod(dim, keepdim=keep) if dim is not None else v.prod(),
    }
    _run(p, f"{kind}({dim}, keepdim={keep})", fns[kind], i)


# ------------------------------------------------------------- comparing
def _np(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor) and t._is_zerotensor():  # PyTorch's symbolic zeros
        return np.zeros(tuple(t.shape))
    return t.detach().numpy()


def _tol(p: Program, what: str) -> dict[str, float]:
    if not p.float32:
        return dict(rtol=1e-6, atol=1e-9)
    return dict(rtol=2e-3, atol=2e-4)


def _close(got: Any, want: Any, p: Program, what: str) -> None:
    g, w = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if g.shape != w.shape or not np.allclose(g, w, equal_nan=True, **_tol(p, what)):
        raise Mismatch(f"{what} differs after {_trace(p)}:\ntapegrad {g}\nPyTorch  {w}")


def _grads(
    lib: Any, outs: list[Any], weights: list[np.ndarray], wrt: list[Any], create: bool
) -> Any:
    """(error, gradients of sum(out * weight) w.r.t. ``wrt``; None entries as zeros)."""
    terms = [(o.double() * lib.tensor(w)).sum() for o, w in zip(outs, weights) if o is not None]
    if not terms:
        return None, [np.zeros(tuple(x.shape)) for x in wrt], []
    loss = sum(terms[1:], terms[0])
    try:
        gs = lib.autograd.grad(loss, wrt, create_graph=create, allow_unused=True)
    except Exception as e:  # noqa: BLE001
        return e, None, None
    arrays = [np.zeros(tuple(x.shape)) if g is None else _np(g) for x, g in zip(wrt, gs)]
    return None, arrays, list(gs)


def compare(data: Any, p: Program) -> str:
    """Check values, dtypes, first and second derivatives. Returns "ok" or "torch-defect"."""
    for k, (t, g) in enumerate(zip(*p.pools)):
        if str(t.dtype).replace("torch.", "") != str(g.dtype):
            raise Mismatch(
                f"dtype of v{k}: tapegrad {g.dtype}, PyTorch {t.dtype} after {_trace(p)}"
            )
        if t.requires_grad and not t.dtype.is_floating_point and not g.requires_grad:
            # x[...] = 0-d tensor that requires grad marks an integer x as requiring
            # grad in PyTorch (its fill_ path), which it forbids everywhere else
            raise TorchDefect(f"an integer tensor requires grad: {_trace(p)}")
        if t.requires_grad != g.requires_grad:
            raise Mismatch(f"requires_grad of v{k}: tapegrad {g.requires_grad} after {_trace(p)}")
        _close(_np(g), _np(t), p, f"value of v{k}")
    if p.raised:
        return "ok"
    seed = data.draw(st.integers(0, 2**31 - 1))
    r = np.random.default_rng(seed)
    used = [k for k, t in enumerate(p.pools[0]) if t.requires_grad]
    weights = [r.standard_normal(tuple(p.pools[0][k].shape)) for k in used]
    res = []
    for lib_k, lib in enumerate(LIBS):
        outs = [p.pools[lib_k][k] for k in used]
        res.append(_grads(lib, outs, weights, p.leaves[lib_k], True))
    (te, tgr, tgl), (ge, ggr, ggl) = res
    if (te is None) != (ge is None):
        if ge is None and "with a bool tensor is not supported" in str(te):
            _arbitrate(p, used, weights, None, "pow's backward with a bool exponent raises")
        raise Mismatch(f"backward: PyTorch {te!r}, tapegrad {ge!r} after {_trace(p)}")
    if te is not None:
        return "ok"
    try:
        for a, b in zip(ggr, tgr):
            _close(a, b, p, "first derivative")
    except Mismatch:
        _arbitrate(p, used, weights, None, BN_DEFECT if p.batch_norm else "")
    # second order: the gradient of a random linear function of the first derivatives
    s = [r.standard_normal(np.shape(a)) for a in ggr]
    res2 = []
    for lib, gl in ((torch, tgl), (tg, ggl)):
        live = [(g, w) for g, w in zip(gl, s) if g is not None and g.requires_grad]
        if not live:
            res2.append((None, [np.zeros(np.shape(a)) for a in ggr]))
            continue
        e, arrays, _ = _grads(
            lib, [g for g, _ in live], [w for _, w in live], p.leaves[LIBS.index(lib)], False
        )
        res2.append((e, arrays))
    (te2, t2), (ge2, g2) = res2
    if (te2 is None) != (ge2 is None):
        raise Mismatch(f"double backward: PyTorch {te2!r}, tapegrad {ge2!r} after {_trace(p)}")
    if te2 is None and not p.float32:  # float32 rounding, differentiated twice, is noise
        try:
            for a, b in zip(g2, t2):
                _close(a, b, p, "second derivative")
        except Mismatch:
            _arbitrate(p, used, weights, s, BN_DEFECT if p.batch_norm else "")
    return "ok"


def _fd(f: Any, leaves: list[np.ndarray]) -> list[np.ndarray]:
    """Central finite differences of the scalar ``f(leaves)`` w.r.t. each leaf."""
    out = []
    for li, x in enumerate(leaves):
        eps = 1e-6 if x.dtype == np.float64 else 1e-2
        fd = np.zeros(x.shape)
        for idx in np.ndindex(x.shape):
            up = [v.copy() for v in leaves]
            dn = [v.copy() for v in leaves]
            up[li][idx] += eps
            dn[li][idx] -= eps
            fd[idx] = (f(up) - f(dn)) / (2 * eps)
        out.append(fd)
    return out


def _arbitrate(
    p: Program,
    used: list[int],
    weights: list[np.ndarray],
    second: list[np.ndarray] | None,
    reason: str,
) -> str:
    """Finite differences of tapegrad's own forward decide a disagreement with
    PyTorch in the cases listed as PyTorch defects in docs/fuzzing.md."""
    if not reason:
        raise Mismatch(f"derivatives differ from PyTorch's after {_trace(p)}")
    leaves = [_np(x) for x in p.leaves[1]]
    tol = dict(rtol=1e-4, atol=1e-6) if not p.float32 else dict(rtol=5e-2, atol=2e-2)

    def loss(pool: list[Any]) -> Any:
        terms = [(pool[k].double() * tg.tensor(w)).sum() for k, w in zip(used, weights)]
        return sum(terms[1:], terms[0])

    def grads(vals: list[np.ndarray]) -> list[Any]:
        xs = [tg.tensor(v.copy(), requires_grad=True) for v in vals]
        g = tg.autograd.grad(loss(replay(p, xs)), xs, create_graph=True, allow_unused=True)
        return [tg.zeros(*x.shape, dtype=tg.float64) if gi is None else gi for x, gi in zip(xs, g)]

    got = [_np(g) for g in grads(leaves)]
    fd = _fd(lambda v: float(loss(replay(p, [tg.tensor(a) for a in v])).item()), leaves)
    for a, b in zip(got, fd):
        if not np.allclose(a, b, equal_nan=True, **tol):
            raise Mismatch(f"tapegrad differs from finite differences after {_trace(p)}")
    if second is not None:

        def first(vals: list[np.ndarray]) -> float:
            return float(sum(float((_np(g) * s).sum()) for g, s in zip(grads(vals), second)))

        xs = [tg.tensor(v.copy(), requires_grad=True) for v in leaves]
        g1 = tg.autograd.grad(loss(replay(p, xs)), xs, create_graph=True, allow_unused=True)
        live = [
            (g * tg.tensor(s)).sum()
            for g, s in zip(g1, second)
            if g is not None and g.requires_grad
        ]
        want = _fd(first, leaves)
        if live:
            g2 = tg.autograd.grad(sum(live[1:], live[0]), xs, allow_unused=True)
            got2 = [np.zeros(x.shape) if g is None else _np(g) for x, g in zip(xs, g2)]
        else:
            got2 = [np.zeros(x.shape) for x in xs]
        for a, b in zip(got2, want):
            if not np.allclose(a, b, equal_nan=True, **tol):
                raise Mismatch(
                    f"second derivative differs from finite differences after {_trace(p)}"
                )
    raise TorchDefect(f"{reason}: {_trace(p)}")
