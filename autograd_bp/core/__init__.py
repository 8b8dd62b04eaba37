"""The engine and nothing else — what micrograd is: ``Value`` and ``backward`` (engine.py), the
op table (``Rule``, ``RULES`` in rules.py; ``register`` in ops.py; the numbers in numerics.py),
the graph's layout (walk.py), the chain rule and ``grad``, ``no_grad`` (grad_mode.py), graph
names (graph.py). Imports within core point one way: numerics < rules < walk < graph <
engine < ops.

Example:
    >>> from autograd_bp.core import Value
    >>> y = Value(2.0) * Value(3.0)
    >>> y.backward(); y.data
    6.0
"""

from .engine import (
    Number,
    Value,
    chain_rule,
    dot,
    grad,
    logsumexp,
    propagate,
    sum_values,
)
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
from .ops import (
    BLOCKED,
    RESERVED_FUNCTION_NAMES,
    RULES,
    DomainError,
    Rule,
    apply,
    data_of,
    methods_for,
    probe,
    register,
)
from .walk import VARIADIC, backward_order, flat_edges

__all__ = [
    "BLOCKED",
    "DomainError",
    "MAX_INLINE",
    "Naming",
    "Number",
    "PLACEHOLDERS",
    "RESERVED_FUNCTION_NAMES",
    "RULES",
    "Rule",
    "VARIADIC",
    "Value",
    "apply",
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
    "methods_for",
    "names",
    "no_grad",
    "probe",
    "product_terms",
    "propagate",
    "reaching",
    "register",
    "substitute",
    "sum_values",
    "to_float",
    "uses",
]
