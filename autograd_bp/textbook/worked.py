"""The 2-2-2 sigmoid network of Matt Mazur's "A Step by Step Backpropagation Example"
(https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/), built from the
ordinary ``nn`` classes, every figure computed by the engine.

The problem (inputs, targets, starting weights, learning rate) is the post's, read from the
example file the package ships (:data:`MAZUR_FILE`, ``examples/worked/mazur.toml`` in a
checkout — the file ``demo --example`` reads too); the numbers the post *printed* live only
in that file's ``[published]`` table (:data:`PUBLISHED`), as the expected column of
:func:`comparison`. Nothing here is looked up: change ``lr`` or ``iterations`` and every
figure changes with it.

Two update schedules:

* ``simultaneous`` — plain gradient descent: all gradients at the current weights, then
  every weight moves. The post's per-weight figures (∂E/∂w1, w1⁺ … w8⁺) are this.
* ``sequential`` — the output weights w5..w8 move first, then the hidden deltas are
  computed with the already-updated w5..w8 (same forward pass, same δ_o). The post's
  post-update figures (E after one update, E and outputs after 10,000) are this.

Example:
    >>> r = compute(iterations=1)
    >>> round(r["gradients.w5"], 9)
    0.082167041
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..core.engine import Value, grad, sum_values
from ..locale import N_, _
from ..nn.losses import half_sse
from ..nn.modules import MLP
from ..show.explain import Explanation, explain
from .example_file import EXAMPLES, Example, parse_example

__all__ = [
    "MAZUR_FILE",
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
    "shown_name",
    "compute",
    "forward",
    "train",
    "trainable",
    "nielsen_lines",
]

# The problem as Mazur's post states it, and the figures it printed: read from the example
# file the package ships (examples/worked/mazur.toml in a checkout), the one place they live.
MAZUR_FILE = EXAMPLES / "mazur.toml"


def _mazur() -> Example:
    ex = parse_example(MAZUR_FILE.read_text(encoding="utf-8"))
    if ex.sizes != (2, 2, 2) or ex.bias != "per-layer":  # never for the shipped file
        raise ValueError(f"{MAZUR_FILE}: Mazur's network is 2-2-2 with per-layer biases")
    return ex


def _published_key(key: str) -> str:
    """The demo's key for a figure the file names: δ_o1 is a factor of w1's chain, and a
    post-update figure goes without its schedule (the table lists it under both)."""
    if key == "delta.delta_o1":
        return "chain.w1.delta_o1"
    group, _, rest = key.partition(".")
    if group in ("after_one_update", "after_training"):
        return f"{group}.{rest.removeprefix('sequential.')}"
    return key


_MAZUR = _mazur()
SEED_INPUTS = tuple(_MAZUR.inputs)
SEED_TARGETS = tuple(_MAZUR.targets)
SEED_PARAMETERS = {
    **{f"w{n}": w for n, w in enumerate((w for layer in _MAZUR.weights for row in layer
                                         for w in row), 1)},  # w1..w8 in the post's order
    **{f"b{n}": layer[0] for n, layer in enumerate(_MAZUR.biases, 1)},
}  # fmt: skip
SEED_LR = _MAZUR.lr
SEED_ITERATIONS = _MAZUR.iterations
SCHEDULES = ("simultaneous", "sequential")

# What the post printed, digit for digit — the *expected* column, never an answer.
# Keys name the computed quantity they are compared with.
PUBLISHED: dict[str, str] = {_published_key(k): v for k, v in _MAZUR.published.items()}
# Rows that only mean something at the post's settings (lr 0.5, 10,000 steps, frozen biases).
_SETTINGS_DEPENDENT = ("updated.", "after_one_update.", "after_training.")


def build_network(parameters: dict[str, float] | None = None) -> tuple[MLP, dict[str, Value]]:
    """Mazur's network as an ordinary :class:`MLP`: one b1 shared by both hidden neurons,
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
    """One forward pass with every node of the post's vocabulary, labelled."""

    nodes: dict[str, Value]

    def __getitem__(self, name: str) -> Value:
        return self.nodes[name]


def forward(net: MLP, x: Sequence[float] = SEED_INPUTS, y: Sequence[float] = SEED_TARGETS) -> Pass:
    """F, S, G, T and the error, with the post's names on the nodes.

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


def trainable(net: MLP, update_biases: bool) -> list[list[Value]]:
    """Per layer, the parameters an update may move (biases only when asked; a bias the layer
    shares, as Mazur's b1 and b2, once).

    Example:
        >>> net, _ = build_network()
        >>> [len(ps) for ps in trainable(net, False)], [len(ps) for ps in trainable(net, True)]
        ([4, 4], [5, 5])
    """
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
    layers = trainable(net, update_biases)
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
    """``iterations`` updates of ``net`` on the post's single example."""
    for _step in range(iterations):
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

    r.update(_chain_figures(p, params))

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


def _chain_figures(p: Pass, params: dict[str, Value]) -> dict[str, float]:
    """Every chain-rule figure the demo's text prints (after ``backward``), by dotted name:
    w5's three factors, w1's factors along each of its two paths (``chain.w1.path1.*``,
    the text's "path 1") with their products, per neuron ∂E_total/∂out, ∂out/∂net and
    δ = ∂E_total/∂net (``delta.delta_o1``, as ``demo --example`` names it), and ∂net/∂out
    between the layers (``chain.dnet_o1_dout_h1`` = w5, as ``demo --example`` names it)."""
    r: dict[str, float] = {}
    w5 = trace_w5(p, params)
    assert w5.paths is not None  # one path: never over max_paths
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
    w1 = trace_w1(p, params)
    assert w1.paths is not None  # two paths
    for k, path in enumerate(w1.paths, 1):
        for f in path.factors:  # ∂E_total/∂out_o1 is dE_dout_o1, as in w5's chain
            top = "E" if f.numerator == "E_total" else f.numerator
            r[f"chain.w1.path{k}.d{top}_d{f.denominator}"] = f.value
        r[f"chain.w1.path{k}.product"] = path.product
    r["chain.w1.sum_over_paths"] = w1.total
    for unit in ("o1", "o2", "h1", "h2"):  # BP1/BP2's ∇_a C, σ′(z) and δ, per neuron
        r[f"chain.dE_dout_{unit}"] = p[f"out_{unit}"].grad
        r[f"chain.dout_{unit}_dnet_{unit}"] = p[f"out_{unit}"].local_grads[0]
        r[f"delta.delta_{unit}"] = p[f"net_{unit}"].grad
    for o in ("o1", "o2"):
        local = dict(zip(p[f"net_{o}"].parents, p[f"net_{o}"].local_grads))
        for h in ("h1", "h2"):
            r[f"chain.dnet_{o}_dout_{h}"] = local[p[f"out_{h}"]]
    return r


def _labelled(net: MLP) -> list[Value]:
    """The parameters of a network from :func:`build_network` in w1..w8, b1, b2 order."""
    by_label = {v.label: v for v in net.parameters()}
    return [by_label[name] for name in SEED_PARAMETERS]


def trace_w5(p: Pass, params: dict[str, Value]) -> Explanation:
    """∂E_total/∂w5 = ∂E_total/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5 (one path)."""
    return explain(p["E_total"], params["w5"], stops=[p["out_o1"], p["net_o1"]])


def trace_w1(p: Pass, params: dict[str, Value]) -> Explanation:
    """∂E_total/∂w1: two paths, through out_o1 and through out_o2."""
    stops = [p[n] for n in ("out_o1", "net_o1", "out_o2", "net_o2", "out_h1", "net_h1")]
    return explain(p["E_total"], params["w1"], stops=stops)


# The mathematical name of each compared quantity (the post's notation).
_NAMES = {
    "forward.net_h1": "net_h1", "forward.out_h1": "out_h1", "forward.out_h2": "out_h2",
    "forward.net_o1": "net_o1", "forward.out_o1": "out_o1", "forward.out_o2": "out_o2",
    "error.E_o1": "E_o1", "error.E_o2": "E_o2", "error.E_total": "E_total",
    "chain.w5.dE_dout_o1": "∂E_total/∂out_o1", "chain.w5.dout_o1_dnet_o1": "∂out_o1/∂net_o1",
    "chain.w5.dnet_o1_dw5": "∂net_o1/∂w5", "gradients.w5": "∂E_total/∂w5",
    "chain.w1.delta_o1": "δ_o1 = ∂E_total/∂net_o1", "chain.w1.dE_o1_dout_h1": "∂E_o1/∂out_h1",
    "chain.w1.dE_o2_dout_h1": "∂E_o2/∂out_h1", "chain.w1.dE_dout_h1": "∂E_total/∂out_h1",
    "chain.w1.dout_h1_dnet_h1": "∂out_h1/∂net_h1", "gradients.w1": "∂E_total/∂w1",
    "after_one_update.E": N_("E_total after 1 update"),
    "after_training.E": N_("E_total after {n} updates"),
    "after_training.outputs.0": N_("out_o1 after {n} updates"),
    "after_training.outputs.1": N_("out_o2 after {n} updates"),
}  # fmt: skip
_SUPERSCRIPT_PLUS = "⁺"


def _schedule_of_published(key: str) -> str | None:
    """Under which schedule the post computed a figure (None: it does not depend on one)."""
    if key.startswith("updated."):
        return "simultaneous"
    if key.startswith(("after_one_update.", "after_training.")):
        return "sequential"
    return None


@dataclass
class Comparison:
    """One row of the demo's table: a computed figure next to the one the post printed."""

    key: str
    computed: float
    published: str
    applies: bool  # False when the row depends on settings other than the post's
    name: str = ""  # the mathematical name, e.g. ∂E_o2/∂out_h1 or w1⁺
    schedule: str | None = None  # the schedule this row was computed under, if it matters
    published_schedule: str | None = None  # the schedule the post used for this figure

    @property
    def decimals(self) -> int:
        """How many decimals the post printed."""
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

    @property
    def status(self) -> str:
        """``✓`` rounds to the printed digits, ``≈`` one unit off in the last printed digit,
        ``other schedule`` the post made this figure under the other update schedule,
        ``n/a`` made with other settings, else ``✗`` with the difference.

        Example:
            >>> Comparison("x", 0.1234, "0.123", True).status
            '✓'
            >>> Comparison("x", 0.5, "0.1", True, "w1⁺", "sequential", "simultaneous").status
            'other schedule'
        """
        if not self.applies:
            return "n/a"
        if self.matches:
            return "✓"
        if abs(self.difference) <= 10.0**-self.decimals * 1.0000001:
            return "≈"
        if self.schedule is not None and self.schedule != self.published_schedule:
            return "other schedule"
        return f"✗ ({self.difference:+.2e})"


def _name(key: str, iterations: int, translate: bool = False) -> str:
    """``updated.sequential.w1`` -> ``w1⁺``; other keys from :data:`_NAMES` (said in the
    language in use when ``translate``: the JSON's names never change)."""
    parts = key.split(".")
    if parts[0] == "updated":
        return parts[-1] + _SUPERSCRIPT_PLUS
    if parts[0] in ("after_one_update", "after_training") and parts[1] in SCHEDULES:
        del parts[1]
    template = _NAMES[".".join(parts)]
    return (_(template) if translate else template).format(n=f"{iterations:,}")


def shown_name(key: str, iterations: int) -> str:
    """A compared quantity's name as the demo's table shows it, in the language in use.

    Example:
        >>> shown_name("after_training.sequential.E", 10000)
        'E_total after 10,000 updates'
    """
    return _name(key, iterations, translate=True)


def comparison(results: dict[str, Any], schedule: str | None = None) -> list[Comparison]:
    """The table of computed vs published figures for results from :func:`compute`.

    Post-update figures are listed under both schedules (or only under ``schedule``), so
    the table shows which schedule reproduces which of the post's numbers.

    Example:
        >>> rows = comparison(compute(iterations=1), schedule="sequential")
        >>> [(r.name, r.status) for r in rows if r.key == "updated.sequential.w1"]
        [('w1⁺', 'other schedule')]
    """
    seed_update = results["settings.lr"] == SEED_LR and not results["settings.update_biases"]
    seed_training = seed_update and results["settings.iterations"] == SEED_ITERATIONS
    iterations = results["settings.iterations"]
    rows = []
    for key, printed in PUBLISHED.items():
        variants: list[tuple[str, str | None]] = [(key, None)]
        if key.startswith(_SETTINGS_DEPENDENT):
            group, rest = key.split(".", 1)
            rest = rest.removeprefix("simultaneous.")
            chosen = SCHEDULES if schedule is None else (schedule,)
            variants = [(f"{group}.{s}.{rest}", s) for s in chosen]
        for k, sched in variants:
            applies = True
            if k.startswith(_SETTINGS_DEPENDENT):
                applies = seed_training if k.startswith("after_training.") else seed_update
            rows.append(Comparison(k, _lookup(results, k), printed, applies, _name(k, iterations),
                                   sched, _schedule_of_published(key)))  # fmt: skip
    return rows


def _lookup(results: dict[str, Any], key: str) -> float:
    if key in results:
        return float(results[key])
    base, index = key.rsplit(".", 1)
    return float(results[base][int(index)])


def _vec(xs: Sequence[float], digits: int) -> str:
    return "(" + ", ".join(f"{x:.{digits}g}" for x in xs) + ")"


def _check(computed: Sequence[float], engine: Sequence[float]) -> str:
    ok = all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15) for a, b in zip(computed, engine))
    return _("✓ = engine") if ok else _("✗ ≠ engine {values}").format(values=_vec(engine, 9))


def nielsen_lines(p: Pass, params: dict[str, Value], digits: int = 6) -> list[str]:
    """Per-layer δ's in the BP1–BP4 notation of chapter 2 of Nielsen's "Neural Networks and
    Deep Learning" (http://neuralnetworksanddeeplearning.com/chap2.html), computed with the
    equations from the activations of ``p`` (after ``backward``) and checked against the
    engine's scalar gradients. Layer 1 is the hidden layer, layer 2 the output layer.

    Example:
        >>> net, params = build_network(); p = forward(net); p["E_total"].backward()
        >>> lines = nielsen_lines(p, params)
        >>> lines[1].split(" = ")[-2], all("✓" in line for line in lines[1:])
        ('(0.138499, -0.0380982)  ✓', True)
    """
    f = lambda xs: _vec(xs, digits)
    x = [p["x1"].data, p["x2"].data]
    a1, a2 = [[p[f"out_{k}{j}"].data for j in (1, 2)] for k in "ho"]
    # σ′(z) is the activation node's own local derivative; ∇_a C = ∂E/∂a^L = a − y
    s1, s2 = [[p[f"out_{k}{j}"].local_grads[0] for j in (1, 2)] for k in "ho"]
    grad_a = [p[f"out_o{j}"].grad for j in (1, 2)]
    w2 = [[params["w5"].data, params["w6"].data], [params["w7"].data, params["w8"].data]]
    d2 = [g * s for g, s in zip(grad_a, s2)]  # BP1
    back = [sum(w2[j][k] * d2[j] for j in range(2)) for k in range(2)]  # (w²)ᵀ δ²
    d1 = [b * s for b, s in zip(back, s1)]  # BP2
    engine = {name: v.grad for name, v in params.items()}
    gw2 = [a1[k] * d2[j] for j in range(2) for k in range(2)]  # BP4, rows j, columns k
    gw1 = [x[k] * d1[j] for j in range(2) for k in range(2)]
    return [
        _("The same gradients by the four equations of chapter 2 of Michael Nielsen's \"Neural "
          'Networks and Deep Learning"\n(http://neuralnetworksanddeeplearning.com/chap2.html); '
          "layer 1 = hidden, 2 = output, δ = ∂E/∂z:"),
        f"  BP1  δ² = ∇_a C ⊙ σ′(z²) = {f(grad_a)} ⊙ {f(s2)} = {f(d2)}  "
        + _check(d2, [p["net_o1"].grad, p["net_o2"].grad]),
        f"  BP2  δ¹ = ((w²)ᵀ δ²) ⊙ σ′(z¹) = {f(back)} ⊙ {f(s1)} = {f(d1)}  "
        + _check(d1, [p["net_h1"].grad, p["net_h2"].grad]),
        _("  BP3  ∂E/∂b²_j = δ²_j; b2 is shared by o1 and o2, so ∂E/∂b2 = δ²_1 + δ²_2 = "
          "{value}  ").format(value=f"{sum(d2):.{digits}g}") + _check([sum(d2)], [engine["b2"]]),
        _("       likewise ∂E/∂b1 = δ¹_1 + δ¹_2 = {value}  ").format(
            value=f"{sum(d1):.{digits}g}") + _check([sum(d1)], [engine["b1"]]),
        f"  BP4  ∂E/∂w²_jk = a¹_k δ²_j: (w5, w6, w7, w8) → {f(gw2)}  "
        + _check(gw2, [engine[w] for w in ("w5", "w6", "w7", "w8")]),
        f"       ∂E/∂w¹_jk = x_k δ¹_j: (w1, w2, w3, w4) → {f(gw1)}  "
        + _check(gw1, [engine[w] for w in ("w1", "w2", "w3", "w4")]),
    ]
