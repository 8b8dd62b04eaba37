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
from itertools import compress
from typing import Any

from .dialects import backward_closure, edges_from, set_backward_closure, symbol_of
from .grad_mode import GRAD_ENABLED, gc_paused, is_grad_enabled, no_grad, to_float
from .graph import infix
from .rules import CODE_NAMES, RULES, Rule
from .walk import VARIADIC, ClosureEdges, backward_order, flat_edges, has_closure

__all__ = ["Number", "Value", "backward_order", "binary_methods", "chain_rule", "dot",
           "gc_paused", "grad", "is_grad_enabled", "logsumexp", "no_grad", "propagate",
           "sum_values", "to_float", "unary_method"]  # fmt: skip

Number = int | float

# -- how a rule becomes a method (Value's class body below makes one per rule) ----------

_new = object.__new__


def _node(data: float, op: str, a: Any, da: Any, b: Any, db: Any) -> Value:
    """A new node, without __init__'s checks: ``data`` is already a float from a rule."""
    # One store a line: a 4-tuple assignment builds and unpacks a tuple (121 ns vs 163 ns).
    node = _new(Value)
    node.data = data
    node.grad = 0.0
    node.op = op
    node._a = a
    node._da = da
    node._b = b
    node._db = db
    return node


def _leaf(data: float) -> Value:
    return _node(data, "", None, None, None, None)


# A rule's code (rules.py) becomes methods that run its forward and local derivatives inline,
# as micrograd's methods do, instead of calling two functions per op (40 % of an op,
# measured). The text below is the whole method; {forward} and {local...} are the rule's code
# over a and b (the operands' numbers), out and p; beside a number operand only the other
# operand's derivative is computed (x ** 0.5 takes no log). A number operand is folded in,
# never wrapped as a node (half the nodes of micrograd's ``x * 2 + 1``): _db keeps it.
BINARY_TEMPLATE = """\
def __{method}__(self, other):
    a = self.data
    p = None
    if type(other) is Value:
        b = other.data
        out = {forward}
        if not GRAD_ENABLED.get():
            return _leaf(out)
        node = _new(Value)
        node.data = out
        node.grad = 0.0
        node.op = {name!r}
        node._a = self
        node._b = other
        node._da, node._db = {both}
        return node
    b = other if type(other) is float else to_float(other, {where!r})
    out = {forward}
    if not GRAD_ENABLED.get():
        return _leaf(out)
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node.op = {name!r}
    node._a = self
    node._da = {local_a}
    node._b = None
    node._db = b  # the number operand
    return node


def __r{method}__(self, other):  # other, a number, is the left operand
    a = other if type(other) is float else to_float(other, {where!r})
    b = self.data
    p = None
    out = {forward}
    if not GRAD_ENABLED.get():
        return _leaf(out)
    return _node(out, {name!r}, self, {local_b}, None, (a, self))  # the operands, in order
"""

UNARY_TEMPLATE = """\
def {method}(self{param}):
    a = self.data
    {p}
    out = {forward}
    if not GRAD_ENABLED.get():
        return _leaf(out)
    node = _new(Value)
    node.data = out
    node.grad = 0.0
    node.op = {name!r}
    node._a = self
    node._da = {local}
    node._b = None
    node._db = p  # the parameter, if any
    return node
"""

# The generated methods' globals: the names rule code may use, and the engine's (Value is
# added once the class exists; a method looks it up when it runs).
_GENERATED: dict[str, Any] = {**CODE_NAMES, "_new": _new, "_leaf": _leaf, "_node": _node,
                              "GRAD_ENABLED": GRAD_ENABLED, "to_float": to_float}


def _generated(source: str, rule: Rule) -> dict[str, Any]:
    """The functions ``source`` defines, in the rule code's names; linecache keeps the text,
    so tracebacks and ``inspect.getsource`` show the method as it runs."""
    filename = f"<autograd_bp.core.engine: Value methods of rule {rule.name!r}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    names = _GENERATED  # the table's rules: made in Value's class body, shared names
    if rule.code is None:  # given as functions (registered): code that calls them
        names = {**_GENERATED, "forward": rule.forward, "local": rule.local}
    defined: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), names, defined)
    for name, fn in defined.items():  # Value's own: pickled (and named) as Value.<name>
        fn.__module__, fn.__qualname__ = __name__, f"Value.{name}"
    return defined


def _code_of(rule: Rule) -> tuple[str, tuple[str, ...]]:
    """The rule's code; for a rule given as functions, code that calls them (once per op)."""
    if rule.code is not None:
        return rule.code
    if rule.arity == 2:
        return "forward(a, b, p)", ("local(a, b, out, p)[0]", "local(a, b, out, p)[1]")
    return "forward(a, p)", ("local(a, out, p)[0]",)


def binary_methods(rule: Rule) -> tuple[Callable[[Value, Value | float], Value],
                                        Callable[[Value, float], Value]]:  # fmt: skip
    """``Value.__<op>__`` and ``Value.__r<op>__`` for a two-operand rule, made from its code
    (``BINARY_TEMPLATE``). A number operand is folded in as a constant, never wrapped as a
    node.

    Example:
        >>> mul, rmul = binary_methods(RULES["mul"])
        >>> mul(Value(2.0), 3).data, rmul(Value(2.0), 4).data
        (6.0, 8.0)
    """
    forward, (local_a, local_b) = _code_of(rule)
    both = f"{local_a}, {local_b}" if rule.code is not None else "local(a, b, out, p)"
    source = BINARY_TEMPLATE.format(method=rule.method, name=rule.name, forward=forward,
                                    where=f"{rule.name}: number operand", local_a=local_a,
                                    local_b=local_b, both=both)  # fmt: skip
    made = _generated(source, rule)
    method, reflected = made[f"__{rule.method}__"], made[f"__r{rule.method}__"]
    method.__doc__ = f"self {rule.symbol} other (the op table's {rule.name!r} rule)."
    reflected.__doc__ = f"other {rule.symbol} self (the op table's {rule.name!r} rule)."
    return method, reflected


def unary_method(rule: Rule) -> Callable[..., Value]:
    """``Value.<method>()`` for a one-operand rule (with its parameter, if it has one), made
    from its code (``UNARY_TEMPLATE``).

    Example:
        >>> unary_method(RULES["exp"])(Value(0.0)).data
        1.0
    """
    name = rule.method or rule.name
    forward, (local,) = _code_of(rule)
    has_param = rule.param is not None
    source = UNARY_TEMPLATE.format(
        method=name, name=rule.name, forward=forward, local=local,
        param=f", param={rule.default!r}" if has_param else "",
        p=f"p = to_float(param, {rule.name + ' ' + str(rule.param)!r})" if has_param
        else "p = None")  # fmt: skip
    method = _generated(source, rule)[name]
    method.__doc__ = f"The op table's {rule.name!r} rule."
    if rule.text:
        derivative = rule.derivative(0, "text", x="self", out="out", p=rule.param or "")
        method.__doc__ = f"The op table's {rule.name!r} rule; ∂/∂self = {derivative}."
    return method


# -- the node ------------------------------------------------------------------------------


class Value:
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

    # Parents live in the node (_a/_da, _b/_db), not in a tuple of their own: one object per
    # node instead of two halves the cyclic collector's work (40 % of a 10^5-step chain,
    # measured). A variadic node sets _a = VARIADIC and keeps (p0, d0, p1, d1, ...) in _da.
    # A number is folded in, never wrapped as a node: _db, which a node with one parent (or
    # a variadic one) leaves free, holds it — the 2 of ``x - 2`` or leaky_relu's slope, as a
    # float; the operands in order, as a tuple, where a number comes first (``2 - x``) or is
    # among a variadic op's — so ``x * 2`` costs what ``x * y`` does.
    # Seven slots and a __dict__, which CPython makes only when an attribute is set on the
    # node: a label (the class attribute below is what a node without one reads), or what a
    # program attaches (``p.m``, ``p.v``: an optimizer's state, as EurekaLabs' micrograd keeps
    # it). 144 bytes a node (tracemalloc, chain held): 8 more than ten fixed slots and no
    # __dict__; a __dict__ beside those ten would cost 32 (measured).
    # A micrograd-style node keeps its _backward closure in _db, which its layout leaves free.
    __slots__ = ("data", "grad", "op", "_a", "_da", "_b", "_db", "__dict__")
    label: str = ""
    # Make numpy defer to us: np.float64(2) * Value -> Value.__rmul__, not an object array.
    __array_ufunc__ = None

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
        if _children or children is not None or local_grads is not None:
            kids = _children if children is None else children
            how = _op if local_grads is None else local_grads
            self.op, self._a, self._da, self._b, self._db = edges_from(kids, how, Value)

    # -- the ops: each line gives Value the method(s) of one rule of the table (rules.py) ---
    __add__, __radd__ = binary_methods(RULES["add"])
    __sub__, __rsub__ = binary_methods(RULES["sub"])
    __mul__, __rmul__ = binary_methods(RULES["mul"])
    __truediv__, __rtruediv__ = binary_methods(RULES["div"])
    __pow__, __rpow__ = binary_methods(RULES["pow"])
    __neg__ = unary_method(RULES["neg"])
    exp = unary_method(RULES["exp"])
    log = unary_method(RULES["log"])
    sqrt = unary_method(RULES["sqrt"])
    tanh = unary_method(RULES["tanh"])
    sigmoid = unary_method(RULES["sigmoid"])
    relu = unary_method(RULES["relu"])
    leaky_relu = unary_method(RULES["leaky_relu"])  # x.leaky_relu(0.2); slope 0.01 if not given
    softplus = unary_method(RULES["softplus"])
    sin = unary_method(RULES["sin"])
    cos = unary_method(RULES["cos"])
    abs = unary_method(RULES["abs"])
    step = unary_method(RULES["step"])
    sign = unary_method(RULES["sign"])
    recip = unary_method(RULES["recip"])

    # -- micrograd's and microgpt's names for the graph (dialects.py) -----------------------
    _backward = property(backward_closure, set_backward_closure, doc=backward_closure.__doc__)
    _op = property(symbol_of, doc=symbol_of.__doc__)
    _prev = property(lambda self: set(self.parents), doc="micrograd's name: the parents, a set")
    _children = property(lambda self: self.parents, doc="microgpt's name for the parents")
    _local_grads = property(lambda self: self.local_grads, doc="microgpt's local_grads (None "
                            "each for a node made micrograd-style)")  # fmt: skip

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
            order = backward_order(self)  # every node, each after all of its consumers
            previous = None
            if any(node.grad for node in order):  # not the usual case: keep what is there
                # Propagate this pass's contributions alone, then add what was there before:
                # propagating accumulated grads would count earlier passes twice.
                previous = [node.grad for node in order]
                for node in order:
                    node.grad = 0.0
            self.grad = seed
            try:
                propagate(order)
            except BaseException:  # a user's _backward closure raised: leave .grad as it was
                for i, node in enumerate(order):
                    node.grad = 0.0 if previous is None else previous[i]
                raise
            if previous is not None:
                for node, before in zip(order, previous):
                    node.grad += before

    def zero_grad(self) -> None:
        """Set ``grad`` to 0.0 on this node and every node below it."""
        with GRAPH_LOCK:
            for node in backward_order(self):
                node.grad = 0.0

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


_GENERATED["Value"] = Value  # the generated methods' type checks and new nodes

# One lock for every backward: the walk writes .grad on nodes that other graphs may share.
GRAPH_LOCK = threading.RLock()


def propagate(order: list[Value]) -> None:
    """The chain rule in place on ``.grad``: each node hands grad × local to each parent.

    ``Value.backward``'s own copy of :func:`chain_rule`, specialised: on a 10^5-node chain it
    takes 22 ms where the dictionary-based walker takes 60 ms plus 19 ms to write ``.grad``
    back.

    Example:
        >>> x = Value(3.0); y = x * x
        >>> y.grad = 1.0; propagate(backward_order(y)); x.grad
        6.0
    """
    for node in order:
        a = node._a
        if a is None:
            continue
        g = node.grad
        if a is VARIADIC:
            edges = node._da
            if type(edges) is ClosureEdges:  # made micrograd-style: its closure adds the grads
                node._backward()
                continue
            for i in range(0, len(edges), 2):
                edges[i].grad += edges[i + 1] * g
            continue
        a.grad += node._da * g
        b = node._b
        if b is not None:
            b.grad += node._db * g


# -- many operands, one node ---------------------------------------------------------------


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
    kinds = set(map(type, args))
    if kinds == _JUST_VALUE:  # attention's dot, a hidden layer's without its bias: no number
        datas = tuple([a.data for a in args])
        out = rule.forward(datas, None)
        if not GRAD_ENABLED.get():
            return _leaf(out)
        edges: list[Any] = [None] * (2 * len(args))  # laid out by slicing, not a Python loop:
        edges[0::2], edges[1::2] = args, rule.local(datas, out, None)  # dot(32): 10.7 µs
        return _node(out, rule.name, VARIADIC, tuple(edges), None, None)
    if not kinds <= _VALUE_OR_FLOAT:  # ints, numpy scalars: checked, made floats
        args = [a if type(a) is Value else to_float(a, rule.name) for a in args]
    datas = tuple([a if type(a) is float else a.data for a in args])
    out = rule.forward(datas, None)
    if not GRAD_ENABLED.get():
        return _leaf(out)
    is_value = [type(a) is Value for a in args]  # the numbers get no edge
    n_numbers = is_value.count(False)
    if n_numbers == len(args):
        return _leaf(out)
    local = rule.local(datas, out, None)
    if n_numbers == 1:  # a hidden neuron's dot: one number, its bias's 1.0, whose pair is
        # cut out rather than both halves masked (this part of a 34-operand dot 7.2 -> 5.7 us;
        # MLP(2, [16, 16, 1]) step 1.02x, interleaved A/B)
        edges = [None] * (2 * len(args))
        edges[0::2], edges[1::2] = args, local
        at = is_value.index(False)
        del edges[2 * at : 2 * at + 2]
    else:
        parents = list(compress(args, is_value))
        edges = [None] * (2 * len(parents))
        edges[0::2], edges[1::2] = parents, list(compress(local, is_value))
    return _node(out, rule.name, VARIADIC, tuple(edges), None, tuple(args))  # _db: operands


_JUST_VALUE = {Value}
_VALUE_OR_FLOAT = {Value, float}


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
