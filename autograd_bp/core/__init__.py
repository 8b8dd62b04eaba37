"""The engine and nothing else — what micrograd is: ``Value`` and ``backward`` (engine.py), the
op table (``Rule``, ``RULES`` in rules.py; ``register`` in ops.py; the numbers in numerics.py),
the graph's layout (walk.py), the chain rule and ``grad``, ``no_grad`` (grad_mode.py), graph
names (graph.py). Imports within core point one way: numerics < rules < grad_mode < node
< methods, walk < graph < engine < ops.

Installed with a C compiler at hand, the node (node.py: its fields, the op table's methods,
the backward order and the chain rule) is also compiled by mypyc from the same source;
``COMPILED`` says whether the compiled module runs. ``AUTOGRAD_BP_PURE=1`` in the
environment makes the package run the Python source anyway, as does (with a warning) a
node.py edited since the build (its digest differs from the one compiled in).

Example:
    >>> from autograd_bp.core import Value
    >>> y = Value(2.0) * Value(3.0)
    >>> y.backward(); y.data
    6.0
"""

import importlib.machinery as _machinery
import os as _os
import sys as _sys
import warnings as _warnings


def _run_the_source() -> None:
    """Make ``import autograd_bp.core.node`` load node.py even beside a compiled module: the
    import system asks this directory's finder, and this one knows only source files."""
    here = _os.path.dirname(__file__)
    _sys.path_importer_cache[here] = _machinery.FileFinder(
        here,
        (_machinery.SourceFileLoader, _machinery.SOURCE_SUFFIXES),
        (_machinery.SourcelessFileLoader, _machinery.BYTECODE_SUFFIXES),
    )
    _sys.modules.pop(__name__ + ".node", None)


def _built_from_other_source() -> bool:
    from . import node

    if not node.COMPILED:
        return False
    with open(_os.path.join(_os.path.dirname(__file__), "node.py"), encoding="utf-8") as f:
        text = f.read()
    digest = getattr(node, "source_digest", None)  # None: built before digests were kept
    stale = digest is None or digest(text) != node.SOURCE_DIGEST
    if stale:
        _warnings.warn("autograd_bp: core/node.py was edited after its compiled module was "
                       "built, so the Python source runs; rebuild with `pip install -e .`",
                       RuntimeWarning, stacklevel=2)  # fmt: skip
    return stale


if _os.environ.get("AUTOGRAD_BP_PURE", "") not in ("", "0") or _built_from_other_source():
    _run_the_source()

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
