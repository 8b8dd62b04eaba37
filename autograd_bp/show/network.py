"""The neuron-level picture of an MLP (:func:`draw_network`), as in Matt Mazur's figure:
inputs, neurons and outputs are nodes, one labelled edge per weight.

Example:
    >>> from autograd_bp.textbook.worked import build_network
    >>> draw_network(build_network()[0]).source.count(" -> ")
    12
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import graphviz

from ..core.engine import Value
from ..locale import _
from .diagrams import COLORS, FONT, check_options, significant
from .graphviz_bounds import DOT_TIMEOUT, DRAW_LIMIT, DrawingTooLarge, LayoutSize, write_picture
from .paths import nielsen_parts, nielsen_symbol, pretty_name

__all__ = ["draw_network", "render_network"]


def _neuron_names(sizes: list[int]) -> list[list[str]]:
    """The node ids, Mazur's names: h1, h2 … for a single hidden layer, h1_1 … for several;
    o1, o2 … out."""
    hidden = len(sizes) - 1
    out = []
    for i, n in enumerate(sizes):
        if i == hidden:
            out.append([f"o{j}" for j in range(1, n + 1)])
        else:
            prefix = "h" if hidden == 1 else f"h{i + 1}_"
            out.append([f"{prefix}{j}" for j in range(1, n + 1)])
    return out


_SUBSCRIPT_DIGITS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_EDGE_COLOURS = ["#1f4e9e", "#b23a12", "#2e7d32", "#6a1b9a", "#00838f", "#8d6e00"]


def _in_nielsens_names(mlp: Any) -> bool:
    """Whether the network is named as Nielsen names it (an MLP's own labels, w2_1_1 …),
    rather than by hand (Mazur's w1..w8): then its nodes are x₁ … and a²₁ … too."""
    return all(nielsen_parts(w.label) is not None or not w.label
               for layer in mlp.layers for n in layer.neurons for w in n.w)  # fmt: skip


def _weight_label(w: Value, fallback: str, show_grad: bool, digits: int) -> str:
    # Nielsen's w2_1_1 reads w²₁₁; an unlabelled parameter is named by its place
    text = f"{pretty_name(w.label) or fallback} = {significant(w.data, digits)}"
    if show_grad:
        text += f"\ngrad {significant(w.grad, digits)}"
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
    and outputs are nodes, and there is one edge per weight, labelled with the weight and its
    value — with ``show_grad``, its gradient too. A network without hand labels is drawn in
    Nielsen's names (an MLP's own: inputs x₁ …, neuron j of layer l a^l_j, weights w²₁₁ …);
    a hand-labelled one (Mazur's w1..w8) in its labels, with nodes i1, h1, o1 ….
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
    precision = check_options(rankdir, precision)
    sizes = [len(layer.neurons) for layer in mlp.layers]
    names_ = _neuron_names(sizes)
    nielsen = _in_nielsens_names(mlp)
    values = list(inputs) if inputs is not None else None
    if values is not None and len(values) != mlp.nin:
        raise ValueError(f"draw_network: the network takes {mlp.nin} inputs, got {len(values)}")
    g = graphviz.Digraph(name="network", graph_attr={"rankdir": rankdir, "fontname": FONT,
                         "nodesep": "0.9", "ranksep": "2.6", "splines": "line",
                         "ordering": "out", "forcelabels": "true"})  # fmt: skip
    g.attr("node", fontname=FONT, fontsize="14")
    g.attr("edge", fontname=FONT, fontsize="12")
    prev = [f"i{k}" for k in range(1, mlp.nin + 1)]
    with g.subgraph(name="inputs") as sub:
        sub.attr(rank="same")
        for k, node in enumerate(prev):
            text = "x" + str(k + 1).translate(_SUBSCRIPT_DIGITS) if nielsen else node  # a¹ₖ = xₖ
            if values is not None:
                text += f"\n{significant(values[k], precision)}"
            sub.node(node, label=text, shape="box", style="filled", fillcolor=COLORS["input"],
                     id=node, **{"class": "input"})  # fmt: skip
    activations = [Value(v) for v in values] if values is not None else None
    for i, layer in enumerate(mlp.layers):
        activations = _draw_layer(g, i, layer, names_[i], prev, activations, show_grad,
                                  precision, nielsen)  # fmt: skip
        prev = names_[i]
    return g


def _draw_layer(g: graphviz.Digraph, i: int, layer: Any, names_: list[str], prev: list[str],
                activations: list[Value] | None, show_grad: bool,
                digits: int, nielsen: bool) -> list[Value] | None:  # fmt: skip
    """Layer ``i``'s neurons (Nielsen's layer i + 2), their bias nodes, and one labelled
    edge per weight."""
    outs: list[Value] = []
    biases: dict[Value, str] = {}
    kind = "output" if names_[0].startswith("o") else "computed"
    with g.subgraph(name=f"layer{i + 1}") as sub:
        sub.attr(rank="same")
        for j, (neuron, name) in enumerate(zip(layer.neurons, names_)):
            text = nielsen_symbol("a", i + 2, j + 1) if nielsen else name
            if activations is not None:
                out = neuron.forward(activations)
                outs.append(out)
                text += f"\n{'' if nielsen else 'out '}{significant(out.data, digits)}"
            sub.node(name, label=text, shape="circle", style="filled", id=name,
                     fillcolor=COLORS[kind] if kind == "output" else "white",
                     **{"class": f"neuron {kind}"})  # fmt: skip
    for j, (neuron, name) in enumerate(zip(layer.neurons, names_)):
        for k, (w, src) in enumerate(zip(neuron.w, prev)):
            label = _weight_label(w, nielsen_symbol("w", i + 2, j + 1, k + 1), show_grad, digits)
            # An xlabel: Graphviz places it after the layout, beside its edge where it
            # overlaps no other label (tail labels at fixed distances collided where a
            # layer's edges fan out and cross, w²₃₁ over w²₂₁); the colour ties it to its edge.
            colour = _EDGE_COLOURS[(j * len(neuron.w) + k) % len(_EDGE_COLOURS)]
            g.edge(src, name, xlabel=label, color=colour, fontcolor=colour, id=f"{src}->{name}",
                   **{"class": "weight"})  # fmt: skip
        if neuron.b is not None:
            if neuron.b not in biases:
                biases[neuron.b] = bid = f"b_{i + 1}_{j + 1}"
                shared = len(layer.neurons) > 1 and all(n.b is neuron.b for n in layer.neurons)
                place = nielsen_symbol("b", i + 2, *([] if shared else [j + 1]))  # b² or b²₁
                text = _weight_label(neuron.b, place, show_grad, digits)
                g.node(bid, label=text, shape="box", style="filled,rounded", id=bid,
                       fillcolor=COLORS["parameter"], **{"class": "bias"})  # fmt: skip
            g.edge(biases[neuron.b], name, style="dashed", id=f"{biases[neuron.b]}->{name}",
                   **{"class": "bias"})  # fmt: skip
    return outs if activations is not None else None


def render_network(
    mlp: Any, path: str | os.PathLike[str], inputs: Iterable[float] | None = None,
    format: str | None = None, *, dot_timeout: float = DOT_TIMEOUT, **options: Any,
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
        raise ValueError(_("{function}: format must be svg, png or pdf, got {format}").format(
            function="render_network", format=repr(fmt or "none")))  # fmt: skip
    _check_network_size(mlp)
    return write_picture(target, draw_network(mlp, inputs, **options).source, fmt,
                         timeout=dot_timeout)


def _check_network_size(mlp: Any) -> None:
    """Refuse a figure too large to lay out: a node per input, neuron and bias, an edge per
    weight and per bias use (layers sit on neighbouring ranks: no edge reaches further)."""
    layers = [layer.neurons for layer in mlp.layers]
    neurons = sum(len(ns) for ns in layers)
    biases = len({n.b for ns in layers for n in ns if n.b is not None})
    weights = sum(len(n.w) for ns in layers for n in ns)
    uses = sum(n.b is not None for ns in layers for n in ns)
    size = LayoutSize(mlp.nin + neurons + biases, weights + uses, 0)
    if size.total > DRAW_LIMIT:
        raise DrawingTooLarge(f"render_network: the network is too large to draw ({size.text()}, "
                              f"more than {DRAW_LIMIT}); draw a smaller network")  # fmt: skip
