"""The chain-rule trace: paths, factors, the cap, and the per-node form."""

from __future__ import annotations

import math
import re
import time

import pytest
from conftest import GRAPH_OPS, build_graph
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp import Value, grad
from autograd_bp.core.engine import sum_values
from autograd_bp.core.ops import RULES
from autograd_bp.nn.losses import half_sse
from autograd_bp.nn.modules import MLP
from autograd_bp.show.explain import explain, explain_nodes, latex_name
from autograd_bp.textbook.worked import build_network, forward, trace_w1, trace_w5


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


def test_default_stops_are_every_node_so_each_factor_is_one_rule() -> None:
    x = Value(0.5, label="x")
    h = x.tanh()
    h.label = "h"
    y = h * h
    e = explain(y, x)
    assert e.path_count == 2
    assert [f.symbol() for f in e.paths[0].factors] == ["∂(h*h)/∂h[left]", "∂h/∂x"]
    assert [f.symbol() for f in e.paths[1].factors] == ["∂(h*h)/∂h[right]", "∂h/∂x"]
    assert all(len(f.edges) == 1 for p in e.paths for f in p.factors)


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


@pytest.mark.parametrize(
    "args, kwargs, words",
    [
        ((3.0, "x"), {}, ["explain: output must be a Value", "float"]),
        (("y", 2.0), {}, ["explain: wrt must be a Value", "float"]),
        (("y", "x"), {"stops": [1]}, ["explain: stops must be a Value", "int"]),
        (("y", "x"), {"max_paths": -1}, ["max_paths", "-1"]),
        (("y", "x"), {"max_paths": True}, ["max_paths", "True"]),
    ],
)
def test_bad_arguments_are_named(args, kwargs, words) -> None:
    x = Value(1.0, label="x")
    nodes = {"x": x, "y": x * 2}
    with pytest.raises((TypeError, ValueError)) as info:
        explain(*(nodes.get(a, a) if isinstance(a, str) else a for a in args), **kwargs)
    for w in words:
        assert w in str(info.value)


def test_unreachable_wrt_has_no_paths_and_zero_gradient() -> None:
    x, z = Value(1.0, label="x"), Value(2.0, label="z")
    e = explain(x * 3, z)
    assert e.path_count == 0 and e.paths == [] and e.gradient == 0.0 and e.matches


# --- every factor as its rule, with the numbers plugged in ----------------------------------


def test_each_factor_shows_its_rule_then_its_numbers_then_its_value() -> None:
    p, params = seed_pass()
    e = trace_w1(p, params)
    text = e.text(6)
    out = p["out_h1"].data
    rule = "∂out_h1/∂net_h1 = σ(net_h1)·(1 − σ(net_h1))"
    numbers = f"{out:.6g} × {1 - out:.6g} = {out * (1 - out):.6g}"
    assert f"{rule} = {numbers}" in text
    assert f"∂net_o1/∂out_h1 = w5 = {params['w5'].data:.6g}" in text
    assert f"∂net_h1/∂w1 = x1 = {p['x1'].data:.6g}" in text
    (factor,) = [f for f in e.paths[0].factors if f.denominator == "net_h1"]
    assert math.isclose(math.prod(factor.numbers), factor.value, rel_tol=1e-12)


def test_path_sums_and_accumulations_show_their_terms() -> None:
    p, params = seed_pass()
    e = trace_w1(p, params)
    text = e.text(6)
    a, b = (path.product for path in e.paths)
    assert b < 0  # the path through out_o2 subtracts: written as a difference, not "+ -"
    assert f"sum over paths = {a:.6g} − {-b:.6g} = {a + b:.6g}" in text
    (via_o1,) = grad(p["E_o1"], [p["out_h1"]])
    (via_o2,) = grad(p["E_o2"], [p["out_h1"]])
    line = f"∂E_total/∂out_h1 = {via_o1:.6g} − {-via_o2:.6g} = {p['out_h1'].grad:.6g}"
    assert line in text
    (acc,) = e.accumulations
    assert acc.node == "out_h1" and math.isclose(acc.grad, p["out_h1"].grad, rel_tol=1e-12)


def test_the_two_slots_of_one_node_are_told_apart() -> None:
    x, y = Value(3.0, label="x"), Value(2.0, label="y")
    e = explain(x * x * y, x)
    lines = e.text().splitlines()
    path_lines = [ln for ln in lines if ln.lstrip().startswith("path")]
    assert len(path_lines) == 2 and len(set(path_lines)) == 2
    assert "∂(x*x)/∂x[left] = x = 3" in e.text() and "∂(x*x)/∂x[right] = x = 3" in e.text()
    assert [f["slot"] for f in e.to_dict()["paths"][0]["factors"]] == [None, "left"]


def test_two_separate_nodes_that_read_the_same_are_told_apart_too() -> None:
    a = Value(0.5, label="a")
    e = explain(a.tanh() + a.tanh(), a)
    firsts = [p.factors[0].symbol() for p in e.paths]
    assert firsts == ["∂(tanh(a) + tanh(a))/∂tanh(a)[left]", "∂(tanh(a) + tanh(a))/∂tanh(a)[right]"]


def test_an_mlp_not_labelled_by_hand_lists_both_paths_with_named_factors_and_rules() -> None:
    net = MLP(2, [2, 2], activation="sigmoid", output_activation="sigmoid", seed=3)
    outs = net([0.05, 0.10])
    E = sum_values([half_sse(o, t) for o, t in zip(outs, [0.01, 0.99])])
    w = net.layers[0].neurons[0].w[0]
    e = explain(E, w)
    assert e.path_count == 2 and e.matches
    E.backward()
    assert math.isclose(e.total, w.grad, rel_tol=1e-12)
    for path in e.paths:
        assert path.factors[-1].denominator == "w2_1_1"  # Nielsen's w²₁₁, the MLP's label
        assert all(f.numerator and f.denominator for f in path.factors)
        assert not any(re.search(r"#\d|leaf", f.symbol()) for f in path.factors)
        sigmoid_factors = [f for f in path.factors if f.rule.startswith("σ(")]
        assert len(sigmoid_factors) == 2  # the output's and the hidden neuron's activation
    text = e.text(6)
    assert "w3_1_1" in text and "w3_2_1" in text  # from a²₁ into each output neuron
    assert "where " in text  # the temporary names are defined


def test_latex_and_markdown_carry_the_chain_the_rules_the_numbers_and_the_result() -> None:
    p, params = seed_pass()
    e = trace_w1(p, params)
    tex = e.latex(6)
    assert tex.startswith("\\begin{aligned}") and tex.endswith("\\end{aligned}")
    assert tex.count("{") == tex.count("}")
    rows = tex.splitlines()[1:-1]
    assert "\\frac{\\partial E_{\\mathrm{total}}}{\\partial w_{1}}" in rows[0]
    assert "\\sigma(\\mathrm{net}_{h1})" in rows[1]  # the rules
    assert f"{p['out_h1'].local_grads[0]:.6g}" in rows[2]  # the numbers
    assert rows[-1] == f"&= {e.total:.6g}"
    md = e.markdown(6)
    assert md.startswith("**∂E_total/∂w1**: 2 paths") and "$$\n\\begin{aligned}" in md


def test_latex_names() -> None:
    assert latex_name("out_h1") == "\\mathrm{out}_{h1}"
    assert latex_name("x") == "x" and latex_name("w12") == "w_{12}"
    assert latex_name("w*x + b") == "w \\cdot x + b"
    assert latex_name("layers.0.neurons.1.w.0") == "\\text{layers.0.neurons.1.w.0}"


RULE_INPUTS = st.floats(0.1, 2.0)


@settings(max_examples=40, deadline=None)
@given(RULE_INPUTS, RULE_INPUTS)
def test_every_rules_formula_evaluates_to_the_engines_local_derivative(a, b) -> None:
    from autograd_bp.core.graph import edges
    from autograd_bp.show.explain import Local

    for rule in list(RULES.values()):
        if not rule.formula:
            continue
        x, y = Value(a, label="x"), Value(b, label="y")
        node = _apply(rule, x, y)
        for slot, parent, local in edges(node):
            numbers = Local(node, slot, local, parent).numbers()
            assert numbers, f"{rule.name}: no numbers from {rule.formula}"
            assert math.isclose(math.prod(numbers), local, rel_tol=1e-9, abs_tol=1e-12), rule.name


def _apply(rule, x, y):
    from autograd_bp.core.engine import dot, logsumexp

    if rule.name == "sum":
        return sum_values([x, y, 2.0])
    if rule.name == "dot":
        return dot([x, y], [y, 3.0])
    if rule.name == "logsumexp":
        return logsumexp([x, y, 2.0])
    if rule.variadic:  # any other: its operands as one sequence, a number among them
        from autograd_bp.core.engine import _variadic

        return _variadic(rule, [x, y, 0.5])
    if rule.arity == 2:
        return getattr(x, f"__{rule.method}__")(y)
    return getattr(x, rule.method)()  # a function, or a prefix operator's __neg__


def _chain(n: int) -> tuple[Value, Value]:
    x = Value(0.5, label="x")
    y = x
    for _ in range(n):
        y = y * 0.99999 + 0.001
    return y, x


def test_explain_is_linear_in_the_chain_depth() -> None:
    def best(n: int) -> float:
        y, x = _chain(n)
        times = []
        for _ in range(3):
            t = time.perf_counter()
            explain(y, x)
            times.append(time.perf_counter() - t)
        return min(times)

    small, large = best(2_000), best(8_000)
    assert large / small < 10, (small, large)  # quadratic would be about 16


def test_the_worked_example_page_renders_the_latex_the_trace_prints() -> None:
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "worked-example.md").read_text("utf-8")
    (shown,) = re.findall(r"\n\$\$\n(.*?)\n\$\$\n", page, re.S)
    p, params = seed_pass()
    assert shown == trace_w5(p, params).latex(6)


def test_a_registered_op_works_everywhere_end_to_end(tmp_path) -> None:
    """One Rule added with ops.register: method, parse, infix, diagrams, explanations,
    LaTeX, SymPy, gradcheck and compile — with nothing else changed."""
    import numpy as np

    from autograd_bp import compile, parse
    from autograd_bp.check.gradcheck import gradcheck
    from autograd_bp.core.ops import Rule, register
    from autograd_bp.show.viz import draw_dot

    rule = Rule("atan_e2e", lambda x, _: np.arctan(x), lambda x, out, _: (1 / (1 + x * x),),
                method="atan_e2e", function="atan_e2e", formula=("1/(1 + {x}**2)",),
                text=("1/(1 + {x}²)",), latex=("\\frac{1}{1+{x}^2}",),
                definition="atan_e2e({x})")  # fmt: skip
    before = dict(RULES)
    try:
        register(rule)
        x = Value(0.5, label="x")
        y = (x * 2.0).atan_e2e()
        assert math.isclose(y.data, math.atan(1.0)) and y.op == "atan_e2e"
        z = parse("atan_e2e(w*x)", w=0.5, x=2.0)
        assert z.data == y.data and z.expr() == "atan_e2e(w*x)"
        assert "atan_e2e" in draw_dot(z).source
        w = z.parents[0].parents[0]
        e = explain(z, w)
        assert e.matches and "∂f/∂(w*x) = 1/(1 + (w*x)²) = 0.5" in e.text(6)
        assert "\\frac{1}{1+\\left(w \\cdot x\\right)^2}" in e.latex(6)
        sympy = pytest.importorskip("sympy")
        from autograd_bp.lang.symbolic import derivative, to_sympy

        assert str(to_sympy(z)) == "atan_e2e(w*x)"  # no definition beyond itself: a function
        assert derivative(z, w) == sympy.sympify(
            "x/(w**2*x**2 + 1)",
            locals={"w": sympy.Symbol("w", real=True), "x": sympy.Symbol("x", real=True)},
        )
        assert gradcheck(lambda a: a.atan_e2e(), [0.3]).passed
        f = compile(lambda t: (x * t).atan_e2e(), [Value(1.0)])
        batch = f(np.array([[2.0], [-1.0]]))
        assert np.allclose(batch, np.arctan([1.0, -0.5]))
    finally:
        RULES.clear()
        RULES.update(before)
        if hasattr(Value, "atan_e2e"):
            delattr(Value, "atan_e2e")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(GRAPH_OPS), st.integers(0, 40), st.integers(0, 40)),
             min_size=1, max_size=10),
    st.integers(0, 2),
)  # fmt: skip
def test_paths_sum_to_the_engines_gradient_on_random_shared_graphs(program, k) -> None:
    nodes = build_graph(program)
    root, wrt = nodes[-1], nodes[k]
    e = explain(root, wrt, max_paths=64)
    assert e.matches, e.text()
    if e.paths is None:
        assert "per-node form" in e.text() and e.latex().count("{") == e.latex().count("}")
        return
    for path in e.paths:
        for factor in path.factors:
            if len(factor.numbers) > 1:
                assert math.isclose(math.prod(factor.numbers), factor.value, rel_tol=1e-9)
    lines = [ln for ln in e.text().splitlines() if ln.lstrip().startswith("path ")]
    assert len(lines) == len(set(ln.split(":", 1)[1] for ln in lines))  # no two alike


def test_every_latex_we_write_renders_in_a_real_browser_with_the_shipped_katex(tmp_path) -> None:
    """The traces' LaTeX, the formulas' LaTeX and every rule's LaTeX from the op table,
    typeset by the KaTeX the docs ship, in headless Chromium: no KaTeX error anywhere."""
    import html
    import shutil
    from pathlib import Path

    from conftest import chromium

    from autograd_bp import parse
    from autograd_bp.core.graph import substitute

    p, params = seed_pass()
    y = parse("leaky_relu(w*x + b, 0.2) * sigmoid(w) / x", w=0.4, x=0.5, b=0.1)
    w = y.parents[0].parents[0].parents[0].parents[0]
    snippets = [trace_w1(p, params).latex(6), explain(y, w).latex(6)]
    x = Value(0.9, label="x")
    deep = x
    for _ in range(12):
        deep = deep * deep * 0.5 + deep
    snippets.append(explain(deep, x, max_paths=4).latex(4))  # the per-node form
    names = {"x": "\\mathrm{net}_{h1}", "y": "w_{5}", "out": "\\mathrm{out}", "p": "0.01",
             "pair": "x_{1}"}  # fmt: skip
    for rule in RULES.values():
        snippets += [substitute(t, names) for t in rule.latex]
    katex = Path(__file__).resolve().parents[2] / "docs" / "assets" / "katex"
    shutil.copytree(katex, tmp_path / "katex")
    body = "\n".join(f'<div class="math">\\[{html.escape(s)}\\]</div>' for s in snippets)
    page = tmp_path / "maths.html"
    page.write_text(
        '<!doctype html><html><head><meta charset="utf-8">'
        '<link rel="stylesheet" href="katex/katex.min.css">'
        '<script src="katex/katex.min.js"></script>'
        '<script src="katex/contrib/auto-render.min.js"></script></head><body>'
        f"{body}<script>renderMathInElement(document.body, {{delimiters: "
        '[{left: "\\\\[", right: "\\\\]", display: true}], throwOnError: false});'
        "</script></body></html>",
        encoding="utf-8",
    )
    browser = chromium(tmp_path / "profile")
    try:
        browser.get(page.as_uri())
        rendered = browser.execute_script(
            "return document.querySelectorAll('.katex-display').length"
        )
        errors = browser.execute_script(
            "return [...document.querySelectorAll('.katex-error')].map(e => e.title)"
        )
    finally:
        browser.quit()
    assert errors == [] and rendered == len(snippets)


# --- one path model, keyed by Value ----------------------------------------------------------


def test_values_hash_by_identity_so_the_path_model_can_key_by_them() -> None:
    a, b = Value(1.0, label="x"), Value(1.0, label="x")  # equal data, equal labels
    assert Value.__hash__ is object.__hash__ and Value.__eq__ is object.__eq__
    assert a != b and len({a: 1, b: 2}) == 2
    y = a * a + b
    e = explain(y, a)
    keys = [f.key for p in e.paths for f in p.factors]
    assert all(isinstance(node, Value) for key in keys for node, _ in key)
    assert {f.bottom for p in e.paths for f in p.factors if f.bottom is a} == {a}
    assert all(p.nodes[-1] is a for p in e.paths)  # b, equal to a in every field, is not on them


def test_a_factor_evaluates_at_other_local_derivatives() -> None:
    x = Value(0.5, label="x")
    y = (x * x).sin()
    e = explain(y, x)
    for path in e.paths:
        assert path.at(lambda edge: edge.value) == path.product  # where the graph was built
        assert path.at(lambda edge: 2.0) == 2.0 ** sum(len(f.edges) for f in path.factors)


def test_nielsen_names_render_in_latex() -> None:
    from autograd_bp.check.problems import nielsen_problem

    n = nielsen_problem([2, 2, 1])
    text = explain(n.output, n.names["w2_1_1"]).latex()  # recursed without end before
    assert "\\partial w^{2}_{11}" in text and latex_name("a2_1") == "a^{2}_{1}"
