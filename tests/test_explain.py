"""The chain-rule trace: paths, factors, the cap, and the per-node form."""

from __future__ import annotations

import math

from autograd_bp import Value, grad
from autograd_bp.explain import explain, explain_nodes
from autograd_bp.worked import build_network, forward, trace_w1, trace_w5


def seed_pass():
    net, params = build_network()
    p = forward(net)
    p["E_total"].backward()
    return p, params


def test_w5_is_one_path_of_three_named_factors() -> None:
    p, params = seed_pass()
    e = trace_w5(p, params)
    assert e.path_count == 1 and e.matches
    factors = e.paths[0].factors
    assert [f.symbol() for f in factors] == ["∂E_total/∂out_o1", "∂out_o1/∂net_o1", "∂net_o1/∂w5"]
    o1 = p["out_o1"].data
    assert math.isclose(factors[0].value, o1 - 0.01, rel_tol=1e-12)
    assert math.isclose(factors[1].value, o1 * (1 - o1), rel_tol=1e-12)
    assert factors[2].value == p["out_h1"].data
    assert math.isclose(e.total, params["w5"].grad, rel_tol=1e-12)


def test_w1_has_two_paths_through_o1_and_o2() -> None:
    p, params = seed_pass()
    e = trace_w1(p, params)
    assert e.path_count == 2 and e.matches
    firsts = [path.factors[0].denominator for path in e.paths]
    assert firsts == ["out_o1", "out_o2"]
    assert math.isclose(sum(path.product for path in e.paths), params["w1"].grad, rel_tol=1e-12)
    assert "sum over paths" in e.text()
    data = e.to_dict()
    assert len(data["paths"]) == 2 and data["paths"][0]["factors"][0]["of"] == "E_total"


def test_default_stops_are_the_labelled_nodes() -> None:
    x = Value(0.5, label="x")
    h = x.tanh()
    h.label = "h"
    y = h * h
    e = explain(y, x)
    assert e.path_count == 2
    assert [f.symbol() for f in e.paths[0].factors] == ["∂mul#0/∂h", "∂h/∂x"]


def test_too_many_paths_falls_back_to_the_linear_per_node_form() -> None:
    x = Value(0.9, label="x")
    y = x
    for _ in range(30):  # 2^30 paths
        y = y * y * 0.5 + y
    e = explain(y, x, max_paths=100)
    assert e.paths is None and e.path_count > 10**8
    assert "per-node form" in e.text() and e.steps[-1].node == "x"
    (g,) = grad(y, [x])
    assert math.isclose(e.total, g, rel_tol=1e-12) and e.matches


def test_per_node_form_sums_consumer_contributions() -> None:
    a = Value(2.0, label="a")
    b = a * a
    b.label = "b"
    c = b + a
    c.label = "c"
    steps = {s.node: s for s in explain_nodes(c)}
    assert steps["a"].grad == 1.0 + 4.0
    assert sorted(t[0] for t in steps["a"].terms) == ["b", "b", "c"]


def test_unreachable_wrt_has_no_paths_and_zero_gradient() -> None:
    x, z = Value(1.0, label="x"), Value(2.0, label="z")
    e = explain(x * 3, z)
    assert e.path_count == 0 and e.paths == [] and e.gradient == 0.0 and e.matches
