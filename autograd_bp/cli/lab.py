"""``autograd-bp lab``: the misconception lab — a graph run under a catalogue bug beside the
correct engine (:mod:`autograd_bp.check.lab`), with a "predict, then run" mode.

Example:
    >>> from autograd_bp.cli import main
    >>> main(["lab", "x*x", "x=3", "--bug", "assign-instead-of-accumulate",
    ...       "--prediction", "3"])  # doctest: +ELLIPSIS
    lab: f = x*x   at x = 3
    ...
    prediction for ∂f/∂x: yours 3, the faulty engine's 3, this engine's 6
    ...
    0
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

from ..check.bugs import LabLimitError
from ..check.lab import Lab, LabError, bug_list
from ..check.problems import nielsen_problem, worked_problem
from ..locale import N_, _
from ..nn.modules import ACTIVATIONS
from ..reports import expression_problem, program_steps, shortest
from .expressions import assignments
from .line import (
    MAX_VERIFY_PARAMETERS,
    UsageError,
    check_fits,
    parse_sizes,
    print_json,
    seed_number,
)

__all__ = ["cmd_lab", "lab_arguments"]


def lab_arguments(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """The parser of ``lab``. Built before the language is read, it must not ask for one:
    its help texts are English msgids (``N_``), said in the learner's language by --help."""
    lab = command("lab", N_("run a graph under a classic engine bug beside the correct engine"))
    lab.add_argument("expression", nargs="?",
                     help=N_('e.g. "tanh(a*b) + a" (or --worked, --sizes)'))  # fmt: skip
    lab.add_argument("assignments", nargs="*", metavar="NAME=VALUE")
    lab.add_argument("--bug", metavar="ID", help=N_("the catalogue bug to run (--list lists them)"))
    lab.add_argument("--list", action="store_true", help=N_("list the bugs and exit"))
    lab.add_argument("--worked", action="store_true", help=N_("Mazur's 2-2-2 worked example"))
    lab.add_argument("--sizes", type=parse_sizes("--sizes"),
                     help=N_("a Nielsen-notation MLP, e.g. 2,3,1"))  # fmt: skip
    lab.add_argument("--activation", choices=list(ACTIVATIONS), default="sigmoid")
    lab.add_argument("--seed", type=seed_number, default=0, help=N_("--sizes weights"))
    lab.add_argument("--wrt", metavar="NAME",
                     help=N_("the gradient to predict (default: the first input)"))  # fmt: skip
    lab.add_argument("--predict", action="store_true",
                     help=N_("ask for your prediction on stdin first, then run"))  # fmt: skip
    lab.add_argument("--prediction", metavar="NUMBER", help=N_("your prediction, given here"))
    lab.add_argument("--json", action="store_true", help=N_("machine-readable output"))
    lab.set_defaults(run=cmd_lab)


def _graph(args: argparse.Namespace) -> tuple[Any, str]:
    """The Problem to run and the line that names it."""
    if (args.worked or args.sizes) and args.expression and "=" in args.expression:
        args.assignments, args.expression = [args.expression, *args.assignments], None
    if sum([args.expression is not None, args.worked, args.sizes is not None]) != 1:
        raise UsageError(_("lab: give exactly one of an EXPRESSION, --worked or --sizes"))
    if args.expression is None and args.assignments:
        raise UsageError(_("lab: NAME=VALUE values go with an EXPRESSION, not with --worked "
                           "or --sizes"))  # fmt: skip
    if args.worked:
        return worked_problem(), ""
    if args.sizes is not None:
        if len(args.sizes) < 2:
            raise UsageError(_("lab: --sizes needs at least an input and an output size"))
        check_fits("--sizes", args.sizes, MAX_VERIFY_PARAMETERS)
        return nielsen_problem(args.sizes, seed=args.seed, activation=args.activation), ""
    values = assignments(args.assignments)
    problem = expression_problem(args.expression, values)
    named = args.expression if program_steps(args.expression) else \
        f"{problem.output.label or 'f'} = {args.expression}"  # fmt: skip
    at = ", ".join(f"{n} = {shortest(v)}" for n, v in values.items())
    return problem, named + (_("   at {values}").format(values=at) if at else "")


def _number(text: str, where: str) -> str:
    """``text`` as typed (its digits say how close a match must be), once it is known to be
    a finite number."""
    try:
        x = float(text)
    except ValueError:
        raise UsageError(_("{where}: must be a number, got {text!r}").format(
            where=where, text=text)) from None
    if not math.isfinite(x):
        raise UsageError(_("{where}: must be a finite number, got {text!r}").format(
            where=where, text=text))
    return text.strip()


def _ask(lab: Lab, as_json: bool) -> str:
    """The "predict" step: the question, then one line read from stdin."""
    out = sys.stderr if as_json else sys.stdout  # --json keeps stdout for the document
    print(lab.question(), end=" ", file=out, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise UsageError(_("lab: --predict read no answer (stdin is closed); give it with "
                           "--prediction NUMBER"))  # fmt: skip
    if not as_json:
        print()
    return _number(line.strip(), _("your prediction"))


def cmd_lab(args: argparse.Namespace) -> int:
    """Run the lab: exit 0 when it ran, 2 on a usage error (raised)."""
    if args.list:
        for bug_id, title in bug_list():
            print(f"{bug_id:<30} {title}")
        return 0
    if args.bug is None:
        raise UsageError(_("lab: --bug ID is required (autograd-bp lab --list lists them)"))
    if args.predict and args.prediction is not None:
        raise UsageError(_("lab: give --predict (asked on stdin) or --prediction NUMBER, "
                           "not both"))  # fmt: skip
    given = None if args.prediction is None else _number(args.prediction, "--prediction")
    problem, named = _graph(args)
    try:
        lab = Lab(problem, args.bug, wrt=args.wrt, description=named)
        prediction = _ask(lab, args.json) if args.predict else given
        report = lab.run(prediction)
    except (LabError, LabLimitError) as e:
        raise UsageError(f"lab: {e}") from None
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.text())
    return 0
