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

import numpy as np

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


# --- helpers valid on floats, numpy arrays *and* Values ----------------------------------
# Floats: the dynamic engine at forward time. Arrays: the compiled tape replaying a whole
# batch (autograd_bp.tape). Anything else: a Value, under create_graph. On floats and arrays
# they are IEEE-lenient (log(0) = -inf, 1/0 = inf): a local derivative may be infinite at
# the edge of the domain without the forward value being an error.

_ndarray = np.ndarray


def data_of(x: Any) -> Any:
    """The number(s) inside ``x``: a float or array as it is, ``x.data`` for a Value."""
    return x if type(x) is float or type(x) is _ndarray else x.data


def _is_float(x: Any) -> bool:
    return type(x) is float


def _is_numeric(x: Any) -> bool:
    return type(x) is float or type(x) is _ndarray


def recip(x: Any) -> Any:
    """1/x; on numbers 1/0 gives a signed infinity instead of raising."""
    if _is_float(x):
        return math.copysign(INF, x) if x == 0.0 else 1.0 / x
    if type(x) is _ndarray:
        with np.errstate(divide="ignore"):
            return 1.0 / x
    return 1.0 / x


def power(x: Any, y: Any) -> Any:
    """x**y; on numbers 0**negative is inf and an invalid power is nan, never complex."""
    if _is_float(x) and _is_float(y):
        try:
            r = x**y
        except ZeroDivisionError:
            return INF
        return NAN if isinstance(r, complex) else r
    if _is_numeric(x) and _is_numeric(y):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.power(x, y)
    return x**y


def log(x: Any) -> Any:
    """Natural log; on numbers log(0) = -inf and log(negative) = nan."""
    if _is_float(x):
        return math.log(x) if x > 0 else (-INF if x == 0 else NAN)
    if type(x) is _ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)
    return x.log()


def sin(x: Any) -> Any:
    """sin on numbers or Values."""
    if _is_float(x):
        return math.sin(x)
    return np.sin(x) if type(x) is _ndarray else x.sin()


def cos(x: Any) -> Any:
    """cos on numbers or Values."""
    if _is_float(x):
        return math.cos(x)
    return np.cos(x) if type(x) is _ndarray else x.cos()


def sigmoid(x: Any) -> Any:
    """Logistic sigmoid on numbers or Values."""
    return _sigmoid(x) if _is_numeric(x) else x.sigmoid()


def step(x: Any) -> Any:
    """1.0 where x > 0 else 0.0 (a constant: its own derivative is zero almost everywhere)."""
    d = data_of(x)
    if type(d) is _ndarray:
        return d > 0  # a boolean mask multiplies like 1.0/0.0, without a conversion
    return 1.0 if d > 0 else 0.0


def sign(x: Any) -> Any:
    """The sign of x as a constant (0.0 at 0, as PyTorch's abs backward)."""
    d = data_of(x)
    if type(d) is _ndarray:
        return np.sign(d)
    return 1.0 if d > 0 else (-1.0 if d < 0 else 0.0)


def where_positive(x: Any, then: Any, otherwise: Any) -> Any:
    """``then`` where x > 0 else ``otherwise`` (constants, chosen by the data)."""
    d = data_of(x)
    if type(d) is _ndarray:
        return np.where(d > 0, then, otherwise)
    return then if d > 0 else otherwise


# --- forwards: stable, and loud on domain errors ------------------------------------------
# Each takes floats (one example) or arrays (a batch); an error on a batch names the first
# offending example.


def _fmt(x: Any) -> str:
    return repr(float(x))


def _first(mask: Any, *arrays: Any) -> tuple[int, list[Any]]:
    """The example (last axis) of the first place where ``mask`` holds, and the arrays'
    values there."""
    where = tuple(np.argwhere(mask)[0])
    return int(where[-1]), [np.broadcast_to(a, np.shape(mask))[where] for a in arrays]


def _div(a: Any, b: Any, _: None) -> Any:
    if _is_float(b):
        if b == 0.0:
            raise ZeroDivisionError(f"div: division by zero ({_fmt(a)} / {_fmt(b)})")
        return a / b
    zero = np.asarray(b) == 0.0
    if zero.any():
        i, (x, y) = _first(zero, a, b)
        raise ZeroDivisionError(f"div: division by zero ({_fmt(x)} / {_fmt(y)}) in example {i}")
    return a / b


def _pow(a: Any, b: Any, _: None) -> Any:
    if _is_float(a) and _is_float(b):
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
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    zero_neg = (a_ == 0.0) & (b_ < 0)
    if zero_neg.any():
        i, (_, y) = _first(zero_neg, a_, b_)
        raise ZeroDivisionError(f"pow: 0 raised to the negative power {_fmt(y)} in example {i}")
    fractional = (a_ < 0) & np.isfinite(b_) & (b_ != np.floor(b_))
    if fractional.any():
        i, (x, y) = _first(fractional, a_, b_)
        raise DomainError(f"pow: negative base {_fmt(x)} to the non-integer power {_fmt(y)} "
                          f"is not real (example {i})")  # fmt: skip
    with np.errstate(over="ignore"):
        out = np.power(a_, b_)
    _check_overflow("pow", out, a_)
    return out


def _check_overflow(name: str, out: Any, a: Any) -> None:
    blown = np.isinf(out) & np.isfinite(a)
    if blown.any():
        i, (x,) = _first(blown, a)
        raise OverflowError(f"{name}: overflows a float at operand {_fmt(x)} (example {i})")


def _exp(a: Any, _: None) -> Any:
    if _is_float(a):
        try:
            return math.exp(a)
        except OverflowError:
            raise OverflowError(f"exp: exp({_fmt(a)}) overflows a float") from None
    with np.errstate(over="ignore"):
        out = np.exp(a)
    _check_overflow("exp", out, a)
    return out


def _log(a: Any, _: None) -> Any:
    if _is_float(a):
        if a <= 0:
            raise DomainError(f"log: operand must be positive, got {_fmt(a)}")
        return math.log(a)
    bad = a <= 0
    if bad.any():
        i, (x,) = _first(bad, a)
        raise DomainError(f"log: operand must be positive, got {_fmt(x)} in example {i}")
    return np.log(a)


def _sqrt(a: Any, _: None) -> Any:
    if _is_float(a):
        if a < 0:
            raise DomainError(f"sqrt: operand must be non-negative, got {_fmt(a)}")
        return math.sqrt(a)
    bad = a < 0
    if bad.any():
        i, (x,) = _first(bad, a)
        raise DomainError(f"sqrt: operand must be non-negative, got {_fmt(x)} in example {i}")
    return np.sqrt(a)


def _tanh(a: Any, _: None) -> Any:
    return math.tanh(a) if _is_float(a) else np.tanh(a)


def _sigmoid(a: Any, _: None = None) -> Any:
    # Two branches so exp never sees a large positive argument (no overflow at ±1000).
    if _is_float(a):
        if a >= 0:
            return 1.0 / (1.0 + math.exp(-a))
        e = math.exp(a)
        return e / (1.0 + e)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus(a: Any, _: None) -> Any:
    # log(1 + e^a) = max(a, 0) + log1p(e^-|a|): stable for every finite a.
    if _is_float(a):
        return max(a, 0.0) + math.log1p(math.exp(-abs(a)))
    return np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a)))


def _relu(a: Any, _: None) -> Any:
    if _is_float(a):
        return a if a > 0 else 0.0
    return np.maximum(a, 0.0)


def _leaky_relu(a: Any, slope: float) -> Any:
    if _is_float(a):
        return a if a > 0 else slope * a
    return np.where(a > 0, a, slope * a)


def _sin(a: Any, _: None) -> Any:
    return math.sin(a) if _is_float(a) else np.sin(a)


def _cos(a: Any, _: None) -> Any:
    return math.cos(a) if _is_float(a) else np.cos(a)


# n-ary rules get their operands as one sequence: a tuple of floats (or of Values) from the
# engine, or an array from the tape whose first axis runs over the operands (the other axes:
# same-shaped ops stacked together, then the batch).


def _sum(xs: Any, _: None) -> Any:
    return xs.sum(axis=0) if type(xs) is _ndarray else sum(xs, 0.0)


def _sum_local(xs: Any, out: Any, _: None) -> Any:
    if type(xs) is _ndarray:  # ones shaped to broadcast over the operand block
        return np.ones((len(xs),) + (1,) * (xs.ndim - 1))
    return (1.0,) * len(xs)


def _dot(xs: Any, _: None) -> Any:
    if type(xs) is _ndarray:
        return np.einsum("k...,k...->...", xs[0::2], xs[1::2])
    return sum(map(float.__mul__, xs[0::2], xs[1::2]), 0.0)


def _swap_pairs(xs: Any) -> Any:
    """(w0, x0, w1, x1, ...) -> (x0, w0, x1, w1, ...): ∂(w·x)/∂w_i = x_i and vice versa."""
    if type(xs) is _ndarray:
        out = np.empty_like(xs)
    else:
        out = [None] * len(xs)
    out[0::2] = xs[1::2]
    out[1::2] = xs[0::2]
    return out if type(xs) is _ndarray else tuple(out)


def _pow_base_local(a: Any, b: Any) -> Any:
    """∂(a**b)/∂a = b·a**(b−1); exactly 0 when b = 0 (a**0 is constant, even at a = 0)."""
    if type(data_of(b)) is _ndarray or type(data_of(a)) is _ndarray:
        return np.where(np.asarray(data_of(b)) == 0.0, 0.0, b * power(a, b - 1.0))
    return 0.0 if data_of(b) == 0.0 else b * power(a, b - 1.0)


def _pow_exponent_local(a: Any, out: Any) -> Any:
    """∂(a**b)/∂b = a**b · ln a, defined for a > 0; 0 where the power is 0, else nan."""
    d = data_of(a)
    if type(d) is _ndarray or type(data_of(out)) is _ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 0, out * log(np.where(d > 0, d, 1.0)),
                            np.where(data_of(out) == 0.0, 0.0, NAN))  # fmt: skip
    if d > 0:
        return out * log(a)
    return 0.0 if data_of(out) == 0.0 else NAN



def _logsumexp(xs: Any, _: None) -> Any:
    # log Σ e^x_i = m + log Σ e^(x_i − m) with m = max x_i: no overflow, recomputed for
    # every input (a shift frozen at trace time would overflow on other examples).
    if type(xs) is _ndarray:
        m = xs.max(axis=0)
        shift = np.where(np.isfinite(m), m, 0.0)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            return shift + np.log(np.exp(xs - shift).sum(axis=0))
    m = max(xs)
    if m == INF or m == -INF:
        return NAN if any(x != x for x in xs) else m
    return m + math.log(sum([math.exp(x - m) for x in xs]))


def _logsumexp_local(xs: Any, out: Any, _: None) -> Any:
    """∂/∂x_i = e^(x_i − out): the softmax of the operands."""
    if type(xs) is _ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return np.exp(xs - out)
    if _is_float(out):
        return tuple([math.exp(x - out) for x in xs])
    return tuple([(x - out).exp() for x in xs])


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
        _unary("tanh", _tanh, lambda a, out, _: (1.0 - out * out,)),
        _unary("sigmoid", _sigmoid, lambda a, out, _: (out * (1.0 - out),)),
        _unary("relu", _relu, lambda a, out, _: (step(a),)),
        _unary("leaky_relu", _leaky_relu, lambda a, out, slope: (where_positive(a, 1.0, slope),)),
        _unary("softplus", _softplus, lambda a, out, _: (sigmoid(a),)),
        _unary("sin", _sin, lambda a, out, _: (cos(a),)),
        _unary("cos", _cos, lambda a, out, _: (-sin(a),)),
        _unary("abs", lambda a, _: abs(a), lambda a, out, _: (sign(a),)),
        # n-ary: one node however many terms, so a 10^5-term sum is not a 10^5-deep chain.
        Rule("sum", "+", _sum, _sum_local, 0),
        # dot(w0, x0, w1, x1, ...) = Σ w_i·x_i: a neuron's weighted input z in one node, whose
        # local derivatives are exactly the seed's ∂net/∂w = out_h and ∂net/∂out_h = w.
        Rule("dot", "·", _dot, lambda xs, out, _: _swap_pairs(xs), 0),
        Rule("logsumexp", "logsumexp", _logsumexp, _logsumexp_local, 0),
    ]
}
