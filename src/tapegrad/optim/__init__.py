"""Optimizers and learning-rate schedulers, with PyTorch's names and update rules.

- :class:`Optimizer`: base class (parameter groups, state, state dicts).
- :class:`SGD`, :class:`Adam`, :class:`AdamW`, :class:`RMSprop`, :class:`Adagrad`,
  :class:`Adadelta`, :class:`Adamax`, :class:`NAdam`, :class:`RAdam`, :class:`ASGD`,
  :class:`LBFGS`.
- :mod:`tapegrad.optim.lr_scheduler`: ``StepLR``, ``MultiStepLR``, ``ExponentialLR``,
  ``CosineAnnealingLR``, ``LinearLR``, ``LambdaLR``.

Parameters are any floating-point leaf Tensors; updates happen in place on
``p._array`` from ``p.grad._array`` and record no graph.
"""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam, RAdam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "ASGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "LBFGS",
    "NAdam",
    "Optimizer",
    "RAdam",
    "RMSprop",
    "SGD",
    "lr_scheduler",
]
