"""The graph machinery: :class:`Value`, ``backward``, ``grad``, ``no_grad``.

What each op computes lives in :mod:`autograd_bp.ops`; this module only records the graph
and walks it. A node keeps each parent next to the local derivative for it, filled in at
forward time, so the whole backward pass is ``parent.grad += local * node.grad`` in reverse
topological order.

Example:
    >>> from autograd_bp import Value
    >>> x = Value(2.0, label="x")
    >>> y = x * x + x
    >>> y.backward()
    >>> x.grad
    5.0
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import numpy as np

from .ops import RULES, Rule

__all__ = [
    "Value",
    "Number",
    "backward_order",
    "dot",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "sum_values",
]

Number = int | float

_GRAD_ENABLED: ContextVar[bool] = ContextVar("autograd_bp_grad_enabled", default=True)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a block, restoring its state even on errors.

    The speed trick of this package, in one place: graphs are freed by reference counting
    anyway, and the collector scanning the many objects a graph walk or a training step
    allocates costs up to half their time. Safe because nothing here creates cycles.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Inside this block ops compute values but record no parents (like ``torch.no_grad``).

    Per thread and per asyncio task (a ``ContextVar``); usable as a decorator too.

    Example:
        >>> from autograd_bp import Value, no_grad
        >>> w = Value(1.0)
        >>> with no_grad():
        ...     v = w * 3
        >>> v.parents
        ()
    """
    token = _GRAD_ENABLED.set(False)
    try:
        yield
    finally:
        _GRAD_ENABLED.reset(token)


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph (False inside :func:`no_grad`).

    Example:
        >>> is_grad_enabled()
        True
    """
    return _GRAD_ENABLED.get()


def _as_float(x: Any, where: str) -> float:
    """Accept int, float and numpy real scalars; reject bool, complex, str, None, ..."""
    t = type(x)
    if t is float:
        return x
    if t is bool or isinstance(x, np.bool_):
        raise TypeError(f"{where}: expected a real number, got bool {x!r}")
    if isinstance(x, (int, np.integer, np.floating)):
        return float(x)
    raise TypeError(f"{where}: expected a real number (int or float), got {t.__name__} {x!r}")


class Value:
    """A scalar that remembers how it was computed.

    ``data`` is the number, ``grad`` the accumulated ∂(root)/∂(this) after ``backward``,
    ``op`` the name of the rule that made it ("" for a leaf), ``parents`` its operands.

    Example:
        >>> a, b = Value(3.0, label="a"), Value(4.0, label="b")
        >>> c = (a * b).tanh()
        >>> c.op, [p.op for p in c.parents]
        ('tanh', ['mul'])
    """

    # The parents live in the node itself (_a/_da, _b/_db), not in a tuple: one object
    # per node instead of two halves the work of Python's cyclic garbage collector, which
    # dominates graph building; a node costs about 130 bytes. n-ary nodes set _a = _MANY
    # and keep a flat (parent0, local0, parent1, local1, ...) tuple in _da.
    __slots__ = ("data", "grad", "label", "op", "_ctx", "_a", "_da", "_b", "_db")
    # Make numpy defer to us: np.float64(2) * Value -> Value.__rmul__, not an object array.
    __array_ufunc__ = None

    def __init__(self, data: Number, label: str = "") -> None:
        self.data: float = _as_float(data, "Value")
        self.grad: float = 0.0
        self.label: str = label
        self.op: str = ""
        self._ctx: Any = None
        self._a: Any = None
        self._da: Any = None
        self._b: Any = None
        self._db: Any = None

    # -- reading the graph -------------------------------------------------------------

    @property
    def parents(self) -> tuple[Value, ...]:
        """The Values this one was computed from, in operand order (empty for a leaf)."""
        return _edges(self)[0::2]

    @property
    def local_grads(self) -> tuple[Any, ...]:
        """∂self/∂parent for each parent, computed at forward time (what backward multiplies by)."""
        return _edges(self)[1::2]

    @property
    def is_leaf(self) -> bool:
        """True for a Value with no parents (made by the user, or under ``no_grad``)."""
        return self._a is None

    @property
    def rule(self) -> Rule | None:
        """The op table entry that made this node, or None for a leaf."""
        return RULES.get(self.op)

    @property
    def constants(self) -> tuple[float, ...]:
        """Number operands folded into this node (``x * 2`` keeps 2 here, not as a node)."""
        rule = self.rule
        if rule is None or rule.arity == 1:
            return ()
        operands = _operands(self)
        operands = operands[0] if rule.arity == 0 else operands
        return tuple(a for a in operands if type(a) is not Value)

    def __repr__(self) -> str:
        name = f"label={self.label!r}, " if self.label else ""
        return f"Value({name}data={self.data!r}, grad={self.grad!r})"

    # -- arithmetic: every op goes through the table -----------------------------------

    # __add__, __radd__, __sub__, ... are made from the op table below the class.

    def __neg__(self) -> Value:
        return _unary(RULES["neg"], self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return _unary(RULES["abs"], self)

    def exp(self) -> Value:
        """e**self."""
        return _unary(RULES["exp"], self)

    def log(self) -> Value:
        """Natural log; raises DomainError for self <= 0."""
        return _unary(RULES["log"], self)

    def sqrt(self) -> Value:
        """Square root; raises DomainError for self < 0."""
        return _unary(RULES["sqrt"], self)

    def tanh(self) -> Value:
        """Hyperbolic tangent."""
        return _unary(RULES["tanh"], self)

    def sigmoid(self) -> Value:
        """1 / (1 + e**-self), stable for every finite input."""
        return _unary(RULES["sigmoid"], self)

    def relu(self) -> Value:
        """max(self, 0); its derivative at 0 is taken as 0."""
        return _unary(RULES["relu"], self)

    def leaky_relu(self, slope: float = 0.01) -> Value:
        """self if self > 0 else slope * self."""
        return _unary(RULES["leaky_relu"], self, _as_float(slope, "leaky_relu slope"))

    def softplus(self) -> Value:
        """log(1 + e**self), stable for every finite input."""
        return _unary(RULES["softplus"], self)

    def sin(self) -> Value:
        """Sine."""
        return _unary(RULES["sin"], self)

    def cos(self) -> Value:
        """Cosine."""
        return _unary(RULES["cos"], self)

    def abs(self) -> Value:
        """|self|; its derivative at 0 is taken as 0."""
        return _unary(RULES["abs"], self)

    # -- gradients ----------------------------------------------------------------------

    def backward(self, gradient: float = 1.0) -> None:
        """Accumulate ∂self/∂node into ``node.grad`` for every node below self.

        Like PyTorch, gradients *accumulate*: a second call on the same graph adds the same
        amounts again, so every ``.grad`` (this root's included) becomes exactly twice the
        first result. Call :meth:`zero_grad` between passes to start from zero.
        """
        with _gc_paused():  # the walk allocates only short-lived objects of its own
            order = backward_order(self)
            if not any(node.grad for node in order):  # the usual case: nothing to keep
                self.grad = gradient
                _propagate(order)
                return
            # Propagate this pass's contributions alone, then add what was there before:
            # propagating accumulated grads would count earlier passes twice.
            previous = [node.grad for node in order]
            for node in order:
                node.grad = 0.0
            self.grad = gradient
            _propagate(order)
            for node, before in zip(order, previous):
                node.grad += before

    def zero_grad(self) -> None:
        """Set ``grad`` to 0.0 on this node and every node below it."""
        for node in backward_order(self):
            node.grad = 0.0


_new = object.__new__


_MANY = object()  # marks an n-ary node: its edges are a tuple in _da


def _result(data: float, op: str, ctx: Any, a: Any, da: Any, b: Any, db: Any) -> Value:
    """A new node, built without __init__'s checks: data is already a float from a rule."""
    node = _new(Value)
    node.data = data
    node.grad = 0.0
    node.label = ""
    node.op = op
    node._ctx = ctx
    node._a = a
    node._da = da
    node._b = b
    node._db = db
    return node


def _leaf(data: float) -> Value:
    return _result(data, "", None, None, None, None, None)


def _edges(node: Value) -> tuple[Any, ...]:
    """(parent0, local0, parent1, local1, ...) for any node."""
    a = node._a
    if a is None:
        return ()
    if a is _MANY:
        return node._da
    if node._b is None:
        return (a, node._da)
    return (a, node._da, node._b, node._db)


def _binary_methods(rule: Rule) -> tuple[Any, Any]:
    """``Value.__op__`` and ``Value.__rop__`` for a binary rule.

    The speed trick of graph building, in one place: the rule's functions are bound once
    here and the node is filled in directly, so an op costs one Python call plus the rule's
    own two. A number operand is folded in as a constant (kept in ``_ctx`` for
    ``create_graph``), never wrapped as a node: half the nodes of micrograd's ``x * 2 + 1``.
    """
    name, forward, local = rule.name, rule.forward, rule.local

    def method(self: Value, other: Any) -> Value:
        ad = self.data
        if type(other) is Value:
            bd = other.data
            out = forward(ad, bd, None)
            if not _GRAD_ENABLED.get():
                return _leaf(out)
            da, db = local(ad, bd, out, None)
            node = _new(Value)
            node.data, node.grad, node.label, node.op, node._ctx = out, 0.0, "", name, None
            node._a, node._da, node._b, node._db = self, da, other, db
            return node
        bd = other if type(other) is float else _as_float(other, name)
        out = forward(ad, bd, None)
        if not _GRAD_ENABLED.get():
            return _leaf(out)
        node = _new(Value)
        node.data, node.grad, node.label, node.op, node._ctx = out, 0.0, "", name, bd
        node._a, node._da, node._b, node._db = self, local(ad, bd, out, None)[0], None, None
        return node

    def reflected(self: Value, other: Any) -> Value:  # other (a number) is the left operand
        ad = other if type(other) is float else _as_float(other, name)
        out = forward(ad, self.data, None)
        if not _GRAD_ENABLED.get():
            return _leaf(out)
        db = local(ad, self.data, out, None)[1]
        return _result(out, name, (ad,), self, db, None, None)  # 1-tuple: a left constant

    method.__name__, reflected.__name__ = f"__{name}__", f"__r{name}__"
    method.__doc__ = f"The table's {name!r} rule: self {rule.symbol} other."
    reflected.__doc__ = f"The table's {name!r} rule: other {rule.symbol} self."
    return method, reflected


for _name, _dunder in [("add", "add"), ("sub", "sub"), ("mul", "mul"), ("div", "truediv"),
                       ("pow", "pow")]:  # fmt: skip
    _forward_method, _reflected_method = _binary_methods(RULES[_name])
    setattr(Value, f"__{_dunder}__", _forward_method)
    setattr(Value, f"__r{_dunder}__", _reflected_method)
del _name, _dunder, _forward_method, _reflected_method


def _unary(rule: Rule, a: Value, param: Any = None) -> Value:
    out = rule.forward(a.data, param)
    if not _GRAD_ENABLED.get():
        return _leaf(out)
    return _result(out, rule.name, param, a, rule.local(a.data, out, param)[0], None, None)


def _nary(rule: Rule, args: Sequence[Any]) -> Value:
    datas = tuple(a.data if type(a) is Value else _as_float(a, rule.name) for a in args)
    out = rule.forward(datas, None)
    if not _GRAD_ENABLED.get():
        return _leaf(out)
    locals_ = rule.local(datas, out, None)
    edges: list[Any] = []
    for a, d in zip(args, locals_):
        if type(a) is Value:
            edges += (a, d)
    if not edges:
        return _leaf(out)
    has_constants = len(edges) != 2 * len(args)
    return _result(
        out, rule.name, tuple(args) if has_constants else None, _MANY, tuple(edges), None, None
    )


def sum_values(terms: Iterable[Value | Number]) -> Value:
    """Σ terms as **one** node with n parents (no n-deep chain of ``+``).

    Example:
        >>> s = sum_values([Value(1.0), Value(2.0), 3])
        >>> s.data, len(s.parents)
        (6.0, 2)
    """
    return _nary(RULES["sum"], list(terms))


def dot(weights: Sequence[Value | Number], inputs: Sequence[Value | Number]) -> Value:
    """Σ w_i·x_i as one node: a neuron's weighted input, with ∂/∂w_i = x_i, ∂/∂x_i = w_i.

    Example:
        >>> w = [Value(0.15), Value(0.20)]
        >>> z = dot(w, [0.05, 0.10])
        >>> round(z.data, 4), z.local_grads
        (0.0275, (0.05, 0.1))
    """
    if len(weights) != len(inputs):
        raise ValueError(f"dot: {len(weights)} weights but {len(inputs)} inputs")
    args: list[Any] = [None] * (2 * len(weights))
    args[0::2] = weights
    args[1::2] = inputs
    return _nary(RULES["dot"], args)


def _operands(node: Value) -> tuple[Any, ...]:
    """The rule's operands for ``node``: its parents with folded constants put back."""
    rule = RULES[node.op]
    parents = node.parents
    ctx = node._ctx
    if rule.arity == 0:
        return (ctx if ctx is not None else parents,)
    if rule.arity == 1 or len(parents) == 2:
        return parents
    return (ctx[0], parents[0]) if type(ctx) is tuple else (parents[0], ctx)


def backward_order(root: Value) -> list[Value]:
    """Every node reachable from ``root``, each after all of its consumers (root first).

    Iterative depth-first search: no recursion, so a 10^6-deep chain is fine.

    Example:
        >>> x = Value(1.0, label="x"); y = (x * 2).exp()
        >>> [n.op or n.label for n in backward_order(y)]
        ['exp', 'mul', 'x']
    """
    order: list[Value] = []
    visited: set[Value] = set()
    stack: list[Any] = [root]
    append, push, pop, seen, mark = (
        order.append,
        stack.append,
        stack.pop,
        visited.__contains__,
        visited.add,
    )
    while stack:
        node = pop()
        if node is None:  # marker: every parent of the node below it is done
            append(pop())
            continue
        if seen(node):
            continue
        mark(node)
        push(node)
        push(None)
        a = node._a
        if a is None:
            continue
        if a is _MANY:
            for parent in node._da[0::2]:
                if not seen(parent):
                    push(parent)
            continue
        b = node._b
        if b is not None and not seen(b):
            push(b)
        if not seen(a):
            push(a)
    order.reverse()  # post-order lists parents first; backward wants consumers first
    return order


def _propagate(order: list[Value]) -> None:
    """The chain rule: each node hands grad × local derivative to each parent."""
    for node in order:
        a = node._a
        if a is None:
            continue
        g = node.grad
        if a is _MANY:
            edges = node._da
            for i in range(0, len(edges), 2):
                edges[i].grad += edges[i + 1] * g
            continue
        a.grad += node._da * g
        b = node._b
        if b is not None:
            b.grad += node._db * g


def grad(output: Value, inputs: Sequence[Value], create_graph: bool = False) -> tuple[Any, ...]:
    """∂output/∂x for each x in ``inputs``, leaving every ``.grad`` untouched.

    With ``create_graph=True`` the results are Values with a graph of their own (built from
    the same op rules), so they can be differentiated again.

    Example:
        >>> x = Value(3.0)
        >>> (dy,) = grad(x ** 3, [x], create_graph=True)
        >>> (d2y,) = grad(dy, [x])
        >>> dy.data, d2y
        (27.0, 18.0)
    """
    order = backward_order(output)
    grads: dict[int, Any] = {id(output): Value(1.0) if create_graph else 1.0}
    for node in order:
        g = grads.get(id(node))
        if g is None or node._a is None:
            continue
        parents = node.parents
        locals_ = _symbolic_locals(node) if create_graph else node.local_grads
        for parent, local in zip(parents, locals_):
            key = id(parent)
            contribution = local * g
            grads[key] = contribution if key not in grads else grads[key] + contribution
    zero: Any = Value(0.0) if create_graph else 0.0
    return tuple(grads.get(id(x), zero) for x in inputs)


def _symbolic_locals(node: Value) -> list[Any]:
    """The node's local derivatives as Values, from the same rule that computed the floats."""
    rule = RULES[node.op]
    args = _operands(node)
    param = node._ctx if rule.arity == 1 else None
    locals_ = rule.local(*args, node, param)
    operands = args[0] if rule.arity == 0 else args
    return [d for a, d in zip(operands, locals_) if type(a) is Value]
