"""The op table: every op's forward and local derivatives, written once.

Each :class:`Rule` holds

* ``forward(*xs, param)`` on plain floats, raising a clear error on a domain violation, and
* ``local(*xs, out, param)``, the local derivatives ∂out/∂x_i, written with ordinary
  arithmetic and the lenient helpers below, so the *same* expression runs on floats (at
  forward time, stored on the node) and on :class:`~autograd_bp.engine.Value` objects
  (``grad(..., create_graph=True)``), which is where higher-order derivatives come from.

This module imports nothing of the package: the helpers recognise a ``Value`` by duck
typing (anything that is not a plain ``float``), which keeps ``engine`` -> ``ops`` one-way.

Example:
    >>> RULES["mul"].local(3.0, 4.0, 12.0, None)
    (4.0, 3.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Rule", "RULES", "DomainError", "data_of"]

INF = math.inf
NAN = math.nan


class DomainError(ValueError):
    """An op was applied outside its domain, e.g. ``log`` of a negative number.

    Example:
        >>> from autograd_bp import Value
        >>> Value(-1.0).log()
        Traceback (most recent call last):
        ...
        autograd_bp.ops.DomainError: log: operand must be positive, got -1.0
    """


@dataclass(frozen=True)
class Rule:
    """One op: its name, the symbol diagrams show, forward on floats and local derivatives.

    Example:
        >>> r = RULES["tanh"]
        >>> out = r.forward(0.5, None)
        >>> round(r.local(0.5, out, None)[0], 6)
        0.786448
    """

    name: str
    symbol: str
    forward: Callable[..., float]
    local: Callable[..., tuple[Any, ...]]
    arity: int  # 1, 2, or 0 for n-ary rules, which take their operands as one tuple


# --- helpers valid on floats *and* Values -----------------------------------------------
# On floats they are IEEE-lenient (log(0) = -inf, 1/0 = inf): a local derivative may be
# infinite at the edge of the domain without the forward value being an error.


def data_of(x: Any) -> float:
    """The float inside ``x`` (``x`` itself for a float, ``x.data`` for a Value)."""
    return x if type(x) is float else x.data


def _is_float(x: Any) -> bool:
    return type(x) is float


def recip(x: Any) -> Any:
    """1/x; on floats 1/0 gives a signed infinity instead of raising."""
    if _is_float(x):
        return math.copysign(INF, x) if x == 0.0 else 1.0 / x
    return 1.0 / x


def power(x: Any, y: Any) -> Any:
    """x**y; on floats 0**negative is inf and an invalid power is nan, never complex."""
    if _is_float(x) and _is_float(y):
        try:
            r = x**y
        except ZeroDivisionError:
            return INF
        return NAN if isinstance(r, complex) else r
    return x**y


def log(x: Any) -> Any:
    """Natural log; on floats log(0) = -inf and log(negative) = nan."""
    if _is_float(x):
        return math.log(x) if x > 0 else (-INF if x == 0 else NAN)
    return x.log()


def sin(x: Any) -> Any:
    """sin on floats or Values."""
    return math.sin(x) if _is_float(x) else x.sin()


def cos(x: Any) -> Any:
    """cos on floats or Values."""
    return math.cos(x) if _is_float(x) else x.cos()


def sigmoid(x: Any) -> Any:
    """Logistic sigmoid on floats or Values."""
    return _sigmoid(x) if _is_float(x) else x.sigmoid()


def step(x: Any) -> float:
    """1.0 where x > 0 else 0.0 (a constant: its own derivative is zero almost everywhere)."""
    return 1.0 if data_of(x) > 0 else 0.0


def sign(x: Any) -> float:
    """The sign of x as a float constant (0.0 at 0, as PyTorch's abs backward)."""
    d = data_of(x)
    return 1.0 if d > 0 else (-1.0 if d < 0 else 0.0)


# --- forwards on floats: stable, and loud on domain errors --------------------------------


def _fmt(x: float) -> str:
    return repr(float(x))


def _div(a: float, b: float, _: None) -> float:
    if b == 0.0:
        raise ZeroDivisionError(f"div: division by zero ({_fmt(a)} / {_fmt(b)})")
    return a / b


def _pow(a: float, b: float, _: None) -> float:
    if a == 0.0 and b < 0:
        raise ZeroDivisionError(f"pow: 0 raised to the negative power {_fmt(b)}")
    if a < 0 and math.isfinite(b) and b != int(b):
        raise DomainError(
            f"pow: negative base {_fmt(a)} to the non-integer power {_fmt(b)} is not real"
        )
    try:
        return a**b
    except OverflowError:
        raise OverflowError(f"pow: {_fmt(a)} ** {_fmt(b)} overflows a float") from None


def _exp(a: float, _: None) -> float:
    try:
        return math.exp(a)
    except OverflowError:
        raise OverflowError(f"exp: exp({_fmt(a)}) overflows a float") from None


def _log(a: float, _: None) -> float:
    if a <= 0:
        raise DomainError(f"log: operand must be positive, got {_fmt(a)}")
    return math.log(a)


def _sqrt(a: float, _: None) -> float:
    if a < 0:
        raise DomainError(f"sqrt: operand must be non-negative, got {_fmt(a)}")
    return math.sqrt(a)


def _sigmoid(a: float, _: None = None) -> float:
    # Two branches so exp never sees a large positive argument (no overflow at ±1000).
    if a >= 0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def _softplus(a: float, _: None) -> float:
    # log(1 + e^a) = max(a, 0) + log1p(e^-|a|): stable for every finite a.
    return max(a, 0.0) + math.log1p(math.exp(-abs(a)))


def _dot(xs: tuple[float, ...], _: None) -> float:
    return sum(map(float.__mul__, xs[0::2], xs[1::2]), 0.0)


def _swap_pairs(xs: tuple[Any, ...]) -> tuple[Any, ...]:
    """(w0, x0, w1, x1, ...) -> (x0, w0, x1, w1, ...): ∂(w·x)/∂w_i = x_i and vice versa."""
    out: list[Any] = [None] * len(xs)
    out[0::2] = xs[1::2]
    out[1::2] = xs[0::2]
    return tuple(out)


def _pow_base_local(a: Any, b: Any) -> Any:
    """∂(a**b)/∂a = b·a**(b−1); exactly 0 when b = 0 (a**0 is constant, even at a = 0)."""
    return 0.0 if data_of(b) == 0.0 else b * power(a, b - 1.0)


def _pow_exponent_local(a: Any, out: Any) -> Any:
    """∂(a**b)/∂b = a**b · ln a, defined for a > 0; 0 where the power is 0, else nan."""
    if data_of(a) > 0:
        return out * log(a)
    return 0.0 if data_of(out) == 0.0 else NAN


def _unary(name: str, forward: Callable[..., float], local: Callable[..., tuple[Any, ...]]) -> Rule:
    return Rule(name, name, forward, local, 1)


# The table. ``local`` receives the operands, then ``out`` (the result: a float at forward
# time, the result node itself under create_graph), then ``param`` (a fixed op parameter
# such as leaky_relu's slope, else None).
RULES: dict[str, Rule] = {
    r.name: r
    for r in [
        Rule("add", "+", lambda a, b, _: a + b, lambda a, b, out, _: (1.0, 1.0), 2),
        Rule("sub", "-", lambda a, b, _: a - b, lambda a, b, out, _: (1.0, -1.0), 2),
        Rule("mul", "*", lambda a, b, _: a * b, lambda a, b, out, _: (b, a), 2),
        Rule("div", "/", _div, lambda a, b, out, _: (recip(b), -out * recip(b)), 2),
        Rule(
            "pow",
            "**",
            _pow,
            lambda a, b, out, _: (_pow_base_local(a, b), _pow_exponent_local(a, out)),
            2,
        ),
        Rule("neg", "-", lambda a, _: -a, lambda a, out, _: (-1.0,), 1),
        _unary("exp", _exp, lambda a, out, _: (out,)),
        _unary("log", _log, lambda a, out, _: (recip(a),)),
        _unary("sqrt", _sqrt, lambda a, out, _: (0.5 * recip(out),)),
        _unary("tanh", lambda a, _: math.tanh(a), lambda a, out, _: (1.0 - out * out,)),
        _unary("sigmoid", _sigmoid, lambda a, out, _: (out * (1.0 - out),)),
        _unary("relu", lambda a, _: a if a > 0 else 0.0, lambda a, out, _: (step(a),)),
        _unary(
            "leaky_relu",
            lambda a, slope: a if a > 0 else slope * a,
            lambda a, out, slope: (1.0 if data_of(a) > 0 else slope,),
        ),
        _unary("softplus", _softplus, lambda a, out, _: (sigmoid(a),)),
        _unary("sin", lambda a, _: math.sin(a), lambda a, out, _: (cos(a),)),
        _unary("cos", lambda a, _: math.cos(a), lambda a, out, _: (-sin(a),)),
        _unary("abs", lambda a, _: abs(a), lambda a, out, _: (sign(a),)),
        # n-ary: one node however many terms, so a 10^5-term sum is not a 10^5-deep chain.
        Rule("sum", "+", lambda xs, _: sum(xs, 0.0), lambda xs, out, _: (1.0,) * len(xs), 0),
        # dot(w0, x0, w1, x1, ...) = Σ w_i·x_i: a neuron's weighted input z in one node, whose
        # local derivatives are exactly the seed's ∂net/∂w = out_h and ∂net/∂out_h = w.
        Rule("dot", "·", _dot, lambda xs, out, _: _swap_pairs(xs), 0),
    ]
}
