"""The misconception lab: a graph run by a faulty engine (one bug of the catalogue,
:mod:`autograd_bp.check.bugs`) beside this package's engine — the nodes whose gradients
differ and why, central differences failing on the faulty engine and passing on ours, and a
"predict, then run" mode (``autograd-bp lab``, docs/lab.md).

The lab runs only this package's code (no learner code), so the playground may offer it.

Example:
    >>> from autograd_bp import parse
    >>> f = parse("tanh(a*b) + a", a=0.5, b=-1.0)
    >>> report = run_lab(f, "tanh-derivative-from-input", wrt="a", prediction=0.25)
    >>> [d.name for d in report.differing], report.prediction.matched
    (['a*b', 'b', 'a'], 'buggy')
    >>> report.gradcheck["buggy"].passed, report.gradcheck["correct"].passed
    (False, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.engine import Value, backward_order
from ..core.graph import names as graph_names
from ..core.rules import RULES
from ..core.walk import has_closure
from ..locale import _
from .battery import is_close
from .bugs import BUGS, Bug, EngineRun, LabLimitError, output_at, paths, run_engine, sites
from .catalogue import CATALOGUE
from .derivation import Problem, half_unit, number_claim
from .gradcheck import GradcheckReport, GradcheckRow

__all__ = ["MAX_GRADCHECK_INPUTS", "Lab", "LabError", "LabReport",
           "NodeDiff", "Prediction", "bug_list", "run_lab"]  # fmt: skip

MAX_GRADCHECK_INPUTS = 64  # inputs checked by central differences (those that differ first)
SHOWN = 30  # differing nodes the text lists (the JSON has them all)


class LabError(ValueError):
    """Bad input to the lab: an unknown bug id, a name not in the graph."""


def bug_list() -> list[tuple[str, str]]:
    """``(id, one-line description)`` of every bug the lab can run, in catalogue order.

    Example:
        >>> bug_list()[0]
        ('assign-instead-of-accumulate', '`=` where backward must `+=`')
    """
    return [(bug.id, _(bug.title)) for bug in BUGS.values()]


def _bug(bug_id: str) -> Bug:
    if bug_id in BUGS:
        return BUGS[bug_id]
    why = (_(" (it is graded by `autograd-bp grade`, but it is no number on a graph)")
           if bug_id in CATALOGUE else "")  # fmt: skip
    raise LabError(_("--bug: unknown bug {bug!r}{why}; choose one of: {ids}").format(
        bug=bug_id, why=why, ids=", ".join(BUGS)))


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _same(x: float, y: float) -> bool:
    return (math.isnan(x) and math.isnan(y)) or is_close(x, y)


@dataclass(frozen=True)
class NodeDiff:
    """A node the two engines disagree on: its ``name``, the faulty engine's number, this
    package's, and ``why`` in the learner's terms (``inherited`` when it only passes on a
    difference from a node above it)."""

    name: str
    buggy: float
    correct: float
    why: str
    inherited: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "buggy": self.buggy, "correct": self.correct,
                "why": self.why, "inherited": self.inherited}  # fmt: skip


@dataclass(frozen=True)
class Prediction:
    """The learner's ``predicted`` ∂output/∂``wrt`` and what it ``matched``, to the digits
    written (within ``tolerance``, half a unit in the last digit, as ``check`` reads a number
    claim): ``buggy``, ``correct``, ``both`` or ``neither``."""

    wrt: str
    predicted: float
    buggy: float
    correct: float
    matched: str
    tolerance: float

    def to_dict(self) -> dict[str, Any]:
        return {"wrt": self.wrt, "predicted": self.predicted, "buggy": self.buggy,
                "correct": self.correct, "matched": self.matched,
                "tolerance": self.tolerance}  # fmt: skip


@dataclass
class LabReport:
    """What the lab found (see docs/lab.md for the JSON keys)."""

    bug: Bug
    description: str
    output: str
    value: tuple[float, float]  # the output's value: faulty engine, this engine
    sites: list[str]
    differing: list[NodeDiff]
    values_differ: list[NodeDiff]
    reason: str | None
    gradcheck: dict[str, GradcheckReport]
    inputs: int  # the graph's inputs (leaves); gradcheck checked at most MAX_GRADCHECK_INPUTS
    prediction: Prediction | None = None

    @property
    def exposed(self) -> bool:
        """Whether any node's value or gradient differs between the two engines."""
        return bool(self.differing or self.values_differ)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {
            "bug": {"id": self.bug.id, "title": _(self.bug.title),
                    "message": _(CATALOGUE[self.bug.id].message), "change": _(self.bug.change)},
            "graph": self.description, "output": self.output,
            "value": {"buggy": self.value[0], "correct": self.value[1]},
            "exposed": self.exposed, "reason": self.reason, "sites": self.sites,
            "differing": [d.to_dict() for d in self.differing],
            "values_differ": [d.to_dict() for d in self.values_differ],
            "gradcheck": {k: r.to_dict() for k, r in self.gradcheck.items()},
            "inputs": self.inputs,
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
        }  # fmt: skip

    def text(self) -> str:
        """The report for people."""
        lines = [_("bug {id}: {title}").format(id=self.bug.id, title=_(self.bug.title)),
                 _("  the one change: {change}").format(change=_(self.bug.change))]
        if self.description:
            lines.insert(0, _("lab: {graph}").format(graph=self.description))
        if self.prediction is not None:
            lines += _prediction_lines(self.prediction, self.output)
        lines += self._difference_lines()
        lines += self._gradcheck_lines()
        return "\n".join(lines)

    def _difference_lines(self) -> list[str]:
        if not self.exposed:
            return [_("no node differs: {reason}").format(reason=self.reason)]
        lines = []
        if self.values_differ:
            lines.append(_("values that differ (faulty engine vs this engine):"))
            lines += [f"  {d.name}: {_fmt(d.buggy)} vs {_fmt(d.correct)} — {d.why}"
                      for d in self.values_differ[:SHOWN]]  # fmt: skip
        lines.append(_("nodes whose gradient ∂{out}/∂node differs (faulty engine vs this "
                       "engine): {n}").format(out=self.output, n=len(self.differing)))
        lines += [f"  {d.name}: {_fmt(d.buggy)} vs {_fmt(d.correct)} — {d.why}"
                  for d in self.differing[:SHOWN]]  # fmt: skip
        if len(self.differing) > SHOWN:
            lines.append(_("  … and {n} more (--json lists them all)").format(
                n=len(self.differing) - SHOWN))
        return lines

    def _gradcheck_lines(self) -> list[str]:
        checked = len(self.gradcheck["correct"].rows)
        lines = [_("gradcheck (central differences of each engine's own forward pass, "
                   "{checked} of {inputs} inputs):").format(checked=checked, inputs=self.inputs)]
        for key, who in (("buggy", _("faulty engine")), ("correct", _("this engine"))):
            report = self.gradcheck[key]
            rows = [r for r in report.rows if not r.note]
            failed = sum(not r.ok for r in rows)
            verdict = _("PASS") if report.passed else _("FAIL")
            if not rows:
                verdict = _("not checked")
            lines.append(_("  {who}: {verdict} ({failed} of {checked} inputs off; largest "
                           "error {error})").format(who=who, verdict=verdict, failed=failed,
                                                    checked=len(rows),
                                                    error=f"{report.max_error:.2e}"))
        lines += [f"  {r.note}" for r in self.gradcheck["correct"].rows if r.note]
        if self.gradcheck["buggy"].passed and self.values_differ:
            lines.append(_("  the faulty engine's gradients are right for the function it "
                           "computes: its forward pass is what is wrong"))
        return lines


def _prediction_lines(p: Prediction, output: str) -> list[str]:
    said = {
        "buggy": _("your prediction matches the faulty engine: you saw what the bug does"),
        "correct": _("your prediction matches the correct engine, not the faulty one: the "
                     "bug changes this gradient"),
        "both": _("your prediction matches both: the bug does not change this gradient")
        if _same(p.buggy, p.correct) else _("your prediction matches both to the digits you "
                                             "wrote: write more digits to tell them apart"),
        "neither": _("your prediction matches neither engine"),
    }[p.matched]
    return [_("prediction for ∂{out}/∂{wrt}: yours {mine}, the faulty engine's {buggy}, this "
              "engine's {correct}").format(out=output, wrt=p.wrt, mine=_fmt(p.predicted),
                                           buggy=_fmt(p.buggy), correct=_fmt(p.correct)),
            "  " + said]  # fmt: skip


class Lab:
    """One lab run, prepared: the graph, its names, the bug and the gradient a learner
    predicts (``wrt``, default: the graph's first input). :meth:`question` is what to ask
    before :meth:`run`.

    Example:
        >>> from autograd_bp import parse
        >>> lab = Lab(parse("x*x", x=3.0), "assign-instead-of-accumulate")
        >>> lab.question()
        'Under the bug assign-instead-of-accumulate, what will the faulty engine give for ∂f/∂x?'
        >>> lab.run(prediction=3.0).prediction.matched
        'buggy'
    """

    def __init__(self, graph: Problem | Value, bug: str, *, wrt: str | None = None,
                 description: str = "") -> None:  # fmt: skip
        self.bug = _bug(bug)
        problem = graph if isinstance(graph, Problem) else Problem(graph, {})
        self.root = problem.output
        self.order = backward_order(self.root)
        if any(has_closure(n) for n in self.order):
            raise LabError(_("the graph has a node made micrograd-style, with a _backward "
                             "closure: the lab replays each node by its rule in the op table, "
                             "and such a node has none"))
        self.names = _display_names(self.root, self.order, problem.names)
        leaves = [n for n in reversed(self.order) if n.is_leaf]
        in_graph = set(leaves)
        named = list(dict.fromkeys(b for b in problem.names.values()  # the problem's order:
                                   if isinstance(b, Value) and b in in_graph))  # w1 first
        first = set(named)
        self.inputs = named + [n for n in leaves if n not in first]
        self.description = description or problem.description
        self.wrt = self._node(wrt) if wrt is not None else (self.inputs[0] if self.inputs else None)
        self.consumers: dict[Value, list[tuple[Value, int]]] = {}  # node -> (consumer, slot)
        for u in self.order:
            for k, p in enumerate(u.parents):
                self.consumers.setdefault(p, []).append((u, k))
        self.paths = paths(self.order) if self.bug.walk == "recursive" else {}

    def _node(self, name: str) -> Value:
        found = [n for n in self.order if self.names[n] == name]
        if not found:
            known = ", ".join(self.names[n] for n in self.inputs)
            raise LabError(_("--wrt: {name!r} is not a node of this graph; its inputs are: "
                             "{known}").format(name=name, known=known))
        return found[0]

    def question(self) -> str:
        """The "predict, then run" question for the learner."""
        wrt = self.names[self.wrt] if self.wrt is not None else "?"
        return _("Under the bug {bug}, what will the faulty engine give for ∂{out}/∂{wrt}?"
                 ).format(bug=self.bug.id, out=self.names[self.root], wrt=wrt)

    def run(self, prediction: float | str | None = None) -> LabReport:
        """Both engines over the graph, compared node by node; gradcheck on each. A
        ``prediction`` (a number, or its text as typed) is matched to the digits written."""
        try:
            buggy = run_engine(self.root, self.bug, self.order)
        except LabLimitError:
            raise
        except (ArithmeticError, ValueError) as e:  # the faulty forward left an op's domain
            raise LabError(_("the faulty engine's forward pass fails on this graph ({change}): "
                             "{error}; try other values").format(change=_(self.bug.change),
                                                                  error=e)) from None
        correct = run_engine(self.root, None, self.order)
        differing = [self._diff(n, buggy, correct) for n in self.order
                     if n is not self.root and not _same(buggy.grads[n], correct.grads[n])]
        values = [NodeDiff(self.names[n], buggy.values[n], correct.values[n],
                           self._value_why(n, buggy, correct))
                  for n in self.order if not _same(buggy.values[n], correct.values[n])]
        found = sites(self.bug, self.order, buggy)
        reason = None if differing or values else self._reason(found)
        differs = {n for n in self.inputs if not _same(buggy.grads[n], correct.grads[n])}
        chosen = sorted(self.inputs, key=lambda n: n not in differs)[:MAX_GRADCHECK_INPUTS]
        checks = {"buggy": self._gradcheck(buggy, self.bug, chosen),
                  "correct": self._gradcheck(correct, None, chosen)}
        out = self.root
        return LabReport(self.bug, self.description, self.names[out],
                         (buggy.values[out], correct.values[out]),
                         [self.names[n] for n in found], differing, values, reason, checks,
                         len(self.inputs), self._prediction(prediction, buggy, correct))

    def _prediction(self, given: float | str | None, buggy: EngineRun,
                    correct: EngineRun) -> Prediction | None:  # fmt: skip
        if given is None or self.wrt is None:
            return None
        written = number_claim(given if isinstance(given, str) else repr(float(given)))
        if written is None:
            raise LabError(_("--prediction: must be a finite number, got {x!r}").format(
                x=given))
        predicted, tolerance = float(written), half_unit(written) * 1.000001  # float slack
        b, c = buggy.grads[self.wrt], correct.grads[self.wrt]
        hit = (abs(predicted - b) <= tolerance, abs(predicted - c) <= tolerance)
        matched = {(True, True): "both", (True, False): "buggy", (False, True): "correct",
                   (False, False): "neither"}[hit]  # fmt: skip
        return Prediction(self.names[self.wrt], predicted, b, c, matched, tolerance)

    def _gradcheck(self, run: EngineRun, bug: Bug | None, inputs: list[Value]) -> GradcheckReport:
        """Central differences of the engine's own forward pass against its gradients."""
        rows = []
        for leaf in inputs:
            x = run.values[leaf]
            h = 1e-6 * max(1.0, abs(x))
            analytic = run.grads[leaf]
            try:
                up = output_at(self.order, bug, {leaf: x + h})
                down = output_at(self.order, bug, {leaf: x - h})
            except (ArithmeticError, ValueError):  # DomainError is a ValueError
                note = _("{name} = {x} is at the edge of the domain: central differences need "
                         "the output at {name} ± {h}, where it is undefined").format(
                    name=self.names[leaf], x=f"{x:g}", h=f"{h:g}")
                rows.append(GradcheckRow(self.names[leaf], analytic, math.nan, math.nan, False,
                                         note))
                continue
            numeric = (up - down) / (2 * h)
            error = abs(analytic - numeric)
            ok = math.isfinite(error) and error <= 1e-6 + 1e-4 * abs(numeric)
            rows.append(GradcheckRow(self.names[leaf], analytic, numeric, error, ok))
        checked = [r for r in rows if not r.note]  # the verdict is on what could be checked
        return GradcheckReport(rows, bool(checked) and all(r.ok for r in checked))

    def _reason(self, found: list[Value]) -> str:
        if not found:
            return _(self.bug.absent)
        where = ", ".join(f"`{self.names[n]}`" for n in found[:5])
        return _("the bug acts at {where} here, but at these values it gives the same "
                 "numbers (try other values)").format(where=where)

    def _value_why(self, node: Value, buggy: EngineRun, correct: EngineRun) -> str:
        if node in sites(self.bug, [node], buggy):
            return _("computed with its operands swapped ({text})").format(
                text=_swapped_text(node, self.names))
        return _("computed from a value that already differs")

    def _diff(self, node: Value, buggy: EngineRun, correct: EngineRun) -> NodeDiff:
        b, c = buggy.grads[node], correct.grads[node]
        consumers = self.consumers.get(node, [])
        why = self._origin(node, consumers, buggy, correct)
        if why is not None:
            return NodeDiff(self.names[node], b, c, why)
        wrong = [u for u, _k in consumers if not _same(buggy.grads[u], correct.grads[u])]
        if wrong:
            u = wrong[0]
            why = _("inherited: its consumer `{node}` already has a different gradient ({b} "
                    "instead of {c})").format(node=self.names[u], b=_fmt(buggy.grads[u]),
                                              c=_fmt(correct.grads[u]))
        else:
            why = self._from_values(consumers, buggy, correct)
        return NodeDiff(self.names[node], b, c, why, inherited=True)

    def _from_values(self, consumers: list[tuple[Value, int]], buggy: EngineRun,
                     correct: EngineRun) -> str:  # fmt: skip
        """Why a node differs whose consumers' gradients agree: a local derivative read
        from a value the faulty forward pass got wrong."""
        for u, _k in consumers:
            for p in u.parents:
                if not _same(buggy.values[p], correct.values[p]):
                    return _("its consumer `{node}` hands back a local derivative read from "
                             "`{other}`, whose value differs ({b} instead of {c})").format(
                        node=self.names[u], other=self.names[p], b=_fmt(buggy.values[p]),
                        c=_fmt(correct.values[p]))
        return _("a value it depends on differs")

    def _origin(self, node: Value, consumers: list[tuple[Value, int]], buggy: EngineRun,
                correct: EngineRun) -> str | None:  # fmt: skip
        """Why ``node`` differs when the bug acts on one of its edges; None if inherited."""
        bug, names = self.bug, self.names
        if bug.walk == "assign" and len(consumers) > 1:
            return _("used {n} times: each use wrote its share with `=`, so the share written "
                     "last, {b}, replaced the sum {c}").format(
                n=len(consumers), b=_fmt(buggy.grads[node]), c=_fmt(correct.grads[node]))
        for u, k in consumers:
            d_bug, d_ok = buggy.local[u][k], correct.local[u][k]
            if self.paths.get(u, 1) > 1:
                return _("its consumer `{node}` is reached by {n} paths from the output: the "
                         "recursive walk ran its backward {n} times, each time handing on its "
                         "gradient as far as it had got").format(node=names[u], n=self.paths[u])
            if u in buggy.merged:
                return _("its consumer `{node}` holds {value}, the value of `{other}`: the "
                         "visited set took one for the other, so the backward of `{node}` "
                         "never ran").format(node=names[u], value=_fmt(u.data),
                                             other=names[buggy.merged[u]])
            if bug.swaps and u in sites(bug, [u], buggy):
                return _("its consumer `{node}` was computed with its operands swapped "
                         "({text}): it hands back {b} where the rule gives {c}").format(
                    node=names[u], text=_swapped_text(u, names), b=_fmt(d_bug), c=_fmt(d_ok))
            if bug.locals and u.op in bug.locals and not _same(d_bug, d_ok):
                return _edge_why(bug, u, node, k, d_bug, d_ok, names)
        return None


def _operand_names(node: Value, names: Mapping[Value, str], grouped: bool = False) -> list[str]:
    """The node's operands by name (numbers as numbers); ``grouped``: a name that is an
    expression in parentheses, so that it can stand inside a formula (``1 − (a*b)²``)."""
    found = [names[a] if type(a) is Value else _fmt(a) for a in node.operands]
    if grouped:
        found = [t if t.isidentifier() or _is_number(t) else f"({t})" for t in found]
    return found


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _edge_why(bug: Bug, u: Value, node: Value, k: int, d_bug: float, d_ok: float,
              names: Mapping[Value, str]) -> str:  # fmt: skip
    """`tanh(z)` hands back 1 − z² = … where the rule 1 − tanh²(z) gives …"""
    operands = _operand_names(u, names, grouped=True)
    slot = [i for i, a in enumerate(u.operands) if type(a) is Value][k]
    keys = dict(zip(("x", "y"), operands))
    rule = RULES[u.op].derivative(slot, "text", **keys, out=names[u])
    for text in operands:  # a function's template has its own parentheses: tanh²((a*b))
        rule = rule.replace(f"({text})", text) if text.startswith("(") else rule
    wrong = bug.formula
    for key, text in keys.items():
        wrong = wrong.replace("{" + key + "}", text)
    if wrong == bug.formula:  # a constant: its value says nothing more
        return _("`{node}` hands back {wrong} where the rule says {rule}").format(
            node=names[u], wrong=wrong, rule=rule)
    return _("`{node}` hands back {wrong} = {b} where the rule {rule} gives {c}").format(
        node=names[u], wrong=wrong, b=_fmt(d_bug), rule=rule, c=_fmt(d_ok))


def _swapped_text(node: Value, names: Mapping[Value, str]) -> str:
    c, x = _operand_names(node, names)
    symbol = RULES[node.op].symbol
    return f"{c} {symbol} {x} → {x} {symbol} {c}"


def _display_names(root: Value, order: list[Value], given: Mapping[str, Any]) -> dict[Value, str]:
    """A name per node: the problem's name for it (the first given), else its label, else
    its infix text; an unnamed output is f, as ``autograd-bp grad`` calls it."""
    out = graph_names(root, order)
    for name, bound in reversed(list(given.items())):
        if isinstance(bound, Value):
            out[bound] = name
    if not root.label and not root.is_leaf and root not in given.values():
        out[root] = "f"
    return out


def run_lab(graph: Problem | Value, bug: str, *, wrt: str | None = None,
            prediction: float | str | None = None, description: str = "") -> LabReport:
    """Run ``graph`` (a :class:`~autograd_bp.check.derivation.Problem` or the output
    Value) under the catalogue bug ``bug`` beside this package's engine; with
    ``prediction``, grade the learner's prediction of ∂output/∂``wrt``."""
    return Lab(graph, bug, wrt=wrt, description=description).run(prediction)
