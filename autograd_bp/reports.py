"""The JSON documents ``autograd-bp grad --json`` and ``check --json`` print, built in one
place so the command line and the playground's API (``autograd-bp serve``) cannot drift.

Example:
    >>> r = grad_report("x*x*y", {"x": 3.0, "y": 2.0})
    >>> r.to_dict()["gradients"]
    {'x': 12.0, 'y': 9.0}
    >>> check_report("x*x*y", {"x": 3.0, "y": 2.0}, "x", "2*x*y").verdict
    'correct'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .check.gradcheck import gradcheck
from .core.engine import Value, backward_order
from .lang.expr import (
    CONSTANTS,
    MAX_LENGTH,
    ExpressionError,
    check_values,
    output_name,
    parse,
    variables,
)
from .lang.symbolic import derivative, sympy_module
from .locale import N_, _
from .show.explain import explain, latex_name

__all__ = ["FORMATS", "GradReport", "GradedReport", "InputError", "check_report",
           "expression_graph", "grad_report", "lab_bugs", "lab_report"]  # fmt: skip

FORMATS = ("text", "latex", "markdown")


class InputError(ValueError):
    """A request names something the expression does not have: ``field`` is the option
    (``wrt``, ``explain``) the command line writes as ``--wrt``."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field, self.detail = field, detail


MAX_STEPS = 200  # named steps in one program
_STEP = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)\Z", re.S)


def program_steps(text: str) -> list[tuple[str, str]] | None:
    """``NAME = EXPRESSION`` lines (or ``;``-separated) as named steps, the last one the
    output; None when ``text`` is a single expression.

    Example:
        >>> program_steps("z = w*x + b; a = sigmoid(z)")
        [('z', 'w*x + b'), ('a', 'sigmoid(z)')]
        >>> program_steps("sigmoid(w*x + b)") is None
        True
    """
    lines = [line for line in re.split(r"[\n;]", text) if line.strip()]
    if not any(_STEP.match(line) for line in lines):
        return None
    if len(text) > MAX_LENGTH or len(lines) > MAX_STEPS:
        raise ExpressionError(_("a program is limited to {steps} steps and {length} characters; "
                                "this one has {count} and {chars}").format(
            steps=MAX_STEPS, length=MAX_LENGTH, count=len(lines), chars=len(text)))  # fmt: skip
    steps: list[tuple[str, str]] = []
    for k, line in enumerate(lines, 1):
        match = _STEP.match(line)
        if match is None:
            raise ExpressionError(_("step {k}: expected NAME = EXPRESSION, got {text}").format(
                k=k, text=repr(line.strip())))
        name, body = match.group(1), match.group(2).strip()
        if name in CONSTANTS or name in dict(steps):
            raise ExpressionError(_("step {k}: {name} is already a name; choose another").format(
                k=k, name=repr(name)))
        steps.append((name, body))
    return steps


def program_variables(text: str) -> list[str]:
    """The variables of an expression or a program (names no step defines), in order of
    first appearance.

    Example:
        >>> program_variables("z = w*x + b; a = sigmoid(z)*w")
        ['w', 'x', 'b']
    """
    steps = program_steps(text)
    if steps is None:
        return variables(text)
    defined, out = set(), []
    for name, body in steps:
        out += [v for v in variables(body) if v not in defined and v not in out]
        defined.add(name)
    return out


def _program(text: str, values: Mapping[str, Any]) -> Any:
    from .check.problems import program_problem

    steps = program_steps(text)
    assert steps is not None
    wanted = program_variables(text)
    check_values(wanted, values, N_("program"))
    return program_problem(steps, {n: values[n] for n in wanted})


def expression_graph(expression: str, values: Mapping[str, Any]) -> Value:
    """The expression's graph, its output named the one way every command names it
    (``f``; see :func:`autograd_bp.lang.expr.output_name`) — in grad, steps, check and the
    playground alike. A program of named steps (``z = w*x + b; a = sigmoid(z)``) names each
    step's node and the output after its last step. Only the expression language's parser
    (:func:`autograd_bp.lang.expr.parse`) reads the text.

    Example:
        >>> expression_graph("a*b", {"a": 2, "b": 3}).label
        'f'
        >>> expression_graph("z = a*b; y = z*z", {"a": 2, "b": 3}).data
        36.0
    """
    if program_steps(expression) is not None:
        return _program(expression, values).output
    root = parse(expression, **values)
    if not root.is_leaf:
        root.label = output_name(expression)
    return root


def leaves_by_name(root: Value, expression: str) -> dict[str, Value]:
    """The expression's variables (in order of appearance) and their leaf nodes."""
    found = {n.label: n for n in reversed(backward_order(root)) if n.is_leaf and n.label}
    return {name: found[name] for name in program_variables(expression) if name in found}


@dataclass
class GradReport:
    """What ``grad`` computed: the graph, its leaves and the document's parts (some still
    objects: an :class:`~autograd_bp.show.explain.Explanation`, a gradcheck report)."""

    root: Value
    leaves: dict[str, Value]
    wrt: list[str]
    doc: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """False only when a gradient check ran and failed."""
        return "check" not in self.doc or bool(self.doc["check"].passed)

    def to_dict(self, fmt: str = "text", precision: int = 6) -> dict[str, Any]:
        """Exactly what ``autograd-bp grad --json`` prints (before strict-JSON encoding)."""
        out = {k: v.to_dict() if hasattr(v, "to_dict") else v for k, v in self.doc.items()}
        if "explain" in out and fmt != "text":
            out["explain"][fmt] = getattr(self.doc["explain"], fmt)(precision)
        return out


def grad_report(
    expression: str,
    values: Mapping[str, Any],
    *,
    wrt: Sequence[str] | None = None,
    explain_wrt: str | None = None,
    formula: bool = False,
    fmt: str = "text",
    check: bool = False,
) -> GradReport:
    """The value and gradients of ``expression`` at ``values``; with ``explain_wrt`` the
    chain-rule trace, with ``formula`` SymPy's formulas, with ``check`` central differences.

    Example:
        >>> grad_report("x*2", {"x": 1.0}, wrt=["q"])
        Traceback (most recent call last):
        ...
        autograd_bp.reports.InputError: wrt: 'q' is not a variable of the expression
    """
    root = expression_graph(expression, values)
    root.backward()
    leaves = leaves_by_name(root, expression)
    names = list(leaves) if wrt is None else [w.strip() for w in wrt if w.strip()]
    for name in names:
        if name not in leaves:
            raise InputError("wrt", _("{name} is not a variable of the expression").format(
                name=repr(name)))  # fmt: skip
    report = GradReport(root, leaves, names)
    report.doc = {
        "expression": expression,
        "output": root.label or expression,
        "value": root.data,
        "gradients": {n: leaves[n].grad for n in names},
    }
    if explain_wrt is not None:
        if explain_wrt not in leaves:
            raise InputError("explain", _("{name} is not a variable of the expression").format(
                name=repr(explain_wrt)))  # fmt: skip
        report.doc["explain"] = explain(root, leaves[explain_wrt])  # one factor per op
    if formula:
        report.doc["formulas"] = formulas(root, {n: leaves[n] for n in names}, fmt)
    if check:
        order = list(leaves)
        report.doc["check"] = gradcheck(
            lambda *vs: expression_graph(expression, dict(zip(order, vs))),
            [leaves[n] for n in order],
        )
    return report


def formulas(root: Value, leaves: Mapping[str, Value], fmt: str) -> dict[str, str]:
    """Each partial derivative's formula (SymPy, from the op table), one line per variable."""
    sp = sympy_module()
    out = {}
    for name, leaf in leaves.items():
        expr = derivative(root, leaf)
        if fmt == "text":
            out[name] = f"  ∂{root.label}/∂{name} = {sp.sstr(expr)}"
            continue
        tex = (f"\\frac{{\\partial {latex_name(root.label)}}}{{\\partial {latex_name(name)}}} "
               f"= {sp.latex(expr)}")  # fmt: skip
        out[name] = f"$$ {tex} $$" if fmt == "markdown" else tex
    return out


def expression_problem(expression: str, values: Mapping[str, Any]) -> Any:
    """The derivation :class:`~autograd_bp.check.derivation.Problem` of an expression: its
    output (named ``f`` when unnamed) and every labelled node as a name a claim may use."""
    from .check.derivation import Problem, default_names

    if program_steps(expression) is not None:
        return _program(expression, values)
    root = expression_graph(expression, values)
    return Problem(root, default_names(root))


def check_report(
    problem: Any,
    values: Mapping[str, Any] | None,
    wrt: str,
    claim: str,
    *,
    points: int = 50,
    seed: int = 0,
) -> GradedReport:
    """The verdict on ``claim`` as a :class:`GradedReport`, whose ``to_dict()`` is exactly
    what ``autograd-bp check --json`` prints: ``problem`` is an expression (with its
    ``values``) or a ready :class:`~autograd_bp.check.derivation.Problem` (then no expression
    is named)."""
    from .check.derivation import check_derivation

    if not isinstance(problem, str):
        return GradedReport(check_derivation(problem, wrt, claim, points=points, seed=seed))
    given = dict(values or {})
    report = check_derivation(expression_problem(problem, given), wrt, claim, points=points,
                              seed=seed)  # fmt: skip
    return GradedReport(report, problem, {n: float(v) for n, v in given.items()})


@dataclass
class GradedReport:
    """A :class:`~autograd_bp.check.derivation.DerivationReport` with the f it graded (an
    expression or a program, and its point; None for a graph that has no text, such as the
    worked example) and where the f came from (``source``, e.g. an exercise). Every field of
    the report reads through (``verdict``, ``engine``, ``diagnosis``, …).

    Example:
        >>> r = check_report("x*y", {"x": 1, "y": 2}, "x", "y")
        >>> r.verdict, r.to_dict()["expression"], r.text().splitlines()[0]
        ('correct', 'x*y', 'graded: f = x*y   at x = 1, y = 2')
    """

    report: Any
    expression: str | None = None
    values: dict[str, float] | None = None
    source: str = ""

    def __getattr__(self, name: str) -> Any:
        if name == "report":  # not set yet (copy, unpickling): no endless lookup
            raise AttributeError(name)
        return getattr(self.report, name)

    def __bool__(self) -> bool:
        return bool(self.report)

    def to_dict(self) -> dict[str, Any]:
        """The report's keys, then ``expression``, ``values`` and ``wrt``."""
        return {**self.report.to_dict(), "expression": self.expression, "values": self.values,
                "wrt": self.report.wrt}  # fmt: skip

    def text(self, precision: int = 9) -> str:
        """A line naming the f and its point (when there is an expression), then the report."""
        return self.graded_line() + self.report.text(precision)

    def graded_line(self) -> str:
        """``graded: f = x*y   at x = 1, y = 2`` and a newline, or "" without an expression."""
        if self.expression is None:
            return ""
        named = self.expression if program_steps(self.expression) else \
            f"{self.report.output} = {self.expression}"  # fmt: skip
        at = ", ".join(f"{n} = {shortest(v)}" for n, v in (self.values or {}).items())
        source = _("{source}: ").format(source=self.source) if self.source else ""
        where = _("   at {values}").format(values=at) if at else ""
        return _("graded: {source}{named}").format(source=source, named=named) + where + "\n"


def shortest(v: float) -> str:
    """The shortest text that reads back as ``v``.

    Example:
        >>> shortest(3.0), shortest(0.1), shortest(-2.5e-10)
        ('3', '0.1', '-2.5e-10')
    """
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def lab_report(expression: str, values: Mapping[str, Any], bug: str, *, wrt: str | None = None,
               prediction: float | None = None) -> dict[str, Any]:
    """What ``autograd-bp lab EXPRESSION NAME=VALUE… --bug BUG --json`` prints (the
    misconception lab, :func:`autograd_bp.check.lab.run_lab`), plus ``expression`` and
    ``values``: the playground's ``POST /api/lab``.

    Example:
        >>> doc = lab_report("a*a", {"a": 3}, "assign-instead-of-accumulate")
        >>> [(d["name"], d["buggy"], d["correct"]) for d in doc["differing"]]
        [('a', 3.0, 6.0)]
    """
    from .check.lab import run_lab

    report = run_lab(expression_problem(expression, values), bug, wrt=wrt, prediction=prediction)
    return {**report.to_dict(), "expression": expression,
            "values": {n: float(v) for n, v in values.items()}}  # fmt: skip


def lab_bugs() -> list[dict[str, str]]:
    """The misconception lab's bugs: ``id``, ``title`` (one line) and ``change`` (what the
    faulty engine does differently), in the learner's language.

    Example:
        >>> lab_bugs()[0]["id"]
        'assign-instead-of-accumulate'
    """
    from .check.bugs import BUGS
    from .locale import _

    return [{"id": b.id, "title": _(b.title), "change": _(b.change)} for b in BUGS.values()]
