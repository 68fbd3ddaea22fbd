"""Make backpropagation visible.

- :func:`trace`: the chain rule behind a scalar, step by step, with every leaf
  gradient checked against autograd and finite differences.
- :func:`recording`: build a graph that keeps every forward value.
- :func:`to_dot`, :func:`to_mermaid`, :func:`render`: the graph as Graphviz DOT,
  as a Mermaid flowchart, or drawn to SVG/PNG.
- :class:`GradientMonitor`: per-layer gradient norms and update-to-weight ratios
  during training, with vanishing/exploding warnings and a plot.
- :mod:`tapegrad.explain.worked`: the worked examples printed by ``tapegrad explain``.
- :class:`RunObserver`, :func:`health_record`, :func:`check_alarms`: GAN health
  during training (D(x), D(G(z)), gradient norms, coverage) and its alarms.
- :func:`build_report`: a run folder's self-contained ``report.html``.
- :class:`TensorBoardWriter`: the same scalars and images as TensorBoard files.
"""

from .export import render, to_dot, to_mermaid
from .graph import recording
from .health import HealthThresholds, check_alarms, coverage, grad_norm, health_record
from .monitor import GradientMonitor, GradientWarning
from .observer import RunObserver
from .report import build_report
from .tensorboard import TensorBoardWriter
from .trace import Trace, trace

__all__ = [
    "GradientMonitor",
    "HealthThresholds",
    "RunObserver",
    "TensorBoardWriter",
    "build_report",
    "check_alarms",
    "coverage",
    "grad_norm",
    "health_record",
    "GradientWarning",
    "Trace",
    "recording",
    "render",
    "to_dot",
    "to_mermaid",
    "trace",
]
