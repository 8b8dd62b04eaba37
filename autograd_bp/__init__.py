"""autograd_bp: a scalar reverse-mode autodiff engine that shows why each gradient is what it is.

Example:
    >>> from autograd_bp import Value
    >>> w, x = Value(0.4, label="w"), Value(0.5, label="x")
    >>> y = (w * x).sigmoid()
    >>> y.backward()
    >>> round(w.grad, 6)
    0.123758
"""

from .compiled import compile
from .core.engine import Value, backward_order, dot, grad, is_grad_enabled, no_grad, sum_values
from .core.ops import DomainError
from .lang.expr import ExpressionError, parse, variables

__version__ = "0.1.0"

__all__ = [
    "DomainError",
    "ExpressionError",
    "Value",
    "__version__",
    "backward_order",
    "compile",
    "dot",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "parse",
    "sum_values",
    "variables",
]
