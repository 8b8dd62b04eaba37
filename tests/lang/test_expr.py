"""The expression language: grammar-generated expressions, the whitelist, and fuzzing."""

from __future__ import annotations

import ast
import math
import os
import random
import re
import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograd_bp import DomainError, Value
from autograd_bp.check.gradcheck import gradcheck
from autograd_bp.lang.expr import ExpressionError, parse, variables

VARS = ["x", "y", "z"]
SAFE_FUNCS = ["tanh", "sigmoid", "sin", "cos", "softplus", "exp"]

# A grammar producing (text, builder) pairs: the builder makes the same graph with Value ops.
leaf = st.one_of(
    st.sampled_from(VARS).map(lambda n: (n, lambda v, n=n: v[n])),
    st.floats(0.1, 3.0).map(lambda c: (repr(c), lambda v, c=c: c)),
)


def extend(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*"]), children).map(
        lambda t: (f"({t[0][0]} {t[1]} {t[2][0]})", _binop(t[1], t[0][1], t[2][1]))
    )
    call = st.tuples(st.sampled_from(SAFE_FUNCS), children).map(
        lambda t: (f"{t[0]}({t[1][0]})", lambda v, f=t[0], a=t[1][1]: _call(f, a(v)))
    )
    neg = children.map(lambda t: (f"-({t[0]})", lambda v, a=t[1]: -a(v)))
    return st.one_of(binary, call, neg)


def _binop(op, a, b):
    ops = {"+": lambda p, q: p + q, "-": lambda p, q: p - q, "*": lambda p, q: p * q}
    return lambda v: ops[op](a(v), b(v))


def _call(name, x):
    if not isinstance(x, Value):
        x = Value(x)
    return getattr(x, name)()


expressions = st.recursive(leaf, extend, max_leaves=12)
values = st.fixed_dictionaries({n: st.floats(-1.5, 1.5) for n in VARS})


@settings(max_examples=150, deadline=None)
@given(expressions, values)
def test_parsed_expression_equals_the_same_graph_built_with_value_ops(expr, vals) -> None:
    text, build = expr
    used = {n: vals[n] for n in variables(text)}
    try:
        parsed = parse(text, **used)
        leaves = {n: Value(vals[n]) for n in VARS}
        direct = build(leaves)
    except OverflowError:
        assume(False)
    direct = direct if isinstance(direct, Value) else Value(direct)
    assert parsed.data == direct.data
    parsed.backward()
    direct.backward()
    grads = {n.label: n.grad for n in _leaves(parsed)}
    for name in used:
        assert grads[name] == leaves[name].grad
    if used and all(math.isfinite(g) and abs(g) < 1e6 for g in grads.values()):
        report = gradcheck(lambda *vs: parse(text, **dict(zip(used, vs))), list(used.values()))
        assert report.passed, report.text()


def _leaves(root):
    from autograd_bp import backward_order

    return [n for n in backward_order(root) if not n.parents and n.label]


def test_a_variable_used_twice_is_one_leaf() -> None:
    y = parse("x*x + x", x=3.0)
    y.backward()
    (x,) = _leaves(y)
    assert x.label == "x" and x.grad == 7.0


def test_numbers_constants_and_functions() -> None:
    assert parse("2.5e-1 * 4 + pi - e").data == pytest.approx(1 + math.pi - math.e)
    assert parse("leaky_relu(x, 0.2)", x=-1.0).data == pytest.approx(-0.2)
    assert parse("-x ** 2", x=3.0).data == -9.0  # Python precedence
    assert variables("sigmoid(w1*x1 + w2*x2 + b)") == ["w1", "x1", "w2", "x2", "b"]


@pytest.mark.parametrize(
    "text, words",
    [
        ("x.real", ["attribute access is not allowed", "'x.real'", "column 1"]),
        ("x[0]", ["indexing"]),
        ("(lambda: 1)()", ["only plain function names"]),
        ("[a for a in b]", ["a comprehension"]),
        ("sin(x=1)", ["keyword"]),
        ("'abc'", ["only numbers"]),
        ("__import__('os')", ["__import__"]),
        ("(y := 2)", ["':='"]),
        ("f'{x}'", ["an f-string"]),
        ("x if x else 1", ["'if ... else'"]),
        ("x < 1", ["a comparison"]),
        ("x^2", ["use ** for powers", "'x^2' at column 1"]),
        ("x // 2", ["'//' is not supported", "+ - * / **"]),
        ("~x", ["'~' is not supported"]),
        ("not x", ["'not' is not supported"]),
        ("x and 1", ["'and'/'or'"]),
        ("1e309 * x", ["'1e309' at column 1", "too large"]),
        ("x + 1" + "0" * 400, ["too large"]),
        ("(x, 1)", ["a tuple"]),
        ("foo(x)", ["unknown function 'foo'", "sigmoid"]),
        ("sin(x, x)", ["takes 1"]),
        ("x +", ["syntax error"]),
        ("", ["empty"]),
        ("1j * x", ["only numbers"]),
        ("True + x", ["only numbers"]),
        ("x" + "+x" * 6000, ["limit"]),
        ("(" * 200 + "x" + ")" * 200, ["deeper than 100"]),
        ("-" * 3000 + "x", ["expression"]),
    ],
)
def test_everything_outside_the_whitelist_is_an_expression_error(text, words) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text, x=1.0)
    for w in words:
        assert w in str(info.value)
    assert not _class_name_in(str(info.value)), "messages speak words, not ast class names"


AST_CLASS = re.compile(
    r"\b("
    + "|".join(
        n
        for n in dir(ast)
        if isinstance(getattr(ast, n), type)
        and issubclass(getattr(ast, n), ast.AST)
        and n[0].isupper()
        and n not in ("Expression",)
    )
    + r")\b"
)


def _class_name_in(message: str) -> bool:
    """Whether an ast class name appears in the message outside the quoted user text."""
    return bool(AST_CLASS.search(re.sub(r"'[^']*'|\"[^\"]*\"", "", message)))


@pytest.mark.parametrize(
    "values, words",
    [
        ({}, ["no value", "x"]),
        ({"x": 1.0, "q": 2.0}, ["does not use", "q"]),
        ({"x": "abc"}, ["must be a number"]),
    ],
)
def test_variable_mismatches_are_named(values, words) -> None:
    with pytest.raises(ExpressionError) as info:
        parse("x * 2", **values)
    for w in words:
        assert w in str(info.value)


def test_domain_errors_pass_through_with_the_expression_context() -> None:
    with pytest.raises(DomainError, match=r"log.*in 'log\(x\)' at column 3"):
        parse("1+log(x)", x=-1.0)
    with pytest.raises(ZeroDivisionError, match="div"):
        parse("1 / (x - 1)", x=1.0)
    with pytest.raises(OverflowError, match="exp"):
        parse("exp(x)", x=1000.0)


ALLOWED = (ExpressionError, DomainError, ZeroDivisionError, OverflowError)
PIECES = ["x", "y", "1", "2.5", "e", "pi", "+", "-", "*", "/", "**", "(", ")", ",", "sin(",
          "log(", ".", "[", "]", "'", "lambda", ":", "=", "__import__", "open(", " "]  # fmt: skip


def fuzz(count: int, canary: str) -> None:
    rng = random.Random(count)
    valid = ["sigmoid(w1*x + y)", "x**2 + sin(y)/x", "log(x) * exp(-y)", "tanh(x*y - 3e-2)"]
    alphabet = string.printable + "∂σλ\x00"
    attack = f"__import__('os').system('touch {canary}')"
    for i in range(count):
        kind = i % 3
        if kind == 0:
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40)))
        elif kind == 1:
            text = "".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 20)))
        else:
            chars = list(rng.choice(valid + [attack]))
            for _ in range(rng.randrange(1, 4)):
                pos = rng.randrange(len(chars) + 1)
                op = rng.randrange(3)
                if op == 0 and chars:
                    del chars[min(pos, len(chars) - 1)]
                elif op == 1:
                    chars.insert(pos, rng.choice(PIECES))
                elif chars:
                    chars[min(pos, len(chars) - 1)] = rng.choice(alphabet)
            text = "".join(chars)
        try:
            names = variables(text)
            result = parse(text, **{n: rng.uniform(-2, 2) for n in names})
            assert isinstance(result, Value)
        except ExpressionError as e:  # in words, never an ast class name
            assert not _class_name_in(str(e)), str(e)
        except ALLOWED:
            pass


def test_fuzzing_only_ever_gives_a_value_or_a_documented_error(tmp_path) -> None:
    canary = tmp_path / "executed"
    fuzz(5_000, str(canary))
    assert not canary.exists()
    with pytest.raises(ExpressionError):
        parse(f"__import__('os').system('touch {canary}')")
    assert not canary.exists()


@pytest.mark.slow
def test_fuzzing_a_hundred_thousand_inputs(tmp_path) -> None:
    canary = tmp_path / "executed"
    fuzz(100_000, str(canary))
    assert not canary.exists() and not os.path.exists("executed")


# --- names: every node carries its source text ---------------------------------------------


def test_nodes_carry_the_source_text_of_their_subexpression() -> None:
    y = parse("sigmoid(w*x + b)", w=0.4, x=0.5, b=0.1)
    z = y.parents[0]
    wx = z.parents[0]
    assert (y.label, z.label, wx.label) == ("f", "w*x + b", "w*x")  # the output is f
    assert y.expr() == "sigmoid(w*x + b)" and parse("f*x", f=1.0, x=2.0).label == "f_1"
    assert [p.label for p in wx.parents] == ["w", "x"]  # leaves keep their names
    spaced = parse("  (a  +\tb) * 2 ", a=1.0, b=2.0)
    assert spaced.label == "f" and spaced.parents[0].label == "a + b"


def test_an_existing_value_keeps_its_label_and_a_constant_expression_is_labelled() -> None:
    h = Value(2.0)
    y = parse("h*h", h=h)
    assert h.label == "" and y.label == "f"
    assert parse("2 + 3").label == "" and parse("2 + 3").data == 5.0  # a number, not a name
    assert parse("+x", x=1.0).label == "x"


def test_explanations_say_the_subexpression() -> None:
    from autograd_bp.show.explain import explain

    y = parse("sigmoid(w*x + b)", w=0.4, x=0.5, b=0.1)
    text = explain(y, y.parents[0].parents[0].parents[0]).text(6)
    assert "∂f/∂(w*x + b)" in text and "∂(w*x)/∂w" in text
    assert "where f = sigmoid(w*x + b)" in text


@given(expressions, values)
@settings(max_examples=60, deadline=None)
def test_infix_of_a_parsed_graph_parses_back_to_the_same_numbers(expr, vals) -> None:
    from autograd_bp.core.graph import infix

    text, _ = expr
    used = {n: vals[n] for n in variables(text)}
    try:
        y = parse(text, **used)
    except OverflowError:
        assume(False)
    printed = infix(y)
    assert " where " not in printed  # parse never shares a computed node
    again = parse(printed, **used)
    assert again.data == y.data or (math.isnan(again.data) and math.isnan(y.data))


# --- the language comes from the op table ----------------------------------------------------


def test_functions_and_operators_are_the_op_tables() -> None:
    from autograd_bp.core.ops import RULES
    from autograd_bp.lang.expr import FUNCTIONS, OPERATORS

    assert set(FUNCTIONS) == {r.function for r in RULES.values() if r.function and not r.variadic}
    assert set(OPERATORS) == {"+", "-", "*", "/", "**"}
    assert all(FUNCTIONS[r.function] is r for r in RULES.values() if r.function)


def test_the_cli_docs_list_exactly_the_tables_functions() -> None:
    from pathlib import Path

    from autograd_bp.lang.expr import FUNCTIONS, OPERATORS

    page = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    functions = re.search(r"the functions `([^`]*)`", page).group(1).split()
    operators = re.search(r"variables, `([^`]*)`", page).group(1).split()
    assert functions == list(FUNCTIONS)
    assert operators == list(OPERATORS)
