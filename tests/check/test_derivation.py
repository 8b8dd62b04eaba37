"""check_derivation: verdicts, points, JSON, bad input, and every diagnosis on two graphs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import expression
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp import Value
from autograd_bp.check.derivation import MIN_POINTS, ClaimError, Problem
from autograd_bp.check.gradcheck import check_derivation
from autograd_bp.check.points import Setup, replay
from autograd_bp.check.problems import nielsen_problem, program_problem, worked_problem

W1_RIGHT = "(delta_o1*w5 + delta_o2*w7)*out_h1*(1-out_h1)*x1"
W1_ONE_PATH = "delta_o1*w5*out_h1*(1-out_h1)*x1"


@pytest.fixture(scope="module")
def worked():
    return worked_problem()



def diagnosis(report) -> str:
    return "\n".join(report.diagnosis)


def test_right_answers_are_correct_everywhere(worked) -> None:
    r = check_derivation(worked, "w1", W1_RIGHT)
    assert r.verdict == "correct" and bool(r) and r.diagnosis == [] and r.symbolic is True
    assert r.groups["around"] == MIN_POINTS and r.points == 1 + sum(
        r.groups[k] for k in ("around", "scales", "across"))
    assert math.isclose(r.claimed, r.engine, rel_tol=1e-12)
    spelled_out = ("((out_o1-target_o1)*out_o1*(1-out_o1)*w5 + (out_o2-target_o2)*out_o2*"
                   "(1-out_o2)*w7)*out_h1*(1-out_h1)*x1")  # fmt: skip
    assert check_derivation(worked, "w1", spelled_out).verdict == "correct"
    assert check_derivation(worked, "w5", "delta_o1*out_h1").verdict == "correct"
    f = expression("x*x*y", x=3.0, y=2.0)
    assert check_derivation(f, "x", "2*x*y").verdict == "correct"


def test_the_engine_value_is_the_engines_gradient(worked) -> None:
    from autograd_bp import grad

    r = check_derivation(worked, "w1", W1_ONE_PATH)
    (g,) = grad(worked.output, [worked.node("w1")])
    assert r.engine == g and r.claimed != g


def test_more_points_and_seeds_are_deterministic() -> None:
    f = expression("sin(x)*x", x=0.0)
    a = check_derivation(f, "x", "0", points=80, seed=3)
    b = check_derivation(f, "x", "0", points=80, seed=3)
    assert a.groups["around"] == 80 and a.to_dict() == b.to_dict()
    assert a.verdict == "only_here"


def test_random_points_stay_inside_every_domain() -> None:
    f = expression("log(x) + sqrt(y)", x=0.05, y=0.01)
    r = check_derivation(f, "x", "1/x")
    assert r.verdict == "correct" and r.groups["around"] == MIN_POINTS
    assert r.groups["scales"] > 0  # negative x and y are outside the domain: dropped
    setup = Setup(f, f.parents[0].parents[0], "1/x", {"x": f.parents[0].parents[0]})
    assert setup.evaluate({f.parents[0].parents[0]: -1.0}) is None  # outside: refused


def test_replay_matches_the_engine_at_other_values() -> None:
    from autograd_bp import backward_order, grad

    w, x = Value(0.4, label="w"), Value(-0.7, label="x")
    out = (w * x + 2.0).sigmoid() * w.exp() / (x * x + 1.0)
    values, local = replay(backward_order(out), {w: 1.3, x: 0.25})
    w2, x2 = Value(1.3), Value(0.25)
    again = (w2 * x2 + 2.0).sigmoid() * w2.exp() / (x2 * x2 + 1.0)
    assert values[out] == again.data
    assert local[out] == list(again.local_grads)
    assert w.data == 0.4 and grad(out, [w])[0] != grad(again, [w2])[0]  # nodes untouched


def test_only_here_says_so_and_points_at_numbers_for_names(worked) -> None:
    r = check_derivation(worked, "w1", "0.000438568")  # the right number, rounded
    assert r.verdict == "only_here" and "not at" in diagnosis(r)
    assert "a number" in diagnosis(r)
    r = check_derivation(worked, "w1", "(delta_o1*w5 + delta_o2*w7)*out_h1*(1-out_h1)*0.05")
    assert r.verdict == "only_here" and "where it means x1" in diagnosis(r)
    f = expression("sin(x)*x", x=0.0)
    r = check_derivation(f, "x", "0")
    assert r.verdict == "only_here" and "at the given point but not at" in diagnosis(r)


# --- every diagnosis on at least two graphs -----------------------------------------------


def test_missing_path(worked) -> None:
    r = check_derivation(worked, "w1", W1_ONE_PATH)
    assert r.verdict == "wrong"
    assert "You have the path through E_o1, out_o1, net_o1 but not the one through E_o2, " \
           "out_o2, net_o2" in diagnosis(r)  # fmt: skip
    f = expression("x*y + sin(x)", x=0.5, y=2.0)
    assert "You have the path" in diagnosis(check_derivation(f, "x", "y"))
    n = nielsen_problem([2, 3, 2])
    r = check_derivation(n, "w2_1_1", "delta3_1*w3_1_1*a2_1*(1-a2_1)*x1")
    assert "through a3_1, z3_1 but not the one through a3_2, z3_2" in diagnosis(r)


def test_extra_path(worked) -> None:
    r = check_derivation(worked, "w1", W1_RIGHT + " + delta_o1*w6*out_h2*(1-out_h2)*x1")
    assert "You added a path that does not lead to w1: through out_h2" in diagnosis(r)
    f = expression("x*y + sin(y)", x=0.5, y=2.0)
    assert "does not lead to x" in diagnosis(check_derivation(f, "x", "y + cos(y)"))
    f = expression("x*y + sin(x)", x=0.5, y=2.0)
    assert "counted twice" in diagnosis(check_derivation(f, "x", "y + 2*cos(x)"))


def test_missing_factor_named_with_its_rule(worked) -> None:
    r = check_derivation(worked, "w1", "(delta_o1*w5 + delta_o2*w7)*x1")
    assert "Missing factor ∂out_h1/∂net_h1 = σ(net_h1)·(1 − σ(net_h1))" in diagnosis(r)
    p = program_problem([("z", "w*x + b"), ("a", "tanh(z)")], {"w": 0.5, "x": 1.5, "b": 0.1})
    assert "Missing factor ∂a/∂z" in diagnosis(check_derivation(p, "w", "x"))
    f = expression("sigmoid(w*x + b)", w=0.4, x=0.7, b=0.1)
    r = check_derivation(f, "w", "sigmoid(w*x + b)*(1 - sigmoid(w*x + b))")
    assert "Missing factor" in diagnosis(r) and "= x" in diagnosis(r)


def test_extra_factor(worked) -> None:
    r = check_derivation(worked, "w1", W1_RIGHT + "*out_h1*(1-out_h1)")
    assert "Extra factor ∂out_h1/∂net_h1" in diagnosis(r)
    p = program_problem([("z", "w*x + b"), ("a", "tanh(z)")], {"w": 0.5, "x": 1.5, "b": 0.1})
    assert "Extra factor ∂z/∂w" in diagnosis(check_derivation(p, "w", "(1 - a*a)*x*x"))


def test_sign_error(worked) -> None:
    assert "Sign error" in diagnosis(check_derivation(worked, "w1", "-" + W1_RIGHT))
    f = expression("(w*x - t)**2/2", w=0.3, x=1.2, t=0.9)
    r = check_derivation(f, "w", "(t - w*x)*x")
    assert r.verdict == "wrong" and "Sign error" in diagnosis(r)
    r = check_derivation(worked, "w1", "(delta_o1*w5 - delta_o2*w7)*out_h1*(1-out_h1)*x1")
    assert "Sign error on the path through E_o2, out_o2, net_o2" in diagnosis(r)


def test_constant_factor(worked) -> None:
    r = check_derivation(worked, "w5", "2*(out_o1 - target_o1)*out_o1*(1-out_o1)*out_h1")
    assert "your result is 2 × ∂E_total/∂w5" in diagnosis(r)
    assert "The ½ in the cost cancels the 2" in diagnosis(r)
    f = expression("(w*x - t)**2", w=0.3, x=1.2, t=0.9)
    r = check_derivation(f, "w", "(w*x - t)*x")
    assert "0.5 × ∂f/∂w" in diagnosis(r) and "is missing" in diagnosis(r)


def test_wrong_variable(worked) -> None:
    r = check_derivation(worked, "w1", "(delta_o1*w5 + delta_o2*w7)*out_h1*(1-out_h1)*x2")
    assert "This is ∂E_total/∂w2, not ∂E_total/∂w1" in diagnosis(r)
    f = expression("x*x*y", x=3.0, y=2.0)
    assert "This is ∂f/∂y, not ∂f/∂x" in diagnosis(check_derivation(f, "x", "x*x"))


def test_weights_after_the_update(worked) -> None:
    after = worked.updates[0]
    claim = f"(delta_o1*{after['w5']!r} + delta_o2*{after['w7']!r})*out_h1*(1-out_h1)*x1"
    r = check_derivation(worked, "w1", claim)
    text = diagnosis(r)
    assert r.verdict == "wrong" and "weights after the update" in text
    assert "w5⁺" in text and "w7⁺" in text and "w6⁺" not in text  # only the ones on the paths
    # the same mistake on another graph: a 1-1-1 chain, with its update given explicitly
    p = program_problem([("h", "sigmoid(w1*x)"), ("o", "w2*h"), ("E", "(o - t)**2/2")],
                        {"x": 0.8, "w1": 0.3, "w2": -0.6, "t": 0.2})  # fmt: skip
    w2_after = -0.6 - 0.5 * float(p.names["o"].data - 0.2) * float(p.names["h"].data)
    claim = f"(o - t)*{w2_after!r}*h*(1 - h)*x"
    r = check_derivation(p, "w1", claim, updates=[{"w2": w2_after}])
    assert "weights after the update (w2⁺" in diagnosis(r)


def test_no_known_pattern_prints_the_path_breakdown(worked) -> None:
    r = check_derivation(worked, "w1", "x1*w5")
    text = diagnosis(r)
    assert "No known pattern" in text and "sum over 2 paths" in text
    assert "path 1 (through E_o1, out_o1, net_o1)" in text and "your claim = " in text
    f = expression("x*y + sin(x)", x=0.5, y=2.0)
    text = diagnosis(check_derivation(f, "x", "exp(x)"))
    assert "No known pattern" in text and "path 2" in text


# --- the report and bad input -------------------------------------------------------------


def test_json_is_strict_and_has_exactly_the_keys() -> None:
    f = expression("x*y", x=3.0, y=2.0)
    for claim in ("y", "log(x - 3)", "1/(x - 3)", "exp(1000*x)"):
        d = check_derivation(f, "x", claim).to_dict()
        assert set(d) == {"verdict", "engine", "claimed", "points", "symbolic", "diagnosis"}
        text = json.dumps(d, allow_nan=False)
        assert json.loads(text) == d
    undefined = check_derivation(f, "x", "log(x - 3)")
    assert undefined.verdict == "wrong" and undefined.claimed is None


@pytest.mark.parametrize(
    "wrt, claim, words",
    [("x", "2*x*q", "unknown name(s) q"), ("x", "2*x*", "--claim: syntax error"),
     ("z", "y", "--wrt: 'z'"), ("x", "__import__('os')", "--claim")],
)  # fmt: skip
def test_bad_input_is_a_clear_error(wrt: str, claim: str, words: str) -> None:
    f = expression("x*x*y", x=3.0, y=2.0)
    with pytest.raises(ClaimError, match=words.replace("(", r"\(").replace(")", r"\)")):
        check_derivation(f, wrt, claim)


def test_wrt_must_be_in_the_graph_and_points_at_least_50() -> None:
    f = expression("x*y", x=3.0, y=2.0)
    with pytest.raises(ClaimError, match="not in the graph"):
        check_derivation(f, Value(1.0, label="other"), "y")
    with pytest.raises(ClaimError, match="at least 50"):
        check_derivation(f, "x", "y", points=10)
    with pytest.raises(ClaimError, match="a derivative, not a node"):
        check_derivation(worked_problem(), "delta_o1", "1")


def test_the_output_itself_is_refused_as_wrt_as_grad_refuses_it() -> None:
    # ∂f/∂f = 1 by definition: grading it would call any "1" correct and teach nothing;
    # `grad --wrt f` refuses f too. The names offered are the ones that can be graded.
    with pytest.raises(ClaimError, match=r"f is the output itself .*choose one of: x, y$"):
        check_derivation(expression("x*y", x=3.0, y=2.0), "f", "1")
    with pytest.raises(ClaimError, match="E_total is the output itself"):
        check_derivation(worked_problem(), "E_total", "1")


def test_numpy_scalars_and_values_as_inputs() -> None:
    f = expression("x*y", x=np.float64(3.0), y=np.int32(2))
    assert check_derivation(f, "x", "y").verdict == "correct"
    x = Value(np.float32(0.5), label="x")
    out = (x * x).sin()
    assert check_derivation(Problem(out, {"x": x}), x, "2*x*cos(x*x)").verdict == "correct"


@settings(max_examples=25, deadline=None)
@given(st.floats(-3, 3), st.floats(0.1, 3), st.sampled_from([2.0, 0.5, -1.0]))
def test_property_a_scaled_right_answer_is_caught(x: float, y: float, c: float) -> None:
    f = expression("sin(x)*y + x*x", x=x, y=y)
    right = "cos(x)*y + 2*x"
    truth = check_derivation(f, "x", right)
    assert truth.verdict == "correct"
    scaled = check_derivation(f, "x", f"{c!r}*({right})")
    if abs(truth.engine) > 1e-6:
        assert scaled.verdict == "wrong"
        expected = "Sign error" if c == -1.0 else f"{c:g} × ∂f/∂x"
        assert expected in diagnosis(scaled)


# --- SymPy ----------------------------------------------------------------------------------


def test_symbolic_check_through_the_sympy_bridge(worked) -> None:
    pytest.importorskip("sympy")  # the optional "symbolic" extra
    assert check_derivation(worked, "w1", W1_RIGHT).symbolic is True
    assert check_derivation(worked, "w1", W1_ONE_PATH).symbolic is False
    f = expression("x*x*y", x=3.0, y=2.0)
    assert check_derivation(f, "x", "2*x*y").symbolic is True
    assert check_derivation(f, "x", "12").symbolic is False
    assert check_derivation(f, "x", "2*x*y", symbolic=False).symbolic is None


def test_program_problem_refuses_unknown_names_and_bare_renames() -> None:
    from autograd_bp import ExpressionError

    with pytest.raises(ExpressionError, match="unknown name"):
        program_problem([("z", "w*q")], {"w": 1.0})
    with pytest.raises(ExpressionError, match="only renames"):
        program_problem([("z", "w")], {"w": 1.0})
    with pytest.raises(ExpressionError, match="at least one step"):
        program_problem([], {"w": 1.0})


def test_a_point_that_is_not_finite_is_named() -> None:
    with pytest.raises(ClaimError, match="x is nan"):
        check_derivation(expression("x*y", x=math.nan, y=1.0), "x", "y")
    with pytest.raises(ClaimError, match="f has local derivatives \\[inf\\]"):
        check_derivation(expression("sqrt(x)", x=0.0), "x", "1/(2*sqrt(x))")


def test_checks_in_threads_agree_and_leave_the_graph_alone(worked) -> None:
    from concurrent.futures import ThreadPoolExecutor

    before = [(n, v.data) for n, v in worked.names.items() if isinstance(v, Value)]
    claims = [W1_RIGHT, W1_ONE_PATH] * 4
    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(lambda c: check_derivation(worked, "w1", c, symbolic=False),
                                claims))  # fmt: skip
    alone = [check_derivation(worked, "w1", c, symbolic=False).to_dict() for c in claims[:2]]
    assert [r.to_dict() for r in reports] == alone * 4
    assert [(n, v.data) for n, v in worked.names.items() if isinstance(v, Value)] == before
