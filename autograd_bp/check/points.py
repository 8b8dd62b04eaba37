"""The graph at other points: replay through the op table, and everything a check needs.

:func:`replay` evaluates a recorded graph at new leaf values (the nodes are not touched);
:class:`Setup` holds one check's graph, names and claim; :class:`Point` is one point of it.
Used by :mod:`autograd_bp.check.derivation` and :mod:`autograd_bp.check.diagnosis`.

Example:
    >>> from autograd_bp import parse
    >>> f = parse("x*x", x=3.0)
    >>> backward(backward_order(f), f, replay(backward_order(f), {})[1])[f.parents[0]]
    6.0
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.engine import Value, backward_order, chain_rule
from ..core.ops import RULES
from ..lang.expr import ExpressionError, parse, variables
from ..locale import _

__all__ = ["Binding", "ClaimError", "Partial", "Point", "Setup", "backward", "close",
           "flat_operands", "replay"]  # fmt: skip


class ClaimError(ValueError):
    """Bad input to the checker: an unknown name, ``wrt`` not in the graph, too few points."""


@dataclass(frozen=True, eq=False)
class Partial:
    """A name bound to ∂output/∂node rather than to a node: the δ's of backprop
    (``delta_o1`` = ∂E_total/∂net_o1, Nielsen's δ^l_j = ∂C/∂z^l_j)."""

    node: Value


Binding = Value | Partial


def flat_operands(node: Value) -> tuple[Any, ...]:
    """The rule's operands in order, folded constants included (variadic rules: all of them)."""
    return tuple(node.operands)


def replay(
    order: Sequence[Value],
    leaves: Mapping[Value, float],
    local_leaves: Mapping[Value, float] | None = None,
    *,
    rules: Mapping[str, Any] = RULES,
    operands_of: Callable[[Value], tuple[Any, ...]] = flat_operands,
) -> tuple[dict[Value, float], dict[Value, list[float]]]:
    """Every node's value and local derivatives with some leaves (by id) set to new values,
    through the op table (the nodes themselves are not touched). ``local_leaves`` changes
    leaves only where local derivatives are computed — a backward pass that uses other
    weights than the forward pass did. Raises the op's own error outside its domain.
    ``rules`` (default the op table) and ``operands_of`` (default the node's operands in
    order) let the misconception lab replay the graph under a faulty rule
    (:mod:`autograd_bp.check.bugs`).

    Example:
        >>> from autograd_bp import parse
        >>> f = parse("x*y", x=3.0, y=2.0); x, y = f.parents
        >>> values, local = replay(backward_order(f), {x: 5.0})
        >>> values[f], local[f]
        (10.0, [2.0, 5.0])
    """
    values: dict[Value, float] = {}
    local: dict[Value, list[float]] = {}
    for node in reversed(order):  # operands before the nodes that use them
        if node.is_leaf:
            values[node] = float(leaves.get(node, node.data))
            continue
        rule = rules[node.op]
        flat = operands_of(node)
        xs = [values[a] if type(a) is Value else a for a in flat]
        param = node.param
        out = rule.forward(tuple(xs), param) if rule.variadic else rule.forward(*xs, param)
        values[node] = out
        if local_leaves:
            xs = [local_leaves.get(a, x) if type(a) is Value else x for a, x in zip(flat, xs)]
        ds = rule.local(tuple(xs), out, param) if rule.variadic else rule.local(*xs, out, param)
        local[node] = [float(d) for a, d in zip(flat, ds) if type(a) is Value]
    return values, local


def backward(order: Sequence[Value], output: Value, local: Mapping[Value, list[float]]) -> dict:
    """∂output/∂node for every node (by id), from replayed local derivatives: the core's one
    chain-rule walker, handed the locals of this point instead of the stored ones."""
    grads = chain_rule(output, order=list(order), locals_of=lambda node: local[node])
    return {node: g for node, g in grads.items()}


@dataclass
class Point:
    """One point of the check: leaf values by name, every node's value, local derivatives
    and ∂output/∂node, and the claim's value there (None where the claim is undefined)."""

    leaves: dict[str, float]
    values: dict[Value, float]
    local: dict[Value, list[float]]
    grads: dict[Value, float]
    claim: float | None
    claim_values: dict[Value, float] = field(default_factory=dict)  # the claim's nodes, by id


class Setup:
    """What one check needs about its graph, worked out once: the order, the names and
    their nodes, the variables to move, and the claim as a graph over placeholder leaves."""

    def __init__(self, output: Value, wrt: Value, claim: str, names: Mapping[str, Binding]):
        self.output, self.wrt, self.claim_text = output, wrt, claim
        self.order = backward_order(output)
        ids = {n for n in self.order}
        if wrt not in ids:
            raise ClaimError("--wrt: " + _("{name} is not in the graph of {output}").format(
                name=repr(_label(wrt)), output=repr(_label(output))))  # fmt: skip
        self.names = dict(names)
        try:
            self.used = variables(claim)
        except ExpressionError as e:
            raise ClaimError(f"--claim: {e}") from None
        unknown = [n for n in self.used if n not in self.names]
        if unknown:
            known = ", ".join(self.names) or _("(none)")
            raise ClaimError("--claim: " + _("unknown name(s) {names}; known: {known}").format(
                names=", ".join(unknown), known=known))  # fmt: skip
        for name in self.used:
            node = _bound_node(self.names[name])
            if node not in ids:
                raise ClaimError("--claim: " + _("{name} is not in the graph of {output}").format(
                    name=repr(name), output=repr(_label(output))))  # fmt: skip
        self.variables = {n: b for n, b in self.names.items()
                          if isinstance(b, Value) and b.is_leaf and b in ids}  # fmt: skip
        # the claim as a graph over one placeholder leaf per name, built at the first point
        # where it is defined (parse evaluates as it builds), then replayed at every point
        self.placeholders: dict[str, Value] = {}
        self.claim_root: Value | None = None
        self.claim_order: list[Value] = []
        self.display = _display_names(self.order, self.names)

    def evaluate(self, leaves: Mapping[Value, float]) -> Point | None:
        """The point with these leaf values, or None outside the graph's domain."""
        try:
            values, local = replay(self.order, leaves)
        except (ArithmeticError, ValueError):
            return None
        if not all(map(math.isfinite, values.values())) or not all(
            math.isfinite(d) for ds in local.values() for d in ds
        ):
            return None
        grads = backward(self.order, self.output, local)
        named = {n: values[v] for n, v in self.variables.items()}
        claim, claim_values = self._claim_at(values, grads)
        return Point(named, values, local, grads, claim, claim_values)

    def _claim_at(
        self, values: dict[Value, float], grads: dict[Value, float]
    ) -> tuple[float | None, dict[Value, float]]:
        at = {}
        for name in self.used:
            bound = self.names[name]
            at[name] = (grads.get(bound.node, 0.0) if isinstance(bound, Partial)
                        else values[bound])  # fmt: skip
        try:
            if self.claim_root is None:
                self.placeholders = {n: Value(v, label=n) for n, v in at.items()}
                self.claim_root = parse(self.claim_text, **self.placeholders)
                self.claim_order = backward_order(self.claim_root)
            inputs = {ph: at[n] for n, ph in self.placeholders.items()}
            claim_values = replay(self.claim_order, inputs)[0]
        except (ArithmeticError, ValueError):
            return None, {}
        result = claim_values[self.claim_root]
        return (result if math.isfinite(result) else None), claim_values

    def truth(self, point: Point) -> float:
        """∂output/∂wrt at ``point``."""
        return point.grads.get(self.wrt, 0.0)


def _bound_node(b: Binding) -> Value:
    return b.node if isinstance(b, Partial) else b


def _label(v: Value) -> str:
    return v.label or f"<{v.op or 'leaf'} node>"


def _display_names(order: Sequence[Value], names: Mapping[str, Binding]) -> dict[Value, str]:
    """A name per node for messages: the name a claim would use, else its label, else
    ``op#k`` as the explanations number it."""
    from ..core.graph import names as graph_names

    out = {n: name for n, name in graph_names(order[0], list(order)).items()} if order else {}
    for name, b in reversed(list(names.items())):  # the first name given for a node wins
        if isinstance(b, Value):
            out[b] = name
    if order and not order[0].label and not order[0].is_leaf:
        out[order[0]] = "f"  # an unnamed output is f, as ``autograd-bp grad`` calls it
    return out


def close(a: float, b: float, rtol: float, atol: float) -> bool:
    """|a − b| ≤ atol + rtol·max(|a|, |b|).

    Example:
        >>> close(1.0, 1.0 + 1e-12, 1e-9, 0.0), close(1.0, 1.1, 1e-9, 0.0)
        (True, False)
    """
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))
