"""Walking the graph: the order and the chain rule, shared by every reader of a graph.

A node (a :class:`~autograd_bp.core.engine.Value`) keeps its parents next to their local
derivatives: ``_a``/``_da`` and ``_b``/``_db``, or, for a variadic node (``sum``, ``dot``),
``_a = VARIADIC`` and a flat ``(parent0, local0, parent1, local1, ...)`` tuple in ``_da``.
This module reads that layout and nothing else, so it needs no import of the engine: the
engine imports it (``backward``), and so do the trace, the diagrams and the tape;
:mod:`autograd_bp.core.graph` builds names and text on top of it.

Example:
    >>> from autograd_bp import Value
    >>> x = Value(3.0, label="x"); y = x * x
    >>> [n.op or n.label for n in backward_order(y)], chain_rule(y)[x]
    (['mul', 'x'], 6.0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .ops import RULES

if TYPE_CHECKING:
    from .engine import Value

__all__ = ["VARIADIC", "backward_order", "chain_rule", "flat_edges", "grad", "propagate"]

VARIADIC = object()  # in a node's _a: its edges are a flat tuple in _da


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
    while stack:
        node = stack.pop()
        if node is None:  # marker: every parent of the node below it is done
            order.append(stack.pop())
            continue
        if node in visited:
            continue
        visited.add(node)
        a = node._a
        if a is None:  # a leaf is done at once: no marker round trip
            order.append(node)
            continue
        stack.append(node)  # two appends, not ``+= (node, None)``: 15 % faster on a chain
        stack.append(None)
        if a is VARIADIC:
            stack += [p for p in node._da[0::2] if p not in visited]
            continue
        b = node._b
        if b is not None and b not in visited:
            stack.append(b)
        if a not in visited:
            stack.append(a)
    order.reverse()  # post-order lists parents first; backward wants consumers first
    return order


def propagate(order: list[Value]) -> None:
    """The chain rule in place on ``.grad``: each node hands grad × local to each parent.

    ``Value.backward``'s own copy of :func:`chain_rule`, specialised: on a 10^5-node chain it takes
    22 ms where the dictionary-based walker takes 60 ms plus 19 ms to write ``.grad`` back.
    """
    for node in order:
        a = node._a
        if a is None:
            continue
        g = node.grad
        if a is VARIADIC:
            edges = node._da
            for i in range(0, len(edges), 2):
                edges[i].grad += edges[i + 1] * g
            continue
        a.grad += node._da * g
        b = node._b
        if b is not None:
            b.grad += node._db * g


Visit = Callable[["Value", int, "Value", Any, Any, Any], None]


def chain_rule(
    output: Value,
    seed: Any = 1.0,
    *,
    order: list[Value] | None = None,
    create_graph: bool = False,
    visit: Visit | None = None,
) -> dict[Value, Any]:
    """∂output/∂node for every node below ``output``, leaving every ``.grad`` untouched.

    The one gradient walker of every reader of the graph (``grad``, the chain-rule trace, the
    step-through pages): in backward order, each node hands ``local × upstream`` (its own
    gradient) to each parent. ``visit(node, slot, parent, local, upstream, before)`` sees
    every term just before it is added to ``before``, the parent's gradient so far (None for
    its first term); ``slot`` tells apart the two operands of ``x * x``. With
    ``create_graph`` the locals and gradients are Values, built from the same rules, so they
    can be differentiated again.

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(3.0, label="x"); y = x * x
        >>> seen = []
        >>> grads = chain_rule(y, visit=lambda n, k, p, d, g, before: seen.append((k, before)))
        >>> grads[x], seen
        (6.0, [(0, None), (1, 3.0)])
    """
    order = backward_order(output) if order is None else order
    grads: dict[Value, Any] = {output: seed}
    for node in order:
        g = grads.get(node)
        if g is None or node._a is None:
            continue
        locals_ = _symbolic_locals(node) if create_graph else node.local_grads
        for slot, (parent, local) in enumerate(zip(node.parents, locals_)):
            before = grads.get(parent)
            if visit is not None:
                visit(node, slot, parent, local, g, before)
            grads[parent] = local * g if before is None else before + local * g
    return grads


def grad(
    output: Value, inputs: Value | Sequence[Value], create_graph: bool = False
) -> tuple[Any, ...]:
    """∂output/∂x for each x in ``inputs`` (one Value or a sequence), leaving ``.grad`` alone.

    With ``create_graph=True`` the results are Values with a graph of their own (built from
    the same op rules), so they can be differentiated again.

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(3.0)
        >>> (dy,) = grad(x ** 3, x, create_graph=True)
        >>> (d2y,) = grad(dy, [x])
        >>> dy.data, d2y
        (27.0, 18.0)
    """
    if not hasattr(output, "_a"):
        raise TypeError(f"grad: output must be a Value, got {type(output).__name__} {output!r}")
    node = type(output)  # the engine's Value, without importing the engine
    wrt = [inputs] if type(inputs) is node else list(inputs)  # type: ignore[arg-type]
    for i, x in enumerate(wrt):
        if type(x) is not node:
            raise TypeError(f"grad: inputs[{i}] must be a Value, got {type(x).__name__} {x!r}")
    grads = chain_rule(output, node(1.0) if create_graph else 1.0, create_graph=create_graph)
    zero: Any = node(0.0) if create_graph else 0.0
    return tuple(grads.get(x, zero) for x in wrt)


def _symbolic_locals(node: Value) -> list[Any]:
    """The node's local derivatives as Values, from the same rule that computed the floats."""
    rule = RULES[node.op]
    args = node.operands
    if rule.variadic:
        locals_ = rule.local(args, node, None)
    else:
        locals_ = rule.local(*args, node, node.param)
    return [d for a, d in zip(args, locals_) if type(a) is not float]  # constants have no edge
