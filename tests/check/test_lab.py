"""The misconception lab (autograd_bp.check.bugs, autograd_bp.check.lab): every bug's faulty
engine against the learner-style reference engine of examples/engines that has the same bug,
graphs that expose each bug and graphs that cannot, gradcheck, predictions, limits."""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp import Value, parse
from autograd_bp.check.bugs import BUGS, MAX_CALLS, LabLimitError, run_engine
from autograd_bp.check.catalogue import CATALOGUE
from autograd_bp.check.lab import Lab, LabError, bug_list, run_lab
from autograd_bp.check.problems import nielsen_problem, worked_problem
from autograd_bp.core.engine import backward_order
from autograd_bp.reports import expression_problem

ENGINES = Path(__file__).resolve().parents[2] / "examples" / "engines"
VALUES = {"a": 0.7, "b": 1.5, "c": -0.9}

# bug -> a graph that exposes it, written once as Python over a, b, c (for the reference
# engine) and once in the expression language (for the lab); the texts say the same thing.
EXPOSING = {
    "assign-instead-of-accumulate": ("a*a + b", lambda a, b, c: a * a + b),
    "no-topological-order": ("d = a*b; m = d + c; out = d*m",
                             lambda a, b, c: (lambda d: d * (d + c))(a * b)),
    "tanh-derivative-from-input": ("tanh(a*b) + a", lambda a, b, c: (a * b).tanh() + a),
    "exp-derivative-from-input": ("exp(a*b)*c", lambda a, b, c: (a * b).exp() * c),
    "pow-missing-exponent": ("(a*b)**3 + c", lambda a, b, c: (a * b) ** 3 + c),
    "sub-sign": ("(a - b)*c", lambda a, b, c: (a - b) * c),
    "div-derivative": ("(a / b)*c", lambda a, b, c: (a / b) * c),
    "relu-gate": ("relu(c)*a + b", lambda a, b, c: c.relu() * a + b),
    "missing-reflected-op": ("(2 - a)*b + c", lambda a, b, c: (2 - a) * b + c),
    "topo-by-value-equality": ("x = a*b; y = b*a; out = x*c + y",
                               lambda a, b, c: (a * b) * c + (b * a)),
}  # fmt: skip
# bug -> a graph that cannot expose it, and a word of the reason the lab gives
HIDDEN = {
    "assign-instead-of-accumulate": ("tanh(a*b) + c", "used more than once"),
    "no-topological-order": ("a*a + b", "more than one path"),
    "tanh-derivative-from-input": ("a*b + c", "no tanh"),
    "exp-derivative-from-input": ("sigmoid(a*b)", "no exp"),
    "pow-missing-exponent": ("a*b", "no power"),
    "sub-sign": ("a*b + c", "no subtraction"),
    "div-derivative": ("a*b - c", "no division"),
    "relu-gate": ("a*b", "no relu"),
    "missing-reflected-op": ("a - 2", "never called"),
    "topo-by-value-equality": ("a*b + c", "same value"),
}


@functools.cache
def engine_module(name: str):
    path = ENGINES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"ref_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference(bug: str, build, values=VALUES) -> dict[str, float]:
    """The gradients of a, b, c from examples/engines/microgpt_<bug>.py (learner-style code
    with that one bug), on the graph ``build`` makes."""
    module = engine_module(f"microgpt_{bug.replace('-', '_')}")
    leaves = {n: module.Value(v) for n, v in values.items()}
    build(**leaves).backward()
    return {n: float(v.grad) for n, v in leaves.items()}


def lab(text: str, bug: str, **kw):
    values = {n: v for n, v in VALUES.items() if n in text}
    return run_lab(expression_problem(text, values), bug, **kw)


def grads_by_name(report) -> dict[str, tuple[float, float]]:
    return {d.name: (d.buggy, d.correct) for d in report.differing}


def test_every_single_graph_bug_of_the_catalogue_is_in_the_lab():
    assert set(BUGS) == set(CATALOGUE) - {"timeout", "memory-limit", "crash"}
    assert [i for i, _ in bug_list()] == list(BUGS)
    assert set(EXPOSING) == set(BUGS) == set(HIDDEN)


@pytest.mark.parametrize("bug", list(BUGS))
def test_each_faulty_engine_is_the_reference_engine_with_that_bug(bug):
    """The lab's faulty engine gives, on every input, the very gradient that the learner-
    style engine with the same bug gives (examples/engines, made by
    scripts/make_buggy_engines.py): the bug is real engine behaviour, not a made-up number."""
    text, build = EXPOSING[bug]
    expected = reference(bug, build)
    problem = expression_problem(text, {n: v for n, v in VALUES.items() if n in text})
    run = run_engine(problem.output, BUGS[bug])
    leaves = {n.label: n for n in backward_order(problem.output) if n.is_leaf}
    for name, g in expected.items():
        if name in leaves:
            assert math.isclose(run.grads[leaves[name]], g, rel_tol=1e-12, abs_tol=1e-15), name
    assert reference(bug, build) != reference_correct(build)  # the graph does expose it


def reference_correct(build) -> dict[str, float]:
    module = engine_module("microgpt_value")
    leaves = {n: module.Value(v) for n, v in VALUES.items()}
    build(**leaves).backward()
    return {n: float(v.grad) for n, v in leaves.items()}


@pytest.mark.parametrize("bug", list(BUGS))
def test_a_graph_that_exposes_the_bug_shows_differing_nodes_and_gradcheck_fails(bug):
    report = lab(EXPOSING[bug][0], bug)
    assert report.exposed and report.differing and report.reason is None
    assert report.sites
    assert all(d.why for d in report.differing)
    assert any(not d.inherited for d in report.differing)  # the bug's own edge is named
    assert report.gradcheck["correct"].passed
    if bug == "missing-reflected-op":  # its gradients fit the (wrong) function it computes
        assert report.gradcheck["buggy"].passed and report.values_differ
        assert report.value[0] != report.value[1]
    else:
        assert not report.gradcheck["buggy"].passed
        assert report.value[0] == report.value[1]  # the same forward pass


@pytest.mark.parametrize("bug", list(BUGS))
def test_a_graph_that_cannot_expose_the_bug_says_so_and_why(bug):
    text, word = HIDDEN[bug]
    report = lab(text, bug)
    assert not report.exposed and report.differing == [] and report.values_differ == []
    assert word in report.reason
    assert "no node differs: " in report.text()
    assert report.gradcheck["buggy"].passed and report.gradcheck["correct"].passed


def test_a_bug_present_but_silent_at_these_values_says_try_other_values():
    # relu's input is positive: the faulty gate passes 1, the right one passes 1 too
    report = run_lab(parse("relu(a)*b", a=0.5, b=2.0), "relu-gate")
    assert not report.exposed and "relu(a)" in report.reason and "other values" in report.reason


def test_the_correct_engine_is_the_engines_own_backward():
    f = worked_problem().output
    run = run_engine(f, None)
    f.backward()
    for node in backward_order(f):
        assert run.grads[node] == node.grad


def test_the_reason_names_the_bugs_edge_in_the_learners_terms():
    report = lab("tanh(a*b) + a", "tanh-derivative-from-input")
    why = {d.name: d.why for d in report.differing}
    assert why["a*b"].startswith("`tanh(a*b)` hands back 1 − (a*b)² = ")
    assert "1 − tanh²(a*b)" in why["a*b"]
    assert why["a"].startswith("inherited: its consumer `a*b`")
    text = lab("a*a + b", "assign-instead-of-accumulate").text()
    assert "used 2 times" in text and "`=`" in text
    text = lab("x = a*b; y = b*a; out = x*c + y", "topo-by-value-equality").text()
    assert "`y` holds 1.05, the value of `x`" in text


def test_worked_and_sizes_graphs_use_mazurs_and_nielsens_names():
    report = run_lab(worked_problem(), "assign-instead-of-accumulate")
    assert {"out_h1", "out_h2", "w1", "b1"} <= set(grads_by_name(report))
    assert report.output == "E_total" and report.inputs == 14
    report = run_lab(nielsen_problem([2, 3, 1], activation="tanh"), "tanh-derivative-from-input")
    assert {"z2_1", "w2_1_1", "b3_1"} <= set(grads_by_name(report)) and report.output == "C"
    report = run_lab(worked_problem(), "tanh-derivative-from-input")
    assert not report.exposed and "no tanh" in report.reason


@pytest.mark.parametrize("prediction, matched", [
    (0.25, "buggy"), ("0.250", "buggy"), (0.2136, "correct"), ("0.214", "correct"),
    (0.9, "neither"), ("0.2135", "neither"), ("0.2", "both"),
])  # fmt: skip
def test_predictions_are_matched_against_both_engines(prediction, matched):
    # ∂f/∂a of tanh(a*b) + a at a = 0.5, b = -1: 1 + b·(1 − a²b²) = 0.25 under the bug,
    # 1 + b·(1 − tanh²(ab)) = 0.213552 by the engine; a prediction counts to the digits
    # written (0.2135 is not 0.213552 rounded; 0.2 is both 0.25 and 0.2136 rounded)
    report = run_lab(parse("tanh(a*b) + a", a=0.5, b=-1.0), "tanh-derivative-from-input",
                     wrt="a", prediction=prediction)  # fmt: skip
    p = report.prediction
    assert (p.matched, p.wrt) == (matched, "a")
    assert p.buggy == 0.25 and math.isclose(p.correct, 1 - (1 - math.tanh(-0.5) ** 2))
    assert p.to_dict()["matched"] == matched
    if matched == "both":
        assert "write more digits" in report.text()


def test_a_prediction_the_bug_does_not_change_matches_both():
    report = run_lab(parse("tanh(a*b) + c", a=0.5, b=-1.0, c=2.0), "tanh-derivative-from-input",
                     wrt="c", prediction=1.0)  # fmt: skip
    assert report.prediction.matched == "both"
    assert "the bug does not change this gradient" in report.text()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "nan", "two", ""])
def test_a_non_finite_prediction_is_refused(bad):
    with pytest.raises(LabError, match="finite"):
        run_lab(parse("x*x", x=2.0), "sub-sign", prediction=bad)


def test_unknown_bug_and_unknown_wrt_are_refused_naming_the_valid_ones():
    with pytest.raises(LabError, match="choose one of: assign-instead-of-accumulate, "):
        Lab(parse("x*x", x=2.0), "no-such-bug")
    with pytest.raises(LabError, match="no number on a graph"):
        Lab(parse("x*x", x=2.0), "crash")
    with pytest.raises(LabError, match="its inputs are: x"):
        Lab(parse("x*x", x=2.0), "sub-sign", wrt="y")


def test_the_recursive_walk_is_bounded_by_the_number_of_paths():
    # x = x + x twenty times: 2**20 paths to the leaf, 21 nodes
    steps = "; ".join(["x1 = a + a"] + [f"x{k + 1} = x{k} + x{k}" for k in range(1, 20)])
    problem = expression_problem(steps, {"a": 1.0})
    with pytest.raises(LabLimitError, match=f"{MAX_CALLS:,}"):
        run_lab(problem, "no-topological-order")
    report = run_lab(problem, "assign-instead-of-accumulate")  # the other walks are linear
    assert report.exposed


def test_gradcheck_is_bounded_and_checks_differing_inputs_first():
    report = run_lab(nielsen_problem([20, 20, 5]), "pow-missing-exponent")
    assert report.inputs == 20 + 20 * 21 + 5 * 21 + 5
    assert len(report.gradcheck["buggy"].rows) == 64 and not report.gradcheck["buggy"].passed


def test_json_document_keys():
    doc = lab("(a - b)*c", "sub-sign", wrt="b", prediction=-0.9).to_dict()
    assert set(doc) == {"bug", "graph", "output", "value", "exposed", "reason", "sites",
                        "differing", "values_differ", "gradcheck", "inputs",
                        "prediction"}  # fmt: skip
    assert set(doc["bug"]) == {"id", "title", "message", "change"}
    assert doc["differing"][0] == {"name": "b", "buggy": -0.9, "correct": 0.9,
                                   "why": "`a - b` hands back +1 where the rule says −1",
                                   "inherited": False}  # fmt: skip
    assert doc["prediction"]["matched"] == "buggy"
    assert set(doc["gradcheck"]) == {"buggy", "correct"}


def test_the_lab_leaves_the_graph_alone():
    f = parse("tanh(a*b) + a", a=0.5, b=-1.0)
    before = [(n.data, n.grad) for n in backward_order(f)]
    for bug in BUGS:
        run_lab(f, bug)
    assert [(n.data, n.grad) for n in backward_order(f)] == before


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["a*b + c", "exp(a)*b - c", "a*b*c", "sigmoid(a)*b",
                        "log(b) + a*c", "a**2 + b"]),
       st.floats(-3, 3), st.floats(0.5, 3), st.floats(-3, 3))  # fmt: skip
def test_a_bug_without_a_site_changes_nothing(text, a, b, c):
    """On a graph without the bug's op, the faulty engine is exactly the correct one."""
    values = {n: v for n, v in {"a": a, "b": b, "c": c}.items() if n in text}
    root = expression_problem(text, values).output
    correct = run_engine(root, None).grads
    for bug in ("tanh-derivative-from-input", "relu-gate", "div-derivative",
                "missing-reflected-op"):  # fmt: skip
        assert run_engine(root, BUGS[bug]).grads == correct


def test_a_value_with_nan_gradients_compares_as_equal_not_as_a_difference():
    f = Value(0.0, label="x").sqrt() * 0.0  # ∂/∂x is inf·0 = nan in both engines
    report = run_lab(f, "sub-sign")
    assert not report.differing


def test_a_node_made_micrograd_style_is_refused_not_guessed():
    a = Value(2.0, label="a")
    out = Value(a.data * 2, (a,), "double")  # a micrograd-style node, its own _backward
    with pytest.raises(LabError, match="micrograd-style"):
        run_lab(out * a, "sub-sign")


def test_an_input_at_the_edge_of_a_domain_is_not_checked_and_not_failed():
    report = run_lab(parse("sqrt(x)*y", x=0.0, y=1.0), "sub-sign")
    rows = {r.name: r for r in report.gradcheck["correct"].rows}
    assert rows["x"].note.startswith("x = 0 is at the edge of the domain") and not rows["x"].ok
    assert rows["y"].ok and report.gradcheck["correct"].passed
    assert "x = 0 is at the edge of the domain" in report.text()
    nothing = run_lab(parse("sqrt(x)", x=0.0), "sub-sign").gradcheck["correct"]
    assert not nothing.passed  # nothing could be checked: not a pass


def test_a_faulty_forward_pass_that_leaves_a_domain_is_said_in_one_line():
    with pytest.raises(LabError, match="the faulty engine's forward pass fails .* log"):
        run_lab(parse("log(2 - x)", x=1.0), "missing-reflected-op")


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(list(BUGS)), st.floats(0.2, 1.8), st.floats(0.5, 2.0),
       st.floats(-2.0, 2.0))  # fmt: skip
def test_property_each_faulty_engine_is_the_reference_engine_at_any_point(bug, a, b, c):
    values = {"a": a, "b": b, "c": c}
    text, build = EXPOSING[bug]
    expected = reference(bug, build, values)
    root = expression_problem(text, {n: v for n, v in values.items() if n in text}).output
    run = run_engine(root, BUGS[bug])
    leaves = {n.label: n for n in backward_order(root) if n.is_leaf}
    for name, leaf in leaves.items():
        assert math.isclose(run.grads[leaf], expected[name], rel_tol=1e-9, abs_tol=1e-12), name
