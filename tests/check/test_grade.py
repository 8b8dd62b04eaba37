"""`autograd-bp grade`: a learner's own engine, run in a limited subprocess, its misconception
named. Every reference engine of examples/engines/ is graded for real (no mocks); hostile
engines (hanging, allocating, raising, printing) are written here and must end as findings."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp import Value
from autograd_bp.check.battery import CHECKS, Engine, leaf_values, run_check
from autograd_bp.check.catalogue import CATALOGUE
from autograd_bp.check.grade import GradeInputError, GradeReport, Limits, grade_engine
from autograd_bp.textbook import worked

ROOT = Path(__file__).resolve().parents[2]
ENGINES = ROOT / "examples" / "engines"
LIMITS = Limits(check_seconds=2.0, total_seconds=60.0, memory=512 * 2**20)
# ids that have a reference engine in each dialect (all of them; wrong-gradient is the
# grader's "not recognised", which no single bug is meant to produce)
IDS = sorted(CATALOGUE)


def _script():
    path = ROOT / "scripts" / "make_buggy_engines.py"
    spec = importlib.util.spec_from_file_location("make_buggy_engines", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _grade_all(paths: list[Path]) -> dict[str, GradeReport]:
    """Grade many files at once: each is its own sandboxed process, so threads suffice."""
    with ThreadPoolExecutor(4) as pool:
        reports = pool.map(lambda p: grade_engine(p, limits=LIMITS), paths)
        return {p.stem: r for p, r in zip(paths, reports)}


@pytest.fixture(scope="module")
def micrograd_reports() -> dict[str, GradeReport]:
    names = ["micrograd_value", "microgpt_value"] + [
        _script().file_name("micrograd", i).removesuffix(".py") for i in IDS
    ]
    return _grade_all([ENGINES / f"{n}.py" for n in names])


def _ids(report: GradeReport) -> list[str]:
    return [f.id for f in report.misconceptions]


@pytest.mark.parametrize("dialect", ["micrograd", "microgpt"])
def test_the_correct_engine_of_each_dialect_passes_with_no_finding(micrograd_reports,
                                                                  dialect) -> None:  # fmt: skip
    r = micrograd_reports[f"{dialect}_value"]
    assert (r.verdict, r.dialect, r.misconceptions) == ("pass", dialect, [])
    statuses = {o.check.name: o.status for o in r.outcomes}
    assert set(statuses) == set(CHECKS)
    # the recursive build_topo of both sources cannot reach depth 5000: a limitation, not a bug
    assert statuses.pop("deep-chain") == "limitation" and "RecursionError" in r.limitations[0]
    assert set(statuses.values()) == {"pass"}


def _assert_named(report: GradeReport, ident: str) -> None:
    assert report.verdict == "fail", report.text()
    assert ident in _ids(report), report.text()
    assert "wrong-gradient" not in _ids(report), report.text()
    # nothing else is named: except that a recursive backward without a visited set also
    # re-walks x = x + x 2**30 times (a real second finding)
    assert set(_ids(report)) - {ident} <= ({"timeout"} if ident == "no-topological-order"
                                           else set()), report.text()  # fmt: skip


@pytest.mark.parametrize("ident", IDS)
def test_each_micrograd_bug_is_named(micrograd_reports, ident) -> None:
    _assert_named(micrograd_reports[_script().file_name("micrograd", ident).removesuffix(".py")],
                  ident)  # fmt: skip


@pytest.mark.slow
def test_each_microgpt_bug_is_named() -> None:
    reports = _grade_all([ENGINES / _script().file_name("microgpt", i) for i in IDS])
    for ident in IDS:
        _assert_named(reports[_script().file_name("microgpt", ident).removesuffix(".py")], ident)


def test_the_evidence_speaks_in_the_learners_terms(micrograd_reports) -> None:
    assign = micrograd_reports["micrograd_assign_instead_of_accumulate"].misconceptions[0]
    assert assign.evidence[0] == ("for `a + a` your ∂/∂a is 1, the engine's is 2: your "
                                  "backward assigns where it must add")  # fmt: skip
    tanh = micrograd_reports["micrograd_tanh_derivative_from_input"].misconceptions[0]
    a = leaf_values(0)["a"]
    assert f"= 1 − a², the engine's is {1 - math.tanh(a) ** 2:.6g}" in tanh.evidence[0]
    assert "`_backward` closure of your `tanh`" in tanh.evidence[0]
    crash = micrograd_reports["micrograd_crash"].misconceptions[0]
    assert "TypeError: must be real number, not Value" in crash.evidence[0]
    assert "micrograd_crash.py:" in crash.evidence[0] and "in exp: " in crash.evidence[0]
    timeout = micrograd_reports["micrograd_timeout"].misconceptions[0]
    assert "still running after 2 s" in timeout.evidence[0] and "in __pow__" in timeout.evidence[0]
    reflected = micrograd_reports["micrograd_missing_reflected_op"].misconceptions[0]
    assert any("__rsub__" in e and "TypeError" in e for e in reflected.evidence)


def test_json_document_has_the_documented_shape(micrograd_reports) -> None:
    doc = json.loads(json.dumps(micrograd_reports["micrograd_sub_sign"].to_dict()))
    assert doc["verdict"] == "fail" and doc["dialect"] == "micrograd"
    sub = next(c for c in doc["checks"] if c["name"] == "sub")
    assert sub["passed"] is False
    assert sub["numbers"]["grad"]["b"]["yours"] == 1 and sub["numbers"]["grad"]["b"]["engine"] == -1
    assert sub["numbers"]["grad"]["b"]["central_difference"] == pytest.approx(-1, abs=1e-6)
    assert [m["id"] for m in doc["misconceptions"]] == ["sub-sign"]
    assert set(doc["misconceptions"][0]) >= {"id", "message", "evidence"}
    deep = next(c for c in doc["checks"] if c["name"] == "deep-chain")
    assert deep["passed"] is None and deep["status"] == "limitation"  # undecided, said so


def test_committed_buggy_engines_are_what_the_script_makes() -> None:
    script = _script()
    assert set(script.EDITS) == set(CATALOGUE), "every catalogue entry has its buggy engines"
    for ident in script.EDITS:
        for dialect in script.DIALECTS:
            path = ENGINES / script.file_name(dialect, ident)
            assert path.read_text(encoding="utf-8") == script.buggy_source(dialect, ident), path


def test_the_battery_builds_mazur_from_the_worked_example_parameters() -> None:
    seen = run_check(Engine(Value), CHECKS["mazur"], leaf_values(0))
    results = worked.compute(iterations=1)
    assert seen["out"] == pytest.approx(results["error.E_total"], rel=1e-12)
    for w in ("w1", "w5", "w8"):
        assert seen["nodes"][w]["grad"] == pytest.approx(results[f"gradients.{w}"], rel=1e-12)


# --------------------------------------------------------------------- hostile engines


def _write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    return path


CORRECT = (ENGINES / "micrograd_value.py").read_text(encoding="utf-8")
HOSTILE = {
    "hang_python.py": "while True:\n    pass\n",
    "hang_in_c.py": "x = sum(range(10**13))\n",  # one C call: no alarm interrupts it
    "allocate.py": "hoard = []\nwhile True:\n    hoard.append(b'x' * 10**8)\n",
    "raise_at_import.py": "import math\nraise RuntimeError('my engine is not finished')\n",
    "exit_at_import.py": "import sys\nsys.exit(3)\n",
    "million_lines.py": CORRECT + "\nfor i in range(10**6):\n    print('line', i)\n",
    "hang_in_add.py": CORRECT.replace('"+")\n', '"+")\n        while True:\n            pass\n', 1),
}


@pytest.fixture(scope="module")
def hostile_reports(tmp_path_factory) -> dict[str, tuple[GradeReport, float]]:
    folder = tmp_path_factory.mktemp("hostile")
    limits = Limits(check_seconds=1.0, total_seconds=8.0, memory=512 * 2**20)

    def grade(name: str) -> tuple[GradeReport, float]:
        start = time.monotonic()
        # a correct engine that prints a lot gets the default limits: it is not a hang
        chosen = LIMITS if name == "million_lines.py" else limits
        report = grade_engine(_write(folder, name, HOSTILE[name]), limits=chosen)
        return report, time.monotonic() - start

    with ThreadPoolExecutor(4) as pool:
        return dict(zip(HOSTILE, pool.map(grade, HOSTILE)))


@pytest.mark.parametrize("name, verdict, ident, words", [
    ("hang_python.py", "error", "timeout", "hang_python.py:1 in <module>: while True:"),
    ("hang_in_c.py", "error", "timeout", "stopped at the overall limit (8 s"),
    ("allocate.py", "error", "memory-limit", "MemoryError"),
    ("raise_at_import.py", "error", "crash", "RuntimeError: my engine is not finished"),
    ("exit_at_import.py", "error", "crash", "SystemExit: 3"),
    ("hang_in_add.py", "fail", "timeout", "in __add__: while True:"),
])  # fmt: skip
def test_a_hostile_engine_ends_as_a_finding_within_the_limits(hostile_reports, name, verdict,
                                                             ident, words) -> None:  # fmt: skip
    report, seconds = hostile_reports[name]
    assert report.verdict == verdict, report.text()
    assert ident in _ids(report)
    assert any(words in e for f in report.misconceptions for e in f.evidence), report.text()
    assert seconds < 8.0 + 5.0  # the overall limit, plus starting and stopping a process


def test_a_million_printed_lines_are_kept_short_and_the_engine_still_graded(
        hostile_reports) -> None:  # fmt: skip
    report, _ = hostile_reports["million_lines.py"]
    assert report.verdict == "pass", report.text()
    assert report.output["stdout"].startswith("line 0\nline 1\n")
    assert len(report.output["stdout"]) == 4000 and report.output["stdout_bytes"] > 10**7
    assert len(json.dumps(report.to_dict())) < 50_000
    assert "wrote 1" in report.text() and "bytes to stdout (first 4000 kept" in report.text()


def test_a_class_by_another_name_and_the_adapter(tmp_path) -> None:
    renamed = CORRECT.replace("class Value", "class Scalar").replace("Value(", "Scalar(")
    renamed = renamed.replace("isinstance(other, Value)", "isinstance(other, Scalar)")
    path = _write(tmp_path, "scalar.py", renamed)
    assert grade_engine(path, "Scalar", limits=LIMITS).verdict == "pass"
    spelled = renamed.replace(".data", ".value") + '\nGRADE_ADAPTER = {"data": "value"}\n'
    assert ".data" not in spelled
    report = grade_engine(_write(tmp_path, "spelled.py", spelled), "Scalar", limits=LIMITS)
    assert (report.verdict, report.dialect) == ("pass", "adapter"), report.text()
    missing = grade_engine(path, "Nope", limits=LIMITS)
    assert missing.verdict == "error"
    assert "no class named 'Nope'" in missing.misconceptions[0].evidence[0]


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "absent.py", "no such file"),
    (lambda d: d, "not a regular file"),
    (lambda d: _write(d, "engine.txt", "x = 1\n"), "expected a .py file"),
    (lambda d: (os.mkfifo(d / "fifo.py"), d / "fifo.py")[1], "not a regular file"),
])  # fmt: skip
def test_what_cannot_be_graded_is_refused_in_one_line(tmp_path, make, words) -> None:
    path = make(tmp_path)
    with pytest.raises(GradeInputError, match=words):
        grade_engine(path)
    proc = subprocess.run([sys.executable, "-m", "autograd_bp", "grade", str(path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and words in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cli_exit_status_and_json(tmp_path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "autograd_bp", "grade", *args],
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    good = run(str(ENGINES / "microgpt_value.py"), "--json")
    assert good.returncode == 0 and json.loads(good.stdout)["verdict"] == "pass"
    bad = run(str(ENGINES / "microgpt_relu_gate.py"))
    assert bad.returncode == 1 and "misconception relu-gate:" in bad.stdout
    assert run(str(ENGINES / "microgpt_value.py"), "--check-seconds", "0").returncode == 2


def test_the_playground_server_offers_no_grading() -> None:
    """Grading runs the learner's code: never over the network (docs/grade.md says why)."""
    from autograd_bp.serve.app import create_app

    app = create_app()
    paths = [getattr(route, "path", "") for route in app.routes]
    assert paths and not [p for p in paths if "grade" in p or "engine" in p]
    serve = ROOT / "autograd_bp" / "serve"
    source = "".join(p.read_text(encoding="utf-8") for p in serve.rglob("*.py"))
    assert "check.grade" not in source and "sandbox" not in source and "grade_engine" not in source


def test_the_teachers_test_file_gives_a_test_per_check_and_names_the_bug(tmp_path) -> None:
    """examples/grading/test_student_engine.py, dropped into an empty folder, as a teacher
    would; docs/grade-teachers.md shows it verbatim."""
    source = (ROOT / "examples" / "grading" / "test_student_engine.py").read_text(encoding="utf-8")
    assert source in (ROOT / "docs" / "grade-teachers.md").read_text(encoding="utf-8")
    _write(tmp_path, "test_student_engine.py", source)
    env = dict(os.environ, ENGINE=str(ENGINES / "micrograd_relu_gate.py"))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "test_student_engine.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 1, proc.stdout
    # one test per check and one that it loads: relu- fails, deep-chain is a limitation
    assert f"1 failed, {len(CHECKS) - 1} passed, 1 skipped" in proc.stdout, proc.stdout
    assert "FAILED test_student_engine.py::test_check[relu-]" in proc.stdout
    assert "relu-gate: your relu lets the gradient through" in proc.stdout


# ------------------------------------------------------- soundness: never a wrong name

MICROGPT = (ENGINES / "microgpt_value.py").read_text(encoding="utf-8")
VARIANTS = {
    # tanh's derivative doubled: wrong, but no catalogue bug: reported, never misnamed
    "unknown_bug.py": CORRECT.replace("(1 - t**2) * out.grad", "2 * (1 - t**2) * out.grad"),
    # two bugs at once: both named
    "two_bugs.py": CORRECT.replace("(out.data > 0) * out.grad", "out.grad").replace(
        "(other * self.data ** (other - 1))", "(self.data ** (other - 1))"),
    # microgpt as published has no tanh: those checks are skipped, not failed
    "no_tanh.py": MICROGPT.replace("    def tanh(self):\n        t = math.tanh(self.data)\n"
                                   "        return Value(t, (self,), (1 - t**2,))\n\n", ""),
    # grading someone else's engine is refused
    "imports_ours.py": "from autograd_bp import Value\n",
    "no_grad_attribute.py": "class Value:\n    def __init__(self, x):\n        self.value = x\n\n"
                            "    def backward(self):\n        pass\n",
}  # fmt: skip


@pytest.fixture(scope="module")
def variant_reports(tmp_path_factory) -> dict[str, GradeReport]:
    folder = tmp_path_factory.mktemp("variants")
    paths = [_write(folder, name, source) for name, source in VARIANTS.items()]
    assert "def tanh" not in VARIANTS["no_tanh.py"]
    return _grade_all(paths)


def test_a_bug_the_catalogue_does_not_know_is_reported_not_misnamed(variant_reports) -> None:
    r = variant_reports["unknown_bug"]
    assert r.verdict == "fail" and _ids(r) == ["wrong-gradient"], r.text()
    assert "`a.tanh()`: your ∂/∂a is" in r.misconceptions[0].evidence[0]


def test_two_bugs_are_both_named(variant_reports) -> None:
    r = variant_reports["two_bugs"]
    assert sorted(_ids(r)) == ["pow-missing-exponent", "relu-gate"], r.text()


def test_a_missing_method_skips_its_checks_and_the_rest_still_grades(variant_reports) -> None:
    r = variant_reports["no_tanh"]
    assert (r.verdict, r.dialect) == ("pass", "microgpt"), r.text()
    skipped = {o.check.name: o.error for o in r.outcomes if o.status == "skipped"}
    assert skipped == {"tanh": "your class has no tanh()", "mlp-step": "your class has no tanh()"}


def test_a_class_not_written_by_the_learner_or_without_the_names_is_an_error(
        variant_reports) -> None:  # fmt: skip
    ours = variant_reports["imports_ours"]
    assert (ours.verdict, _ids(ours)) == ("error", ["not-your-class"])
    assert "autograd_bp/core/engine.py" in ours.misconceptions[0].evidence[0]
    unnamed = variant_reports["no_grad_attribute"]
    assert unnamed.verdict == "error"
    assert "has no data (as 'data'), grad (as 'grad'); map your names in GRADE_ADAPTER" in (
        unnamed.misconceptions[0].evidence[0])


FAST_IDS = [i for i in IDS if i not in ("timeout", "memory-limit", "crash")]


@pytest.mark.parametrize("seed", [1, 7, 123, 2**31])
def test_every_fingerprint_holds_at_other_seeds(seed) -> None:
    """The engines imported in this process (no sandbox: none of these hangs), the battery
    at another seed: the correct engines match nothing, each buggy one its own id."""
    from autograd_bp.check.catalogue import match
    from autograd_bp.check.grade import _outcome

    xs = leaf_values(seed)
    reference = {n: run_check(Engine(Value), c, xs) for n, c in CHECKS.items()}
    script = _script()
    cases = [(f"{d}_value.py", None) for d in script.DIALECTS] + [
        (script.file_name(d, i), i) for d in script.DIALECTS for i in FAST_IDS]
    for name, ident in cases:
        spec = importlib.util.spec_from_file_location(f"engine_{seed}_{name[:-3]}", ENGINES / name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        outcomes = {}
        for check_name, check in CHECKS.items():
            if check_name in ("wide-reuse", "deep-chain"):  # exponential or recursive: sandbox
                continue
            try:
                event = {"status": "ran", **run_check(Engine(module.Value), check, xs)}
            except TypeError as e:
                event = {"status": "error", "error": f"TypeError: {e}"}
            outcomes[check_name] = _outcome(check, event, reference[check_name])
        found = [f.id for f in match(outcomes, name.split("_")[0])]
        assert found == ([ident] if ident else []), (name, found)


@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
@settings(max_examples=200, deadline=None)
def test_any_seed_keeps_every_fingerprint_apart_from_the_right_answer(seed) -> None:
    """The leaves of any seed leave room between each bug's prediction and the truth (the
    matchers compare with a relative tolerance of 1e-6)."""
    v = leaf_values(seed)
    a, b, c = v["a"], v["b"], v["c"]
    apart = lambda x, y: abs(x - y) > 1e-3 * max(1.0, abs(y))
    assert len({a, b, c, a * b}) == 4 and v["n"] == -a
    assert apart(1 - a * a, 1 - math.tanh(a) ** 2)  # tanh-derivative-from-input
    assert apart(a, math.exp(a))  # exp-derivative-from-input
    assert apart(a * a, 3 * a * a)  # pow-missing-exponent
    assert apart(1.0, 2.0) and apart(a, 2 * a)  # assign-instead-of-accumulate
    assert apart(b * c, b * c + b) and apart(b, b * c + b)  # topo-by-value-equality
    assert apart(-1 / b**2, -a / b**2)  # div-derivative, the engine's own bug
    assert apart(2 - a, a - 2) and apart(2 / a, a / 2)  # a swapped reflected op
