"""Grade a learner's own scalar engine: ``grade_engine(path)`` / ``autograd-bp grade PATH``.

The learner's file is loaded in a separate process (:mod:`autograd_bp.check.sandbox`) with
a memory limit, a time limit per check and overall, and a temporary working directory of its
own. The battery (:mod:`autograd_bp.check.battery`) runs there with the learner's ``Value``;
the same graphs are built here with this package's engine, the reference. Node by node, the
numbers are compared, and the failures' fingerprints matched to the misconception catalogue
(:mod:`autograd_bp.check.catalogue`).

Example:
    >>> Limits(check_seconds=5.0).total_seconds  # the defaults a run gets
    60.0
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.engine import Value
from ..locale import N_, _, aligned, language
from .battery import CHECKS, Check, Engine, is_close, leaf_values, run_check
from .catalogue import Finding, Outcome, match

__all__ = ["OUTPUT_FILES", "GradeInputError", "GradeReport", "Limits", "grade_engine"]

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
OUTPUT_FILES = ("stdout.txt", "stderr.txt")  # the sandbox's prints, in its scratch directory
KEEP_OUTPUT = 4000  # characters of printed output kept for the report


class GradeInputError(ValueError):
    """The path or the options cannot be graded at all (a usage error, exit status 2)."""


@dataclass(frozen=True)
class Limits:
    """The sandbox's limits: seconds per check, seconds overall (wall clock, then the
    process group is killed), address space in bytes.

    Example:
        >>> Limits().memory == 2**30
        True
    """

    check_seconds: float = 2.0
    total_seconds: float = 60.0
    memory: int = 2**30


@dataclass
class GradeReport:
    """The grader's answer: ``verdict`` pass / fail / error, the ``dialect`` recognised, one
    :class:`~autograd_bp.check.catalogue.Outcome` per check, the named ``misconceptions``,
    the ``limitations`` (not bugs) and what the learner's code printed (truncated)."""

    path: str
    verdict: str
    dialect: str | None
    value_class: str | None
    outcomes: list[Outcome]
    misconceptions: list[Finding]
    limitations: list[str] = field(default_factory=list)
    output: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return {"path": self.path, "verdict": self.verdict, "dialect": self.dialect,
                "class": self.value_class, "checks": [_check_dict(o) for o in self.outcomes],
                "misconceptions": [f.to_dict() for f in self.misconceptions],
                "limitations": self.limitations, "output": self.output}  # fmt: skip

    def text(self) -> str:
        """The report a learner reads."""
        return "\n".join(_text_lines(self))


def _passed(status: str) -> bool | None:
    return {"pass": True, "fail": False, "skipped": None, "limitation": None}.get(status, False)


def _numbers(o: Outcome) -> dict[str, Any]:
    if o.seen is None:
        return {}
    nodes = {n: {"yours": v["grad"], "engine": o.reference["nodes"][n]["grad"],
                 **({"central_difference": o.seen["differences"][n]}
                    if n in o.seen.get("differences", {}) else {})}
             for n, v in o.seen["nodes"].items()}  # fmt: skip
    numbers: dict[str, Any] = {"value": {"yours": o.seen["out"], "engine": o.reference["out"]},
                               "grad": nodes}  # fmt: skip
    if "after_step" in o.seen:
        numbers["after_step"] = {"yours": o.seen["after_step"],
                                 "engine": o.reference["after_step"]}  # fmt: skip
    return numbers


def _check_dict(o: Outcome) -> dict[str, Any]:
    return {"name": o.check.name, "text": _(o.check.text), "status": o.status,
            "passed": _passed(o.status), "numbers": _numbers(o),
            **({"error": o.error} if o.error else {}),
            **({"frame": o.frame} if o.frame else {})}  # fmt: skip


def _mismatches(check: Check, seen: dict[str, Any], reference: dict[str, Any]) -> bool:
    if not is_close(seen["out"], reference["out"]):
        return True
    if "after_step" in reference and not is_close(seen["after_step"], reference["after_step"]):
        return True
    for name, node in reference["nodes"].items():
        mine = seen["nodes"].get(name)
        if mine is None or not (is_close(mine["data"], node["data"])
                                and is_close(mine["grad"], node["grad"])):  # fmt: skip
            return True
    return False


def _outcome(check: Check, event: dict[str, Any] | None, reference: dict[str, Any]) -> Outcome:
    if event is None:
        return Outcome(check, "skipped", reference=reference, error=_(
            "not run: an earlier step stopped the sandbox"))  # fmt: skip
    status = event["status"]
    if status == "recursion" and check.name == "deep-chain":
        return Outcome(check, "limitation", reference=reference, error=event["error"],
                       frame=event.get("frame"))  # fmt: skip
    if status == "recursion":
        status = "error"
    if status != "ran":
        return Outcome(check, status, reference=reference, error=event.get("error"),
                       frame=event.get("frame"))  # fmt: skip
    keys = ("nodes", "out", "differences", "after_step")
    seen: dict[str, Any] = {k: event[k] for k in keys if k in event}
    verdict = "fail" if _mismatches(check, seen, reference) else "pass"
    return Outcome(check, verdict, seen=seen, reference=reference)


def _reference(seed: int) -> dict[str, dict[str, Any]]:
    engine, xs = Engine(Value), leaf_values(seed)
    return {name: run_check(engine, check, xs) for name, check in CHECKS.items()}


def _sandbox_command(path: Path, class_name: str | None, limits: Limits, seed: int) -> list[str]:
    # an import may define and try out a whole engine, or print a lot: a larger budget, but
    # well inside the overall limit so that a hang there is still reported with its line
    load = min(max(10.0, 5 * limits.check_seconds), limits.total_seconds / 2)
    cmd = [sys.executable, "-m", "autograd_bp.check.sandbox", str(path), "--load-seconds",
           str(load), "--check-seconds", str(limits.check_seconds), "--memory", str(limits.memory),
           "--cpu-seconds", str(int(limits.total_seconds) + 1), "--seed", str(seed)]  # fmt: skip
    return cmd + (["--class", class_name] if class_name else [])


def _run_sandbox(cmd: list[str], limits: Limits) -> tuple[list[dict[str, Any]], str, int, bool,
                                                         dict[str, Any]]:  # fmt: skip
    """(events, the sandbox's own stderr, exit status, killed by the overall limit, what the
    learner's code printed)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(PACKAGE_ROOT),
               os.environ.get("PYTHONPATH")])), PYTHONDONTWRITEBYTECODE="1",
               AUTOGRAD_BP_LANG=language(),  # the sandbox's own words (a timeout) in it too
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="autograd-bp-grade-") as scratch:
        proc = subprocess.Popen(cmd, cwd=scratch, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)  # fmt: skip
        killed = False
        try:
            out, err = proc.communicate(timeout=limits.total_seconds)
        except subprocess.TimeoutExpired:
            killed = True
            with contextlib.suppress(ProcessLookupError):  # it may end just now by itself
                os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
        output = _printed(Path(scratch))
    events = []
    for line in out.decode("utf-8", "replace").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by the kill
    stderr = err.decode("utf-8", "replace")[:KEEP_OUTPUT]
    return events, stderr, proc.returncode, killed, output


def _printed(scratch: Path) -> dict[str, Any]:
    """The first KEEP_OUTPUT characters of what the learner's code printed, and its size."""
    found: dict[str, Any] = {}
    for name in OUTPUT_FILES:
        path = scratch / name
        if path.exists():
            key = name.removesuffix(".txt")
            with path.open("rb") as f:
                found[key] = f.read(KEEP_OUTPUT).decode("utf-8", "replace")
            found[f"{key}_bytes"] = path.stat().st_size
    return found


def _validated(path: str | os.PathLike[str], limits: Limits) -> Path:
    p = Path(path)
    if not p.exists():
        raise GradeInputError(f"grade: {p}: " + _("no such file"))
    if not p.is_file():
        raise GradeInputError(f"grade: {p}: " + _(
            "not a regular file (a Python source file is needed)"))
    if p.suffix != ".py":
        raise GradeInputError(f"grade: {p}: " + _("expected a .py file"))
    if not (0 < limits.check_seconds <= limits.total_seconds <= 3600):
        raise GradeInputError("grade: limits: " + _(
            "need 0 < check_seconds <= total_seconds <= 3600"))
    if limits.memory < 2**27:
        raise GradeInputError("grade: limits: " + _("memory below 128 MiB cannot start Python"))
    return p.resolve()


def _stopped_without_done(events: list[dict[str, Any]], code: int, killed: bool,
                          limits: Limits) -> dict[str, Any]:  # fmt: skip
    """The event for the check the process was in when it ended without saying 'done'."""
    if killed or code == -signal.SIGXCPU:
        return {"status": "timeout", "error": _(
            "the process was stopped at the overall limit ({seconds} s wall clock or its CPU "
            "time)").format(seconds=f"{limits.total_seconds:g}")}  # fmt: skip
    if code == -signal.SIGKILL:  # not by us: the system's out-of-memory killer, most likely
        return {"status": "memory", "error": _("the process was killed (signal 9), most "
                                                "likely by the system for the memory it took")}
    if code == -signal.SIGSEGV:
        return {"status": "error", "error": _("the process crashed (segmentation fault)")}
    return {"status": "memory" if code == -signal.SIGABRT else "error",
            "error": _("the process ended with status {code} before finishing").format(
                code=code)}  # fmt: skip


def _collect(events: list[dict[str, Any]], code: int, killed: bool,
             limits: Limits) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:  # fmt: skip
    results: dict[str, dict[str, Any]] = {}
    header: dict[str, Any] = {}
    current = None
    for e in events:
        if e["event"] == "start":
            current = e["check"]
        elif e["event"] == "result":
            results[e["check"]] = e
            current = None
        else:
            header.update(e)
    if "done" not in {e["event"] for e in events} and current is not None:
        results[current] = {"check": current, **_stopped_without_done(events, code, killed,
                                                                      limits)}  # fmt: skip
    return results, header


def _setup_failure(results: dict[str, dict[str, Any]], stderr: str) -> Finding | None:
    for step in ("load", "recognise"):
        if step in results:
            r = results[step]
            ident = {"timeout": "timeout", "memory": "memory-limit"}.get(r["status"], "crash")
            what = _("importing your file") if step == "load" else _("finding your Value class")
            frame = r.get("frame")
            evidence = [f"{what}: {r['error']}" + (_("; last line of yours: {frame}").format(
                frame=frame) if frame else "")]  # fmt: skip
            return Finding(ident, _("the engine could not be graded: {what} failed").format(
                what=what), evidence, (step,))  # fmt: skip
    return None


def _foreign_class(header: dict[str, Any], path: Path) -> Finding | None:
    """The class graded must be written in the learner's folder, not imported from a
    library (``from autograd_bp import Value`` would otherwise pass)."""
    source = header.get("defined_in")
    if source is not None and Path(source).resolve().is_relative_to(path.parent):
        return None
    where = source or _("a module with no source file")
    return Finding("not-your-class", _("the class graded is not written in your files"),
                   [_("{name} comes from {where}, outside {folder}; grade the class you wrote "
                      "(--class NAME)").format(name=header.get("value_class"), where=where,
                                               folder=path.parent)],
                   ("recognise",))  # fmt: skip


def grade_engine(path: str | os.PathLike[str], class_name: str | None = None, *,
                 seed: int = 0, limits: Limits | None = None) -> GradeReport:  # fmt: skip
    """Grade the ``Value`` class in the learner's file ``path`` (``class_name`` if it is
    called otherwise) against this engine on the seeded battery, in a sandboxed process.

    Raises :class:`GradeInputError` when ``path`` is not a readable ``.py`` file. Anything
    the learner's code does — raise, hang, allocate, print — ends as a finding.

    Example:
        >>> from pathlib import Path
        >>> import autograd_bp
        >>> engines = Path(autograd_bp.__file__).parents[1] / "examples" / "engines"
        >>> report = grade_engine(engines / "microgpt_sub_sign.py")
        >>> report.verdict, report.dialect, [f.id for f in report.misconceptions]
        ('fail', 'microgpt', ['sub-sign'])
    """
    limits = limits or Limits()
    p = _validated(path, limits)
    command = _sandbox_command(p, class_name, limits, seed)
    events, stderr, code, killed, output = _run_sandbox(command, limits)
    results, header = _collect(events, code, killed, limits)
    setup = _setup_failure(results, stderr)
    if setup is not None or "dialect" not in header:
        finding = setup or Finding("crash", _("the grader's sandbox ended before grading"),
                                   [stderr.strip().splitlines()[-1] if stderr.strip()
                                    else _("exit status {code}").format(code=code)])  # fmt: skip
        return GradeReport(str(path), "error", None, None, [], [finding], output=output)
    foreign = _foreign_class(header, p)
    if foreign is not None:
        return GradeReport(str(path), "error", header["dialect"], header.get("value_class"), [],
                           [foreign], output=output)  # fmt: skip
    reference = _reference(seed)
    outcomes = {name: _outcome(check, results.get(name), reference[name])
                for name, check in CHECKS.items()}  # fmt: skip
    findings = match(outcomes, header["dialect"])
    limitations = [_("{name} (`{text}`): {error} — your backward recurses, so graphs deeper "
                     "than Python's recursion limit (1000) cannot be differentiated; an "
                     "iterative topological sort has no such limit").format(
                         name=o.check.name, text=o.check.text, error=o.error)
                   for o in outcomes.values() if o.status == "limitation"]  # fmt: skip
    verdict = "fail" if findings else "pass"
    return GradeReport(str(path), verdict, header["dialect"], header.get("value_class"),
                       list(outcomes.values()), findings, limitations, output)  # fmt: skip


# the text report's words for a check's status and the verdict (JSON keeps the ids)
_MARK = {"pass": N_("pass"), "fail": N_("FAIL"), "skipped": N_("skip"),
         "limitation": N_("limit"), "error": N_("ERROR"), "timeout": N_("TIMEOUT"),
         "memory": N_("MEMORY")}  # fmt: skip
_VERDICT = {"pass": N_("pass"), "fail": N_("fail"), "error": N_("error")}


def _text_lines(r: GradeReport) -> list[str]:
    """The report in the language in use: its words, never its names, numbers or code."""
    head = _("grade: {path}").format(path=r.path)
    if r.value_class:
        head += _(" (class {name}, {dialect} dialect)").format(name=r.value_class,
                                                              dialect=r.dialect)  # fmt: skip
    ran = [o for o in r.outcomes if _passed(o.status) is not None]
    passed = sum(o.status == "pass" for o in ran)
    tally = _(" — {passed} of {count} checks pass").format(passed=passed,
                                                            count=len(ran)) if ran else ""
    verdict = _(_VERDICT[r.verdict]) if r.verdict in _VERDICT else r.verdict
    lines = [head, _("verdict: {verdict}").format(verdict=verdict) + tally]
    if r.outcomes:
        lines.append(_("checks:"))
        width = max(len(o.check.name) for o in r.outcomes)
        for o in r.outcomes:
            mark = _(_MARK[o.status]) if o.status in _MARK else o.status.upper()
            lines.append(f"  {aligned(mark, 7)} {o.check.name:<{width}}  {_(o.check.text)}")
    for f in r.misconceptions:
        lines.append(_("misconception {id}: {message}").format(id=f.id, message=_(f.message)))
        lines += [f"  - {e}" for e in f.evidence]
    lines += [_("limitation: {text}").format(text=text) for text in r.limitations]
    for stream in ("stdout", "stderr"):
        size = r.output.get(f"{stream}_bytes", 0)
        if size:
            kept = len(r.output[stream].encode("utf-8"))
            lines.append(_("your code wrote {size} bytes to {stream}").format(
                size=size, stream=stream) + (_(" (first {kept} kept in --json)").format(
                    kept=kept) if size > kept else ""))  # fmt: skip
    return lines
