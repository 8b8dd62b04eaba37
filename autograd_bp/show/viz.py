"""Graph diagrams with Graphviz, under one name (the modules that hold them:
:mod:`~autograd_bp.show.diagrams` the computation graph, :mod:`~autograd_bp.show.steps` the
backward pass step by step, :mod:`~autograd_bp.show.network` the neuron-level figure,
:mod:`~autograd_bp.show.graphviz_bounds` the size guard and time bound every picture passes).

Example:
    >>> from autograd_bp import Value
    >>> x = Value(2.0, label="x"); y = (x * 3).tanh(); y.label = "y"
    >>> draw_dot(y).source.count("shape=record")
    3
"""

from .diagrams import COLORS, FINAL, HIGHLIGHT, RENDER_LIMIT, StepStyle, draw_dot, pipe, render
from .graphviz_bounds import (
    DOT_TIMEOUT,
    DRAW_LIMIT,
    DrawingTooLarge,
    GraphvizNotFound,
    GraphvizTimeout,
    check_drawable,
    layout_size,
)
from .network import draw_network, render_network
from .steps import Step, backward_steps, expression_lines, render_steps

__all__ = ["COLORS", "DOT_TIMEOUT", "DRAW_LIMIT", "DrawingTooLarge", "FINAL", "GraphvizNotFound",
           "GraphvizTimeout", "HIGHLIGHT", "RENDER_LIMIT", "Step", "StepStyle", "backward_steps",
           "check_drawable", "draw_dot", "draw_network", "expression_lines", "layout_size",
           "pipe", "render", "render_network", "render_steps"]  # fmt: skip
