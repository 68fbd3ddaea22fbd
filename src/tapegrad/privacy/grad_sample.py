"""Per-sample gradients: ``per_sample_grads`` and ``clipped_grad_sum``.

One forward and one backward pass of the summed loss give every layer's input
``x`` (kept by a forward hook) and the gradient ``gy`` of the loss in that
layer's output. Because the samples of a batch do not interact (which is why a
model holding BatchNorm is refused), ``gy[n]`` is exactly sample ``n``'s own
output gradient, and each layer's parameter gradient for sample ``n`` is a small
product of ``x[n]`` and ``gy[n]``: the method of Goodfellow's "Efficient
per-example gradient computations" and of Opacus's grad samplers.

``clipped_grad_sum`` needs only each sample's gradient norm and a weighted sum
of the per-sample gradients; for a Linear layer on (N, in) inputs both come
without forming the (N, out, in) tensor, since ``||gy[n] x[n]^T|| =
||gy[n]|| ||x[n]||`` (the "ghost norm").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..autograd.functional import grad as _grad
from ..backend import xp
from ..nn.conv import Conv2d, ConvTranspose2d
from ..nn.embedding import Embedding
from ..nn.linear import Linear
from ..nn.module import Module
from ..nn.normalization import GroupNorm, LayerNorm, _BatchNorm
from ..ops.conv_kernels import _ConvGeom, _im2col
from ..tensor import Tensor, _wrap

__all__ = ["per_sample_grads", "clipped_grad_sum", "SUPPORTED_LAYERS"]

#: The layers whose parameters get per-sample gradients.
SUPPORTED_LAYERS = (Linear, Conv2d, ConvTranspose2d, LayerNorm, GroupNorm, Embedding)

_NUMPY_PAD = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class _Call:
    """One forward call of a supported layer: its input array and output tensor."""

    __slots__ = ("module", "x", "out")

    def __init__(self, module: Module, x: Any, out: Tensor) -> None:
        self.module, self.x, self.out = module, x, out


# ------------------------------------------------------------- per-layer rules
def _linear(m: Linear, x: Any, gy: Any) -> dict[str, Any]:
    n = x.shape[0]
    x3 = x.reshape(n, -1, x.shape[-1])
    g3 = gy.reshape(n, -1, gy.shape[-1])
    out = {"weight": g3.transpose(0, 2, 1) @ x3}
    if m.bias is not None:
        out["bias"] = g3.sum(1)
    return out


def _conv_weight(cols: Any, right: Any, groups: int, n: int) -> Any:
    """Per-sample ``right[n] @ cols[n]^T`` per group: (N, G, R/G, K)."""
    k_g = cols.shape[0] // groups
    c = cols.reshape(groups, k_g, n, -1).transpose(2, 0, 3, 1)  # (N, G, L, K/G)
    r = right.reshape(n, groups, right.shape[1] // groups, -1)  # (N, G, R/G, L)
    return r @ c


def _conv2d(m: Conv2d, x: Any, gy: Any) -> dict[str, Any]:
    n = x.shape[0]
    top, bottom, left, right = m._side_padding
    if m.padding_mode != "zeros" and (top, bottom, left, right) != (0, 0, 0, 0):
        x = xp.pad(
            x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=_NUMPY_PAD[m.padding_mode]
        )
        top = bottom = left = right = 0
    geom = _ConvGeom(
        m.kernel_size,
        m.stride,
        (top, bottom, left, right),
        m.dilation,
        m.groups,
        tuple(x.shape[2:]),
        tuple(gy.shape[2:]),
    )
    gw = _conv_weight(_im2col(x, geom), gy, m.groups, n)
    out = {"weight": gw.reshape((n,) + tuple(m.weight.shape))}
    if m.bias is not None:
        out["bias"] = gy.sum((2, 3))
    return out


def _conv_transpose2d(m: ConvTranspose2d, x: Any, gy: Any) -> dict[str, Any]:
    # The transposed convolution is the adjoint of the convolution of gy-space
    # into x-space with the same weight, so its weight gradient is that
    # convolution's weight gradient with the roles of x and gy exchanged.
    n = x.shape[0]
    ph, pw = m.padding
    geom = _ConvGeom(
        m.kernel_size,
        m.stride,
        (ph, ph, pw, pw),
        m.dilation,
        m.groups,
        tuple(gy.shape[2:]),
        tuple(x.shape[2:]),
    )
    gw = _conv_weight(_im2col(gy, geom), x, m.groups, n)
    out = {"weight": gw.reshape((n,) + tuple(m.weight.shape))}
    if m.bias is not None:
        out["bias"] = gy.sum((2, 3))
    return out


def _normalized(x: Any, axes: tuple[int, ...], eps: float) -> Any:
    mean = x.mean(axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axes, keepdims=True)
    return (x - mean) / xp.sqrt(var + eps)


def _layer_norm(m: LayerNorm, x: Any, gy: Any) -> dict[str, Any]:
    k = len(m.normalized_shape)
    xhat = _normalized(x, tuple(range(x.ndim - k, x.ndim)), m.eps)
    middle = tuple(range(1, x.ndim - k))
    out = {"weight": (gy * xhat).sum(middle)}
    if m.bias is not None:
        out["bias"] = gy.sum(middle)
    return out


def _group_norm(m: GroupNorm, x: Any, gy: Any) -> dict[str, Any]:
    n, c = x.shape[0], x.shape[1]
    xg = x.reshape(n, m.num_groups, -1)
    xhat = _normalized(xg, (2,), m.eps).reshape(x.shape)
    rest = tuple(range(2, x.ndim))
    out = {"weight": (gy * xhat).sum(rest).reshape(n, c)}
    if m.bias is not None:
        out["bias"] = gy.sum(rest).reshape(n, c)
    return out


def _embedding(m: Embedding, idx: Any, gy: Any) -> dict[str, Any]:
    n = idx.shape[0]
    gw = xp.zeros((n,) + tuple(m.weight.shape), dtype=gy.dtype)
    rows = xp.broadcast_to(xp.arange(n).reshape((n,) + (1,) * (idx.ndim - 1)), idx.shape)
    xp.add.at(gw, (rows, idx), gy)
    if m.padding_idx is not None:
        gw[:, m.padding_idx] = 0
    return {"weight": gw}


_RULES: dict[type, Callable[[Any, Any, Any], dict[str, Any]]] = {
    Linear: _linear,
    Conv2d: _conv2d,
    ConvTranspose2d: _conv_transpose2d,
    LayerNorm: _layer_norm,
    GroupNorm: _group_norm,
    Embedding: _embedding,
}


def _rule(m: Module) -> Callable[[Any, Any, Any], dict[str, Any]] | None:
    for cls in type(m).__mro__:
        if cls in _RULES:
            return _RULES[cls]
    return None


# ------------------------------------------------------------- the capture
def _check_model(model: Module, who: str) -> list[Module]:
    """The modules whose own parameters need gradients; raise for what is not supported."""
    hooked = []
    for name, m in model.named_modules():
        where = f"'{name}'" if name else "the top level"
        if isinstance(m, _BatchNorm):
            raise ValueError(
                f"{who}: the model holds {type(m).__name__} at {where}; a per-sample gradient "
                "is undefined under BatchNorm, which mixes the samples of a batch: use "
                "GroupNorm, LayerNorm or no normalisation"
            )
        own = {k: p for k, p in m._parameters.items() if p is not None and p.requires_grad}
        if not own:
            continue
        rule = _rule(m)
        expected = {"weight", "bias"}
        if rule is None or not set(own) <= expected:
            names = ", ".join(sorted(own))
            raise ValueError(
                f"{who}: no per-sample gradient rule for {type(m).__name__} at {where} "
                f"(parameters {names}); supported: "
                + ", ".join(c.__name__ for c in SUPPORTED_LAYERS)
                + " with their own weight and bias"
            )
        hooked.append(m)
    return hooked


def _as_args(inputs: Any) -> tuple[Any, ...]:
    return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def _batch_size(args: tuple[Any, ...], who: str) -> int:
    first = args[0]
    shape = tuple(first.shape) if hasattr(first, "shape") else ()
    if not shape:
        raise ValueError(f"{who}: inputs need a batch dimension first, got shape {shape}")
    return int(shape[0])


def _capture(
    model: Module, loss_fn: Callable[[Any, Any], Tensor], inputs: Any, targets: Any, who: str
) -> tuple[list[_Call], list[Any], int]:
    """Run forward and backward; returns the layer calls, their output gradients, N."""
    hooked = _check_model(model, who)
    args = _as_args(inputs)
    n = _batch_size(args, who)
    calls: list[_Call] = []

    def hook(module: Module, a: tuple[Any, ...], out: Any) -> None:
        x = a[0]._array if isinstance(a[0], Tensor) else xp.asarray(a[0])
        if x.ndim == 0 or x.shape[0] != n:
            raise ValueError(
                f"{who}: {type(module).__name__} received input of shape {tuple(x.shape)}; "
                f"per-sample gradients need the batch of {n} as its first dimension"
            )
        calls.append(_Call(module, x, out))

    handles = [m.register_forward_hook(hook) for m in hooked]
    try:
        loss = loss_fn(model(*args), targets)
    finally:
        for h in handles:
            h.remove()
    if not isinstance(loss, Tensor) or loss._array.size != 1:
        shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(
            f"{who}: loss_fn must return a one-element Tensor (a summed loss), got {shape}"
        )
    live = [c for c in calls if c.out.requires_grad]
    gys = list(_grad(loss, [c.out for c in live], allow_unused=True)) if live else []
    return live, [None if g is None else g._array for g in gys], n


def _layer_grads(calls: list[_Call], gys: list[Any]) -> list[tuple[_Call, dict[str, Any]]]:
    out = []
    for c, gy in zip(calls, gys):
        if gy is None:
            continue
        rule = _rule(c.module)
        assert rule is not None
        out.append((c, rule(c.module, c.x, gy)))
    return out


def per_sample_grads(
    model: Module, loss_fn: Callable[[Any, Any], Tensor], inputs: Any, targets: Any
) -> list[Tensor | None]:
    """Per-sample gradients of ``loss_fn(model(inputs), targets)``.

    Args:
        model: a model built from Linear, Conv2d, ConvTranspose2d, LayerNorm,
            GroupNorm and Embedding layers (plus parameter-free modules).
        loss_fn: ``(output, targets) -> one-element Tensor``, a sum over the
            samples (a mean would scale every gradient by 1/N).
        inputs: a batch (N, ...) passed as ``model(inputs)``, or a tuple of
            batches passed as ``model(*inputs)`` (for a conditional model).
        targets: passed to ``loss_fn`` unchanged.

    Returns:
        one entry per parameter in ``model.parameters()`` order: a Tensor of
        shape ``(N, *param.shape)`` whose row ``n`` is the gradient of sample
        ``n``'s loss, or None for a parameter with ``requires_grad=False``. A
        parameter used by no sample's loss gets zeros.

    Raises:
        ValueError: the model holds BatchNorm, or a parameter of an unsupported
            layer, or a layer's input does not have the batch first.
    """
    who = "per_sample_grads"
    calls, gys, n = _capture(model, loss_fn, inputs, targets, who)
    acc: dict[int, Any] = {}
    for c, grads in _layer_grads(calls, gys):
        for name, g in grads.items():
            p = c.module._parameters[name]
            if p is None or not p.requires_grad:
                continue
            key = id(p)
            acc[key] = g if key not in acc else acc[key] + g
    result: list[Tensor | None] = []
    for p in model.parameters():
        if not p.requires_grad:
            result.append(None)
            continue
        g = acc.get(id(p))
        if g is None:
            g = xp.zeros((n,) + tuple(p.shape), dtype=p._array.dtype)
        result.append(_wrap(xp.ascontiguousarray(g, dtype=p._array.dtype)))
    return result


# ------------------------------------------------------------- clipped sum
def _rowsq(a: Any) -> Any:
    a = a.reshape(a.shape[0], -1)
    return xp.einsum("ij,ij->i", a, a).astype(xp.float64)


def _ghost(m: Module, x: Any, gy: Any) -> Any:
    """Per-sample squared gradient norms (N,) without per-sample tensors, or None.

    A Linear on (N, in) input: ``||gy[n]||^2 (||x[n]||^2 + 1)`` (the 1 for the bias).
    An Embedding looked up once per sample (indices (N,)): ``||gy[n]||^2``, zero
    for the padding row.
    """
    if isinstance(m, Linear) and x.ndim == 2:
        return _rowsq(gy) * (_rowsq(x) + (1.0 if m.bias is not None else 0.0))
    if isinstance(m, Embedding) and x.ndim == 1:
        sq = _rowsq(gy)
        if m.padding_idx is not None:
            sq[x == m.padding_idx] = 0
        return sq
    return None


def clipped_grad_sum(
    model: Module,
    loss_fn: Callable[[Any, Any], Tensor],
    inputs: Any,
    targets: Any,
    max_norm: float,
) -> tuple[list[Tensor | None], Any]:
    """The sum over samples of each sample's gradient clipped to norm ``max_norm``.

    The norm of a sample's gradient is taken over all parameters jointly; a
    gradient of norm ``g`` is scaled by ``min(1, max_norm / (g + 1e-6))``.
    Equal to clipping and summing ``per_sample_grads``, but a Linear layer on
    (N, in) inputs never forms its (N, out, in) per-sample tensor, nor an
    Embedding looked up once per sample its (N, rows, dim) one.

    Returns:
        (grads, norms): one summed clipped gradient per parameter in
        ``model.parameters()`` order (None where ``requires_grad=False``), and
        the unclipped per-sample norms, a NumPy array of shape (N,).
    """
    who = "clipped_grad_sum"
    if not max_norm > 0:
        raise ValueError(f"{who}: max_norm must be > 0, got {max_norm!r}")
    calls, gys, n = _capture(model, loss_fn, inputs, targets, who)
    live = [(c, gy) for c, gy in zip(calls, gys) if gy is not None]
    # A parameter reached by one layer call has its own ghost norm; one reached
    # by several calls (a layer applied twice, tied weights) needs the sum of
    # those calls' per-sample gradients before its norm is taken.
    uses: dict[int, int] = {}
    for c, _ in live:
        for p in c.module._parameters.values():
            if p is not None:
                uses[id(p)] = uses.get(id(p), 0) + 1
    sq = xp.zeros(n, dtype=xp.float64)
    ghosts: list[tuple[_Call, Any]] = []
    dense: dict[int, Any] = {}
    for c, gy in live:
        own = [p for p in c.module._parameters.values() if p is not None]
        single = all(uses[id(p)] == 1 for p in own)
        ghost = _ghost(c.module, c.x, gy) if single else None
        if ghost is not None:
            sq += ghost
            ghosts.append((c, gy))
            continue
        rule = _rule(c.module)
        assert rule is not None
        for name, g in rule(c.module, c.x, gy).items():
            p = c.module._parameters[name]
            if p is None or not p.requires_grad:
                continue
            dense[id(p)] = g if id(p) not in dense else dense[id(p)] + g
    for g in dense.values():
        sq += _rowsq(g)
    norms = xp.sqrt(sq)
    scale = xp.minimum(1.0, max_norm / (norms + 1e-6))
    acc = {k: xp.tensordot(scale.astype(g.dtype), g, 1) for k, g in dense.items()}
    for c, gy in ghosts:
        gs = gy * scale.astype(gy.dtype)[:, None]
        m = c.module
        if isinstance(m, Embedding):
            gw = xp.zeros(tuple(m.weight.shape), dtype=gs.dtype)
            xp.add.at(gw, c.x, gs)
            if m.padding_idx is not None:
                gw[m.padding_idx] = 0
            acc[id(m.weight)] = gw
            continue
        if m.weight.requires_grad:
            acc[id(m.weight)] = gs.T @ c.x
        if m.bias is not None and m.bias.requires_grad:
            acc[id(m.bias)] = gs.sum(0)
    result: list[Tensor | None] = []
    for p in model.parameters():
        if not p.requires_grad:
            result.append(None)
            continue
        g = acc.get(id(p))
        g = xp.zeros(tuple(p.shape), dtype=p._array.dtype) if g is None else g
        result.append(_wrap(xp.ascontiguousarray(g, dtype=p._array.dtype)))
    return result, norms
