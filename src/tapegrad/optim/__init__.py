"""Optimizers and learning-rate schedulers, with PyTorch's names and update rules.

- :class:`Optimizer`: base class (parameter groups, state, state dicts).
- :class:`SGD`, :class:`Adam`, :class:`AdamW`, :class:`RMSprop`, :class:`Adagrad`.
- :mod:`tapegrad.optim.lr_scheduler`: ``StepLR``, ``MultiStepLR``, ``ExponentialLR``,
  ``CosineAnnealingLR``, ``LinearLR``, ``LambdaLR``.

Parameters are any floating-point leaf Tensors; updates happen in place on
``p._array`` from ``p.grad._array`` and record no graph.
"""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
