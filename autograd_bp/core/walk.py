"""The graph's layout, read: a node's edges and the order backward visits the nodes in.

A node (a :class:`~autograd_bp.core.engine.Value`) keeps its parents next to their local
derivatives: ``_a``/``_da`` and ``_b``/``_db``, or, for a variadic node (``sum``, ``dot``),
``_a = VARIADIC`` and a flat ``(parent0, local0, parent1, local1, ...)`` tuple in ``_da``.
This module reads that layout and nothing else, so it imports nothing of the package: the
engine (``Value.backward``) and :mod:`autograd_bp.core.graph` (names, infix text) both build
on it without importing each other's way round.

Example:
    >>> from autograd_bp import Value
    >>> x = Value(3.0, label="x"); y = x * x
    >>> [n.op or n.label for n in backward_order(y)], flat_edges(y)[1::2]
    (['mul', 'x'], (3.0, 3.0))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Value

__all__ = ["VARIADIC", "ClosureEdges", "backward_order", "flat_edges", "has_closure"]

VARIADIC = object()  # in a node's _a: its edges are a flat tuple in _da


class ClosureEdges(tuple):
    """A variadic node's edges whose local derivatives are unknown (each None): the node was
    made micrograd-style, ``Value(data, (a, b), '+')``, and its ``_backward`` closure, not the
    chain rule on stored locals, hands its gradient to its parents.

    Example:
        >>> ClosureEdges(("a", None))[0::2]
        ('a',)
    """

    __slots__ = ()


def has_closure(node: Value) -> bool:
    """Whether ``node`` was made micrograd-style and is differentiated by its ``_backward``.

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(2.0); has_closure(x * x), has_closure(Value(4.0, (x,), "sq"))
        (False, True)
    """
    return node._a is VARIADIC and type(node._da) is ClosureEdges


def flat_edges(node: Value) -> tuple[Any, ...]:
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
    if node._b is None:
        return (a, node._da)
    return (a, node._da, node._b, node._db)


def backward_order(root: Value) -> list[Value]:
    """Every node reachable from ``root``, each after all of its consumers (root first).

    Iterative depth-first search: no recursion, so a 10^6-deep chain is fine.

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(1.0, label="x"); y = (x * 2).exp()
        >>> [n.op or n.label for n in backward_order(y)]
        ['exp', 'mul', 'x']
    """
    if not hasattr(root, "_a"):
        raise TypeError(f"expected a Value, got {type(root).__name__} {root!r}")
    order: list[Value] = []
    visited: set[Value] = set()
    stack: list[Any] = [root]
    # Bound methods and descending straight into a node's first parent (no push and pop of
    # it): the walk alone 1.32x faster on a 10^5-step chain, 1.11x on a 2*10^4-op random DAG
    # (interleaved A/B against the previous loop, collector off).
    push, pop, mark, done = stack.append, stack.pop, visited.add, order.append
    while stack:
        node = pop()
        if node is None:  # marker: every parent of the node below it is done
            done(pop())
            continue
        while node not in visited:
            mark(node)
            a = node._a
            if a is None:  # a leaf is done at once: no marker round trip
                done(node)
                break
            push(node)
            push(None)
            if a is VARIADIC:
                stack += [p for p in node._da[0::2] if p not in visited]
                break
            b = node._b
            if b is not None and b not in visited:
                push(b)  # done after a's subgraph (a stack: last in, first out)
            node = a
    order.reverse()  # post-order lists parents first; backward wants consumers first
    return order
