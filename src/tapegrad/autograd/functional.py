"""The two entry points of a backward pass: ``backward`` and ``grad``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import xp
from ..tensor import Tensor, _wrap
from .engine import run_backward


def _as_list(x: Any) -> list[Any]:
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def _root_grads(outputs: list[Any], grad_outputs: Any) -> list[Any]:
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    else:
        grad_outputs = _as_list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    out = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(t, Tensor):
            raise TypeError(f"output {i} is a {type(t).__name__}, not a Tensor")
        if not t.requires_grad:
            raise RuntimeError(
                f"output {i} (shape {tuple(t.shape)}) does not require grad and has no "
                "grad_fn: nothing it depends on was created with requires_grad=True "
                "(or it was computed under no_grad)"
            )
        if g is None:
            if t._array.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for a one-element output; output {i} "
                    f"has shape {tuple(t.shape)}: pass gradient= (grad_outputs=) of that shape"
                )
            g = _wrap(xp.ones_like(t._array))
        else:
            g = g if isinstance(g, Tensor) else Tensor(g, dtype=t.dtype)
            if g.shape != t.shape:
                raise ValueError(
                    f"gradient for output {i} has shape {tuple(g.shape)}, "
                    f"the output has shape {tuple(t.shape)}"
                )
        out.append(g)
    return out


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Sequence[Any] | None = None,
) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves.

    Like ``torch.autograd.backward``. With ``inputs`` given, only those
    leaves receive a gradient.
    """
    outputs = _as_list(tensors)
    roots = _root_grads(outputs, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_list(inputs)
        gs = run_backward(outputs, roots, retain_graph, create_graph, inputs)
        assert gs is not None  # given inputs, the gradients are returned
        for t, g in zip(inputs, gs):
            if g is not None:
                if not create_graph:
                    g = g.detach()
                t.grad = g if t.grad is None else t.grad + g
        return
    run_backward(outputs, roots, retain_graph, create_graph)


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Any, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned, not accumulated.

    Like ``torch.autograd.grad``. With ``create_graph=True`` the returned
    gradients are part of a graph and can be differentiated again (gradient
    penalties, Hessian-vector products). Returns a tuple with one Tensor per
    input; an input the outputs do not depend on raises unless
    ``allow_unused=True``, which gives ``None`` for it.
    """
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"input {i} of grad() does not require grad")
    roots = _root_grads(outs, grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    gs = run_backward(outs, roots, retain_graph, create_graph, ins)
    assert gs is not None  # given inputs, the gradients are returned
    result = []
    for i, g in enumerate(gs):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"input {i} (shape {tuple(ins[i].shape)}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
        if g is not None and not create_graph and g.requires_grad:
            g = g.detach()
        result.append(g)
    return tuple(result)
