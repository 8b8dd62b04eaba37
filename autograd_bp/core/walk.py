"""The graph's layout, read: a node's edges and the order backward visits the nodes in.

A node (a :class:`~autograd_bp.core.engine.Value`) keeps its parents next to their local
derivatives: ``_a``/``_da`` and ``_b``/``_db``, or, for a variadic node (``sum``, ``dot``),
``_a = VARIADIC`` and a flat ``(parent0, local0, parent1, local1, ...)`` tuple in ``_da``.
This module reads that layout and nothing else (the layout and the backward order itself
are :mod:`autograd_bp.core.node`'s, where they are compiled with the node), so the engine
(``Value.backward``) and :mod:`autograd_bp.core.graph` (names, infix text) both build on it
without importing each other's way round.

Example:
    >>> from autograd_bp import Value
    >>> x = Value(3.0, label="x"); y = x * x
    >>> [n.op or n.label for n in backward_order(y)], flat_edges(y)[1::2]
    (['mul', 'x'], (3.0, 3.0))
"""

from __future__ import annotations

from typing import Any

from .node import VARIADIC, ClosureEdges, Node, backward_order

__all__ = ["VARIADIC", "ClosureEdges", "backward_order", "flat_edges", "has_closure"]


def has_closure(node: Node) -> bool:
    """Whether ``node`` was made micrograd-style and is differentiated by its ``_backward``.

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(2.0); has_closure(x * x), has_closure(Value(4.0, (x,), "sq"))
        (False, True)
    """
    return node._a is VARIADIC and type(node._da) is ClosureEdges


def flat_edges(node: Node) -> tuple[Any, ...]:
    """(parent0, local0, parent1, local1, ...) for any node; () for a leaf.

    Example:
        >>> from autograd_bp import Value
        >>> a = Value(2.0); flat_edges(a * 5)
        (Value(data=2.0, grad=0.0), 5.0)
    """
    a = node._a
    if a is None:
        return ()
    if a is VARIADIC:
        return node._da
    b, da = node._b, node._da
    if da is None:  # the locals are the node's own numbers (node.py: _ga, _gb)
        return (a, node._ga) if b is None else (a, node._ga, b, node._gb)
    return (a, da) if b is None else (a, da, b, node._db)
