import os
import sys
from pathlib import Path

# One BLAS thread for the suite: results do not depend on it, and on a busy
# 2-core machine two threads make tiny products 10-100 times slower.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import pytest  # noqa: E402
import torch  # noqa: E402

import tapegrad as tg  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    """Each test starts from the same tapegrad RNG state and with grad mode on."""
    tg.manual_seed(0)
    yield
    tg.autograd.grad_mode.state.enabled = True
    tg.autograd.grad_mode.state.anomaly = False
