"""The graph machinery: :class:`Value`, ``backward``, ``grad``, ``no_grad``.

What each op computes lives in :mod:`autograd_bp.ops`; this module only records the graph
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

import contextlib
import functools
import gc
import inspect
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

import numpy as np

from . import ops
from .ops import RULES, Rule

__all__ = [
    "Value",
    "Number",
    "backward_order",
    "chain_rule",
    "dot",
    "gc_paused",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "sum_values",
    "to_float",
]

Number = int | float
F = TypeVar("F", bound=Callable[..., Any])

# -- switches: recording on/off, the garbage collector paused ------------------------------

_GRAD_ENABLED: ContextVar[bool] = ContextVar("autograd_bp_grad_enabled", default=True)


class no_grad(contextlib.ContextDecorator):  # noqa: N801 - the name torch users type
    """Inside this block ops compute values but record no parents (like ``torch.no_grad``).

    Per thread and per asyncio task (a ``ContextVar``). Works as ``with no_grad():``, and as a
    decorator with or without parentheses on functions, generators and ``async def``.

    Example:
        >>> w = Value(1.0)
        >>> with no_grad():
        ...     v = w * 3
        >>> v.parents
        ()
        >>> @no_grad
        ... def triple(x):
        ...     return x * 3
        >>> triple(w).is_leaf
        True
    """

    def __new__(cls, func: Callable[..., Any] | None = None) -> Any:
        self = super().__new__(cls)
        self._tokens: list[Any] = []  # one per open `with`: the same object may be re-entered
        if func is None:
            return self
        if not callable(func):
            raise TypeError(f"no_grad: expected a function to decorate, got {func!r}")
        return self(func)  # bare @no_grad

    def __init__(self, func: Callable[..., Any] | None = None) -> None:
        pass  # all set up in __new__, which bare @no_grad leaves without calling __init__

    def __enter__(self) -> no_grad:
        self._tokens.append(_GRAD_ENABLED.set(False))
        return self

    def __exit__(self, *exc: object) -> None:
        _GRAD_ENABLED.reset(self._tokens.pop())

    def __call__(self, func: F) -> F:  # type: ignore[override]
        if inspect.isasyncgenfunction(func):
            raise TypeError("no_grad: async generator functions are not supported")
        if inspect.iscoroutinefunction(func):  # the body runs at await time, not at call time

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with no_grad():
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]
        if inspect.isgeneratorfunction(func):  # the body runs at each next(), not at call time

            @functools.wraps(func)
            def run_generator(*args: Any, **kwargs: Any) -> Any:
                with no_grad():
                    gen = func(*args, **kwargs)
                return (yield from _each_step_without_grad(gen))

            return run_generator  # type: ignore[return-value]
        return super().__call__(func)  # type: ignore[return-value]


def _each_step_without_grad(gen: Any) -> Any:
    """Drive ``gen``, resuming it inside ``no_grad`` each time and outside it in between."""
    send: Any = gen.send
    value: Any = None
    while True:
        try:
            with no_grad():
                item = send(value)
        except StopIteration as stop:
            return stop.value
        try:
            value, send = (yield item), gen.send
        except GeneratorExit:
            gen.close()
            raise
        except BaseException as error:  # noqa: BLE001 - handed to the generator, as yield from
            value, send = error, gen.throw


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph (False inside :func:`no_grad`).

    Example:
        >>> is_grad_enabled()
        True
    """
    return _GRAD_ENABLED.get()


_GC_LOCK = threading.Lock()
_gc_pauses = 0  # how many gc_paused blocks are open, in any thread
_gc_was_enabled = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building and back-propagating big graphs.

    Graphs hold no cycles, so reference counting frees them; the collector's scans of the
    many new nodes cost up to half of a training step (measured, docs/performance.md).
    Overlapping blocks in several threads share one pause: the last to leave restores the
    collector, and only if it was enabled when the first entered (an application that
    disabled it keeps it disabled).

    Example:
        >>> import gc
        >>> with gc_paused():
        ...     gc.isenabled()
        False
    """
    global _gc_pauses, _gc_was_enabled
    with _GC_LOCK:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def to_float(x: Any, where: str) -> float:
    """``x`` as a float: int, float and numpy real scalars; bool, str, None... are refused.

    Example:
        >>> to_float(np.float32(0.5), "x")
        0.5
    """
    t = type(x)
    if t is float:
        return x
    if t is bool or isinstance(x, np.bool_):
        raise TypeError(f"{where}: expected a real number, got bool {x!r}")
    if isinstance(x, (int, np.integer, np.floating)):
        try:
            return float(x)
        except OverflowError:
            raise OverflowError(f"{where}: {x!r} is too large for a float") from None
    if isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iuf":
        return float(x)
    raise TypeError(f"{where}: expected a real number (int or float), got {t.__name__} {x!r}")


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
    # measured). A variadic node sets _a = _VARIADIC and keeps (p0, d0, p1, d1, ...) in _da.
    # _operands holds the rule's operands only when number constants were folded in
    # (``x * 2`` keeps 2 there, not as a node); _param a fixed parameter (leaky_relu's slope).
    __slots__ = ("data", "grad", "label", "op", "_a", "_da", "_b", "_db", "_operands", "_param")
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
        self._operands: tuple[Any, ...] | None = None
        self._param: Any = None

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
    def operands(self) -> tuple[Any, ...]:
        """The rule's operands: the parents with folded number constants put back in place."""
        return self._operands if self._operands is not None else self.parents

    @property
    def constants(self) -> tuple[float, ...]:
        """Number operands folded into this node (``x * 2`` keeps 2 here, not as a node)."""
        return tuple(a for a in self.operands if type(a) is not Value)

    @property
    def param(self) -> Any:
        """The rule's fixed parameter (leaky_relu's slope), or None."""
        return self._param

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
        return self.abs()  # type: ignore[attr-defined, no-any-return]

    def backward(self, gradient: Any = 1.0) -> None:
        """Accumulate ∂self/∂node × ``gradient`` into ``node.grad`` for every node below self.

        Like PyTorch, gradients *accumulate*: a second call adds the same amounts again (call
        :meth:`zero_grad` in between to start from zero). Calls from several threads
        accumulate exactly as if made one after another; a refused ``gradient`` changes nothing.
        """
        seed = to_float(gradient, "backward: gradient")
        with _GRAPH_LOCK:
            order = backward_order(self)
            if not any(node.grad for node in order):  # the usual case: nothing to keep
                self.grad = seed
                _propagate(order)
                return
            # Propagate this pass's contributions alone, then add what was there before:
            # propagating accumulated grads would count earlier passes twice.
            previous = [node.grad for node in order]
            for node in order:
                node.grad = 0.0
            self.grad = seed
            _propagate(order)
            for node, before in zip(order, previous):
                node.grad += before

    def zero_grad(self) -> None:
        """Set ``grad`` to 0.0 on this node and every node below it."""
        with _GRAPH_LOCK:
            for node in backward_order(self):
                node.grad = 0.0


# One lock for every backward: the walk writes .grad on nodes that other graphs may share.
_GRAPH_LOCK = threading.RLock()
_VARIADIC = object()  # in _a: the node's edges are a flat tuple in _da
_new = object.__new__


def _node(data: float, op: str, a: Any, da: Any, b: Any, db: Any,
          operands: tuple[Any, ...] | None, param: Any) -> Value:  # fmt: skip
    """A new node, without __init__'s checks: ``data`` is already a float from a rule."""
    node = _new(Value)
    node.data, node.grad, node.label, node.op = data, 0.0, "", op
    node._a, node._da, node._b, node._db = a, da, b, db
    node._operands, node._param = operands, param
    return node


def _leaf(data: float) -> Value:
    return _node(data, "", None, None, None, None, None, None)


def _edges(node: Value) -> tuple[Any, ...]:
    """(parent0, local0, parent1, local1, ...) for any node."""
    a = node._a
    if a is None:
        return ()
    if a is _VARIADIC:
        return node._da  # type: ignore[no-any-return]
    if node._b is None:
        return (a, node._da)
    return (a, node._da, node._b, node._db)


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
            if not _GRAD_ENABLED.get():
                return _leaf(out)
            da, db = local(a, b, out, None)
            return _node(out, name, self, da, other, db, None, None)
        c = other if type(other) is float else to_float(other, where)
        out = forward(a, c, None)
        if not _GRAD_ENABLED.get():
            return _leaf(out)
        return _node(out, name, self, local(a, c, out, None)[0], None, None, (self, c), None)

    def reflected(self: Value, other: Any) -> Value:  # other, a number, is the left operand
        c = other if type(other) is float else to_float(other, where)
        b = self.data
        out = forward(c, b, None)
        if not _GRAD_ENABLED.get():
            return _leaf(out)
        return _node(out, name, self, local(c, b, out, None)[1], None, None, (c, self), None)

    method.__name__, reflected.__name__ = f"__{rule.method}__", f"__r{rule.method}__"
    method.__doc__ = f"self {rule.symbol} other (the op table's {name!r} rule)."
    reflected.__doc__ = f"other {rule.symbol} self (the op table's {name!r} rule)."
    return method, reflected


def _unary_method(rule: Rule) -> Callable[..., Value]:
    """``Value.<method>()`` for a one-operand rule (with its parameter, if it has one)."""
    forward, local = rule.forward, rule.local

    def method(self: Value, *param: Any) -> Value:
        if rule.param is None:
            if param:
                raise TypeError(f"{rule.method}() takes no arguments")
            p = None
        else:
            if len(param) > 1:
                raise TypeError(f"{rule.method}() takes one argument ({rule.param})")
            p = to_float(param[0] if param else rule.default, f"{rule.name} {rule.param}")
        out = forward(self.data, p)
        if not _GRAD_ENABLED.get():
            return _leaf(out)
        return _node(out, rule.name, self, local(self.data, out, p)[0], None, None, None, p)

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


def _variadic(rule: Rule, args: Sequence[Any]) -> Value:
    args = [a if type(a) is Value else to_float(a, rule.name) for a in args]
    datas = tuple(a.data if type(a) is Value else a for a in args)
    out = rule.forward(datas, None)
    if not _GRAD_ENABLED.get():
        return _leaf(out)
    edges: list[Any] = []
    for a, d in zip(args, rule.local(datas, out, None)):
        if type(a) is Value:
            edges += (a, d)
    if not edges:
        return _leaf(out)
    operands = tuple(args) if len(edges) != 2 * len(args) else None
    return _node(out, rule.name, _VARIADIC, tuple(edges), None, None, operands, None)


# -- walking the graph ---------------------------------------------------------------------


def backward_order(root: Value) -> list[Value]:
    """Every node reachable from ``root``, each after all of its consumers (root first).

    Iterative depth-first search: no recursion, so a 10^6-deep chain is fine.

    Example:
        >>> x = Value(1.0, label="x"); y = (x * 2).exp()
        >>> [n.op or n.label for n in backward_order(y)]
        ['exp', 'mul', 'x']
    """
    if type(root) is not Value:
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
        stack += (node, None)
        a = node._a
        if a is _VARIADIC:
            stack += [p for p in node._da[0::2] if p not in visited]
        elif a is not None:
            b = node._b
            if b is not None and b not in visited:
                stack.append(b)
            if a not in visited:
                stack.append(a)
    order.reverse()  # post-order lists parents first; backward wants consumers first
    return order


def _propagate(order: list[Value]) -> None:
    """The chain rule in place on ``.grad``: each node hands grad × local to each parent.

    ``backward``'s own copy of :func:`chain_rule`, specialised: on a 10^5-node chain it takes
    22 ms where the dictionary-based walker takes 60 ms plus 19 ms to write ``.grad`` back.
    """
    for node in order:
        a = node._a
        if a is None:
            continue
        g = node.grad
        if a is _VARIADIC:
            edges = node._da
            for i in range(0, len(edges), 2):
                edges[i].grad += edges[i + 1] * g
            continue
        a.grad += node._da * g
        b = node._b
        if b is not None:
            b.grad += node._db * g


Visit = Callable[[Value, int, Value, Any, Any], None]


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
    step-through pages): in backward order, each node hands ``local × its gradient`` to each
    parent. ``visit(node, slot, parent, local, term)`` sees every term as it is added
    (``slot`` tells apart the two operands of ``x * x``). With ``create_graph`` the locals
    and gradients are Values, built from the same rules, so they can be differentiated again.

    Example:
        >>> x = Value(3.0, label="x"); y = x * x
        >>> terms = []
        >>> grads = chain_rule(y, visit=lambda n, slot, p, d, t: terms.append((slot, t)))
        >>> grads[x], terms
        (6.0, [(0, 3.0), (1, 3.0)])
    """
    order = backward_order(output) if order is None else order
    grads: dict[Value, Any] = {output: seed}
    for node in order:
        g = grads.get(node)
        if g is None or node._a is None:
            continue
        locals_ = _symbolic_locals(node) if create_graph else node.local_grads
        for slot, (parent, local) in enumerate(zip(node.parents, locals_)):
            term = local * g
            if visit is not None:
                visit(node, slot, parent, local, term)
            grads[parent] = term if parent not in grads else grads[parent] + term
    return grads


def grad(
    output: Value, inputs: Value | Sequence[Value], create_graph: bool = False
) -> tuple[Any, ...]:
    """∂output/∂x for each x in ``inputs`` (one Value or a sequence), leaving ``.grad`` alone.

    With ``create_graph=True`` the results are Values with a graph of their own (built from
    the same op rules), so they can be differentiated again.

    Example:
        >>> x = Value(3.0)
        >>> (dy,) = grad(x ** 3, x, create_graph=True)
        >>> (d2y,) = grad(dy, [x])
        >>> dy.data, d2y
        (27.0, 18.0)
    """
    if type(output) is not Value:
        raise TypeError(f"grad: output must be a Value, got {type(output).__name__} {output!r}")
    wrt = [inputs] if type(inputs) is Value else list(inputs)  # type: ignore[arg-type]
    for i, x in enumerate(wrt):
        if type(x) is not Value:
            raise TypeError(f"grad: inputs[{i}] must be a Value, got {type(x).__name__} {x!r}")
    grads = chain_rule(output, Value(1.0) if create_graph else 1.0, create_graph=create_graph)
    zero: Any = Value(0.0) if create_graph else 0.0
    return tuple(grads.get(x, zero) for x in wrt)


def _symbolic_locals(node: Value) -> list[Any]:
    """The node's local derivatives as Values, from the same rule that computed the floats."""
    rule = RULES[node.op]
    args = node.operands
    if rule.variadic:
        locals_ = rule.local(args, node, None)
    else:
        locals_ = rule.local(*args, node, node._param)
    return [d for a, d in zip(args, locals_) if type(a) is Value]
