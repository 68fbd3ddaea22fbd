import sys
from pathlib import Path

import pytest

import tapegrad as tg

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _seed():
    """Each test starts from the same tapegrad RNG state and with grad mode on."""
    tg.manual_seed(0)
    yield
    tg.autograd.grad_mode.state.enabled = True
    tg.autograd.grad_mode.state.anomaly = False
