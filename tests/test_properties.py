"""Property test: random chains of ops give the same values and gradients as PyTorch.

Hypothesis draws a description (a start shape, 2-6 ops each with a random
integer parameter, a seed; one op of each chain is the parametrized one). One
interpreter turns the description into a computation in either library; the
two builds share every input array, so the forward values and the gradients of
every leaf must agree (float64, 1e-6).
Binary ops bring in a new leaf whose shape broadcasts against the current value
(dims set to 1, leading dims dropped, or a new leading dim that broadcasts the
current value up), so broadcasting is exercised in both directions.
"""

import itertools

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tapegrad as tg
from helpers import check_vs_torch

# The functions not spelled the same way in both libraries.
LIBS = {
    "tg": dict(
        maximum=tg.maximum,
        minimum=tg.minimum,
        where=tg.where,
        sigmoid=tg.sigmoid,
        tanh=tg.tanh,
        relu=tg.relu,
        softmax=tg.softmax,
        logsumexp=tg.logsumexp,
    ),
    "torch": dict(
        maximum=torch.maximum,
        minimum=torch.minimum,
        where=torch.where,
        sigmoid=torch.sigmoid,
        tanh=torch.tanh,
        relu=torch.relu,
        softmax=torch.softmax,
        logsumexp=torch.logsumexp,
    ),
}


def _leaf_shape(shape, r):
    """A shape that broadcasts with ``shape``, chosen by the bits of ``r``."""
    dims = [1 if (r >> i) & 1 else s for i, s in enumerate(shape)]
    dims = dims[(r >> 5) % (len(dims) + 1) :]
    if (r >> 8) % 4 == 0 and len(shape) < 4:
        dims = [2] + list(shape)
    return tuple(dims)


def _dims(ndim, r):
    """A non-empty set of axes of a tensor with ``ndim`` dims."""
    mask = r % (2**ndim - 1) + 1
    return tuple(i for i in range(ndim) if (mask >> i) & 1)


def _apply(name, h, r, lib, leaf):  # noqa: C901 - one branch per op is the clearest form
    fns = LIBS[lib]
    nd = h.ndim
    if name in ("add", "sub", "mul"):
        b = leaf(_leaf_shape(tuple(h.shape), r))
        a, b = (h, b) if (r >> 12) & 1 else (b, h)
        return a + b if name == "add" else a - b if name == "sub" else a * b
    if name == "div":
        b = leaf(_leaf_shape(tuple(h.shape), r))
        return h / (b * b + 0.5) if (r >> 12) & 1 else b / (h * h + 0.5)
    if name in ("maximum", "minimum"):
        return fns[name](h, leaf(_leaf_shape(tuple(h.shape), r)))
    if name == "where":
        return fns["where"](h > 0, h, leaf(_leaf_shape(tuple(h.shape), r)))
    if name == "neg":
        return -h
    if name == "pow":
        return h ** (2 + r % 2)
    if name == "exp":  # on a bounded input, so that chains cannot overflow
        return (h / (1.0 + h.abs())).exp()
    if name == "log":
        return (h * h + 1.0).log()
    if name == "sqrt":
        return (h * h + 1.0).sqrt()
    if name == "abs":
        return h.abs()
    if name == "clamp":
        return h.clamp(-0.8, 0.8)
    if name in ("sum", "mean"):
        if nd == 0 or (r >> 10) % 4 == 0:
            return h.sum() if name == "sum" else h.mean()
        dims, keep = _dims(nd, r), bool((r >> 8) & 1)
        return h.sum(dims, keep) if name == "sum" else h.mean(dims, keep)
    if name == "reshape":
        n = int(np.prod(h.shape))
        if nd == 0 or r % 3 == 0:
            return h.reshape((1, n) if nd == 0 else (n,))
        if r % 3 == 1:
            k = next((d for d in (2, 3, 5) if n % d == 0), 1)
            return h.reshape((n // k, k))
        return h.reshape((1,) + tuple(h.shape))
    if name == "permute":
        if nd < 2:
            return h.reshape(tuple(h.shape) + (1,)) if nd == 1 else h
        perms = list(itertools.permutations(range(nd)))
        return h.permute(*perms[r % len(perms)])
    if name in ("sigmoid", "tanh", "relu"):
        return fns[name](h)
    if name in ("softmax", "logsumexp"):
        if nd == 0:
            h, nd = h.reshape((1,)), 1
        dim = r % nd - nd * ((r >> 4) & 1)  # a negative dim half of the time
        if name == "softmax":
            return fns["softmax"](h, dim)
        return fns["logsumexp"](h, dim, bool((r >> 8) & 1))
    if name == "matmul":
        if nd == 0:
            return h * leaf(())
        return h @ leaf((h.shape[-1], 1 + r % 3))
    raise AssertionError(f"unknown op {name}")


OPS = [
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "pow",
    "exp",
    "log",
    "sqrt",
    "abs",
    "clamp",
    "maximum",
    "minimum",
    "where",
    "sum",
    "mean",
    "reshape",
    "permute",
    "matmul",
    "sigmoid",
    "tanh",
    "relu",
    "softmax",
    "logsumexp",
]


def _run(desc, lib, leaves):
    """Build the chain in ``lib``; ``leaves(shape)`` gives each input tensor in order."""
    h = leaves(tuple(desc["shape"]))
    for name, r in desc["ops"]:
        h = _apply(name, h, r, lib, leaves)
    return h


descriptions = st.fixed_dictionaries(
    {
        "shape": st.lists(st.integers(1, 4), min_size=0, max_size=3),
        "ops": st.lists(
            st.tuples(st.sampled_from(OPS), st.integers(0, 2**16)), min_size=1, max_size=5
        ),
        "seed": st.integers(0, 2**16),
        "at": st.integers(0, 5),
        "r": st.integers(0, 2**16),
    }
)


# Hypothesis spreads a few dozen examples unevenly over a list of ops, so each op
# gets its own examples: it is inserted into every drawn chain at a drawn place.
@pytest.mark.parametrize("op", OPS)
@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(descriptions)
def test_random_op_chains_match_torch(op, desc):
    ops = list(desc["ops"])
    ops.insert(desc["at"] % (len(ops) + 1), (op, desc["r"]))
    desc = dict(desc, ops=ops)
    rng = np.random.default_rng(desc["seed"])
    arrays = []

    def record(shape):  # first pass: draw the inputs, in the order the chain asks for them
        a = rng.standard_normal(shape)
        arrays.append(a)
        return torch.tensor(a)

    with torch.no_grad():
        ref = _run(desc, "torch", record).numpy()
    assume(np.all(np.isfinite(ref)) and np.abs(ref).max(initial=0) < 1e6)

    def replay(lib):
        def f(*xs):
            it = iter(xs)
            return _run(desc, lib, lambda shape: next(it))

        return f

    check_vs_torch(replay("tg"), replay("torch"), arrays)
