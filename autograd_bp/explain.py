"""The chain-rule trace: how ∂output/∂wrt is assembled from the local derivatives.

Two views of the same sum:

* **paths** — every path from ``output`` down to ``wrt`` is a product of local derivatives;
  the gradient is the sum over paths. Runs of unnamed nodes are merged, so each factor is
  named by the labelled nodes at its ends (∂E_total/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5).
  Path counts can grow exponentially, so they are capped.
* **per node** — in backward order, each node's gradient is the sum over its consumers of
  consumer gradient × local derivative. This is what ``backward`` does, and it stays linear.

Example:
    >>> from autograd_bp import Value
    >>> x = Value(3.0, label="x")
    >>> y = (x * x).tanh(); y.label = "y"
    >>> e = explain(y, x)
    >>> len(e.paths), e.matches
    (2, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .engine import Value, backward_order, grad

__all__ = [
    "Explanation",
    "Factor",
    "NodeStep",
    "PathTerm",
    "explain",
    "explain_nodes",
    "names",
    "reaching",
]


def names(root: Value, order: list[Value] | None = None) -> dict[int, str]:
    """A display name per node: its label, else ``op`` plus its position in backward order
    (stable for the same graph, so traces and diagrams agree). Pass ``order`` when the
    caller already has ``backward_order(root)``."""
    out: dict[int, str] = {}
    for i, node in enumerate(backward_order(root) if order is None else order):
        out[id(node)] = node.label or f"{node.op or 'leaf'}#{i}"
    return out


@dataclass
class Factor:
    """One named factor ∂numerator/∂denominator and its value."""

    numerator: str
    denominator: str
    value: float

    def symbol(self) -> str:
        """The factor written out, e.g. ``∂out_o1/∂net_o1``."""
        return f"∂{self.numerator}/∂{self.denominator}"


@dataclass
class PathTerm:
    """One path from the output to ``wrt``: its factors and their product."""

    factors: list[Factor]
    product: float


@dataclass
class NodeStep:
    """Per-node form: ``grad`` of ``node`` = Σ consumer grad × local derivative."""

    node: str
    grad: float
    terms: list[tuple[str, float, float]]  # (consumer, consumer's grad, local derivative)


@dataclass
class Explanation:
    """The trace of ∂output/∂wrt. ``paths`` is None when there were too many to list."""

    output: str
    wrt: str
    gradient: float  # what the engine computes
    total: float  # the sum over paths (or the per-node result)
    paths: list[PathTerm] | None
    path_count: int
    max_paths: int
    steps: list[NodeStep] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        """Whether the assembled sum equals the engine's gradient (to 1e-12 relative)."""
        return math.isclose(self.total, self.gradient, rel_tol=1e-12, abs_tol=1e-15)

    def text(self, precision: int = 9) -> str:
        """The trace as readable lines, numbers to ``precision`` significant digits."""

        def f(x: float) -> str:
            return f"{x:.{precision}g}"

        head = f"∂{self.output}/∂{self.wrt}"
        lines: list[str] = []
        if self.paths is not None:
            s = "s" if self.path_count != 1 else ""
            lines.append(f"{head}: {self.path_count} path{s} from {self.output} to {self.wrt}")
            for k, path in enumerate(self.paths, 1):
                symbols = " · ".join(fc.symbol() for fc in path.factors)
                values = " × ".join(f(fc.value) for fc in path.factors)
                lines.append(f"  path {k}: {symbols}")
                lines.append(f"        = {values} = {f(path.product)}")
            if self.path_count > 1:
                lines.append(f"  sum over paths = {f(self.total)}")
        else:
            lines.append(
                f"{head}: {self.path_count} paths, more than max_paths={self.max_paths}; "
                "per-node form instead (each gradient = Σ consumer grad × local derivative):"
            )
            for step in self.steps:
                terms = " + ".join(f"{f(g)} × {f(d)} [{c}]" for c, g, d in step.terms)
                lines.append(f"  ∂{self.output}/∂{step.node} = {terms or '1'} = {f(step.grad)}")
        mark = "✓" if self.matches else "✗"
        lines.append(f"  engine: {head} = {f(self.gradient)} {mark}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def to_dict(self) -> dict[str, Any]:
        """Structured form for JSON: paths with their factors, or per-node steps."""
        return {
            "output": self.output,
            "wrt": self.wrt,
            "gradient": self.gradient,
            "total": self.total,
            "path_count": self.path_count,
            "paths": None
            if self.paths is None
            else [
                {
                    "factors": [
                        {"of": fc.numerator, "wrt": fc.denominator, "value": fc.value}
                        for fc in p.factors
                    ],
                    "product": p.product,
                }
                for p in self.paths
            ],
            "steps": [
                {
                    "node": s.node,
                    "grad": s.grad,
                    "terms": [{"consumer": c, "grad": g, "local": d} for c, g, d in s.terms],
                }
                for s in self.steps
            ],
        }


def reaching(order: list[Value], wrt: Value) -> set[int]:
    """Ids of nodes from which ``wrt`` can be reached (``wrt`` included)."""
    reach = {id(wrt)}
    for node in reversed(order):  # parents come before consumers in this direction
        if any(id(p) in reach for p in node.parents):
            reach.add(id(node))
    return reach


def explain(
    output: Value,
    wrt: Value,
    *,
    stops: list[Value] | None = None,
    max_paths: int = 256,
) -> Explanation:
    """Trace ∂output/∂wrt as a sum over paths of products of named local derivatives.

    ``stops`` chooses which intermediate nodes name a factor (default: every labelled node);
    the local derivatives between two stops are multiplied into one factor. Beyond
    ``max_paths`` paths, the per-node form is returned instead (``paths`` is None).

    Example:
        >>> from autograd_bp import Value
        >>> w = Value(0.5, label="w"); z = (w * 2.0); z.label = "z"
        >>> print(explain(z.sigmoid(), w, stops=[z]).text(4))  # doctest: +NORMALIZE_WHITESPACE
        ∂sigmoid#0/∂w: 1 path from sigmoid#0 to w
          path 1: ∂sigmoid#0/∂z · ∂z/∂w
                = 0.1966 × 2 = 0.3932
          engine: ∂sigmoid#0/∂w = 0.3932 ✓
    """
    order = backward_order(output)
    label = names(output, order)
    (engine_grad,) = grad(output, [wrt])
    reach = reaching(order, wrt)
    if id(wrt) not in {id(n) for n in order}:
        reach = set()
    stop_ids = {id(n) for n in stops} if stops is not None else {id(n) for n in order if n.label}
    stop_ids |= {id(output), id(wrt)}

    # number of paths from each node down to wrt, for the cap (consumers before parents)
    count: dict[int, int] = {id(wrt): 1}
    for node in reversed(order):
        if id(node) in reach and node is not wrt:
            count[id(node)] = sum(count.get(id(p), 0) for p in node.parents)
    n_paths = count.get(id(output), 0) if reach else 0

    common = dict(output=label[id(output)], wrt=label.get(id(wrt), wrt.label or "wrt"))
    if n_paths > max_paths:
        steps = explain_nodes(output, wrt)
        return Explanation(
            **common, gradient=engine_grad, total=steps[-1].grad if steps else 0.0,
            paths=None, path_count=n_paths, max_paths=max_paths, steps=steps,
        )  # fmt: skip

    paths: list[PathTerm] = []
    # iterative DFS over (node, edges taken so far)
    stack: list[tuple[Value, list[tuple[Value, Value, float]]]] = [(output, [])] if reach else []
    while stack:
        node, edges = stack.pop()
        if node is wrt:
            paths.append(_path_term(edges, stop_ids, label))
            continue
        pairs = list(zip(node.parents, node.local_grads))
        for parent, local in reversed(pairs):  # reversed: paths come out in operand order
            if id(parent) in reach:
                stack.append((parent, [*edges, (node, parent, local)]))
    total = math.fsum(p.product for p in paths)
    return Explanation(
        **common, gradient=engine_grad, total=total, paths=paths, path_count=len(paths),
        max_paths=max_paths,
    )  # fmt: skip


def _path_term(
    edges: list[tuple[Value, Value, float]], stop_ids: set[int], label: dict[int, str]
) -> PathTerm:
    factors: list[Factor] = []
    start, value = None, 1.0
    for child, parent, local in edges:
        if start is None:
            start = child
        value *= local
        if id(parent) in stop_ids:
            factors.append(Factor(label[id(start)], label[id(parent)], value))
            start, value = None, 1.0
    return PathTerm(factors, math.prod(f.value for f in factors))


def explain_nodes(output: Value, wrt: Value | None = None) -> list[NodeStep]:
    """The per-node form, in backward order: each node's ∂output/∂node as the sum over its
    consumers. Restricted to nodes that lead to ``wrt`` when given (``wrt`` comes last).

    Example:
        >>> from autograd_bp import Value
        >>> a = Value(2.0, label="a"); b = a * a; b.label = "b"
        >>> [(s.node, s.grad) for s in explain_nodes(b, a)]
        [('b', 1.0), ('a', 4.0)]
    """
    order = backward_order(output)
    label = names(output, order)
    keep = reaching(order, wrt) if wrt is not None else {id(n) for n in order}
    grads: dict[int, float] = {id(output): 1.0}
    terms: dict[int, list[tuple[str, float, float]]] = {}
    steps: list[NodeStep] = []
    for node in order:
        g = grads.get(id(node), 0.0)
        if id(node) in keep:
            steps.append(NodeStep(label[id(node)], g, terms.get(id(node), [])))
        for parent, local in zip(node.parents, node.local_grads):
            key = id(parent)
            grads[key] = grads.get(key, 0.0) + local * g
            terms.setdefault(key, []).append((label[id(node)], g, local))
    return steps
