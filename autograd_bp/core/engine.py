"""The graph machinery: :class:`Value`, ``backward``, ``grad``, ``no_grad``.

What each op computes lives in :mod:`autograd_bp.core.ops`; this module only records the graph
and walks it. A node keeps each parent next to the local derivative for it, filled in at
forward time, so the whole backward pass is ``parent.grad += local * node.grad`` in reverse
topological order — micrograd's ``_backward`` closures, as data.

Example:
    >>> from autograd_bp import Value
    >>> x = Value(2.0, label="x")
    >>> y = x * x + x
    >>> y.backward()
    >>> x.grad
    5.0
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from . import ops
from .grad_mode import GRAD_ENABLED, gc_paused, is_grad_enabled, no_grad, to_float
from .ops import RULES, Rule
from .walk import VARIADIC, backward_order, chain_rule, flat_edges, grad, propagate

__all__ = ["Number", "Value", "backward_order", "chain_rule", "dot", "gc_paused", "grad",
           "is_grad_enabled", "logsumexp", "no_grad", "sum_values", "to_float"]  # fmt: skip

Number = int | float

# -- the node ------------------------------------------------------------------------------


class Value:
    """A scalar that remembers how it was computed.

    ``data`` is the number, ``grad`` the accumulated ∂(root)/∂(this) after ``backward``,
    ``op`` the name of the rule that made it ("" for a leaf), ``parents`` its operands.
    Methods such as ``exp``, ``sigmoid``, ``__add__`` come from the op table (one per rule).

    Example:
        >>> a, b = Value(3.0, label="a"), Value(4.0, label="b")
        >>> c = (a * b).tanh()
        >>> c.op, [p.op for p in c.parents], f"{c:.3f}"
        ('tanh', ['mul'], '1.000')
    """

    # Parents live in the node (_a/_da, _b/_db), not in a tuple of their own: one object per
    # node instead of two halves the cyclic collector's work (40 % of a 10^5-step chain,
    # measured). A variadic node sets _a = VARIADIC and keeps (p0, d0, p1, d1, ...) in _da.
    # A number is folded in, never wrapped as a node: _const holds it (the 2 of ``x - 2``, or
    # leaky_relu's slope) — no tuple, so ``x * 2`` costs what ``x * y`` does. _operands holds
    # the operands in order only where that order is not (parent, _const): a number on the
    # left (``2 - x``), or the numbers among a variadic op's operands.
    __slots__ = ("data", "grad", "label", "op", "_a", "_da", "_b", "_db", "_const", "_operands")
    # Make numpy defer to us: np.float64(2) * Value -> Value.__rmul__, not an object array.
    __array_ufunc__ = None

    def __init__(self, data: Any, label: str = "") -> None:
        if not isinstance(label, str):
            raise TypeError(f"Value: label must be a str, got {type(label).__name__} {label!r}")
        self.data: float = to_float(data, "Value")
        self.grad: float = 0.0
        self.label: str = label
        self.op: str = ""
        self._a: Any = None
        self._da: Any = None
        self._b: Any = None
        self._db: Any = None
        self._const: float | None = None
        self._operands: tuple[Any, ...] | None = None

    @property
    def parents(self) -> tuple[Value, ...]:
        """The Values this one was computed from, in operand order (empty for a leaf)."""
        return flat_edges(self)[0::2]

    @property
    def local_grads(self) -> tuple[Any, ...]:
        """∂self/∂parent for each parent, computed at forward time (what backward multiplies by)."""
        return flat_edges(self)[1::2]

    @property
    def is_leaf(self) -> bool:
        """True for a Value with no parents (made by the user, or under ``no_grad``)."""
        return self._a is None

    @property
    def rule(self) -> Rule | None:
        """The op table entry that made this node, or None for a leaf."""
        return RULES.get(self.op)

    @property
    def operands(self) -> tuple[Any, ...]:
        """The rule's operands: the parents with folded number constants put back in place."""
        if self._operands is not None:
            return self._operands
        if self._const is not None and self._b is None and RULES[self.op].arity == 2:
            return (self._a, self._const)
        return self.parents

    @property
    def constants(self) -> tuple[float, ...]:
        """Number operands folded into this node (``x * 2`` keeps 2 here, not as a node)."""
        return tuple(a for a in self.operands if type(a) is not Value)

    @property
    def param(self) -> Any:
        """The rule's fixed parameter (leaky_relu's slope), or None."""
        rule = self.rule
        return self._const if rule is not None and rule.param is not None else None

    def expr(self) -> str:
        """This graph printed back as infix text, e.g. ``sigmoid(w*x + b)``."""
        from .graph import infix  # graph reads Values, so it imports this module, not v.v.

        return infix(self)

    def __repr__(self) -> str:
        name = f"label={self.label!r}, " if self.label else ""
        return f"Value({name}data={self.data!r}, grad={self.grad!r})"

    def __float__(self) -> float:
        return self.data

    def __format__(self, spec: str) -> str:
        return format(self.data, spec) if spec else repr(self)

    def __round__(self, ndigits: int | None = None) -> float:
        return round(self.data, ndigits)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return self.abs()

    if TYPE_CHECKING:  # made from the op table at import (_install); spelled out for mypy
        def __add__(self, other: Value | float) -> Value: ...
        def __radd__(self, other: float) -> Value: ...
        def __sub__(self, other: Value | float) -> Value: ...
        def __rsub__(self, other: float) -> Value: ...
        def __mul__(self, other: Value | float) -> Value: ...
        def __rmul__(self, other: float) -> Value: ...
        def __truediv__(self, other: Value | float) -> Value: ...
        def __rtruediv__(self, other: float) -> Value: ...
        def __pow__(self, other: Value | float) -> Value: ...
        def __rpow__(self, other: float) -> Value: ...
        def __neg__(self) -> Value: ...
        def exp(self) -> Value: ...
        def log(self) -> Value: ...
        def sqrt(self) -> Value: ...
        def tanh(self) -> Value: ...
        def sigmoid(self) -> Value: ...
        def relu(self) -> Value: ...
        def leaky_relu(self, slope: float = 0.01) -> Value: ...
        def softplus(self) -> Value: ...
        def sin(self) -> Value: ...
        def cos(self) -> Value: ...
        def abs(self) -> Value: ...
        def step(self) -> Value: ...
        def sign(self) -> Value: ...
        def recip(self) -> Value: ...

    def backward(self, gradient: Any = 1.0) -> None:
        """Accumulate ∂self/∂node × ``gradient`` into ``node.grad`` for every node below self.

        Like PyTorch, gradients *accumulate*: a second call adds the same amounts again (call
        :meth:`zero_grad` in between to start from zero). Calls from several threads
        accumulate exactly as if made one after another; a refused ``gradient`` changes nothing.
        """
        seed = to_float(gradient, "backward: gradient")
        with GRAPH_LOCK:
            order = backward_order(self)
            if not any(node.grad for node in order):  # the usual case: nothing to keep
                self.grad = seed
                propagate(order)
                return
            # Propagate this pass's contributions alone, then add what was there before:
            # propagating accumulated grads would count earlier passes twice.
            previous = [node.grad for node in order]
            for node in order:
                node.grad = 0.0
            self.grad = seed
            propagate(order)
            for node, before in zip(order, previous):
                node.grad += before

    def zero_grad(self) -> None:
        """Set ``grad`` to 0.0 on this node and every node below it."""
        with GRAPH_LOCK:
            for node in backward_order(self):
                node.grad = 0.0


# One lock for every backward: the walk writes .grad on nodes that other graphs may share.
GRAPH_LOCK = threading.RLock()
_new = object.__new__


def _node(data: float, op: str, a: Any, da: Any, b: Any, db: Any,
          const: float | None, operands: tuple[Any, ...] | None) -> Value:  # fmt: skip
    """A new node, without __init__'s checks: ``data`` is already a float from a rule."""
    # One store a line: a 4-tuple assignment builds and unpacks a tuple (121 ns vs 163 ns).
    node = _new(Value)
    node.data = data
    node.grad = 0.0
    node.label = ""
    node.op = op
    node._a = a
    node._da = da
    node._b = b
    node._db = db
    node._const = const
    node._operands = operands
    return node


def _leaf(data: float) -> Value:
    return _node(data, "", None, None, None, None, None, None)


# -- Value's methods, made from the op table -----------------------------------------------


def _binary_methods(rule: Rule) -> tuple[Callable[..., Value], Callable[..., Value]]:
    """``Value.__op__`` and ``Value.__rop__``: a number operand is folded in as a constant,
    never wrapped as a node (half the nodes of micrograd's ``x * 2 + 1``)."""
    name, forward, local = rule.name, rule.forward, rule.local
    where = f"{name}: number operand"

    def method(self: Value, other: Any) -> Value:
        a = self.data
        if type(other) is Value:
            b = other.data
            out = forward(a, b, None)
            if not GRAD_ENABLED.get():
                return _leaf(out)
            da, db = local(a, b, out, None)
            return _node(out, name, self, da, other, db, None, None)
        c = other if type(other) is float else to_float(other, where)
        out = forward(a, c, None)
        if not GRAD_ENABLED.get():
            return _leaf(out)
        return _node(out, name, self, local(a, c, out, None)[0], None, None, c, None)

    def reflected(self: Value, other: Any) -> Value:  # other, a number, is the left operand
        c = other if type(other) is float else to_float(other, where)
        b = self.data
        out = forward(c, b, None)
        if not GRAD_ENABLED.get():
            return _leaf(out)
        return _node(out, name, self, local(c, b, out, None)[1], None, None, None, (c, self))

    method.__name__, reflected.__name__ = f"__{rule.method}__", f"__r{rule.method}__"
    method.__doc__ = f"self {rule.symbol} other (the op table's {name!r} rule)."
    reflected.__doc__ = f"other {rule.symbol} self (the op table's {name!r} rule)."
    return method, reflected


def _unary_method(rule: Rule) -> Callable[..., Value]:
    """``Value.<method>()`` for a one-operand rule (with its parameter, if it has one)."""
    forward, local, name = rule.forward, rule.local, rule.name

    def method(self: Value) -> Value:  # no parameter: no *args to pack (tanh: 15 % faster)
        a = self.data
        out = forward(a, None)
        if not GRAD_ENABLED.get():
            return _leaf(out)
        return _node(out, name, self, local(a, out, None)[0], None, None, None, None)

    def method_with_param(self: Value, *param: Any) -> Value:
        if len(param) > 1:
            raise TypeError(f"{rule.method}() takes one argument ({rule.param})")
        p = to_float(param[0] if param else rule.default, f"{name} {rule.param}")
        out = forward(self.data, p)
        if not GRAD_ENABLED.get():
            return _leaf(out)
        return _node(out, name, self, local(self.data, out, p)[0], None, None, p, None)

    if rule.param is not None:
        method = method_with_param
    assert rule.method is not None
    method.__name__ = method.__qualname__ = rule.method
    derivative = rule.derivative(0, "text", x="self", out="out", p=rule.param or "")
    method.__doc__ = f"The op table's {rule.name!r} rule; ∂/∂self = {derivative}."
    return method


_INSTALLED: set[str] = set()


def _install(rule: Rule) -> None:
    """Give Value the method(s) ``rule`` declares (called for the table and by ops.register)."""
    if rule.method is None or rule.variadic:
        return
    if rule.arity == 2:
        names = [f"__{rule.method}__", f"__r{rule.method}__"]
        methods: list[Callable[..., Value]] = list(_binary_methods(rule))
    else:
        names, methods = [rule.method], [_unary_method(rule)]
    for attr in names:
        if hasattr(Value, attr) and attr not in _INSTALLED:
            raise ValueError(f"register: Value.{attr} exists already; choose another method name")
    for attr, fn in zip(names, methods):
        setattr(Value, attr, fn)
        _INSTALLED.add(attr)


for _rule in RULES.values():
    _install(_rule)
ops._on_register.append(_install)


def sum_values(terms: Iterable[Value | Number]) -> Value:
    """Σ terms as **one** node with n parents (no n-deep chain of ``+``).

    Example:
        >>> s = sum_values([Value(1.0), Value(2.0), 3])
        >>> s.data, len(s.parents)
        (6.0, 2)
    """
    return _variadic(RULES["sum"], list(terms))


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
    return _variadic(RULES["dot"], args)


def logsumexp(logits: Iterable[Value | Number]) -> Value:
    """log Σ_j e^{z_j} as one node: the largest logit is subtracted inside the op, for every
    input, so it never overflows — also when compiled. Its local derivatives are the softmax.

    Example:
        >>> round(logsumexp([Value(1000.0), Value(1000.0)]).data, 6)
        1000.693147
    """
    z = list(logits)
    if not z:
        raise ValueError("logsumexp: needs at least one logit")
    return _variadic(RULES["logsumexp"], z)


def _variadic(rule: Rule, args: Sequence[Any]) -> Value:
    if set(map(type, args)) == _JUST_VALUE:  # a layer's or attention's dot: no number inside
        datas = tuple([a.data for a in args])
        out = rule.forward(datas, None)
        if not GRAD_ENABLED.get():
            return _leaf(out)
        edges: list[Any] = [None] * (2 * len(args))  # laid out by slicing, not a Python loop:
        edges[0::2], edges[1::2] = args, rule.local(datas, out, None)  # dot(32): 10.7 µs
        return _node(out, rule.name, VARIADIC, tuple(edges), None, None, None, None)
    args = [a if type(a) is Value else to_float(a, rule.name) for a in args]
    datas = tuple([a.data if type(a) is Value else a for a in args])
    out = rule.forward(datas, None)
    if not GRAD_ENABLED.get():
        return _leaf(out)
    edges = []
    for a, d in zip(args, rule.local(datas, out, None)):
        if type(a) is Value:
            edges += (a, d)
    if not edges:
        return _leaf(out)
    operands = tuple(args) if len(edges) != 2 * len(args) else None
    return _node(out, rule.name, VARIADIC, tuple(edges), None, None, None, operands)


_JUST_VALUE = {Value}
