"""The machinery behind ``Module.register_full_backward_hook``.

:class:`BackwardHook` wraps one call of a Module so that its full backward hooks
see ``grad_input`` (the gradients of the call's positional Tensor arguments) and
``grad_output`` (those of its Tensor outputs). It does so the way PyTorch does:
the inputs and the outputs each pass through one identity node of the graph,
whose backward records ``grad_output`` and calls the hooks with ``grad_input``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..autograd.function import Function
from ..tensor import Tensor


class _IdentityFunction(Function):
    """Passes its inputs through unchanged; ``on_backward`` sees their gradients
    and may replace them (returns a tuple of the same length, or None)."""

    def __init__(self, on_backward: Callable[[tuple[Any, ...]], tuple[Any, ...] | None]) -> None:
        self.on_backward = on_backward

    def forward(self, *xs: Any) -> tuple[Any, ...]:
        return tuple(xs)

    def backward(self, *gys: Any) -> Any:
        out = self.on_backward(gys)
        gxs = gys if out is None else out
        return gxs[0] if len(gxs) == 1 else tuple(gxs)


class BackwardHook:
    """One Module call's full backward hooks (see the module docstring).

    Args:
        module: the Module being called.
        hooks: the hooks, each ``hook(module, grad_input, grad_output)``
            returning None or a replacement ``grad_input`` tuple.
    """

    def __init__(self, module: Any, hooks: list[Callable[..., Any]]) -> None:
        self.module = module
        self.hooks = hooks
        self.n_inputs = 0
        self.input_index: list[int] | None = None
        self.grad_outputs: tuple[Any, ...] | None = None

    def setup_input_hook(self, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """``args`` with each Tensor that requires grad passed through the hook node."""
        from ..autograd.grad_mode import state

        self.n_inputs = len(args)
        idx = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if not idx or not state.enabled:
            return args
        self.input_index = idx
        outs = _IdentityFunction(self._input_backward)(*[args[i] for i in idx])
        new = list(args)
        for i, t in zip(idx, outs):
            new[i] = t
        return tuple(new)

    def setup_output_hook(self, result: Any) -> Any:
        """``result`` (a Tensor or a tuple) with its Tensors passed through a node
        that records ``grad_output``."""
        from ..autograd.grad_mode import state

        single = isinstance(result, Tensor)
        items = (result,) if single else result
        if not isinstance(items, tuple) or not state.enabled:
            return result
        idx = [i for i, a in enumerate(items) if isinstance(a, Tensor) and a.requires_grad]
        if not idx:
            return result
        self._output_index = idx
        self._n_outputs = len(items)
        outs = _IdentityFunction(self._output_backward)(*[items[i] for i in idx])
        new = list(items)
        for i, t in zip(idx, outs):
            new[i] = t
        return new[0] if single else tuple(new)

    def _output_backward(self, gys: tuple[Any, ...]) -> None:
        full: list[Any] = [None] * self._n_outputs
        for i, g in zip(self._output_index, gys):
            full[i] = g
        self.grad_outputs = tuple(full)
        if self.input_index is None:
            # No input needs a gradient: the hooks still run, with grad_input all None.
            grad_inputs = (None,) * self.n_inputs
            for hook in self.hooks:
                res = hook(self.module, grad_inputs, self.grad_outputs)
                if res is not None and not all(r is None for r in res):
                    raise RuntimeError(
                        "Backward hook for Modules where no input requires gradient "
                        "should always return None or None for all gradients."
                    )
        return None

    def _input_backward(self, gxs: tuple[Any, ...]) -> tuple[Any, ...]:
        assert self.input_index is not None
        grad_inputs: list[Any] = [None] * self.n_inputs
        for i, g in zip(self.input_index, gxs):
            grad_inputs[i] = g
        grad_outputs = self.grad_outputs if self.grad_outputs is not None else ()
        current = tuple(grad_inputs)
        for hook in self.hooks:
            res = hook(self.module, current, grad_outputs)
            if res is None:
                continue
            res = tuple(res) if isinstance(res, (tuple, list)) else (res,)
            if len(res) != len(current):
                raise RuntimeError(
                    f"Backward hook returned an invalid number of grad_input, got "
                    f"{len(res)}, but expected {len(current)}"
                )
            current = res
        return tuple(current[i] for i in self.input_index)
