"""The misconception catalogue: the classic bugs of a hand-built scalar engine, each with a
stable id, what it looks like from outside (its *fingerprint* on the battery's checks), and
a matcher that names it only when the learner's numbers are exactly what that bug produces.

A matcher never guesses: a failure that fits no entry is reported as ``wrong-gradient``
with its numbers, and a check that could not run (timeout, crash, memory) is reported as
such — never as "correct".

Example:
    >>> sorted(CATALOGUE)[:3]
    ['assign-instead-of-accumulate', 'crash', 'div-derivative']
    >>> CATALOGUE["sub-sign"].title
    'a − b passes +1 back to b'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..locale import N_, _
from .battery import Check, is_close

__all__ = ["CATALOGUE", "Finding", "Misconception", "Outcome", "match"]


@dataclass
class Outcome:
    """One check as the grader saw it: ``status`` is pass, fail, skipped, limitation,
    timeout, memory, error (or recursion); ``seen`` the learner's numbers, ``reference``
    this package's engine's numbers on the same graph."""

    check: Check
    status: str
    seen: dict[str, Any] | None = None
    reference: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    frame: str | None = None

    def grad(self, node: str) -> float:
        return float((self.seen or {})["nodes"][node]["grad"])

    def ref_grad(self, node: str) -> float:
        return float(self.reference["nodes"][node]["grad"])

    def value(self, node: str) -> float:
        return float(self.reference["nodes"][node]["data"])

    def forward_ok(self) -> bool:
        return self.seen is not None and is_close(self.seen["out"], self.reference["out"])


@dataclass(frozen=True)
class Finding:
    """A named misconception with its evidence in the learner's own terms."""

    id: str
    message: str
    evidence: list[str]
    checks: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "message": self.message, "evidence": self.evidence,
                "checks": list(self.checks)}  # fmt: skip


Outcomes = dict[str, Outcome]
Matcher = Callable[[Outcomes, str], "tuple[list[str], tuple[str, ...]] | None"]


@dataclass(frozen=True)
class Misconception:
    """A catalogue entry: stable ``id``, a short ``title``, the ``message`` a learner reads,
    the ``fingerprint`` (docs/grade.md prints it) and the ``matcher``."""

    id: str
    title: str
    message: str
    fingerprint: str
    matcher: Matcher


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _status(o: Outcomes, name: str) -> str:
    return o[name].status if name in o else "missing"


def _passes(o: Outcomes, *names: str) -> bool:
    """Each named check passed or was skipped (an engine without tanh has no tanh bug)."""
    return all(_status(o, n) in ("pass", "skipped") for n in names)


def _failed_with_right_forward(o: Outcomes, name: str) -> bool:
    return _status(o, name) == "fail" and o[name].forward_ok()


def _where(dialect: str, op: str) -> str:
    if dialect == "microgpt":
        return _("the local gradient your `{op}` stores in `_local_grads`").format(op=op)
    return _("the `_backward` closure of your `{op}`").format(op=op)


def _predicted(o: Outcomes, name: str, node: str, wrong: float) -> bool:
    """The learner's gradient is the bug's prediction and not the right value."""
    out = o[name]
    return is_close(out.grad(node), wrong) and not is_close(out.ref_grad(node), wrong)


def _assign(o: Outcomes, dialect: str) -> tuple[list[str], tuple[str, ...]] | None:
    evidence, checks = [], []
    for name, text in (("reuse-add", "a + a"), ("reuse-mul", "a * a")):
        if not (_failed_with_right_forward(o, name) and _passes(o, "add", "mul")):
            continue
        wrong = 1.0 if name == "reuse-add" else o[name].value("a")  # one use's share only
        if _predicted(o, name, "a", wrong):
            out = o[name]
            evidence.append(_("for `{text}` your ∂/∂a is {yours}, the engine's is {engine}: your "
                              "backward assigns where it must add").format(
                text=text, yours=_fmt(out.grad("a")), engine=_fmt(out.ref_grad("a"))))  # fmt: skip
            checks.append(name)
    return (evidence, tuple(checks)) if evidence else None


def _topological(o: Outcomes, dialect: str) -> tuple[list[str], tuple[str, ...]] | None:
    if not (_failed_with_right_forward(o, "diamond")
            and _passes(o, "add", "mul", "reuse-add", "reuse-mul", "equal-values")):  # fmt: skip
        return None
    out = o["diamond"]
    if all(is_close(out.grad(n), out.ref_grad(n)) for n in "abc"):
        return None
    return [_("in `{text}` the node d is reached twice; your ∂out/∂a is {yours}, the engine's "
              "is {engine} (d.grad: yours {yours_d}, the engine's {engine_d}): your backward "
              "passes a node's gradient on before every use of it has added to it").format(
        text=out.check.text, yours=_fmt(out.grad("a")), engine=_fmt(out.ref_grad("a")),
        yours_d=_fmt(out.grad("d")), engine_d=_fmt(out.ref_grad("d")))], ("diamond",)  # fmt: skip


def _value_equality(o: Outcomes, dialect: str) -> tuple[list[str], tuple[str, ...]] | None:
    if not (_failed_with_right_forward(o, "equal-values") and _passes(o, "diamond", "mul")):
        return None
    out = o["equal-values"]
    b, c = out.value("b"), out.value("c")
    # whichever of x, y the merged visited set kept, the other's share never reaches a
    lost = [(name, formula) for name, formula, wrong in (("y", "b·c", b * c), ("x", "b", b))
            if _predicted(o, "equal-values", "a", wrong)]  # fmt: skip
    if not lost:
        return None
    name, formula = lost[0]
    return [_("in `{text}` x and y are two nodes with the same value; your ∂out/∂a is {yours} "
              "= {formula}, as if {name} were never visited, the engine's is {engine}: the "
              "`visited` set of your topological sort compares nodes by value "
              "(`__eq__`/`__hash__`), so it merged x and y").format(
        text=out.check.text, yours=_fmt(out.grad("a")), formula=formula, name=name,
        engine=_fmt(out.ref_grad("a")))], ("equal-values",)  # fmt: skip


def _unary(name: str, op: str, wrong: Callable[[float], float], formula: str,
           why: str) -> Matcher:  # fmt: skip
    def matcher(o: Outcomes, dialect: str) -> tuple[list[str], tuple[str, ...]] | None:
        if not _failed_with_right_forward(o, name):
            return None
        out = o[name]
        leaf = out.check.leaves[0]
        x = out.value(leaf)
        if not _predicted(o, name, leaf, wrong(x)):
            return None
        return [_("for `{text}` at {leaf} = {x} your ∂/∂{leaf} is {yours} = {formula}, the "
                  "engine's is {engine}: {where} {why}").format(
            text=out.check.text, leaf=leaf, x=_fmt(x), yours=_fmt(out.grad(leaf)),
            formula=formula, engine=_fmt(out.ref_grad(leaf)), where=_where(dialect, op),
            why=_(why))], (name,)  # fmt: skip

    return matcher


def _sub_sign(o: Outcomes, dialect: str) -> tuple[list[str], tuple[str, ...]] | None:
    if not _failed_with_right_forward(o, "sub"):
        return None
    out = o["sub"]
    for leaf, wrong in (("b", 1.0), ("a", -1.0)):
        if _predicted(o, "sub", leaf, wrong):
            return [_("for `a - b` your ∂/∂{leaf} is {yours}, the engine's is {engine}: "
                      "{where} has the sign of a − b's derivative wrong (∂/∂a = +1, ∂/∂b = −1)"
                      ).format(leaf=leaf, yours=_fmt(out.grad(leaf)),
                               engine=_fmt(out.ref_grad(leaf)), where=_where(dialect, "-"))
                    ], ("sub",)  # fmt: skip
    return None


def _grad_differs(out: Outcome, *leaves: str) -> list[str]:
    return [_("∂/∂{leaf} is {yours}, the engine's is {engine}").format(
                leaf=n, yours=_fmt(out.grad(n)), engine=_fmt(out.ref_grad(n)))
            for n in leaves if not is_close(out.grad(n), out.ref_grad(n))]  # fmt: skip


def _div(o: Outcomes, dialect: str) -> tuple[list[str], tuple[str, ...]] | None:
    if not (_failed_with_right_forward(o, "div") and _passes(o, "pow", "mul")):
        return None
    wrong = _grad_differs(o["div"], "a", "b")
    if not wrong:
        return None
    return [_("for `a / b` your {differences}: {where} is not ∂/∂a = 1/b, ∂/∂b = −a/b²").format(
        differences=_("; your ").join(wrong), where=_where(dialect, "/"))], ("div",)  # fmt: skip


def _relu(o: Outcomes, dialect: str) -> tuple[list[str], tuple[str, ...]] | None:
    evidence, checks = [], []
    for name, sign in (("relu-", "< 0"), ("relu+", "> 0")):
        if _failed_with_right_forward(o, name):
            out = o[name]
            leaf = out.check.leaves[0]
            evidence.append(_("for `{leaf}.relu()` with {leaf} = {x} {sign} your ∂/∂{leaf} is "
                              "{yours}, the engine's is {engine}: {where} must let the gradient "
                              "through where the input is positive, block it elsewhere").format(
                leaf=leaf, x=_fmt(out.value(leaf)), sign=sign, yours=_fmt(out.grad(leaf)),
                engine=_fmt(out.ref_grad(leaf)), where=_where(dialect, "relu")))  # fmt: skip
            checks.append(name)
    return (evidence, tuple(checks)) if evidence else None


_REFLECTED = {  # check -> (the method Python looks for, what the operands swapped compute)
    "radd": ("__radd__", lambda a: a + 2),
    "rmul": ("__rmul__", lambda a: a * 2),
    "rsub": ("__rsub__", lambda a: a - 2),
    "rtruediv": ("__rtruediv__", lambda a: a / 2),
}


def _reflected(o: Outcomes, dialect: str) -> tuple[list[str], tuple[str, ...]] | None:
    evidence, checks = [], []
    for name, (method, swapped) in _REFLECTED.items():
        out = o.get(name)
        if out is None:
            continue
        text = out.check.text
        if out.status == "error" and "unsupported operand" in (out.error or ""):
            evidence.append(_("`{text}` raises {error}: Python asks the Value on the right for "
                              "{method}, and your class has none").format(
                text=text, error=out.error, method=method))  # fmt: skip
        elif out.status == "fail" and out.seen is not None and is_close(
            out.seen["out"], swapped(out.value("a"))
        ) and not out.forward_ok():
            evidence.append(_("`{text}` gives {yours}, the value of the operands swapped; the "
                              "engine gives {engine}: your {method} computes a {op} 2 where "
                              "{text} is meant").format(
                text=text, yours=_fmt(out.seen["out"]), engine=_fmt(out.reference["out"]),
                method=method, op=text[2]))  # fmt: skip
        else:
            continue
        checks.append(name)
    return (evidence, tuple(checks)) if evidence else None


def _op(check: Check) -> str:
    """", op exp" for a check of one op; a whole graph's op is the frame's function."""
    return "" if check.op == "backward" else _(", op {op}").format(op=check.op)


def _stopped(status: str, what: str) -> Matcher:
    def matcher(o: Outcomes, dialect: str) -> tuple[list[str], tuple[str, ...]] | None:
        hits = [out for out in o.values() if out.status == status
                and not (status == "error" and "unsupported operand" in (out.error or "")
                         and out.check.name in _REFLECTED)]  # fmt: skip
        if not hits:
            return None
        return [_("check `{name}` (`{text}`{op}) {what}: {error}").format(
                    name=h.check.name, text=_(h.check.text), op=_op(h.check), what=_(what),
                    error=h.error)
                + (_("; last line of yours: {frame}").format(frame=h.frame) if h.frame else "")
                for h in hits], tuple(h.check.name for h in hits)  # fmt: skip

    return matcher


def _entries() -> list[Misconception]:
    m = Misconception
    return [
        m("assign-instead-of-accumulate", N_("`=` where backward must `+=`"),
          N_("your backward assigns a gradient where it must add to it (`=` for `+=`)"),
          "`a + a` gives ∂/∂a = 1 (not 2) and `a * a` gives a (not 2a), while a + b and a * b "
          "pass", _assign),
        m("no-topological-order", N_("backward out of topological order"),
          N_("your backward visits nodes out of topological order (recursively or in the wrong "
             "order), so a node used twice passes its gradient on before it is complete"),
          "the diamond d = a·b, e = d + c, out = d·e fails on a, b while every single op and "
          "`a + a`, `a * a` pass", _topological),
        m("tanh-derivative-from-input", N_("tanh' as 1 − x² instead of 1 − tanh(x)²"),
          N_("your tanh derivative is 1 − x² of the input x; it is 1 − t² of the output t"),
          "`a.tanh()` gives ∂/∂a = 1 − a²", _unary("tanh", "tanh", lambda x: 1 - x * x,
                                                  "1 − a²", N_("uses the input where it needs "
                                                     "the output t = tanh(a): 1 − t²"))),
        m("exp-derivative-from-input", N_("exp' as x instead of exp(x)"),
          N_("your exp derivative is the input x; the derivative of exp is exp itself"),
          "`a.exp()` gives ∂/∂a = a", _unary("exp", "exp", lambda x: x, "a",
                                            N_("uses the input where it needs the output exp(a)"))),
        m("pow-missing-exponent", N_("xⁿ' as xⁿ⁻¹ without the n"),
          N_("your power rule drops the exponent: d(xⁿ)/dx is n·xⁿ⁻¹"),
          "`a ** 3` gives ∂/∂a = a² (not 3a²)", _unary("pow", "**", lambda x: x * x, "a²",
                                                      N_("drops the factor n of n·aⁿ⁻¹"))),
        m("sub-sign", N_("a − b passes +1 back to b"),
          N_("your subtraction has the wrong sign in its derivative: ∂(a − b)/∂b is −1"),
          "`a - b` gives ∂/∂b = +1 (or ∂/∂a = −1)", _sub_sign),
        m("div-derivative", N_("a / b differentiated wrongly"),
          N_("your division's derivative is wrong: ∂(a/b)/∂a = 1/b and ∂(a/b)/∂b = −a/b²"),
          "`a / b` fails on a gradient while `a ** 3` and `a * b` pass", _div),
        m("relu-gate", N_("relu's gate wrong"),
          N_("your relu lets the gradient through where it must block it (or the reverse)"),
          "`n.relu()` with n < 0 gives a non-zero gradient, or a > 0 gives one other than 1",
          _relu),
        m("missing-reflected-op", N_("`2 - v` and friends missing or swapped"),
          N_("a number on the left of your Value fails: the reflected operator (__radd__, "
             "__rmul__, __rsub__, __rtruediv__) is missing or computes the operands swapped"),
          "`2 + a`, `2 * a`, `2 - a` or `2 / a` raises TypeError or gives a + 2, a − 2, a / 2",
          _reflected),
        m("topo-by-value-equality", N_("nodes merged by value in the topological sort"),
          N_("your topological sort keys its visited set on `__eq__`/`__hash__` by value, so two "
             "distinct nodes that happen to hold the same number are merged"),
          "x = a·b and y = b·a (equal values) in out = x·c + y: ∂/∂a is b·c or b, the share of "
          "y or of x lost",
          _value_equality),
        m("timeout", N_("a check did not finish"),
          N_("a check was still running at the time limit (an endless loop, or exponential work "
             "such as a topological sort without a visited set)"),
          "a check is stopped by the per-check alarm or the overall limit",
          _stopped("timeout", N_("did not finish"))),
        m("memory-limit", N_("a check ran out of memory"),
          N_("a check ran out of the sandbox's memory (something grows without bound)"),
          "MemoryError under the address-space limit, or the process killed for it",
          _stopped("memory", N_("ran out of memory"))),
        m("crash", N_("a check raised an exception"),
          N_("your code raised an exception; the op and your last line are in the evidence"),
          "any exception other than a missing reflected operator", _stopped("error", N_("raised"))),
    ]


CATALOGUE: dict[str, Misconception] = {m.id: m for m in _entries()}

_SINGLE_OPS = ("add", "mul", "sub", "div", "pow", "tanh", "exp", "relu+", "relu-")


# ops that micrograd and microgpt build from others: a wrong ** also fails a / b
_BUILT_FROM = {"div": ("pow", "mul"), "sub": ("add", "mul")}


def _generic(o: Outcomes, explained: set[str], named: bool) -> Finding | None:
    """Failed checks no entry explains: single ops always (unless an op they are built from
    failed too), composites only when nothing was named (a wrong tanh also fails the MLP;
    that is the same bug, not a second one)."""
    left = [out for name, out in o.items() if out.status == "fail" and name not in explained
            and (not named or (name in _SINGLE_OPS
                               and _passes(o, *_BUILT_FROM.get(name, ()))))]  # fmt: skip
    if not left:
        return None
    evidence = []
    for out in left:
        diffs = _grad_differs(out, *(out.seen or {}).get("nodes", {}))
        if not out.forward_ok():
            diffs.insert(0, _("value is {yours}, the engine's is {engine}").format(
                yours=_fmt((out.seen or {}).get("out", math.nan)),
                engine=_fmt(out.reference["out"])))  # fmt: skip
        shown = _("; your ").join(diffs[:4] or [_("result differs")])
        evidence.append(_("`{text}`: your {differences}").format(text=_(out.check.text),
                                                                  differences=shown))  # fmt: skip
    return Finding("wrong-gradient", N_("a gradient differs from the engine's in a way the "
                                        "catalogue does not recognise"),
                   evidence, tuple(o.check.name for o in left))  # fmt: skip


def match(outcomes: Outcomes, dialect: str) -> list[Finding]:
    """Every catalogue entry whose fingerprint the outcomes show, then ``wrong-gradient`` for
    failures none of them explains.

    Example:
        >>> match({}, "micrograd")
        []
    """
    findings, explained = [], set()
    for entry in CATALOGUE.values():
        hit = entry.matcher(outcomes, dialect)
        if hit:
            evidence, checks = hit
            findings.append(Finding(entry.id, entry.message, evidence, checks))
            explained |= set(checks)
    generic = _generic(outcomes, explained, bool(findings))
    return findings + ([generic] if generic else [])

