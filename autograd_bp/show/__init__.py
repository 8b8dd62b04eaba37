"""Why a gradient is what it is: the chain-rule explanations and the Graphviz diagrams.

Example:
    >>> from autograd_bp.show import explain
    >>> callable(explain)
    True
"""

from .explain import (
    Explanation,
    Factor,
    Local,
    NodeStep,
    PathTerm,
    explain,
    explain_nodes,
    latex_name,
)
from .viz import (
    DOT_TIMEOUT,
    DRAW_LIMIT,
    RENDER_LIMIT,
    DrawingTooLarge,
    GraphvizNotFound,
    GraphvizTimeout,
    Step,
    backward_steps,
    draw_dot,
    draw_network,
    expression_lines,
    pipe,
    render,
    render_network,
    render_steps,
)

__all__ = [
    "DOT_TIMEOUT",
    "DRAW_LIMIT",
    "DrawingTooLarge",
    "Explanation",
    "Factor",
    "GraphvizNotFound",
    "GraphvizTimeout",
    "Local",
    "NodeStep",
    "PathTerm",
    "RENDER_LIMIT",
    "Step",
    "backward_steps",
    "draw_dot",
    "draw_network",
    "explain",
    "explain_nodes",
    "expression_lines",
    "latex_name",
    "pipe",
    "render",
    "render_network",
    "render_steps",
]
