"""The computation graph drawn with Graphviz: :func:`draw_dot` (the DOT text) and
:func:`render` (the picture, within the bounds of :mod:`autograd_bp.show.graphviz_bounds`).

Each Value is a record node ``label | data | grad`` (Nielsen's names set as in the book:
``w2_1_1`` reads w²₁₁); each op is its own small node between its operands and its result
(micrograd's look); numbers in significant digits. Colours
(shown in a legend): the output is gold, parameters light blue, inputs and constants grey,
everything computed white; highlighted paths red; in the step-through, final gradients
pale green (:mod:`autograd_bp.show.steps`). :mod:`autograd_bp.show.network` draws the
neuron-level picture of an MLP instead.

Example:
    >>> from autograd_bp import Value
    >>> x = Value(2.0, label="x"); y = (x * 3).tanh(); y.label = "y"
    >>> g = draw_dot(y)
    >>> g.source.count("shape=record")
    3
"""

from __future__ import annotations

import html
import operator
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz

from .._io import atomic_write_text, read_file_head
from ..core.engine import Value, backward_order
from ..core.graph import names, reaching
from ..core.ops import RULES
from ..locale import _
from .graphviz_bounds import DOT_TIMEOUT, check_drawable, check_timeout, run_dot, write_picture
from .paths import pretty_name

__all__ = ["COLORS", "FINAL", "HIGHLIGHT", "RENDER_LIMIT", "StepStyle", "check_options",
           "draw_dot", "pipe", "render", "significant"]  # fmt: skip

COLORS = {"output": "gold", "parameter": "lightblue", "input": "lightgrey", "computed": "white"}
HIGHLIGHT = "red"
FINAL = "palegreen"
FONT = "Helvetica,Arial,sans-serif"
# How an op node reads; everything else shows its rule's symbol. The bias of a neuron is
# the last operand of its dot node, paired with the number 1: Σ shows it as "+ b".
_OP_LABELS = {"dot": "Σ wᵢxᵢ + b", "sum": "Σ", "mul": "×", "sub": "−", "div": "÷", "pow": "^",
              "neg": "−", "sigmoid": "σ"}  # fmt: skip


def significant(x: float, digits: int) -> str:
    """``x`` to ``digits`` significant digits — the diagrams' and the step page's format.

    Example:
        >>> significant(0.000438568, 4)
        '0.0004386'
    """
    return f"{x:.{digits}g}"


def _record_text(s: str) -> str:
    # characters with a meaning inside a record label
    for ch in '\\{}|<>"':
        s = s.replace(ch, "\\" + ch)
    return s


@dataclass
class StepStyle:
    """Per-render overrides used by the step-through (:mod:`autograd_bp.show.steps`): the
    gradients so far, the nodes whose gradient is final, the edge just used."""

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


def check_options(rankdir: str, precision: Any) -> int:
    """Validate the options every drawing shares; the precision as an int.

    Example:
        >>> check_options("TB", 3)
        3
    """
    opts = _Options(rankdir=rankdir, precision=precision)
    opts.check()
    return opts.precision


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

    def __init__(self, root: Value, opts: _Options, style: StepStyle) -> None:
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
        fields = [_record_text(pretty_name(self.label[node]))]  # Nielsen's w2_1_1 as w²₁₁
        if opts.show_order:
            fields[0] = f"#{self.index[node] + 1} " + fields[0]
        fields.append(f"data {significant(node.data, digits)}")
        if opts.show_grad:
            g = style.grads.get(node, 0.0) if style.grads is not None else node.grad
            fields.append(f"grad {significant(g, digits)}")
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
                attrs.update(label=significant(local, self.opts.precision), decorate="true")
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
    _style: StepStyle | None = None,
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
    return _Drawing(root, opts, _style or StepStyle()).build()


# Kept for old callers: the size guard now counts edges and their reach as well
# (graphviz_bounds.DRAW_LIMIT); a chain of this many nodes is far above it.
RENDER_LIMIT = 2000
_GV_MARK = "// written by autograd_bp.show.viz.render\n"


def pipe(dot: graphviz.Digraph, fmt: str, *, timeout: float = DOT_TIMEOUT) -> bytes:
    """``dot`` rendered by Graphviz into ``fmt`` bytes (svg, png, pdf) within ``timeout``
    seconds (:func:`~autograd_bp.show.graphviz_bounds.run_dot`); :class:`GraphvizNotFound`
    when the ``dot`` program is missing.

    Example:
        >>> from autograd_bp import Value
        >>> pipe(draw_dot(Value(1.0, label="x") * 2), "svg").startswith(b"<?xml")
        True
    """
    return run_dot(dot.source, fmt, timeout=timeout)


def _source_path(target: Path) -> Path:
    """Where the DOT source goes: ``<name>.gv`` beside the picture — never over a .gv file
    that render did not write."""
    source = target.with_suffix(".gv")
    if source.exists() or source.is_symlink():
        # read_file_head refuses a FIFO or device without blocking (open() would wait)
        head = read_file_head(source, len(_GV_MARK.encode()))
        if head != _GV_MARK.encode():
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
    dot_timeout: float = DOT_TIMEOUT,
    **draw_options: Any,
) -> Path:
    """Render the graph to ``path`` (SVG, PNG or PDF, from the extension unless ``format``).

    The DOT source is written next to it as ``<name>.gv`` too (never over a ``.gv`` file
    render did not write). Both writes are atomic. A graph too large to lay out
    (:func:`~autograd_bp.show.graphviz_bounds.check_drawable`) is refused before ``dot`` runs
    and says which ``max_nodes`` (see :func:`draw_dot`) fits; ``dot`` running longer than
    ``dot_timeout`` seconds is stopped (:class:`GraphvizTimeout`). Without Graphviz's ``dot``
    binary this raises :class:`GraphvizNotFound` after writing the ``.gv`` file.

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
        raise ValueError(_("{function}: format must be svg, png or pdf, got {format}").format(
            function="render", format=repr(fmt or "none")))  # fmt: skip
    check_timeout(dot_timeout)
    check_drawable(root, "render", max_nodes=max_nodes)
    source = _source_path(target)
    dot = draw_dot(root, max_nodes=max_nodes, **draw_options)
    atomic_write_text(source, _GV_MARK + dot.source)
    return write_picture(target, dot.source, fmt, timeout=dot_timeout,
                         note=lambda e: f"{e}. The DOT source was written to {source}")
