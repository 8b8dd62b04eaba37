"""The op table: every op declared once, as a :class:`Rule` in ``RULES``.

A rule holds

* ``forward(*xs, param)`` on plain floats (or arrays, for the compiled tape), raising a clear
  error on a domain violation (the stable forwards live in :mod:`autograd_bp.core.numerics`), and
* ``local(*xs, out, param)``, the local derivatives ∂out/∂x_i, written with ordinary
  arithmetic and numerics' lenient helpers, so the *same* expression runs on floats (at
  forward time, stored on the node) and on :class:`~autograd_bp.core.engine.Value` objects
  (``grad(..., create_graph=True)``), which is where higher-order derivatives come from.

Every reader of a graph — ``Value``'s methods, the expression language, diagrams, SymPy,
``compile`` — looks its op up here. To add an op at run time, see
:func:`autograd_bp.core.ops.register`.

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

from .numerics import (
    BLOCKED,
    cos,
    div_forward,
    dot_forward,
    exp_forward,
    leaky_relu_forward,
    log_forward,
    logsumexp_forward,
    logsumexp_local,
    periodic_forward,
    pow_base_local,
    pow_exponent_local,
    pow_forward,
    recip,
    recip_forward,
    relu_forward,
    sigmoid,
    sigmoid_forward,
    sign,
    sign_forward,
    sin,
    softplus_forward,
    sqrt_forward,
    step,
    step_forward,
    sum_forward,
    sum_local,
    swap_pairs,
    where_positive,
)

__all__ = ["RULES", "Rule"]


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
      in terms of other ops (for SymPy), ``param`` the name of a fixed parameter;
    * ``first_order=True`` for a rule whose ``local`` works on numbers only (see ``register``).

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
    # True: ``local`` works on numbers only (e.g. written with ``math``), so its derivatives
    # cannot be differentiated again: ``grad(..., create_graph=True)`` through it is refused
    # (``register`` otherwise checks that ``local`` builds a graph on Values).
    first_order: bool = False
    # The table's own ops are written as code: Python expressions over the operands ``a`` (and
    # ``b``), the result ``out`` and the parameter ``p`` — (forward, (∂out/∂a[, ∂out/∂b])).
    # ``forward`` and ``local`` are compiled from that text (:meth:`from_code`), and so are the
    # op's ``Value`` methods, which run it inline: no call per op for the rule (40 % of an op).
    code: tuple[str, tuple[str, ...]] | None = None

    @classmethod
    def from_code(cls, name: str, forward: str, local: str | tuple[str, ...], arity: int = 1,
                  **more: Any) -> Rule:  # fmt: skip
        """A rule whose ``forward`` and ``local`` are the functions of the code given: one
        expression for the forward, one per operand for the local derivatives.

        Example:
            >>> r = Rule.from_code("twice", "2.0 * a", "2.0")
            >>> r.forward(3.0, None), r.local(3.0, 6.0, None)
            (6.0, (2.0,))
        """
        locals_ = (local,) if isinstance(local, str) else tuple(local)
        if len(locals_) != arity:
            raise ValueError(f"Rule {name!r}: code needs {arity} local derivative(s), "
                             f"got {len(locals_)}")  # fmt: skip
        operands = "a, b" if arity == 2 else "a"
        # eval of the table's own text (or a rule author's), in the names ops may use
        compiled_forward = eval(f"lambda {operands}, p: {forward}", CODE_NAMES)
        compiled_local = eval(f"lambda {operands}, out, p: ({', '.join(locals_)},)", CODE_NAMES)
        return cls(name, compiled_forward, compiled_local, arity, code=(forward, locals_),
                   **more)  # fmt: skip

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




# The names an op's code may use besides a, b, out and p: the forwards and lenient helpers.
CODE_NAMES: dict[str, Any] = {
    "BLOCKED": BLOCKED, "cos": cos, "div_forward": div_forward, "exp_forward": exp_forward,
    "leaky_relu_forward": leaky_relu_forward, "log_forward": log_forward,
    "pow_base_local": pow_base_local, "pow_exponent_local": pow_exponent_local,
    "pow_forward": pow_forward, "recip": recip, "recip_forward": recip_forward,
    "relu_forward": relu_forward, "sigmoid": sigmoid, "sigmoid_forward": sigmoid_forward,
    "sign": sign, "sign_forward": sign_forward, "sin": sin, "softplus_forward": softplus_forward,
    "sqrt_forward": sqrt_forward, "step": step, "step_forward": step_forward,
    "where_positive": where_positive, "math": math, "np": np,
    "sin_forward": periodic_forward("sin", math.sin, np.sin),
    "cos_forward": periodic_forward("cos", math.cos, np.cos),
}  # fmt: skip


def _fn(name: str, forward: str, local: str, formula: str, text: str, latex: str,
        **more: Any) -> Rule:  # fmt: skip
    """A one-operand op written as a function call: method, expression function and name agree."""
    return Rule.from_code(name, forward, local, 1, method=name, function=name,
                          formula=(formula,), text=(text,), latex=(latex,), **more)  # fmt: skip


def _infix(name: str, symbol: str, method: str, precedence: int, forward: str,
           local: tuple[str, str],
           formula: tuple[str, str], text: tuple[str, str], latex: tuple[str, str],
           ufunc: Any = None) -> Rule:  # fmt: skip
    """A two-operand op written between its operands (``a * b``)."""
    definition = "{x} " + symbol + " {y}"
    return Rule.from_code(name, forward, local, 2, symbol=symbol, method=method,
                          precedence=precedence, formula=formula, text=text, latex=latex,
                          definition=definition, ufunc=ufunc)  # fmt: skip


# The table. ``local`` receives the operands, then ``out`` (the result: a float at forward
# time, the result node itself under create_graph), then ``p`` (a fixed op parameter such
# as leaky_relu's slope, else None). Each op's code is (forward, local derivatives).
RULES: dict[str, Rule] = {
    r.name: r
    for r in [
        _infix("add", "+", "add", 1, "a + b", ("1.0", "1.0"),
               ("1", "1"), ("1", "1"), ("1", "1"), np.add),
        _infix("sub", "-", "sub", 1, "a - b", ("1.0", "-1.0"),
               ("1", "-1"), ("1", "−1"), ("1", "-1"), np.subtract),
        _infix("mul", "*", "mul", 2, "a * b", ("b", "a"),
               ("{y}", "{x}"), ("{y}", "{x}"), ("{y}", "{x}"), np.multiply),
        _infix("div", "/", "truediv", 2, "div_forward(a, b, p)", ("recip(b)", "-out * recip(b)"),
               ("1/{y}", "-{x}/{y}**2"), ("1/{y}", "−{x}/{y}²"),
               ("\\frac{1}{{y}}", "-\\frac{{x}}{{y}^2}")),
        _infix("pow", "**", "pow", 4, "pow_forward(a, b, p)",
               ("pow_base_local(a, b)", "pow_exponent_local(a, b, out)"),
               ("{y}*{x}**({y} - 1)", "{out}*log({x})"), ("{y}·{x}^({y}−1)", "{out}·ln {x}"),
               ("{y}\\,{x}^{{y}-1}", "{out}\\,\\ln {x}")),
        Rule.from_code("neg", "-a", "-1.0", 1, symbol="-", method="__neg__",
             precedence=3, formula=("-1",), text=("−1",), latex=("-1",), definition="-{x}",
             ufunc=np.negative),
        _fn("exp", "exp_forward(a, p)", "out", "exp({x})", "e^{x}", "e^{{x}}"),
        _fn("log", "log_forward(a, p)", "recip(a)", "1/{x}", "1/{x}", "\\frac{1}{{x}}"),
        _fn("sqrt", "sqrt_forward(a, p)", "0.5 * recip(out)",
            "1/(2*sqrt({x}))", "1/(2·√{x})", "\\frac{1}{2\\sqrt{{x}}}"),
        _fn("tanh", "math.tanh(a) if type(a) is float else np.tanh(a)", "1.0 - out * out",
            "1 - tanh({x})**2", "1 − tanh²({x})", "1-\\tanh^2({x})", ufunc=np.tanh),
        _fn("sigmoid", "sigmoid_forward(a, p)", "out * (1.0 - out)",
            "sigmoid({x})*(1 - sigmoid({x}))", "σ({x})·(1 − σ({x}))",
            "\\sigma({x})\\,(1-\\sigma({x}))", definition="1/(1 + exp(-{x}))"),
        _fn("relu", "relu_forward(a, p)", "step(a)", "step({x})", "1 if {x} > 0 else 0",
            "\\mathbb{1}[{x} > 0]", definition="{x}*step({x})"),
        _fn("leaky_relu", "leaky_relu_forward(a, p)", "where_positive(a, 1.0, p)",
            "step({x}) + {p}*(1 - step({x}))", "1 if {x} > 0 else {p}",
            "\\mathbb{1}[{x} > 0] + {p}\\,\\mathbb{1}[{x} \\le 0]", param="slope", default=0.01,
            definition="{x}*step({x}) + {p}*{x}*(1 - step({x}))"),
        _fn("softplus", "softplus_forward(a, p)", "sigmoid(a)", "sigmoid({x})", "σ({x})",
            "\\sigma({x})", definition="log(1 + exp({x}))"),
        _fn("sin", "sin_forward(a, p)", "cos(a)",
            "cos({x})", "cos({x})", "\\cos({x})"),
        _fn("cos", "cos_forward(a, p)", "-sin(a)",
            "-sin({x})", "−sin({x})", "-\\sin({x})"),
        _fn("abs", "abs(a)", "sign(a)", "sign({x})", "sign({x})",
            "\\operatorname{sign}({x})"),
        # step and sign: the derivatives of relu and abs as ops of their own, so every formula
        # above is itself an expression (SymPy, the derivation checker); flat, so locally 0.
        _fn("step", "step_forward(a, p)", "BLOCKED", "0", "0", "0"),
        _fn("sign", "sign_forward(a, p)", "BLOCKED", "0", "0", "0"),
        _fn("recip", "recip_forward(a, p)", "-(out * out)", "-1/{x}**2", "−1/{x}²",
            "-\\frac{1}{{x}^2}", definition="1/{x}"),
        # n-ary: one node however many terms, so a 10^5-term sum is not a 10^5-deep chain.
        Rule("sum", sum_forward, sum_local, variadic=True, symbol="+", precedence=1, formula=("1",),
             text=("1",), latex=("1",)),
        # dot(w0, x0, w1, x1, ...) = Σ w_i·x_i: a neuron's weighted input z in one node, whose
        # local derivatives are exactly Mazur's ∂net/∂w = out_h and ∂net/∂out_h = w.
        Rule("dot", dot_forward, lambda xs, out, _: swap_pairs(xs), variadic=True, symbol="·",
             precedence=1, formula=("{pair}",), text=("{pair}",), latex=("{pair}",)),
        # log Σ e^z_i, the max subtracted inside (for every input, also when compiled); its
        # local derivatives are the softmax e^(z_i − out).
        Rule("logsumexp", logsumexp_forward, logsumexp_local, variadic=True,
             formula=("exp({x} - {out})",), text=("e^({x} − {out})",), latex=("e^{{x}-{out}}",)),
    ]
}

# Called with each rule that `register` adds (the engine installs its Value method here).
