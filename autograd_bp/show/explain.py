"""The chain-rule trace: how ∂output/∂wrt is assembled from the local derivatives.

Two views of the same sum:

* **paths** — every path from ``output`` down to ``wrt`` is a product of local derivatives;
  the gradient is the sum over paths. Each factor is named by the nodes at its ends and shown
  as its rule from the op table, then with the numbers plugged in
  (``∂out_h1/∂net_h1 = σ(net_h1)·(1 − σ(net_h1)) = 0.593270 × 0.406730 = 0.241301``). A node
  reached along several paths shows how backward adds its contributions. Path counts can
  grow exponentially, so they are capped.
* **per node** — in backward order, each node's gradient is the sum over its consumers of
  consumer gradient × local derivative. This is what ``backward`` does, and it stays linear.

Nodes are named by :func:`autograd_bp.core.graph.names`; the two operand slots of one node
(``x*x``) are told apart as ``x[left]`` and ``x[right]``. The paths and factors are the model
of :mod:`autograd_bp.show.paths`, which the checker's diagnoses use too.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..core import graph
from ..core.engine import Value, backward_order, chain_rule, grad
from ..core.grad_mode import gc_paused
from ..locale import _, ngettext
from .paths import (
    Factor,
    Local,
    PathTerm,
    count_paths,
    latex_name,
    latex_number,
    latex_wrapped,
    walk_paths,
    wrap,
)

__all__ = [
    "Explanation",
    "Factor",
    "Local",
    "NodeStep",
    "PathTerm",
    "explain",
    "explain_nodes",
    "latex_name",
]


def signed_sum(values: list[float], f: Callable[[float], str]) -> str:
    """``a + b − c``: each term with its own sign, as a learner writes a sum.

    Example:
        >>> signed_sum([0.0553994, -0.0190491], str)
        '0.0553994 − 0.0190491'
    """
    text = f(values[0]) if values else "0"
    for v in values[1:]:
        text += f" − {f(-v)}" if v < 0 else f" + {f(v)}"
    return text


# --- the result ---------------------------------------------------------------------------


@dataclass
class NodeStep:
    """Per-node form: ``grad`` of ``node`` = Σ consumer grad × local derivative."""

    node: str
    grad: float
    terms: list[tuple[str, float, float]]  # (consumer, consumer's grad, local derivative)


@dataclass
class Explanation:
    """The trace of ∂output/∂wrt. ``paths`` is None when there were too many to list.

    ``accumulations`` lists, in path view, the nodes reached along more than one path with
    the contributions backward adds up there.
    """

    output: str
    wrt: str
    gradient: float  # what the engine computes
    total: float  # the sum over paths (or the per-node result)
    paths: list[PathTerm] | None
    path_count: int
    max_paths: int
    steps: list[NodeStep] = field(default_factory=list)
    accumulations: list[NodeStep] = field(default_factory=list)
    where: list[tuple[str, str]] = field(default_factory=list)  # temporary names used

    @property
    def matches(self) -> bool:
        """Whether the assembled sum equals the engine's gradient (to 1e-12 relative)."""
        return math.isclose(self.total, self.gradient, rel_tol=1e-12, abs_tol=1e-15)

    def _head(self) -> str:
        return f"∂{wrap(self.output)}/∂{wrap(self.wrt)}"

    def _where_lines(self) -> list[str]:
        where = _("where")  # the other lines indent by its width, in any language
        pad = " " * sum(2 if ord(c) > 0x2E7F else 1 for c in where)
        return [f"  {where if k == 0 else pad} {name} = {text}"
                for k, (name, text) in enumerate(self.where)]  # fmt: skip

    def text(self, precision: int = 9) -> str:
        """The trace as readable lines, numbers to ``precision`` significant digits."""

        def f(x: float) -> str:
            return f"{x:.{precision}g}"

        head = self._head()
        lines: list[str] = []
        if self.paths is not None:
            lines.append(ngettext("{head}: {count} path from {output} to {wrt}",
                                  "{head}: {count} paths from {output} to {wrt}",
                                  self.path_count).format(head=head, count=self.path_count,
                                                          output=self.output, wrt=self.wrt))
            lines += self._where_lines()
            shown: set[str] = set()
            for k, path in enumerate(self.paths, 1):
                chain = " · ".join(fc.symbol() for fc in path.factors)
                chain = chain or _("the output is {wrt} itself").format(wrt=self.wrt)
                lines.append(_("  path {k}: {chain}").format(k=k, chain=chain))
                for fc in path.factors:
                    line = fc.line(f)
                    if line not in shown:
                        shown.add(line)
                        lines.append(f"    {line}")
                values = " × ".join(f(fc.value) for fc in path.factors)
                lines.append(_("    product = {values} = {product}").format(
                    values=values or "1", product=f(path.product)))
            if self.path_count > 1:
                terms = signed_sum([p.product for p in self.paths], f)
                lines.append(_("  sum over paths = {terms} = {total}").format(
                    terms=terms, total=f(self.total)))
            if self.accumulations:
                lines.append(_("  reached along several paths (backward adds the contributions):"))
                for step in self.accumulations:
                    terms = signed_sum([g * d for _, g, d in step.terms], f)
                    lines.append(f"    ∂{wrap(self.output)}/∂{wrap(step.node)} = {terms} = "
                                 f"{f(step.grad)}")  # fmt: skip
        else:
            lines.append(_(
                "{head}: {count} paths, more than max_paths={max_paths}; per-node form instead "
                "(each gradient = Σ consumer grad × local derivative):").format(
                    head=head, count=self.path_count, max_paths=self.max_paths))
            lines += self._where_lines()
            for step in self.steps:
                terms = " + ".join(f"{f(g)} × {f(d)} [{c}]" for c, g, d in step.terms)
                lines.append(f"  ∂{wrap(self.output)}/∂{wrap(step.node)} = {terms or '1'} = "
                             f"{f(step.grad)}")  # fmt: skip
        mark = "✓" if self.matches else "✗"
        lines.append(_("  engine: {head} = {gradient} {mark}").format(
            head=head, gradient=f(self.gradient), mark=mark))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def latex(self, precision: int = 6) -> str:
        r"""An ``aligned`` LaTeX block: the symbolic chain, the rules, the numbers plugged in,
        then the result — per path, then the sum (ready for a slide or a homework).

        Example:
            >>> from autograd_bp import Value
            >>> w = Value(2.0, label="w"); z = w * 3.0; z.label = "z"
            >>> y = z.sin(); y.label = "y"
            >>> print(explain(y, w).latex(4))  # doctest: +NORMALIZE_WHITESPACE +ELLIPSIS
            \begin{aligned}
            \frac{\partial y}{\partial w} &= \frac{\partial y}{\partial z}...{\partial w} \\
            &= \cos(z) \cdot 3 \\
            &= 0.9602 \times 3 \\
            &= 2.881
            \end{aligned}
        """

        def f(x: float) -> str:
            return latex_number(f"{x:.{precision}g}")

        head = (f"\\frac{{\\partial {latex_wrapped(self.output)}}}"
                f"{{\\partial {latex_wrapped(self.wrt)}}}")  # fmt: skip
        rows: list[str] = []
        if self.paths is None:
            for step in self.steps:
                terms = " + ".join(f"{f(g)} \\times {f(d)}" for _, g, d in step.terms) or "1"
                frac = (f"\\frac{{\\partial {latex_name(self.output)}}}"
                        f"{{\\partial {latex_name(step.node)}}}")  # fmt: skip
                rows.append(f"{frac} &= {terms} = {f(step.grad)}")
        else:
            chains, rules, numbers = [], [], []
            for path in self.paths:
                parts = [fc.latex(f) for fc in path.factors]
                chains.append("\\,".join(p[0] for p in parts) or "1")
                rules.append(" \\cdot ".join(p[1] for p in parts) or "1")
                numbers.append(" \\times ".join(f(fc.value) for fc in path.factors) or "1")
            for row in (chains, rules, numbers):
                rows.append(" + ".join(_group(r, len(row)) for r in row) or "0")
            if len(self.paths) > 1:
                rows.append(" + ".join(_group(f(p.product), 2) for p in self.paths))
            rows.append(f(self.total))
            rows = [r for k, r in enumerate(rows) if k == 0 or r != rows[k - 1]]
        body = " \\\\\n".join(("" if k else head + " ") + "&= " + r if "&=" not in r else r
                              for k, r in enumerate(rows))  # fmt: skip
        return f"\\begin{{aligned}}\n{body}\n\\end{{aligned}}"

    def markdown(self, precision: int = 6) -> str:
        """Markdown for a page or a notebook: a heading line, the LaTeX block as display
        maths, and the engine check.

        Example:
            >>> from autograd_bp import Value
            >>> x = Value(0.5, label="x"); y = x.exp(); y.label = "y"
            >>> print(explain(y, x).markdown(3).splitlines()[0])
            **∂y/∂x**: 1 path from y to x
        """
        if self.paths is None:
            intro = _("{count} paths (per-node form) from {output} to {wrt}")
        else:
            intro = ngettext("{count} path from {output} to {wrt}",
                             "{count} paths from {output} to {wrt}", self.path_count)
        intro = intro.format(count=self.path_count, output=self.output, wrt=self.wrt)
        mark = (_("✓ matches the engine's gradient {gradient}.") if self.matches
                else _("✗ differs from the engine's gradient {gradient}."))  # fmt: skip
        return (
            f"**{self._head()}**: {intro}\n\n"
            f"$$\n{self.latex(precision)}\n$$\n\n"
            f"{mark.format(gradient=f'{self.gradient:.{precision}g}')}\n"
        )

    def to_dict(self) -> dict[str, Any]:
        """Structured form for JSON: paths with their factors (rule and numbers), the
        accumulations, or per-node steps."""
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
                        {"of": fc.numerator, "wrt": fc.denominator, "slot": fc.slot or None,
                         "rule": fc.rule, "numbers": fc.numbers, "value": fc.value}
                        for fc in p.factors
                    ],
                    "product": p.product,
                }
                for p in self.paths
            ],
            "accumulations": [_step_dict(s) for s in self.accumulations],
            "where": dict(self.where),
            "steps": [_step_dict(s) for s in self.steps],
        }  # fmt: skip


def _step_dict(s: NodeStep) -> dict[str, Any]:
    return {
        "node": s.node,
        "grad": s.grad,
        "terms": [{"consumer": c, "grad": g, "local": d} for c, g, d in s.terms],
    }


def _group(term: str, count: int) -> str:
    return f"\\left({term}\\right)" if count > 1 and ("+" in term or "-" in term[1:]) else term


# --- the walk -----------------------------------------------------------------------------


def explain(
    output: Value,
    wrt: Value,
    *,
    stops: list[Value] | None = None,
    max_paths: int = 256,
) -> Explanation:
    """Trace ∂output/∂wrt as a sum over paths of products of named local derivatives.

    ``stops`` chooses which intermediate nodes name a factor (default: every node, so each
    factor is one rule of the op table); the local derivatives between two stops are
    multiplied into one factor. Beyond ``max_paths`` paths, the per-node form is returned
    instead (``paths`` is None). Linear in the graph size plus the size of the listing.

    Example:
        >>> from autograd_bp import Value
        >>> w = Value(0.5, label="w"); z = (w * 2.0); z.label = "z"
        >>> print(explain(z.sigmoid(), w).text(4))  # doctest: +NORMALIZE_WHITESPACE
        ∂sigmoid(z)/∂w: 1 path from sigmoid(z) to w
          path 1: ∂sigmoid(z)/∂z · ∂z/∂w
            ∂sigmoid(z)/∂z = σ(z)·(1 − σ(z)) = 0.7311 × 0.2689 = 0.1966
            ∂z/∂w = 2
            product = 0.1966 × 2 = 0.3932
          engine: ∂sigmoid(z)/∂w = 0.3932 ✓
    """
    for what, v in [("output", output), ("wrt", wrt), *(("stops", s) for s in stops or [])]:
        if not isinstance(v, Value):
            raise TypeError(f"explain: {what} must be a Value, got {type(v).__name__} {v!r}")
    if isinstance(max_paths, bool) or not isinstance(max_paths, int) or max_paths < 0:
        raise ValueError(f"explain: max_paths must be a non-negative integer, got {max_paths!r}")
    with gc_paused():  # the walk allocates many small objects and frees none of them early
        return _explain(output, wrt, stops, max_paths)


def _explain(output: Value, wrt: Value, stops: list[Value] | None, max_paths: int) -> Explanation:
    order = backward_order(output)
    naming = graph.Naming(output, order)
    label = naming.name
    (engine_grad,) = grad(output, [wrt])
    reach = graph.reaching(order, wrt)
    stop_set = set(order) if stops is None else set(stops)
    stop_set |= {output, wrt}

    n_paths = count_paths(order, output, wrt, reach)
    common: dict[str, Any] = dict(output=label[output], wrt=label.get(wrt) or wrt.label or "wrt")
    common["where"] = []
    if not output.is_leaf and label[output] != naming.text[output][0]:  # say what f is
        common["where"] = [(label[output], naming.text[output][0])]
    common["where"] += [(label[n], naming.text[n][0]) for n in _temporaries(naming, reach)]
    if n_paths > max_paths:
        steps = explain_nodes(output, wrt, _order=order, _label=label)
        return Explanation(
            **common, gradient=engine_grad, total=steps[-1].grad if steps else 0.0,
            paths=None, path_count=n_paths, max_paths=max_paths, steps=steps,
        )  # fmt: skip

    paths = walk_paths(output, wrt, reach, stop_set, label) if n_paths else []
    accumulations = [s for s in explain_nodes(output, wrt, _order=order, _label=label)
                     if len(s.terms) > 1]  # fmt: skip
    return Explanation(
        **common, gradient=engine_grad, total=math.fsum(p.product for p in paths),
        paths=paths, path_count=len(paths), max_paths=max_paths, accumulations=accumulations,
    )  # fmt: skip


def _temporaries(naming: graph.Naming, reach: set[Value]) -> list[Value]:
    """The temporary names (t1, t2, …) a reader of the trace meets: those on the paths and
    those their definitions use, in forward order."""
    needed = {n for n in naming.bound if not n.label and n in reach}
    stack = [*needed, naming.root]
    while stack:
        for a in stack.pop().operands:
            if type(a) is Value and a in naming.bound_set and not a.label and a not in needed:
                needed.add(a)
                stack.append(a)
    return [n for n in naming.bound if n in needed]


def explain_nodes(
    output: Value,
    wrt: Value | None = None,
    *,
    _order: list[Value] | None = None,
    _label: dict[Value, str] | None = None,
) -> list[NodeStep]:
    """The per-node form, in backward order: each node's ∂output/∂node as the sum over its
    consumers. Restricted to nodes that lead to ``wrt`` when given (``wrt`` comes last).

    Example:
        >>> from autograd_bp import Value
        >>> a = Value(2.0, label="a"); b = a * a; b.label = "b"
        >>> [(s.node, s.grad) for s in explain_nodes(b, a)]
        [('b', 1.0), ('a', 4.0)]
    """
    order = backward_order(output) if _order is None else _order
    label = graph.names(output, order) if _label is None else _label
    keep = graph.reaching(order, wrt) if wrt is not None else set(order)
    terms: dict[Value, list[tuple[str, float, float]]] = {}

    def record(node: Value, slot: int, parent: Value, local: Any, g: Any, before: Any) -> None:
        if parent in keep:
            terms.setdefault(parent, []).append((label[node], g, local))

    grads = chain_rule(output, order=order, visit=record)
    return [NodeStep(label[n], grads.get(n, 0.0), terms.get(n, [])) for n in order if n in keep]
