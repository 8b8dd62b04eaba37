"""A ready autograder test file: drop it beside a student's engine and run ``pytest``.

    ENGINE=engine.py pytest test_student_engine.py     # default: engine.py in this folder

One test per check of the battery, so an autograder that counts passing tests gives partial
credit; each failure message names the misconception and its evidence. The student's code
runs in autograd_bp's sandboxed subprocess (time and memory limits), once for all tests.
Needs ``pip install autograd_bp``; see docs/grade-teachers.md.
"""

import os
from pathlib import Path

import pytest

from autograd_bp.check import CHECKS, grade_engine

HERE = Path(__file__).resolve().parent
ENGINE = Path(os.environ.get("ENGINE", HERE / "engine.py"))
VALUE_CLASS = os.environ.get("VALUE_CLASS")  # None: the class named Value


@pytest.fixture(scope="module")
def report():
    return grade_engine(ENGINE, VALUE_CLASS)


def _explain(report):
    return "\n".join(f"{f.id}: {f.message}\n  " + "\n  ".join(f.evidence)
                     for f in report.misconceptions)


def test_the_engine_can_be_graded(report):
    assert report.verdict != "error", _explain(report)


@pytest.mark.parametrize("name", list(CHECKS))
def test_check(report, name):
    outcome = next((o for o in report.outcomes if o.check.name == name), None)
    assert outcome is not None, _explain(report)
    if outcome.status in ("skipped", "limitation"):
        pytest.skip(f"{name}: {outcome.error}")
    heading = f"`{outcome.check.text}`: {outcome.status}\n"
    assert outcome.status == "pass", heading + _explain(report)
