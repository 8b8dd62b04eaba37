"""The engine and nothing else — what micrograd is: ``Value`` and ``backward``, the op table
(``Rule``, ``RULES``, ``register``), the chain rule and ``grad``, ``no_grad``, graph names.

Example:
    >>> from autograd_bp.core import Value
    >>> y = Value(2.0) * Value(3.0)
    >>> y.backward(); y.data
    6.0
"""

from .engine import Number, Value, dot, logsumexp, sum_values
from .grad_mode import gc_paused, is_grad_enabled, no_grad, to_float
from .graph import (
    MAX_INLINE,
    PLACEHOLDERS,
    Naming,
    edges,
    evaluate_formula,
    format_number,
    formula_tree,
    infix,
    names,
    product_terms,
    reaching,
    substitute,
    uses,
)
from .ops import BLOCKED, RULES, DomainError, Rule, data_of, register
from .walk import VARIADIC, backward_order, chain_rule, flat_edges, grad, propagate

__all__ = [
    "BLOCKED",
    "DomainError",
    "MAX_INLINE",
    "Naming",
    "Number",
    "PLACEHOLDERS",
    "RULES",
    "Rule",
    "VARIADIC",
    "Value",
    "backward_order",
    "chain_rule",
    "data_of",
    "dot",
    "edges",
    "evaluate_formula",
    "flat_edges",
    "format_number",
    "formula_tree",
    "gc_paused",
    "grad",
    "infix",
    "is_grad_enabled",
    "logsumexp",
    "names",
    "no_grad",
    "product_terms",
    "propagate",
    "reaching",
    "register",
    "substitute",
    "sum_values",
    "to_float",
    "uses",
]
