"""The op table's public face: :class:`Rule`, ``RULES``, and :func:`register` to add an op.

The table itself is in :mod:`autograd_bp.core.rules`, the numbers behind it (stable
forwards, ``DomainError``, the lenient helpers a local derivative is written with) in
:mod:`autograd_bp.core.numerics`; both are re-exported here, the path users import them
from. ``register`` lives here, above the engine, so it can check a new rule on real Values
and give ``Value`` its method — no hook for the engine to listen on.

Example:
    >>> RULES["mul"].local(3.0, 4.0, 12.0, None)
    (4.0, 3.0)
"""

from __future__ import annotations

import dataclasses
import keyword
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .engine import Value, backward_order, binary_methods, unary_method
from .numerics import (
    BLOCKED,
    DomainError,
    cos,
    data_of,
    log,
    power,
    recip,
    sigmoid,
    sign,
    sin,
    step,
    where_positive,
)
from .rules import RULES, Rule

__all__ = ["BLOCKED", "RESERVED_FUNCTION_NAMES", "DomainError", "RULES", "Rule", "apply", "cos",
           "data_of", "log", "power", "probe", "recip", "register", "sigmoid", "sign", "sin",
           "step", "where_positive"]  # fmt: skip

# Function names a registered op may not take, because the expression language reads them
# as something else: its constants (lang.expr.CONSTANTS, a test keeps the two equal) and the
# op table's formula placeholders ({out}, {pair}); single letters are refused too (a function
# ``y`` would make every expression with a variable ``y`` a call).
RESERVED_FUNCTION_NAMES = frozenset({"pi", "e", "out", "pair"})

# Where a new rule is tried out: the first of these (for a binary op, consecutive pairs) at
# which its forward gives a finite number.
PROBE_POINTS = (0.7, 1.3, 2.1, -0.6, -1.7, 0.35, 3.7, -2.9)


# -- methods for rules registered at run time (checked on every call) -------------------


def methods_for(rule: Rule) -> dict[str, Callable[..., Value]]:
    """The Value method(s) a rule declares, by attribute name (``register`` attaches them).

    Unlike the table's own ops, a registered rule's results are checked on every call: a
    forward or local derivative that is not a real number (a string, a complex number) is
    refused with the op's name.

    Example:
        >>> sorted(methods_for(RULES["mul"]))
        ['__mul__', '__rmul__']
    """
    checked = _checked(rule)
    if rule.arity == 2:
        return dict(zip((f"__{rule.method}__", f"__r{rule.method}__"), binary_methods(checked)))
    return {rule.method or rule.name: unary_method(checked)}


def apply(rule: Rule, x: Value, *more: Any) -> Value:
    """``rule`` applied to ``x`` and ``more`` (the other operand, or the parameter): what its
    Value method does, for a rule that may have none.

    Example:
        >>> apply(RULES["mul"], Value(2.0), 3).data
        6.0
    """
    if rule.arity == 2:
        return binary_methods(rule)[0](x, *more)
    return unary_method(rule)(x, *more)


def _checked(rule: Rule) -> Rule:
    """``rule`` with its forward and local derivatives checked to give real numbers."""
    forward, local, name = rule.forward, rule.local, rule.name

    def checked_forward(*args: Any) -> float:
        return real(forward(*args), f"{name}: forward")

    def checked_local(*args: Any) -> tuple[Any, ...]:
        return tuple(real(d, f"{name}: local derivative") for d in local(*args))

    return dataclasses.replace(rule, forward=checked_forward, local=checked_local, code=None)


def real(x: Any, what: str) -> float:
    """``x`` as a float if it is a real number; a complex number is a :class:`DomainError`,
    anything else (a string, None, a bool) a TypeError, both naming ``what``.

    Example:
        >>> real(2, "f: forward"), real(BLOCKED, "f: local derivative")
        (2.0, 0.0)
    """
    if isinstance(x, float):
        return x if type(x) is float or x is BLOCKED else float(x)
    if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        return float(x)
    if isinstance(x, (complex, np.complexfloating)):
        raise DomainError(f"{what} gave the complex number {x!r}: not real (outside the "
                          "op's domain?)")  # fmt: skip
    raise TypeError(f"{what} must give a real number, got {type(x).__name__} {x!r}")



def register(rule: Rule) -> Rule:
    """Add a user-defined op to the table at runtime (HIPS autograd's ``defvjp``, as data).

    With nothing else changed, the op then works as a ``Value`` method (``rule.method``), in
    the expression language (``rule.function``), in diagrams, explanations, ``grad``,
    gradcheck and ``compile``. Its ``forward`` and ``local`` must accept floats, and — for
    ``compile`` and ``create_graph`` — numpy arrays and Values (write them with arithmetic
    and this module's helpers: ``recip``, ``log``, ``sin``, ``sigmoid``, ``step``, ...).

    Refused, with the reason: a name, method, function or symbol another op has; a function
    name the expression language reads otherwise (one letter, ``pi``, ``e``, ``out``,
    ``pair``); a forward that gives no real number at the probe points; a local derivative
    that becomes a plain number on Values (e.g. written with ``math.cos``: ``create_graph``
    would treat it as a constant) — unless the rule says ``first_order=True``, and then
    ``grad(..., create_graph=True)`` through it is refused instead. At call time a forward or
    local derivative that gives a string or a complex number is refused with the op's name.

    Example:
        >>> softsign = Rule(
        ...     "softsign_demo", lambda x, _: x / (1 + abs(x)),
        ...     lambda x, out, _: (1 / (1 + abs(x)) ** 2,),
        ...     method="softsign_demo", function="softsign_demo",
        ...     formula=("1/(1 + abs({x}))**2",), text=("1/(1 + |{x}|)²",),
        ...     latex=("\\\\frac{1}{(1+|{x}|)^2}",))
        >>> _ = register(softsign)
        >>> y = Value(1.0).softsign_demo()
        >>> y.data, y.local_grads
        (0.5, (0.25,))
    """
    if not isinstance(rule, Rule):
        raise TypeError(f"register: expected a Rule, got {type(rule).__name__}")
    if RULES.get(rule.name) is rule:
        return rule  # registered already: nothing to do
    _refuse_clashes(rule)
    methods = methods_for(rule) if rule.method is not None else {}
    for attr in methods:
        if hasattr(Value, attr):
            raise ValueError(f"register: Value.{attr} exists already; choose another method name")
    probe(rule)
    for attr, fn in methods.items():  # all checks passed: now change Value and the table
        setattr(Value, attr, fn)
    RULES[rule.name] = rule
    return rule


def _refuse_clashes(rule: Rule) -> None:
    """A rule's names must be its own, and its function a name the parser reads as one."""
    if rule.variadic:  # sum, dot, logsumexp are reached through engine functions, not methods
        raise ValueError(f"register: {rule.name!r} is variadic; register one- or two-operand ops")
    if rule.name in RULES:
        raise ValueError(f"register: an op named {rule.name!r} exists already")
    for field in ("method", "function"):
        name = getattr(rule, field)
        if name is not None and (not name.isidentifier() or keyword.iskeyword(name)):
            raise ValueError(f"register: {field} must be a Python identifier, got {name!r}")
    fn = rule.function
    if fn is not None and (len(fn) == 1 or fn in RESERVED_FUNCTION_NAMES):
        raise ValueError(f"register: function name {fn!r} would shadow a variable or constant "
                         "of the expression language; choose a longer name")  # fmt: skip
    for other in RULES.values():
        for field in ("method", "function", "symbol"):
            taken = getattr(other, field)
            if taken is not None and taken == getattr(rule, field):
                raise ValueError(f"register: {field} {taken!r} belongs to op {other.name!r}")


def probe(rule: Rule) -> None:
    """Try ``rule`` out on floats and on Values; raise ValueError if it would give wrong results.

    The forward must give a finite real number at one of ``PROBE_POINTS`` and just beside it.
    There each local derivative must give the same number on floats and on Values, and one
    that changes between the point and its neighbour must, on Values, be a Value computed
    from the operands or the result, so ``create_graph`` differentiates it again (skipped for
    a rule with ``first_order=True``). A derivative constant near the point (``step``'s, 0 or
    1) may stay a number: its own derivative there is 0.

    Example:
        >>> import math
        >>> bad = Rule("sin_math", lambda x, _: math.sin(x), lambda x, out, _: (math.cos(x),))
        >>> probe(bad)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: register: op 'sin_math': its local derivative for operand 0 is a plain number...
    """
    param = _probe_param(rule)
    point, nearby = _domain_point(rule, param)
    here, beside = _float_locals(rule, point, param), _float_locals(rule, nearby, param)
    if rule.first_order:
        return
    operands = [Value(x) for x in point]
    out = apply(rule, *operands, *([param] if rule.param is not None else []))
    try:
        on_values = tuple(rule.local(*operands, out, param))
    except (TypeError, AttributeError, ValueError, ArithmeticError) as error:
        raise ValueError(f"register: op {rule.name!r}: local fails on Values ({error}); "
                         f"create_graph runs it on Values. {_HOW}") from error
    sources = {out, *operands}
    for i, (d, d_float, d_beside) in enumerate(zip(on_values, here, beside)):
        _check_local(rule, i, d, d_float, d_float != d_beside, sources)


_HOW = ("Write it with arithmetic and autograd_bp.core.ops helpers (recip, log, sin, cos, "
        "sigmoid, ...), or declare first_order=True")  # fmt: skip


def _probe_param(rule: Rule) -> float | None:
    if rule.param is None:
        return None
    return rule.default if rule.default is not None else 0.5


def _domain_point(rule: Rule, param: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The first probe point (one number per operand) where the forward gives a finite real,
    there and a step of about 10^-3 beside it."""
    n = len(PROBE_POINTS)
    for i in range(n):
        point = tuple(PROBE_POINTS[(i + k) % n] for k in range(rule.arity))
        nearby = tuple(x + 1e-3 * (1.0 + abs(x)) for x in point)
        if _finite_at(rule, point, param) and _finite_at(rule, nearby, param):
            return point, nearby
    raise ValueError(f"register: op {rule.name!r}: its forward gave no finite real number at "
                     f"any of the probe points {PROBE_POINTS}")  # fmt: skip


def _finite_at(rule: Rule, xs: tuple[float, ...], param: Any) -> bool:
    """Whether the forward gives a finite real at ``xs`` (a string is refused at once)."""
    try:
        out = real(rule.forward(*xs, param), f"register: op {rule.name!r}: forward")
    except (ValueError, ArithmeticError):  # outside the domain here (DomainError, complex)
        return False
    return math.isfinite(out)


def _float_locals(rule: Rule, xs: tuple[float, ...], param: Any) -> list[float]:
    where = f"register: op {rule.name!r}: local"
    locals_ = tuple(rule.local(*xs, real(rule.forward(*xs, param), where), param))
    if len(locals_) != rule.arity:
        raise ValueError(f"{where} gave {len(locals_)} derivatives for {rule.arity} operand(s)")
    return [real(d, where) for d in locals_]


def _check_local(rule: Rule, i: int, d: Any, expected: float, varies: bool,
                 sources: set[Value]) -> None:  # fmt: skip
    where = f"register: op {rule.name!r}: its local derivative for operand {i}"
    if type(d) is Value:
        if varies and not any(node in sources for node in backward_order(d)):
            raise ValueError(f"{where} is a Value computed from neither the operands nor the "
                             f"result, so create_graph would treat it as a constant. {_HOW}")
        value = d.data
    elif varies:
        raise ValueError(f"{where} is a plain number when given Values (written with math "
                         f"functions?), so create_graph would treat it as a constant. {_HOW}")
    else:
        value = real(d, where)
    if not (value == expected or math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-12)):
        raise ValueError(f"{where} is {value!r} on Values but {expected!r} on floats")
