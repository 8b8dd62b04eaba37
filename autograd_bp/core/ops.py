"""The op table: every op's forward and local derivatives, written once.

Each :class:`Rule` holds

* ``forward(*xs, param)`` on plain floats, raising a clear error on a domain violation, and
* ``local(*xs, out, param)``, the local derivatives ∂out/∂x_i, written with ordinary
  arithmetic and the lenient helpers below, so the *same* expression runs on floats (at
  forward time, stored on the node) and on :class:`~autograd_bp.core.engine.Value` objects
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

__all__ = ["BLOCKED", "DomainError", "RULES", "Rule", "data_of", "register"]

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


@dataclass(frozen=True)
class Rule:
    """One op, declared once: how it computes, how it differentiates, how it is written.

    * ``forward(*xs, param)`` on floats (or arrays for the compiled tape), loud on domain errors;
    * ``local(*xs, out, param)``: the local derivatives ∂out/∂x_i, valid on floats, arrays and
      Values (so ``create_graph`` differentiates them again);
    * ``formula``/``text``/``latex``: the same derivatives written out, one per operand, over the
      placeholders ``{x}`` ``{y}`` (operands), ``{out}`` (the result), ``{p}`` (the parameter)
      and, for ``dot``, ``{pair}`` (the other factor of the pair). ``formula`` is in the
      expression language (machine-readable: SymPy, the derivation checker); ``text`` and
      ``latex`` are for people. Fill them in with :meth:`derivative`.
    * ``method`` names the :class:`~autograd_bp.core.engine.Value` method (for binary ops the dunder
      stem: ``"add"`` gives ``__add__`` and ``__radd__``), ``function`` the expression-language
      function, ``symbol``/``precedence`` how it prints in infix text, ``definition`` the forward
      in terms of other ops (for SymPy), ``param`` the name of a fixed parameter.

    Example:
        >>> r = RULES["tanh"]
        >>> out = r.forward(0.5, None)
        >>> round(r.local(0.5, out, None)[0], 6)
        0.786448
        >>> RULES["sigmoid"].derivative(0, "text", x="net_h1")
        'σ(net_h1)·(1 − σ(net_h1))'
    """

    name: str
    forward: Callable[..., Any]
    local: Callable[..., tuple[Any, ...]]
    arity: int = 1
    variadic: bool = False  # operands arrive as one sequence (sum, dot), however many
    symbol: str = ""
    method: str | None = None
    function: str | None = None
    precedence: int = 5  # add/sub 1, mul/div 2, neg 3, pow 4, function call 5
    param: str | None = None
    default: float | None = None  # the parameter's default value (leaky_relu: 0.01)
    formula: tuple[str, ...] = ()
    text: tuple[str, ...] = ()
    latex: tuple[str, ...] = ()
    definition: str | None = None
    # numpy's ufunc that *is* forward on arrays (no domain check to make): lets the compiled
    # tape write a batch's results in place (``np.tanh(x, out=rows)``) instead of copying
    # them there (1-3 % of a large-batch MLP step). A test checks it equals ``forward``.
    ufunc: Any = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"Rule: name must be an identifier, got {self.name!r}")
        if not self.variadic and self.arity not in (1, 2):
            raise ValueError(f"Rule {self.name!r}: arity must be 1 or 2 (or variadic=True)")
        for kind in ("formula", "text", "latex"):
            n = len(getattr(self, kind))
            if not self.variadic and n not in (0, self.arity):
                raise ValueError(f"Rule {self.name!r}: {kind} needs {self.arity} entries, got {n}")
        if self.ufunc is not None and (self.variadic or self.param is not None):
            # the tape calls ufunc(*operands, out=rows): no parameter, a fixed arity
            raise ValueError(f"Rule {self.name!r}: ufunc is for ops with one or two operands "
                             "and no parameter")
        if not self.symbol:
            object.__setattr__(self, "symbol", self.name)

    def derivative(self, i: int, style: str = "text", **names: str) -> str:
        """∂out/∂(operand ``i``) written in ``style`` ("formula", "text" or "latex"), with the
        placeholders replaced by ``names`` (keys ``x``, ``y``, ``out``, ``p``, ``pair``).

        Example:
            >>> RULES["mul"].derivative(0, "formula", x="w", y="x")
            'x'
        """
        if style not in ("formula", "text", "latex"):
            raise ValueError(f"derivative: style must be formula, text or latex, got {style!r}")
        templates = getattr(self, style)
        if not templates:
            raise ValueError(f"derivative: rule {self.name!r} declares no {style} formula")
        template = templates[i % len(templates)] if self.variadic else templates[i]
        for key, value in names.items():  # str.replace, not format: LaTeX braces stay as they are
            template = template.replace("{" + key + "}", value)
        return template


# --- helpers valid on floats, numpy arrays *and* Values ----------------------------------
# Floats: the dynamic engine at forward time. Arrays: the compiled tape replaying a whole
# batch (the compiled tape). Anything else: a Value, under create_graph. On floats and arrays
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
    return x.recip()


def power(x: Any, y: Any) -> Any:
    """x**y; on numbers 0**negative is inf and an invalid power is nan, never complex."""
    if _is_float(x) and _is_float(y):
        try:
            r = x**y
        except (ZeroDivisionError, OverflowError):  # ±0 to a negative power, or past the
            odd = y == int(y) and int(y) % 2 == 1  # float range: ±inf, with IEEE's sign
            return -INF if math.copysign(1.0, x) < 0 and odd else INF
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


class _Blocked(float):
    """A local derivative of exactly 0 that stops the gradient, even an infinite or NaN one.

    ``0.0 * inf`` is NaN, but PyTorch's relu and pow backward *select* (``where(mask, g·d, 0)``)
    rather than multiply, so ``sqrt(relu(x))`` at x = -1 passes 0, not NaN, to x. Multiplying
    by this object gives 0.0 whatever the other factor is.
    """

    def __mul__(self, other: Any) -> Any:
        if type(other) is _ndarray:
            return np.zeros_like(other, dtype=float)
        return 0.0 if _is_float(other) or other is None else type(other)(0.0)  # a Value: a leaf 0

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
    if _is_float(a):  # NaN passes through, as in PyTorch (not "a if a > 0 else 0.0")
        return 0.0 if a <= 0 else a
    return np.maximum(a, 0.0)  # maximum propagates NaN


def _leaky_relu(a: Any, slope: float) -> Any:
    if _is_float(a):
        return a if a > 0 else slope * a
    return np.where(a > 0, a, slope * a)


def _periodic(name: str, f: Callable[[float], float], f_array: Any) -> Callable[..., Any]:
    """sin or cos, refusing ±inf by name (math's own error says only 'math domain error')."""

    def forward(a: Any, _: None) -> Any:
        if _is_float(a):
            if math.isinf(a):
                raise DomainError(f"{name}: operand must be finite, got {_fmt(a)}")
            return f(a)
        bad = np.isinf(a)
        if bad.any():
            i, (x,) = _first(bad, a)
            raise DomainError(f"{name}: operand must be finite, got {_fmt(x)} in example {i}")
        return f_array(a)

    return forward


def _step(a: Any, _: None) -> Any:
    """Heaviside: 1.0 where a > 0, else 0.0 (NaN too, as torch.heaviside)."""
    return (1.0 if a > 0 else 0.0) if _is_float(a) else np.where(a > 0, 1.0, 0.0)


def _sign(a: Any, _: None) -> Any:
    return sign(a) if _is_float(a) else np.nan_to_num(np.sign(a), nan=0.0)


def _recip(a: Any, _: None) -> Any:
    # Lenient on purpose: this op exists so create_graph can differentiate 1/x where the
    # first-order pass already gave ±inf (sqrt at 0), instead of raising ZeroDivisionError.
    return recip(a)


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
    out: Any = np.empty_like(xs) if type(xs) is _ndarray else [None] * len(xs)
    out[0::2] = xs[1::2]
    out[1::2] = xs[0::2]
    return out if type(xs) is _ndarray else tuple(out)


def _pow_base_local(a: Any, b: Any) -> Any:
    """∂(a**b)/∂a = b·a**(b−1); exactly 0 when b = 0 (a**0 is constant, even at a = 0)."""
    if type(data_of(b)) is _ndarray or type(data_of(a)) is _ndarray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            value = b * power(a, b - 1.0)
        blocked = np.broadcast_to(np.asarray(data_of(b)) == 0.0, np.shape(value))
        if not blocked.any():
            return value
        # On a batch, BLOCKED is a mask: the compiled tape selects 0 there, as it does for
        # relu's gate, whatever (inf, NaN) comes from upstream.
        return np.ma.MaskedArray(np.where(blocked, 0.0, value), mask=blocked)
    return BLOCKED if data_of(b) == 0.0 else b * power(a, b - 1.0)


def _pow_exponent_local(a: Any, b: Any, out: Any) -> Any:
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


def _fn(name: str, forward: Callable[..., Any], local: Callable[..., tuple[Any, ...]],
        formula: str, text: str, latex: str, **more: Any) -> Rule:  # fmt: skip
    """A one-operand op written as a function call: method, expression function and name agree."""
    return Rule(name, forward, local, 1, method=name, function=name, formula=(formula,),
                text=(text,), latex=(latex,), **more)  # fmt: skip


def _infix(name: str, symbol: str, method: str, precedence: int, forward: Callable[..., Any],
           local: Callable[..., tuple[Any, ...]], formula: tuple[str, str],
           text: tuple[str, str], latex: tuple[str, str], ufunc: Any = None) -> Rule:  # fmt: skip
    """A two-operand op written between its operands (``a * b``)."""
    definition = "{x} " + symbol + " {y}"
    return Rule(name, forward, local, 2, symbol=symbol, method=method, precedence=precedence,
                formula=formula, text=text, latex=latex, definition=definition,
                ufunc=ufunc)  # fmt: skip


# The table. ``local`` receives the operands, then ``out`` (the result: a float at forward
# time, the result node itself under create_graph), then ``param`` (a fixed op parameter
# such as leaky_relu's slope, else None).
RULES: dict[str, Rule] = {
    r.name: r
    for r in [
        _infix("add", "+", "add", 1, lambda a, b, _: a + b, lambda a, b, out, _: (1.0, 1.0),
               ("1", "1"), ("1", "1"), ("1", "1"), np.add),
        _infix("sub", "-", "sub", 1, lambda a, b, _: a - b, lambda a, b, out, _: (1.0, -1.0),
               ("1", "-1"), ("1", "−1"), ("1", "-1"), np.subtract),
        _infix("mul", "*", "mul", 2, lambda a, b, _: a * b, lambda a, b, out, _: (b, a),
               ("{y}", "{x}"), ("{y}", "{x}"), ("{y}", "{x}"), np.multiply),
        _infix("div", "/", "truediv", 2, _div,
               lambda a, b, out, _: (recip(b), -out * recip(b)),
               ("1/{y}", "-{x}/{y}**2"), ("1/{y}", "−{x}/{y}²"),
               ("\\frac{1}{{y}}", "-\\frac{{x}}{{y}^2}")),
        _infix("pow", "**", "pow", 4, _pow,
               lambda a, b, out, _: (_pow_base_local(a, b), _pow_exponent_local(a, b, out)),
               ("{y}*{x}**({y} - 1)", "{out}*log({x})"), ("{y}·{x}^({y}−1)", "{out}·ln {x}"),
               ("{y}\\,{x}^{{y}-1}", "{out}\\,\\ln {x}")),
        Rule("neg", lambda a, _: -a, lambda a, out, _: (-1.0,), 1, symbol="-", method="__neg__",
             precedence=3, formula=("-1",), text=("−1",), latex=("-1",), definition="-{x}",
             ufunc=np.negative),
        _fn("exp", _exp, lambda a, out, _: (out,), "exp({x})", "e^{x}", "e^{{x}}"),
        _fn("log", _log, lambda a, out, _: (recip(a),), "1/{x}", "1/{x}", "\\frac{1}{{x}}"),
        _fn("sqrt", _sqrt, lambda a, out, _: (0.5 * recip(out),),
            "1/(2*sqrt({x}))", "1/(2·√{x})", "\\frac{1}{2\\sqrt{{x}}}"),
        _fn("tanh", _tanh, lambda a, out, _: (1.0 - out * out,),
            "1 - tanh({x})**2", "1 − tanh²({x})", "1-\\tanh^2({x})", ufunc=np.tanh),
        _fn("sigmoid", _sigmoid, lambda a, out, _: (out * (1.0 - out),),
            "sigmoid({x})*(1 - sigmoid({x}))", "σ({x})·(1 − σ({x}))",
            "\\sigma({x})\\,(1-\\sigma({x}))", definition="1/(1 + exp(-{x}))"),
        _fn("relu", _relu, lambda a, out, _: (step(a),), "step({x})", "1 if {x} > 0 else 0",
            "\\mathbb{1}[{x} > 0]", definition="{x}*step({x})"),
        _fn("leaky_relu", _leaky_relu, lambda a, out, slope: (where_positive(a, 1.0, slope),),
            "step({x}) + {p}*(1 - step({x}))", "1 if {x} > 0 else {p}",
            "\\mathbb{1}[{x} > 0] + {p}\\,\\mathbb{1}[{x} \\le 0]", param="slope", default=0.01,
            definition="{x}*step({x}) + {p}*{x}*(1 - step({x}))"),
        _fn("softplus", _softplus, lambda a, out, _: (sigmoid(a),), "sigmoid({x})", "σ({x})",
            "\\sigma({x})", definition="log(1 + exp({x}))"),
        _fn("sin", _periodic("sin", math.sin, np.sin), lambda a, out, _: (cos(a),),
            "cos({x})", "cos({x})", "\\cos({x})"),
        _fn("cos", _periodic("cos", math.cos, np.cos), lambda a, out, _: (-sin(a),),
            "-sin({x})", "−sin({x})", "-\\sin({x})"),
        _fn("abs", lambda a, _: abs(a), lambda a, out, _: (sign(a),), "sign({x})", "sign({x})",
            "\\operatorname{sign}({x})"),
        # step and sign: the derivatives of relu and abs as ops of their own, so every formula
        # above is itself an expression (SymPy, the derivation checker); flat, so locally 0.
        _fn("step", _step, lambda a, out, _: (BLOCKED,), "0", "0", "0"),
        _fn("sign", _sign, lambda a, out, _: (BLOCKED,), "0", "0", "0"),
        _fn("recip", _recip, lambda a, out, _: (-(out * out),), "-1/{x}**2", "−1/{x}²",
            "-\\frac{1}{{x}^2}", definition="1/{x}"),
        # n-ary: one node however many terms, so a 10^5-term sum is not a 10^5-deep chain.
        Rule("sum", _sum, _sum_local, variadic=True, symbol="+", precedence=1, formula=("1",),
             text=("1",), latex=("1",)),
        # dot(w0, x0, w1, x1, ...) = Σ w_i·x_i: a neuron's weighted input z in one node, whose
        # local derivatives are exactly Mazur's ∂net/∂w = out_h and ∂net/∂out_h = w.
        Rule("dot", _dot, lambda xs, out, _: _swap_pairs(xs), variadic=True, symbol="·",
             precedence=1, formula=("{pair}",), text=("{pair}",), latex=("{pair}",)),
        # log Σ e^z_i, the max subtracted inside (for every input, also when compiled); its
        # local derivatives are the softmax e^(z_i − out).
        Rule("logsumexp", _logsumexp, _logsumexp_local, variadic=True,
             formula=("exp({x} - {out})",), text=("e^({x} − {out})",), latex=("e^{{x}-{out}}",)),
    ]
}

# Called with each rule that `register` adds (the engine installs its Value method here).
_on_register: list[Callable[[Rule], None]] = []


def register(rule: Rule) -> Rule:
    """Add a user-defined op to the table at runtime (HIPS autograd's ``defvjp``, as data).

    With nothing else changed, the op then works as a ``Value`` method (``rule.method``), in
    the expression language (``rule.function``), in diagrams, explanations, ``grad``,
    gradcheck and ``compile``. Its ``forward`` and ``local`` must accept floats, and — for
    ``compile`` and ``create_graph`` — numpy arrays and Values (use this module's helpers).

    Example:
        >>> import math
        >>> softsign = Rule(
        ...     "softsign_demo", lambda x, _: x / (1 + abs(x)),
        ...     lambda x, out, _: (1 / (1 + abs(x)) ** 2,),
        ...     method="softsign_demo", function="softsign_demo",
        ...     formula=("1/(1 + abs({x}))**2",), text=("1/(1 + |{x}|)²",),
        ...     latex=("\\\\frac{1}{(1+|{x}|)^2}",))
        >>> _ = register(softsign)
        >>> from autograd_bp import Value
        >>> y = Value(1.0).softsign_demo()
        >>> y.data, y.local_grads
        (0.5, (0.25,))
    """
    if not isinstance(rule, Rule):
        raise TypeError(f"register: expected a Rule, got {type(rule).__name__}")
    if rule.variadic:  # sum, dot, logsumexp are reached through engine functions, not methods
        raise ValueError(f"register: {rule.name!r} is variadic; register one- or two-operand ops")
    old = RULES.get(rule.name)
    if old is not None and old is not rule:
        raise ValueError(f"register: an op named {rule.name!r} exists already")
    for other in RULES.values():
        for field in ("method", "function"):
            taken = getattr(other, field)
            if other is not rule and taken is not None and taken == getattr(rule, field):
                raise ValueError(f"register: {field} {taken!r} belongs to op {other.name!r}")
    for hook in _on_register:  # before adding: a refused method name leaves the table as it was
        hook(rule)
    RULES[rule.name] = rule
    return rule
