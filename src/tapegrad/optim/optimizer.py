"""``Optimizer``: the base class of every optimizer, with PyTorch's structure.

An optimizer holds ``param_groups`` (a list of dicts: ``'params'``, a list of
leaf Tensors, plus that group's hyperparameters) and ``state`` (a dict from
parameter to that parameter's running quantities: moments, step count).
``step()`` updates every parameter that has a gradient, in place on
``p._array``, from ``p.grad._array``; no graph is recorded.

State arrays are raw backend arrays (NumPy ``ndarray``), like ``Tensor._array``,
under PyTorch's key names (``'exp_avg'``, ``'momentum_buffer'``...); the step
count ``'step'`` is a Python int. ``state_dict()`` has PyTorch's layout::

    {'state': {0: {'step': 3, 'exp_avg': array, ...}, ...},
     'param_groups': [{'lr': 0.001, ..., 'params': [0, 1]}, ...]}

with parameters replaced by their index (in group order), so a state saved
from one model loads into another built the same way. A PyTorch optimizer's
state dict with its tensors converted to NumPy arrays loads too.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from ..autograd.grad_mode import enable_grad
from ..autograd.grad_mode import state as _grad_state
from ..backend import xp
from ..tensor import Tensor

__all__ = ["Optimizer"]


def _check_nonneg(opt: str, name: str, value: Any) -> None:
    """Raise ``ValueError`` naming ``value`` unless it is a number ``>= 0``."""
    if not (isinstance(value, numbers.Real) and float(value) >= 0):
        raise ValueError(f"{opt}: invalid {name}={value!r}, it must be a number >= 0")


def _check_unit(opt: str, name: str, value: Any) -> None:
    """Raise ``ValueError`` naming ``value`` unless ``0 <= value < 1``."""
    if not (isinstance(value, numbers.Real) and 0.0 <= float(value) < 1.0):
        raise ValueError(f"{opt}: invalid {name}={value!r}, it must be in [0, 1)")


class Optimizer:
    """Base class of the optimizers.

    Args:
        params: an iterable of Tensors, or of dicts (parameter groups), each with
            ``'params'`` (a Tensor or an iterable of Tensors) and optionally its
            own values for any hyperparameter in ``defaults``.
        defaults: the hyperparameters a group takes when it does not give them.

    Subclasses implement :meth:`_step_group` (update one group's parameters) and
    may implement :meth:`_check_group` (validate a group's hyperparameters).
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors or of dicts, "
                "got a single Tensor (wrap it in a list)"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{type(self).__name__}: parameters must be in an ordered collection (list, "
                "tuple), not a set, so that their order (and the state dict's indices) is "
                "reproducible"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ---------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters.

        Missing hyperparameters take the optimizer's defaults. Raises for a
        parameter that is not a floating-point leaf Tensor or that is already
        optimized (in this or another group), and for invalid hyperparameters.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a param group must be a dict, got {type(param_group)}")
        group = dict(param_group)
        if "params" not in group:
            raise ValueError(f"{name}: a param group needs a 'params' entry")
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: parameters must be in an ordered collection (list, tuple), not a set, "
                "so that their order (and the state dict's indices) is reproducible"
            )
        else:
            params = list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: can only optimize Tensors, but parameter {i} is {type(p).__name__}"
                )
            if p._array.dtype.kind != "f":
                raise TypeError(
                    f"{name}: can only optimize floating-point Tensors, parameter {i} "
                    f"(shape {tuple(p.shape)}) has dtype {p._array.dtype}"
                )
            if not p.is_leaf:
                raise ValueError(
                    f"{name}: can't optimize a non-leaf Tensor (parameter {i}, "
                    f"shape {tuple(p.shape)}); optimize the leaf it was computed from"
                )
            if id(p) in seen:
                raise ValueError(
                    f"{name}: parameter {i} (shape {tuple(p.shape)}) appears more than once "
                    "in the optimizer's parameters"
                )
            seen.add(id(p))
        group["params"] = params
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Raise ``ValueError`` for invalid hyperparameters in ``group``."""

    # ------------------------------------------------------------------ step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters.

        ``set_to_none=True`` (the default) sets ``p.grad = None`` (a parameter
        whose grad is None is skipped by ``step``); otherwise the gradient is
        cut from any graph and filled with zeros in place.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    p.grad._array.fill(0)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, in place.

        Args:
            closure: optional; re-evaluates the model and returns the loss
                (run with gradient recording on, before the update).

        Returns:
            The closure's loss, or ``None``.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        prev = _grad_state.enabled
        _grad_state.enabled = False
        try:
            for group in self.param_groups:
                self._step_group(group)
        finally:
            _grad_state.enabled = prev
            # Updates write p's memory in place: bump its version, as PyTorch's
            # in-place updates do, so a graph that saved p (the GAN mistake of
            # stepping D before G's loss has gone back through D) refuses backward.
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p._counter().bump(f"{type(self).__name__}.step")
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement _step_group")

    def _grads(self, group: dict[str, Any]) -> Iterable[tuple[Tensor, Any, Any]]:
        """``(param, param array, grad array)`` for each parameter with a gradient,
        the gradient checked for shape and cast to the parameter's dtype."""
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            pd, gd = p._array, g._array
            if gd.shape != pd.shape:
                raise ValueError(
                    f"{type(self).__name__}: gradient of shape {tuple(gd.shape)} for a "
                    f"parameter of shape {tuple(pd.shape)}"
                )
            if gd.dtype != pd.dtype:
                gd = gd.astype(pd.dtype)
            yield p, pd, gd

    # ----------------------------------------------------------- state dicts
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's layout (see the module docstring).

        Arrays are copies: training on does not change a saved state dict.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                ids.append(index.setdefault(id(p), len(index)))
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for p, s in self.state.items():
            i = index.get(id(p))
            if i is not None:
                state[i] = {k: _copy_value(v) for k, v in s.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state saved by :meth:`state_dict` (or PyTorch's, as NumPy).

        The groups must have the same sizes as this optimizer's. Hyperparameters
        come from the saved groups; arrays are copied and cast to each
        parameter's dtype, so nothing is shared with ``state_dict``.
        """
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                f"groups, the optimizer has {len(self.param_groups)}"
            )
        id_map: dict[int, Tensor] = {}
        for k, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {k} has {len(saved['params'])} "
                    f"parameters in the state dict, {len(group['params'])} in the optimizer"
                )
            for i, p in zip(saved["params"], group["params"]):
                id_map[int(i)] = p
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, values in state_dict["state"].items():
            p = id_map.get(int(key))
            if p is None:
                raise ValueError(
                    f"{name}.load_state_dict: state for parameter index {key}, which no "
                    "parameter group lists"
                )
            state[p] = {k: _cast_value(name, k, v, p) for k, v in values.items()}
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new: dict[str, Any] = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            if "betas" in new:
                new["betas"] = tuple(new["betas"])  # a JSON round trip gives a list
            new["params"] = group["params"]
            for option, default in self.defaults.items():
                new.setdefault(option, default)
            self._check_group(new)
            new_groups.append(new)
        self.param_groups = new_groups
        self.state = state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _copy_value(v: Any) -> Any:
    if isinstance(v, xp.ndarray):
        return v.copy()
    if isinstance(v, Tensor):
        return Tensor(v._array.copy())
    return copy.deepcopy(v)


def _cast_value(opt: str, key: str, v: Any, p: Tensor) -> Any:
    """A state entry as this optimizer keeps it: ``'step'`` an int, arrays
    copied in ``p``'s dtype with ``p``'s shape (checked)."""
    if key == "step":
        step = float(v._array) if isinstance(v, Tensor) else float(v)
        if not (math.isfinite(step) and step >= 0 and step == int(step)):
            raise ValueError(f"{opt}.load_state_dict: invalid step {step!r}")
        return int(step)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, Tensor):
        v = v._array
    if hasattr(v, "__array__") or isinstance(v, xp.ndarray):
        a = xp.array(v, dtype=p._array.dtype, copy=True)
        if a.shape != p._array.shape:
            raise ValueError(
                f"{opt}.load_state_dict: state {key!r} has shape {tuple(a.shape)}, "
                f"its parameter has shape {tuple(p._array.shape)}"
            )
        return a
    return copy.deepcopy(v)


def _decayed_grad(p: Any, g: Any, weight_decay: float, maximize: bool) -> tuple[Any, bool]:
    """The gradient PyTorch's update uses: ``(-g if maximize else g) + weight_decay * p``.

    Returns ``(array, owned)``: ``owned`` says the array is a new temporary that
    the caller may overwrite (never write into ``g``: it is the parameter's
    ``.grad``).
    """
    if weight_decay != 0:
        d = xp.multiply(p, weight_decay)
        # wd*p - g is exactly (-g) + wd*p: IEEE subtraction adds the negation.
        if maximize:
            xp.subtract(d, g, out=d)
        else:
            xp.add(d, g, out=d)
        return d, True
    if maximize:
        return xp.negative(g), True
    return g, False
