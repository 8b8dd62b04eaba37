"""Any fully connected worked example (an :class:`~.example_file.Example`), computed the way
:mod:`.worked` computes Mazur's: the forward pass with every node named, each weight's
gradient as a chain of named factors, Nielsen's BP1–BP4 checked against the engine, one
update and training under either schedule, and the figures a source printed compared.

Names: ``"nielsen"`` labels w^l_jk as ``w2_1_1``, b^l_j as ``b2_1`` (``b2`` when shared by a
layer), z^l_j ``z2_1``, a^l_j ``a2_1``, δ^l_j ``delta2_1`` (layer 1 = the inputs x1, x2, …;
made by :func:`~autograd_bp.nn.notation.nielsen_name`, as an MLP's own labels are);
``"mazur"`` uses the post's i1 i2, net_h1/out_h1, net_o1/out_o1, w1..w8, b1 b2.

Example:
    >>> from autograd_bp.textbook.example_file import parse_example
    >>> from autograd_bp.textbook.example_file import EXAMPLES
    >>> ex = parse_example((EXAMPLES / "mazur.toml").read_text())
    >>> r = compute_example(ex)
    >>> round(r["gradients.w5"], 9), round(r["error.E_total"], 9)
    (0.082167041, 0.298371109)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..core.engine import Value, grad, sum_values
from ..nn.modules import MLP
from ..nn.notation import nielsen_name
from .example_file import SCHEDULES, Example
from .worked import trainable

__all__ = ["Names", "Run", "build", "compute_example", "names_for", "run_forward", "step"]


@dataclass(frozen=True)
class Names:
    """The labels of one example's quantities (``style`` is ``"nielsen"`` or ``"mazur"``);
    the layer index i of every method counts from 0 = the first layer after the inputs.

    Example:
        >>> n = Names("nielsen")
        >>> n.weight(1, 0, 2, (2, 3, 1)), n.z(0, 1, False), n.delta(1, 0, True)
        ('w3_1_3', 'z2_2', 'delta3_1')
        >>> m = Names("mazur")
        >>> m.weight(1, 0, 0, (2, 2, 2)), m.a(0, 1, False), m.bias(1, None)
        ('w5', 'out_h2', 'b2')
    """

    style: str

    def weight(self, i: int, j: int, k: int, sizes: tuple[int, ...]) -> str:
        """The weight to neuron j of layer i from neuron k of the layer below."""
        if self.style == "mazur":
            before = sum(a * b for a, b in zip(sizes[:i], sizes[1 : i + 1]))
            return f"w{before + j * sizes[i] + k + 1}"
        return nielsen_name("w", i + 2, j + 1, k + 1)

    def bias(self, i: int, j: int | None) -> str:
        """The bias of neuron j of layer i (j None: the one the layer shares)."""
        if self.style == "mazur":
            return f"b{i + 1}"
        return nielsen_name("b", i + 2, None if j is None else j + 1)

    def _unit(self, i: int, j: int, last: bool) -> str:
        return f"{'o' if last else 'h'}{j + 1}"

    def z(self, i: int, j: int, last: bool) -> str:
        """The weighted input of neuron j of layer i (``last``: the output layer)."""
        if self.style == "mazur":
            return f"net_{self._unit(i, j, last)}"
        return nielsen_name("z", i + 2, j + 1)

    def a(self, i: int, j: int, last: bool) -> str:
        """The activation of neuron j of layer i."""
        if self.style == "mazur":
            return f"out_{self._unit(i, j, last)}"
        return nielsen_name("a", i + 2, j + 1)

    def delta(self, i: int, j: int, last: bool) -> str:
        """δ = ∂E/∂z of neuron j of layer i."""
        if self.style == "mazur":
            return f"delta_{self._unit(i, j, last)}"
        return nielsen_name("delta", i + 2, j + 1)

    def input(self, k: int) -> str:
        """The k-th input."""
        return f"i{k + 1}" if self.style == "mazur" else f"x{k + 1}"

    def error(self, j: int) -> str:
        """The error term of output j."""
        return f"E_o{j + 1}" if self.style == "mazur" else f"E_{j + 1}"


def names_for(ex: Example) -> Names:
    """The :class:`Names` of ``ex`` (its ``names`` key)."""
    return Names(ex.names)


def build(ex: Example) -> tuple[MLP, dict[str, Value]]:
    """The example as an ordinary :class:`MLP` with its parameters labelled (shared bias
    Values for ``bias = "per-layer"``), and the parameters by name in reading order."""
    names, sizes = names_for(ex), ex.sizes
    params: dict[str, Value] = {}
    weights, biases = [], []
    for i, rows in enumerate(ex.weights):
        layer_w = []
        for j, row in enumerate(rows):
            labels = [names.weight(i, j, k, sizes) for k in range(len(row))]
            layer_w.append([params.setdefault(n, Value(v, label=n)) for n, v in zip(labels, row)])
        weights.append(layer_w)
    for i, bs in enumerate(ex.biases):
        if ex.bias == "per-layer":
            shared = Value(bs[0], label=names.bias(i, None))
            params[shared.label] = shared
            biases.append([shared] * sizes[i + 1])
        else:
            vs = [Value(b, label=names.bias(i, j)) for j, b in enumerate(bs)]
            params.update((v.label, v) for v in vs)
            biases.append(vs)
    net = MLP(sizes[0], list(sizes[1:]), activation=list(ex.activations), weights=weights,
              biases=biases)  # fmt: skip
    for name, v in params.items():
        v.label = name  # MLP relabels unnamed parameters; these have names
    return net, params


@dataclass
class Run:
    """One forward pass: every named node, the z and a nodes per layer, the cost."""

    nodes: dict[str, Value]
    x: list[Value]
    z: list[list[Value]]
    a: list[list[Value]]
    cost: Value

    def __getitem__(self, name: str) -> Value:
        return self.nodes[name]


def _error_term(a: Value, y: float, loss: str, n: int) -> Value:
    if loss == "half_sse":
        return (a - y) ** 2 * 0.5
    if loss == "mse":
        return (a - y) ** 2 * (1.0 / n)
    if not 0.0 < a.data < 1.0:
        raise ValueError(f"cross_entropy: output {a.data!r} is not inside (0, 1); log undefined")
    return -(a.log() * y + (1.0 - a).log() * (1.0 - y))  # Nielsen's eq. (63), one output


def run_forward(net: MLP, ex: Example) -> Run:
    """The forward pass of ``net`` on the example's data, nodes labelled by its names."""
    names, last = names_for(ex), len(net.layers) - 1
    nodes: dict[str, Value] = {}
    x = [Value(v, label=names.input(k)) for k, v in enumerate(ex.inputs)]
    zs, as_, below = [], [], x
    for i, layer in enumerate(net.layers):
        z_l = [n.net(below) for n in layer.neurons]
        a_l = [n.activation(z) for n, z in zip(layer.neurons, z_l)]
        for j, (z, a) in enumerate(zip(z_l, a_l)):
            nodes[names.z(i, j, i == last)] = z
            nodes[names.a(i, j, i == last)] = a
        zs.append(z_l)
        as_.append(a_l)
        below = a_l
    terms = [_error_term(a, y, ex.loss, len(below)) for a, y in zip(below, ex.targets)]
    for j, e in enumerate(terms):
        nodes[names.error(j)] = e
    cost = sum_values(terms) if len(terms) > 1 else terms[0] * 1.0
    nodes["E_total"] = cost
    for name, node in nodes.items():
        node.label = name
    for i in range(len(zs)):  # an identity activation leaves a = z: keep the z name on it
        for j, z in enumerate(zs[i]):
            z.label = names.z(i, j, i == last)
    for v in x:
        nodes[v.label] = v
    return Run(nodes, x, zs, as_, cost)


def _sequential_descent(net: MLP, run: Run, layers: list[list[Value]], lr: float) -> None:
    """Below the (already moved) top layer, layer by layer downward: δ through the
    already-updated weights above (the forward activations stay those of this pass), the
    layer's gradients by BP3/BP4, then the layer moves before the next one down."""
    deltas = [z.grad for z in run.z[-1]]
    for i in range(len(net.layers) - 2, -1, -1):
        above = net.layers[i + 1].neurons
        back = [sum(n.w[k].data * d for n, d in zip(above, deltas)) for k in range(len(run.a[i]))]
        deltas = [b * a.local_grads[0] if a is not z else b
                  for b, a, z in zip(back, run.a[i], run.z[i])]  # fmt: skip
        below = run.a[i - 1] if i > 0 else run.x
        layer = net.layers[i]
        for v in layer.parameters():
            v.grad = 0.0
        for n, d in zip(layer.neurons, deltas):
            for k, w in enumerate(n.w):
                w.grad += d * below[k].data
            if n.b is not None:
                n.b.grad += d
        _descend(layers[i], lr)


def _descend(params: list[Value], lr: float) -> None:
    for p in params:
        p.data -= lr * p.grad


def step(net: MLP, ex: Example, schedule: str) -> None:
    """One gradient-descent update of ``net`` under ``schedule`` (see :mod:`.worked`)."""
    layers = trainable(net, ex.update_biases)
    net.zero_grad()
    run = run_forward(net, ex)
    run.cost.backward()
    if schedule == "simultaneous":
        for ps in layers:
            _descend(ps, ex.lr)
        return
    _descend(layers[-1], ex.lr)
    _sequential_descent(net, run, layers, ex.lr)


def compute_example(ex: Example, schedule: str | None = None) -> dict[str, Any]:
    """Every figure of the example by dotted name (the ``demo --json`` ``results``)."""
    schedule = schedule or ex.schedule
    r: dict[str, Any] = {"settings.lr": ex.lr, "settings.iterations": ex.iterations,
                         "settings.schedule": schedule, "settings.loss": ex.loss,
                         "settings.update_biases": ex.update_biases}  # fmt: skip
    net, params = build(ex)
    run = run_forward(net, ex)
    run.cost.backward()
    names, last = names_for(ex), len(net.layers) - 1
    for i in range(len(run.z)):
        for j in range(len(run.z[i])):
            for name in (names.z(i, j, i == last), names.a(i, j, i == last)):
                r[f"forward.{name}"] = run[name].data
    for j in range(ex.sizes[-1]):
        r[f"error.{names.error(j)}"] = run[names.error(j)].data
    r["error.E_total"] = run.cost.data
    for i in range(len(run.z)):
        for j, z in enumerate(run.z[i]):
            r[f"delta.{names.delta(i, j, i == last)}"] = z.grad
    for name, v in params.items():
        r[f"gradients.{name}"] = v.grad
    r.update(_chains(net, run, ex))
    for sched in SCHEDULES:
        once, _ = build(ex)
        step(once, ex, sched)
        for name, v in _by_name(once, params).items():
            r[f"updated.{sched}.{name}"] = v.data
        r[f"after_one_update.{sched}.E"] = run_forward(once, ex).cost.data
        trained, _ = build(ex)
        for _ in range(ex.iterations):
            step(trained, ex, sched)
        final = run_forward(trained, ex)
        r[f"after_training.{sched}.E"] = final.cost.data
        r[f"after_training.{sched}.outputs"] = [a.data for a in final.a[-1]]
    for key in list(r):
        for group in ("updated.", "after_one_update.", "after_training."):
            if key.startswith(f"{group}{schedule}."):
                r[group + key[len(group + schedule) + 1 :]] = r[key]
    return r


def _by_name(net: MLP, params: dict[str, Value]) -> dict[str, Value]:
    by_label = {v.label: v for v in net.parameters()}
    return {name: by_label[name] for name in params}


def _per_error_term(run: Run, ex: Example) -> list[tuple[str, dict[Value, float]]]:
    """Per error term E_j (the name, then ∂E_j/∂a for every hidden activation a): what
    backward adds up at a hidden neuron, one contribution per output (Mazur's ∂E_o1/∂out_h1)."""
    hidden = [a for layer in run.a[:-1] for a in layer]
    names = names_for(ex)
    out = []
    for j in range(len(run.a[-1])):
        name = names.error(j)
        out.append((name, dict(zip(hidden, grad(run[name], hidden)))))
    return out


def _chains(net: MLP, run: Run, ex: Example) -> dict[str, float]:
    """Per weight w^l_jk: ∂E/∂a^l_j · ∂a^l_j/∂z^l_j · ∂z^l_j/∂w^l_jk, the three factors, and
    below the output layer ∂E_i/∂a^l_j per error term E_i (the terms of ∂E/∂a^l_j); per edge
    between layers, ∂z^l_j/∂a^(l−1)_k (= w^l_jk), the factor backward crosses."""
    names, last, out = names_for(ex), len(net.layers) - 1, {}
    terms = _per_error_term(run, ex)
    for i, layer in enumerate(net.layers):
        for j, neuron in enumerate(layer.neurons):
            z, a = run.z[i][j], run.a[i][j]
            zn, an = names.z(i, j, i == last), names.a(i, j, i == last)
            da_dz = 1.0 if a is z else a.local_grads[0]
            local = dict(zip(z.parents, z.local_grads))
            for w in neuron.w:
                key = f"chain.{w.label}"
                out[f"{key}.dE_d{an}"] = a.grad
                for error, by_a in terms if i < last else []:
                    out[f"{key}.d{error}_d{an}"] = by_a[a]
                out[f"{key}.d{an}_d{zn}"] = da_dz
                out[f"{key}.d{zn}_d{w.label}"] = local[w]
                out[f"{key}.product"] = a.grad * da_dz * local[w]
                if not math.isfinite(out[f"{key}.product"]):
                    raise ValueError(f"{w.label}: the gradient is not finite")
            below = run.a[i - 1] if i > 0 else []  # ∂z/∂a below = w (∂net_o1/∂out_h1 = w5)
            for k, a_k in enumerate(below):
                out[f"chain.d{zn}_d{names.a(i - 1, k, False)}"] = local[a_k]
    return out
