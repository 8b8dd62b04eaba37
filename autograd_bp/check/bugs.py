"""The misconception catalogue's bugs as engines: each one a faulty variant of this package's
own forward and backward pass, built from the op table (:mod:`autograd_bp.core.rules`).

A faulty engine here is the same graph replayed with the bug's one change, as the reference
engines of ``examples/engines`` make it in learner-style code (``scripts/make_buggy_engines.py``):

* a wrong *local derivative* — the op table's rule with its ``local`` replaced (tanh's
  1 − x² of the input, exp's x, the power rule without its n, a − b's +1 for b, a / b's
  −1/b², relu passing everything);
* a wrong *walk* — ``=`` where backward must ``+=`` (the last use's share is all that is
  left), a recursive walk from the output instead of a topological order (a node's
  backward runs once per path, handing on its gradient as far as it had got), or a
  topological sort whose visited set compares nodes by value (a node equal in value to one
  already visited is never walked);
* a wrong *forward* — ``__rsub__``/``__rtruediv__`` computing the operands swapped
  (``2 - x`` as x − 2).

Every number is computed; none is typed in. ``timeout``, ``memory-limit`` and ``crash``
are not here: they are what an engine does to a process, not numbers on a graph. This
module runs only the package's own code: no learner code is loaded.

Example:
    >>> from autograd_bp import parse
    >>> f = parse("tanh(a*b)", a=0.5, b=-1.0)
    >>> run = run_engine(f, BUGS["tanh-derivative-from-input"])
    >>> ok = run_engine(f, None)
    >>> a = f.parents[0].parents[0]
    >>> round(run.grads[a], 6), round(ok.grads[a], 6)
    (-0.75, -0.786448)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.engine import Value, backward_order, chain_rule
from ..core.graph import uses
from ..core.numerics import power, recip
from ..core.rules import RULES, Rule
from ..locale import N_, _
from .catalogue import CATALOGUE
from .points import flat_operands, replay

__all__ = ["BUGS", "MAX_CALLS", "Bug", "EngineRun", "LabLimitError", "output_at", "paths",
           "run_engine", "sites"]

MAX_CALLS = 200_000  # backward calls the recursive walk may make (one per path from the output)


class LabLimitError(ValueError):
    """A graph on which a faulty engine would do more work than the lab allows."""


@dataclass(frozen=True)
class Bug:
    """One catalogue bug as an engine: its catalogue ``id``, the one ``change`` from the
    correct engine (in the learner's terms), the ``ops`` it lives in (empty for a walk
    bug), ``absent``: why a graph without such a node cannot show it, and the change
    itself: ``locals`` (op name -> the faulty local derivatives), ``walk``
    ("topological", "assign", "recursive" or "by-value") or ``swaps``."""

    id: str
    change: str
    absent: str
    ops: tuple[str, ...] = ()
    locals: Mapping[str, Callable[..., tuple[Any, ...]]] = dataclasses.field(
        default_factory=dict
    )
    formula: str = ""  # the faulty derivative, over {x} (the operand) and {y} (the other)
    walk: str = "topological"
    swaps: bool = False

    @property
    def title(self) -> str:
        """The catalogue's one-line title of this bug."""
        return CATALOGUE[self.id].title


def _pow_without_n(a: Any, b: Any, out: Any, p: Any) -> tuple[Any, ...]:
    return (power(a, b - 1.0), RULES["pow"].local(a, b, out, p)[1])


def _bugs() -> dict[str, Bug]:
    b = Bug
    return {bug.id: bug for bug in [
        b("assign-instead-of-accumulate",
          N_("backward assigns each share of a gradient (`=`) where it must add it (`+=`): "
             "a node used more than once keeps only the share written last"),
          N_("no node here is used more than once, so there is nothing to add up"),
          walk="assign"),
        b("no-topological-order",
          N_("backward recurses from the output instead of walking a topological order (each "
             "node adds its share to an input, then recurses into it): a node reached by "
             "several paths runs its backward once per path, handing on its gradient as far "
             "as it had got"),
          N_("no node here is reached by more than one path from the output, and on a tree "
             "the recursive walk is right"),
          walk="recursive"),
        b("tanh-derivative-from-input",
          N_("tanh's backward computes 1 − x² from its input x where it needs 1 − t² of its "
             "output t = tanh(x)"),
          N_("this graph has no tanh"), ("tanh",),
          {"tanh": lambda a, out, _: (1.0 - a * a,)}, "1 − {x}²"),
        b("exp-derivative-from-input",
          N_("exp's backward uses its input x where it needs its output exp(x)"),
          N_("this graph has no exp (sigmoid and softplus are ops of their own here, each "
             "with its own rule)"), ("exp",),
          {"exp": lambda a, out, _: (a,)}, "{x}"),
        b("pow-missing-exponent",
          N_("the power rule drops its factor n: d(xⁿ)/dx computed as xⁿ⁻¹"),
          N_("this graph has no power x**n"), ("pow",),
          {"pow": _pow_without_n}, "{x}^({y}−1)"),
        b("sub-sign",
          N_("a − b hands +1 back to b where ∂(a − b)/∂b is −1"),
          N_("this graph has no subtraction a − b (−x alone is negation, another op)"),
          ("sub",), {"sub": lambda a, b_, out, _: (1.0, 1.0)}, "+1"),
        b("div-derivative",
          N_("a / b hands −1/b² back to b where ∂(a/b)/∂b is −a/b² (the a is missing)"),
          N_("this graph has no division a / b"), ("div",),
          {"div": lambda a, b_, out, _: (recip(b_), -(recip(b_) * recip(b_)))}, "−1/{y}²"),
        b("relu-gate",
          N_("relu's backward passes the gradient through everywhere, also where its input "
             "is negative and it must block it"),
          N_("this graph has no relu"), ("relu",),
          {"relu": lambda a, out, _: (1.0,)}, "1"),
        b("missing-reflected-op",
          N_("__rsub__ and __rtruediv__ compute the operands swapped: 2 - x as x − 2, "
             "2 / x as x / 2"),
          N_("no number stands left of a − or a / here (2 - x, 2 / x): the reflected "
             "operators are never called"), ("sub", "div"), swaps=True),
        b("topo-by-value-equality",
          N_("the topological sort's visited set compares nodes by their value "
             "(`__eq__`/`__hash__` on data), so a node whose value equals one already "
             "visited is never walked and its gradient never reaches its inputs"),
          N_("no two nodes here hold the same value (a leaf merged with another is harmless: "
             "a leaf has nothing to pass on)"),
          walk="by-value"),
    ]}  # fmt: skip


BUGS: dict[str, Bug] = _bugs()


def _swapped(node: Value) -> bool:
    """A number on the left of ``-`` or ``/``: the node Python made with __rsub__ or
    __rtruediv__."""
    return node.op in ("sub", "div") and type(node.operands[0]) is not Value


def _operands_of(bug: Bug | None) -> Callable[[Value], tuple[Any, ...]]:
    if bug is None or not bug.swaps:
        return flat_operands

    def operands(node: Value) -> tuple[Any, ...]:
        found = flat_operands(node)
        return found[::-1] if _swapped(node) else found

    return operands


def _rules(bug: Bug | None) -> Mapping[str, Rule]:
    if bug is None or not bug.locals:
        return RULES
    changed = {op: dataclasses.replace(RULES[op], local=local) for op, local in bug.locals.items()}
    return {**RULES, **changed}


def _order_by_value(root: Value) -> tuple[list[Value], dict[Value, Value]]:
    """micrograd's ``build_topo`` with a visited set that holds *values*: the nodes it
    walks (output first) and, for each node it skips, the visited node it took it for."""
    topo: list[Value] = []
    seen: dict[float, Value] = {}
    merged: dict[Value, Value] = {}
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            topo.append(node)
            continue
        if node.data in seen:  # the bug: `v not in visited` compares by value
            if seen[node.data] is not node:
                merged.setdefault(node, seen[node.data])
            continue
        seen[node.data] = node
        stack.append((node, True))
        stack += [(p, False) for p in reversed(node.parents)]
    topo.reverse()
    return topo, merged


def paths(order: list[Value]) -> dict[Value, int]:
    """How many paths lead from the output (``order[0]``) to each node.

    Example:
        >>> from autograd_bp import parse
        >>> f = parse("x*x + x", x=1.0)
        >>> paths(backward_order(f))[f.parents[1]]
        3
    """
    count: dict[Value, int] = {order[0]: 1} if order else {}
    for node in order:
        for p in node.parents:
            count[p] = count.get(p, 0) + count.get(node, 0)
    return count


def _recursive(root: Value, local: Mapping[Value, list[float]], calls: int) -> dict:
    """microgpt's recursive ``_backprop`` — for each input: ``child.grad += local *
    self.grad``, then ``child._backprop()`` — without Python's recursion limit (an explicit
    stack of the same calls, in the same order)."""
    if calls > MAX_CALLS:
        raise LabLimitError(_("the recursive walk would run a backward {calls} times on this "
                              "graph (once per path from the output); the lab stops at "
                              "{limit}").format(calls=f"{calls:,}", limit=f"{MAX_CALLS:,}"))
    grads: dict[Value, float] = {root: 1.0}
    stack = [(root, iter(zip(root.parents, local.get(root, ()))))]
    while stack:
        node, inputs = stack[-1]
        step = next(inputs, None)
        if step is None:
            stack.pop()
            continue
        child, d = step
        grads[child] = grads.get(child, 0.0) + d * grads[node]
        stack.append((child, iter(zip(child.parents, local.get(child, ())))))
    return grads


def _assigning(order: list[Value], root: Value, local: Mapping[Value, list[float]]) -> dict:
    """The topological walk with ``parent.grad = local * grad``: the last write wins."""
    grads: dict[Value, float] = {root: 1.0}
    for node in order:
        g = grads.get(node)
        if g is None:
            continue
        for p, d in zip(node.parents, local.get(node, ())):
            grads[p] = d * g
    return grads


@dataclass
class EngineRun:
    """One engine's pass over a graph: every node's ``values``, its ``local`` derivatives,
    ``grads`` (∂output/∂node; 0.0 where the walk never wrote one) and, for the by-value
    walk, the nodes it ``merged`` (skipped node -> the node it was taken for)."""

    values: dict[Value, float]
    local: dict[Value, list[float]]
    grads: dict[Value, float]
    merged: dict[Value, Value] = dataclasses.field(default_factory=dict)


def output_at(order: list[Value], bug: Bug | None, leaves: Mapping[Value, float]) -> float:
    """The output's value (``order[0]``) by the engine of ``bug`` (None: this package's)
    with some leaves moved: what central differences of that engine's forward read.

    Example:
        >>> from autograd_bp import parse
        >>> f = parse("2 - x", x=5.0)
        >>> output_at(backward_order(f), BUGS["missing-reflected-op"], {})
        3.0
    """
    return replay(order, leaves, rules=_rules(bug), operands_of=_operands_of(bug))[0][order[0]]


def run_engine(root: Value, bug: Bug | None, order: list[Value] | None = None) -> EngineRun:
    """The forward and backward pass over ``root``'s graph by this package's engine
    (``bug`` None: the op table's rules and the core's chain-rule walker) or by the faulty
    engine of ``bug``. The nodes themselves are not touched."""
    order = backward_order(root) if order is None else order
    values, local = replay(order, {}, rules=_rules(bug), operands_of=_operands_of(bug))
    walk = "topological" if bug is None else bug.walk
    merged: dict[Value, Value] = {}
    walked = order
    if walk == "assign":
        grads = _assigning(order, root, local)
    elif walk == "recursive":
        grads = _recursive(root, local, sum(paths(order).values()))
    else:
        if walk == "by-value":
            walked, merged = _order_by_value(root)
        grads = chain_rule(root, order=walked, locals_of=lambda node: local[node])
    full = {node: float(grads.get(node, 0.0)) for node in order}
    return EngineRun(values, local, full, merged)


def sites(bug: Bug, order: list[Value], run: EngineRun) -> list[Value]:
    """The nodes of the graph where ``bug`` acts: its op's nodes, the nodes used more than
    once, the nodes reached by several paths, the swapped reflected nodes, the nodes merged
    by value. None: the graph cannot show the bug, whatever the values.

    Example:
        >>> from autograd_bp import parse
        >>> f = parse("x*y", x=1.0, y=2.0)
        >>> sites(BUGS["sub-sign"], backward_order(f), run_engine(f, None))
        []
    """
    if bug.swaps:
        return [n for n in order if _swapped(n)]
    if bug.ops:
        return [n for n in order if n.op in bug.ops]
    if bug.walk == "assign":
        return [n for n, k in uses(order).items() if k > 1]
    if bug.walk == "recursive":
        return [n for n, k in paths(order).items() if k > 1 and not n.is_leaf]
    return [n for n in run.merged if not n.is_leaf]
