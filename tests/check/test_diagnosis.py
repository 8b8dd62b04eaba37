"""Diagnoses: the first sentence names the mistake that explains the claim, every template
renders, and nothing crashes on the evidence a verdict may bring (no misses, undecided)."""

from __future__ import annotations

import math
import re

import pytest
from conftest import expression
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autograd_bp import Value
from autograd_bp.check.diagnosis import diagnose, paths_to
from autograd_bp.check.gradcheck import check_derivation
from autograd_bp.check.points import Setup
from autograd_bp.check.problems import nielsen_problem, program_problem, worked_problem
from autograd_bp.check.wording import number

W1_RIGHT = "(delta_o1*w5 + delta_o2*w7)*out_h1*(1-out_h1)*x1"
W1_ONE_PATH = "delta_o1*w5*out_h1*(1-out_h1)*x1"
TWO_RELUS = [("h1", "relu(w1*x + b1)"), ("h2", "relu(w2*x + b2)"), ("o", "v1*h1 + v2*h2"),
             ("E", "(o - t)**2/2")]  # fmt: skip
# h1's input w1*x + b1 is -0.3 here: closed
TWO_RELUS_AT = {"x": 1.0, "w1": -0.5, "b1": 0.2, "w2": 0.8, "b2": 0.1, "v1": 0.7, "v2": -0.4,
                "t": 0.3}  # fmt: skip


@pytest.fixture(scope="module")
def worked():
    return worked_problem()



def first(report) -> str:
    assert report.diagnosis, report
    return report.diagnosis[0]


# --- the first sentence names the mistake ----------------------------------------------------


def test_a_cross_entropy_sign_flip_is_a_sign_error_not_the_wrong_variable() -> None:
    # two-class softmax cross-entropy: ∂L/∂b = −∂L/∂a, so the flip is also "∂L/∂b" — the
    # simpler story (a sign) leads
    f = expression("log(exp(a) + exp(b)) - a", a=0.5, b=1.5)
    r = check_derivation(f, "a", "1 - exp(a)/(exp(a) + exp(b))")
    assert r.verdict == "wrong" and first(r).startswith("Sign error: your result is −∂f/∂a")
    assert any(s.startswith("This is ∂f/∂b") for s in r.diagnosis[1:])  # still said, after
    # binary cross-entropy on a logit, target − out instead of out − target
    f = expression("-(t*log(sigmoid(w*x)) + (1 - t)*log(1 - sigmoid(w*x)))", w=0.5, x=1.5, t=1.0)
    assert first(check_derivation(f, "w", "(t - sigmoid(w*x))*x")).startswith("Sign error")


def test_b1_feeding_only_h1_is_a_missing_path_with_its_contribution(worked) -> None:
    r = check_derivation(worked, "b1", "(delta_o1*w5 + delta_o2*w7)*out_h1*(1-out_h1)")
    lead = first(r)
    assert lead.startswith("You have the paths through out_h1, net_h1 but not the ones through "
                           "out_h2, net_h2 (they contribute ")  # fmt: skip
    assert f"they contribute {number(r.engine - r.claimed)} here" in lead


def test_a_missing_path_says_how_much_it_contributes(worked) -> None:
    r = check_derivation(worked, "w1", W1_ONE_PATH)
    lead = first(r)
    assert lead.startswith("You have the path through E_o1, out_o1, net_o1 but not the one "
                           "through E_o2, out_o2, net_o2 (it contributes ")  # fmt: skip
    contribution = float(re.search(r"contributes (\S+) here", lead)[1].replace("−", "-"))
    assert contribution == pytest.approx(r.engine - r.claimed, rel=1e-5)
    f = expression("x*y + sin(x)", x=0.5, y=2.0)
    r = check_derivation(f, "x", "y")
    assert first(r).startswith("You have the path") and f"{number(r.engine - 2.0)} here" in first(r)


def test_a_closed_relu_is_named_with_its_input() -> None:
    f = expression("relu(w*x + b)", w=0.5, x=-1.0, b=0.2)
    r = check_derivation(f, "w", "x")
    assert first(r).startswith("relu is closed here: its input w*x + b = −0.3 < 0, so this "
                               "path contributes 0")  # fmt: skip
    p = program_problem(TWO_RELUS, TWO_RELUS_AT)
    r = check_derivation(p, "x", "(o - t)*(v1*w1 + v2*w2)")  # relu′ taken as 1 on both paths
    assert first(r).startswith("relu is closed here: its input w1*x + b1 = −0.3 < 0, so the "
                               "path through h1 contributes 0")  # fmt: skip
    here_only = check_derivation(p, "x", "(o - t)*v2*w2")  # right while h1 stays closed
    assert here_only.verdict == "only_here" and not first(here_only).startswith("relu")


def test_bp2_with_w_instead_of_w_transposed() -> None:
    n = nielsen_problem([2, 3, 2])
    right = "(w3_1_1*delta3_1 + w3_2_1*delta3_2)*a2_1*(1-a2_1)*x1"
    assert check_derivation(n, "w2_1_1", right).verdict == "correct"
    r = check_derivation(n, "w2_1_1", "(w3_1_1*delta3_1 + w3_1_2*delta3_2)*a2_1*(1-a2_1)*x1")
    assert first(r).startswith("BP2 with W instead of Wᵀ: your formula uses w3_1_2 where "
                               "w3_2_1 belongs")  # fmt: skip
    r = check_derivation(n, "z2_2", "(w3_2_1*delta3_1 + w3_2_2*delta3_2)*a2_2*(1-a2_2)")
    assert first(r).startswith("BP2 with W instead of Wᵀ: your formula uses w3_2_1 where w3_1_2")
    n = nielsen_problem([2, 2, 2, 1], seed=3)  # a deeper net: the layer is named
    r = check_derivation(n, "z2_1", "(w3_1_1*delta3_1 + w3_1_2*delta3_2)*a2_1*(1-a2_1)")
    assert first(r).startswith("BP2 with W instead of Wᵀ") and "δ² = ((w³)ᵀ δ³)" in first(r)


def test_an_extra_path_is_named_with_its_contribution(worked) -> None:
    r = check_derivation(worked, "w1", W1_RIGHT + " + delta_o1*w6*out_h2*(1-out_h2)*x1")
    assert first(r).startswith("You added a path that does not lead to w1: through out_h2")
    contribution = float(re.search(r"contributes (\S+) here", first(r))[1].replace("−", "-"))
    assert contribution == pytest.approx(r.claimed - r.engine, rel=1e-5)
    f = expression("x*y + sin(y)", x=0.5, y=2.0)
    assert first(check_derivation(f, "x", "y + cos(y)")).startswith(
        "You added a path that does not lead to x: through sin(y)")  # fmt: skip


def test_a_missing_factor_leads(worked) -> None:
    r = check_derivation(worked, "w1", "(delta_o1*w5 + delta_o2*w7)*x1")
    assert first(r).startswith("Missing factor ∂out_h1/∂net_h1 = σ(net_h1)·(1 − σ(net_h1))")
    p = program_problem([("z", "w*x + b"), ("a", "tanh(z)")], {"w": 0.5, "x": 1.5, "b": 0.1})
    assert first(check_derivation(p, "w", "x")).startswith("Missing factor ∂a/∂z")


def test_a_wrong_number_is_never_called_equal() -> None:
    f = expression("x*3", x=2.0)
    for claim in ("4", "7", "2.9", "0.2"):
        r = check_derivation(f, "x", claim)
        text = "\n".join(r.diagnosis)
        assert first(r).startswith(f"Your number {float(claim):g} is not ∂f/∂x"), text
        assert "equal" not in text and "agrees" not in text and "is ∂f/∂x" not in text
    r = check_derivation(f, "x", "6")  # a mistake matches a number only to its own digits
    assert r.diagnosis[1].startswith("Off by a constant factor: your result is 2 × ∂f/∂x")
    r = check_derivation(f, "x", "2")  # 2 is not 1.5 (0.5 × 3), and not "x" for a wrong number
    assert not any("0.5 ×" in s or "where it means x" in s for s in r.diagnosis)
    r = check_derivation(expression("(x+1)**2 - x**2", x=1e16), "x", "1")
    assert not any("∂f/∂f" in s for s in r.diagnosis)  # the output is no "wrong variable"
    f = expression("x*y", x=2.0, y=0.122229)  # to the digits written: 0.1222 is right, 0.2 not
    assert first(check_derivation(f, "x", "0.2")).startswith("Your number 0.2 is not ∂f/∂x")
    assert first(check_derivation(f, "x", "0.1222")).startswith(
        "Your number 0.1222 is ∂f/∂x to the digits you wrote")  # fmt: skip


def test_a_right_number_is_right_to_the_digits_written_and_only_here(worked) -> None:
    r = check_derivation(worked, "w1", "0.000438568")
    assert first(r).startswith(
        "Your number 0.000438568 is ∂E_total/∂w1 to the digits you wrote (the engine gives "
        "0.000438567734) at the given point but not at")  # fmt: skip


# --- every template renders ------------------------------------------------------------------


TEMPLATES = [  # (problem, wrt, claim, the start of a sentence the diagnosis must contain)
    ("worked", "w1", "-" + W1_RIGHT, "Sign error: your result is −∂E_total/∂w1"),
    ("worked", "w1", "(delta_o1*w5 - delta_o2*w7)*out_h1*(1-out_h1)*x1",
     "Sign error on the path through E_o2, out_o2, net_o2"),
    ("worked", "w1", W1_ONE_PATH, "You have the path through E_o1"),
    ("worked", "w1", W1_RIGHT + "*out_h1*(1-out_h1)", "Extra factor ∂out_h1/∂net_h1"),
    ("worked", "w1", "(delta_o1*w5 + delta_o2*w7)*x1", "Missing factor ∂out_h1/∂net_h1"),
    ("worked", "w5", "2*(out_o1 - target_o1)*out_o1*(1-out_o1)*out_h1",
     "Off by a constant factor: your result is 2 × ∂E_total/∂w5. The ½ in the cost"),
    ("worked", "w1", "4*" + W1_RIGHT, "Off by a constant factor: your result is 4 ×"),
    ("worked", "w1", W1_RIGHT.replace("x1", "x2"), "This is ∂E_total/∂w2, not ∂E_total/∂w1"),
    ("worked", "w1", W1_RIGHT + " + delta_o1*w6*out_h2*(1-out_h2)*x1", "You added a path"),
    ("x*y + sin(x)", "x", "y + 2*cos(x)", "The path through sin(x) is counted twice."),
    ("(w*x - t)**2", "w", "(w*x - t)*x", "Off by a constant factor: your result is 0.5 × ∂f/∂w. "
     "The 2 that differentiating a square brings down is missing"),
    ("relu(w*x + b)", "w", "x", "relu is closed here"),
    ("nielsen", "w2_1_1", "(w3_1_1*delta3_1 + w3_1_2*delta3_2)*a2_1*(1-a2_1)*x1", "BP2 with W"),
    ("worked", "w1", "x1*w5", "No known pattern explains the difference."),
    ("worked", "w1", W1_RIGHT.replace("*x1", "*0.05"), "Your formula has the number 0.05 where it "
     "means x1"),
    ("worked", "w1", W1_RIGHT.replace("*x1", "*0.05"), "Your formula agrees with ∂E_total/∂w1 at "
     "the given point but not at"),
    ("worked", "w1", "0.000438568", "Your claim is a number, so it is checked at the given point"),
    ("x*3", "x", "4", "Your number 4 is not ∂f/∂x at the given point (x = 2)"),
    ("sin(x)*x", "x", "0", "Your number 0 is ∂f/∂x at the given point but not at"),
]  # fmt: skip
VALUES = {"x": 0.5, "y": 2.0, "w": 0.3, "t": 0.9, "b": 0.2}


def problem_for(name: str):
    if name == "worked":
        return worked_problem()
    if name == "nielsen":
        return nielsen_problem([2, 3, 2])
    at = {"relu(w*x + b)": {"w": 0.5, "x": -1.0, "b": 0.2}, "x*3": {"x": 2.0},
          "sin(x)*x": {"x": 0.0}, "(w*x - t)**2": {"w": 0.3, "x": 1.2, "t": 0.9}}  # fmt: skip
    from autograd_bp.lang.expr import variables

    return expression(name, **at.get(name, {v: VALUES[v] for v in variables(name)}))


@pytest.mark.parametrize("name, wrt, claim, sentence", TEMPLATES)
def test_every_template_renders(name: str, wrt: str, claim: str, sentence: str) -> None:
    r = check_derivation(problem_for(name), wrt, claim)
    assert r.verdict in ("wrong", "only_here")
    assert any(s.startswith(sentence) for s in r.diagnosis), r.diagnosis
    assert all("{" not in s and "}" not in s for s in r.diagnosis)  # no unfilled placeholder


def test_the_update_templates_render(worked) -> None:
    after = worked.updates[0]
    claim = f"(delta_o1*{after['w5']!r} + delta_o2*{after['w7']!r})*out_h1*(1-out_h1)*x1"
    lead = first(check_derivation(worked, "w1", claim))
    assert lead.startswith("Your value is what the backward pass gives with the weights after "
                           "the update (w5⁺")  # fmt: skip


# --- the evidence a verdict may bring ------------------------------------------------------


def setup_and_points(text: str, claim: str, **values: float):
    f = expression(text, **values)
    names = {n.label: n for n in _leaves(f)}
    setup = Setup(f, names["x"], claim, names)
    here = setup.evaluate({})
    around = [setup.evaluate({names["x"]: v}) for v in (2.5, 3.5, -1.0)]
    return setup, here, [p for p in around if p is not None]


def _leaves(f: Value) -> list[Value]:
    from autograd_bp import backward_order

    return [n for n in backward_order(f) if n.is_leaf and n.label]


def test_no_crash_when_only_here_has_no_misses() -> None:
    setup, here, around = setup_and_points("x*x", "2*x + 1e-8", x=3.0)
    out = diagnose(setup, here, around, [], "only_here", (1e-7, 1e-12), [])
    assert out and out[0].startswith("Your formula agrees with ∂f/∂x to within rounding at all 4")
    assert "different function" in out[0]
    setup, here, around = setup_and_points("x*3", "3.00000001", x=2.0)  # a number, no misses
    out = diagnose(setup, here, around, [], "only_here", (1e-7, 1e-12), [])
    assert out and "equal" not in " ".join(out)


def test_undecided_and_correct_get_no_diagnosis() -> None:
    setup, here, around = setup_and_points("x*x", "2*abs(x)", x=3.0)
    assert diagnose(setup, here, around, [], "undecided", (1e-7, 1e-12), []) == []
    assert diagnose(setup, here, around, [], "correct", (1e-7, 1e-12), []) == []


def test_a_claim_that_is_right_at_sympys_refutation_does_not_crash() -> None:
    pytest.importorskip("sympy")
    r = check_derivation(expression("x*x", x=3.0), "x", "2*x + 1e-8")
    assert r.verdict != "correct" and r.diagnosis


# --- one path model, keyed by Value --------------------------------------------------------


def test_diagnosis_and_explain_walk_the_same_paths(worked) -> None:
    from autograd_bp.show.explain import explain

    stops = [b for b in worked.names.values() if isinstance(b, Value)]
    e = explain(worked.output, worked.node("w1"), stops=stops)
    setup = Setup(worked.output, worked.node("w1"), W1_RIGHT, worked.names)
    mine = paths_to(setup, worked.node("w1"))
    assert [[f.key for f in p.factors] for p in mine] == [
        [f.key for f in p.factors] for p in e.paths]  # fmt: skip
    assert [p.product for p in mine] == [p.product for p in e.paths]
    assert all(isinstance(n, Value) for n, _ in mine[0].factors[0].key)


# --- properties --------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(st.floats(0.5, 3), st.floats(-3, 3), st.floats(0.5, 3))
def test_property_a_flip_and_a_lost_path_lead_at_any_point(a: float, x: float, y: float) -> None:
    f = expression("a*sin(x) + x*y", a=a, x=x, y=y)
    assume(abs(a * math.cos(x)) > 1e-3 and abs(a * math.cos(x) + y) > 1e-3)
    assert first(check_derivation(f, "x", "-(a*cos(x) + y)")).startswith("Sign error:")
    lead = first(check_derivation(f, "x", "a*cos(x)"))
    assert lead.startswith("You have the path") and f"contributes {number(y)} here" in lead


@settings(max_examples=20, deadline=None)
@given(st.floats(-2, 2), st.floats(-2, 2), st.floats(-1, 1), st.floats(0.5, 2))
def test_property_a_closed_relu_counted_open_leads(w: float, x: float, b: float, c: float) -> None:
    assume(w * x + b < -0.05 and abs(w) > 0.05)
    f = expression("c*relu(w*x + b) + x", w=w, x=x, b=b, c=c)
    assert first(check_derivation(f, "x", "c*w + 1")).startswith("relu is closed here")


CLAIMS = st.recursive(
    st.sampled_from(["x", "y", "1", "2", "0.5", "-3", "1e-9"]),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["sin", "exp", "relu", "abs", "tanh"]), inner).map(
            lambda t: f"{t[0]}({t[1]})"),
    ),
    max_leaves=6,
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(CLAIMS, st.sampled_from(["wrong", "only_here", "undecided"]), st.booleans())
def test_property_diagnose_never_crashes_on_any_claim_or_verdict(claim, verdict, no_misses):
    setup, here, around = setup_and_points("relu(x*y - 1) + sin(x)*y", claim, x=0.7, y=2.0)
    tol = (1e-7, 1e-12)
    misses = [] if no_misses else [p for p in around if p.claim is None
                                    or abs(p.claim - setup.truth(p)) > 1e-6]  # fmt: skip
    out = diagnose(setup, here, around, misses, verdict, tol, [])
    assert isinstance(out, list) and all(isinstance(s, str) and s for s in out)
    assert verdict != "undecided" or out == []
    if verdict == "wrong":
        assert out, claim  # a wrong claim always gets a sentence: a mistake or the breakdown


def test_the_forward_update_and_the_many_paths_templates_render(worked) -> None:
    setup = Setup(worked.output, worked.node("w1"), "w1", worked.names)
    moved = {worked.node(n): v for n, v in worked.updates[1].items()}
    after = setup.truth(setup.evaluate(moved))  # ∂E/∂w1 at the weights after the full update
    r = check_derivation(worked, "w1", repr(after))
    assert any(s.startswith("Your value is ∂E_total/∂w1 at the weights after the update (w1⁺")
               for s in r.diagnosis), r.diagnosis  # fmt: skip
    x = Value(0.9, label="x")
    y = x
    for _ in range(4):  # 3⁴ = 81 paths from y to x, beyond the 64 a diagnosis lists
        y = y * y * 0.5 + y
    y.label = "f"
    r = check_derivation(y, "x", "x")
    assert "∂f/∂x sums over more than 64 paths" in "\n".join(r.diagnosis)
