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
from ..tensor import Tensor, VersionCounter

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
    if out._node is not None:
        watch_output(out._node, out._index, vc, out._array)


def stored_roots(fn: Any) -> set[int] | None:
    """Ids of the memory blocks of the arrays ``forward`` stored on ``fn`` (None: none)."""
    roots = None
    for v in fn.__dict__.values():
        if type(v) is _ndarray:
            b = v.base
            if roots is None:
                roots = set()
            roots.add(id(v if b is None else b))
    return roots


def record_saved(fn: Any, inputs: tuple[Tensor, ...], roots: set[int] | None) -> None:
    """Note on ``fn`` the versions of the inputs its backward will read.

    Each entry is ``(counter, version, role, position, array)``. A kept input
    is held by the node, so its entry has no counter, and only an input already
    changed in place (version above 0) needs one: :func:`check_saved` takes 0
    for the others, the version of a tensor without a counter. Outputs are
    watched from the moment they get a counter (:func:`watch_output`), which a
    fresh output does not have. The node also notes how many in-place changes
    there have been anywhere (``VersionCounter.bumps``): the engine checks it
    only when that count has moved. So recording an op on tensors nobody edits
    allocates nothing; this runs once per recorded op, and its cost is per-op
    overhead. ``roots`` is :func:`stored_roots` of ``fn`` taken right after its
    forward.
    """
    if roots is None and not fn.keep_inputs:
        return  # (the caller skips the call then; this keeps the function whole)
    fn._seen = VersionCounter.bumps
    saved: list[tuple[Any, int, str, int, Any]] = []
    if roots is None:
        for i in fn.saved_inputs():
            vc = inputs[i]._vc
            if vc is not None and vc.value:
                saved.append((None, vc.value, "input", i, None))
    else:
        want = fn.saved_inputs() if fn.keep_inputs else ()
        for i, x in enumerate(inputs):
            if i in want:
                vc = x._vc
                if vc is not None and vc.value:
                    saved.append((None, vc.value, "input", i, None))
            elif id(_root(x._array)) in roots:
                vc = x._counter()
                saved.append((vc, vc.value, "input", i, x._array))
    if saved:
        fn._saved = saved


def watch_output(fn: Any, i: int, vc: Any, array: Any) -> None:
    """Output ``i`` of ``fn`` has just got version counter ``vc`` (its first view,
    ``detach()`` or in-place op): if backward reads that output, check it against
    ``vc`` at its present version."""
    if fn._freed:
        return
    if not fn.keep_outputs:
        roots = stored_roots(fn)
        if roots is None or id(_root(array)) not in roots:
            return
    if fn._seen is None:
        fn._seen = VersionCounter.bumps
    entry = (vc, vc.value, "output", i, array)
    if fn._saved is None:
        fn._saved = [entry]
    else:
        fn._saved.append(entry)


def needs_check(node: Any) -> bool:
    """Whether anything was changed in place since ``node`` noted its versions."""
    seen = node._seen
    return seen is not None and seen != VersionCounter.bumps


def check_saved(node: Any) -> None:
    """Raise if a tensor ``node`` saved for backward was changed in place since."""
    kept: dict[int, int] = {}  # version of each kept input that had been changed before
    for vc, expected, role, i, arr in node._saved or ():
        if vc is None:
            kept[i] = expected
        elif vc.value != expected:
            _raise_changed(node, vc, expected, role, i, arr)
    if node.keep_inputs and node.inputs is not None:
        for i in node.saved_inputs():
            x = node.inputs[i]
            vc = x._vc
            if vc is not None and vc.value != kept.get(i, 0):
                _raise_changed(node, vc, kept.get(i, 0), "input", i, x._array)


def _raise_changed(node: Any, vc: Any, expected: int, role: str, i: int, arr: Any) -> None:
    op = f" [{vc.op}]" if vc.op else ""
    raise RuntimeError(
        "one of the variables needed for gradient computation has been modified by "
        f"an inplace operation{op}: [{arr.dtype} tensor of shape {tuple(arr.shape)}], "
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
