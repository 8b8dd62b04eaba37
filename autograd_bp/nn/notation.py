"""Nielsen's names for the quantities of a fully connected network: the one place they are made.

Chapter 2 of Michael Nielsen's "Neural Networks and Deep Learning"
(http://neuralnetworksanddeeplearning.com/chap2.html) counts layers from 1 = the inputs and
writes w^l_jk for the weight to neuron j of layer l from neuron k of layer l − 1; b^l_j,
z^l_j, a^l_j and δ^l_j belong to neuron j of layer l; every index counts from 1. In plain
text — what ``autograd-bp check --sizes`` binds and a learner types — they are ``w2_1_2``,
``b2_1`` (``b2`` for one bias a whole layer shares), ``z2_1``, ``a2_1`` and ``delta2_1``.
An :class:`~autograd_bp.nn.modules.MLP` labels its unlabelled parameters with these names
(:func:`parameter_names`); its ``state_dict`` keys stay PyTorch's dotted ones. The nodes of
one forward pass are named on request (:func:`label_pass`): a pass is one example of many,
and two nodes called ``z2_1`` in one graph would be two quantities under one name. Diagrams and
LaTeX set them as w²₁₂ and ``w^{2}_{12}`` (:func:`autograd_bp.show.paths.pretty_name`).

Example:
    >>> nielsen_name("w", 2, 1, 2), nielsen_name("b", 3), nielsen_name("delta", 2, 1)
    ('w2_1_2', 'b3', 'delta2_1')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.engine import Value, backward_order

__all__ = ["KINDS", "label_pass", "nielsen_name", "parameter_names"]

KINDS = ("w", "b", "z", "a", "delta")


def _index(x: Any, what: str, low: int) -> int:
    if isinstance(x, bool) or not isinstance(x, int) or x < low:
        raise ValueError(f"nielsen_name: {what} must be an integer >= {low}, got {x!r}")
    return x


def nielsen_name(kind: str, layer: int, j: int | None = None, k: int | None = None) -> str:
    """The plain-text name of w^layer_jk (``kind`` ``"w"``), b^layer_j (``"b"``; without
    ``j``, the bias the whole layer shares), z^layer_j, a^layer_j or δ^layer_j
    (``"delta"``). ``layer`` counts from 1 = the inputs; ``j`` and ``k`` from 1.

    Example:
        >>> nielsen_name("z", 2, 3), nielsen_name("a", 1, 2)
        ('z2_3', 'a1_2')
    """
    if kind not in KINDS:
        raise ValueError(f"nielsen_name: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    _index(layer, "layer", 2 if kind in ("w", "b", "z", "delta") else 1)
    if kind == "b" and j is None:
        return f"b{layer}"
    _index(j, "j (the neuron in the layer)", 1)
    if kind != "w":
        if k is not None:
            raise ValueError(f"nielsen_name: {kind} has one neuron index j, not j and k")
        return f"{kind}{layer}_{j}"
    return f"{kind}{layer}_{j}_{_index(k, 'k (the neuron in the layer below)', 1)}"


def parameter_names(layers: Sequence[Any]) -> list[tuple[str, Value]]:
    """Each parameter of a stack of layers (each with ``.neurons``, each neuron with ``.w``
    and ``.b``) with its Nielsen name, in reading order; the first layer is layer 2. A
    parameter used twice is listed once, at its first use; a bias every neuron of a layer
    shares (Mazur's b1 and b2) is that layer's ``b2``, ``b3``, ….

    Example:
        >>> from autograd_bp.nn import MLP
        >>> [n for n, _ in parameter_names(MLP(2, [1], seed=0).layers)]
        ['w2_1_1', 'w2_1_2', 'b2_1']
    """
    out: list[tuple[str, Value]] = []
    seen: set[int] = set()
    for layer_number, layer in enumerate(layers, 2):
        neurons = layer.neurons
        biases = [n.b for n in neurons]
        shared = len(neurons) > 1 and biases[0] is not None and all(b is biases[0] for b in biases)
        for j, neuron in enumerate(neurons, 1):
            named = [(nielsen_name("w", layer_number, j, k), w) for k, w in enumerate(neuron.w, 1)]
            if neuron.b is not None:
                named.append((nielsen_name("b", layer_number, None if shared else j), neuron.b))
            for name, p in named:
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append((name, p))
    return out


def label_pass(layers: Sequence[Any], root: Value) -> dict[str, Value]:
    """Name the weighted inputs and activations of the forward pass below ``root`` as
    Nielsen does — each neuron's z ``z2_1`` and a ``a2_1`` — so explanations and diagrams
    read ∂C/∂a3_1 · ∂a3_1/∂z3_1 · …; returns them by name. A node with a label keeps it;
    a neuron whose z occurs more than once below ``root`` (a loss over several examples) is
    left unnamed, since one name would stand for several quantities. With a linear
    activation a *is* z and keeps the z name.

    Example:
        >>> from autograd_bp.nn import MLP
        >>> net = MLP(2, [2, 1], activation="tanh", seed=0)
        >>> y = net([0.5, -1.0])
        >>> sorted(label_pass(net.layers, (y - 0.25) ** 2)), y.label
        (['a2_1', 'a2_2', 'z2_1', 'z2_2', 'z3_1'], 'z3_1')
    """
    order = backward_order(root)
    neurons = {(i, j): n for i, layer in enumerate(layers, 2)
               for j, n in enumerate(layer.neurons, 1)}  # fmt: skip
    first = {n.w[0]: place for place, n in neurons.items() if n.w}
    zs: dict[tuple[int, int], list[Value]] = {}
    consumers: dict[Value, list[Value]] = {}
    for node in order:
        for p in node.parents:
            consumers.setdefault(p, []).append(node)
        if node.op == "dot" and node.parents and node.parents[0] in first:
            zs.setdefault(first[node.parents[0]], []).append(node)
    named: dict[str, Value] = {}
    for (i, j), found in zs.items():
        if len(found) != 1:
            continue
        z = found[0]
        z.label = z.label or nielsen_name("z", i, j)
        named[z.label] = z
        # a = act(z): the node the neuron's activation made from z (none when it is linear;
        # Value.tanh makes an op "tanh"), not the loss's z − y under a linear output
        op = getattr(neurons[i, j].activation, "__name__", None)
        acts = [c for c in consumers.get(z, []) if c.op == op and len(c.parents) == 1]
        if len(acts) == 1:
            acts[0].label = acts[0].label or nielsen_name("a", i, j)
            named[acts[0].label] = acts[0]
    return named
