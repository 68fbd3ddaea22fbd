"""Spectral normalisation (Miyato et al. 2018), as ``torch.nn.utils.spectral_norm`` defines it.

``spectral_norm(module)`` replaces the parameter ``weight`` by ``weight_orig`` (the
learnable parameter) and two buffers ``weight_u``, ``weight_v`` (the current
estimates of the top left and right singular vectors of the weight seen as a
matrix). Before every forward a pre-hook sets ``module.weight`` to
``weight_orig / sigma`` with ``sigma = u^T W v``:

* in training mode, ``n_power_iterations`` steps of power iteration first refine
  ``u`` and ``v`` in place, without recording them (they are constants for autograd);
* in eval mode ``u`` and ``v`` are used as they are;
* ``sigma`` is computed with gradient through ``W``, so the gradient with respect to
  ``weight_orig`` includes the term from the normalisation (as in PyTorch).

The weight is seen as a matrix by moving dimension ``dim`` to the front and
flattening the rest: ``dim=0`` for most layers, ``dim=1`` for ``ConvTranspose2d``
(whose weight is ``(C_in, C_out, kH, kW)``).
"""

from __future__ import annotations

from typing import Any

from ...autograd.function import Function
from ...backend import xp
from ...tensor import Tensor, _wrap
from ..conv import ConvTranspose2d
from ..module import Module
from ..parameter import Parameter

__all__ = ["SpectralNorm", "spectral_norm", "remove_spectral_norm"]


def _normalize(a: Any, eps: float) -> Any:
    """``a / max(||a||_2, eps)`` for a 1-D array, in a's dtype (PyTorch's F.normalize)."""
    n = xp.sqrt(xp.dot(a, a))
    return a / xp.maximum(n, a.dtype.type(eps))


class _SigmaFunction(Function):
    """``u^T W v`` for constant vectors ``u``, ``v`` and the weight ``W`` in its own layout.

    ``W`` arrives in the module's layout; ``perm`` moves ``dim`` to the front so that
    ``W.transpose(perm).reshape(h, -1)`` is the matrix. The gradient with respect to W
    is ``gy * u v^T`` mapped back to W's layout; it does not depend on W, so its
    derivative with respect to W is zero and double backward only needs ``gy``.
    """

    def __init__(self, u: Any, v: Any, perm: tuple[int, ...] | None) -> None:
        self.u, self.v, self.perm = u, v, perm

    def forward(self, w):
        self.w_shape = w.shape
        mat = w if self.perm is None else w.transpose(self.perm)
        mat = mat.reshape(mat.shape[0], -1)
        return xp.asarray(xp.dot(self.u, mat @ self.v))

    def backward(self, gy):
        outer = xp.multiply.outer(self.u, self.v)
        if self.perm is None:
            m = outer.reshape(self.w_shape)
        else:
            permuted = tuple(self.w_shape[p] for p in self.perm)
            m = outer.reshape(permuted).transpose(_inverse(self.perm))
        return gy * _wrap(m)


def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


class SpectralNorm:
    """The forward pre-hook that recomputes ``module.<name>``; one per normalised parameter.

    Attributes: ``name``, ``dim``, ``n_power_iterations``, ``eps``.
    """

    def __init__(
        self, name: str = "weight", n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12
    ) -> None:
        if n_power_iterations < 0:
            raise ValueError(
                "spectral_norm: expected n_power_iterations to be non-negative, "
                f"got n_power_iterations={n_power_iterations}"
            )
        self.name = name
        self.dim = dim
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def _perm(self, ndim: int) -> tuple[int, ...] | None:
        if self.dim == 0:
            return None
        return (self.dim, *[d for d in range(ndim) if d != self.dim])

    def reshape_weight_to_matrix(self, weight: Any) -> Any:
        """The raw weight array as a ``(shape[dim], -1)`` matrix (a view where possible)."""
        perm = self._perm(weight.ndim)
        mat = weight if perm is None else weight.transpose(perm)
        return mat.reshape(mat.shape[0], -1)

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        """``weight_orig / sigma``; with ``do_power_iteration`` first update u, v in place."""
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        if do_power_iteration and self.n_power_iterations > 0:
            mat = self.reshape_weight_to_matrix(weight._array)
            ua, va = u._array, v._array
            for _ in range(self.n_power_iterations):
                va = _normalize(mat.T @ ua, self.eps)
                ua = _normalize(mat @ va, self.eps)
            # In place, so that the buffers stay the same objects (as in PyTorch);
            # sigma below uses copies, so a later update cannot change a recorded graph.
            v._array[...] = va
            u._array[...] = ua
        sigma = _SigmaFunction(u._array.copy(), v._array.copy(), self._perm(weight.ndim))(weight)
        return weight / sigma

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module, module.training))

    def remove(self, module: Module) -> None:
        """Put back a plain parameter ``<name>`` holding the current normalised weight."""
        from ...autograd.grad_mode import no_grad

        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        delattr(module, self.name)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight._array.copy()))

    @staticmethod
    def apply(module: Module, name: str, n_power_iterations: int, dim: int, eps: float) -> Any:
        """Register the hook, the ``_orig`` parameter and the ``_u``, ``_v`` buffers."""
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(
                    f"spectral_norm: cannot register two spectral_norm hooks on the same "
                    f"parameter {name!r} of {type(module).__name__}"
                )
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError(
                f"spectral_norm: {type(module).__name__} has no parameter {name!r} "
                f"(its parameters: {[k for k, p in module._parameters.items() if p is not None]})"
            )
        if not -weight.ndim <= dim < max(weight.ndim, 1):
            raise ValueError(
                f"spectral_norm: dim {dim} is out of range for {name!r} of shape "
                f"{tuple(weight.shape)}"
            )
        fn = SpectralNorm(name, n_power_iterations, dim % max(weight.ndim, 1), eps)
        from ... import random as _random

        mat = fn.reshape_weight_to_matrix(weight._array)
        h, w = mat.shape
        rng = _random.default_generator()
        dt = weight._array.dtype
        u = _normalize(xp.asarray(rng.normal(0.0, 1.0, size=h)).astype(dt), eps)
        v = _normalize(xp.asarray(rng.normal(0.0, 1.0, size=w)).astype(dt), eps)
        delattr(module, name)
        module.register_parameter(name + "_orig", weight)
        # Until the first forward, ``module.<name>`` is the raw weight, as in PyTorch.
        setattr(module, name, weight.detach())
        module.register_buffer(name + "_u", _wrap(u))
        module.register_buffer(name + "_v", _wrap(v))
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(
    module: Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> Module:
    """Apply spectral normalisation to parameter ``name`` of ``module``; returns the module.

    Args:
        module: the layer (Linear, Conv2d, ConvTranspose2d, Embedding...).
        name: the parameter to normalise.
        n_power_iterations: power-iteration steps per training-mode forward.
        eps: lower bound on the norms divided by in the power iteration.
        dim: the dimension of the weight that indexes the matrix's rows;
            default 1 for ``ConvTranspose2d``, else 0.

    The module gains parameter ``<name>_orig`` and buffers ``<name>_u`` (shape
    ``(shape[dim],)``) and ``<name>_v`` (the product of the other dims), drawn from
    N(0, 1) with tapegrad's generator and normalised. ``state_dict`` keys are
    PyTorch's (``weight_orig``, ``weight_u``, ``weight_v``).
    """
    if dim is None:
        dim = 1 if isinstance(module, ConvTranspose2d) else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`spectral_norm`: ``<name>`` becomes a plain parameter holding the
    normalised weight (from the current u, v); returns the module."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"spectral_norm of {name!r} not found in {type(module).__name__}")
