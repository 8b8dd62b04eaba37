"""Graph diagrams with Graphviz: the computation graph, gradient flow, and a step-through
of the backward pass.

Each Value is a record node ``label | data | grad``; each op is its own small node between
its operands and its result (micrograd's look); numbers in significant digits. Colours
(shown in a legend): the output is gold, parameters light blue, inputs and constants grey,
everything computed white; highlighted paths red; in the step-through, final gradients
pale green. :func:`draw_network` draws the neuron-level picture of an MLP instead.

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
import operator
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz

from .._io import atomic_write, atomic_write_text
from ..core.engine import Value, backward_order, chain_rule
from ..core.graph import Naming, names, reaching, uses
from ..core.ops import RULES
from .explain import wrap

__all__ = [
    "GraphvizNotFound",
    "RENDER_LIMIT",
    "Step",
    "backward_steps",
    "draw_dot",
    "draw_network",
    "render_network",
    "expression_lines",
    "pipe",
    "render",
    "render_steps",
]

COLORS = {"output": "gold", "parameter": "lightblue", "input": "lightgrey", "computed": "white"}
HIGHLIGHT = "red"
FINAL = "palegreen"
FONT = "Helvetica,Arial,sans-serif"
# How an op node reads; everything else shows its rule's symbol. The bias of a neuron is
# the last operand of its dot node, paired with the number 1: Σ shows it as "+ b".
_OP_LABELS = {"dot": "Σ wᵢxᵢ + b", "sum": "Σ", "mul": "×", "sub": "−", "div": "÷", "pow": "^",
              "neg": "−", "sigmoid": "σ"}  # fmt: skip


class GraphvizNotFound(RuntimeError):
    """Graphviz's ``dot`` binary is not installed (the DOT source is still written)."""


def _num(x: float, digits: int) -> str:
    """``x`` to ``digits`` significant digits — the diagrams' and the step page's format."""
    return f"{x:.{digits}g}"


def _record_text(s: str) -> str:
    # characters with a meaning inside a record label
    for ch in '\\{}|<>"':
        s = s.replace(ch, "\\" + ch)
    return s


@dataclass
class _Style:
    """Per-render overrides used by the step-through."""

    grads: dict[Value, float] | None = None  # partial gradients to show instead of .grad
    final: set[Value] = field(default_factory=set)  # nodes whose gradient is complete
    active: tuple[Value, Value, int] | None = None  # (child, parent, edge index)


@dataclass
class _Options:
    rankdir: str = "LR"
    show_grad: bool = True
    show_ops: bool = True
    show_local_grads: bool = False
    show_order: bool = False
    highlight: Any = None
    group: str | None = None
    model: Any = None
    parameters: Iterable[Value] | None = None
    max_nodes: int | None = None
    precision: int = 4
    legend: bool = True

    def check(self) -> None:
        if self.rankdir not in ("LR", "RL", "TB", "BT"):
            raise ValueError(f"draw_dot: rankdir must be LR, RL, TB or BT, got {self.rankdir!r}")
        if self.group not in (None, "layer", "neuron"):
            raise ValueError(f"draw_dot: group must be 'layer' or 'neuron', got {self.group!r}")
        if self.group is not None and self.model is None:
            raise ValueError("draw_dot: group= needs model= (the MLP the graph came from)")
        if self.max_nodes is not None:
            self.max_nodes = _whole(self.max_nodes, "max_nodes", 1, None)
        self.precision = _whole(self.precision, "precision (significant digits)", 1, 17)


def _whole(value: Any, name: str, low: int, high: int | None) -> int:
    """``value`` as an int in [low, high] (numpy integers welcome; bools and floats not)."""
    try:
        if isinstance(value, bool):
            raise TypeError
        n = operator.index(value)
    except TypeError:
        raise ValueError(f"draw_dot: {name} must be an integer, got {value!r}") from None
    if n < low or (high is not None and n > high):
        bounds = f">= {low}" if high is None else f"from {low} to {high}"
        raise ValueError(f"draw_dot: {name} must be {bounds}, got {value!r}")
    return n


def _forward_order(root: Value, keep: set[Value]) -> list[Value]:
    """The nodes of ``keep`` inputs-first, operands in the order they were written (a
    post-order walk): declared in this order, Graphviz keeps x1 before x2, o1 before o2."""
    out: list[Value] = []
    done: set[Value] = set()
    stack: list[tuple[Value, int]] = [(root, 0)]
    while stack:
        node, k = stack.pop()
        if k < len(node.parents):
            stack.append((node, k + 1))
            parent = node.parents[k]
            if parent not in done and parent in keep:
                done.add(parent)
                stack.append((parent, 0))
        else:
            out.append(node)
    return out


def _highlighted(highlight: Any) -> tuple[set[Value], set[tuple[Value, int]]]:
    """Nodes and (consumer, edge index) pairs to colour: every path output → wrt, or the
    given nodes."""
    if highlight is None:
        return set(), set()
    if (
        isinstance(highlight, tuple)
        and len(highlight) == 2
        and all(isinstance(v, Value) for v in highlight)
    ):
        out_node, wrt = highlight
        reach = reaching(backward_order(out_node), wrt)
        edges = {(n, k) for n in reach for k, p in enumerate(n.parents) if p in reach}
        return reach, edges
    return set(highlight), set()


def _clusters(order: list[Value], model: Any, group: str) -> dict[Value, str]:
    """Cluster name per node for MLP-like models: each neuron's Σ node and its activation.
    Parameters stay outside, to the side of their neuron: inside, they would push the
    clusters of consecutive layers apart into a staircase."""
    where: dict[Value, str] = {}
    for i, layer in enumerate(model.layers):
        for j, neuron in enumerate(layer.neurons):
            name = f"layer {i + 1}" if group == "layer" else f"layer {i + 1} · neuron {j + 1}"
            if neuron.w:
                where.setdefault(neuron.w[0], name)
    out: dict[Value, str] = {}
    for node in order:
        if node.op == "dot" and node.parents and node.parents[0] in where:
            out[node] = where[node.parents[0]]
    for node in order:
        parent = node.parents[0] if len(node.parents) == 1 else None
        if parent is not None and parent in out:
            out.setdefault(node, out[parent])
    return out


class _Drawing:
    """One draw_dot call: the graph's facts, then node and edge statements."""

    def __init__(self, root: Value, opts: _Options, style: _Style) -> None:
        self.root, self.opts, self.style = root, opts, style
        self.order = backward_order(root)
        self.index = {n: i for i, n in enumerate(self.order)}
        self.label = names(root, self.order)
        self.shown = self.order if opts.max_nodes is None else self.order[: opts.max_nodes]
        self.shown_set = set(self.shown)
        if opts.parameters is not None:
            self.params = set(opts.parameters)
        elif opts.model is not None:
            self.params = set(opts.model.parameters())
        else:
            self.params = {n for n in self.order if n.is_leaf and n.label}
        self.hl_nodes, self.hl_edges = _highlighted(opts.highlight)
        self.clusters = _clusters(self.order, opts.model, opts.group) if opts.group else {}
        self.bodies: dict[str, list[str]] = {}
        self.dot = graphviz.Digraph()

    def add_node(self, node_id: str, cluster: str | None, **attrs: str) -> None:
        if cluster is None:
            self.dot.node(node_id, **attrs)
        else:
            sub = graphviz.Digraph()
            sub.node(node_id, **attrs)
            self.bodies.setdefault(cluster, []).extend(sub.body)

    def kind(self, node: Value) -> str:
        if node is self.root:
            return "output"
        if node.is_leaf:
            return "parameter" if node in self.params else "input"
        return "computed"

    def value_node(self, node: Value) -> str:
        opts, style = self.opts, self.style
        nid = f"n{self.index[node]}"
        digits = opts.precision
        fields = [_record_text(self.label[node])]
        if opts.show_order:
            fields[0] = f"#{self.index[node] + 1} " + fields[0]
        fields.append(f"data {_num(node.data, digits)}")
        if opts.show_grad:
            g = style.grads.get(node, 0.0) if style.grads is not None else node.grad
            fields.append(f"grad {_num(g, digits)}")
        kind, final = self.kind(node), node in style.final
        text = " | ".join(fields)
        attrs = {
            "label": text if opts.rankdir in ("TB", "BT") else "{ " + text + " }",
            "shape": "record", "style": "filled", "id": nid,
            "fillcolor": FINAL if final else COLORS[kind],
            "class": f"value {kind}" + (" final" if final else ""),
        }  # fmt: skip
        if node in self.hl_nodes or (style.active and node in style.active[:2]):
            attrs.update(color=HIGHLIGHT, penwidth="2.5")
        self.add_node(nid, self.clusters.get(node), **attrs)
        return nid

    def op_node(self, node: Value, nid: str) -> str:
        rule = RULES.get(node.op)
        text = _OP_LABELS.get(node.op, rule.symbol if rule else node.op)
        if node.op == "dot" and 1.0 not in node.constants:
            text = "Σ wᵢxᵢ"  # no bias: no "+ b"
        target = f"{nid}_op"
        self.add_node(target, self.clusters.get(node), label=text, id=target,
                      shape="circle" if len(text) <= 2 else "ellipse", width="0.35",
                      fontsize="14", **{"class": "op"})  # fmt: skip
        attrs = {"id": f"{target}->{nid}"}
        if any((node, k) in self.hl_edges for k in range(len(node.parents))):
            attrs.update(color=HIGHLIGHT, penwidth="2.5")
        self.dot.edge(target, nid, **attrs)
        # numbers folded into the op; a dot node's 1 (the bias's multiplier) is the "+ b"
        constants = [c for c in node.constants if not (node.op == "dot" and c == 1.0)]
        for k, c in enumerate(constants):
            cid = f"{nid}_c{k}"
            self.dot.node(cid, label=f"{c:g}", shape="plaintext", fontcolor="grey30", id=cid)
            self.dot.edge(cid, target, style="dashed", color="grey50", id=f"{cid}->{target}")
        return target

    def operand_edges(self, node: Value, target: str) -> None:
        active = self.style.active
        for k, (parent, local) in enumerate(zip(node.parents, node.local_grads)):
            src = f"n{self.index[parent]}" if parent in self.shown_set else "more"
            attrs: dict[str, str] = {"id": f"{src}->{target}#{k}"}
            if self.opts.show_local_grads:
                # decorate: a line ties the label to its edge, so it cannot be misread
                attrs.update(label=_num(local, self.opts.precision), decorate="true")
            if (node, k) in self.hl_edges:
                attrs.update(color=HIGHLIGHT, penwidth="2.5", fontcolor=HIGHLIGHT)
            if active and active[0] is node and active[2] == k:
                attrs.update(color=HIGHLIGHT, penwidth="3", fontcolor=HIGHLIGHT)
                attrs["class"] = "active"
            if self.clusters and parent.is_leaf and parent in self.params:
                # ranked after the Σ node it feeds, a weight sits beside its neuron instead
                # of in a row between two layers (which pushes them into a staircase); the
                # arrow still points into Σ
                self.dot.edge(target, src, dir="back", **attrs)
            else:
                self.dot.edge(src, target, **attrs)

    def legend(self) -> None:
        kinds = {self.kind(n) for n in self.shown}
        rows = [(f'BGCOLOR="{COLORS[k]}"', "", text) for k, text in _LEGEND if k in kinds]
        if self.style.final or self.style.grads is not None:
            rows.append((f'BGCOLOR="{FINAL}"', "", "gradient final"))
        if self.hl_nodes or self.style.active:
            what = "highlighted path" if self.hl_nodes else "edge just used"
            rows.append((f'BGCOLOR="{HIGHLIGHT}"', "", what))
        if any(n.op == "dot" for n in self.shown):
            rows.append(('BORDER="0"', "Σ", "a neuron's weighted input Σ wᵢxᵢ + b"))
        if self.opts.show_local_grads:
            rows.append(('BORDER="0"', "0.5", "on an edge: ∂result/∂operand"))
        cells = "".join(
            f'<TR><TD {attr} WIDTH="18">{html.escape(mark)}</TD>'
            f'<TD BORDER="0" ALIGN="LEFT">{html.escape(text)}</TD></TR>'
            for attr, mark, text in rows
        )
        table = f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="2">{cells}</TABLE>>'
        self.dot.node("legend", label=table, shape="plaintext", id="legend",
                      fontsize="12", **{"class": "legend"})  # fmt: skip

    def build(self) -> graphviz.Digraph:
        # forward order (inputs first) so Graphviz keeps x1 above x2, o1 above o2
        for node in _forward_order(self.root, self.shown_set):
            nid = self.value_node(node)
            if not node.is_leaf:
                target = self.op_node(node, nid) if self.opts.show_ops else nid
                self.operand_edges(node, target)
        hidden = len(self.order) - len(self.shown)
        if hidden:
            self.dot.node("more", label=f"… {hidden} more", shape="box", style="dashed",
                          id="more")  # fmt: skip
        if self.opts.legend:
            self.legend()
        graph = graphviz.Digraph(name="autograd_bp", graph_attr={"rankdir": self.opts.rankdir,
                                 "fontname": FONT, "nodesep": "0.3", "ranksep": "0.35",
                                 "newrank": "true"})  # fmt: skip
        graph.attr("node", fontname=FONT, fontsize="13")
        graph.attr("edge", fontname=FONT, fontsize="11")
        # clusters first, so their nodes are declared inside them before any edge names them
        for k, (cluster, body) in enumerate(sorted(self.bodies.items())):
            with graph.subgraph(name=f"cluster_{k}") as c:
                c.attr(label=cluster, style="rounded,dashed", color="grey50", fontsize="13")
                c.body.extend(body)
        graph.body.extend(self.dot.body)
        return graph


_LEGEND = [("output", "output"), ("parameter", "parameter"),
           ("input", "input or constant"), ("computed", "computed")]  # fmt: skip


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
    legend: bool = True,
    _style: _Style | None = None,
) -> graphviz.Digraph:
    """The graph below ``root`` as a ``graphviz.Digraph`` (renders inline in Jupyter).

    * ``show_local_grads`` labels each edge with ∂result/∂operand, the factor backward uses.
    * ``show_order`` numbers nodes in the order backward visits them (1 = the output).
    * ``highlight=(output, wrt)`` colours every path from output to wrt, op edges included;
      a list of Values colours those nodes.
    * ``group="layer"|"neuron"`` with ``model=`` an MLP draws a cluster per layer/neuron.
    * ``parameters`` marks which leaves are parameters (others are inputs/constants); by
      default, with ``model`` given, its parameters; otherwise every labelled leaf.
    * ``max_nodes`` keeps the nodes nearest the output and collapses the rest into one
      "… N more" node.
    * ``precision`` is in significant digits (0.000438568 shows as 0.0004386 at 4);
      ``legend`` adds a key to the colours.

    Node ids follow backward order, so the same graph always gives the same DOT text.

    Example:
        >>> from autograd_bp import Value
        >>> w = Value(0.000438568, label="w"); y = w * 2; y.label = "y"
        >>> "data 0.0004386" in draw_dot(y).source
        True
    """
    opts = _Options(rankdir, show_grad, show_ops, show_local_grads, show_order, highlight,
                    group, model, parameters, max_nodes, precision, legend)  # fmt: skip
    opts.check()
    return _Drawing(root, opts, _style or _Style()).build()


_INSTALL_HINT = (
    "Graphviz's 'dot' binary was not found on PATH; install Graphviz "
    "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"
)
# Beyond this many value nodes, dot runs for minutes: render asks for max_nodes first.
RENDER_LIMIT = 2000
_GV_MARK = "// written by autograd_bp.show.viz.render\n"


def _write_bytes(target: Path, data: bytes) -> Path:
    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    return atomic_write(target, write)


def pipe(dot: graphviz.Digraph, fmt: str) -> bytes:
    """``dot`` rendered by Graphviz into ``fmt`` bytes (svg, png, pdf); a clear
    ``ExecutableNotFound`` when the ``dot`` program is missing.

    Example:
        >>> from autograd_bp import Value
        >>> pipe(draw_dot(Value(1.0, label="x") * 2), "svg").startswith(b"<?xml")
        True
    """
    if shutil.which("dot") is None:
        raise graphviz.ExecutableNotFound(("dot",))
    return dot.pipe(format=fmt)


def _check_size(root: Value, max_nodes: int | None, what: str) -> None:
    if max_nodes is not None:
        return
    n = len(backward_order(root))
    if n > RENDER_LIMIT:
        raise ValueError(
            f"{what}: the graph has {n} nodes, more than {RENDER_LIMIT} (Graphviz would run "
            f"for minutes and draw an unreadable picture); pass max_nodes=N to draw the N "
            f"nodes nearest the output and collapse the rest, or max_nodes={n} to draw all"
        )


def _source_path(target: Path) -> Path:
    """Where the DOT source goes: ``<name>.gv`` beside the picture — never over a .gv file
    that render did not write."""
    source = target.with_suffix(".gv")
    if source.exists():
        with open(source, encoding="utf-8", errors="replace") as f:
            head = f.read(len(_GV_MARK))
        if head != _GV_MARK:
            raise FileExistsError(
                f"render: {source} exists and was not written by render; it would be "
                "overwritten by the DOT source — move it or render to another name"
            )
    return source


def render(
    root: Value,
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    max_nodes: int | None = None,
    **draw_options: Any,
) -> Path:
    """Render the graph to ``path`` (SVG, PNG or PDF, from the extension unless ``format``).

    The DOT source is written next to it as ``<name>.gv`` too (never over a ``.gv`` file
    render did not write). Both writes are atomic. A graph of more than ``RENDER_LIMIT``
    nodes needs ``max_nodes`` (see :func:`draw_dot`), checked before ``dot`` runs. Without
    Graphviz's ``dot`` binary this raises :class:`GraphvizNotFound` after writing the
    ``.gv`` file.

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
    _check_size(root, max_nodes, "render")
    source = _source_path(target)
    dot = draw_dot(root, max_nodes=max_nodes, **draw_options)
    atomic_write_text(source, _GV_MARK + dot.source)
    try:
        data = pipe(dot, fmt)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFound(f"{_INSTALL_HINT}. The DOT source was written to {source}") from None
    _write_bytes(target, data)
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
    final: bool = False  # whether this step completed the parent's gradient


def backward_steps(root: Value, *, precision: int = 4) -> list[tuple[Step, _Style]]:
    """Replay ``backward`` one edge at a time: each step with the diagram state after it.

    A node is final (green) on the step that adds its last contribution — leaves too.

    Example:
        >>> from autograd_bp import Value
        >>> a = Value(3.0, label="a"); b = a * a; b.label = "b"
        >>> [s.text.split("; ")[-1] for s, _ in backward_steps(b)[1:]]
        ['∂b/∂a is now 3', '∂b/∂a = 3 + 3 = 6 (final)']
    """
    order = backward_order(root)
    label = names(root, order)
    remaining = uses(order)  # contributions still to come, one per edge into a node
    grads: dict[Value, float] = {root: 1.0}
    final: set[Value] = {root}
    f = lambda x: _num(x, precision)
    out = label[root]
    first = Step(0, out, out, 1.0, 1.0, 1.0, 1.0, f"start: ∂{out}/∂{out} = 1", True)
    steps = [(first, _Style(dict(grads), set(final), None))]

    def step(node: Value, k: int, parent: Value, local: Any, g: Any, earlier: Any) -> None:
        contribution = local * g
        accumulating = earlier is not None  # an earlier contribution is already there
        before = 0.0 if earlier is None else earlier
        grads[parent] = contribution if earlier is None else earlier + contribution
        remaining[parent] -= 1
        done = remaining[parent] == 0
        if done:
            final.add(parent)
        c, p = wrap(label[node]), wrap(label[parent])  # ∂(w*x + b), not ∂w*x + b
        sign = "−" if contribution < 0 else "+"
        total = f"∂{out}/∂{p} = {f(before)} {sign} {f(abs(contribution))} = {f(grads[parent])}"
        text = (f"∂{c}/∂{p} × ∂{out}/∂{c} = {f(local)} × {f(g)} = {f(contribution)}; "
                + (total if accumulating else f"∂{out}/∂{p} is now {f(grads[parent])}")
                + (" (final)" if done else ""))  # fmt: skip
        shown = Step(len(steps), c, p, local, g, contribution, grads[parent], text, done)
        steps.append((shown, _Style(dict(grads), set(final), (node, parent, k))))

    chain_rule(root, order=order, visit=step)  # the walker's sums are the ones shown
    return steps


def expression_lines(root: Value, limit: int = 24) -> list[str]:
    """What is being differentiated, in the expression language: the output, then each
    named part it is made of (:class:`autograd_bp.core.graph.Naming`'s ``where`` bindings),
    outermost first — at most ``limit`` lines.

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(2.0, label="x"); z = x * 3 + 1; z.label = "z"; y = z.tanh(); y.label = "y"
        >>> expression_lines(y)
        ['y = tanh(z)', 'z = x*3 + 1']
    """
    namer = Naming(root, None)
    text = namer.name[root] if root.is_leaf else namer.text[root][0]
    name = namer.name[root]
    lines = [text if name == text else f"{name} = {text}"]
    lines += [f"{namer.name[n]} = {namer.text[n][0]}" for n in reversed(namer.bound)]
    if len(lines) > limit:
        lines = [*lines[:limit], f"… and {len(lines) - limit} more"]
    return lines


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Backward pass, step by step</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
.bar {{ display: flex; flex-wrap: wrap; gap: .4em; align-items: center; margin: .4em 0; }}
#expression {{ font-family: monospace; white-space: pre; background: #f6f6f6; padding: .4em;
  max-height: 8em; overflow: auto; }}
#text {{ font-family: monospace; font-size: 1.1em; margin: .5em 0; min-height: 1.5em; }}
#viewport {{ border: 1px solid #ccc; height: 70vh; overflow: auto; cursor: grab; }}
#viewport.dragging {{ cursor: grabbing; }}
#slider {{ flex: 1; min-width: 10em; }}
</style></head><body>
<h1>Backward pass of {title}, step by step</h1>
<div id="expression">{expression}</div>
<p>Each step multiplies one local derivative by the gradient arriving from above and adds it
to the operand's gradient. A node turns green on the step its gradient is complete; the red
edge is the one just used. Keys: <kbd>←</kbd>/<kbd>→</kbd> one step, <kbd>Home</kbd>/<kbd>End</kbd>
first/last, <kbd>p</kbd> play/pause, <kbd>+</kbd>/<kbd>−</kbd> zoom. Drag to pan.</p>
<div class="bar">
<button id="first">◀◀ first</button>
<button id="prev">◀ previous</button>
<button id="play">▶ play</button>
<button id="next">next ▶</button>
<button id="last">last ▶▶</button>
<input id="slider" type="range" min="0" max="{last}" value="0" aria-label="step">
<span id="counter"></span></div>
<div class="bar">
<button id="zoom-out">− zoom</button><button id="zoom-in">+ zoom</button>
<button id="fit">fit</button><button id="actual">100 %</button><span id="zoom"></span></div>
<div id="text"></div>
<div id="viewport"><div id="diagram"></div></div>
<script>
const steps = {steps};
let k = 0, zoom = null, timer = null;
const $ = (id) => document.getElementById(id);
function natural(svg) {{  // Graphviz writes width/height in pt
  return [parseFloat(svg.getAttribute("width")) * 4 / 3,
          parseFloat(svg.getAttribute("height")) * 4 / 3];
}}
function applyZoom() {{
  const svg = $("diagram").querySelector("svg");
  if (!svg) return;
  const [w, h] = natural(svg);
  if (zoom === null) zoom = Math.max(0.8, Math.min(1, $("viewport").clientWidth / w));
  svg.style.width = (w * zoom) + "px"; svg.style.height = (h * zoom) + "px";
  $("zoom").textContent = Math.round(zoom * 100) + " %";
}}
function reveal() {{  // keep the edge just used in view
  const a = $("diagram").querySelector("g.edge.active"), vp = $("viewport");
  if (!a) return;
  const r = a.getBoundingClientRect(), v = vp.getBoundingClientRect();
  if (r.left < v.left || r.right > v.right || r.top < v.top || r.bottom > v.bottom) {{
    vp.scrollLeft += (r.left + r.right) / 2 - (v.left + v.right) / 2;
    vp.scrollTop += (r.top + r.bottom) / 2 - (v.top + v.bottom) / 2;
  }}
}}
function show(i) {{
  k = Math.max(0, Math.min(steps.length - 1, i));
  $("diagram").innerHTML = steps[k].svg;
  $("text").textContent = steps[k].text;
  $("slider").value = k;
  $("counter").textContent = "step " + k + " / " + (steps.length - 1);
  applyZoom(); reveal();
  if (k === steps.length - 1) pause();
}}
function pause() {{ clearInterval(timer); timer = null; $("play").textContent = "▶ play"; }}
function play() {{
  if (timer) return pause();
  if (k === steps.length - 1) show(0);
  $("play").textContent = "■ pause";
  timer = setInterval(() => show(k + 1), 900);
}}
function setZoom(z) {{ zoom = Math.max(0.1, Math.min(4, z)); applyZoom(); }}
$("first").onclick = () => show(0);
$("prev").onclick = () => show(k - 1);
$("next").onclick = () => show(k + 1);
$("last").onclick = () => show(steps.length - 1);
$("play").onclick = play;
$("slider").oninput = (e) => show(Number(e.target.value));
$("zoom-in").onclick = () => setZoom(zoom * 1.25);
$("zoom-out").onclick = () => setZoom(zoom / 1.25);
$("actual").onclick = () => setZoom(1);
$("fit").onclick = () => {{
  const svg = $("diagram").querySelector("svg");
  setZoom($("viewport").clientWidth / natural(svg)[0]);
}};
document.addEventListener("keydown", (e) => {{
  const moves = {{ArrowRight: () => show(k + 1), ArrowLeft: () => show(k - 1),
                 Home: () => show(0), End: () => show(steps.length - 1), p: play,
                 "+": () => setZoom(zoom * 1.25), "-": () => setZoom(zoom / 1.25)}};
  if (!(e.key in moves)) return;
  e.preventDefault();  // the slider must not move a second time on its own
  moves[e.key]();
}});
const vp = $("viewport");
let drag = null;
vp.addEventListener("mousedown", (e) => {{
  drag = [e.clientX, e.clientY, vp.scrollLeft, vp.scrollTop]; vp.classList.add("dragging");
}});
window.addEventListener("mousemove", (e) => {{
  if (!drag) return;
  vp.scrollLeft = drag[2] - (e.clientX - drag[0]); vp.scrollTop = drag[3] - (e.clientY - drag[1]);
}});
window.addEventListener("mouseup", () => {{ drag = null; vp.classList.remove("dragging"); }});
vp.addEventListener("wheel", (e) => {{
  if (!e.ctrlKey) return;
  e.preventDefault(); setZoom(zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1));
}}, {{passive: false}});
show(0);
</script></body></html>
"""


def render_steps(
    root: Value,
    directory: str | os.PathLike[str],
    *,
    max_steps: int = 400,
    expression: str | None = None,
    **draw_options: Any,
) -> Path:
    """Write ``step_000.svg`` … (one per backward step) and a self-contained
    ``index.html`` that steps through them; returns the page's path.

    The page shows ``expression`` (by default the output and its labelled parts, from
    :func:`expression_lines`), the step's arithmetic with accumulation written out, and the
    diagram with zoom and pan. ``step_NNN.svg`` files left by an earlier, longer run in
    ``directory`` are removed.

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
            svg = pipe(dot, "svg").decode("utf-8")
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFound(_INSTALL_HINT) from None
        atomic_write_text(out_dir / f"step_{step.index:03d}.svg", svg)
        pages.append({"text": step.text, "svg": svg[svg.find("<svg") :]})
    for old in out_dir.glob("step_*.svg"):  # from an earlier run with more steps
        number = old.stem.removeprefix("step_")
        if number.isdigit() and int(number) >= len(steps):
            old.unlink()
    title = html.escape(names(root, backward_order(root))[root])
    lines = [expression] if expression is not None else expression_lines(root)
    page = _PAGE.format(
        title=title, last=len(pages) - 1, expression=html.escape("\n".join(lines)),
        steps=json.dumps(pages).replace("</", "<\\/"),
    )  # fmt: skip
    return atomic_write_text(out_dir / "index.html", page)


def _neuron_names(sizes: list[int]) -> list[list[str]]:
    """Mazur's names: h1, h2 … for a single hidden layer, h1_1 … for several; o1, o2 … out."""
    hidden = len(sizes) - 1
    out = []
    for i, n in enumerate(sizes):
        if i == hidden:
            out.append([f"o{j}" for j in range(1, n + 1)])
        else:
            prefix = "h" if hidden == 1 else f"h{i + 1}_"
            out.append([f"{prefix}{j}" for j in range(1, n + 1)])
    return out


_EDGE_COLOURS = ["#1f4e9e", "#b23a12", "#2e7d32", "#6a1b9a", "#00838f", "#8d6e00"]


def _weight_label(w: Value, fallback: str, show_grad: bool, digits: int) -> str:
    text = f"{w.label or fallback} = {_num(w.data, digits)}"
    if show_grad:
        text += f"\ngrad {_num(w.grad, digits)}"
    return text


def draw_network(
    mlp: Any,
    inputs: Iterable[float] | None = None,
    *,
    show_grad: bool = False,
    precision: int = 4,
    rankdir: str = "LR",
) -> graphviz.Digraph:
    """A neuron-level picture of ``mlp``, like the figure in Mazur's post: inputs, neurons
    and outputs are nodes, and there is one edge per weight, labelled with the weight (its
    label, else ``w[layer][to][from]``) and its value — with ``show_grad``, its gradient too.
    A bias is a node of its own with an edge to each neuron that uses it (one node for a
    bias shared by a layer, as in the post). With ``inputs``, every neuron shows its
    activation for them.

    Example:
        >>> from autograd_bp.textbook.worked import build_network
        >>> net, _ = build_network()
        >>> g = draw_network(net, [0.05, 0.10])
        >>> g.source.count(" -> "), "w5 = 0.4" in g.source, "out 0.5933" in g.source
        (12, True, True)
    """
    _Options(rankdir=rankdir, precision=precision).check()
    sizes = [len(layer.neurons) for layer in mlp.layers]
    names_ = _neuron_names(sizes)
    values = list(inputs) if inputs is not None else None
    if values is not None and len(values) != mlp.nin:
        raise ValueError(f"draw_network: the network takes {mlp.nin} inputs, got {len(values)}")
    g = graphviz.Digraph(name="network", graph_attr={"rankdir": rankdir, "fontname": FONT,
                         "nodesep": "0.9", "ranksep": "2.6", "splines": "line",
                         "ordering": "out"})  # fmt: skip
    g.attr("node", fontname=FONT, fontsize="14")
    g.attr("edge", fontname=FONT, fontsize="12")
    prev = [f"i{k}" for k in range(1, mlp.nin + 1)]
    with g.subgraph(name="inputs") as sub:
        sub.attr(rank="same")
        for k, node in enumerate(prev):
            text = node if values is None else f"{node}\n{_num(values[k], precision)}"
            sub.node(node, label=text, shape="box", style="filled", fillcolor=COLORS["input"],
                     id=node, **{"class": "input"})  # fmt: skip
    activations = [Value(v) for v in values] if values is not None else None
    for i, layer in enumerate(mlp.layers):
        activations = _draw_layer(g, i, layer, names_[i], prev, activations, show_grad,
                                  precision)  # fmt: skip
        prev = names_[i]
    return g


def _draw_layer(g: graphviz.Digraph, i: int, layer: Any, names_: list[str], prev: list[str],
                activations: list[Value] | None, show_grad: bool,
                digits: int) -> list[Value] | None:  # fmt: skip
    """Layer ``i``'s neurons, their bias nodes, and one labelled edge per weight."""
    outs: list[Value] = []
    biases: dict[Value, str] = {}
    kind = "output" if names_[0].startswith("o") else "computed"
    with g.subgraph(name=f"layer{i + 1}") as sub:
        sub.attr(rank="same")
        for neuron, name in zip(layer.neurons, names_):
            text = name
            if activations is not None:
                out = neuron.forward(activations)
                outs.append(out)
                text += f"\nout {_num(out.data, digits)}"
            sub.node(name, label=text, shape="circle", style="filled", id=name,
                     fillcolor=COLORS[kind] if kind == "output" else "white",
                     **{"class": f"neuron {kind}"})  # fmt: skip
    for j, (neuron, name) in enumerate(zip(layer.neurons, names_)):
        for k, (w, src) in enumerate(zip(neuron.w, prev)):
            label = _weight_label(w, f"w[{i + 1}][{j + 1}][{k + 1}]", show_grad, digits)
            # near the tail, where edges from one node have not crossed others yet (as in
            # Mazur's figure); the colour ties the label to its edge
            colour = _EDGE_COLOURS[(j * len(neuron.w) + k) % len(_EDGE_COLOURS)]
            g.edge(src, name, taillabel=label, labeldistance=str(4 + 4 * (j % 2)), labelangle="10",
                   color=colour, fontcolor=colour, id=f"{src}->{name}",
                   **{"class": "weight"})  # fmt: skip
        if neuron.b is not None:
            if neuron.b not in biases:
                biases[neuron.b] = bid = f"b_{i + 1}_{j + 1}"
                text = _weight_label(neuron.b, f"b[{i + 1}][{j + 1}]", show_grad, digits)
                g.node(bid, label=text, shape="box", style="filled,rounded", id=bid,
                       fillcolor=COLORS["parameter"], **{"class": "bias"})  # fmt: skip
            g.edge(biases[neuron.b], name, style="dashed", id=f"{biases[neuron.b]}->{name}",
                   **{"class": "bias"})  # fmt: skip
    return outs if activations is not None else None


def render_network(
    mlp: Any, path: str | os.PathLike[str], inputs: Iterable[float] | None = None,
    format: str | None = None, **options: Any,
) -> Path:  # fmt: skip
    """:func:`draw_network` written to ``path`` (SVG, PNG or PDF by extension), atomically.

    Example:
        >>> import tempfile, pathlib
        >>> from autograd_bp.textbook.worked import build_network
        >>> out = render_network(build_network()[0], pathlib.Path(tempfile.mkdtemp()) / "n.svg")
        >>> out.read_text().count('class="edge weight"')
        8
    """
    target = Path(path)
    fmt = (format or target.suffix.lstrip(".")).lower()
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"render_network: format must be svg, png or pdf, got {fmt or 'none'!r}")
    graph = draw_network(mlp, inputs, **options)
    try:
        data = pipe(graph, fmt)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFound(_INSTALL_HINT) from None
    return _write_bytes(target, data)
