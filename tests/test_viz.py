"""Diagrams rendered for real by Graphviz's dot and read back as SVG (XML)."""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from autograd_bp import Value, backward_order
from autograd_bp.viz import GraphvizNotFound, backward_steps, draw_dot, render, render_steps
from autograd_bp.worked import build_network, forward

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


@needs_dot
def test_node_and_edge_counts_equal_the_graphs(tmp_path) -> None:
    _, _, p = seed_graph()
    root = p["E_total"]
    svg = render(root, tmp_path / "g.svg")
    order = backward_order(root)
    computed = [n for n in order if n.parents]
    n_constants = sum(len(n.constants) for n in computed)
    value_nodes = groups(svg, "value")
    assert len(value_nodes) == len(order)
    assert len(groups(svg, "op")) == len(computed)
    assert len(groups(svg, "node")) == len(order) + len(computed) + n_constants
    n_edges = sum(len(n.parents) for n in computed) + len(computed) + n_constants
    assert len(groups(svg, "edge")) == n_edges


@needs_dot
@pytest.mark.parametrize("precision", [2, 4, 7])
def test_labels_carry_data_and_grad_at_the_requested_precision(tmp_path, precision) -> None:
    _, params, p = seed_graph()
    svg = render(p["E_total"], tmp_path / "g.svg", precision=precision)
    by_label = {texts(g)[0]: texts(g) for g in groups(svg, "value")}
    w5 = params["w5"]
    assert by_label["w5"][1] == f"data {w5.data:.{precision}f}"
    assert by_label["w5"][2] == f"grad {w5.grad:.{precision}f}"
    assert by_label["E_total"][1] == f"data {p['E_total'].data:.{precision}f}"


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
def test_highlight_colours_exactly_the_paths_to_w1(tmp_path) -> None:
    net, params, p = seed_graph()
    root = p["E_total"]
    svg = render(root, tmp_path / "g.svg", highlight=(root, params["w1"]), show_local_grads=True)
    index = {id(n): i for i, n in enumerate(backward_order(root))}
    found: list = []
    _all_paths(root, params["w1"], [], found, index)
    assert len(found) == 2
    expected = {(c, k) for path in found for c, k in path}
    red = set()
    for edge in groups(svg, "edge"):
        if is_red(edge):
            m = re.fullmatch(r".*->n(\d+)_op#(\d+)", edge.get("id"))
            assert m, edge.get("id")
            red.add((int(m.group(1)), int(m.group(2))))
    assert red == expected
    # local derivatives on edges: ∂net_o1/∂w5 = out_h1
    labels = [t for e in groups(svg, "edge") for t in texts(e)]
    assert f"{p['out_h1'].data:.4f}" in labels


@needs_dot
@pytest.mark.parametrize("group, count", [("layer", 2), ("neuron", 4)])
def test_clusters_exist_for_mlps(tmp_path, group, count) -> None:
    net, _, p = seed_graph()
    svg = render(p["E_total"], tmp_path / "g.svg", group=group, model=net)
    clusters = groups(svg, "cluster")
    assert len(clusters) == count
    titles = {texts(c)[0] for c in clusters}
    assert ("layer 0" in titles) if group == "layer" else ("layer 1 · neuron 1" in titles)


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
    assert (tmp_path / "g.gv").read_text().startswith("digraph")
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


def test_backward_steps_replay_the_chain_rule() -> None:
    a = Value(3.0, label="a")
    b = a * a
    b.label = "b"
    steps = backward_steps(b)
    assert len(steps) == 3  # the seed, then one step per edge of b = a·a
    last, style = steps[-1]
    assert last.parent == "a" and last.total == 6.0 and style.grads[id(a)] == 6.0
    assert "3 × 1 = 3" in steps[1][0].text


@needs_dot
def test_render_steps_writes_one_svg_per_step_and_a_page(tmp_path) -> None:
    net, _, p = seed_graph()
    page = render_steps(p["E_total"], tmp_path / "steps", model=net)
    n_steps = len(backward_steps(p["E_total"]))
    assert len(list((tmp_path / "steps").glob("step_*.svg"))) == n_steps
    html = page.read_text()
    assert html.count("<svg") == n_steps and "http" not in html.replace(
        "http://www.w3.org", ""
    )  # self-contained: no network addresses besides XML namespaces


@needs_dot
def test_step_through_page_in_a_real_browser(tmp_path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    chromium, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if os.environ.get("CI") != "true" and not (chromium and driver_bin):
        pytest.skip("chromium and chromedriver are not installed (CI installs them)")
    net, params, p = seed_graph()
    page = render_steps(p["E_total"], tmp_path / "steps", model=net)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={tmp_path / 'profile'}"):  # fmt: skip
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=driver_bin)
    browser = webdriver.Chrome(options=options, service=service)
    try:
        browser.get(page.as_uri())
        text = browser.find_element(By.ID, "text")
        assert text.text.startswith("start:")
        nxt = browser.find_element(By.ID, "next")
        seen = []
        for _ in range(3):
            nxt.click()
            active = browser.find_elements(By.CSS_SELECTOR, "#diagram g.edge.active")
            assert len(active) == 1
            seen.append((text.text, active[0].get_attribute("id")))
        assert len({s for s in seen}) == 3  # the text and the highlighted edge change
        assert seen[0][0].startswith("∂E_total/∂") and "=" in seen[0][0]
        assert browser.find_element(By.ID, "counter").text == "step 3 / " + str(
            len(backward_steps(p["E_total"])) - 1
        )
        browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_LEFT)
        assert text.text == seen[1][0]
        finals = [len(browser.find_elements(By.CSS_SELECTOR, "#diagram g.node.final"))]
        for _ in range(10):
            nxt.click()
        finals.append(len(browser.find_elements(By.CSS_SELECTOR, "#diagram g.node.final")))
        assert finals[0] >= 1 and finals[1] > finals[0]  # completed gradients fill in
        slider = browser.find_element(By.ID, "slider")
        browser.execute_script(
            "arguments[0].value = 0; arguments[0].dispatchEvent(new Event('input'))", slider
        )
        assert text.text.startswith("start:")
        shot = tmp_path / "step.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        browser.quit()
