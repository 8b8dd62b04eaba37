"""The numbers behind the op table: stable forwards that are loud on a domain error, and the
lenient helpers a rule's local derivatives are written with.

Two kinds of function live here, both on plain floats (one example) or numpy arrays (a batch,
for the compiled tape):

* the forwards (``exp_forward``, ``log_forward``, ...): stable (``sigmoid`` at ±1000 does not
  overflow) and loud on a domain error, naming the op and, on a batch, the first bad example;
* the helpers (``recip``, ``power``, ``log``, ``step``, ...): IEEE-lenient on numbers
  (``log(0) = -inf``), and on anything else — a :class:`~autograd_bp.core.engine.Value` under
  ``create_graph`` — the Value's own method, so the *same* local-derivative expression runs at
  forward time and builds a differentiable graph. A Value is recognised by not being a float
  or an array, so this module imports nothing of the package.

Example:
    >>> recip(0.0), log(0.0), sigmoid(-1000.0)
    (inf, -inf, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["BLOCKED", "DomainError", "data_of"]  # the forwards and helpers: see the table

INF = math.inf
NAN = math.nan

class DomainError(ValueError):
    """An op was applied outside its domain, e.g. ``log`` of a negative number.

    Example:
        >>> from autograd_bp import Value
        >>> Value(-1.0).log()
        Traceback (most recent call last):
        ...
        autograd_bp.core.ops.DomainError: log: operand must be positive, got -1.0
    """




def N_(message: str) -> str:
    """Mark an error template for Babel's extraction (``make messages``). The engine speaks
    English; the rooms above it, which may import :mod:`autograd_bp.locale`, say the same
    template in the learner's language (``locale.say``).

    Example:
        >>> N_("log: operand must be positive, got {value}")
        'log: operand must be positive, got {value}'
    """
    return message


def said(error: type[Exception], template: str, **fields: str) -> Exception:
    """``error(template filled in)``, keeping ``template`` and ``fields`` on it so that a
    room above core can say it in the learner's language.

    Example:
        >>> e = said(ZeroDivisionError, N_("div: division by zero ({x} / {y})"), x="1", y="0")
        >>> str(e), e.template, e.fields
        ('div: division by zero (1 / 0)', 'div: division by zero ({x} / {y})', {'x': '1', 'y': '0'})
    """
    made = error(template.format(**fields))
    made.template, made.fields = template, fields  # type: ignore[attr-defined]
    return made


# Defined here, where the forwards raise it; shown under the path users import it from.
DomainError.__module__ = "autograd_bp.core.ops"


# --- helpers valid on floats, numpy arrays *and* Values ----------------------------------
# Floats: the dynamic engine at forward time. Arrays: the compiled tape replaying a whole
# batch (the compiled tape). Anything else: a Value, under create_graph. On floats and arrays
# they are IEEE-lenient (log(0) = -inf, 1/0 = inf): a local derivative may be infinite at
# the edge of the domain without the forward value being an error.

_ndarray = np.ndarray  # ``type(x) is float`` / ``is _ndarray`` written inline: a call per
# test cost 10-15 % of an op (each op's forward and derivative run one or two of these)


def data_of(x: Any) -> Any:
    """The number(s) inside ``x``: a float or array as it is, ``x.data`` for a Value."""
    return x if type(x) is float or type(x) is _ndarray else x.data


def recip(x: Any) -> Any:
    """1/x; on numbers 1/0 gives a signed infinity instead of raising."""
    if type(x) is float:
        return math.copysign(INF, x) if x == 0.0 else 1.0 / x
    if type(x) is _ndarray:
        with np.errstate(divide="ignore"):
            return 1.0 / x
    return x.recip()


def power(x: Any, y: Any) -> Any:
    """x**y; on numbers 0**negative is inf and an invalid power is nan, never complex."""
    if type(x) is float and type(y) is float:
        try:
            r = x**y
        except (ZeroDivisionError, OverflowError):  # ±0 to a negative power, or past the
            odd = y == int(y) and int(y) % 2 == 1  # float range: ±inf, with IEEE's sign
            return -INF if math.copysign(1.0, x) < 0 and odd else INF
        return NAN if isinstance(r, complex) else r
    if (type(x) is float or type(x) is _ndarray) and (type(y) is float or type(y) is _ndarray):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return np.power(x, y)
    return x**y


def log(x: Any) -> Any:
    """Natural log; on numbers log(0) = -inf and log(negative) = nan."""
    if type(x) is float:
        return math.log(x) if x > 0 else (-INF if x == 0 else NAN)
    if type(x) is _ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)
    return x.log()


def sin(x: Any) -> Any:
    """sin on numbers or Values."""
    if type(x) is float:
        return math.sin(x)
    return np.sin(x) if type(x) is _ndarray else x.sin()


def cos(x: Any) -> Any:
    """cos on numbers or Values."""
    if type(x) is float:
        return math.cos(x)
    return np.cos(x) if type(x) is _ndarray else x.cos()


def sigmoid(x: Any) -> Any:
    """Logistic sigmoid on numbers or Values."""
    return sigmoid_forward(x) if (type(x) is float or type(x) is _ndarray) else x.sigmoid()


class _Blocked(float):
    """A local derivative of exactly 0 that stops the gradient, even an infinite or NaN one.

    ``0.0 * inf`` is NaN, but PyTorch's relu and pow backward *select* (``where(mask, g·d, 0)``)
    rather than multiply, so ``sqrt(relu(x))`` at x = -1 passes 0, not NaN, to x. Multiplying
    by this object gives 0.0 whatever the other factor is.
    """

    def __mul__(self, other: Any) -> Any:
        if type(other) is _ndarray:
            return np.zeros_like(other, dtype=float)
        # a Value: a leaf 0
        return 0.0 if type(other) is float or other is None else type(other)(0.0)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return "0.0"


BLOCKED: Any = _Blocked(0.0)


def step(x: Any) -> Any:
    """relu's derivative: a blocking 0 where x <= 0, else 1.0 (so NaN passes the gradient on,
    as PyTorch's ``threshold_backward`` does)."""
    d = data_of(x)
    if type(d) is _ndarray:
        return ~(d <= 0)  # a boolean mask multiplies like 1.0/0.0, without a conversion
    return BLOCKED if d <= 0 else 1.0


def sign(x: Any) -> Any:
    """The sign of x as a constant (0.0 at 0, as PyTorch's abs backward)."""
    d = data_of(x)
    if type(d) is _ndarray:
        return np.sign(d)
    return 1.0 if d > 0 else (-1.0 if d < 0 else 0.0)  # NaN: 0.0, as torch.sign


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


def div_forward(a: Any, b: Any, _: None) -> Any:
    if type(b) is float:
        if b == 0.0:
            raise said(ZeroDivisionError, N_("div: division by zero ({x} / {y})"),
                       x=_fmt(a), y=_fmt(b))
        return a / b
    zero = np.asarray(b) == 0.0
    if zero.any():
        i, (x, y) = _first(zero, a, b)
        raise ZeroDivisionError(f"div: division by zero ({_fmt(x)} / {_fmt(y)}) in example {i}")
    return a / b


def pow_forward(a: Any, b: Any, _: None) -> Any:
    if type(a) is float and type(b) is float:
        if a == 0.0 and b < 0:
            raise said(ZeroDivisionError, N_("pow: 0 raised to the negative power {y}"), y=_fmt(b))
        if a < 0 and math.isfinite(b) and b != int(b):
            raise said(DomainError, N_("pow: negative base {x} to the non-integer power {y} "
                                       "is not real"), x=_fmt(a), y=_fmt(b))
        if b == 0.5:  # as PyTorch, whose x**0.5 is sqrt: (-0.0)**0.5 is -0.0, not 0.0
            return math.sqrt(a)
        try:
            return a**b
        except OverflowError:
            raise said(OverflowError, N_("pow: {x} ** {y} overflows a float"),
                       x=_fmt(a), y=_fmt(b)) from None
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
    half = b_ == 0.5
    if half.any():  # sqrt there, as for one example (negatives with b = 0.5 were refused)
        with np.errstate(invalid="ignore"):
            out = np.where(half, np.sqrt(a_), out)
    _check_overflow("pow", out, a_)
    return out


def _check_overflow(name: str, out: Any, a: Any) -> None:
    blown = np.isinf(out) & np.isfinite(a)
    if blown.any():
        i, (x,) = _first(blown, a)
        raise OverflowError(f"{name}: overflows a float at operand {_fmt(x)} (example {i})")


def exp_forward(a: Any, _: None) -> Any:
    if type(a) is float:
        try:
            return math.exp(a)
        except OverflowError:
            raise said(OverflowError, N_("exp: exp({x}) overflows a float"), x=_fmt(a)) from None
    with np.errstate(over="ignore"):
        out = np.exp(a)
    _check_overflow("exp", out, a)
    return out


def log_forward(a: Any, _: None) -> Any:
    if type(a) is float:
        if a <= 0:
            raise said(DomainError, N_("log: operand must be positive, got {x}"), x=_fmt(a))
        return math.log(a)
    bad = a <= 0
    if bad.any():
        i, (x,) = _first(bad, a)
        raise DomainError(f"log: operand must be positive, got {_fmt(x)} in example {i}")
    return np.log(a)


def sqrt_forward(a: Any, _: None) -> Any:
    if type(a) is float:
        if a < 0:
            raise said(DomainError, N_("sqrt: operand must be non-negative, got {x}"), x=_fmt(a))
        return math.sqrt(a)
    bad = a < 0
    if bad.any():
        i, (x,) = _first(bad, a)
        raise DomainError(f"sqrt: operand must be non-negative, got {_fmt(x)} in example {i}")
    return np.sqrt(a)


def sigmoid_forward(a: Any, _: None = None) -> Any:
    # Two branches so exp never sees a large positive argument (no overflow at ±1000).
    if type(a) is float:
        if a >= 0:
            return 1.0 / (1.0 + math.exp(-a))
        e = math.exp(a)
        return e / (1.0 + e)
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus_forward(a: Any, _: None) -> Any:
    # log(1 + e^a) = max(a, 0) + log1p(e^-|a|): stable for every finite a.
    if type(a) is float:
        return max(a, 0.0) + math.log1p(math.exp(-abs(a)))
    return np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a)))


def relu_forward(a: Any, _: None) -> Any:
    if type(a) is float:  # NaN passes through, as in PyTorch (not "a if a > 0 else 0.0")
        return 0.0 if a <= 0 else a
    return np.maximum(a, 0.0)  # maximum propagates NaN


def leaky_relu_forward(a: Any, slope: float) -> Any:
    if type(a) is float:
        return a if a > 0 else slope * a
    return np.where(a > 0, a, slope * a)


def periodic_forward(name: str, f: Callable[[float], float], f_array: Any) -> Callable[..., Any]:
    """sin or cos, refusing ±inf by name (math's own error says only 'math domain error')."""

    def forward(a: Any, _: None) -> Any:
        if type(a) is float:
            if math.isinf(a):
                raise said(DomainError, N_("{op}: operand must be finite, got {x}"), op=name,
                           x=_fmt(a))
            return f(a)
        bad = np.isinf(a)
        if bad.any():
            i, (x,) = _first(bad, a)
            raise DomainError(f"{name}: operand must be finite, got {_fmt(x)} in example {i}")
        return f_array(a)

    return forward


def step_forward(a: Any, _: None) -> Any:
    """Heaviside: 1.0 where a > 0, else 0.0 (NaN too, as torch.heaviside)."""
    return (1.0 if a > 0 else 0.0) if type(a) is float else np.where(a > 0, 1.0, 0.0)


def sign_forward(a: Any, _: None) -> Any:
    return sign(a) if type(a) is float else np.nan_to_num(np.sign(a), nan=0.0)


def recip_forward(a: Any, _: None) -> Any:
    # Lenient on purpose: this op exists so create_graph can differentiate 1/x where the
    # first-order pass already gave ±inf (sqrt at 0), instead of raising ZeroDivisionError.
    return recip(a)


# n-ary rules get their operands as one sequence: a tuple of floats (or of Values) from the
# engine, or an array from the tape whose first axis runs over the operands (the other axes:
# same-shaped ops stacked together, then the batch).


def sum_forward(xs: Any, _: None) -> Any:
    return xs.sum(axis=0) if type(xs) is _ndarray else sum(xs, 0.0)


def sum_local(xs: Any, out: Any, _: None) -> Any:
    if type(xs) is _ndarray:  # ones shaped to broadcast over the operand block
        return np.ones((len(xs),) + (1,) * (xs.ndim - 1))
    return (1.0,) * len(xs)


def dot_forward(xs: Any, _: None) -> Any:
    if type(xs) is _ndarray:
        return np.einsum("k...,k...->...", xs[0::2], xs[1::2])
    # The products summed in order from 0.0, as node.variadic_node sums them (a test checks
    # the two agree bit for bit); not sum(), which compensates its rounding from Python 3.12.
    total = 0.0
    for i in range(0, len(xs), 2):
        total += xs[i] * xs[i + 1]
    return total


def swap_pairs(xs: Any) -> Any:
    """(w0, x0, w1, x1, ...) -> (x0, w0, x1, w1, ...): ∂(w·x)/∂w_i = x_i and vice versa."""
    out: Any = np.empty_like(xs) if type(xs) is _ndarray else [None] * len(xs)
    out[0::2] = xs[1::2]
    out[1::2] = xs[0::2]
    return out if type(xs) is _ndarray else tuple(out)


def pow_base_local(a: Any, b: Any) -> Any:
    """∂(a**b)/∂a = b·a**(b−1); exactly 0 when b = 0 (a**0 is constant, even at a = 0); at
    a = ±0 with b = 0.5, sqrt's ±inf, as PyTorch (its x**0.5 is sqrt).

    Example:
        >>> pow_base_local(4.0, 0.5), pow_base_local(-0.0, 0.5), pow_base_local(0.0, 0.0)
        (0.25, -inf, 0.0)
    """
    if type(a) is float and type(b) is float and a > 0.0 and b != 0.0:
        # The usual x ** 2 (positive base, non-zero power) has no special case: straight to
        # the power (this local 324 -> 196 ns; x ** 2.0 843 -> 701 ns, interleaved A/B).
        return b * power(a, b - 1.0)
    if type(data_of(b)) is _ndarray or type(data_of(a)) is _ndarray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            value = b * power(a, b - 1.0)
            value = np.where((np.asarray(data_of(b)) == 0.5) & (np.asarray(data_of(a)) == 0.0),
                             0.5 * recip(np.asarray(data_of(a), dtype=float)), value)  # fmt: skip
        blocked = np.broadcast_to(np.asarray(data_of(b)) == 0.0, np.shape(value))
        if not blocked.any():
            return value
        # On a batch, BLOCKED is a mask: the compiled tape selects 0 there, as it does for
        # relu's gate, whatever (inf, NaN) comes from upstream.
        return np.ma.MaskedArray(np.where(blocked, 0.0, value), mask=blocked)
    if type(a) is float and type(b) is float and b == 0.5 and a == 0.0:
        return 0.5 * recip(a)  # recip(-0.0) is -inf
    return BLOCKED if data_of(b) == 0.0 else b * power(a, b - 1.0)


def pow_exponent_local(a: Any, b: Any, out: Any) -> Any:
    """∂(a**b)/∂b = a**b · ln a for a > 0; as PyTorch, 0 at a = 0 with b >= 0 (x**x at 0)
    and NaN for a negative base (ln a is not real, even where a**b underflows to 0)."""
    d = data_of(a)
    if type(d) is _ndarray or type(data_of(out)) is _ndarray:
        zero_base = (d == 0) & (np.asarray(data_of(b)) >= 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 0, out * log(np.where(d > 0, d, 1.0)),
                            np.where(zero_base, 0.0, NAN))  # fmt: skip
    if d > 0:
        return out * log(a)
    return 0.0 if d == 0 and data_of(b) >= 0 else NAN


def logsumexp_forward(xs: Any, _: None) -> Any:
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


def logsumexp_local(xs: Any, out: Any, _: None) -> Any:
    """∂/∂x_i = e^(x_i − out): the softmax of the operands."""
    if type(xs) is _ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return np.exp(xs - out)
    if type(out) is float:
        return tuple([math.exp(x - out) for x in xs])
    return tuple([(x - out).exp() for x in xs])
