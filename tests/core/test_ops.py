"""Every rule in the op table: values and local derivatives against central differences,
PyTorch float64, and (through create_graph) second derivatives."""

from __future__ import annotations

import math
import struct

import pytest
from conftest import central_difference, require_torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp import DomainError, Value, grad
from autograd_bp.core.ops import RULES

# name -> (build on a Value, the same in torch, strategy for x inside the domain)
moderate = st.floats(-5, 5, allow_nan=False)
positive = st.floats(0.05, 20)
nonzero = moderate.filter(lambda v: abs(v) > 1e-3)  # away from the kinks of relu, abs, step
UNARY = {
    "exp": (lambda x: x.exp(), lambda t, x: t.exp(x), moderate),
    "log": (lambda x: x.log(), lambda t, x: t.log(x), positive),
    "sqrt": (lambda x: x.sqrt(), lambda t, x: t.sqrt(x), positive),
    "tanh": (lambda x: x.tanh(), lambda t, x: t.tanh(x), moderate),
    "sigmoid": (lambda x: x.sigmoid(), lambda t, x: t.sigmoid(x), moderate),
    "relu": (lambda x: x.relu(), lambda t, x: t.relu(x), moderate.filter(lambda v: abs(v) > 1e-3)),
    "leaky_relu": (
        lambda x: x.leaky_relu(0.1),
        lambda t, x: t.nn.functional.leaky_relu(x, 0.1),
        moderate.filter(lambda v: abs(v) > 1e-3),
    ),
    "softplus": (lambda x: x.softplus(), lambda t, x: t.nn.functional.softplus(x), moderate),
    "sin": (lambda x: x.sin(), lambda t, x: t.sin(x), moderate),
    "cos": (lambda x: x.cos(), lambda t, x: t.cos(x), moderate),
    "abs": (lambda x: abs(x), lambda t, x: t.abs(x), moderate.filter(lambda v: abs(v) > 1e-3)),
    "neg": (lambda x: -x, lambda t, x: -x, moderate),
    "recip": (lambda x: x.recip(), lambda t, x: t.reciprocal(x), positive),
    "step": (lambda x: x.step(), lambda t, x: (x > 0).double() + 0 * x, nonzero),
    "sign": (lambda x: x.sign(), lambda t, x: t.sign(x), nonzero),
}
BINARY = {
    "add": (lambda a, b: a + b, positive, moderate),
    "sub": (lambda a, b: a - b, positive, moderate),
    "mul": (lambda a, b: a * b, moderate, moderate),
    "div": (lambda a, b: a / b, moderate, positive),
    "pow": (lambda a, b: a**b, positive, st.floats(-3, 3)),
}


def test_every_rule_is_tested() -> None:
    assert set(RULES) == set(UNARY) | set(BINARY) | {"sum", "dot", "logsumexp"}


def close(a: float, b: float, rel: float = 1e-10, abs_: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def first_derivative(f, x: float) -> float:
    v = Value(x)
    f(v).backward()
    return v.grad


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_local_derivative_matches_central_difference(name: str) -> None:
    f, _, domain = UNARY[name]

    @settings(max_examples=60, deadline=None)
    @given(domain)
    def check(x: float) -> None:
        numeric = central_difference(lambda t: f(Value(t)).data, x)
        assert math.isclose(first_derivative(f, x), numeric, rel_tol=1e-5, abs_tol=1e-6)

    check()


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_second_derivative_matches_difference_of_first(name: str) -> None:
    f, _, domain = UNARY[name]

    @settings(max_examples=40, deadline=None)
    @given(domain)
    def check(x: float) -> None:
        v = Value(x)
        (d1,) = grad(f(v), [v], create_graph=True)
        (d2,) = grad(d1, [v])
        assert close(d1.data, first_derivative(f, x))
        numeric = central_difference(lambda t: first_derivative(f, t), x)
        assert math.isclose(d2, numeric, rel_tol=1e-4, abs_tol=1e-5)

    check()


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch_float64(name: str) -> None:
    torch = require_torch()
    f, tf, domain = UNARY[name]

    @settings(max_examples=60, deadline=None)
    @given(domain)
    def check(x: float) -> None:
        assert_matches_torch(torch, f, tf, x)

    check()


def assert_matches_torch(torch, f, tf, x: float) -> None:
    """Value and derivative of f at x equal PyTorch float64's (1e-10 relative)."""
    v = Value(x)
    out = f(v)
    out.backward()
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tout = tf(torch, t)
    tout.backward()
    assert math.isfinite(out.data) == math.isfinite(tout.item())
    assert close(out.data, tout.item())
    assert close(v.grad, t.grad.item())


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_match_torch_and_central_differences(name: str) -> None:
    torch = require_torch()
    f, da, db = BINARY[name]

    @settings(max_examples=60, deadline=None)
    @given(da, db)
    def check(x: float, y: float) -> None:
        a, b = Value(x), Value(y)
        out = f(a, b)
        out.backward()
        ta = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        tb = torch.tensor(y, dtype=torch.float64, requires_grad=True)
        tout = f(ta, tb)
        tout.backward()
        assert close(out.data, tout.item())
        assert close(a.grad, ta.grad.item())
        assert close(b.grad, tb.grad.item())
        assert math.isclose(
            a.grad, central_difference(lambda t: f(Value(t), b).data, x), rel_tol=1e-5, abs_tol=1e-6
        )
        # number on either side gives the same value and derivative as two Values
        left, right = Value(x), Value(y)
        f(left, y).backward()
        f(x, right).backward()
        assert f(left, y).data == out.data == f(x, right).data
        assert close(left.grad, a.grad) and close(right.grad, b.grad)

    check()


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_second_derivatives(name: str) -> None:
    f, da, db = BINARY[name]

    @settings(max_examples=30, deadline=None)
    @given(da, db)
    def check(x: float, y: float) -> None:
        for which in (0, 1):

            def d_first(t: float, which: int = which) -> float:
                args = [Value(x), Value(y)]
                args[which] = Value(t)
                f(*args).backward()
                return args[which].grad

            a, b = Value(x), Value(y)
            var = (a, b)[which]
            (d1,) = grad(f(a, b), [var], create_graph=True)
            (d2,) = grad(d1, [var])
            numeric = central_difference(d_first, (x, y)[which])
            assert math.isclose(d2, numeric, rel_tol=1e-4, abs_tol=1e-5)

    check()


@pytest.mark.parametrize(
    "base, exponent", [(-2.0, 2), (-2.0, 3), (-3.0, -1), (0.0, 2), (0.0, 0), (2.0, 0.5)]
)
def test_integer_powers_of_negative_bases_and_zero(base: float, exponent: float) -> None:
    torch = require_torch()
    x = Value(base)
    out = x**exponent
    out.backward()
    t = torch.tensor(base, dtype=torch.float64, requires_grad=True)
    (t**exponent).backward()
    assert close(out.data, base**exponent)
    assert close(x.grad, t.grad.item())


def test_value_exponent_and_number_base() -> None:
    torch = require_torch()
    x = Value(1.5)
    out = 2**x + x**x
    out.backward()
    t = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    (2**t + t**t).backward()
    assert close(x.grad, t.grad.item())


@pytest.mark.parametrize("x", [-1000.0, -50.0, 0.0, 50.0, 1000.0])
def test_saturating_ops_are_stable_at_extremes(x: float) -> None:
    torch = require_torch()
    for name in ("sigmoid", "tanh", "softplus"):
        f, tf, _ = UNARY[name]
        v = Value(x)
        out = f(v)
        out.backward()
        assert math.isfinite(out.data) and math.isfinite(v.grad)
        assert_matches_torch(torch, f, tf, x)


@pytest.mark.parametrize(
    "build, error, words",
    [
        (lambda: Value(-1.0).log(), DomainError, ["log", "-1.0"]),
        (lambda: Value(0.0).log(), DomainError, ["log", "0.0"]),
        (lambda: Value(-4.0).sqrt(), DomainError, ["sqrt", "-4.0"]),
        (lambda: Value(-8.0) ** (1 / 3), DomainError, ["pow", "-8.0", "non-integer"]),
        (lambda: Value(-8.0) ** Value(0.5), DomainError, ["pow", "-8.0"]),
        (lambda: (-8.0) ** Value(0.5), DomainError, ["pow", "-8.0"]),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, ["pow", "negative"]),
        (lambda: Value(1.0) / 0, ZeroDivisionError, ["div", "1.0 / 0.0"]),
        (lambda: 1 / Value(0.0), ZeroDivisionError, ["div"]),
        (lambda: Value(710.0).exp(), OverflowError, ["exp", "710.0"]),
        (lambda: Value(10.0) ** 400, OverflowError, ["pow"]),
    ],
)
def test_domain_errors_name_the_op_and_operand(build, error, words) -> None:
    with pytest.raises(error) as info:
        build()
    for word in words:
        assert word in str(info.value)


def test_domain_error_is_a_value_error() -> None:
    assert issubclass(DomainError, ValueError)


def test_nan_and_inf_propagate_as_ieee() -> None:
    n = Value(math.nan)
    assert math.isnan((n * 2 + 1).tanh().data)
    assert math.isnan(n.log().data) and math.isnan(n.sqrt().data)
    assert (Value(math.inf) + 1).data == math.inf
    assert Value(math.inf).exp().data == math.inf
    assert Value(-math.inf).sigmoid().data == 0.0


# -- issue 14: PyTorch's conventions at the edges --------------------------------------------


def torch_grad(torch, f, x: float) -> tuple[float, float]:
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = f(t)
    out.backward()
    return out.item(), t.grad.item()


def engine_grad(f, x: float) -> tuple[float, float]:
    v = Value(x)
    out = f(v)
    out.backward()
    return out.data, v.grad


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b or close(a, b)


@pytest.mark.parametrize(
    "f, tf, x",
    [
        (lambda v: v.relu().sqrt() + 3 * v, lambda t: t.relu().sqrt() + 3 * t, -1.0),
        (lambda v: v**v, lambda t: t**t, 0.0),
        (lambda v: v.relu(), lambda t: t.relu(), math.nan),
        (lambda v: (v * 0).relu().sqrt() * v, lambda t: (t * 0).relu().sqrt() * t, 2.0),
        (lambda v: v ** 0 + v, lambda t: t ** 0 + t, 0.0),
        (lambda v: abs(v), lambda t: t.abs(), math.nan),
        (lambda v: abs(v), lambda t: t.abs(), -0.0),
    ],
)
def test_edge_values_follow_pytorch(f, tf, x: float) -> None:
    torch = require_torch()
    (value, gradient), (t_value, t_gradient) = engine_grad(f, x), torch_grad(torch, tf, x)
    assert same(value, t_value) and same(gradient, t_gradient), (value, gradient, t_gradient)


def test_power_overflowing_in_the_derivative_gives_inf_not_an_exception() -> None:
    x = Value(1e-200)
    y = x**-1
    y.backward()
    assert y.data == 1e200 and x.grad == -math.inf


@pytest.mark.parametrize("name", ["sin", "cos"])
@pytest.mark.parametrize("x", [math.inf, -math.inf])
def test_sin_cos_of_infinity_name_the_op(name: str, x: float) -> None:
    with pytest.raises(DomainError, match=f"{name}: operand must be finite"):
        getattr(Value(x), name)()


def test_every_rule_declares_its_formulas_and_they_agree_with_local() -> None:
    """Each formula, evaluated with the expression language, equals the rule's local derivative."""
    from autograd_bp.lang.expr import parse, variables

    points = {"sum": None, "dot": None, "logsumexp": None}
    for rule in RULES.values():
        assert rule.formula and rule.text and rule.latex, rule.name
        if rule.name in points or rule.name in ("step", "sign"):
            continue
        xs = (0.7, 1.3)[: rule.arity]
        p = rule.default
        out = rule.forward(*xs, p)
        for i, local in enumerate(rule.local(*xs, out, p)):
            text = rule.derivative(i, "formula", x="a", y="b", out="o", p="p")
            given = {"a": xs[0], "b": xs[-1], "o": out, "p": p or 0.0}
            expression = f"{text} + 0*a"  # every formula mentions a, so parse knows its value
            used = variables(expression)
            value = parse(expression, **{k: v for k, v in given.items() if k in used}).data
            assert close(value, float(local)), (rule.name, i, text)


_ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True, width=64)


@given(st.lists(st.tuples(_ANY_FLOAT, _ANY_FLOAT), min_size=1, max_size=8))
def test_a_declared_ufunc_is_the_forward_on_arrays(pairs: list[tuple[float, float]]) -> None:
    """``Rule.ufunc`` lets the compiled tape compute in place; it must be the forward exactly
    (bit for bit, NaN where NaN), or compiled and dynamic results would part."""
    import numpy as np

    a, b = (np.array(column) for column in zip(*pairs))
    declared = [r for r in RULES.values() if r.ufunc is not None]
    assert {r.name for r in declared} >= {"add", "sub", "mul", "neg", "tanh"}
    for rule in declared:
        args = (a, b)[: rule.arity]
        with np.errstate(all="ignore"):
            expected = rule.forward(*args, None)
            into = np.empty_like(a)
            rule.ufunc(*args, out=into)
        np.testing.assert_array_equal(into, expected, err_msg=rule.name)


def test_a_ufunc_on_an_op_with_a_parameter_or_variadic_is_refused() -> None:
    """The tape calls ``ufunc(*operands, out=rows)`` instead of ``forward``: a parameter
    would be dropped silently, so such a rule is refused where it is written."""
    import numpy as np

    from autograd_bp.core.ops import Rule

    with pytest.raises(ValueError, match="ufunc is for ops with one or two operands"):
        Rule("scaled", lambda a, p: a * p, lambda a, out, p: (p,), param="p", default=2.0,
             ufunc=np.multiply)  # fmt: skip
    with pytest.raises(ValueError, match="ufunc is for ops with one or two operands"):
        Rule("total", lambda xs, _: sum(xs), lambda xs, out, _: (1.0,) * len(xs),
             variadic=True, ufunc=np.add)  # fmt: skip
    assert Rule("twice", lambda a, _: a + a, lambda a, out, _: (2.0,), ufunc=None).ufunc is None


def test_minus_zero_to_the_half_keeps_pytorchs_sign() -> None:
    """PyTorch computes x**0.5 as sqrt: (-0.0)**0.5 is -0.0 and its derivative -inf; the
    compiled tape's forward on a batch agrees."""
    import numpy as np

    from autograd_bp.core.numerics import pow_forward

    torch = require_torch()
    for x in (-0.0, 0.0, 2.25):
        t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        (t**0.5).backward()
        v = Value(x)
        y = v**0.5
        y.backward()
        assert math.copysign(1.0, y.data) == math.copysign(1.0, (t.detach() ** 0.5).item())
        assert y.data == (t.detach() ** 0.5).item() and v.grad == t.grad.item()
    batch = pow_forward(np.array([-0.0, 0.0, 2.25]), np.array([0.5, 0.5, 0.5]), None)
    assert list(np.copysign(1.0, batch)) == [-1.0, 1.0, 1.0] and batch[2] == 1.5


# --- register: a new rule is checked before it joins the table (issue 22, item 10) ---------


@pytest.fixture
def scratch_table():
    """Whatever a test registers is gone afterwards: the table and Value as they were."""
    before, attrs = dict(RULES), set(vars(Value))
    yield
    RULES.clear()
    RULES.update(before)
    for attr in set(vars(Value)) - attrs:
        delattr(Value, attr)


def _unary_rule(name: str, forward, local, **more):
    from autograd_bp.core.ops import Rule

    return Rule(name, forward, local, method=more.pop("method", name),
                function=more.pop("function", name), formula=("0",), text=("0",),
                latex=("0",), **more)  # fmt: skip


def _refused(rule, error, words: str) -> None:
    from autograd_bp.core.ops import register

    before, attrs = dict(RULES), set(vars(Value))
    with pytest.raises(error, match=words):
        register(rule)
    assert RULES == before and set(vars(Value)) == attrs  # nothing half-added


def test_a_local_written_with_math_is_refused(scratch_table) -> None:
    """math.cos(Value) quietly gives a float: create_graph would take it for a constant and
    the second derivative would be 0 instead of -sin(x)."""
    rule = _unary_rule("sin_m", lambda x, _: math.sin(x), lambda x, out, _: (math.cos(x),))
    _refused(rule, ValueError, r"op 'sin_m'.*plain number when given Values.*first_order=True")


def test_a_first_order_rule_works_once_and_refuses_create_graph_by_name(scratch_table) -> None:
    from autograd_bp.core.ops import register

    register(_unary_rule("sin_m1", lambda x, _: math.sin(x), lambda x, out, _: (math.cos(x),),
                         first_order=True))  # fmt: skip
    x = Value(0.3)
    y = x.sin_m1() * x
    (dy,) = grad(y, x)
    assert math.isclose(dy, math.cos(0.3) * 0.3 + math.sin(0.3))
    with pytest.raises(ValueError, match="op 'sin_m1' is registered as first_order"):
        grad(y, x, create_graph=True)


def test_a_rule_written_with_the_helpers_gives_right_second_derivatives(scratch_table) -> None:
    from autograd_bp.core.ops import cos, register, sin

    register(_unary_rule("sin_h", lambda x, _: math.sin(x), lambda x, out, _: (cos(x),)))
    x = Value(0.7)
    (d1,) = grad(x.sin_h(), x, create_graph=True)
    (d2,) = grad(d1, x)
    assert math.isclose(d1.data, math.cos(0.7)) and math.isclose(d2, -math.sin(0.7))
    assert cos is not sin
    # a derivative constant on each side of a kink may stay a number (its derivative is 0),
    # even where the probe points lie on both sides of the kink
    from autograd_bp.core.ops import step

    register(_unary_rule("ramp1", lambda x, _: max(x - 1.0, 0.0),
                         lambda x, out, _: (step(x - 1.0),)))  # fmt: skip
    y = Value(1.3)
    (d1,) = grad(y.ramp1() * y, y, create_graph=True)
    assert math.isclose(d1.data, 0.3 + 1.3) and math.isclose(grad(d1, y)[0], 2.0)


def test_a_local_made_of_fresh_values_or_other_numbers_is_refused(scratch_table) -> None:
    fresh = _unary_rule("sq_fresh", lambda x, _: x * x,
                        lambda x, out, _: (2.0 * x if type(x) is float else Value(2.0 * x.data),))
    _refused(fresh, ValueError, "computed from neither the operands nor the result")
    drifting = _unary_rule("sq_drift", lambda x, _: x * x,
                           lambda x, out, _: (2.0 * x if type(x) is float else 3.0 * x,))
    _refused(drifting, ValueError, r"on Values but .* on floats")
    failing = _unary_rule("sq_fail", lambda x, _: x * x, lambda x, out, _: (2.0 * x.real,))
    _refused(failing, ValueError, "local fails on Values")


@pytest.mark.parametrize("function", ["y", "x", "f", "pi", "e", "out", "pair", "lambda", "a b"])
def test_a_function_name_the_expression_language_reads_otherwise_is_refused(
    scratch_table, function: str
) -> None:
    rule = _unary_rule("fn_" + str(abs(hash(function))), lambda x, _: 2.0 * x,
                       lambda x, out, _: (2.0,), function=function)  # fmt: skip
    _refused(rule, ValueError, "function")


def test_the_reserved_names_cover_the_languages_constants_and_placeholders() -> None:
    from autograd_bp.core.graph import PLACEHOLDERS
    from autograd_bp.core.ops import RESERVED_FUNCTION_NAMES
    from autograd_bp.lang.expr import CONSTANTS

    multi_letter = {p for p in PLACEHOLDERS if len(p) > 1}
    assert RESERVED_FUNCTION_NAMES == set(CONSTANTS) | multi_letter


def test_a_clashing_symbol_method_or_function_is_refused(scratch_table) -> None:
    from autograd_bp.core.ops import Rule

    times = Rule("times", lambda a, b, _: a * b, lambda a, b, out, _: (b, a), 2, symbol="*",
                 method="times", formula=("{y}", "{x}"), text=("{y}", "{x}"),
                 latex=("{y}", "{x}"))  # fmt: skip
    _refused(times, ValueError, "symbol '\\*' belongs to op 'mul'")
    _refused(_unary_rule("tanh2", lambda x, _: x, lambda x, out, _: (1.0,), function="tanh"),
             ValueError, "function 'tanh' belongs to op 'tanh'")  # fmt: skip
    _refused(_unary_rule("exp2", lambda x, _: x, lambda x, out, _: (1.0,), method="exp"),
             ValueError, "method 'exp' belongs to op 'exp'")  # fmt: skip


def test_a_forward_giving_no_real_number_is_refused_with_the_ops_name(scratch_table) -> None:
    from autograd_bp.core.ops import recip, register

    _refused(_unary_rule("word", lambda x, _: "two", lambda x, out, _: (1.0,)),
             TypeError, "op 'word': forward must give a real number, got str")  # fmt: skip
    # Real on the probe points, not everywhere: refused where it happens, with the op's name.
    register(_unary_rule("root_c", lambda x, _: x**0.5, lambda x, out, _: (0.5 * recip(out),)))
    register(_unary_rule("late_str", lambda x, _: "big" if x > 100 else x,
                         lambda x, out, _: (1.0,)))  # fmt: skip
    register(_unary_rule("bad_local", lambda x, _: 2.0 * x,
                         lambda x, out, _: ("two" if type(x) is float and x > 100 else 2.0,)))
    assert Value(2.25).root_c().data == 1.5 and Value(3.0).late_str().data == 3.0
    with pytest.raises(DomainError, match="root_c: forward gave the complex number"):
        Value(-4.0).root_c()
    with pytest.raises(TypeError, match="late_str: forward must give a real number, got str"):
        Value(200.0).late_str()
    with pytest.raises(TypeError, match="bad_local: local derivative must give a real number"):
        Value(200.0).bad_local()


def test_every_rule_of_the_table_passes_the_probe() -> None:
    """The checks are no stricter than the table: every shipped one-/two-operand rule passes."""
    from autograd_bp.core.ops import probe

    for rule in list(RULES.values()):
        if not rule.variadic:
            probe(rule)


def test_rule_code_needs_one_derivative_per_operand_and_registered_code_is_checked(
        scratch_table) -> None:  # fmt: skip
    """A rule written as code (as the table's own ops are) is refused with a wrong number of
    derivatives; registered, it runs through the checked path, not the inlined one: a forward
    that turns complex past the probe points is refused with the op's name."""
    from autograd_bp.core.ops import DomainError, Rule, register

    with pytest.raises(ValueError, match="code needs 2 local derivative"):
        Rule.from_code("bad_arity_demo", "a * b", "b", 2)
    rule = Rule.from_code("complexify_demo", "a if a < 5 else a * 1j", "1.0",
                          method="complexify_demo", function="complexify_demo",
                          formula=("1",), text=("1",), latex=("1",))  # fmt: skip
    register(rule)
    assert Value(2.0).complexify_demo().data == 2.0
    with pytest.raises(DomainError, match="complexify_demo: forward gave the complex"):
        Value(9.0).complexify_demo()


def _bits(x: object) -> tuple[str, bytes]:
    """A local derivative as compared: its type's name (BLOCKED stays BLOCKED) and its bits
    (-0.0 is not 0.0; any NaN is NaN)."""
    f = float(x)  # type: ignore[arg-type]
    return type(x).__name__, b"nan" if f != f else struct.pack("<d", f)


# Points where the arithmetic is awkward: zeros of both signs, infinities, NaN, overflow.
AWKWARD = [2.0, -3.5, 0.0, -0.0, 1e308, -math.inf, math.inf, math.nan]


@pytest.mark.parametrize("name", sorted(set(UNARY) | set(BINARY)))
def test_a_node_records_the_local_derivatives_its_rule_computes(name: str) -> None:
    """Kept as numbers of the node's own (a local that is plain arithmetic: x * y's, tanh's)
    or as the objects the rule returns (BLOCKED, which stops NaN, stays BLOCKED), a node's
    local derivatives are its rule's ``local``, in each operand form, and after a pickle."""
    import pickle
    import warnings

    rule = RULES[name]
    p = rule.default if rule.param is not None else None
    for a in AWKWARD:
        for b in AWKWARD if rule.arity == 2 else [None]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    if rule.arity == 2:
                        out = rule.forward(a, b, p)
                        expected = rule.local(a, b, out, p)
                        x, y = Value(a), Value(b)
                        method = getattr(Value, f"__{rule.method}__")
                        rmethod = getattr(Value, f"__r{rule.method}__")
                        made = [(method(x, y), expected), (method(x, b), expected[:1]),
                                (rmethod(y, a), expected[1:])]  # fmt: skip
                    else:
                        out = rule.forward(a, p)
                        expected = rule.local(a, out, p)
                        x = Value(a)
                        args = () if p is None else (p,)
                        made = [(getattr(x, rule.method or rule.name)(*args), expected)]
                except (DomainError, ZeroDivisionError, OverflowError, ValueError):
                    continue  # outside the rule's domain: refused, nothing recorded
            for node, want in made:
                if node._da is None:  # kept as numbers: floats, also when the source runs
                    assert type(node._ga) is float and type(node._gb) is float, (name, a, b)
                got = [_bits(d) for d in node.local_grads]
                assert got == [_bits(d) for d in want], (name, a, b)
                again = pickle.loads(pickle.dumps(node))
                assert [_bits(d) for d in again.local_grads] == got, (name, a, b)
