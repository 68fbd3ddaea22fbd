"""``tapegrad.gan``: GAN models, losses and regularisers, and evaluation metrics."""

from .losses import *  # noqa: F403
from .models import *  # noqa: F403

# isort: split
# --- G3: trainer and run folders (G3 may edit this block) ---
from . import runs
from .config import RunConfig
from .trainer import Trainer, TrainingDiverged

# --- end of block ---

# isort: split
# --- G2: metrics subpackage (G2 may edit this block) ---
from . import metrics
# --- end of block ---
