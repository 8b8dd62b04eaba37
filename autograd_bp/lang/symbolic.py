"""The SymPy bridge (SymPy is a core dependency): a Value graph as a SymPy expression, and
its derivatives as formulas.

Both are built from the op table, never from a second list of ops:

* :func:`to_sympy` applies each rule's ``definition`` (the forward in the expression
  language, e.g. sigmoid ``1/(1 + exp(-{x}))``); leaves become symbols named by their labels.
* :func:`derivative` runs reverse mode *symbolically*: each node hands its adjoint times the
  rule's ``formula`` (∂out/∂operand) to its operands — the same chain rule ``backward`` runs
  on numbers — then simplifies. The tests compare it with ``sympy.diff``.

An op added with ``ops.register`` works here as soon as its ``definition`` and ``formula``
are given.

Example:
    >>> from autograd_bp import parse
    >>> y = parse("sigmoid(w*x + b)", w=0.4, x=0.5, b=0.1)
    >>> to_sympy(y)
    1/(exp(-b - w*x) + 1)
    >>> w = y.parents[0].parents[0].parents[0]
    >>> derivative(y, w)
    x*exp(-b - w*x)/(exp(-b - w*x) + 1)**2
"""

from __future__ import annotations

from typing import Any

from .._io import require
from ..core import graph
from ..core.engine import Value, backward_order

__all__ = ["derivative", "sympy_module", "to_sympy"]


def _check_value(where: str, what: str, v: Any) -> None:
    if not isinstance(v, Value):
        raise TypeError(f"{where}: {what} must be a Value, got {type(v).__name__} {v!r}")


def sympy_module() -> Any:
    """SymPy, or an ImportError saying which extra installs it."""
    return require("sympy", "symbolic")


def _number(sp: Any, x: float) -> Any:
    """A float as an exact SymPy number when it is one (0.5 -> 1/2, 2.0 -> 2)."""
    import math

    if not math.isfinite(x):
        return sp.Float(x)
    return sp.Rational(repr(float(x)))


def _caller(sp: Any) -> Any:
    """``call(name, args)`` for the formula walker: SymPy's own elementary functions, the
    few non-smooth helpers, then any table function through its ``definition``."""
    from ..core.ops import RULES

    def leaky_relu(x: Any, slope: Any) -> Any:
        return sp.Piecewise((x, x > 0), (slope * x, True))

    own = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "sin": sp.sin, "cos": sp.cos,
           "tanh": sp.tanh, "abs": sp.Abs, "sign": sp.sign, "relu": lambda x: sp.Max(x, 0),
           "step": lambda x: sp.Heaviside(x, 0), "leaky_relu": leaky_relu}  # fmt: skip

    expanding: set[str] = set()  # a definition in terms of itself stays a plain function

    def call(name: str, args: list[Any]) -> Any:
        if name in own:
            return own[name](*args)
        for rule in RULES.values():
            if rule.function == name and rule.definition and name not in expanding:
                env = dict(zip(("x", "y"), args))
                if rule.param is not None and len(args) > rule.arity:
                    env["p"] = args[rule.arity]
                expanding.add(name)
                try:
                    return graph.evaluate_formula(rule.definition, env, call)
                finally:
                    expanding.discard(name)
        return sp.Function(name)(*args)

    return call


def _env(sp: Any, node: Value, sym: dict[Value, Any], slot: int | None = None) -> dict[str, Any]:
    """Placeholder values for ``node``'s rule: operands, output, parameter (and ``pair``)."""
    ops = [sym[a] if type(a) is Value else _number(sp, float(a)) for a in node.operands]
    env: dict[str, Any] = {}
    if node in sym:
        env["out"] = sym[node]
    if getattr(node.rule, "variadic", False):
        if slot is not None:
            env["x"] = ops[slot]
            if slot ^ 1 < len(ops):
                env["pair"] = ops[slot ^ 1]
    else:
        env.update(zip(("x", "y"), ops))
    p = node.param
    if p is not None:
        env["p"] = _number(sp, float(p))
    return env


def _forward(sp: Any, node: Value, sym: dict[Value, Any], call: Any) -> Any:
    rule = node.rule
    assert rule is not None
    ops = [sym[a] if type(a) is Value else _number(sp, float(a)) for a in node.operands]
    if rule.name == "sum":
        return sp.Add(*ops)
    if rule.name == "dot":
        return sp.Add(*(w * x for w, x in zip(ops[0::2], ops[1::2])))
    if rule.definition:
        return graph.evaluate_formula(rule.definition, _env(sp, node, sym), call)
    name = rule.function or rule.name
    extra = [_number(sp, float(node.param))] if node.param is not None else []
    return call(name, [*ops, *extra])


def to_sympy(value: Value) -> Any:
    """The graph below ``value`` as a SymPy expression; leaves are real symbols named by
    their labels (unlabelled leaves are their numbers, exact: 0.5 becomes 1/2).

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(2.0, label="x")
        >>> to_sympy((x * x + 1).log())
        log(x**2 + 1)
    """
    _check_value("to_sympy", "value", value)
    sp = sympy_module()
    return _symbols(sp, value)[value]


def _symbols(sp: Any, value: Value) -> dict[Value, Any]:
    call = _caller(sp)
    sym: dict[Value, Any] = {}
    for node in reversed(backward_order(value)):  # operands first
        if node.is_leaf:
            sym[node] = sp.Symbol(node.label, real=True) if node.label else _number(sp, node.data)
        else:
            sym[node] = _forward(sp, node, sym, call)
    return sym


def derivative(value: Value, wrt: Value, simplify: bool = True) -> Any:
    """The simplified symbolic ∂value/∂wrt, by reverse mode over the op table's formulas
    (``simplify=False``: as the chain rule assembles it, which is instant even where SymPy's
    simplification would take minutes).

    Example:
        >>> from autograd_bp import Value
        >>> x, y = Value(3.0, label="x"), Value(2.0, label="y")
        >>> derivative(x * x * y, x)
        2*x*y
    """
    _check_value("derivative", "value", value)
    _check_value("derivative", "wrt", wrt)
    sp = sympy_module()
    sym = _symbols(sp, value)
    call = _caller(sp)
    adjoint: dict[Value, Any] = {value: sp.Integer(1)}
    for node in backward_order(value):  # consumers first: each adjoint is complete here
        g = adjoint.get(node)
        if g is None or node.is_leaf:
            continue
        formulas = node.rule.formula
        for slot, parent, _ in graph.edges(node):
            local = graph.evaluate_formula(formulas[slot % len(formulas)],
                                           _env(sp, node, sym, slot), call)  # fmt: skip
            adjoint[parent] = adjoint.get(parent, sp.Integer(0)) + g * local
    result = adjoint.get(wrt, sp.Integer(0))
    return _simplest(sp, result) if simplify else result


MAX_SIMPLIFY_OPS = 120  # larger derivatives are shown as the chain rule assembles them


def _simplest(sp: Any, expr: Any) -> Any:
    """The shortest of a few simplifications that bring in no new functions (SymPy likes to
    turn a sigmoid's derivative into 1/(4 cosh²), which is no help to a learner)."""
    functions = {type(f) for f in expr.atoms(sp.Function)}
    if sp.count_ops(expr) > MAX_SIMPLIFY_OPS:  # simplify's cost explodes: the worked example's
        return expr  # ∂E/∂w1 (≈ 300 ops) does not finish in minutes
    candidates = [sp.simplify(expr), sp.together(expr), sp.factor(sp.cancel(expr)), expr]
    honest = [c for c in candidates if {type(f) for f in c.atoms(sp.Function)} <= functions]
    return min(honest, key=sp.count_ops)
