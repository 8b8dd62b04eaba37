"""Points designed to cover every branch of a graph and a claim.

Random points in a box around the given one miss what happens far away (``2*x +
relu(x - 10)`` claimed for ``x*x`` at x = 3) and across a kink (a relu left out: right on the
open side, wrong on the closed one). :func:`designed_points` adds, each inside every op's
domain:

* **scales and signs**: every variable at 10⁻³ … 10³ with all signs +, all −, and mixed;
  each variable alone with its sign flipped and at ±10³;
* **kinks**: for every node (of the graph *and* of the claim) whose op has a kink — found in
  the op table by probing each one-operand op on both sides of 0 (relu, abs, step, sign,
  leaky_relu, recip's pole, and any registered op like them) — points on both sides of it:
  where two points straddle the kink, bisection finds where its argument crosses 0 (to the
  float resolution of the segment, so that a kink 10⁻⁹ past another still gets a point
  between them) and points are put there and at 10⁻⁵, 10⁻³ and 10⁻¹ of the way on each
  side. The other side is looked for first by moving one variable at a time away from the
  given point (further and further out, up to 10¹²), so that the others keep their values;
  else among all the points.

Example:
    >>> from autograd_bp import parse
    >>> from autograd_bp.check.points import Setup
    >>> f = parse("relu(x - 10)*x", x=3.0)
    >>> x = f.parents[1]
    >>> setup = Setup(f, x, "x", {"x": x})
    >>> d = designed_points(setup, setup.evaluate({}), [], seed=0)
    >>> d.kinks, d.crossed, any(p.leaves["x"] > 10 for p in d.points)
    (1, 1, True)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..core.engine import Value
from ..core.ops import RULES
from .points import Point, Setup

__all__ = ["SCALES", "Design", "branches_covered", "designed_points", "kink_ops"]

SCALES = (1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0, 1e3)
ALONE = (1e3,)  # one variable moved alone to ± these (and its sign flipped)
FAR = (1e-2, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4, 1e6, 1e8, 1e12)  # looking for a kink's other side
SIDES = (1e-5, 1e-3, 1e-1)  # how far past a crossing, as a fraction of the segment
MAX_KINK_NODES = 24
MAX_VARIABLES = 24
BISECTIONS = 80  # to the float resolution of the segment: a kink 1e-9 past another is seen
SECONDS = 1.5  # the numeric design's share of the 10 s a check may take


@dataclass
class Design:
    """The designed points, how many kink nodes there are and how many were crossed, and
    whether every kink was crossed within the time (``complete``)."""

    points: list[Point] = field(default_factory=list)
    scales: int = 0
    kinks: int = 0
    crossed: int = 0
    across: int = 0
    complete: bool = True


def kink_ops() -> set[str]:
    """Names of the one-operand ops whose value or derivative jumps at operand 0.

    Example:
        >>> sorted(kink_ops() & {"relu", "abs", "step", "sign", "leaky_relu", "tanh", "exp"})
        ['abs', 'leaky_relu', 'relu', 'sign', 'step']
    """
    found = set()
    for rule in list(RULES.values()):
        if rule.variadic or rule.arity != 1:
            continue
        try:
            lo, hi = (rule.forward(x, rule.default) for x in (-1e-9, 1e-9))
            dlo, dhi = (float(rule.local(x, out, rule.default)[0])
                        for x, out in ((-1e-9, lo), (1e-9, hi)))  # fmt: skip
        except (ArithmeticError, ValueError, TypeError):
            continue  # not defined on both sides of 0 (log, sqrt): no kink to cross there
        if abs(hi - lo) > 1e-6 or abs(dhi - dlo) > 1e-6:
            found.add(rule.name)
    return found


def designed_points(
    setup: Setup, here: Point, box: list[Point], seed: int, seconds: float = SECONDS
) -> Design:
    """The points beyond the box (see the module docstring); ``box`` are the random points
    around the given one, used to find where kinks are."""
    design = Design()
    deadline = time.monotonic() + seconds
    leaves = list(setup.variables.values())
    base = np.array([v.data for v in leaves], dtype=float)
    rng = np.random.default_rng(seed + 1)

    def at(values: np.ndarray) -> Point | None:
        return setup.evaluate({v: float(x) for v, x in zip(leaves, values)})

    for values in _scale_values(base, rng):
        if time.monotonic() > deadline:
            design.complete = False
            return design
        p = at(values)
        if p is not None:
            design.points.append(p)
    design.scales = len(design.points)
    arguments = _kink_arguments(setup)
    design.kinks = len(arguments)
    if len(arguments) > MAX_KINK_NODES:
        design.complete = False
        arguments = arguments[:MAX_KINK_NODES]
    for argument in arguments:
        if time.monotonic() > deadline:
            design.complete = False
            break
        pool = [here, *box, *design.points]
        added = _across(argument, pool, base, at)
        if added:
            design.crossed += 1
            design.points += added
            design.across += len(added)
        else:
            design.complete = False  # one side of this kink was never reached
    return design


MAX_PATTERN_KINKS = 6  # distinct kinks whose sign patterns are counted (2**6 patterns)


def branches_covered(setup: Setup, points: list[Point]) -> bool:
    """Whether the points visit every combination of sides of the distinct kinks (kink
    nodes whose arguments have the same signs at every point, or opposite ones, count once).

    Crossing each kink alone is not enough: ``y + relu(x - 1e4)*relu(y - 1e4)`` claimed for
    ∂(x·y)/∂x crosses both kinks, one at a time, but is wrong only where both arguments are
    positive. A combination that is impossible (x < 1 and x > 2) is never seen either, so
    this can say False for a claim that is right; it is what a ``correct`` without a proof
    needs.

    Example:
        >>> from autograd_bp import parse
        >>> f = parse("x*y", x=3.0, y=2.0)
        >>> x, y = f.parents
        >>> setup = Setup(f, x, "y + relu(x - 10)*relu(y - 10)", {"x": x, "y": y})
        >>> def at(a, b): return setup.evaluate({x: a, y: b})
        >>> branches_covered(setup, [at(3, 2), at(11, 2), at(3, 11)])
        False
        >>> branches_covered(setup, [at(3, 2), at(11, 2), at(3, 11), at(11, 11)])
        True
    """
    groups: list[tuple[int, ...]] = []
    for argument in _kink_arguments(setup)[:MAX_KINK_NODES]:
        signs = tuple(_sign(argument(p)) for p in points)
        if signs not in groups and tuple(-s for s in signs) not in groups:
            groups.append(signs)
    if len(groups) > MAX_PATTERN_KINKS:
        return False
    seen = {tuple(g[k] for g in groups) for k in range(len(points))
            if all(g[k] != 0 for g in groups)}  # fmt: skip
    return len(seen) == 2 ** len(groups)


def _sign(a: float | None) -> int:
    return 0 if a is None or a == 0 or a != a else (1 if a > 0 else -1)


def _scale_values(base: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    n = len(base)
    out = []
    for s in SCALES:
        for signs in (np.ones(n), -np.ones(n), rng.choice([-1.0, 1.0], n),
                      rng.choice([-1.0, 1.0], n)):  # fmt: skip
            out.append(signs * s * rng.uniform(0.5, 2.0, n))
    for i in range(min(n, MAX_VARIABLES)):
        for v in (-base[i], *(s * m for s in ALONE for m in (1.0, -1.0))):
            moved = base.copy()
            moved[i] = v
            out.append(moved)
    return out


Argument = Callable[[Point], "float | None"]


def _kink_arguments(setup: Setup) -> list[Argument]:
    """For each kink node of the graph and of the claim, its argument's value at a point."""
    kinks = kink_ops()
    out: list[Argument] = []
    for node in reversed(setup.order):
        if node.op in kinks and type(node.operands[0]) is Value:
            out.append(_graph_argument(node.operands[0]))
    for node in reversed(setup.claim_order):
        if node.op in kinks and type(node.operands[0]) is Value:
            out.append(_claim_argument(node.operands[0]))
    return out


def _graph_argument(key: Value) -> Argument:
    return lambda p: p.values.get(key)


def _claim_argument(key: Value) -> Argument:
    return lambda p: p.claim_values.get(key)


def _across(argument: Argument, pool: list[Point], base: np.ndarray,
            at: Callable[[np.ndarray], Point | None]) -> list[Point]:  # fmt: skip
    """Points on both sides of one kink, near where its argument crosses 0; [] when no point
    on one of the sides could be found. The crossing nearest the given point (one variable
    moved, the others as given) comes first; else two points of the pool on either side."""
    here = argument(pool[0])
    if here is not None and here != 0:  # first: one variable moved from the given point
        other = _reach(argument, base, at, want_positive=here < 0)
        if other is not None:
            p, q = (pool[0], other) if here > 0 else (other, pool[0])
            return _straddle(argument, _vector(p, base), _vector(q, base), at)
    signed = [(a, p) for p in pool if (a := argument(p)) is not None and a != 0]
    pos = [(a, p) for a, p in signed if a > 0]
    neg = [(a, p) for a, p in signed if a < 0]
    if not pos or not neg:
        return []
    p = min(pos, key=lambda ap: ap[0])[1]
    q = max(neg, key=lambda ap: ap[0])[1]
    return _straddle(argument, _vector(p, base), _vector(q, base), at)


def _vector(p: Point, base: np.ndarray) -> np.ndarray:
    values = list(p.leaves.values())
    return np.array(values, dtype=float) if len(values) == len(base) else base


def _reach(argument: Argument, base: np.ndarray, at: Callable[[np.ndarray], Point | None],
           want_positive: bool) -> Point | None:  # fmt: skip
    """A point on the wanted side, moving one variable at a time further out."""
    for i in range(min(len(base), MAX_VARIABLES)):
        for s in FAR:
            for sign in (1.0, -1.0):
                moved = base.copy()
                moved[i] = base[i] + sign * s
                p = at(moved)
                a = None if p is None else argument(p)
                if a is not None and a != 0 and (a > 0) == want_positive:
                    return p
    return None


def _straddle(argument: Argument, p: np.ndarray, q: np.ndarray,
              at: Callable[[np.ndarray], Point | None]) -> list[Point]:  # fmt: skip
    """Bisect from p (argument > 0) to q (< 0) for the crossing, then points on either side."""
    lo, hi = 0.0, 1.0  # argument > 0 at lo, < 0 at hi
    for _ in range(BISECTIONS):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break  # the bracket is as narrow as floats make it
        point = at(p + mid * (q - p))
        a = None if point is None else argument(point)
        if a is None:
            break  # the segment leaves the domain: use the bracket found so far
        if a > 0:
            lo = mid
        elif a < 0:
            hi = mid
        else:
            lo = hi = mid
            break
    out = []
    for t in (lo, hi, *(lo - d for d in SIDES), *(hi + d for d in SIDES)):
        point = at(p + min(max(t, 0.0), 1.0) * (q - p))
        if point is not None:
            out.append(point)
    return out
