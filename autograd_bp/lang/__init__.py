"""Text in, text out: the safe expression language and the SymPy bridge.

Example:
    >>> from autograd_bp.lang import parse
    >>> parse("x*y", x=2.0, y=3.0).data
    6.0
"""

from .expr import (
    CONSTANTS,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    OPERATORS,
    ExpressionError,
    check_values,
    output_name,
    parse,
    variables,
)
from .symbolic import derivative, sympy_module, to_sympy

__all__ = [
    "CONSTANTS",
    "ExpressionError",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "OPERATORS",
    "check_values",
    "derivative",
    "output_name",
    "parse",
    "sympy_module",
    "to_sympy",
    "variables",
]
