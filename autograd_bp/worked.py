"""Seed 000's 2-2-2 sigmoid network, built from the ordinary ``nn`` classes, every figure
computed by the engine.

The problem (inputs, targets, starting weights, learning rate) is the seed's; the numbers
the seed *printed* live only in :data:`PUBLISHED`, as the expected column of
:func:`comparison`. Nothing here is looked up: change ``lr`` or ``iterations`` and every
figure changes with it.

Two update schedules:

* ``simultaneous`` — plain gradient descent: all gradients at the current weights, then
  every weight moves. The seed's per-weight figures (∂E/∂w1, w1⁺ … w8⁺) are this.
* ``sequential`` — the output weights w5..w8 move first, then the hidden deltas are
  computed with the already-updated w5..w8 (same forward pass, same δ_o). The seed's
  post-update figures (E after one update, E and outputs after 10,000) are this.

Example:
    >>> r = compute(iterations=1)
    >>> round(r["gradients.w5"], 9)
    0.082167041
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .engine import Value, grad, sum_values
from .explain import Explanation, explain
from .losses import half_sse
from .nn import MLP

__all__ = [
    "PUBLISHED",
    "SCHEDULES",
    "SEED_INPUTS",
    "SEED_LR",
    "SEED_PARAMETERS",
    "SEED_TARGETS",
    "Comparison",
    "Pass",
    "build_network",
    "comparison",
    "compute",
    "forward",
    "train",
]

# The problem as the seed states it.
SEED_INPUTS = (0.05, 0.10)
SEED_TARGETS = (0.01, 0.99)
SEED_PARAMETERS = {
    "w1": 0.15, "w2": 0.20, "w3": 0.25, "w4": 0.30,
    "w5": 0.40, "w6": 0.45, "w7": 0.50, "w8": 0.55,
    "b1": 0.35, "b2": 0.60,
}  # fmt: skip
SEED_LR = 0.5
SEED_ITERATIONS = 10_000
SCHEDULES = ("simultaneous", "sequential")

# What the seed printed, digit for digit — the *expected* column, never an answer.
# Keys name the computed quantity they are compared with.
PUBLISHED: dict[str, str] = {
    "forward.net_h1": "0.3775",
    "forward.out_h1": "0.593269992",
    "forward.out_h2": "0.596884378",
    "forward.net_o1": "1.105905967",
    "forward.out_o1": "0.75136507",
    "forward.out_o2": "0.772928465",
    "error.E_o1": "0.274811083",
    "error.E_o2": "0.023560026",
    "error.E_total": "0.298371109",
    "chain.w5.dE_dout_o1": "0.74136507",
    "chain.w5.dout_o1_dnet_o1": "0.186815602",
    "chain.w5.dnet_o1_dw5": "0.593269992",
    "gradients.w5": "0.082167041",
    "chain.w1.delta_o1": "0.138498562",
    "chain.w1.dE_o1_dout_h1": "0.055399425",
    "chain.w1.dE_o2_dout_h1": "-0.019049119",
    "chain.w1.dE_dout_h1": "0.036350306",
    "chain.w1.dout_h1_dnet_h1": "0.241300709",
    "gradients.w1": "0.000438568",
    "updated.simultaneous.w1": "0.149780716",
    "updated.simultaneous.w2": "0.19956143",
    "updated.simultaneous.w3": "0.24975114",
    "updated.simultaneous.w4": "0.29950229",
    "updated.simultaneous.w5": "0.35891648",
    "updated.simultaneous.w6": "0.408666186",
    "updated.simultaneous.w7": "0.511301270",
    "updated.simultaneous.w8": "0.561370121",
    "after_one_update.E": "0.291027924",
    "after_training.E": "0.000035085",
    "after_training.outputs.0": "0.015912196",
    "after_training.outputs.1": "0.984065734",
}
# Rows that only mean something at the seed's settings (lr 0.5, 10,000 steps, frozen biases).
_SETTINGS_DEPENDENT = ("updated.", "after_one_update.", "after_training.")


def build_network(parameters: dict[str, float] | None = None) -> tuple[MLP, dict[str, Value]]:
    """The seed's network as an ordinary :class:`MLP`: one b1 shared by both hidden neurons,
    one b2 shared by both outputs, parameters labelled w1..w8, b1, b2.

    Example:
        >>> net, p = build_network()
        >>> len(net.parameters()), p["b1"].label
        (10, 'b1')
    """
    values = dict(SEED_PARAMETERS, **(parameters or {}))
    p = {name: Value(v, label=name) for name, v in values.items()}
    net = MLP(
        2,
        [2, 2],
        activation="sigmoid",
        output_activation="sigmoid",
        weights=[
            [[p["w1"], p["w2"]], [p["w3"], p["w4"]]],  # F: x -> net_h
            [[p["w5"], p["w6"]], [p["w7"], p["w8"]]],  # G: out_h -> net_o
        ],
        biases=[[p["b1"], p["b1"]], [p["b2"], p["b2"]]],
    )
    return net, p


@dataclass
class Pass:
    """One forward pass with every node of the seed's vocabulary, labelled."""

    nodes: dict[str, Value]

    def __getitem__(self, name: str) -> Value:
        return self.nodes[name]


def forward(net: MLP, x: Sequence[float] = SEED_INPUTS, y: Sequence[float] = SEED_TARGETS) -> Pass:
    """F, S, G, T and the error, with the seed's names on the nodes.

    Example:
        >>> net, _ = build_network()
        >>> round(forward(net)["E_total"].data, 9)
        0.298371109
    """
    hidden, output = net.layers
    nodes: dict[str, Value] = {}
    inputs = [Value(v, label=f"x{i}") for i, v in enumerate(x, 1)]
    outs_h = []
    for j, neuron in enumerate(hidden.neurons, 1):
        z = neuron.net(inputs)  # F
        a = neuron.activation(z)  # S
        nodes[f"net_h{j}"], nodes[f"out_h{j}"] = z, a
        outs_h.append(a)
    errors = []
    for j, (neuron, target) in enumerate(zip(output.neurons, y), 1):
        z = neuron.net(outs_h)  # G
        a = neuron.activation(z)  # T
        e = half_sse(a, target)
        nodes[f"net_o{j}"], nodes[f"out_o{j}"], nodes[f"E_o{j}"] = z, a, e
        errors.append(e)
    nodes["E_total"] = sum_values(errors)
    for name, node in nodes.items():
        node.label = name
    for v in inputs:
        nodes[v.label] = v
    return Pass(nodes)


def _trainable(net: MLP, update_biases: bool) -> list[list[Value]]:
    """Per layer, the parameters an update may move (biases only when asked)."""
    out = []
    for layer in net.layers:
        params: list[Value] = []
        for n in layer.neurons:
            params += n.w
            if update_biases and n.b is not None and all(n.b is not q for q in params):
                params.append(n.b)
        out.append(params)
    return out


def _descend(params: Sequence[Value], lr: float) -> None:
    for p in params:
        p.data -= lr * p.grad


def step(
    net: MLP,
    x: Sequence[float] = SEED_INPUTS,
    y: Sequence[float] = SEED_TARGETS,
    *,
    lr: float = SEED_LR,
    schedule: str = "simultaneous",
    update_biases: bool = False,
) -> None:
    """One gradient-descent update of ``net`` under ``schedule`` (see the module docs)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")
    layers = _trainable(net, update_biases)
    net.zero_grad()
    p = forward(net, x, y)
    p["E_total"].backward()
    if schedule == "simultaneous":
        for params in layers:
            _descend(params, lr)
        return
    # sequential: output layer first, then each lower layer's deltas through the
    # already-updated weights above it (δ of the layer above is kept from this pass).
    hidden, output = net.layers
    deltas = [p[f"net_o{j}"].grad for j in range(1, len(output.neurons) + 1)]
    _descend(layers[1], lr)
    net.zero_grad()
    again = forward(net, x, y)
    outs_h = [again[f"out_h{j}"] for j in range(1, len(hidden.neurons) + 1)]
    for neuron, delta in zip(output.neurons, deltas):
        neuron.net(outs_h).backward(delta)  # BP2 with the new w5..w8
    _descend(layers[0], lr)


def train(
    net: MLP,
    iterations: int,
    *,
    lr: float = SEED_LR,
    schedule: str = "simultaneous",
    update_biases: bool = False,
) -> None:
    """``iterations`` updates of ``net`` on the seed's single example."""
    for _ in range(iterations):
        step(net, lr=lr, schedule=schedule, update_biases=update_biases)


def compute(
    *,
    lr: float = SEED_LR,
    iterations: int = SEED_ITERATIONS,
    schedule: str = "simultaneous",
    update_biases: bool = False,
) -> dict[str, Any]:
    """Every figure of the worked example, by dotted name (the ``--json`` schema).

    ``updated.*`` and ``after_*`` without a schedule in the name follow ``schedule``.
    """
    if not lr > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose from {', '.join(SCHEDULES)}")
    r: dict[str, Any] = {
        "settings.lr": lr,
        "settings.iterations": iterations,
        "settings.schedule": schedule,
        "settings.update_biases": update_biases,
    }
    net, params = build_network()
    p = forward(net)
    p["E_total"].backward()
    for name in ("net_h1", "out_h1", "net_h2", "out_h2", "net_o1", "out_o1", "net_o2", "out_o2"):
        r[f"forward.{name}"] = p[name].data
    for name in ("E_o1", "E_o2", "E_total"):
        r[f"error.{name}"] = p[name].data
    for name, v in params.items():
        r[f"gradients.{name}"] = v.grad

    w5 = trace_w5(p, params)
    r["chain.w5.dE_dout_o1"], r["chain.w5.dout_o1_dnet_o1"], r["chain.w5.dnet_o1_dw5"] = (
        f.value for f in w5.paths[0].factors
    )
    r["chain.w5.product"] = w5.total
    r["chain.w1.delta_o1"] = p["net_o1"].grad
    r["chain.w1.delta_o2"] = p["net_o2"].grad
    (r["chain.w1.dE_o1_dout_h1"],) = grad(p["E_o1"], [p["out_h1"]])
    (r["chain.w1.dE_o2_dout_h1"],) = grad(p["E_o2"], [p["out_h1"]])
    r["chain.w1.dE_dout_h1"] = p["out_h1"].grad
    r["chain.w1.dout_h1_dnet_h1"] = p["out_h1"].local_grads[0]
    r["chain.w1.dnet_h1_dw1"] = dict(zip(p["net_h1"].parents, p["net_h1"].local_grads))[
        params["w1"]
    ]
    r["chain.w1.sum_over_paths"] = trace_w1(p, params).total

    for sched in SCHEDULES:
        once, _ = build_network()
        step(once, lr=lr, schedule=sched, update_biases=update_biases)
        for name, v in zip(params, _labelled(once)):
            r[f"updated.{sched}.{name}"] = v.data
        r[f"after_one_update.{sched}.E"] = forward(once)["E_total"].data
        trained, _ = build_network()
        train(trained, iterations, lr=lr, schedule=sched, update_biases=update_biases)
        final = forward(trained)
        r[f"after_training.{sched}.E"] = final["E_total"].data
        r[f"after_training.{sched}.outputs"] = [final["out_o1"].data, final["out_o2"].data]
    for key in list(r):
        prefix = f"{schedule}."
        for group in ("updated.", "after_one_update.", "after_training."):
            if key.startswith(group + prefix):
                r[group + key[len(group + prefix) :]] = r[key]
    return r


def _labelled(net: MLP) -> list[Value]:
    """The parameters of a seed network in w1..w8, b1, b2 order."""
    by_label = {v.label: v for v in net.parameters()}
    return [by_label[name] for name in SEED_PARAMETERS]


def trace_w5(p: Pass, params: dict[str, Value]) -> Explanation:
    """∂E_total/∂w5 = ∂E_total/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5 (one path)."""
    return explain(p["E_total"], params["w5"], stops=[p["out_o1"], p["net_o1"]])


def trace_w1(p: Pass, params: dict[str, Value]) -> Explanation:
    """∂E_total/∂w1: two paths, through out_o1 and through out_o2."""
    stops = [p[n] for n in ("out_o1", "net_o1", "out_o2", "net_o2", "out_h1", "net_h1")]
    return explain(p["E_total"], params["w1"], stops=stops)


@dataclass
class Comparison:
    """One row of the demo's table."""

    key: str
    computed: float
    published: str
    applies: bool  # False when the row depends on settings other than the seed's

    @property
    def decimals(self) -> int:
        """How many decimals the seed printed."""
        exponent = Decimal(self.published).as_tuple().exponent
        return -exponent if isinstance(exponent, int) else 0

    @property
    def matches(self) -> bool:
        """Whether the computed value rounds to the printed digits."""
        return round(self.computed, self.decimals) == float(self.published)

    @property
    def difference(self) -> float:
        """computed − published."""
        return self.computed - float(self.published)


def comparison(results: dict[str, Any]) -> list[Comparison]:
    """The table of computed vs published figures for results from :func:`compute`.

    Post-update figures are listed under both schedules, so the table shows which schedule
    reproduces which of the seed's numbers.
    """
    seed_update = results["settings.lr"] == SEED_LR and not results["settings.update_biases"]
    seed_training = seed_update and results["settings.iterations"] == SEED_ITERATIONS
    rows = []
    for key, printed in PUBLISHED.items():
        variants = [key]
        if key.startswith(_SETTINGS_DEPENDENT):
            group, rest = key.split(".", 1)
            rest = rest.removeprefix("simultaneous.")
            variants = [f"{group}.{s}.{rest}" for s in SCHEDULES]
        for k in variants:
            applies = True
            if k.startswith(_SETTINGS_DEPENDENT):
                applies = seed_training if k.startswith("after_training.") else seed_update
            rows.append(Comparison(k, _lookup(results, k), printed, applies))
    return rows


def _lookup(results: dict[str, Any], key: str) -> float:
    if key in results:
        return float(results[key])
    base, index = key.rsplit(".", 1)
    return float(results[base][int(index)])
