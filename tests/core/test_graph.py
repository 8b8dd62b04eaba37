"""graph.py: names keyed by Value, reachability, operand slots, and infix text."""

from __future__ import annotations

import math
import re

from conftest import GRAPH_OPS, build_graph
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp import Value, parse
from autograd_bp.core.engine import backward_order, dot, sum_values
from autograd_bp.core.graph import MAX_INLINE, Naming, edges, infix, names, reaching
from autograd_bp.nn.modules import MLP
from autograd_bp.nn.notation import parameter_names


def test_names_are_keyed_by_the_value_and_never_numbered_op_tags() -> None:
    net = MLP(2, [3, 2], seed=1)
    out = net([0.5, -0.25])
    y = out[0] * out[1]
    label = names(y)
    assert set(label) == set(backward_order(y))
    assert not any(re.search(r"#\d|leaf", n) for n in label.values())
    for name, p in parameter_names(net.layers):  # an MLP labels them in Nielsen's names
        assert label[p] == name
    assert all(len(n) <= MAX_INLINE or n in {p.label for p in net.parameters()}
               for n in label.values())  # fmt: skip


def test_a_shared_node_is_defined_once_after_where() -> None:
    a, b = Value(1.5, label="a"), Value(-2.0, label="b")
    s = a * b
    y = (s + 1).tanh() * s - s
    text = infix(y)
    body, defs = text.split(" where ")
    assert defs == "t1 = a*b" and body.count("t1") == 3
    assert parse(body, t1=s.data).data == y.data


def test_labelled_nodes_with_plain_names_are_bindings_and_long_outputs_are_f() -> None:
    x = Value(0.3, label="x")
    h = x.sigmoid()
    h.label = "h"
    y = h * h + h
    assert infix(y) == "h*h + h where h = sigmoid(x)"
    long = sum_values([x * float(k) for k in range(1, 12)])
    assert names(long)[long] == "f"
    assert Naming(long).text[long][0].startswith("x*1 + x*2")


def test_dot_prints_as_a_weighted_sum_without_the_bias_times_one() -> None:
    w1, w2, b = Value(0.1, label="w1"), Value(0.2, label="w2"), Value(0.3, label="b")
    x1 = Value(1.0, label="x1")
    z = dot([w1, w2, b], [x1, 2.0, 1.0])
    assert infix(z) == "w1*x1 + w2*2 + b"


def test_fewest_parentheses_that_keep_the_tree() -> None:
    a, b, c = (Value(v, label=n) for v, n in ((1.0, "a"), (2.0, "b"), (3.0, "c")))
    assert infix(a - (b - c)) == "a - (b - c)"
    assert infix((a - b) - c) == "a - b - c"
    assert infix(a ** (b**c)) == "a**b**c"
    assert infix((a**b) ** c) == "(a**b)**c"
    assert infix(-(a**2)) == "-a**2"
    assert infix((-a) ** 2) == "(-a)**2"
    assert infix(a * -2.0) == "a*-2"
    assert infix(2.0 / (a * b)) == "2/(a*b)"
    assert infix(a.leaky_relu(0.2)) == "leaky_relu(a, 0.2)"


def test_edges_tell_the_slots_apart_and_reaching_is_linear_in_one_pass() -> None:
    x = Value(3.0, label="x")
    y = x * x
    assert [(s, p is x, d) for s, p, d in edges(y)] == [(0, True, 3.0), (1, True, 3.0)]
    assert [s for s, _, _ in edges(2.0 - x)] == [1]  # a folded constant keeps its slot
    z = Value(1.0, label="z")
    out = y + z
    order = backward_order(out)
    assert reaching(order, x) == {out, y, x}
    assert reaching(order, Value(0.0)) == set()


# graphs built with Value ops (including shared nodes) print back as text that parses to
# the same number once the temporary names are substituted in
PROGRAMS = st.lists(
    st.tuples(st.sampled_from(GRAPH_OPS), st.integers(0, 50), st.integers(0, 50)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=80, deadline=None)
@given(PROGRAMS)
def test_infix_reads_back_to_the_same_value(program) -> None:
    nodes = build_graph(program)
    root = nodes[-1]
    text = infix(root)
    body, _, defs = text.partition(" where ")
    values = {"a": 0.7, "b": -1.3, "c": 0.4}
    for definition in filter(None, defs.split(", ")):
        name, expr = definition.split(" = ")
        used = {k: v for k, v in values.items() if re.search(rf"\b{k}\b", expr)}
        values[name] = parse(expr, **used).data if used else parse(expr).data
    used = {k: v for k, v in values.items() if re.search(rf"\b{k}\b", body)}
    if root.is_leaf:
        assert body == root.label
        return
    assert math.isclose(parse(body, **used).data, root.data, rel_tol=1e-12, abs_tol=1e-12)


def test_diagrams_of_an_mlp_name_every_parameter_and_its_biases() -> None:
    from autograd_bp.show.viz import draw_dot

    net = MLP(2, [2, 1], seed=0)
    source = draw_dot(net([0.5, -1.0]), model=net).source
    assert "b²₂" in source and "w³₁₂" in source  # b2_2 and w3_1_2, set as Nielsen sets them
    labels = re.findall(r'label="\{ ([^|]*) \|', source)
    assert len(labels) > 10 and not any(re.search(r"#\d|leaf", name) for name in labels)
