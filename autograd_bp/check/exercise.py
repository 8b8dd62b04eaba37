"""Practice: seeded exercises in deriving gradients, graded by :func:`check_derivation`.

Three levels: 1 — one variable, one or two ops; 2 — the chain rule, a variable reached by
two paths; 3 — a tiny sigmoid network with named steps and δ's, as in Mazur's worked example
(https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/). The same seed
always gives the same exercise; every answer key is itself graded by the checker in the
tests, so the key cannot be wrong silently.

Example:
    >>> ex = make_exercise(7, level=2)
    >>> ex == make_exercise(7, level=2)
    True
    >>> ex.grade(ex.answer).verdict
    'correct'
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from ..locale import _
from .derivation import DerivationReport, Problem, check_derivation
from .problems import program_problem

__all__ = ["LEVELS", "Exercise", "exercise_set", "make_exercise"]

LEVELS = (1, 2, 3)


@dataclass(frozen=True)
class Template:
    """An exercise shape: named steps, the variables and their ranges, the answers."""

    steps: tuple[tuple[str, str], ...]
    ranges: dict[str, tuple[float, float]]
    answers: dict[str, str]  # wrt -> answer formula
    deltas: dict[str, str] = field(default_factory=dict)


def _expr(text: str, answers: dict[str, str], **ranges: tuple[float, float]) -> Template:
    return Template((("f", text),), ranges, answers)


_ANY = (-2.0, 2.0)
_POS = (0.2, 3.0)
_NET = (-1.0, 1.0)

TEMPLATES: dict[int, list[Template]] = {
    1: [
        _expr("x*y + 3*x", {"x": "y + 3", "y": "x"}, x=_ANY, y=_ANY),
        _expr("sin(x)*y", {"x": "cos(x)*y", "y": "sin(x)"}, x=_ANY, y=_ANY),
        _expr("exp(a*x)", {"x": "a*exp(a*x)", "a": "x*exp(a*x)"}, a=_ANY, x=_ANY),
        _expr("x**3 - y*x", {"x": "3*x**2 - y", "y": "-x"}, x=_ANY, y=_ANY),
        _expr("log(x*y)", {"x": "1/x", "y": "1/y"}, x=_POS, y=_POS),
        _expr("x/y", {"x": "1/y", "y": "-x/y**2"}, x=_ANY, y=_POS),
    ],
    2: [
        _expr(
            "sigmoid(w*x + b)",
            {
                "w": "sigmoid(w*x + b)*(1 - sigmoid(w*x + b))*x",
                "b": "sigmoid(w*x + b)*(1 - sigmoid(w*x + b))",
            },
            w=_ANY,
            x=_ANY,
            b=_ANY,
        ),
        _expr(
            "tanh(w*x + b)*w",
            {"w": "(1 - tanh(w*x + b)**2)*x*w + tanh(w*x + b)"},
            w=_ANY,
            x=_ANY,
            b=_ANY,
        ),
        _expr(
            "x*y*x + sin(x*y)", {"x": "2*x*y + cos(x*y)*y", "y": "x*x + cos(x*y)*x"}, x=_ANY, y=_ANY
        ),
        _expr("(w*x - t)**2/2", {"w": "(w*x - t)*x", "t": "t - w*x"}, w=_ANY, x=_ANY, t=_ANY),
        _expr("exp(x)*x + x", {"x": "exp(x)*x + exp(x) + 1"}, x=_ANY),
    ],  # fmt: skip
    3: [
        Template(
            (
                ("net_h", "w1*x1 + w2*x2 + b1"),
                ("out_h", "sigmoid(net_h)"),
                ("net_o", "w3*out_h + b2"),
                ("out_o", "sigmoid(net_o)"),
                ("E", "(target - out_o)**2/2"),
            ),
            {
                "x1": _NET,
                "x2": _NET,
                "w1": _NET,
                "w2": _NET,
                "w3": _NET,
                "b1": _NET,
                "b2": _NET,
                "target": (0.01, 0.99),
            },
            {
                "w3": "(out_o - target)*out_o*(1 - out_o)*out_h",
                "w1": "delta_o*w3*out_h*(1 - out_h)*x1",
                "b1": "delta_o*w3*out_h*(1 - out_h)",
            },
            {"delta_o": "net_o", "delta_h": "net_h"},
        ),
        Template(
            (
                ("net_h", "w1*x + b1"),
                ("out_h", "sigmoid(net_h)"),
                ("net_o1", "w2*out_h + b2"),
                ("out_o1", "sigmoid(net_o1)"),
                ("net_o2", "w3*out_h + b2"),
                ("out_o2", "sigmoid(net_o2)"),
                ("E", "(target_o1 - out_o1)**2/2 + (target_o2 - out_o2)**2/2"),
            ),
            {
                "x": _NET,
                "w1": _NET,
                "w2": _NET,
                "w3": _NET,
                "b1": _NET,
                "b2": _NET,
                "target_o1": (0.01, 0.99),
                "target_o2": (0.01, 0.99),
            },
            {
                "w1": "(delta_o1*w2 + delta_o2*w3)*out_h*(1 - out_h)*x",
                "w2": "(out_o1 - target_o1)*out_o1*(1 - out_o1)*out_h",
                "b2": "delta_o1 + delta_o2",
            },
            {"delta_o1": "net_o1", "delta_o2": "net_o2", "delta_h": "net_h"},
        ),
    ],  # fmt: skip
}


@dataclass(frozen=True)
class Exercise:
    """One exercise: what to differentiate, at which values, and the answer key."""

    seed: int
    level: int
    steps: tuple[tuple[str, str], ...]
    values: tuple[tuple[str, float], ...]
    wrt: str
    answer: str
    deltas: tuple[tuple[str, str], ...] = ()

    @property
    def output(self) -> str:
        """The name of the quantity to differentiate (the last step)."""
        return self.steps[-1][0]

    @property
    def expression(self) -> str:
        """The f this exercise grades against, as the expression language writes it: the
        expression, or the named steps as a program (``autograd-bp check`` reads both).

        Example:
            >>> make_exercise(0, level=1).expression
            'x*y + 3*x'
            >>> make_exercise(5, level=3).expression.split("; ")[:2]
            ['net_h = w1*x + b1', 'out_h = sigmoid(net_h)']
        """
        if len(self.steps) == 1:
            return self.steps[0][1]
        return "; ".join(f"{name} = {text}" for name, text in self.steps)

    def command(self, answer: str = "FORMULA") -> str:
        """The command that grades ``answer`` against exactly this exercise (its seed and
        level both given, so it is the same exercise whatever the default level).

        Example:
            >>> make_exercise(4, level=1).command("x")
            'autograd-bp exercise --seed 4 --level 1 --answer "x"'
        """
        if any(c in answer for c in '"`$\\'):
            raise ValueError(f"an answer cannot be quoted for a shell: {answer!r}")
        return f'autograd-bp exercise --seed {self.seed} --level {self.level} --answer "{answer}"'

    def problem(self) -> Problem:
        """The exercise's graph with its names."""
        return program_problem(self.steps, dict(self.values), dict(self.deltas))

    def grade(self, answer: str, **options: Any) -> DerivationReport:
        """Grade ``answer`` with :func:`check_derivation` (options are passed on)."""
        return check_derivation(self.problem(), self.wrt, answer, **options)

    def engine_value(self) -> float:
        """The engine's ∂output/∂wrt at the exercise's values."""
        from ..core.engine import grad

        p = self.problem()
        (g,) = grad(p.output, [p.node(self.wrt)])
        return float(g)

    def text(self) -> str:
        """The exercise as a learner reads it."""
        values = ", ".join(f"{n} = {v:g}" for n, v in self.values)
        lines = [_("Exercise {seed} (level {level})").format(seed=self.seed, level=self.level)]
        if len(self.steps) == 1:
            lines.append(f"  f = {self.steps[0][1]}")
        else:
            lines.append(_("  A tiny sigmoid network, step by step:"))
            lines += [f"    {name} = {text}" for name, text in self.steps]
        lines.append(_("  at {values}.").format(values=values))
        lines.append(_("  Find {d} as a formula in these names.").format(
            d=f"∂{self.output}/∂{self.wrt}"))
        if self.deltas:
            named = ", ".join(f"{d} = ∂{self.output}/∂{of}" for d, of in self.deltas)
            lines.append(_("  You may use the steps' names and the δ's: {named}.").format(
                named=named))
        return "\n".join(lines)


def make_exercise(seed: int, level: int | None = None) -> Exercise:
    """The exercise for ``seed`` (and ``level``; by default 1 + seed mod 3).

    Example:
        >>> make_exercise(0).level, make_exercise(4).level
        (1, 2)
    """
    if level is None:
        level = 1 + seed % 3
    if level not in LEVELS:
        raise ValueError(f"level must be 1, 2 or 3, got {level!r}")
    rng = random.Random(f"autograd-bp exercise {seed} {level}")
    template = rng.choice(TEMPLATES[level])
    values = tuple((name, _draw(rng, lo, hi)) for name, (lo, hi) in template.ranges.items())
    wrt = rng.choice(sorted(template.answers))
    return Exercise(seed, level, template.steps, values, wrt, template.answers[wrt],
                    tuple(template.deltas.items()))  # fmt: skip


def _draw(rng: random.Random, lo: float, hi: float) -> float:
    """A value with two decimals in [lo, hi], never 0 (so no factor vanishes by accident)."""
    while True:
        v = round(rng.uniform(lo, hi), 2)
        if v != 0:
            return v


def exercise_set(count: int, seed: int = 0, level: int | None = None) -> str:
    """``count`` exercises from ``seed`` on, as Markdown, with an answer key at the end.

    Example:
        >>> print(exercise_set(1, seed=3).splitlines()[0])
        # Gradient exercises
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count!r}")
    exercises = [make_exercise(seed + i, level) for i in range(count)]
    out = [_("# Gradient exercises"), "",
           _("Derive each partial derivative by hand, then check it with the command under the "
             "exercise, your formula in place of FORMULA."), ""]  # fmt: skip
    for ex in exercises:
        out += [f"## {ex.text().splitlines()[0]}", "", "```text", *ex.text().splitlines()[1:],
                "```", "", "```console", ex.command(), "```", ""]  # fmt: skip
    out += [_("## Answer key"), "",
            _("Each command grades the key's answer: it prints ✓ correct."), ""]  # fmt: skip
    out += [_("| exercise | answer | value | grading command |"), "|---|---|---|---|"]
    for ex in exercises:
        out.append(f"| {ex.seed} | `∂{ex.output}/∂{ex.wrt} = {ex.answer}` | "
                   f"{ex.engine_value():.9g} | `{ex.command(ex.answer)}` |")  # fmt: skip
    return "\n".join(out) + "\n"
