"""Nielsen's names wherever a network has no hand labels: made once (nn.notation), set as
w²₁₁ in real Graphviz renders and as w^{2}_{11} in LaTeX (show.paths), while hand labels
(Mazur's w1..w8) win and the state_dict keys stay PyTorch's."""

from __future__ import annotations

import json
import os
import re
import shutil
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp import Value
from autograd_bp.check.problems import nielsen_problem
from autograd_bp.nn import MLP
from autograd_bp.nn.losses import half_sse
from autograd_bp.nn.notation import label_pass, nielsen_name, parameter_names
from autograd_bp.show.explain import explain
from autograd_bp.show.paths import latex_name, nielsen_parts, nielsen_symbol, pretty_name
from autograd_bp.show.viz import draw_network, render, render_network
from autograd_bp.textbook.worked import build_network, forward

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and os.environ.get("CI") != "true",
    reason="Graphviz's dot is not installed (CI installs it)",
)
SVG = "{http://www.w3.org/2000/svg}"
SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def svg_texts(path, css_class: str) -> list[list[str]]:
    """The text lines of every SVG group of ``css_class`` (as Graphviz wrote them)."""
    root = ET.parse(path).getroot()
    return [[t.text or "" for t in g.iter(f"{SVG}text")] for g in root.iter(f"{SVG}g")
            if css_class in (g.get("class") or "").split()]  # fmt: skip


def unnamed_pass(seed: int = 0) -> tuple[MLP, Value]:
    net = MLP(2, [3, 1], activation="tanh", output_activation="sigmoid", seed=seed)
    cost = half_sse(net([0.5, -0.3]), 0.25)
    cost.label = "C"
    cost.backward()
    return net, cost


@needs_dot
def test_render_network_labels_every_edge_of_an_unnamed_mlp_in_nielsens_notation(tmp_path) -> None:
    net, _ = unnamed_pass()
    out = render_network(net, tmp_path / "n.svg", [0.5, -0.3], show_grad=True)
    edges = svg_texts(out, "weight")
    expected = set()  # written out here, not with the package's own functions
    for layer_no, layer in enumerate(net.layers, 2):
        for j, neuron in enumerate(layer.neurons, 1):
            for k, w in enumerate(neuron.w, 1):
                symbol = "w" + str(layer_no).translate(SUP) + f"{j}{k}".translate(SUB)
                expected.add(f"{symbol} = {w.data:.4g}")
    assert {lines[0] for lines in edges} == expected and len(edges) == 2 * 3 + 3 * 1
    assert all(lines[1].startswith("grad ") for lines in edges)
    nodes = [lines[0] for lines in svg_texts(out, "node")]
    assert {"x₁", "x₂", "a²₁", "a²₂", "a²₃", "a³₁"} <= set(nodes)
    assert {"b²₁ = 0", "b²₂ = 0", "b²₃ = 0", "b³₁ = 0"} <= set(nodes)  # bias nodes
    text = out.read_text(encoding="utf-8")
    assert "layers." not in text and "w[" not in text and "w2_1_1" not in text


def label_boxes(net: MLP) -> list[tuple[float, float, float, float]]:
    """Each weight label's box (left, bottom, right, top) as Graphviz laid it out: the text
    lines of its xdot drawing ops (``dot -Tjson``), each with the width Graphviz measured."""
    doc = json.loads(draw_network(net, [0.5, -0.3], show_grad=True).pipe(format="json"))
    boxes = []
    for edge in doc["edges"]:
        if edge.get("class") != "weight":
            continue
        ops = [op for key in ("_ldraw_", "_tldraw_", "_hldraw_") for op in edge.get(key, [])]
        size = next(op["size"] for op in ops if op["op"] == "F")
        lines = [op for op in ops if op["op"] == "T"]
        assert len(lines) == 2  # the weight and its gradient
        boxes.append((min(t["pt"][0] - t["width"] / 2 for t in lines),
                      min(t["pt"][1] for t in lines) - 0.25 * size,  # descenders
                      max(t["pt"][0] + t["width"] / 2 for t in lines),
                      max(t["pt"][1] for t in lines) + 0.75 * size))  # fmt: skip
    return boxes


@needs_dot
@pytest.mark.parametrize("sizes, seed", [([3, 2], 0), ([3, 1], 1), ([4, 3, 2], 2)])
def test_no_two_weight_labels_of_a_network_overlap(sizes, seed) -> None:
    # Tail labels at fixed distances collided where a layer's edges fan out (w²₃₁ over
    # w²₂₁ next to x₁); every label must be readable on its own.
    boxes = label_boxes(MLP(2, sizes, seed=seed))
    assert len(boxes) == sum(a * b for a, b in zip([2, *sizes], sizes))
    for i, (l1, b1, r1, t1) in enumerate(boxes):
        for l2, b2, r2, t2 in boxes[i + 1:]:
            assert r1 <= l2 or r2 <= l1 or t1 <= b2 or t2 <= b1, (boxes[i], (l2, b2, r2, t2))


@needs_dot
def test_mazurs_hand_labels_win_in_the_rendered_network(tmp_path) -> None:
    net, params = build_network()
    forward(net)["E_total"].backward()
    out = render_network(net, tmp_path / "m.svg", [0.05, 0.10])
    edges = {lines[0].split(" = ")[0] for lines in svg_texts(out, "weight")}
    assert edges == {f"w{i}" for i in range(1, 9)}
    nodes = [lines[0] for lines in svg_texts(out, "node")]
    assert {"i1", "i2", "h1", "h2", "o1", "o2"} <= set(nodes)
    assert not any(nielsen_parts(n.split(" = ")[0]) for n in nodes)


def test_an_unlabelled_parameter_is_drawn_by_its_place_with_the_name_an_mlp_gives_it() -> None:
    labelled = MLP(2, [2, 1], seed=3)
    bare = MLP(2, [2, 1], seed=3)
    for p in bare.parameters():
        p.label = ""
    assert draw_network(bare).source == draw_network(labelled).source
    # a bias the layer shares: b2 as a label (Mazur's b2 is another bias: not set as b²),
    # b² by its place when unlabelled
    shared = MLP(2, [2, 1], seed=3, biases=[0.35, 0.6])
    assert 'label="b2 = 0.35"' in draw_network(shared).source
    shared.layers[0].neurons[0].b.label = ""
    assert 'label="b² = 0.35"' in draw_network(shared).source


@needs_dot
def test_the_computation_graph_of_an_unnamed_mlp_reads_w_z_a_as_nielsen_sets_them(tmp_path) -> None:
    net, cost = unnamed_pass()
    label_pass(net.layers, cost)
    out = render(cost, tmp_path / "g.svg", model=net)
    names = {lines[0] for lines in svg_texts(out, "value")}
    for p in net.parameters():
        assert pretty_name(p.label) in names
    assert {"z²₁", "z²₂", "z²₃", "a²₁", "a²₂", "a²₃", "z³₁", "a³₁"} <= names
    assert "a³₁ - 0.25" in names  # inside a node's own text too
    assert "layers." not in out.read_text(encoding="utf-8")


def test_explaining_an_unnamed_mlp_speaks_nielsen_in_text_and_latex() -> None:
    net, cost = unnamed_pass()
    w = net.layers[0].neurons[1].w[0]
    before = explain(cost, w)
    assert before.wrt == "w2_2_1" and "w3_1_2 = " in before.text()  # ∂z/∂a = the weight
    assert "\\partial w^{2}_{21}" in before.latex() and "w^{3}_{12}" in before.latex()
    named = label_pass(net.layers, cost)
    assert sorted(named) == ["a2_1", "a2_2", "a2_3", "a3_1", "z2_1", "z2_2", "z2_3", "z3_1"]
    e = explain(cost, w)
    (path,) = e.paths
    chain = [(f.numerator, f.denominator) for f in path.factors][-4:]
    assert chain == [("a3_1", "z3_1"), ("z3_1", "a2_2"), ("a2_2", "z2_2"), ("z2_2", "w2_2_1")]
    assert e.matches and "\\frac{\\partial a^{3}_{1}}{\\partial z^{3}_{1}}" in e.latex()


def test_label_pass_never_gives_one_name_to_two_quantities() -> None:
    net = MLP(2, [2, 1], seed=0)  # linear output: a³₁ is z³₁
    y1, y2 = net([0.5, -0.3]), net([0.1, 0.2])
    batch = half_sse(y1, 0.2) + half_sse(y2, 0.4)
    assert label_pass(net.layers, batch) == {}  # every z twice: two examples, no names
    assert not y1.label and not y2.label
    single = (net([0.3, 0.3]) - 0.25) ** 2  # z − y under a linear output is no activation
    named = label_pass(net.layers, single)
    assert "a3_1" not in named and named["z3_1"].label == "z3_1"
    assert single.parents[0].label == ""  # the loss's z − 0.25 stays unnamed
    mine = MLP(2, [1], activation="tanh", seed=0)
    out = mine([1.0, 2.0])
    out.label = "my_output"
    assert label_pass(mine.layers, out)["my_output"] is out  # a hand label is kept


def test_state_dict_keys_stay_pytorchs_while_labels_are_nielsens() -> None:
    net = MLP(2, [3, 1], seed=0)
    assert list(net.state_dict())[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1",
                                          "layers.0.neurons.0.b"]  # fmt: skip
    assert [p.label for p in net.parameters()][:3] == ["w2_1_1", "w2_1_2", "b2_1"]
    shared = MLP(2, [2, 2], biases=[0.35, 0.6], seed=0)  # one number: a bias per layer
    assert [p.label for p in shared.parameters() if p.label.startswith("b")] == ["b2", "b3"]


def test_check_sizes_binds_the_names_the_network_carries() -> None:
    p = nielsen_problem([2, 3, 2])
    labelled = {v.label for v in p.names.values() if isinstance(v, Value) and v.is_leaf}
    weights = {n for n in p.names if n.startswith(("w", "b"))}
    assert weights <= labelled
    assert {"delta3_1", "delta2_3", "z2_1", "a3_2", "a1_2", "x2"} <= set(p.names)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=2, max_size=4))
def test_every_name_the_network_writes_is_read_back_at_its_place(sizes: list[int]) -> None:
    net = MLP(sizes[0], sizes[1:], seed=0)
    names = dict((id(p), n) for n, p in parameter_names(net.layers))
    for layer_no, layer in enumerate(net.layers, 2):
        for j, neuron in enumerate(layer.neurons, 1):
            for k, w in enumerate(neuron.w, 1):
                assert w.label == names[id(w)] == nielsen_name("w", layer_no, j, k)
                assert nielsen_parts(w.label) == ("w", layer_no, (j, k))
                sub = f"{j},{k}" if max(j, k) > 9 else f"{j}{k}"
                assert latex_name(w.label) == f"w^{{{layer_no}}}_{{{sub}}}"
                assert pretty_name(w.label) == nielsen_symbol("w", layer_no, j, k)
                assert re.fullmatch(r"w[⁰-⁹¹²³]+[₀-₉,]+", pretty_name(w.label))
            assert nielsen_parts(neuron.b.label) == ("b", layer_no, (j,))
    assert len(names) == len(net.parameters())


@pytest.mark.parametrize(("args", "words"), [
    (("v", 2, 1), "kind must be one of w, b, z, a, delta"),
    (("w", 1, 1, 1), "layer must be an integer >= 2"),  # layer 1 is the inputs: no weights
    (("w", 2, 1), "k (the neuron in the layer below)"),
    (("z", 2, 1, 3), "z has one neuron index j"),
    (("a", 2, True), "j (the neuron in the layer)"),
    (("delta", 2.0, 1), "layer must be an integer"),
])  # fmt: skip
def test_a_name_that_is_no_quantity_of_the_book_is_refused(args, words) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        nielsen_name(*args)
    assert nielsen_name("a", 1, 2) == "a1_2"  # a¹ₖ = xₖ: the inputs have activations
