"""Version checks of saved tensors, and views sharing their base's version counter.

Every tensor's memory has a version counter (:class:`~tapegrad.tensor.VersionCounter`),
shared with the views of that memory and with ``detach()``; each in-place op
bumps it. When a node is recorded it notes the version of every tensor its
backward will read: the inputs it keeps (``keep_inputs``), its outputs
(``keep_outputs``), and the inputs or outputs whose memory ``forward`` stored
on the node. Before the node's backward runs, :func:`check_saved` compares;
a changed version means the saved values are gone, and backward stops with
PyTorch's error instead of computing a wrong gradient.
"""

from __future__ import annotations

from typing import Any

from ..backend import xp
from ..tensor import Tensor

_ndarray = xp.ndarray


def _root(a: Any) -> Any:
    """The array that owns ``a``'s memory (NumPy collapses chains of views)."""
    b = getattr(a, "base", None)
    return a if b is None else b


def link_view(x: Tensor, out: Tensor) -> None:
    """Make ``out``, which views x's memory, share x's version counter and base."""
    vc = out._vc = x._counter()
    out._base = x if x._base is None else x._base
    out._gen = vc.value


def record_saved(fn: Any, inputs: tuple[Tensor, ...], outs: tuple[Tensor, ...]) -> None:
    """Note on ``fn`` the versions of the tensors its backward will read."""
    roots = None  # memory that forward stored on the node
    for v in fn.__dict__.values():
        if type(v) is _ndarray:
            b = v.base
            if roots is None:
                roots = set()
            roots.add(id(v if b is None else b))
    want = fn.saved_inputs() if fn.keep_inputs else ()
    keep_out = fn.keep_outputs
    if not want and not keep_out and roots is None:
        return
    saved = []
    for i, x in enumerate(inputs):
        if i in want or (roots is not None and id(_root(x._array)) in roots):
            vc = x._counter()
            saved.append((vc, vc.value, "input", i, x._array.dtype, x._array.shape))
    for i, y in enumerate(outs):
        if keep_out or (roots is not None and id(_root(y._array)) in roots):
            vc = y._counter()
            saved.append((vc, vc.value, "output", i, y._array.dtype, y._array.shape))
    if saved:
        fn._saved = saved


def check_saved(node: Any) -> None:
    """Raise if a tensor ``node`` saved for backward was changed in place since."""
    for vc, expected, role, i, dtype, shape in node._saved:
        if vc.value != expected:
            op = f" [{vc.op}]" if vc.op else ""
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by "
                f"an inplace operation{op}: [{dtype} tensor of shape {tuple(shape)}], "
                f"which is {role} {i} of {node.name}Backward, is at version {vc.value}; "
                f"expected version {expected} instead. Hint: use an out-of-place op, or "
                "clone() the tensor before changing it in place."
            )


def retarget_saved(node: Any, old: Any, new: Any) -> None:
    """Saved entries that watch counter ``old`` watch ``new`` (at its current value)."""
    saved = getattr(node, "_saved", None)
    if saved:
        node._saved = [
            (new, new.value, *rest) if vc is old else (vc, v, *rest) for vc, v, *rest in saved
        ]
