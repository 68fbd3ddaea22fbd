"""tapegrad: a from-scratch deep-learning framework on NumPy.

Reverse-mode automatic differentiation (first and higher order), neural-network
layers, optimizers, data loading and a GAN toolkit, with PyTorch's names where a
concept is the same.
"""

from . import autograd, backend, cuda, random
from .autograd import enable_grad, grad, inference_mode, no_grad, set_grad_enabled
from .autograd.function import Function
from .creation import (
    arange,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .devices import device
from .dtypes import (
    bool_,
    double,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    uint8,
)
from .ops.activation import *  # noqa: F403
from .ops.compare import *  # noqa: F403
from .ops.conv import *  # noqa: F403
from .ops.conversion import *  # noqa: F403
from .ops.dropout import *  # noqa: F403
from .ops.elementwise import *  # noqa: F403
from .ops.indexing import *  # noqa: F403
from .ops.linalg import *  # noqa: F403
from .ops.loss import *  # noqa: F403
from .ops.padding import *  # noqa: F403
from .ops.rearrange import *  # noqa: F403
from .ops.reduce import *  # noqa: F403
from .ops.scan import *  # noqa: F403
from .ops.shape import *  # noqa: F403
from .ops.softmax import *  # noqa: F403
from .ops.sorting import *  # noqa: F403
from .ops.unary import *  # noqa: F403
from .random import Generator, get_rng_state, manual_seed, set_rng_state
from .serialization import load, save
from .tensor import Tensor, as_tensor, is_tensor
from .tensor_methods import attach as _attach_tensor_methods

_attach_tensor_methods()

float = float32  # noqa: A001 - torch.float is float32
bool = bool_  # noqa: A001 - torch.bool

__version__ = "0.1.0"

# Subpackages, after the core names they build on.
from . import data, distributed, gan, linalg, nn, optim, utils  # noqa: E402
from .ops.norm import *  # noqa: E402, F403
from .utils import data as _utils_data  # noqa: E402, F401 - tapegrad.utils.data
from .utils import hooks as _utils_hooks  # noqa: E402, F401
