"""Graphviz within bounds, with the real ``dot``: the size guard (nodes, edges and how far
edges reach) refuses in one line what would run for minutes, before ``dot`` starts; the
time bound kills ``dot`` (no process left) everywhere a picture is drawn, and the command
line takes ``--dot-timeout``."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp import Value
from autograd_bp.reports import expression_graph
from autograd_bp.show.graphviz_bounds import (
    DRAW_LIMIT,
    DrawingTooLarge,
    GraphvizTimeout,
    check_drawable,
    check_timeout,
    layout_size,
    run_dot,
)
from autograd_bp.show.viz import draw_dot, render, render_network, render_steps

ROOT = Path(__file__).resolve().parents[2]
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and os.environ.get("CI") != "true",
    reason="Graphviz's dot is not installed (CI installs it)",
)
# the 359 characters: Graphviz ran for minutes on it in grad --draw, steps and serve
HUGE = "+".join(["x*x"] * 90)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograd_bp", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip


def dots_below(pid: int) -> list[int]:
    """``dot`` processes that are children of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :]
            if name == "dot" and int(fields.split()[1]) == pid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def test_the_359_character_sum_is_refused_in_one_line_by_grad_draw_and_steps(tmp_path):
    assert len(HUGE) == 359
    for args in (["grad", HUGE, "x=1", "--draw", "g.svg"], ["steps", HUGE, "x=1", "--out", "st"]):
        start = time.monotonic()
        proc = cli(*args, cwd=tmp_path)
        assert time.monotonic() - start < 30  # before: minutes (docs/diagrams.md)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
        assert "too large to draw" in proc.stderr and "edges" in proc.stderr
        assert ("no --draw" in proc.stderr) if args[0] == "grad" else ("smaller" in proc.stderr)
    assert list(tmp_path.iterdir()) == []  # nothing drawn, nothing half-written


def test_the_guard_counts_edges_and_their_reach_not_only_nodes():
    """A few hundred nodes whose edges reach across the graph are refused; a tree with
    several times the nodes, every edge to a neighbour rank, is drawn."""
    long_reach = expression_graph(HUGE, {"x": 1})
    terms = [Value(1.0, label=f"a{i}") * Value(2.0, label=f"b{i}") for i in range(128)]
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] for i in range(0, len(terms), 2)]
    tree = terms[0]
    assert 2 * layout_size(long_reach).nodes < layout_size(tree).nodes
    with pytest.raises(DrawingTooLarge, match="edges crossing"):
        check_drawable(long_reach, "render")
    check_drawable(tree, "render")  # passes
    size = layout_size(long_reach)
    assert size.total == size.nodes + size.edges + 2 * size.reach and size.reach > DRAW_LIMIT / 2


def test_layout_size_counts_what_draw_dot_draws():
    x = Value(0.5, label="x")
    y = ((x * 2 + x).tanh() * x).relu()
    source = draw_dot(y, legend=False).source
    size = layout_size(y)
    assert size.nodes == source.count("[label=") and size.edges == source.count(" -> ")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=30), st.integers(10, 80))
def test_the_max_nodes_a_refusal_offers_does_fit(choices, limit):
    nodes = [Value(1.0, label="x")]
    for c in choices:
        a, b = nodes[c % len(nodes)], nodes[(c * 7) % len(nodes)]
        nodes.append(a * b + a)
    root = nodes[-1]
    if layout_size(root).total <= limit:
        check_drawable(root, "render", limit=limit)  # fits: nothing to refuse
        return
    with pytest.raises(DrawingTooLarge) as info:
        check_drawable(root, "render", limit=limit)
    offer = re.search(r"max_nodes=(\d+) fits", str(info.value))
    if layout_size(root, 1).total <= limit:
        check_drawable(root, "render", max_nodes=int(offer.group(1)), limit=limit)
    else:  # even the output alone is over a tiny limit: no max_nodes is offered
        assert offer is None and "too many operands" in str(info.value)


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, True, "5", None])
def test_a_bad_time_bound_is_named(bad):
    with pytest.raises(ValueError, match="dot_timeout"):
        check_timeout(bad)


@needs_dot
def test_dot_past_its_time_is_killed_and_none_is_left_running():
    source = draw_dot(expression_graph(HUGE, {"x": 1}), show_local_grads=True).source
    start = time.monotonic()
    with pytest.raises(GraphvizTimeout, match="did not finish within 1 s") as info:
        run_dot(source, "svg", timeout=1)
    assert time.monotonic() - start < 5
    assert isinstance(info.value, OSError) and "--dot-timeout" in str(info.value)
    assert dots_below(os.getpid()) == []


@needs_dot
def test_every_renderer_takes_the_bound(tmp_path):
    from autograd_bp.textbook.worked import build_network

    y = Value(2.0, label="a").tanh() * 3
    calls = [lambda t: render(y, tmp_path / "g.svg", dot_timeout=t),
             lambda t: render_steps(y, tmp_path / "steps", dot_timeout=t),
             lambda t: render_network(build_network()[0], tmp_path / "n.svg",
                                      dot_timeout=t)]  # fmt: skip
    for draw in calls:
        with pytest.raises(GraphvizTimeout):
            draw(1e-4)  # dot cannot even start in 0.1 ms
        draw(60)  # and with time, it draws
    assert (tmp_path / "g.svg").exists() and (tmp_path / "steps" / "index.html").exists()
    assert dots_below(os.getpid()) == []


def test_a_network_too_large_to_draw_is_refused_before_dot(tmp_path):
    from autograd_bp.nn import MLP

    with pytest.raises(DrawingTooLarge, match="render_network: the network is too large"):
        render_network(MLP(64, [64, 10]), tmp_path / "n.svg")
    assert list(tmp_path.iterdir()) == []


@needs_dot
@pytest.mark.parametrize("command", [["grad", "tanh(x*y)", "x=1", "y=2", "--draw", "g.svg"],
                                     ["steps", "tanh(x*y)", "x=1", "y=2", "--out", "st"],
                                     ["demo", "--out", "demo"]])  # fmt: skip
def test_the_command_line_takes_dot_timeout(tmp_path, command):
    slow = cli(*command, "--dot-timeout", "0.0001", cwd=tmp_path)
    assert slow.returncode == 2 and len(slow.stderr.strip().splitlines()) == 1
    assert "did not finish within 0.0001 s" in slow.stderr and "--dot-timeout" in slow.stderr
    assert cli(*command, "--dot-timeout", "60", cwd=tmp_path).returncode == 0
    for bad in ("0", "-3", "nan", "soon"):
        refused = cli(*command, "--dot-timeout", bad, cwd=tmp_path)
        assert refused.returncode == 2 and "--dot-timeout" in refused.stderr
