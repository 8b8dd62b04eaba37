"""Is a gradient right: ``gradcheck``/``verify``, grading a hand derivation (``check_derivation``),
the problems it is graded on, practice exercises, and grading a learner's own engine
(``grade_engine``, with the misconception ``CATALOGUE``).

Example:
    >>> from autograd_bp.check import check_derivation
    >>> from autograd_bp import parse
    >>> check_derivation(parse("x*x", x=3.0), "x", "2*x").verdict
    'correct'
"""

from .battery import CHECKS
from .catalogue import CATALOGUE
from .derivation import MIN_POINTS, ClaimError, Partial, Problem
from .exercise import LEVELS, Exercise, exercise_set, make_exercise
from .gradcheck import (
    DerivationReport,
    GradcheckReport,
    GradcheckRow,
    VerifyReport,
    check_derivation,
    gradcheck,
    verify,
)
from .grade import GradeReport, Limits, grade_engine
from .lab import LabReport, bug_list, run_lab
from .problems import nielsen_problem, program_problem, worked_problem

__all__ = [
    "CATALOGUE",
    "CHECKS",
    "ClaimError",
    "DerivationReport",
    "Exercise",
    "GradcheckReport",
    "GradcheckRow",
    "GradeReport",
    "LEVELS",
    "LabReport",
    "Limits",
    "MIN_POINTS",
    "Partial",
    "Problem",
    "VerifyReport",
    "bug_list",
    "check_derivation",
    "exercise_set",
    "grade_engine",
    "gradcheck",
    "make_exercise",
    "nielsen_problem",
    "program_problem",
    "run_lab",
    "verify",
    "worked_problem",
]
