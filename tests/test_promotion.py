"""PyTorch's type promotion over the grid of dtype pairs and operand kinds.

Every binary op is run on every pair of operands drawn from: tensors with
dimensions, 0-d tensors (bool, uint8, int8, int32, int64, float32, float64)
and Python numbers (bool, int, float), on both sides. tapegrad must give
PyTorch's dtype and values, or raise where PyTorch raises.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import pytest
import torch

import tapegrad as tg
from tapegrad.ops.promotion import result_type

DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float32", "float64"]
NUMBERS = [True, 3, 2.5]


def _operands() -> list[tuple[str, Any]]:
    """(label, spec) pairs: ("dim", dtype), ("zero", dtype) or ("number", value)."""
    out: list[tuple[str, Any]] = []
    for d in DTYPES:
        out += [("dim", d), ("zero", d)]
    out += [("number", v) for v in NUMBERS]
    return out


def _make(lib: Any, spec: tuple[str, Any], side: int) -> Any:
    kind, v = spec
    if kind == "number":
        return v
    vals = [1, 2, 3] if side == 0 else [3, 1, 2]
    a = np.array(vals if kind == "dim" else 2).astype(v)
    if lib is torch:
        return torch.from_numpy(np.array(a))
    return tg.tensor(a)


OPS = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "pow": operator.pow,
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "maximum": lambda a, b: (torch if isinstance(a, torch.Tensor) else tg).maximum(a, b),
    "minimum": lambda a, b: (torch if isinstance(a, torch.Tensor) else tg).minimum(a, b),
    "add_alpha": lambda a, b: a.add(b, alpha=2),
    "where": lambda a, b: (torch if isinstance(a, torch.Tensor) else tg).where(
        (torch if isinstance(a, torch.Tensor) else tg).tensor([True, False, True]), a, b
    ),
}
TENSOR_ONLY = {"maximum", "minimum", "add_alpha", "where"}


def _run(fn: Any, a: Any, b: Any) -> tuple[Any, Any]:
    try:
        return fn(a, b), None
    except Exception as e:  # noqa: BLE001 - any error counts as "raises"
        return None, e


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("op", sorted(OPS))
def test_binary_op_grid_matches_torch(op):
    fn = OPS[op]
    checked = 0
    for sa in _operands():
        for sb in _operands():
            if sa[0] == "number" and sb[0] == "number":
                continue
            if op in TENSOR_ONLY and sa[0] == "number":
                continue
            if op in ("maximum", "minimum") and sb[0] == "number":
                continue
            want, werr = _run(fn, _make(torch, sa, 0), _make(torch, sb, 1))
            got, gerr = _run(fn, _make(tg, sa, 0), _make(tg, sb, 1))
            where = f"{op}({sa}, {sb})"
            if werr is not None:
                assert gerr is not None, f"{where}: PyTorch raises ({werr}), tapegrad gives {got}"
                continue
            assert gerr is None, f"{where}: tapegrad raises {gerr!r}, PyTorch gives {want}"
            assert np.dtype(str(want.dtype).replace("torch.", "")) == got.dtype, (
                f"{where}: dtype {got.dtype}, PyTorch {want.dtype}"
            )
            np.testing.assert_allclose(
                got.numpy().astype(np.float64),
                want.numpy().astype(np.float64),
                rtol=1e-6,
                err_msg=where,
            )
            checked += 1
    assert checked > 100


def test_result_type_matches_torch_result_type():
    for sa in _operands():
        for sb in _operands():
            if sa[0] == "number" and sb[0] == "number":
                continue
            want = torch.result_type(_make(torch, sa, 0), _make(torch, sb, 1))
            got = result_type(_make(tg, sa, 0), _make(tg, sb, 1))
            assert str(want).replace("torch.", "") == str(got), (sa, sb)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "fn", ["exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "sigmoid", "tanh"]
)
def test_float_functions_of_integers_give_the_default_float(dtype, fn):
    a = np.array([1, 2, 3]).astype(dtype)
    want = getattr(torch.from_numpy(a), fn)()
    got = getattr(tg.tensor(a), fn)()
    assert str(got.dtype) == str(want.dtype).replace("torch.", "")
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_issue_examples():
    b = tg.tensor([True, False])
    assert (b + 2).dtype == np.int64 and (b + 2).tolist() == [3, 2]
    assert (b / 2).dtype == np.float32 and (b / 2).tolist() == [0.5, 0.0]
    assert (tg.ones(2) * tg.tensor(1.0, dtype=tg.float64)).dtype == np.float32
    assert (tg.ones(2, dtype=tg.int64) * tg.ones(2)).dtype == np.float32
    assert (tg.tensor([1, 2]) / tg.tensor([2, 2])).dtype == np.float32


def test_gradients_flow_through_promotion():
    a = np.array([0.5, 1.5], dtype=np.float32)
    c = np.array([2.0, 3.0])
    x, xt = tg.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, yt = tg.tensor(c, requires_grad=True), torch.tensor(c, requires_grad=True)
    out, outt = (x * y).sum(), (xt * yt).sum()
    assert out.dtype == np.float64 and outt.dtype == torch.float64
    out.backward()
    outt.backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())
    np.testing.assert_allclose(y.grad.numpy(), yt.grad.numpy())
