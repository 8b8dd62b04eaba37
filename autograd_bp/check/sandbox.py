"""The separate process a learner's engine runs in: ``python -m autograd_bp.check.sandbox``.

It sets its own limits (address space, CPU seconds, file size), sends what the learner's
code prints to files in its scratch directory (the grader keeps the first few thousand
characters; past the file-size limit a print fails), loads the module, recognises the
dialect and runs every check of :mod:`autograd_bp.check.battery` under a wall-clock alarm.
It writes one JSON line per event to the pipe the grader reads, so a check that never
returns still leaves the checks before it (and the name of the one it hung in) behind.

These limits bound *accidents* — a loop that never ends, a list that grows forever, a
million prints. They are not a wall against code written to escape them: the learner's
code runs as the same user, with the same files and network. That is why grading is
offered from the command line and Python only, never by the playground's server.

Example:
    >>> names = dialect_names(type("Value", (), {"_children": (), "_local_grads": ()}), {})
    >>> names[0]
    'microgpt'
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import resource
import signal
import sys
import traceback
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any, TextIO

from ..locale import _
from .battery import CHECKS, Check, Engine, leaf_values, run_check
from .grade import OUTPUT_FILES

__all__ = ["CheckTimeout", "dialect_names", "load_engine", "main"]

MAX_FILE = 64 * 2**20  # bytes: a million printed lines fit, an endless print stops there
ADAPTER = "GRADE_ADAPTER"  # a module-level dict mapping the battery's names to the learner's


class CheckTimeout(BaseException):
    """Raised by the alarm: a BaseException, so a learner's ``except Exception`` can't eat it."""


def _limit(which: int, soft: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(which, (soft, hard if hard != resource.RLIM_INFINITY else soft + 2))


def set_limits(memory: int, cpu_seconds: int) -> None:
    """Address space ``memory`` bytes, ``cpu_seconds`` of CPU (then SIGXCPU ends the
    process), no file over :data:`MAX_FILE` (a write past it fails with EFBIG)."""
    _limit(resource.RLIMIT_AS, memory)
    _limit(resource.RLIMIT_CPU, cpu_seconds)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _limit(resource.RLIMIT_FSIZE, MAX_FILE)


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise CheckTimeout


def last_frame(error: BaseException, path: str) -> str | None:
    """``"engine.py:42 in exp: return Value(math.exp(self))"`` — the innermost frame of the
    traceback that is in the learner's file, or None when none is."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == path]
    if not frames:
        return None
    f = frames[-1]
    return f"{Path(path).name}:{f.lineno} in {f.name}: {(f.line or '').strip()}"


def describe(error: BaseException, path: str, seconds: float) -> dict[str, Any]:
    """What went wrong, as the grader's report needs it."""
    if isinstance(error, CheckTimeout):
        kind, message = "timeout", _("still running after {seconds} s").format(
            seconds=f"{seconds:g}")  # fmt: skip
    elif isinstance(error, MemoryError):
        kind, message = "memory", _("MemoryError at the sandbox's address-space limit")
    elif isinstance(error, RecursionError):
        kind, message = "recursion", f"RecursionError: {error}"
    else:
        kind, message = "error", f"{type(error).__name__}: {error}"
    return {"status": kind, "error": message, "frame": last_frame(error, path)}


def load_engine(path: str) -> ModuleType:
    """Import the learner's file as a module of its own; its folder goes at the *end* of
    sys.path, so it can import its own helper modules but never shadow the standard library."""
    sys.path.append(str(Path(path).parent))
    spec = importlib.util.spec_from_file_location("learner_engine", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules["learner_engine"] = module
    spec.loader.exec_module(module)
    return module


def find_class(module: ModuleType, name: str | None) -> type:
    """The class named ``name``, or else ``Value``, or else the one class that has both a
    ``data`` and a ``backward`` attribute."""
    if name is not None:
        found = getattr(module, name, None)
        if not isinstance(found, type):
            raise LookupError(_("the module has no class named {name}").format(name=repr(name)))
        return found
    if isinstance(getattr(module, "Value", None), type):
        return module.Value
    classes = [c for c in vars(module).values() if isinstance(c, type)
               and c.__module__ == module.__name__ and hasattr(c, "backward")]  # fmt: skip
    if len(classes) != 1:
        raise LookupError(_("no class named Value; name yours with --class NAME"))
    return classes[0]


def dialect_names(value_class: type, adapter: dict[str, str]) -> tuple[str, dict[str, str]]:
    """(dialect, names): ``microgpt`` when a node keeps ``_children`` and ``_local_grads``,
    ``micrograd`` when it keeps ``_prev`` and ``_backward``, ``adapter`` when the module maps
    names in ``GRADE_ADAPTER``, else ``plain`` (only ``data``, ``grad``, ``backward`` used)."""
    if adapter:
        return "adapter", dict(adapter)
    try:
        node = value_class(1.0)
    except Exception:  # noqa: BLE001 — the class itself is inspected below
        node = value_class
    if hasattr(node, "_children") and hasattr(node, "_local_grads"):
        return "microgpt", {}
    if hasattr(node, "_prev") and hasattr(node, "_backward"):
        return "micrograd", {}
    return "plain", {}


class Channel:
    """One JSON object per line to the grader, flushed at once."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def send(self, **event: Any) -> None:
        self.stream.write(json.dumps(event, allow_nan=True) + "\n")
        self.stream.flush()


def _guarded(channel: Channel, path: str, seconds: float, check: str, work: Any) -> Any:
    """Run ``work()`` under the alarm; report a failure as a ``result`` event, return None."""
    channel.send(event="start", check=check)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return work()
    except BaseException as error:  # noqa: BLE001 — even SystemExit: reported, the grader decides
        signal.setitimer(signal.ITIMER_REAL, 0)
        channel.send(event="result", check=check, **describe(error, path, seconds))
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _missing(engine: Engine, check: Check) -> list[str]:
    """The learner's names of the optional methods ``check`` needs and the class lacks."""
    probe = engine.leaf(0.5)
    names = [engine.names[op] for op in check.needs]
    return [name for name in names if not callable(getattr(probe, name, None))]


def _run_one(channel: Channel, path: str, engine: Engine, seconds: float, check: Check,
             xs: dict[str, float]) -> None:  # fmt: skip
    missing = _guarded(channel, path, seconds, check.name, lambda: _missing(engine, check))
    if missing is None:
        return
    if missing:
        channel.send(event="result", check=check.name, status="skipped",
                     error=_("your class has no {names}").format(
                         names=", ".join(f"{name}()" for name in missing)))  # fmt: skip
        return
    seen = _guarded(channel, path, seconds, check.name, lambda: run_check(engine, check, xs))
    if seen is not None:
        channel.send(event="result", check=check.name, status="ran", **seen)


def run_battery(channel: Channel, path: str, engine: Engine, seconds: float, seed: int) -> None:
    """Every check of the battery, one after another, each under its own alarm."""
    xs = leaf_values(seed)
    for check in CHECKS.values():
        _run_one(channel, path, engine, seconds, check, xs)


def _require_names(engine: Engine) -> None:
    """One clear error, before any check, when a node lacks data, grad or backward."""
    node = engine.leaf(1.0)
    missing = [_("{role} (as {name})").format(role=role, name=repr(name))
               for role, name in engine.names.items()
               if role in ("data", "grad", "backward") and not hasattr(node, name)]  # fmt: skip
    if missing:
        raise LookupError(_("a {cls} node has no {names}; map your names in {adapter} "
                            "(docs/grade.md, 'Other shapes')").format(
            cls=type(node).__name__, names=", ".join(missing), adapter=ADAPTER))  # fmt: skip


def _defined_in(value_class: type) -> str | None:
    """The file the class was written in, to tell the learner's own class from an import."""
    try:
        return inspect.getsourcefile(value_class)
    except (TypeError, OSError):
        return None


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m autograd_bp.check.sandbox")
    p.add_argument("path")
    p.add_argument("--class", dest="class_name")
    p.add_argument("--check-seconds", type=float, default=2.0)
    p.add_argument("--load-seconds", type=float, default=10.0)
    p.add_argument("--cpu-seconds", type=int, default=60)
    p.add_argument("--memory", type=int, default=2**30)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Grade-side entry point: set limits, capture output, load, run the battery."""
    args = _arguments(argv)
    channel = Channel(os.fdopen(os.dup(1), "w", encoding="utf-8"))
    _redirect_output()
    signal.signal(signal.SIGALRM, _alarm)
    set_limits(args.memory, args.cpu_seconds)
    sys.setrecursionlimit(1000)
    path = str(Path(args.path).resolve())
    module = _guarded(channel, path, args.load_seconds, "load", lambda: load_engine(path))
    if module is not None:
        _load_and_run(channel, module, path, args)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass  # past the file-size limit: the grader reports the size it finds
    channel.send(event="done")
    return 0


def _redirect_output() -> None:
    """fd 1 and 2 (and Python's sys.stdout, sys.stderr over them) into the scratch files:
    C-speed buffered writes, so a million prints cost a second, not the check's budget."""
    for fd, name in zip((1, 2), OUTPUT_FILES):
        target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115


def _load_and_run(channel: Channel, module: ModuleType, path: str,
                  args: argparse.Namespace) -> None:  # fmt: skip
    def recognise() -> tuple[type, str, dict[str, str]]:
        value_class = find_class(module, args.class_name)
        adapter = getattr(module, ADAPTER, None) or {}
        if not isinstance(adapter, dict):
            raise TypeError(_("{adapter} must be a dict of names, got {kind}").format(
                adapter=ADAPTER, kind=type(adapter).__name__))  # fmt: skip
        dialect, names = dialect_names(value_class, adapter)
        _require_names(Engine(value_class, names))
        return value_class, dialect, names

    found = _guarded(channel, path, args.check_seconds, "recognise", recognise)
    if found is None:
        return
    value_class, dialect, names = found
    channel.send(event="loaded", dialect=dialect, value_class=value_class.__name__, names=names,
                 defined_in=_defined_in(value_class))  # fmt: skip
    run_battery(channel, path, Engine(value_class, names), args.check_seconds, args.seed)


if __name__ == "__main__":
    sys.exit(main())
