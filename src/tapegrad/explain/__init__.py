"""Make backpropagation visible.

- :func:`trace`: the chain rule behind a scalar, step by step, with every leaf
  gradient checked against autograd and finite differences.
- :func:`recording`: build a graph that keeps every forward value.
- :func:`to_dot`, :func:`to_mermaid`, :func:`render`: the graph as Graphviz DOT,
  as a Mermaid flowchart, or drawn to SVG/PNG.
- :class:`GradientMonitor`: per-layer gradient norms and update-to-weight ratios
  during training, with vanishing/exploding warnings and a plot.
- :mod:`tapegrad.explain.worked`: the worked examples printed by ``tapegrad explain``.
"""

from .export import render, to_dot, to_mermaid
from .graph import recording
from .monitor import GradientMonitor, GradientWarning
from .trace import Trace, trace

__all__ = [
    "GradientMonitor",
    "GradientWarning",
    "Trace",
    "recording",
    "render",
    "to_dot",
    "to_mermaid",
    "trace",
]
