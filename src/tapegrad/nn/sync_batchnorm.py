"""``SyncBatchNorm``: BatchNorm whose batch statistics span every rank.

Under data-parallel training each rank sees only its slice of the batch; a plain
BatchNorm layer normalises with that slice's statistics, which is a smaller batch
than the model was tuned for. ``SyncBatchNorm`` sums the per-channel count, sum
and squared deviation over all ranks (two all-reduces per layer and forward,
recorded by autograd, so the backward pass sums the matching gradient terms over
the ranks too, and double backward works), which gives exactly the statistics
of the global batch. In a group of one, or outside training, it is BatchNorm.
"""

from __future__ import annotations

from typing import Any

from ..autograd.grad_mode import no_grad
from ..distributed import functional as dist_fn
from ..distributed import get_world_size
from ..ops.shape import cat
from ..tensor import Tensor, _wrap
from .module import Module
from .normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over ``(N, C, *)`` input with statistics of the batch of all ranks.

    Arguments as :class:`~tapegrad.nn.BatchNorm1d`. Returns a tensor of the input's
    shape. Every rank must call it the same number of times per step.
    """

    _ranks = (2, 3, 4, 5)
    _layout = "(N, C, *)"

    def forward(self, input: Tensor) -> Tensor:  # noqa: A002 - torch's name
        """``(N, C, *)`` -> same shape; training statistics span every process's batch."""
        if not self.training or get_world_size() == 1:
            return super().forward(input)
        self._check_input(input)
        c = self.num_features
        axes = (0,) + tuple(range(2, input.ndim))
        shape = (1, c) + (1,) * (input.ndim - 2)
        local = _wrap(input._array.dtype.type([input._array.size // c]))
        stats = dist_fn.all_reduce(cat([input.sum(axes), local.to(input.dtype)]))
        n = float(stats._array[c])
        if n <= 1:
            raise ValueError(
                f"SyncBatchNorm: Expected more than 1 value per channel over all ranks when "
                f"training, got input of shape {tuple(input.shape)}"
            )
        mean = (stats[:c] / n).reshape(shape)
        centred = input - mean
        var = (dist_fn.all_reduce((centred * centred).sum(axes)) / n).reshape(shape)
        y = centred * (var + self.eps).rsqrt()
        if self.weight is not None:
            y = y * self.weight.reshape(shape)
        if self.bias is not None:
            y = y + self.bias.reshape(shape)
        if self.track_running_stats:
            self._update_running(mean._array.reshape(c), var._array.reshape(c), n)
        return y

    def _update_running(self, mean: Any, var: Any, n: float) -> None:
        with no_grad():
            self.num_batches_tracked._array += 1
            f = self.momentum
            if f is None:  # cumulative moving average
                f = 1.0 / float(self.num_batches_tracked._array)
            self.running_mean._array *= 1.0 - f
            self.running_mean._array += f * mean
            self.running_var._array *= 1.0 - f
            self.running_var._array += (f * n / (n - 1)) * var

    @classmethod
    def convert_sync_batchnorm(cls, module: Module) -> Module:
        """``module`` with every BatchNorm layer replaced by a SyncBatchNorm.

        Parameters and running statistics are shared with the old layers (the
        tensors move over); returns ``module`` itself, or a new SyncBatchNorm when
        ``module`` is a BatchNorm layer.
        """
        if isinstance(module, _BatchNorm) and not isinstance(module, cls):
            new = cls.__new__(cls)
            Module.__init__(new)
            for key in ("num_features", "eps", "momentum", "affine", "track_running_stats"):
                setattr(new, key, getattr(module, key))
            for name, p in module._parameters.items():
                new.register_parameter(name, p)
            for name, b in module._buffers.items():
                new.register_buffer(name, b)
            new.train(module.training)
            return new
        for name, child in list(module._modules.items()):
            if child is not None:
                new_child = cls.convert_sync_batchnorm(child)
                if new_child is not child:
                    module._modules[name] = new_child
        return module
