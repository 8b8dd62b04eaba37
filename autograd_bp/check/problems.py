"""Graphs with the names a hand derivation uses, ready for :func:`check_derivation`.

* :func:`worked_problem` — Matt Mazur's 2-2-2 example
  (https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/) with his names:
  x1 x2, w1..w8, b1 b2, net_h1 … out_o2, target_o1 target_o2, E_o1 E_o2 E_total, and the
  δ's delta_o1 … delta_h2 (δ = ∂E_total/∂net), at the starting weights.
* :func:`nielsen_problem` — an MLP in the notation of chapter 2 of Michael Nielsen's
  "Neural Networks and Deep Learning" (http://neuralnetworksanddeeplearning.com/chap2.html):
  layer 1 is the input, ``w2_1_2`` is w²₁₂ (to neuron 1 of layer 2 from neuron 2 of layer 1),
  ``b2_1``, ``z2_1``, ``a2_1`` (a1_k = x_k), ``delta2_1`` = ∂C/∂z²₁, targets ``y1``…, cost ``C``.
* :func:`program_problem` — named steps ``[("z", "w*x + b"), ("a", "sigmoid(z)"), …]``.

Example:
    >>> p = worked_problem()
    >>> round(p.output.data, 9), sorted(p.names)[:3]
    (0.298371109, ['E_o1', 'E_o2', 'E_total'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..core.engine import Value, grad
from ..lang.expr import ExpressionError, parse, variables
from ..nn.losses import half_sse
from ..nn.notation import nielsen_name, parameter_names
from .derivation import Problem
from .points import Binding, Partial

__all__ = ["nielsen_problem", "program_problem", "worked_problem"]


def worked_problem() -> Problem:
    """The worked example at its starting weights; ``updates`` holds the weights after one
    step of plain gradient descent (lr 0.5): w5..w8 alone, then all eight."""
    from ..textbook import worked

    net, params = worked.build_network()
    targets = [Value(t, label=f"target_o{j}") for j, t in enumerate(worked.SEED_TARGETS, 1)]
    p = worked.forward(net, worked.SEED_INPUTS, targets)  # type: ignore[arg-type]  # Values work
    names: dict[str, Binding] = {**params, **p.nodes}
    names.update({t.label: t for t in targets})
    for unit in ("o1", "o2", "h1", "h2"):
        names[f"delta_{unit}"] = Partial(p[f"net_{unit}"])
    weights = [f"w{i}" for i in range(1, 9)]
    grads = grad(p["E_total"], [params[w] for w in weights])
    after = {w: params[w].data - worked.SEED_LR * g for w, g in zip(weights, grads)}
    updates = [{w: after[w] for w in weights[4:]}, after]
    return Problem(p["E_total"], names, "Mazur's 2-2-2 worked example", updates)


def nielsen_problem(sizes: Sequence[int], *, seed: int = 0, activation: str = "sigmoid") -> Problem:
    """A random MLP (``sizes`` from input to output) with quadratic cost C = ½‖a − y‖²,
    every node named in Nielsen's notation; inputs and targets drawn as ``autograd-bp
    verify`` draws them.

    Example:
        >>> p = nielsen_problem([2, 3, 1])
        >>> [n for n in p.names if n.startswith(("w3", "delta3"))]
        ['w3_1_1', 'w3_1_2', 'w3_1_3', 'delta3_1']
    """
    import numpy as np

    from ..nn.modules import MLP

    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes must list at least two positive layer sizes, got {sizes!r}")
    net = MLP(sizes[0], list(sizes[1:]), activation=activation, output_activation=activation,
              init="normal", seed=seed)  # fmt: skip
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, sizes[0]).tolist()
    y = rng.uniform(0.05, 0.95, sizes[-1]).tolist()
    names: dict[str, Binding] = {name: p for name, p in parameter_names(net.layers)}
    a = [_named(Value(v), f"x{k}", names, nielsen_name("a", 1, k)) for k, v in enumerate(x, 1)]
    for n, layer in enumerate(net.layers, 2):
        outs = []
        for j, neuron in enumerate(layer.neurons, 1):
            z = _named(neuron.net(a), nielsen_name("z", n, j), names)
            names[nielsen_name("delta", n, j)] = Partial(z)
            outs.append(_named(neuron.activation(z), nielsen_name("a", n, j), names))
        a = outs
    targets = [_named(Value(v), f"y{j}", names) for j, v in enumerate(y, 1)]
    cost = _named(half_sse(a, targets), "C", names)  # type: ignore[arg-type]  # Values work
    return Problem(cost, names, f"a {'-'.join(map(str, sizes))} {activation} network, "
                   "in Nielsen's notation")  # fmt: skip


def _named(v: Value, name: str, names: dict[str, Binding], *aliases: str) -> Value:
    v.label = name
    for n in (name, *aliases):
        names[n] = v
    return v


def program_problem(
    steps: Sequence[tuple[str, str]],
    values: Mapping[str, float],
    deltas: Mapping[str, str] | None = None,
) -> Problem:
    """Named steps in the expression language over ``values``; the last step is the output.
    ``deltas`` binds extra names to ∂output/∂step (e.g. ``{"delta_o": "net_o"}``).

    Example:
        >>> p = program_problem([("z", "w*x + b"), ("a", "sigmoid(z)")],
        ...                     {"w": 0.5, "x": 2.0, "b": 0.0})
        >>> p.output.label, round(p.output.data, 6)
        ('a', 0.731059)
    """
    names: dict[str, Binding] = {  # a Value is used as it is (gradcheck passes its leaves)
        n: v if isinstance(v, Value) else Value(v, label=n) for n, v in values.items()
    }
    node: Value | None = None
    for name, text in steps:
        used = variables(text)
        unknown = [u for u in used if u not in names]
        if unknown:
            raise ExpressionError(f"step {name!r}: unknown name(s) {', '.join(unknown)}")
        node = parse(text, **{u: names[u] for u in used})
        if any(node is v for v in names.values()):
            raise ExpressionError(f"step {name!r} only renames {text!r}; use {text!r} instead")
        names[name] = _named(node, name, {})
    if node is None:
        raise ExpressionError("a program needs at least one step")
    for delta, of in (deltas or {}).items():
        target = names[of]
        if not isinstance(target, Value):
            raise ExpressionError(f"delta {delta!r}: {of!r} is not a step")
        names[delta] = Partial(target)
    return Problem(node, names)
