"""``tapegrad.nn``: modules, layers, losses, initialisers and utilities, with PyTorch's names."""

from . import functional, init, utils
from .activation import *  # noqa: F403
from .containers import *  # noqa: F403
from .conv import *  # noqa: F403
from .dropout import *  # noqa: F403
from .embedding import Embedding
from .flatten import *  # noqa: F403
from .linear import *  # noqa: F403
from .loss import *  # noqa: F403
from .module import Module
from .parameter import Parameter
from .pooling import *  # noqa: F403

# --- Normalisation and recurrent layers (H5b's files; H5b may edit this block) ---
# isort: split
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

# --- end of block ---

# Data-parallel training (MPI).
# isort: split
from . import parallel
from .sync_batchnorm import SyncBatchNorm
