"""The engine and nothing else — what micrograd is: ``Value`` and ``backward`` (engine.py), the
op table (``Rule``, ``RULES`` in rules.py; ``register`` in ops.py; the numbers in numerics.py),
the graph's layout (walk.py), the chain rule and ``grad``, ``no_grad`` (grad_mode.py), graph
names (graph.py). Imports within core point one way: numerics < rules < walk < graph <
engine < ops.

Installed with a C compiler at hand, the node (node.py: its fields, the op table's methods,
the backward order and the chain rule) is also compiled by mypyc from the same source;
``COMPILED`` says whether the compiled module runs. ``AUTOGRAD_BP_PURE=1`` in the
environment makes the package run the Python source anyway.

Example:
    >>> from autograd_bp.core import Value
    >>> y = Value(2.0) * Value(3.0)
    >>> y.backward(); y.data
    6.0
"""

import importlib.machinery as _machinery
import os as _os
import sys as _sys

if _os.environ.get("AUTOGRAD_BP_PURE", "") not in ("", "0"):
    # The import system asks this directory's finder for node.py; one that knows only
    # source and bytecode files never sees the compiled extension module beside it.
    _sys.path_importer_cache[_os.path.dirname(__file__)] = _machinery.FileFinder(
        _os.path.dirname(__file__),
        (_machinery.SourceFileLoader, _machinery.SOURCE_SUFFIXES),
        (_machinery.SourcelessFileLoader, _machinery.BYTECODE_SUFFIXES),
    )

from .engine import (  # noqa: E402 - after the choice of source above
    Number,
    Value,
    chain_rule,
    dot,
    grad,
    logsumexp,
    propagate,
    sum_values,
)
from .grad_mode import gc_paused, is_grad_enabled, no_grad, to_float  # noqa: E402
from .graph import (  # noqa: E402
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
from .node import COMPILED  # noqa: E402
from .ops import (  # noqa: E402
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
from .walk import VARIADIC, backward_order, flat_edges  # noqa: E402

__all__ = [
    "BLOCKED",
    "COMPILED",
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
