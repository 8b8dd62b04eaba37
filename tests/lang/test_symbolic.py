"""The SymPy bridge: the graph as an expression, and derivatives from the op table's formulas
checked against sympy.diff and against the engine's numbers."""

from __future__ import annotations

import math
import sys

import pytest

from autograd_bp import Value, parse
from autograd_bp.core.engine import backward_order, dot, sum_values
from autograd_bp.lang.symbolic import derivative, to_sympy

sp = pytest.importorskip("sympy")  # a dependency of torch, and the 'symbolic' extra

EXPRESSIONS = [
    ("sigmoid(w*x + b)", {"w": 0.4, "x": 0.5, "b": 0.1}),
    ("x*x*y - y/x", {"x": 3.0, "y": 2.0}),
    ("tanh(a*b) + exp(-a)", {"a": 0.5, "b": -1.0}),
    ("log(x**2 + 1) * sqrt(y)", {"x": 0.7, "y": 2.0}),
    ("sin(x)*cos(y) + softplus(x - y)", {"x": 0.3, "y": 1.1}),
    ("x**y", {"x": 1.5, "y": 2.5}),
    ("2**x + 1/(1 + x)", {"x": 0.25}),
    ("abs(x - 2) + relu(x) + leaky_relu(-x, 0.1)", {"x": 0.75}),
]


def _leaf(root: Value, name: str) -> Value:
    return next(n for n in backward_order(root) if n.is_leaf and n.label == name)


@pytest.mark.parametrize("text, values", EXPRESSIONS)
def test_derivative_equals_sympy_diff_and_the_engine(text, values) -> None:
    y = parse(text, **values)
    y.backward()
    expr = to_sympy(y)
    point = {sp.Symbol(n, real=True): sp.Rational(repr(v)) for n, v in values.items()}
    assert math.isclose(float(expr.subs(point)), y.data, rel_tol=1e-12)
    for name in values:
        ours = derivative(y, _leaf(y, name))
        theirs = sp.diff(expr, sp.Symbol(name, real=True))
        at_ours, at_theirs = float(ours.subs(point)), float(theirs.subs(point))
        assert math.isclose(at_ours, at_theirs, rel_tol=1e-12, abs_tol=1e-15), (name, ours)
        assert math.isclose(at_ours, _leaf(y, name).grad, rel_tol=1e-9, abs_tol=1e-12)
        if "abs" not in text:  # smooth: the two must be the same function, not just here
            assert sp.simplify(ours - theirs) == 0, (name, ours, theirs)


def test_sum_and_dot_nodes_and_constants_are_exact() -> None:
    w1, w2, x = Value(0.5, label="w1"), Value(-0.25, label="w2"), Value(2.0, label="x")
    z = sum_values([dot([w1, w2], [x, 1.0]), x * 0.5, 3])
    w1_, w2_, x_ = sp.symbols("w1 w2 x", real=True)
    assert to_sympy(z) == w1_ * x_ + w2_ + x_ / 2 + 3
    assert derivative(z, x) == w1_ + sp.Rational(1, 2)
    assert derivative(z, Value(1.0, label="elsewhere")) == 0


def test_a_readable_formula_for_a_sigmoid() -> None:
    y = parse("sigmoid(w*x + b)", w=0.4, x=0.5, b=0.1)
    d = derivative(y, _leaf(y, "w"))
    assert not d.atoms(sp.cosh), d  # no 1/(4 cosh²): the learner's own exponentials


def test_without_sympy_one_line_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sympy", None)  # what `import sympy` sees when missing
    with pytest.raises(ImportError) as info:
        to_sympy(Value(1.0, label="x") * 2)
    message = str(info.value)
    assert "autograd_bp[symbolic]" in message and "\n" not in message


def test_cli_formula_without_sympy_is_one_clear_line(monkeypatch, capsys) -> None:
    from autograd_bp.cli import main

    monkeypatch.setitem(sys.modules, "sympy", None)
    assert main(["grad", "x*x", "x=3", "--formula"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "autograd_bp[symbolic]" in err[0]


def test_bad_arguments_are_named() -> None:
    x = Value(1.0, label="x")
    with pytest.raises(TypeError, match="to_sympy: value must be a Value, got float"):
        to_sympy(1.0)
    with pytest.raises(TypeError, match="derivative: wrt must be a Value, got str"):
        derivative(x * 2, "x")
