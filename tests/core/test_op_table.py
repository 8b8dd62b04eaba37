"""Every rule of the op table — the built-in ones and ones registered at runtime — through
every path a rule takes outside the dynamic engine's float forward:

* ``compile``: the rule's ``forward`` and ``local`` on numpy arrays, a whole batch at once,
  equal to the dynamic engine at each example (1e-12 relative), on the general path, on a
  batch of one (flat rows) and on a batch of two (2-D rows);
* the expression language: random expressions that spell the rule (by its function name or
  its operator), parsed, equal to the same graph built with ``Value``'s methods, and the
  parsed graph compiled;
* higher order: ``grad(..., create_graph=True)`` twice — the rule's ``local`` on Values —
  against central differences of the first and of the second derivative.

The checks read nothing but the table (``RULES`` and each ``Rule``'s fields), so a rule
added tomorrow is tested by them at once. A rule whose forward or local works on floats
only passes every float test and fails here — the last tests register two such rules and
show each check catching them.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import math
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import central_difference

from autograd_bp import ExpressionError, Value, compile, dot, grad, parse, sum_values, variables
from autograd_bp.core import RULES, Rule, logsumexp, register

ROOT = Path(__file__).resolve().parents[2]

# The variadic rules are reached through functions of the engine, not Value methods (and
# ``register`` refuses variadic rules, so these are all there can be): how to call each,
# and with how many operands.
VARIADIC: dict[str, tuple[Callable[[list[Any]], Value], int]] = {
    "sum": (sum_values, 3),
    "dot": (lambda xs: dot(xs[0::2], xs[1::2]), 4),
    "logsumexp": (logsumexp, 3),
}
# Operand values: both signs, both zeros (where relu, abs, step and sign have their kink and
# sqrt, log and recip their edge), away from integers (pow of a negative base).
GRID = [-2.3, -1.1, -0.45, -0.0, 0.0, 0.05, 0.35, 0.8, 1.7, 2.6, 4.2]
SMOOTH_GRID = [v for v in GRID if v != 0.0]  # for differences: every kink and edge is at 0
ERRORS = (ArithmeticError, ValueError)  # DomainError is a ValueError: outside the domain

# At the edges (sqrt and recip at ±0) a local derivative is infinite and the batch's sum of
# gradients inf + (−inf): numpy warns where the dynamic engine computes the same NaN quietly.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


# --------------------------------------------------------------------- rules registered here


def _scaled_tanh_forward(a: Any, k: float) -> Any:
    return math.tanh(k * a) if type(a) is float else np.tanh(k * a)


RUNTIME_RULES = {  # written as the docs ask: forward on floats and arrays, local on Values too
    "softsign_rt": Rule(
        "softsign_rt", lambda x, _: x / (1 + abs(x)), lambda x, out, _: (1 / (1 + abs(x)) ** 2,),
        method="softsign_rt", function="softsign_rt", formula=("1/(1 + abs({x}))**2",),
        text=("1/(1 + |{x}|)²",), latex=("\\frac{1}{(1+|{x}|)^2}",)),
    "scaled_tanh_rt": Rule(
        "scaled_tanh_rt", _scaled_tanh_forward, lambda a, out, k: (k * (1.0 - out * out),),
        method="scaled_tanh_rt", function="scaled_tanh_rt", param="k", default=2.0,
        formula=("{p}*(1 - scaled_tanh_rt({x})**2)",), text=("k·(1 − out²)",),
        latex=("k(1-\\text{out}^2)",)),
}  # fmt: skip
FLOAT_ONLY_RULES = {  # each passes every test on floats
    "forward_on_floats_only": Rule(  # math.tanh: a batch (an array) is a TypeError
        "tanh_floats_rt", lambda a, _: math.tanh(a), lambda a, out, _: (1.0 - out * out,),
        method="tanh_floats_rt", function="tanh_floats_rt", formula=("1 - {out}**2",),
        text=("1 − out²",), latex=("1-\\text{out}^2",)),
    "local_on_floats_only": Rule(  # math.cos: an array is a TypeError; a Value, through its
        # __float__, becomes a constant, so create_graph loses the second derivative
        "sin_floats_rt", lambda a, _: math.sin(a) if type(a) is float else np.sin(a),
        lambda a, out, _: (math.cos(a),), method="sin_floats_rt", function="sin_floats_rt",
        formula=("cos({x})",), text=("cos({x})",), latex=("\\cos({x})",)),
}  # fmt: skip


def _refresh_script() -> Any:
    """scripts/refresh_doc_outputs.py, whose ``op_table_restored`` undoes a registration."""
    spec = importlib.util.spec_from_file_location(
        "refresh_doc_outputs", ROOT / "scripts" / "refresh_doc_outputs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def table() -> Iterator[dict[str, Rule]]:
    """The op table, with whatever a test registers taken out again afterwards (the rule and
    its Value methods), so no other test sees it."""
    with _refresh_script().op_table_restored():
        yield RULES


def rule_named(name: str, table: dict[str, Rule]) -> Rule:
    """A rule of the table, or one of this file's, registered now (``table`` undoes it)."""
    if name in RUNTIME_RULES:
        return register(RUNTIME_RULES[name])
    return table[name]


ALL_RULES = sorted(RULES) + sorted(RUNTIME_RULES)  # every rule, read from the table itself


# --------------------------------------------------------------------- a rule, applied


def n_operands(rule: Rule) -> int:
    return VARIADIC[rule.name][1] if rule.variadic else rule.arity


def param_of(rule: Rule) -> float | None:
    """The parameter to test a rule with: its default, or 0.5 when it declares none."""
    if rule.param is None:
        return None
    return rule.default if rule.default is not None else 0.5


def apply(rule: Rule, xs: Sequence[Any], param: float | None = None) -> Value:
    """The rule on operands (Values, or numbers beside a Value) the way a user writes it:
    ``a * b``, ``2.0 * b`` (the reflected method), ``x.tanh()``, ``x.leaky_relu(p)``,
    ``sum_values(xs)``; with ``param`` None a parametrised op takes its default."""
    if rule.variadic:
        return VARIADIC[rule.name][0](list(xs))
    if rule.arity == 2:
        a, b = xs
        if type(a) is Value:
            return getattr(a, f"__{rule.method}__")(b)
        return getattr(b, f"__r{rule.method}__")(a)
    assert rule.method is not None, f"{rule.name}: a one-operand rule needs a method"
    return getattr(xs[0], rule.method)(*([] if param is None else [param]))


def close(got: float, want: float, rel: float, abs_: float) -> bool:
    """math.isclose, with inf equal to the same inf and NaN to NaN."""
    got, want = float(got), float(want)
    if math.isnan(got) or math.isnan(want):
        return math.isnan(got) and math.isnan(want)
    if math.isinf(got) or math.isinf(want):
        return got == want
    return math.isclose(got, want, rel_tol=rel, abs_tol=abs_)


def dynamic(build: Callable[[list[Value]], Value], row: Sequence[float]
            ) -> tuple[float, tuple[float, ...]] | None:  # fmt: skip
    """The dynamic engine on one example: the output and its gradient wrt each operand, or
    None when the example is outside the domain (the float forward refuses it)."""
    xs = [Value(v) for v in row]
    try:
        out = build(xs)
        return out.data, tuple(grad(out, xs))
    except ERRORS:
        return None


# --------------------------------------------------------------------- the three checks


def batch_rows(rule: Rule, build: Callable[[list[Value]], Value]) -> np.ndarray:
    """Examples for a batch: the grid (all of it for one or two operands, 24 draws for
    more), without those outside the rule's domain."""
    n = n_operands(rule)
    if n <= 2:
        candidates = list(itertools.product(GRID, repeat=n))
    else:
        rng = random.Random(rule.name)
        candidates = [tuple(rng.choice(GRID) for _ in range(n)) for _ in range(24)]
    return np.array([row for row in candidates if dynamic(build, row) is not None])


def compiled_grads(f: Any, weights: list[Value], batch: np.ndarray) -> list[float]:
    """Σ over ``batch`` of ∂f/∂weight, from the compiled tape, in ``weights`` order."""
    for w in weights:
        w.grad = 0.0
    f.backward(batch, reduction="sum")
    return [w.grad for w in weights]


def check_compiled(build: Callable[[list[Value]], Value], rows: np.ndarray, what: str) -> None:
    """``build`` compiled on the batch ``rows`` equals the dynamic engine at each example:
    the output, and the gradient wrt each operand — read as the gradient of a parameter
    ``w = -0.0`` added to it (x + (-0.0) is x for every x, -0.0 included) — on the whole
    batch (its sum), on a batch of one (flat rows) and on that example twice (2-D rows)."""
    assert len(rows) >= 2 and (rows != rows[0]).any(), f"{what}: no batch to compile"
    weights = [Value(-0.0) for _ in range(rows.shape[1])]
    f = compile(lambda *xs: build([x + w for x, w in zip(xs, weights)]), rows[0], rows[1])
    outputs = f(rows)
    total = np.zeros(len(weights))
    scale = np.zeros(len(weights))
    for row, out in zip(rows, outputs):
        want = dynamic(build, row)
        assert want is not None
        assert close(out, want[0], 1e-12, 1e-12), f"{what} at {row}: {out} != {want[0]}"
        for batch in (row[None, :], np.stack([row, row])):
            got = np.array(compiled_grads(f, weights, batch)) / len(batch)
            for i, (g, d) in enumerate(zip(got, want[1])):
                assert close(g, d, 1e-12, 1e-12), (
                    f"{what}: ∂/∂operand {i} at {row}, batch of {len(batch)}: {g} != {d}"
                )
        total += want[1]
        scale += np.abs(want[1])
    got = compiled_grads(f, weights, rows)
    for i, (g, d, s) in enumerate(zip(got, total, scale)):
        assert close(g, d, 1e-12, 1e-12 * max(1.0, s)), f"{what}: Σ ∂/∂operand {i}: {g} != {d}"


def smooth_points(rule: Rule, param: float | None, h: float) -> list[tuple[float, ...]]:
    """Grid points away from every kink and edge where the rule and its first derivatives
    are finite at the point and at each point ± h along each operand."""
    n = n_operands(rule)
    if n <= 2:
        candidates = list(itertools.product(SMOOTH_GRID, repeat=n))
    else:
        rng = random.Random(rule.name)
        candidates = [tuple(rng.choice(SMOOTH_GRID) for _ in range(n)) for _ in range(12)]
    points = []
    for p in candidates:
        near = [p] + [tuple(v + s * h * max(1.0, abs(v)) * (k == j) for k, v in enumerate(p))
                      for j in range(n) for s in (-1, 1)]  # fmt: skip
        results = [dynamic(lambda xs: apply(rule, xs, param), q) for q in near]
        if all(r is not None and all(map(math.isfinite, (r[0], *r[1]))) for r in results):
            points.append(p)
    return points


def derivatives(rule: Rule, point: Sequence[float], param: float | None, order: int
                ) -> list[Any]:  # fmt: skip
    """∂^order out / ∂x_i ∂x_j ..., as nested lists of floats, through ``grad`` with
    ``create_graph=True`` at every order but the last."""
    xs = [Value(v) for v in point]
    level: list[Any] = [apply(rule, xs, param)]
    for k in range(order):
        last = k == order - 1
        level = [list(grad(y, xs, create_graph=not last)) for y in _flat(level)]
    return [v if isinstance(v, float) else v.data for v in _flat(level)]


def _flat(items: list[Any]) -> list[Any]:
    return [v for item in items for v in (item if isinstance(item, list) else [item])]


def check_higher_order(rule: Rule, param: float | None, what: str) -> int:
    """At each smooth point: the second derivatives (grad with create_graph, then grad)
    equal central differences of the first, and the third those of the second. Returns how
    many points were checked."""
    h = 1e-6
    points = smooth_points(rule, param, h)
    n = n_operands(rule)
    for p in points:
        for order in (2, 3):
            got = derivatives(rule, p, param, order)  # flat: index = (i·n + j)·n + ...
            for idx, value in enumerate(got):
                k, j = divmod(idx, n)  # the lower derivative k, taken again along x_j
                numeric = numeric_derivative(rule, p, param, order - 1, k, j, h)
                # exact derivatives against differences of exact ones: the difference
                # errs by about 1e-10 relative (rounding over h), so 1e-6 still has room
                assert close(value, numeric, 1e-6, 1e-7), (
                    f"{what}: order-{order} derivative #{idx} at {p} is {value}, "
                    f"central differences say {numeric}"
                )
    return len(points)


def numeric_derivative(rule: Rule, p: Sequence[float], param: float | None, order: int,
                       k: int, j: int, h: float) -> float:  # fmt: skip
    """Central difference along x_j of the k-th derivative of order ``order``."""

    def lower(t: float) -> float:
        q = [t if m == j else v for m, v in enumerate(p)]
        return float(derivatives(rule, q, param, order)[k])

    return central_difference(lower, p[j], h)


# --------------------------------------------------------------------- the expression language


FILLERS = ["add", "sub", "mul", "tanh"]  # the ops around the rule in a random expression
NUMBERS = [2.5, 0.5, -1.5, 3.0]


def spelling(rule: Rule) -> str | None:
    """How the expression language writes the rule: its function name, its infix symbol
    (``a ** b``) or its prefix one (``-x``); None if it has no spelling (variadic rules)."""
    if rule.variadic:
        return None
    if rule.function is not None:
        return "call"
    if not rule.symbol.isidentifier():
        return "infix" if rule.arity == 2 else "prefix"
    return None


def grow(rng: random.Random, target: Rule, depth: int, force: bool = False) -> Any:
    """A random expression tree in which every subtree reads a variable: a variable, or
    (rule, operands, parameter) with the rule ``target`` (always when ``force``) or a filler."""
    if not force and (depth == 0 or rng.random() < 0.3):
        return rng.choice("xy")
    rule = target if force or rng.random() < 0.5 else RULES[rng.choice(FILLERS)]
    kids = [grow(rng, target, depth - 1) for _ in range(rule.arity)]
    if rule.arity == 2 and rng.random() < 0.3:  # a number on one side: a reflected method
        kids[rng.randrange(2)] = rng.choice(NUMBERS)
    param = rng.choice([None, 0.2]) if rule.param is not None else None
    return (rule, kids, param)


def spell(tree: Any) -> str:
    if isinstance(tree, str):
        return tree
    if isinstance(tree, float):
        return f"({tree!r})" if tree < 0 else repr(tree)
    rule, kids, param = tree
    args = [spell(k) for k in kids]
    kind = spelling(rule)
    if kind == "call":
        extra = [] if param is None else [repr(param)]
        return f"{rule.function}({', '.join(args + extra)})"
    if kind == "infix":
        return f"({args[0]} {rule.symbol} {args[1]})"
    return f"({rule.symbol}{args[0]})"


def build_tree(tree: Any, leaves: dict[str, Value]) -> Any:
    """The tree with Value methods, not the parser: the oracle for ``parse``."""
    if isinstance(tree, str):
        return leaves[tree]
    if isinstance(tree, float):
        return tree
    rule, kids, param = tree
    return apply(rule, [build_tree(k, leaves) for k in kids], param)


def parse_or_error(text: str, leaves: dict[str, Any]) -> Value | type:
    try:
        return parse(text, **leaves)
    except ERRORS as e:
        assert not isinstance(e, ExpressionError), f"{text!r}: {e}"
        return type(e)


def check_expressions(rule: Rule, count: int, compiled_every: int, seed: int
                      ) -> tuple[int, int]:  # fmt: skip
    """``count`` random expressions spelling the rule: parsed, each equals the tree built
    with Value methods (value and gradients, bit for bit; or the same error); every
    ``compiled_every``-th is compiled on a batch. Returns how many gave a value, and how
    many were compiled."""
    rng = random.Random(f"{rule.name}:{seed}")
    compared = compiled = 0
    for k in range(count):
        tree = grow(rng, rule, 3, force=True)
        text = spell(tree)
        names = variables(text)
        row = {n: rng.choice(GRID) for n in names}
        leaves = {n: Value(v) for n, v in row.items()}
        parsed = parse_or_error(text, leaves)
        built_leaves = {n: Value(v) for n, v in row.items()}
        try:
            built = build_tree(tree, built_leaves)
        except ERRORS as e:
            assert parsed is type(e), f"{text!r} at {row}: parse gave {parsed}, methods {e!r}"
            continue
        assert isinstance(parsed, Value), f"{text!r} at {row}: parse raised {parsed}"
        assert close(parsed.data, built.data, 0.0, 0.0), f"{text!r} at {row}"
        by_parse = grad(parsed, list(leaves.values()))
        by_methods = grad(built, list(built_leaves.values()))
        assert all(close(a, b, 0.0, 0.0) for a, b in zip(by_parse, by_methods)), (
            f"{text!r} at {row}: gradients {by_parse} != {by_methods}"
        )
        compared += 1
        if k % compiled_every == 0:
            compiled += _compile_expression(text, names)
    return compared, compiled


def _compile_expression(text: str, names: list[str]) -> int:
    def build(xs: list[Value]) -> Value:
        return parse(text, **dict(zip(names, xs)))

    rows = np.array([r for r in itertools.product(SMOOTH_GRID[::2], repeat=len(names))
                     if dynamic(build, r) is not None])  # fmt: skip
    if len(rows) < 2:  # (nearly) nowhere in the domain on this grid: nothing to compare
        return 0
    check_compiled(build, rows, f"compile(parse({text!r}))")
    return 1


# --------------------------------------------------------------------- the tests


@pytest.mark.parametrize("name", ALL_RULES)
def test_every_rule_compiles_on_a_batch_to_the_dynamic_engine(name: str, table) -> None:
    rule = rule_named(name, table)
    param = param_of(rule)

    def build(xs: list[Value]) -> Value:
        return apply(rule, xs, param)

    rows = batch_rows(rule, build)
    assert len(rows) >= 5, f"{name}: the grid barely meets the domain ({len(rows)} examples)"
    check_compiled(build, rows, name)


@pytest.mark.parametrize("name", ALL_RULES)
def test_every_rule_differentiates_twice_and_thrice(name: str, table) -> None:
    rule = rule_named(name, table)
    assert check_higher_order(rule, param_of(rule), name) >= 3


@pytest.mark.parametrize("name", ALL_RULES)
def test_every_rule_the_language_spells_parses_and_compiles(name: str, table) -> None:
    rule = rule_named(name, table)
    if spelling(rule) is None:  # not in the language: then no name of it parses either
        assert rule.variadic or rule.function is None
        with pytest.raises(ExpressionError, match="unknown function"):
            parse(f"{rule.name}(x, y)", x=1.0, y=2.0)
        return
    compared, compiled = check_expressions(rule, count=40, compiled_every=8, seed=0)
    assert compared >= 10 and compiled >= 1, (compared, compiled)


def test_the_variadic_rules_are_the_ones_this_file_can_call() -> None:
    assert {r.name for r in RULES.values() if r.variadic} == set(VARIADIC)


def test_a_runtime_rule_with_a_parameter_takes_it_everywhere(table) -> None:
    rule = rule_named("scaled_tanh_rt", table)
    rows = np.array([[v] for v in GRID])
    check_compiled(lambda xs: apply(rule, xs, 0.3), rows, "scaled_tanh_rt(x, 0.3)")
    assert check_higher_order(rule, 0.3, "scaled_tanh_rt(x, 0.3)") >= 3
    assert parse("scaled_tanh_rt(x, 0.3)", x=1.0).data == math.tanh(0.3)


# --------------------------------------------------------------------- floats-only rules


def test_a_rule_with_a_forward_on_floats_only_fails_under_compile(table) -> None:
    rule = register(FLOAT_ONLY_RULES["forward_on_floats_only"])
    y = Value(0.5).tanh_floats_rt()  # on floats, as the dynamic engine runs it: fine
    assert y.data == math.tanh(0.5) and grad(y, [y.parents[0]])[0] == 1 - y.data**2
    assert check_higher_order(rule, None, rule.name) >= 3  # the float tests pass
    rows = batch_rows(rule, lambda xs: apply(rule, xs))
    with pytest.raises(TypeError):  # math.tanh of a batch
        check_compiled(lambda xs: apply(rule, xs), rows, rule.name)


def test_a_rule_with_a_local_on_floats_only_is_refused_or_first_order_only(table) -> None:
    float_local = FLOAT_ONLY_RULES["local_on_floats_only"]
    with pytest.raises(ValueError, match="plain number when given Values"):
        register(float_local)  # the probe at registration sees math.cos drop the graph
    assert float_local.name not in RULES
    rule = register(dataclasses.replace(float_local, first_order=True))  # declared: accepted
    x = Value(0.5)
    assert grad(x.sin_floats_rt(), [x])[0] == math.cos(0.5)  # first order on floats: fine
    rows = batch_rows(rule, lambda xs: apply(rule, xs))
    with pytest.raises(TypeError):  # math.cos of a batch, in the backward pass
        check_compiled(lambda xs: apply(rule, xs), rows, rule.name)
    with pytest.raises(ValueError, match=rule.name):  # create_graph refuses it by name
        grad(x.sin_floats_rt(), [x], create_graph=True)


def test_the_float_only_rules_are_gone_after_their_tests() -> None:
    assert not {r.name for r in FLOAT_ONLY_RULES.values()} & set(RULES)
    assert not any(hasattr(Value, r.method) for r in FLOAT_ONLY_RULES.values() if r.method)


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL_RULES)
def test_every_rule_in_a_thousand_expressions(name: str, table) -> None:
    rule = rule_named(name, table)
    if spelling(rule) is not None:
        compared, compiled = check_expressions(rule, count=1000, compiled_every=25, seed=1)
        assert compared >= 250 and compiled >= 5, (compared, compiled)
