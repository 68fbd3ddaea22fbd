"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm``, ``GroupNorm``,
``InstanceNorm1d``, ``InstanceNorm2d``.

Parameter and buffer names (``weight``, ``bias``, ``running_mean``,
``running_var``, ``num_batches_tracked``) and their update rules are PyTorch's,
so state dicts load across both frameworks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backend import xp
from ..dtypes import get_default_dtype
from ..ops.norm import batch_norm, group_norm, instance_norm, layer_norm
from ..tensor import Tensor, _wrap
from .module import Module
from .parameter import Parameter

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
]


def _dt(dtype: Any) -> Any:
    return get_default_dtype() if dtype is None else dtype


class _BatchNorm(Module):
    """Shared code of the BatchNorm layers; subclasses say which input ranks they take."""

    _ranks: tuple[int, ...] = ()
    _layout: str = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dt = _dt(dtype)
        if affine:
            self.weight = Parameter(xp.ones(num_features, dtype=dt))
            if bias:
                self.bias = Parameter(xp.zeros(num_features, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", _wrap(xp.zeros(num_features, dtype=dt)))
            self.register_buffer("running_var", _wrap(xp.ones(num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", _wrap(xp.zeros((), dtype=xp.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean to 0, running variance to 1, batch count to 0."""
        if self.track_running_stats:
            self.running_mean._array[...] = 0
            self.running_var._array[...] = 1
            self.num_batches_tracked._array[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics, weight to 1 and bias to 0."""
        self.reset_running_stats()
        if self.weight is not None:
            self.weight._array[...] = 1
        if self.bias is not None:
            self.bias._array[...] = 0

    def _check_input(self, x: Tensor) -> None:
        name = type(self).__name__
        if x.ndim not in self._ranks:
            raise ValueError(
                f"{name}: expected {self._layout} input, got {x.ndim}-D input of shape "
                f"{tuple(x.shape)}"
            )
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{name}({self.num_features}): input of shape {tuple(x.shape)} has "
                f"{x.shape[1]} channels (dim 1), expected {self.num_features}"
            )

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - torch's name
        """Normalise ``input`` per channel; returns a tensor of the same shape."""
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and input._array.size // max(input.shape[1], 1) <= 1:
            raise ValueError(
                f"{type(self).__name__}: Expected more than 1 value per channel when "
                f"training, got input of shape {tuple(input.shape)}"
            )
        if self.training and self.track_running_stats:
            self.num_batches_tracked._array += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked._array)
        # Batch statistics in training, and also in eval when none are tracked.
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input over N (and L), per channel C.

    Args:
        num_features: C.
        eps: added to the variance for stability.
        momentum: weight of the new batch in the running statistics; ``None``
            gives a cumulative average over all batches seen.
        affine: learn ``weight`` (init 1) and ``bias`` (init 0) of shape (C,).
        bias: (keyword only) with ``affine``, learn the bias too.
        track_running_stats: keep ``running_mean``/``running_var`` for eval;
            without them batch statistics are used in eval too.
    """

    _ranks = (2, 3)
    _layout = "2-D (N, C) or 3-D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input over N, H and W, per channel C.

    Arguments as :class:`BatchNorm1d`.
    """

    _ranks = (4,)
    _layout = "4-D (N, C, H, W)"


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dims of each sample.

    Args:
        normalized_shape: the shape of the trailing dims (an int for one dim).
        eps: added to the variance for stability.
        elementwise_affine: learn ``weight`` (init 1) and ``bias`` (init 0) of
            shape ``normalized_shape``.
        bias: learn the bias (with ``elementwise_affine``).
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dt = _dt(dtype)
        if elementwise_affine:
            self.weight = Parameter(xp.ones(self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(xp.zeros(self.normalized_shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """Weight to 1 and bias to 0."""
        if self.weight is not None:
            self.weight._array[...] = 1
        if self.bias is not None:
            self.bias._array[...] = 0

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - torch's name
        """Normalise ``input`` (*, *normalized_shape); returns a tensor of the same shape."""
        ns = self.normalized_shape
        if input.ndim < len(ns) or tuple(input.shape[input.ndim - len(ns) :]) != ns:
            raise ValueError(
                f"LayerNorm({ns}): input of shape {tuple(input.shape)} does not end "
                f"with normalized_shape {ns}"
            )
        return layer_norm(input, ns, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """Its settings for the repr: normalized shape, eps, affine, bias."""
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Normalise (N, C, *) over groups of ``C / num_groups`` channels and the axes after C.

    Unlike BatchNorm, each sample is normalised on its own, so the layer behaves
    the same in training and evaluation and per-sample gradients are defined.

    Args:
        num_groups: how many groups the channels are split into (divides C).
        num_channels: C.
        eps: added to the variance for stability.
        affine: learn a per-channel ``weight`` (init 1) and ``bias`` (init 0), shape (C,).
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                f"num_groups ({num_groups})"
            )
        self.num_groups = int(num_groups)
        self.num_channels = int(num_channels)
        self.eps = eps
        self.affine = affine
        dt = _dt(dtype)
        if affine:
            self.weight = Parameter(xp.ones((num_channels,), dtype=dt))
            self.bias = Parameter(xp.zeros((num_channels,), dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self) -> None:
        """Weight to 1 and bias to 0."""
        if self.weight is not None:
            self.weight._array[...] = 1
            self.bias._array[...] = 0

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - torch's name
        """Normalise ``input`` (N, C, *); returns a tensor of the same shape."""
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm({self.num_groups}, {self.num_channels}): expected input "
                f"(N, {self.num_channels}, *), got {tuple(input.shape)}"
            )
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """Its settings for the repr: groups, channels, eps, affine."""
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


class _InstanceNorm(Module):
    """Shared code of the InstanceNorm layers (PyTorch's defaults: no affine, no running stats)."""

    _rank = 0

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dt = _dt(dtype)
        if affine:
            self.weight = Parameter(xp.ones(num_features, dtype=dt))
            self.bias = Parameter(xp.zeros(num_features, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", _wrap(xp.zeros(num_features, dtype=dt)))
            self.register_buffer("running_var", _wrap(xp.ones(num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", _wrap(xp.zeros((), dtype=xp.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        if x.ndim not in (self._rank, self._rank + 1):
            raise ValueError(
                f"{name}: expected a {self._rank}-D (N, C, ...) or {self._rank - 1}-D unbatched "
                f"input, got shape {tuple(x.shape)}"
            )
        batched = x.ndim == self._rank
        xb = x if batched else x.unsqueeze(0)
        if xb.shape[1] != self.num_features:
            raise ValueError(
                f"{name}: expected {self.num_features} channels, got input of shape "
                f"{tuple(x.shape)}"
            )
        use_input_stats = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            self.num_batches_tracked._array += 1
        y = instance_norm(
            xb,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            use_input_stats,
            self.momentum,
            self.eps,
        )
        return y if batched else y.squeeze(0)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class InstanceNorm1d(_InstanceNorm):
    """Normalise each channel of each sample of ``(N, C, L)`` over L."""

    _rank = 3


class InstanceNorm2d(_InstanceNorm):
    """Normalise each channel of each sample of ``(N, C, H, W)`` over (H, W)."""

    _rank = 4
