"""The checker's soundness (issue 22): never `correct` for a wrong claim, a right claim never
`wrong`, numbers to the digits written, everything bounded in time and memory."""

from __future__ import annotations

import resource
import time
from decimal import Decimal

import pytest
from conftest import expression
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp.check.derivation import EXIT_CODES, VERDICTS, check_derivation
from autograd_bp.check.design import kink_ops
from autograd_bp.check.exercise import make_exercise
from autograd_bp.check.prover import Job, prove

BOMB = "2*x + tanh(0.123456789) - 2*sigmoid(0.246913578) + 1"



def grade(text: str, claim: str, wrt: str = "x", **values: float):
    return check_derivation(expression(text, **values), wrt, claim)


# --- the claims, one by one ----------------------------------------------------------

# (expression, values, claim): each is wrong somewhere on the domain but right at the point,
# and was graded ✓ correct before (the claim differs only far away or across a kink)
RIGHT_HERE_WRONG_ELSEWHERE = [
    ("x*x", {"x": 3.0}, "2*abs(x)"),
    ("x*x", {"x": 3.0}, "2*x + relu(x - 10)"),
    ("x*x", {"x": 3.0}, "2*x + relu(x - 1000)"),
    ("x*x", {"x": 3.0}, "2*x + step(x - 100)"),
    ("x*x", {"x": 3.0}, "2*x + relu(-x - 10)"),
    ("x*x", {"x": 3.0}, "2*x*sign(x)"),
    ("x*x", {"x": 3.0}, "2*x + 0.001*relu(x - 5)*relu(6 - x)"),
    ("x*x", {"x": 3.0}, "2*x + relu(x*x - 100)"),
    ("relu(x)*x", {"x": 3.0}, "2*x"),
    ("relu(x)*x", {"x": 0.001}, "2*x"),
    ("relu(x)*x", {"x": 500.0}, "2*x"),
    ("sqrt(x*x)", {"x": 2.0}, "1"),
    ("abs(x)", {"x": 2.0}, "1"),
    ("relu(x)", {"x": 1e-3}, "1"),
    ("relu(x)", {"x": -3.0}, "0"),
    ("leaky_relu(x)", {"x": 2.0}, "1"),
    ("step(x)*x", {"x": 3.0}, "1"),
    ("abs(x - 1)*x", {"x": 3.0}, "2*x - 1"),
    ("x*relu(y)", {"x": 3.0, "y": 2.0}, "y"),
    ("relu(x - 1)*relu(y + 2)", {"x": 3.0, "y": 2.0}, "y + 2"),
    # relu(x) is 0 on the whole of x < 0, where step(relu(x)) is step's value *at* its kink
    ("relu(relu(x))", {"x": 2.0}, "step(x) + 1 - step(relu(x)) - step(-relu(x))"),
]


@pytest.mark.parametrize("text, values, claim", RIGHT_HERE_WRONG_ELSEWHERE)
def test_a_claim_wrong_far_away_or_across_a_kink_is_only_here(text, values, claim) -> None:
    r = grade(text, claim, **values)
    assert r.verdict == "only_here", r.text()
    assert not r and r.exit_code == 1 and r.diagnosis


def test_the_exercise_answer_with_a_gate_is_not_correct() -> None:
    ex = make_exercise(7)  # f = sigmoid(w*x + b), wrt b, at w = 1.75
    assert ex.grade(ex.answer).verdict == "correct"
    gated = ex.grade(f"{ex.answer}*step(w + 5)")  # 1 near the point, 0 for w < -5
    assert gated.verdict == "only_here"


def test_the_verdict_does_not_depend_on_the_distance_to_the_kink() -> None:
    for x in (1e-6, 0.3, 5.0, 1e4):  # the open side, near and far
        assert grade("relu(x)*x", "2*x", x=x).verdict == "only_here"
        assert grade("relu(x)*x", "2*relu(x)", x=x).verdict == "correct"
    for x in (-1e-6, -0.3, -5.0, -1e4):  # the closed side
        assert grade("relu(x)*x", "2*x", x=x).verdict == "wrong"
        r = grade("relu(x)*x", "0", x=x)  # right here, wrong on the open side
        assert r.verdict == "only_here" and r.diagnosis


RIGHT_REWRITES = [
    ("relu(x)*x", {"x": 3.0}, "2*relu(x)"),
    ("relu(x)*x", {"x": -2.0}, "step(x)*x + relu(x)"),
    ("abs(x)*x", {"x": -3.0}, "2*abs(x)"),
    ("sqrt(x*x)", {"x": -2.0}, "sign(x)"),
    ("sqrt(x*x)", {"x": 2.0}, "x/abs(x)"),
    ("leaky_relu(x)", {"x": -2.0}, "step(x) + 0.01*(1 - step(x))"),
    ("relu(x - 1)*relu(y)", {"x": 3.0, "y": 2.0}, "step(x - 1)*relu(y)"),
    ("sigmoid(x)", {"x": 0.7}, "exp(-x)/(1 + exp(-x))**2"),
    ("tanh(x)", {"x": 0.7}, "4/(exp(x) + exp(-x))**2"),
    ("x*x", {"x": 3.0}, BOMB),
    ("(x+1)**2 - x**2", {"x": 1e16}, "2"),
    ("x/3", {"x": 1.0}, "0.33"),
]


@pytest.mark.parametrize("text, values, claim", RIGHT_REWRITES)
def test_right_rewrites_are_proved_correct(text, values, claim) -> None:
    r = grade(text, claim, **values)
    assert r.verdict == "correct" and r.symbolic is True and r.exit_code == 0, r.text()


def test_a_proof_beats_float_cancellation_and_both_numbers_are_shown() -> None:
    r = grade("(x+1)**2 - x**2", "2", x=1e16)  # the engine's floats give 0
    assert r.verdict == "correct" and r.engine == 0.0 and r.claimed == 2.0
    assert "engine 0.0, claimed 2.0" in r.text()


def test_within_float_tolerance_but_not_equal_is_wrong_without_a_crash() -> None:
    r = grade("x*x", "2*x + 1e-8", x=3.0)
    assert r.verdict == "wrong" and r.symbolic is False
    assert grade("x*x", "2*x + 1e-15", x=3.0).verdict == "wrong"


# --- numbers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, x, claim, verdict",
    [("x*3", 2.0, "4", "wrong"), ("x*3", 2.0, "3", "correct"), ("x*3", 2.0, "3.0000", "correct"),
     ("0.122229*x", 1.0, "0.1222", "correct"), ("0.122229*x", 1.0, "0.1223", "wrong"),
     ("0.1222*x", 1.0, "0.2", "wrong"), ("x*x", 3.0, "6", "only_here"),
     ("x*x", 3.0, "7", "wrong"), ("x*x", 0.0611145, "0.1222", "only_here"),
     ("x*x", 0.0611145, "0.2", "wrong"), ("sin(x)*x", 0.0, "0", "only_here")],
)  # fmt: skip
def test_a_number_means_the_value_here_to_the_digits_written(text, x, claim, verdict) -> None:
    r = grade(text, claim, x=x)
    assert r.verdict == verdict, r.text()
    assert "checked at the given point, to the digits written" in r.text()


@settings(max_examples=6, deadline=None)
@given(st.floats(0.2, 3.0), st.integers(1, 8))
def test_property_numbers_at_random_precision(x: float, digits: int) -> None:
    f = expression("sin(x)*x", x=x)
    value = check_derivation(f, "x", "sin(x) + x*cos(x)", symbolic=False).engine
    written = Decimal(f"{value:.{digits}g}")
    assert check_derivation(f, "x", str(written)).verdict == "only_here"  # right here only
    unit = Decimal(1).scaleb(written.as_tuple().exponent)  # one unit in the last digit
    for off in (written + 2 * unit, written - 2 * unit):
        assert check_derivation(f, "x", str(off)).verdict == "wrong", (value, written, off)


# --- undecided ----------------------------------------------------------------------------------


def test_undecided_is_its_own_verdict_with_its_own_exit_code_and_wording() -> None:
    r = check_derivation(expression("x*x", x=3.0), "x", "2*x", seconds=0.0)  # no time to prove
    assert r.verdict == "undecided" and not r and r.symbolic is None
    assert r.exit_code == 3 and EXIT_CODES == {"correct": 0, "wrong": 1, "only_here": 1,
                                               "undecided": 3}  # fmt: skip
    assert r.text().startswith("? undecided") and "not a proof" in r.text()
    assert r.to_dict()["verdict"] == "undecided" and r.diagnosis
    assert set(VERDICTS) == {"correct", "wrong", "only_here", "undecided"}


def test_without_sympy_a_right_claim_is_correct_only_by_a_complete_design() -> None:
    r = check_derivation(expression("relu(x)*x", x=3.0), "x", "2*relu(x)", symbolic=False)
    assert r.verdict == "correct" and r.symbolic is None and "not a proof" in r.text()
    wrong = check_derivation(expression("relu(x)*x", x=3.0), "x", "2*x", symbolic=False)
    assert wrong.verdict == "only_here"


# --- bounded ----------------------------------------------------------------------------------


def _tree(terms: list[str]) -> str:
    """A long sum nested at most a few levels deep (the language bounds the depth)."""
    while len(terms) > 1:
        terms = ["(" + " + ".join(terms[i:i + 8]) + ")" for i in range(0, len(terms), 8)]
    return terms[0]


HOSTILE = [
    BOMB,
    "2*x + " + _tree(["tanh(0.123456789) - 2*sigmoid(0.246913578) + 1"] * 200),
    "2*x + " + _tree([f"relu(x-{k})*relu({k}.5-x)" for k in range(300)]),
    "2*x + ((x+1)**60*(x-1)**60 - (x*x-1)**60)*sigmoid(x)**3",
    "2*x + " + _tree([f"exp(-(x-{k}.5)**2*1000)*1e-3" for k in range(150)]),
]


SLOW = pytest.mark.slow


@pytest.mark.parametrize("claim", [HOSTILE[0], HOSTILE[2], *(pytest.param(c, marks=SLOW)
                                                            for c in HOSTILE[1:2] + HOSTILE[3:])],
                         ids=["bomb", "relus", "tanhs", "expand", "bumps"])  # fmt: skip
def test_hostile_claims_finish_within_10_s_and_1_gb(claim: str) -> None:
    assert len(claim) <= 10_000
    start = time.monotonic()
    r = grade("x*x", claim, x=3.0)
    assert time.monotonic() - start < 10
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 2**20  # KB: 1 GB
    assert r.verdict in VERDICTS
    if claim != BOMB and "relu" not in claim and "expand" not in claim:
        assert r.verdict != "wrong"


def test_the_worker_is_killed_at_its_time_and_memory_limits() -> None:
    def sleepy(sympy):
        time.sleep(30)

    start = time.monotonic()
    assert prove(sleepy, [{}], [0.0], seconds=0.5).status == "limit"
    assert time.monotonic() - start < 3

    def greedy(sympy):
        hoard = []
        while True:
            hoard.append(bytearray(2**26))  # 64 MB at a time, until the cap stops it

    job = Job(greedy, seconds=8, memory=256 * 2**20)
    start = time.monotonic()
    assert job.finish([{}], [0.0]).status == "limit"
    assert time.monotonic() - start < 8  # it died of the cap, not of the clock


def test_kinks_come_from_the_op_table() -> None:
    assert {"relu", "abs", "step", "sign", "leaky_relu"} <= kink_ops()
    assert not {"exp", "tanh", "sigmoid", "sin", "log", "sqrt"} & kink_ops()


# --- properties -------------------------------------------------------------------------------

coefficient = st.sampled_from([-3.0, -1.5, -0.5, 0.5, 1.0, 2.0, 4.0])
kink = st.sampled_from(["relu", "abs", "leaky_relu"])
DERIVATIVE = {"relu": "step({u})", "abs": "sign({u})",
              "leaky_relu": "(step({u}) + 0.01*(1 - step({u})))"}  # fmt: skip


def _graph_and_right_claim(g: str, a: float, b: float, c: float, d: float) -> tuple[str, str]:
    """f = g(a·x + b)·(c·x + d) and its derivative, written by hand."""
    u = f"({a!r}*x + {b!r})"
    f = f"{g}{u}*({c!r}*x + {d!r})"
    right = f"{a!r}*{DERIVATIVE[g].format(u=u)}*({c!r}*x + {d!r}) + {g}{u}*{c!r}"
    return f, right


@settings(max_examples=10, deadline=None)
@given(kink, coefficient, st.floats(-5, 5), coefficient, st.floats(-5, 5), st.floats(-20, 20),
       st.sampled_from(["far", "window", "gate"]))  # fmt: skip
def test_property_claims_wrong_in_a_region_or_across_a_kink_are_never_correct(
    g, a, b, c, d, x, how
) -> None:
    f, right = _graph_and_right_claim(g, a, b, c, d)
    k = abs(x) + 50.0
    wrong = {"far": f"{right} + relu(x - {k!r})",
             "window": f"{right} + 0.01*step(x - {k!r})*step({k + 0.5!r} - x)",
             "gate": f"{right} + step({x - 7.0!r} - x)"}[how]  # fmt: skip
    graph = expression(f, x=x)
    if abs(a * x + b) < 1e-9:
        return  # on the kink itself: the engine's convention, not a region
    r = check_derivation(graph, "x", wrong)
    assert r.verdict in ("only_here", "wrong"), r.text()


@settings(max_examples=10, deadline=None)
@given(kink, coefficient, st.floats(-5, 5), coefficient, st.floats(-5, 5), st.floats(-20, 20))
def test_property_right_rewrites_are_never_wrong(g, a, b, c, d, x) -> None:
    f, right = _graph_and_right_claim(g, a, b, c, d)
    if abs(a * x + b) < 1e-9:
        return
    graph = expression(f, x=x)
    rewritten = right.replace(f"{g}(", f"1*{g}(").replace("*(", "*(0 + ")
    for claim in (right, rewritten):
        assert check_derivation(graph, "x", claim).verdict in ("correct", "undecided")


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(kink, coefficient, st.floats(-5, 5), coefficient, st.floats(-5, 5), st.floats(-200, 200),
       st.sampled_from(["far", "window", "gate"]))  # fmt: skip
def test_slow_hunt_never_correct_and_never_wrong(g, a, b, c, d, x, how) -> None:
    test_property_claims_wrong_in_a_region_or_across_a_kink_are_never_correct.hypothesis.inner_test(
        g, a, b, c, d, x, how)  # fmt: skip
    test_property_right_rewrites_are_never_wrong.hypothesis.inner_test(g, a, b, c, d, x)
