"""Drop-in for code written against micrograd's or microgpt's ``Value``.

micrograd builds a node as ``Value(data, (a, b), '+')`` and sets ``out._backward`` to a
closure that adds into the parents' ``.grad``; it reads the graph through ``_prev`` (a set)
and ``_op``. Karpathy's microgpt builds ``Value(data, children, local_grads)`` and reads
``_children`` and ``_local_grads``. Our nodes keep parents beside their local derivatives,
so a microgpt node is an ordinary node; a micrograd node keeps its children with unknown
locals (:class:`~autograd_bp.core.walk.ClosureEdges`) and ``backward`` calls its closure in
reverse topological order. This module holds the parts of ``Value`` that speak those dialects.

Example:
    >>> from autograd_bp import Value
    >>> a = Value(3.0)
    >>> out = Value(a.data ** 2, (a,), "sq")
    >>> def _backward():
    ...     a.grad += 2 * a.data * out.grad
    >>> out._backward = _backward
    >>> (out * 2).backward(); a.grad
    12.0
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .grad_mode import to_float
from .rules import RULES
from .walk import VARIADIC, ClosureEdges, flat_edges, has_closure

if TYPE_CHECKING:
    from .engine import Value

__all__ = ["backward_closure", "edges_from", "set_backward_closure", "symbol_of"]

Edges = tuple[str, Any, Any, Any, Any]  # (op, _a, _da, _b, _db)


def edges_from(children: Any, op_or_locals: Any, value_type: type) -> Edges:
    """A node's op and edge slots from micrograd's ``(children, op)`` or microgpt's
    ``(children, local_grads)``; a TypeError or ValueError names what is wrong.

    Example:
        >>> from autograd_bp import Value
        >>> a = Value(1.0)
        >>> edges_from((a, a), (1, 1), Value)[2:]
        (1.0, Value(data=1.0, grad=0.0), 1.0)
    """
    kids = tuple(children)
    for i, kid in enumerate(kids):
        if type(kid) is not value_type:
            raise TypeError(f"Value: _children[{i}] must be a Value, got "
                            f"{type(kid).__name__} {kid!r}")  # fmt: skip
    if isinstance(op_or_locals, str):  # micrograd: the closure set later does the backward
        if not kids:
            return ("", None, None, None, None)
        flat = ClosureEdges(x for kid in kids for x in (kid, None))
        return (op_or_locals, VARIADIC, flat, None, None)
    if not isinstance(op_or_locals, (tuple, list)):
        raise TypeError("Value: the third argument is micrograd's _op (a str) or microgpt's "
                        f"local_grads (a tuple), got {type(op_or_locals).__name__}")  # fmt: skip
    locals_: list[Any] = [to_float(d, f"Value: local_grads[{i}]")
                          for i, d in enumerate(op_or_locals)]  # fmt: skip
    if len(locals_) != len(kids):
        raise ValueError(f"Value: {len(kids)} children but {len(locals_)} local_grads")
    if len(kids) <= 2:
        kids, locals_ = kids + (None,) * (2 - len(kids)), locals_ + [None] * (2 - len(locals_))
        return ("", kids[0], locals_[0], kids[1], locals_[1])
    return ("", VARIADIC, tuple(x for pair in zip(kids, locals_) for x in pair), None, None)


def backward_closure(node: Value) -> Callable[[], None]:
    """``node._backward`` as micrograd has it: hands ``node.grad`` to the parents once.

    For a micrograd-style node, the closure its maker set (a no-op until then, as in
    micrograd); for any other node, ``parent.grad += local * node.grad`` for each edge.

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(3.0); y = x * x; y.grad = 1.0
        >>> y._backward(); x.grad
        6.0
    """
    if node._a is None or has_closure(node):  # its closure, kept in _db (None until set)
        return node._db if node._db is not None else _nothing

    def _backward() -> None:
        edges, g = flat_edges(node), node.grad
        for i in range(0, len(edges), 2):
            edges[i].grad += edges[i + 1] * g

    return _backward


def set_backward_closure(node: Value, closure: Callable[[], None]) -> None:
    """Set a micrograd-style node's ``_backward``; refused on a node an op rule made.

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(1.0)
        >>> (x + 1)._backward = lambda: None  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        TypeError: Value._backward: this node was made by the op rule 'add'...
    """
    if not callable(closure):
        raise TypeError(f"Value._backward must be callable, got {type(closure).__name__}")
    if node._a is not None and not has_closure(node):
        raise TypeError(f"Value._backward: this node was made by the op rule {node.op!r}, "
                        "whose backward is its local derivatives; set _backward only on a "
                        "node made micrograd-style, Value(data, children, op)")  # fmt: skip
    node._db = closure  # on a leaf it is kept but never called: a leaf has no parents


def symbol_of(node: Value) -> str:
    """``node._op``: micrograd's op text (``'+'``, ``'*'``, ``'tanh'``); '' for a leaf.

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(1.0); (x * x)._op, x.exp()._op, x._op
        ('*', 'exp', '')
    """
    rule = None if has_closure(node) else RULES.get(node.op)
    return rule.symbol if rule is not None else node.op


def _nothing() -> None:
    """micrograd's default ``_backward``: a node nobody gave a closure passes nothing on."""
