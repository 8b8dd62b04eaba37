"""Graph diagrams with Graphviz: the computation graph, gradient flow, and a step-through
of the backward pass.

Each Value is a record node ``label | data | grad``; each op is its own small node between
its operands and its result (micrograd's look). Colours: the output is gold, parameters
light blue, inputs and constants grey, everything computed white; highlighted paths red.

Example:
    >>> from autograd_bp import Value
    >>> x = Value(2.0, label="x"); y = (x * 3).tanh(); y.label = "y"
    >>> g = draw_dot(y)
    >>> g.source.count("shape=record")
    3
"""

from __future__ import annotations

import html
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz

from ._io import atomic_write, atomic_write_text
from .engine import Value, backward_order
from .explain import names, reaching
from .ops import RULES

__all__ = ["GraphvizNotFound", "draw_dot", "render", "render_steps", "backward_steps", "Step"]

COLORS = {"output": "gold", "parameter": "lightblue", "input": "lightgrey", "computed": "white"}
HIGHLIGHT = "red"
FINAL = "palegreen"


class GraphvizNotFound(RuntimeError):
    """Graphviz's ``dot`` binary is not installed (the DOT source is still written)."""


def _record_text(s: str) -> str:
    # characters with a meaning inside a record label
    for ch in '\\{}|<>"':
        s = s.replace(ch, "\\" + ch)
    return s


@dataclass
class _Style:
    """Per-render overrides used by the step-through."""

    grads: dict[int, float] | None = None  # partial gradients to show instead of .grad
    final: set[int] = field(default_factory=set)  # nodes whose gradient is complete
    active: tuple[int, int, int] | None = None  # (child id, parent id, edge index)


def _path_edges(wrt: Value, order: list[Value]) -> tuple[set[int], set[tuple]]:
    """Nodes and (child, edge index) pairs lying on some path from the root down to wrt."""
    reach = reaching(order, wrt)
    edges = set()
    for node in order:
        if id(node) in reach:
            for i, p in enumerate(node.parents):
                if id(p) in reach:
                    edges.add((id(node), i))
    return reach, edges


def _groups(model: Any, group: str) -> dict[int, str]:
    """Cluster name per node id for MLP-like models: parameters, z and activation nodes."""
    out: dict[int, str] = {}
    for i, layer in enumerate(model.layers):
        for j, neuron in enumerate(layer.neurons):
            name = f"layer {i}" if group == "layer" else f"layer {i} · neuron {j}"
            for p in [*neuron.w, *([neuron.b] if neuron.b is not None else [])]:
                out.setdefault(id(p), name)
    return out


def draw_dot(
    root: Value,
    *,
    rankdir: str = "LR",
    show_grad: bool = True,
    show_ops: bool = True,
    show_local_grads: bool = False,
    show_order: bool = False,
    highlight: tuple[Value, Value] | Iterable[Value] | None = None,
    group: str | None = None,
    model: Any = None,
    parameters: Iterable[Value] | None = None,
    max_nodes: int | None = None,
    precision: int = 4,
    _style: _Style | None = None,
) -> graphviz.Digraph:
    """The graph below ``root`` as a ``graphviz.Digraph`` (renders inline in Jupyter).

    * ``show_local_grads`` labels each edge with ∂child/∂parent, the factor backward uses.
    * ``show_order`` numbers nodes in the order backward visits them (1 = the output).
    * ``highlight=(output, wrt)`` colours every path from output to wrt; a list of Values
      colours those nodes.
    * ``group="layer"|"neuron"`` with ``model=`` an MLP draws a cluster per layer/neuron.
    * ``parameters`` marks which leaves are parameters (others are inputs/constants); by
      default, with ``model`` given, its parameters; otherwise every labelled leaf.
    * ``max_nodes`` keeps the nodes nearest the output and collapses the rest into one
      "… N more" node.

    Node ids follow backward order, so the same graph always gives the same DOT text.
    """
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_dot: rankdir must be LR, RL, TB or BT, got {rankdir!r}")
    if group not in (None, "layer", "neuron"):
        raise ValueError(f"draw_dot: group must be 'layer' or 'neuron', got {group!r}")
    if group is not None and model is None:
        raise ValueError("draw_dot: group= needs model= (the MLP the graph came from)")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"draw_dot: max_nodes must be >= 1, got {max_nodes!r}")
    style = _style or _Style()
    order = backward_order(root)
    index = {id(n): i for i, n in enumerate(order)}
    label = names(root, order)
    shown = order if max_nodes is None else order[:max_nodes]
    shown_ids = {id(n) for n in shown}
    hidden = len(order) - len(shown)

    if parameters is not None:
        param_ids = {id(p) for p in parameters}
    elif model is not None:
        param_ids = {id(p) for p in model.parameters()}
    else:
        param_ids = {id(n) for n in order if n.is_leaf and n.label}
    hl_nodes: set[int] = set()
    hl_edges: set[tuple] = set()
    if highlight is not None:
        if (
            isinstance(highlight, tuple)
            and len(highlight) == 2
            and all(isinstance(v, Value) for v in highlight)
        ):
            out_node, wrt = highlight
            hl_nodes, hl_edges = _path_edges(wrt, backward_order(out_node))
        else:
            hl_nodes = {id(v) for v in highlight}
    clusters = _groups(model, group) if group else {}
    if group:  # a neuron's z (dot) node and its activation join its parameters' cluster
        for node in reversed(order):
            if node.op == "dot" and node.parents and id(node.parents[0]) in clusters:
                clusters[id(node)] = clusters[id(node.parents[0])]
        for node in order:
            if len(node.parents) == 1 and id(node.parents[0]) in clusters and node.op != "dot":
                if node.parents[0].op == "dot":
                    clusters.setdefault(id(node), clusters[id(node.parents[0])])

    fmt = f"{{:.{precision}f}}"
    dot = graphviz.Digraph()  # root-level statements; clusters are emitted before them
    bodies: dict[str, list[str]] = {}

    def add_node(node_id: str, cluster: str | None, **attrs: str) -> None:
        if cluster is None:
            dot.node(node_id, **attrs)
        else:
            sub = graphviz.Digraph()
            sub.node(node_id, **attrs)
            bodies.setdefault(cluster, []).extend(sub.body)

    def grad_of(node: Value) -> float:
        return style.grads.get(id(node), 0.0) if style.grads is not None else node.grad

    for node in shown:
        i = index[id(node)]
        nid = f"n{i}"
        fields = [_record_text(label[id(node)])]
        if show_order:
            fields[0] = f"#{i + 1} " + fields[0]
        fields.append(f"data {fmt.format(node.data)}")
        if show_grad:
            fields.append(f"grad {fmt.format(grad_of(node))}")
        if node is root:
            kind = "output"
        elif node.is_leaf:
            kind = "parameter" if id(node) in param_ids else "input"
        else:
            kind = "computed"
        fill = COLORS[kind]
        if id(node) in style.final:
            fill = FINAL if kind == "computed" else fill
        attrs = {
            "label": "{ " + " | ".join(fields) + " }",
            "shape": "record",
            "style": "filled",
            "fillcolor": fill,
            "class": f"value {kind}" + (" final" if id(node) in style.final else ""),
            "id": nid,
        }
        if id(node) in hl_nodes or (style.active and id(node) in style.active[:2]):
            attrs.update(color=HIGHLIGHT, penwidth="2.5")
        add_node(nid, clusters.get(id(node)), **attrs)
        if node.is_leaf:
            continue
        target = nid
        if show_ops:
            rule = RULES.get(node.op)
            target = f"{nid}_op"
            add_node(
                target,
                clusters.get(id(node)),
                label=rule.symbol if rule else node.op,
                shape="circle" if len(rule.symbol if rule else node.op) <= 2 else "ellipse",
                width="0.3",
                fixedsize="false",
                id=target,
                **{"class": "op"},
            )
            dot.edge(target, nid, id=f"{target}->{nid}")
            for k, c in enumerate(node.constants):
                cid = f"{nid}_c{k}"
                dot.node(cid, label=f"{c:g}", shape="plaintext", fontcolor="grey30", id=cid)
                dot.edge(cid, target, style="dashed", color="grey50", id=f"{cid}->{target}")
        for k, (parent, local) in enumerate(zip(node.parents, node.local_grads)):
            src = f"n{index[id(parent)]}" if id(parent) in shown_ids else "more"
            eattrs: dict[str, str] = {"id": f"{src}->{target}#{k}"}
            if show_local_grads:
                eattrs["label"] = fmt.format(local)
            if (id(node), k) in hl_edges:
                eattrs.update(color=HIGHLIGHT, penwidth="2.5", fontcolor=HIGHLIGHT)
            if style.active and style.active[0] == id(node) and style.active[2] == k:
                eattrs.update(color=HIGHLIGHT, penwidth="3", fontcolor=HIGHLIGHT)
                eattrs["class"] = "active"
            dot.edge(src, target, **eattrs)
    if hidden:
        dot.node("more", label=f"… {hidden} more", shape="box", style="dashed", id="more")
    graph = graphviz.Digraph(name="autograd_bp", graph_attr={"rankdir": rankdir})
    graph.attr("node", fontname="Helvetica", fontsize="11")
    graph.attr("edge", fontname="Helvetica", fontsize="9")
    # clusters first, so their nodes are declared inside them before any edge names them
    for k, (cluster, body) in enumerate(sorted(bodies.items())):
        with graph.subgraph(name=f"cluster_{k}") as c:
            c.attr(label=cluster, style="rounded,dashed", color="grey50")
            c.body.extend(body)
    graph.body.extend(dot.body)
    return graph


_INSTALL_HINT = (
    "Graphviz's 'dot' binary was not found on PATH; install Graphviz "
    "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"
)


def _pipe(dot: graphviz.Digraph, fmt: str) -> bytes:
    if shutil.which("dot") is None:
        raise graphviz.ExecutableNotFound(("dot",))
    return dot.pipe(format=fmt)


def render(
    root: Value, path: str | os.PathLike[str], format: str | None = None, **draw_options: Any
) -> Path:
    """Render the graph to ``path`` (SVG, PNG or PDF, from the extension unless ``format``).

    The DOT source is written next to it as ``<path>.gv`` too. Both writes are atomic.
    Without Graphviz's ``dot`` binary this raises :class:`GraphvizNotFound` after
    writing the ``.gv`` file.

    Example:
        >>> import tempfile, pathlib
        >>> from autograd_bp import Value
        >>> out = render(Value(1.0, label="a") * 2, pathlib.Path(tempfile.mkdtemp()) / "g.svg")
        >>> out.suffix, out.with_suffix(".gv").exists()
        ('.svg', True)
    """
    target = Path(path)
    fmt = (format or target.suffix.lstrip(".")).lower()
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"render: format must be svg, png or pdf, got {fmt or 'none'!r}")
    dot = draw_dot(root, **draw_options)
    source = target.with_suffix(".gv")
    atomic_write_text(source, dot.source)
    try:
        data = _pipe(dot, fmt)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFound(f"{_INSTALL_HINT}. The DOT source was written to {source}") from None
    atomic_write(target, lambda tmp: tmp.write_bytes(data))
    return target


@dataclass
class Step:
    """One step of the backward pass: ``parent.grad += local × upstream``."""

    index: int
    child: str
    parent: str
    local: float
    upstream: float
    contribution: float
    total: float  # the parent's gradient after this step
    text: str


def backward_steps(root: Value, *, precision: int = 4) -> list[tuple[Step, _Style]]:
    """Replay ``backward`` one edge at a time: each step with the diagram state after it."""
    order = backward_order(root)
    label = names(root, order)
    grads: dict[int, float] = {id(root): 1.0}
    final: set[int] = set()
    fmt = f"{{:.{precision}g}}"
    first = Step(0, label[id(root)], label[id(root)], 1.0, 1.0, 1.0, 1.0,
                 f"start: ∂{label[id(root)]}/∂{label[id(root)]} = 1")  # fmt: skip
    steps = [(first, _Style(dict(grads), {id(root)}, None))]
    for node in order:
        final.add(id(node))  # every consumer has been processed: its gradient is complete
        g = grads.get(id(node), 0.0)
        for k, (parent, local) in enumerate(zip(node.parents, node.local_grads)):
            contribution = local * g
            grads[id(parent)] = grads.get(id(parent), 0.0) + contribution
            c, p = label[id(node)], label[id(parent)]
            text = (
                f"∂{c}/∂{p} × ∂{label[id(root)]}/∂{c} = {fmt.format(local)} × {fmt.format(g)} "
                f"= {fmt.format(contribution)}; grad of {p} is now {fmt.format(grads[id(parent)])}"
            )
            step = Step(len(steps), c, p, local, g, contribution, grads[id(parent)], text)
            steps.append((step, _Style(dict(grads), set(final), (id(node), id(parent), k))))
    return steps


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Backward pass, step by step</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
#controls {{ display: flex; gap: .5em; align-items: center; margin-bottom: .5em; }}
#text {{ font-family: monospace; margin: .5em 0; min-height: 1.5em; }}
#diagram svg {{ max-width: 100%; height: auto; }}
</style></head><body>
<h1>Backward pass of {title}, step by step</h1>
<p>Green nodes have their final gradient; the red edge is the one just used
(<kbd>←</kbd>/<kbd>→</kbd> also step).</p>
<div id="controls">
<button id="prev">◀ previous</button>
<input id="slider" type="range" min="0" max="{last}" value="0">
<button id="next">next ▶</button>
<span id="counter"></span></div>
<div id="text"></div>
<div id="diagram"></div>
<script>
const steps = {steps};
let k = 0;
function show(i) {{
  k = Math.max(0, Math.min(steps.length - 1, i));
  document.getElementById("diagram").innerHTML = steps[k].svg;
  document.getElementById("text").textContent = steps[k].text;
  document.getElementById("slider").value = k;
  document.getElementById("counter").textContent = "step " + k + " / " + (steps.length - 1);
}}
document.getElementById("prev").onclick = () => show(k - 1);
document.getElementById("next").onclick = () => show(k + 1);
document.getElementById("slider").oninput = (e) => show(Number(e.target.value));
document.addEventListener("keydown", (e) => {{
  if (e.key === "ArrowRight") show(k + 1);
  if (e.key === "ArrowLeft") show(k - 1);
}});
show(0);
</script></body></html>
"""


def render_steps(
    root: Value,
    directory: str | os.PathLike[str],
    *,
    max_steps: int = 400,
    **draw_options: Any,
) -> Path:
    """Write ``step_000.svg`` … (one per backward step) and a self-contained
    ``index.html`` that steps through them; returns the page's path.

    Example:
        >>> import tempfile
        >>> from autograd_bp import Value
        >>> a = Value(3.0, label="a"); b = a * a; b.label = "b"
        >>> page = render_steps(b, tempfile.mkdtemp())
        >>> page.name, len(list(page.parent.glob("step_*.svg")))
        ('index.html', 3)
    """
    steps = backward_steps(root, precision=draw_options.get("precision", 4))
    if len(steps) > max_steps:
        raise ValueError(
            f"render_steps: the graph has {len(steps)} backward steps, more than "
            f"max_steps={max_steps}; render a smaller expression or raise max_steps"
        )
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    draw_options.setdefault("show_local_grads", True)
    pages = []
    for step, style in steps:
        dot = draw_dot(root, _style=style, **draw_options)
        try:
            svg = _pipe(dot, "svg").decode("utf-8")
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFound(_INSTALL_HINT) from None
        atomic_write_text(out_dir / f"step_{step.index:03d}.svg", svg)
        pages.append({"text": step.text, "svg": svg[svg.find("<svg") :]})
    title = html.escape(names(root)[id(root)])
    page = _PAGE.format(
        title=title, last=len(pages) - 1, steps=json.dumps(pages).replace("</", "<\\/")
    )
    return atomic_write_text(out_dir / "index.html", page)
