"""The engine: :class:`Value`, a scalar that remembers how it was computed, and ``backward``.

Read it as micrograd's ``engine.py`` with the ops as data: each method of ``Value`` applies
its rule from the op table (:mod:`autograd_bp.core.rules`: forward and local derivatives,
written once). A node keeps each parent next to the local derivative for it, filled in at
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

import linecache
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from .dialects import backward_closure, edges_from, set_backward_closure, symbol_of
from .grad_mode import GRAD_ENABLED, gc_paused, is_grad_enabled, no_grad, to_float
from .graph import infix
from .methods import method_source
from .node import (
    Node,
    backward_pass,
    make_nodes_of,
    new_leaf,
    new_node,
    new_node_f,
    propagate,
    variadic_node,
    zero_grads,
)
from .rules import CODE_NAMES, RULES, Rule
from .walk import backward_order, flat_edges, has_closure

__all__ = ["Number", "Value", "backward_order", "binary_methods", "chain_rule", "dot",
           "gc_paused", "grad", "is_grad_enabled", "logsumexp", "no_grad", "propagate",
           "sum_values", "to_float", "unary_method"]  # fmt: skip

Number = int | float

# -- methods for rules registered at run time ----------------------------------------------

# The names a method's text may use (methods.py renders it): the rule code's, and the node's.
_GENERATED: dict[str, Any] = {**CODE_NAMES, "Any": Any, "Node": Node, "new_node": new_node,
                              "new_node_f": new_node_f,
                              "new_leaf": new_leaf, "recording": GRAD_ENABLED.get,
                              "to_float": to_float}


def _generated(rule: Rule) -> dict[str, Any]:
    """The functions of ``rule``'s method source, executed; linecache keeps the text, so
    tracebacks and ``inspect.getsource`` show the method as it runs. (The table's own rules
    have theirs written out in node.py; this is for rules ``register`` adds.)"""
    source = method_source(rule)
    filename = f"<autograd_bp.core.engine: Value methods of rule {rule.name!r}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    names = _GENERATED
    if rule.code is None:  # given as functions (registered): code that calls them
        names = {**_GENERATED, "forward": rule.forward, "local": rule.local}
    defined: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), names, defined)
    for name, fn in defined.items():  # Value's own: pickled (and named) as Value.<name>
        fn.__module__, fn.__qualname__ = __name__, f"Value.{name}"
    return defined


def binary_methods(rule: Rule) -> tuple[Callable[[Value, Value | float], Value],
                                        Callable[[Value, float], Value]]:  # fmt: skip
    """``Value.__<op>__`` and ``Value.__r<op>__`` for a two-operand rule, made from its code
    (``methods.BINARY_TEMPLATE``). A number operand is folded in as a constant, never
    wrapped as a node.

    Example:
        >>> mul, rmul = binary_methods(RULES["mul"])
        >>> mul(Value(2.0), 3).data, rmul(Value(2.0), 4).data
        (6.0, 8.0)
    """
    made = _generated(rule)
    return made[f"__{rule.method}__"], made[f"__r{rule.method}__"]


def unary_method(rule: Rule) -> Callable[..., Value]:
    """``Value.<method>()`` for a one-operand rule (with its parameter, if it has one), made
    from its code (``methods.UNARY_TEMPLATE``).

    Example:
        >>> unary_method(RULES["exp"])(Value(0.0)).data
        1.0
    """
    return _generated(rule)[rule.method or rule.name]


# -- the node ------------------------------------------------------------------------------


class Value(Node):
    """A scalar that remembers how it was computed.

    ``data`` is the number, ``grad`` the accumulated ∂(root)/∂(this) after ``backward``,
    ``op`` the name of the rule that made it ("" for a leaf), ``parents`` its operands.
    Each op method (``exp``, ``sigmoid``, ``__add__``, ...) applies its rule from the op
    table; ``autograd_bp.core.ops.register`` adds methods for new rules at run time.

    Example:
        >>> a, b = Value(3.0, label="a"), Value(4.0, label="b")
        >>> c = (a * b).tanh()
        >>> c.op, [p.op for p in c.parents], f"{c:.3f}"
        ('tanh', ['mul'], '1.000')
    """

    # The ten fields and the op table's methods are Node's (node.py); Value adds a
    # __dict__, which CPython makes only when an attribute is set on the node: a label (the
    # class attribute below is what a node without one reads), or what a program attaches
    # (``p.m``, ``p.v``: an optimizer's state, as EurekaLabs' micrograd keeps it).
    __slots__ = ("__dict__",)
    label: str = ""
    # Make numpy defer to us: np.float64(2) * Value -> Value.__rmul__, not an object array.
    __array_ufunc__ = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Value:
        # Node.__new__ takes no arguments (node.py says why); the constructor's go to __init__.
        return cast(Value, Node.__new__(cls))

    def __init__(self, data: Any, _children: Any = (), _op: Any = "", label: str = "", *,
                 children: Any = None, local_grads: Any = None) -> None:  # fmt: skip
        # micrograd's Value(data, _children, _op[, label]) and microgpt's Value(data, children,
        # local_grads) (dialects.py); Value(data, "x") still names the leaf x.
        if isinstance(_children, str):
            _children, label = (), _children
        if not isinstance(label, str):
            raise TypeError(f"Value: label must be a str, got {type(label).__name__} {label!r}")
        self.data: float = to_float(data, "Value")
        self.grad: float = 0.0
        if label:
            self.label = label
        self.op: str = ""
        self._a: Any = None
        self._da: Any = None
        self._b: Any = None
        self._db: Any = None
        self._seen: int = 0
        if _children or children is not None or local_grads is not None:
            kids = _children if children is None else children
            how = _op if local_grads is None else local_grads
            self.op, self._a, self._da, self._b, self._db = edges_from(kids, how, Value)

    # -- micrograd's and microgpt's names for the graph (dialects.py) -----------------------
    _backward = property(backward_closure, set_backward_closure, doc=backward_closure.__doc__)
    _op = property(symbol_of, doc=symbol_of.__doc__)
    _prev = property(lambda self: set(self.parents), doc="micrograd's name: the parents, a set")
    _children = property(lambda self: self.parents, doc="microgpt's name for the parents")
    _local_grads = property(lambda self: self.local_grads, doc="microgpt's local_grads (None "
                            "each for a node made micrograd-style)")  # fmt: skip

    # -- pickling and copying: the same state compiled or not ---------------------------------

    def __getstate__(self) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """(attached attributes or None, the node's fields): what CPython pickles for a
        slotted object with a __dict__, spelled out so the compiled node (whose fields are
        not slots) pickles the same bytes."""
        da, db = self._da, self._db
        if da is None and self._a is not None:  # locals kept as numbers: pickled as before
            da, db = self._ga, (self._gb if self._b is not None else db)
        fields = {"data": self.data, "grad": self.grad, "op": self.op, "_a": self._a,
                  "_da": da, "_b": self._b, "_db": db}  # fmt: skip
        return (self.__dict__ or None), fields

    def __setstate__(self, state: tuple[dict[str, Any] | None, dict[str, Any]]) -> None:
        attached, fields = state
        self._seen = 0
        if attached:
            self.__dict__.update(attached)
        for name, value in fields.items():
            setattr(self, name, value)

    def __abs__(self) -> Value:
        return self.abs()

    def __pos__(self) -> Value:
        return self

    # -- backward: the chain rule, in place on .grad ---------------------------------------

    def backward(self, gradient: Any = 1.0) -> None:
        """Accumulate ∂self/∂node × ``gradient`` into ``node.grad`` for every node below self.

        Like PyTorch, gradients *accumulate*: a second call adds the same amounts again (call
        :meth:`zero_grad` in between to start from zero). Calls from several threads
        accumulate exactly as if made one after another; a refused ``gradient`` changes nothing.
        """
        seed = to_float(gradient, "backward: gradient")
        with GRAPH_LOCK:
            backward_pass(self, seed)

    def zero_grad(self) -> None:
        """Set ``grad`` to 0.0 on this node and every node below it."""
        with GRAPH_LOCK:
            zero_grads(self)

    # -- reading the node ------------------------------------------------------------------

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
        """The op table entry that made this node; None for a leaf or a node made by hand."""
        return None if has_closure(self) else RULES.get(self.op)

    @property
    def operands(self) -> tuple[Any, ...]:
        """The rule's operands: the parents with folded number constants put back in place."""
        a, db = self._a, self._db
        if a is None or self._b is not None or db is None or has_closure(self):
            return self.parents
        if type(db) is tuple:  # 2 - x, or a variadic op with numbers: the operands in order
            return db
        rule = RULES.get(self.op)
        return (a, db) if rule is not None and rule.arity == 2 else self.parents  # x * 2

    @property
    def constants(self) -> tuple[float, ...]:
        """Number operands folded into this node (``x * 2`` keeps 2 here, not as a node)."""
        return tuple(a for a in self.operands if type(a) is not Value)

    @property
    def param(self) -> Any:
        """The rule's fixed parameter (leaky_relu's slope), or None."""
        rule = self.rule
        return self._db if rule is not None and rule.param is not None else None

    def expr(self) -> str:
        """This graph printed back as infix text, e.g. ``sigmoid(w*x + b)``."""
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


make_nodes_of(Value)  # every op's result is a Value

# One lock for every backward: the walk writes .grad on nodes that other graphs may share.
GRAPH_LOCK = threading.RLock()


# -- many operands, one node ---------------------------------------------------------------


def sum_values(terms: Iterable[Value | Number]) -> Value:
    """Σ terms as **one** node with n parents (no n-deep chain of ``+``).

    Example:
        >>> s = sum_values([Value(1.0), Value(2.0), 3])
        >>> s.data, len(s.parents)
        (6.0, 2)
    """
    return variadic_node(RULES["sum"], list(terms))


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
    return variadic_node(RULES["dot"], args)


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
    return variadic_node(RULES["logsumexp"], z)


# -- gradients as values: the walker every reader shares -----------------------------------

Visit = Callable[[Value, int, Value, Any, Any, Any], None]


def chain_rule(
    output: Value,
    seed: Any = 1.0,
    *,
    order: list[Value] | None = None,
    create_graph: bool = False,
    visit: Visit | None = None,
    locals_of: Callable[[Value], Sequence[Any]] | None = None,
) -> dict[Value, Any]:
    """∂output/∂node for every node below ``output``, leaving every ``.grad`` untouched.

    The one gradient walker of every reader of the graph (``grad``, the chain-rule trace, the
    step-through pages): in backward order, each node hands ``local × upstream`` (its own
    gradient) to each parent. ``visit(node, slot, parent, local, upstream, before)`` sees
    every term just before it is added to ``before``, the parent's gradient so far (None for
    its first term); ``slot`` tells apart the two operands of ``x * x``. With
    ``create_graph`` the locals and gradients are Values, built from the same rules, so they
    can be differentiated again. ``locals_of(node)`` replaces a node's stored local
    derivatives (the checker replays the graph at other points and walks it with those).

    Example:
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
        if has_closure(node):
            raise ValueError(f"op {node.op!r} was made micrograd-style, with a _backward "
                             "closure: its local derivatives are unknown, so only "
                             ".backward() can differentiate through it")  # fmt: skip
        if locals_of is not None:
            locals_ = locals_of(node)
        else:
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
    if rule.first_order:
        raise ValueError(f"grad(create_graph=True): op {rule.name!r} is registered as "
                         "first_order: its local derivatives are numbers, not a graph, so "
                         "its higher derivatives cannot be taken")  # fmt: skip
    args = node.operands
    if rule.variadic:
        locals_ = rule.local(args, node, None)
    else:
        locals_ = rule.local(*args, node, node.param)
    return [d for a, d in zip(args, locals_) if type(a) is not float]  # constants have no edge
