"""``grad``, ``steps``, ``check`` and ``exercise``: the subcommands that read an expression."""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Sequence
from typing import Any

# The package's own modules load in a fraction of a second, so they are imported here.
# The heavy optional extras stay lazy, inside the modules that need them (``require``):
# scikit-learn (datasets), matplotlib (plots), torch (check, nn) and tqdm (train), so
# `--help` and `grad` start fast and work without them installed.
from .._io import atomic_write_text
from ..check.exercise import exercise_set, make_exercise
from ..check.problems import nielsen_problem, worked_problem
from ..locale import _
from ..reports import (
    GradedReport,
    InputError,
    check_report,
    expression_graph,
    grad_report,
    program_steps,
)
from ..show.viz import render, render_steps
from .line import PROG, UsageError, print_json

# --------------------------------------------------------------------------------------- grad


def assignments(pairs: Sequence[str]) -> dict[str, float]:
    values: dict[str, float] = {}
    given: dict[str, str] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(_("expected NAME=VALUE, got {pair}").format(pair=repr(pair)))
        if name in given:
            raise UsageError(_("{name} is given twice ({first} and {second})").format(
                name=repr(name), first=given[name], second=pair))  # fmt: skip
        given[name] = pair
        try:
            values[name] = float(text)
        except ValueError:
            raise UsageError(_("value of {name} must be a number, got {text}").format(
                name=repr(name), text=repr(text))) from None  # fmt: skip
        if not math.isfinite(values[name]):
            raise UsageError(
                _("value of {name} must be a finite number, got {text}").format(
                    name=repr(name), text=repr(text))
                + (_(" (too large for a float)") if text.strip().lower()[-3:].isdigit() else "")
            )
    return values


def build_expression(args: argparse.Namespace):
    return expression_graph(args.expression, assignments(args.assignments))


def cmd_grad(args: argparse.Namespace) -> int:
    wrt = None if args.wrt is None else args.wrt.split(",")
    try:
        result = grad_report(args.expression, assignments(args.assignments), wrt=wrt,
                             explain_wrt=args.explain, formula=args.formula, fmt=args.format,
                             check=args.check)  # fmt: skip
    except InputError as bad:
        raise UsageError(f"--{bad.field}: {bad.detail}") from None
    root, leaves, wrt, doc = result.root, result.leaves, result.wrt, result.doc
    if args.draw:
        doc["draw"] = str(render(root, args.draw, precision=args.precision,
                                 dot_timeout=args.dot_timeout))  # fmt: skip
    if args.steps:
        doc["steps"] = str(render_steps(root, args.steps, precision=args.precision,
                                        dot_timeout=args.dot_timeout))  # fmt: skip
    if args.json:
        print_json(result.to_dict(args.format, args.precision))
        return 0 if result.passed else 1
    digits = args.precision
    if program_steps(args.expression):  # the steps as typed, then the output's value
        print(f"{args.expression}\n{root.label} = {root.data:.{digits}g}")
    else:
        name = f"{root.label} = " if root.label and root.label != args.expression else ""
        print(f"{name}{args.expression} = {root.data:.{digits}g}")
    width = max(len(n) for n in wrt) + 3 if wrt else 4
    for name in wrt:
        print(f"  ∂/∂{name:<{width}} {leaves[name].grad:.{digits}g}")
    for line in doc.get("formulas", {}).values():
        print(line)
    if "explain" in doc:
        trace = doc["explain"]
        print(trace.text(digits) if args.format == "text" else getattr(trace, args.format)(digits))
    if "check" in doc:
        print(doc["check"].text())
    for key in ("draw", "steps"):
        if key in doc:
            print(f"{key}: {doc[key]}")
    return 0 if result.passed else 1


def cmd_steps(args: argparse.Namespace) -> int:
    root = build_expression(args)
    if not root.label:
        root.label = "f"
    given = ", ".join(args.assignments)
    text = f"{root.label} = {args.expression}" + (f"   at {given}" if given else "")
    page = render_steps(root, args.out, precision=args.precision, expression=text,
                        dot_timeout=args.dot_timeout)  # fmt: skip
    print(page)
    return 0


# ------------------------------------------------------------------------------ check, exercise


def _check_problem(args: argparse.Namespace) -> Any:
    if (args.worked or args.sizes) and args.expression and "=" in args.expression:
        args.assignments, args.expression = [args.expression, *args.assignments], None
    given = [args.expression is not None, args.worked, args.sizes is not None]
    if sum(given) != 1:
        raise UsageError("check: " + _("give exactly one of an EXPRESSION, --worked or --sizes"))
    if args.expression is None:
        if args.assignments:
            raise UsageError("check: " + _("NAME=VALUE values go with an EXPRESSION, not with "
                                           "--worked or --sizes"))  # fmt: skip
        if args.worked:
            return worked_problem()
        if len(args.sizes) < 2:
            raise UsageError("check: " + _("--sizes needs at least an input and an output size"))
        return nielsen_problem(args.sizes, seed=args.seed, activation=args.activation)
    return args.expression  # check_report builds its graph and names it in the report


# The exit status of a grading. A verdict not listed here (such as "undecided": neither
# proved nor refuted) exits 3, so a script never reads it as correct or as wrong.
VERDICT_STATUS = {"correct": 0, "wrong": 1, "only_here": 1}
OTHER_VERDICT_STATUS = 3


def verdict_status(verdict: str) -> int:
    """The exit status ``check`` and ``exercise --answer`` give a verdict.

    Example:
        >>> verdict_status("correct"), verdict_status("only_here"), verdict_status("undecided")
        (0, 1, 3)
    """
    return VERDICT_STATUS.get(verdict, OTHER_VERDICT_STATUS)


def _report(report: GradedReport, as_json: bool) -> int:
    if as_json:
        print_json(report.to_dict())
    else:
        print(report.text())
    return verdict_status(report.verdict)


def cmd_check(args: argparse.Namespace) -> int:
    problem = _check_problem(args)  # a Problem for --worked or --sizes, else the expression
    values = None if args.expression is None else assignments(args.assignments)
    report = check_report(problem, values, args.wrt, args.claim, points=args.points,
                          seed=args.seed)  # fmt: skip
    return _report(report, args.json)


def cmd_exercise(args: argparse.Namespace) -> int:
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(100_000)
    if args.markdown:
        if args.answer is not None:
            raise UsageError(
                "exercise: " + _("--markdown writes a set; grade one with --seed and --answer")
            )
        path = atomic_write_text(args.markdown, exercise_set(args.count, seed, args.level))
        print(_("{count} exercises with an answer key: {path}").format(count=args.count,
                                                                       path=path))  # fmt: skip
        return 0
    ex = make_exercise(seed, args.level)
    if args.answer is None:
        print(ex.text())
        level = f" --level {args.level}" if args.level is not None else ""
        print("\n" + _("Check your answer: {command}").format(
            command=f'{PROG} exercise --seed {seed}{level} --answer "FORMULA"'))
        return 0
    graded = GradedReport(ex.grade(args.answer), ex.expression, dict(ex.values),
                          _("exercise {seed} (level {level})").format(seed=ex.seed,
                                                                      level=ex.level))  # fmt: skip
    return _report(graded, args.json)
