"""Diagrams rendered for real by Graphviz's dot and read back as SVG (XML)."""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import chromium

from autograd_bp import Value, backward_order
from autograd_bp.show.viz import GraphvizNotFound, backward_steps, draw_dot, render, render_steps
from autograd_bp.textbook.worked import build_network, forward

SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and os.environ.get("CI") != "true",
    reason="Graphviz's dot is not installed (CI installs it)",
)


def seed_graph():
    net, params = build_network()
    p = forward(net)
    p["E_total"].backward()
    return net, params, p


def groups(svg: Path, kind: str) -> list[ET.Element]:
    root = ET.parse(svg).getroot()
    return [g for g in root.iter(f"{SVG}g") if kind in g.get("class", "").split()]


def texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{SVG}text")]


def is_red(edge: ET.Element) -> bool:
    return any(p.get("stroke") == "red" for p in edge.iter(f"{SVG}path"))


def title_of(g: ET.Element) -> str:
    t = g.find(f"{SVG}title")
    return t.text if t is not None and t.text else ""


@needs_dot
def test_node_and_edge_counts_equal_the_graphs(tmp_path) -> None:
    _, _, p = seed_graph()
    root = p["E_total"]
    svg = render(root, tmp_path / "g.svg")
    order = backward_order(root)
    computed = [n for n in order if n.parents]
    # numbers folded into ops are drawn, except a neuron's bias multiplier 1 (the "+ b" of Σ)
    n_constants = sum(len([c for c in n.constants if not (n.op == "dot" and c == 1.0)])
                      for n in computed)  # fmt: skip
    assert n_constants == 6  # ½, 2 and the target in each of the two error terms
    value_nodes = groups(svg, "value")
    assert len(value_nodes) == len(order)
    assert len(groups(svg, "op")) == len(computed)
    assert len(groups(svg, "legend")) == 1
    assert len(groups(svg, "node")) == len(order) + len(computed) + n_constants + 1
    n_edges = sum(len(n.parents) for n in computed) + len(computed) + n_constants
    assert len(groups(svg, "edge")) == n_edges


@needs_dot
def test_op_nodes_read_as_mathematics(tmp_path) -> None:
    _, _, p = seed_graph()
    svg = render(p["E_total"], tmp_path / "g.svg")
    labels = [" ".join(texts(g)) for g in groups(svg, "op")]
    assert labels.count("Σ wᵢxᵢ + b") == 4 and labels.count("Σ") == 1
    assert labels.count("σ") == 4 and labels.count("×") == 2
    legend = " ".join(texts(groups(svg, "legend")[0]))
    assert "weighted input" in legend and "parameter" in legend and "output" in legend


def _field(g: ET.Element, name: str) -> str:
    return next(t for t in texts(g) if t.startswith(name + " "))


@needs_dot
@pytest.mark.parametrize("precision", [2, 4, 7])
def test_labels_carry_data_and_grad_in_significant_digits(tmp_path, precision) -> None:
    _, params, p = seed_graph()
    svg = render(p["E_total"], tmp_path / "g.svg", precision=precision)
    by_label = {texts(g)[0]: g for g in groups(svg, "value")}
    for name in ("w1", "w5"):  # ∂E/∂w1 = 0.000438568: fixed decimals would print 0.0004
        v = params[name]
        assert _field(by_label[name], "data") == f"data {v.data:.{precision}g}"
        assert _field(by_label[name], "grad") == f"grad {v.grad:.{precision}g}"
    grad_w1 = float(_field(by_label["w1"], "grad").split()[1])
    assert grad_w1 == pytest.approx(params["w1"].grad, rel=10.0 ** (1 - precision))


def test_tiny_gradients_are_not_shown_as_zero() -> None:
    x = Value(1.0, label="x")
    y = x * 1e-9
    y.label = "y"
    y.backward()
    assert "grad 1e-09" in draw_dot(y).source
    with pytest.raises(ValueError, match="precision"):
        draw_dot(y, precision=0)


def _all_paths(node, target, trail, found, index):
    """Every path as a set of (child position, parent index) pairs — plain recursion on a
    small graph, independent of the package's own path finder."""
    if node is target:
        found.append(list(trail))
        return
    for k, parent in enumerate(node.parents):
        trail.append((index[id(node)], k))
        _all_paths(parent, target, trail, found, index)
        trail.pop()


@needs_dot
def test_highlight_colours_exactly_the_paths_to_w1_op_edges_included(tmp_path) -> None:
    net, params, p = seed_graph()
    root = p["E_total"]
    svg = render(root, tmp_path / "g.svg", highlight=(root, params["w1"]), show_local_grads=True)
    index = {id(n): i for i, n in enumerate(backward_order(root))}
    found: list = []
    _all_paths(root, params["w1"], [], found, index)
    assert len(found) == 2
    expected = {(c, k) for path in found for c, k in path}
    red_operands, red_results = set(), set()
    for edge in groups(svg, "edge"):
        if is_red(edge):
            operand = re.fullmatch(r".*->n(\d+)_op#(\d+)", edge.get("id"))
            result = re.fullmatch(r"n(\d+)_op->n(\d+)", edge.get("id"))
            assert operand or result, edge.get("id")
            if operand:
                red_operands.add((int(operand.group(1)), int(operand.group(2))))
            else:
                red_results.add(int(result.group(1)))
    assert red_operands == expected
    # every op on the path also has its op -> result edge red: no broken line
    assert red_results == {c for c, _ in expected}
    # local derivatives on edges: ∂net_o1/∂w5 = out_h1, in significant digits
    labels = [t for e in groups(svg, "edge") for t in texts(e)]
    assert f"{p['out_h1'].data:.4g}" in labels
    assert "highlighted path" in " ".join(texts(groups(svg, "legend")[0]))


def _y_of(svg: Path, label: str) -> float:
    """The vertical position of the value node whose first text is ``label``."""
    for g in groups(svg, "value"):
        if texts(g)[0] == label:
            return float(next(g.iter(f"{SVG}text")).get("y"))
    raise KeyError(label)


def _xy_of(svg: Path, label: str) -> tuple[float, float]:
    """The position of the value node whose first text is ``label``."""
    for g in groups(svg, "value"):
        if texts(g)[0] == label:
            t = next(g.iter(f"{SVG}text"))
            return float(t.get("x")), float(t.get("y"))
    raise KeyError(label)


@needs_dot
@pytest.mark.parametrize("rankdir", ["LR", "TB"])
@pytest.mark.parametrize("group, count", [("layer", 2), ("neuron", 4)])
def test_clusters_exist_for_mlps_in_order(tmp_path, group, count, rankdir) -> None:
    net, _, p = seed_graph()
    svg = render(p["E_total"], tmp_path / "g.svg", group=group, model=net, rankdir=rankdir)
    clusters = groups(svg, "cluster")
    assert len(clusters) == count
    titles = {texts(c)[0] for c in clusters}
    assert ("layer 1" in titles) if group == "layer" else ("layer 2 · neuron 1" in titles)
    # in the order written: x1, h1, o1 before x2, h2, o2 (above in LR, left of in TB)
    across = 1 if rankdir == "LR" else 0
    for first, second in [("x1", "x2"), ("net_h1", "net_h2"), ("net_o1", "net_o2")]:
        assert _xy_of(svg, first)[across] < _xy_of(svg, second)[across], (first, second)
    # no staircase: neuron 1 of layer 2 sits in line with neuron 1 of layer 1
    drift = abs(_xy_of(svg, "net_h1")[across] - _xy_of(svg, "net_o1")[across])
    # pt; the staircase this replaces shifted layer 2 by a whole cluster (164 pt LR, 352 TB)
    assert drift < 125, drift
    # a cluster holds its neurons' Σ, net and activation nodes; parameters stay outside
    source = draw_dot(p["E_total"], group=group, model=net).source
    blocks = re.findall(r"subgraph cluster_\d+ \{(.*?)\n\t\}", source, re.S)
    assert len(blocks) == count
    inside = " ".join(blocks)
    assert inside.count("Σ wᵢxᵢ + b") == 4 and inside.count('label="σ"') == 4
    assert "{ w1 |" not in inside and "{ b1 |" not in inside


def test_parameters_inputs_and_output_are_coloured_apart() -> None:
    net, params, p = seed_graph()
    src = draw_dot(p["E_total"], model=net).source
    assert re.search(r'label="\{ w1 \|[^"]*".*fillcolor=lightblue', src)
    assert re.search(r'label="\{ x1 \|[^"]*".*fillcolor=lightgrey', src)
    assert re.search(r'label="\{ E_total \|[^"]*".*fillcolor=gold', src)


def test_show_order_numbers_nodes_in_backward_order() -> None:
    _, _, p = seed_graph()
    src = draw_dot(p["E_total"], show_order=True).source
    assert "#1 E_total" in src
    assert re.search(r"#\d+ w1", src)


def test_dot_source_is_stable_across_runs() -> None:
    a = draw_dot(seed_graph()[2]["E_total"], show_local_grads=True).source
    b = draw_dot(seed_graph()[2]["E_total"], show_local_grads=True).source
    assert a == b


def test_max_nodes_collapses_the_rest_with_a_marker() -> None:
    x = Value(1.0, label="x")
    y = x
    for _ in range(50):
        y = (y * 1.01).tanh()
    src = draw_dot(y, max_nodes=10).source
    assert "… 91 more" in src and src.count("shape=record") == 10


def test_a_hundred_thousand_node_graph_does_not_recurse() -> None:
    x = Value(0.5, label="x")
    y = x
    for _ in range(50_000):
        y = y * 1.0 + 0.0
    src = draw_dot(y).source
    assert src.count("shape=record") == 100_001


def test_missing_dot_raises_a_clear_error_and_still_writes_gv(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # a real machine without dot
    with pytest.raises(GraphvizNotFound) as info:
        render(Value(1.0, label="a") * 2, tmp_path / "g.svg")
    assert "dot" in str(info.value) and "apt-get install graphviz" in str(info.value)
    assert "digraph" in (tmp_path / "g.gv").read_text()
    assert not (tmp_path / "g.svg").exists()


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"rankdir": "XY"}, "rankdir"),
        ({"group": "layer"}, "model"),
        ({"group": "x"}, "group"),
        ({"max_nodes": 0}, "max_nodes"),
    ],  # fmt: skip
)
def test_bad_options_are_named(kwargs, word) -> None:
    with pytest.raises(ValueError, match=word):
        draw_dot(Value(1.0) * 2, **kwargs)


@needs_dot
@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_render_writes_png_and_pdf_by_extension(tmp_path, suffix, magic) -> None:
    path = render(Value(2.0, label="a").tanh(), tmp_path / f"g{suffix}")
    assert path.read_bytes().startswith(magic)
    assert (
        render(Value(2.0, label="a") * 3, tmp_path / "x.out", format=suffix[1:]).read_bytes()[
            : len(magic)
        ]
        == magic
    )


def test_render_rejects_unknown_formats(tmp_path) -> None:
    with pytest.raises(ValueError, match="svg, png or pdf"):
        render(Value(1.0) * 2, tmp_path / "g.bmp")


def test_render_refuses_a_huge_graph_before_running_dot(tmp_path, monkeypatch) -> None:
    import time

    from autograd_bp.show.viz import RENDER_LIMIT

    x = Value(0.5, label="x")
    y = x
    for _ in range(RENDER_LIMIT):
        y = y * 1.0001
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # dot must not even be looked for
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"too large to draw .* max_nodes=(\d+) fits") as info:
        render(y, tmp_path / "big.svg")
    assert time.perf_counter() - start < 5
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert len(str(info.value).splitlines()) == 1
    fits = int(re.search(r"max_nodes=(\d+) fits", str(info.value)).group(1))
    from autograd_bp.show.viz import DRAW_LIMIT, layout_size

    # the number offered passes the guard, and is the largest that does on a chain
    assert layout_size(y, fits).total <= DRAW_LIMIT < layout_size(y, fits + 1).total


@needs_dot
def test_render_with_max_nodes_draws_a_huge_graph_collapsed(tmp_path) -> None:
    x = Value(0.5, label="x")
    y = x
    for _ in range(3000):
        y = y * 1.0001
    svg = render(y, tmp_path / "big.svg", max_nodes=40)
    assert len(groups(svg, "value")) == 40
    assert any("… 2961 more" in " ".join(texts(g)) for g in groups(svg, "node"))


def test_render_does_not_clobber_a_foreign_gv_file(tmp_path) -> None:
    mine = tmp_path / "g.gv"
    mine.write_text("my own notes\n")
    with pytest.raises(FileExistsError, match="g.gv"):
        render(Value(1.0, label="a") * 2, tmp_path / "g.svg")
    assert mine.read_text() == "my own notes\n"
    assert not (tmp_path / "g.svg").exists()


@needs_dot
def test_render_overwrites_its_own_gv_file(tmp_path) -> None:
    render(Value(1.0, label="a") * 2, tmp_path / "g.svg")
    render(Value(1.0, label="b") * 3, tmp_path / "g.svg")
    assert 'label="{ b |' in (tmp_path / "g.gv").read_text()


def test_backward_steps_replay_the_chain_rule() -> None:
    a = Value(3.0, label="a")
    b = a * a
    b.label = "b"
    steps = backward_steps(b)
    assert len(steps) == 3  # the seed, then one step per edge of b = a·a
    last, style = steps[-1]
    assert last.parent == "a" and last.total == 6.0 and style.grads[a] == 6.0
    assert "3 × 1 = 3" in steps[1][0].text
    # a is final only once both contributions are in; the sum is written out
    assert a not in steps[1][1].final and a in steps[2][1].final
    assert steps[2][0].text.endswith("∂b/∂a = 3 + 3 = 6 (final)")


def test_every_node_turns_final_on_the_step_of_its_last_contribution_with_its_grad() -> None:
    _, params, p = seed_graph()
    root = p["E_total"]
    order = backward_order(root)
    steps = backward_steps(root, precision=9)
    # independent count of the edges into each node
    incoming = {id(n): 0 for n in order}
    for n in order:
        for q in n.parents:
            incoming[id(q)] += 1
    seen = {id(n): 0 for n in order}
    assert steps[0][1].final == {root}
    for step, style in steps[1:]:
        parent = style.active[1]
        seen[id(parent)] += 1
        assert (parent in style.final) == (seen[id(parent)] == incoming[id(parent)])
        assert step.final == (seen[id(parent)] == incoming[id(parent)])
        if step.final:  # the replayed sum is the engine's gradient
            assert style.grads[parent] == pytest.approx(parent.grad, rel=1e-12, abs=1e-300)
    assert steps[-1][1].final == set(order)  # leaves included
    assert params["w1"] in steps[-1][1].final


def test_accumulation_is_written_out_in_the_step_text() -> None:
    _, params, p = seed_graph()
    steps = backward_steps(p["E_total"])
    into_out_h1 = [s for s, st in steps[1:] if st.active[1] is p["out_h1"]]
    first, second = into_out_h1
    assert "is now" in first.text and not first.final
    assert second.contribution < 0  # through w7's path the contribution is negative
    expected = f"{first.total:.4g} − {-second.contribution:.4g} = {second.total:.4g} (final)"
    assert second.text.endswith(expected)
    assert second.total == pytest.approx(p["out_h1"].grad, rel=1e-12)


def test_expression_lines_write_out_the_labelled_parts() -> None:
    from autograd_bp.show.viz import expression_lines

    _, _, p = seed_graph()
    lines = expression_lines(p["E_total"])
    assert lines[0] == "E_total = E_o1 + E_o2"
    assert "net_h1 = w1*x1 + w2*x2 + b1" in lines and "out_o2 = sigmoid(net_o2)" in lines
    x = Value(2.0, label="x")
    y = (x - 1) - (x - 3) / (x**2)
    assert expression_lines(y) == ["x - 1 - (x - 3)/x**2"]
    assert expression_lines(2 - x * 3) == ["2 - x*3"]  # a number on the left


def test_draw_network_is_the_neuron_level_picture() -> None:
    from autograd_bp.show.viz import draw_network

    net, params, _ = seed_graph()
    g = draw_network(net, [0.05, 0.10], show_grad=True)
    src = g.source
    for node in ("i1", "i2", "h1", "h2", "o1", "o2"):
        assert re.search(rf"^\s*{node} \[", src, re.M), node
    weights = re.findall(r"^\s*(\w+) -> (\w+) \[.*class=weight", src, re.M)
    assert len(weights) == 8
    assert ("h2", "o1") in weights and ("i1", "h2") in weights
    w6 = params["w6"]  # h2 -> o1 in Mazur's figure
    assert f"w6 = {w6.data:.4g}\ngrad {w6.grad:.4g}" in src
    biases = re.findall(r"^\s*(\w+) -> (\w+) \[.*class=bias", src, re.M)
    assert sorted(t for _, t in biases) == ["h1", "h2", "o1", "o2"]
    assert len({s for s, _ in biases}) == 2  # one node per shared bias, as in the post
    assert f"out {net([0.05, 0.10])[0].data:.4g}" in src


def test_draw_network_names_deeper_networks_and_refuses_bad_inputs() -> None:
    from autograd_bp.nn.modules import MLP
    from autograd_bp.show.viz import draw_network

    net = MLP(3, [4, 2, 1], seed=0)
    src = draw_network(net).source
    assert "h1_4" in src and "h2_2" in src and "o1" in src
    assert len(re.findall(r"class=weight", src)) == 3 * 4 + 4 * 2 + 2 * 1
    assert "grad" not in src
    with pytest.raises(ValueError, match="3 inputs, got 2"):
        draw_network(net, [1.0, 2.0])


@needs_dot
@needs_dot
def test_render_steps_writes_one_self_contained_page_with_the_playgrounds_component(
        tmp_path) -> None:  # fmt: skip
    import json

    import autograd_bp.show.steps as steps_module
    from autograd_bp.serve import STATIC

    net, _, p = seed_graph()
    page = render_steps(p["E_total"], tmp_path / "steps", model=net)
    assert [f.name for f in (tmp_path / "steps").iterdir()] == ["index.html"]
    html = page.read_text()
    data = json.loads(html.split('id="data">', 1)[1].split("</script>", 1)[0])
    assert data["svg"].count("<svg") == 1 and len(data["steps"]) > 10  # drawn once
    assert "http" not in html.replace("http://www.w3.org", "")  # no network addresses
    assert "net_h1 = w1*x1 + w2*x2 + b1" in html  # the expression is shown
    # the playground's own component, inlined as it is; no HTML or JS in the Python module
    assert (STATIC / "stepper.js").read_text() in html
    source = Path(steps_module.__file__).read_text()
    assert not re.search(r"<(html|body|div|button|style)\b|addEventListener|=>", source)


@needs_dot
def test_a_label_cannot_end_the_pages_script(tmp_path) -> None:
    import json

    from autograd_bp.serve import STATIC

    hostile = "</script><script>alert(1)</script>/*@STEPPER_JS@*/"
    x = Value(2.0, label=hostile)
    y = x * 3
    y.label = "<!-- y"
    html = render_steps(y, tmp_path).read_text()
    data = json.loads(html.split('id="data">', 1)[1].split("</script>", 1)[0])
    assert hostile in {n["name"] for n in data["nodes"].values()}  # the data holds it all
    assert "Backward pass of &lt;!-- y, step by step" in html  # the title is text
    assert html.count((STATIC / "stepper.js").read_text()) == 1  # no marker in a label used


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium at 1400 × 1000 px, driven by Selenium as a user would."""
    driver = chromium(tmp_path_factory.mktemp("profile"), "1400,1000")
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def worked_page(tmp_path_factory) -> tuple[Path, int, int]:
    """The worked example's step page (TB layout, as the demo writes it), its number of
    steps and of value nodes."""
    net, _, p = seed_graph()
    root = p["E_total"]
    page = render_steps(root, tmp_path_factory.mktemp("steps"), model=net, rankdir="TB")
    return page, len(backward_steps(root)), len(backward_order(root))


def _counter(browser) -> int:
    from selenium.webdriver.common.by import By

    text = browser.find_element(By.CSS_SELECTOR, ".abp-counter").text  # "step k / n"
    return int(text.split()[1])


def _key(browser, element, key) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    if element is None:
        ActionChains(browser).send_keys(key).perform()
    else:
        element.send_keys(key)


@needs_dot
def test_step_page_buttons_text_and_first_last_steps(browser, worked_page) -> None:
    from selenium.webdriver.common.by import By

    page, n_steps, _ = worked_page
    browser.get(page.as_uri())
    text = browser.find_element(By.CSS_SELECTOR, ".abp-text")
    assert text.text.startswith("start:") and _counter(browser) == 0
    output_seen = browser.execute_script("""
        const vp = document.querySelector('.abp-viewport').getBoundingClientRect();
        const r = document.querySelector('.abp-diagram g.node.output').getBoundingClientRect();
        return r.left >= vp.left && r.right <= vp.right && r.top >= vp.top
            && r.bottom <= vp.bottom;""")  # fmt: skip
    assert output_seen  # step 0 is ∂E/∂E = 1: the deep graph opens where the pass starts
    assert "net_h1 = w1*x1 + w2*x2 + b1" in browser.find_element(By.ID, "expression").text
    browser.find_element(By.CSS_SELECTOR, '[data-act="prev"]').click()  # nothing before step 0
    assert _counter(browser) == 0
    nxt = browser.find_element(By.CSS_SELECTOR, '[data-act="next"]')
    seen = []
    for _ in range(3):
        nxt.click()
        active = browser.find_elements(By.CSS_SELECTOR, ".abp-diagram g.edge.active")
        assert len(active) == 1
        seen.append((text.text, active[0].get_attribute("id")))
    assert len(set(seen)) == 3  # the text and the highlighted edge change
    assert seen[0][0].startswith("∂E_total/∂") and "=" in seen[0][0]
    browser.find_element(By.CSS_SELECTOR, '[data-act="last"]').click()
    assert _counter(browser) == n_steps - 1
    nxt.click()  # nothing after the last step
    assert _counter(browser) == n_steps - 1
    browser.find_element(By.CSS_SELECTOR, '[data-act="first"]').click()
    assert _counter(browser) == 0


@needs_dot
@pytest.mark.parametrize("focus", ["page", "slider", "next button"])
def test_arrow_keys_move_exactly_one_step_wherever_the_focus_is(browser, worked_page,
                                                                focus) -> None:  # fmt: skip
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    page, n_steps, _ = worked_page
    browser.get(page.as_uri())
    target = {"page": None, "slider": browser.find_element(By.CSS_SELECTOR, ".abp-slider"),
              "next button": browser.find_element(By.CSS_SELECTOR, '[data-act="next"]'),
              }[focus]  # fmt: skip
    if target is not None:
        browser.execute_script("arguments[0].focus()", target)
    for expected in (1, 2, 3):
        _key(browser, target, Keys.ARROW_RIGHT)
        assert _counter(browser) == expected
    _key(browser, target, Keys.ARROW_LEFT)
    assert _counter(browser) == 2
    assert browser.find_element(By.CSS_SELECTOR, ".abp-slider").get_attribute("value") == "2"
    _key(browser, target, Keys.END)
    assert _counter(browser) == n_steps - 1
    _key(browser, target, Keys.HOME)
    assert _counter(browser) == 0


def _fills(browser) -> list[str]:
    """Fill colour of every value node in the current diagram."""
    return browser.execute_script(
        "return [...document.querySelectorAll('.abp-diagram g.node.value')]"
        ".map(g => g.querySelector('polygon').getAttribute('fill'))"
    )


@needs_dot
def test_colours_at_the_first_and_last_step(browser, worked_page) -> None:
    from selenium.webdriver.common.by import By

    page, n_steps, n_values = worked_page
    browser.get(page.as_uri())
    fills = _fills(browser)
    assert len(fills) == n_values and fills.count("palegreen") == 1  # only the output
    browser.find_element(By.CSS_SELECTOR, '[data-act="last"]').click()
    fills = _fills(browser)
    assert fills == ["palegreen"] * n_values  # every gradient final, leaves included
    finals = browser.find_elements(By.CSS_SELECTOR, ".abp-diagram g.node.value.parameter.final")
    assert len(finals) == 10  # w1..w8, b1, b2


@needs_dot
def test_text_is_readable_at_1400_px_and_zoom_works(browser, worked_page) -> None:
    from selenium.webdriver.common.by import By

    page, _, _ = worked_page
    browser.get(page.as_uri())
    assert browser.execute_script("return window.innerWidth") == 1400

    def text_height() -> float:
        return browser.execute_script(
            "const t = document.querySelector('.abp-diagram g.node.value text');"
            "return t.getBoundingClientRect().height"
        )

    def svg_width() -> float:
        return browser.execute_script(
            "return document.querySelector('.abp-diagram svg').getBoundingClientRect().width")

    assert text_height() >= 11, text_height()  # px: readable without zooming
    # the drawing's width, not its text's height: Chromium rounds small text to whole pixels
    start, small_text = svg_width(), text_height()
    browser.find_element(By.CSS_SELECTOR, '[data-act="zoom-in"]').click()
    assert svg_width() == pytest.approx(start * 1.25, rel=1e-3) and text_height() > small_text
    browser.find_element(By.CSS_SELECTOR, '[data-act="next"]').click()  # the zoom survives a step
    assert svg_width() == pytest.approx(start * 1.25, rel=1e-3)
    browser.find_element(By.CSS_SELECTOR, '[data-act="fit"]').click()
    width = svg_width()
    assert width <= browser.find_element(By.CSS_SELECTOR, ".abp-viewport").size["width"]
    # the edge just used is scrolled into view after zooming in
    for _ in range(3):
        browser.find_element(By.CSS_SELECTOR, '[data-act="zoom-in"]').click()
    browser.find_element(By.CSS_SELECTOR, '[data-act="next"]').click()
    inside = browser.execute_script(
        "const a = document.querySelector('.abp-diagram g.edge.active').getBoundingClientRect();"
        "const v = document.querySelector('.abp-viewport').getBoundingClientRect();"
        "return a.left >= v.left - 1 && a.right <= v.right + 1 && a.top >= v.top - 1 "
        "&& a.bottom <= v.bottom + 1"
    )
    assert inside


@needs_dot
def test_play_and_pause(browser, worked_page) -> None:
    import time

    from selenium.webdriver.common.by import By

    page, _, _ = worked_page
    browser.get(page.as_uri())
    play = browser.find_element(By.CSS_SELECTOR, '[data-act="play"]')
    play.click()
    assert "pause" in play.text
    deadline = time.monotonic() + 10
    while _counter(browser) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _counter(browser) >= 2
    play.click()
    stopped = _counter(browser)
    time.sleep(2)
    assert _counter(browser) == stopped and "play" in play.text
    shot = Path(page.parent / "step.png")
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


@pytest.mark.parametrize(
    "kwargs, ok",
    [({"max_nodes": np.int64(5)}, True), ({"precision": np.int32(3)}, True),
     ({"max_nodes": 2.5}, False), ({"max_nodes": True}, False), ({"precision": 18}, False),
     ({"precision": "4"}, False), ({"max_nodes": -1}, False)],
)  # fmt: skip
def test_sizes_accept_numpy_integers_and_refuse_the_rest(kwargs, ok) -> None:
    y = Value(1.5, label="a") * 2
    if ok:
        assert draw_dot(y, **kwargs).source.count("shape=record") == 2
    else:
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            draw_dot(y, **kwargs)


def test_a_dot_without_bias_reads_without_plus_b() -> None:
    from autograd_bp.core.engine import dot

    w, x = Value(0.5, label="w"), Value(2.0, label="x")
    src = draw_dot(dot([w], [x])).source
    assert 'label="Σ wᵢxᵢ"' in src and "+ b" not in src.split("legend")[0]


def test_render_beside_a_fifo_named_like_its_source_refuses_without_blocking(tmp_path) -> None:
    import subprocess
    import sys

    os.mkfifo(tmp_path / "g.gv")  # where render would write the DOT source
    code = ("from autograd_bp import Value; from autograd_bp.show.viz import render; "
            "x = Value(2.0, label='x'); render(x * x, 'g.svg')")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert proc.returncode != 0 and "FIFO" in proc.stderr.splitlines()[-1], proc.stderr
    assert (tmp_path / "g.gv").is_fifo() and not (tmp_path / "g.svg").exists()
