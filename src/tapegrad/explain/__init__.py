"""``tapegrad.explain``: GAN health records, a live run report and TensorBoard files."""

from .health import HealthThresholds, check_alarms, coverage, grad_norm, health_record
from .observer import RunObserver
from .report import build_report
from .tensorboard import TensorBoardWriter
