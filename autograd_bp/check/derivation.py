"""Check a hand-derived gradient against the graph, and say where it went wrong.

:func:`check_derivation` takes a graph's output, the node to differentiate with respect to
and a *claim*: a formula in the expression language (:mod:`autograd_bp.lang.expr`, never
``eval``) over the names of the graph's leaves and named intermediates — and, where a
:class:`Problem` binds them, the δ's (``delta_o1`` = ∂E_total/∂net_o1). The claim is checked

* at the given point, against the engine's gradient;
* at ``points`` (≥ 50) seeded random points around it, each inside every op's domain (the
  graph is replayed through the op table at new leaf values; a point where any op fails
  is drawn again) — a claim right at the point but wrong elsewhere is ``"only_here"``;
* symbolically with SymPy when it is installed (through :mod:`autograd_bp.lang.symbolic`).

When the claim is wrong, the difference is matched against the mistakes learners make,
named in the graph's own terms: a missing or extra path, a missing or extra factor (with its
rule), a sign error, a constant factor, the wrong variable, the weights after an update used
where the ones before belong — else the path-by-path breakdown. See
:mod:`autograd_bp.check.diagnosis`.

Example:
    >>> from autograd_bp import parse
    >>> f = parse("x*x*y", x=3.0, y=2.0)
    >>> check_derivation(f, "x", "2*x*y").verdict
    'correct'
    >>> r = check_derivation(f, "x", "x*y")
    >>> r.verdict, r.engine, r.claimed
    ('wrong', 12.0, 6.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.engine import Value, backward_order, grad
from ..lang.expr import CONSTANTS, FUNCTIONS, parse
from .diagnosis import diagnose, partial
from .points import Binding, ClaimError, Partial, Point, Setup, close, replay

__all__ = [
    "MIN_POINTS",
    "ClaimError",
    "DerivationReport",
    "Partial",
    "Problem",
    "check_derivation",
]

MIN_POINTS = 50
MAX_EXPAND_OPS = 3000  # beyond, expanding the difference to prove it zero is not attempted
VERDICTS = ("correct", "wrong", "only_here")


@dataclass
class Problem:
    """A graph with the names a claim may use (and, for the worked example, the weights after
    one update, so that using them by mistake can be recognised)."""

    output: Value
    names: dict[str, Binding]
    description: str = ""
    updates: list[dict[str, float]] = field(default_factory=list)

    def node(self, name: str) -> Value:
        """The node bound to ``name`` (a :class:`ClaimError` for δ's and unknown names)."""
        bound = self.names.get(name)
        if not isinstance(bound, Value):
            known = ", ".join(n for n, b in self.names.items() if isinstance(b, Value))
            what = "a derivative, not a node" if bound is not None else "not a name of the graph"
            raise ClaimError(f"--wrt: {name!r} is {what}; choose one of: {known}")
        return bound


@dataclass
class DerivationReport:
    """The verdict on a claimed ∂output/∂wrt, with the evidence and a diagnosis.

    ``points`` counts every point checked: the given one and the random ones around it.
    ``symbolic`` is SymPy's answer (None without SymPy, or when it could not decide).
    """

    verdict: str
    engine: float
    claimed: float | None
    points: int
    symbolic: bool | None
    diagnosis: list[str]
    output: str = "f"
    wrt: str = "x"
    claim: str = ""

    def __bool__(self) -> bool:
        return self.verdict == "correct"

    def to_dict(self) -> dict[str, Any]:
        """Exactly the keys of ``autograd-bp check --json``; non-finite numbers become None."""
        return {
            "verdict": self.verdict,
            "engine": _finite_or_none(self.engine),
            "claimed": _finite_or_none(self.claimed),
            "points": self.points,
            "symbolic": self.symbolic,
            "diagnosis": list(self.diagnosis),
        }

    def text(self, precision: int = 9) -> str:
        """The report as lines a learner reads."""
        head = {"correct": "✓ correct", "wrong": "✗ wrong", "only_here": "≈ only here"}
        sym = {
            True: "equal (SymPy)",
            False: "not equal (SymPy)",
            None: "— (no SymPy, or undecided)",
        }
        claimed = "undefined" if self.claimed is None else f"{self.claimed:.{precision}g}"
        lines = [
            f"{head[self.verdict]}: {partial(self.output, self.wrt)} =? {self.claim}",
            f"  engine    {self.engine:.{precision}g}",
            f"  claimed   {claimed}",
            f"  points    {self.points} checked (the given one and {self.points - 1} around it)",
            f"  symbolic  {sym[self.symbolic]}",
        ]
        if self.diagnosis:
            lines.append("  diagnosis:")
            lines += [f"    {s}" for s in self.diagnosis]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()


def _finite_or_none(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _sample(setup: Setup, count: int, seed: int, radius: float) -> list[Point]:
    """``count`` points around the given one, each inside every op's domain.

    Every variable moves by up to ``radius`` × (|value| + 0.1); where too many draws fall
    outside the domain (a log near 0, say) the radius halves and the draws go on.
    """
    rng = np.random.default_rng(seed)
    leaves = list(setup.variables.values())
    base = np.array([v.data for v in leaves], dtype=float)
    spread = np.abs(base) + 0.1
    points: list[Point] = []
    tries, budget = 0, 40 * count
    while len(points) < count and tries < budget and leaves:
        tries += 1
        if tries % (10 * count) == 0:
            radius /= 2
        moved = base + radius * spread * rng.uniform(-1.0, 1.0, len(leaves))
        point = setup.evaluate({id(v): float(x) for v, x in zip(leaves, moved)})
        if point is not None:
            points.append(point)
    return points


def _literal_tolerance(claim: str) -> float:
    """For a claim that is one number, half a unit in its last digit (relative): a learner
    who writes 0.000438568 has rounded the true 0.000438567734 correctly."""
    from decimal import Decimal, InvalidOperation

    try:
        d = Decimal(claim.strip())
    except InvalidOperation:
        return 0.0
    if not d.is_finite() or d == 0:
        return 0.0
    digits = len(d.as_tuple().digits)
    return 0.5 * 10.0 ** (1 - digits) * 1.000001


# --- the check --------------------------------------------------------------------------


def check_derivation(
    output: Value | Problem,
    wrt: Value | str,
    claim: str,
    *,
    names: Mapping[str, Binding] | None = None,
    points: int = MIN_POINTS,
    seed: int = 0,
    radius: float = 0.5,
    rtol: float = 1e-7,
    atol: float = 1e-12,
    symbolic: bool = True,
    updates: Sequence[Mapping[str, float]] = (),
) -> DerivationReport:
    """Grade ``claim`` as ∂output/∂wrt: at the point, at ``points`` random points around it,
    and symbolically (SymPy, when installed and ``symbolic``); diagnose a wrong claim.

    ``output`` is a Value (its labelled nodes are the names a claim may use, plus ``names``)
    or a :class:`Problem` (its names, δ's and weight updates). ``wrt`` is a node or a name.
    Two values agree when |a − b| ≤ atol + rtol·max(|a|, |b|); a claim that is a single
    number is also allowed its own rounding (half a unit in its last digit).

    Example:
        >>> from autograd_bp import parse
        >>> y = parse("sin(x)*x", x=0.0)
        >>> r = check_derivation(y, "x", "0")   # right at x = 0, wrong elsewhere
        >>> r.verdict, r.points
        ('only_here', 51)
    """
    if points < MIN_POINTS:
        raise ClaimError(f"points must be at least {MIN_POINTS}, got {points}")
    problem = output if isinstance(output, Problem) else Problem(output, default_names(output))
    bindings = dict(problem.names, **(names or {}))
    wrt_node = Problem(problem.output, bindings).node(wrt) if isinstance(wrt, str) else wrt
    setup = Setup(problem.output, wrt_node, claim, bindings)
    here = setup.evaluate({})
    if here is None:
        raise ClaimError(_why_not_here(setup))
    (engine,) = grad(problem.output, [wrt_node])
    tol = (max(rtol, _literal_tolerance(claim)), atol)
    around = _sample(setup, points, seed, radius)
    agree_here = here.claim is not None and close(here.claim, engine, *tol)
    misses = [p for p in around if p.claim is None or not close(p.claim, setup.truth(p), *tol)]
    sym = _symbolic(setup, here, around) if symbolic else None
    if not agree_here:
        verdict = "wrong"
    elif misses or sym is False:
        verdict = "only_here"
    else:
        verdict = "correct"
    diagnosis = [] if verdict == "correct" else diagnose(
        setup, here, around, misses, verdict, tol, [dict(u) for u in updates or problem.updates]
    )  # fmt: skip
    if len(around) < points:
        diagnosis.append(f"Only {len(around)} of the {points} random points fell inside the "
                         "domain of every op; the others were drawn outside it.")  # fmt: skip
    return DerivationReport(
        verdict, engine, here.claim, 1 + len(around), sym, diagnosis,
        output=setup.display[id(problem.output)], wrt=setup.display[id(wrt_node)], claim=claim,
    )  # fmt: skip


def _why_not_here(setup: Setup) -> str:
    """Which node is not finite at the given point (the graph itself was built there)."""
    values, local = replay(setup.order, {})
    for node in reversed(setup.order):
        v, ds = values[id(node)], local.get(id(node), [])
        if not math.isfinite(v) or not all(map(math.isfinite, ds)):
            what = f"is {v}" if not math.isfinite(v) else f"has local derivatives {ds}"
            return (f"at the given point {setup.display[id(node)]} {what}; the check needs "
                    "finite values and derivatives there")  # fmt: skip
    return "the graph cannot be evaluated at the given point"


def default_names(output: Value) -> dict[str, Binding]:
    """Every labelled node whose label a claim can spell (an identifier, not a function).

    Example:
        >>> from autograd_bp import parse
        >>> sorted(default_names(parse("x*y", x=2.0, y=3.0)))
        ['f', 'x', 'y']
    """
    names: dict[str, Binding] = {}
    for node in reversed(backward_order(output)):
        label = node.label
        if label.isidentifier() and label not in FUNCTIONS and label not in CONSTANTS:
            names.setdefault(label, node)
    return names


# --- SymPy --------------------------------------------------------------------------------


def _symbolic(setup: Setup, here: Point, around: list[Point]) -> bool | None:
    """False when SymPy evaluates claim − truth to a non-zero number at a checked point;
    True when it proves claim − truth ≡ 0; None without SymPy or when it cannot decide
    (a piecewise derivative, a difference too large to expand)."""
    try:
        import sympy  # type: ignore[import-untyped,unused-ignore]

        from ..lang import symbolic as sym  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    bindings = _symbolic_bindings(setup)
    try:
        truth = _sympy_truth(sym, setup)
        claimed = sym.to_sympy(_numbers_unnamed(parse(setup.claim_text, **bindings)))
        difference = sympy.nsimplify(claimed - truth, rational=True)
        if difference == 0:
            return True
        for point in [here, *around[:5]]:  # cheap: a number, before any expansion
            at = _sympy_value(sympy, difference, point.leaves)
            if at is not None and abs(at) > 1e-9 * (1 + abs(setup.truth(point))):
                return False
        return True if _identically_zero(sympy, difference) else None
    except Exception:  # noqa: BLE001 - SymPy's own errors vary; the numeric checks stand alone
        return None


def _numbers_unnamed(claim: Value) -> Value:
    """The claim's number leaves without the source-text label parse gives them, so that
    SymPy reads them as numbers, not symbols (the leaves are the claim's own, fresh)."""
    for node in backward_order(claim):
        if node.is_leaf and not node.label.isidentifier():
            node.label = ""
    return claim


def _sympy_truth(sym: Any, setup: Setup) -> Any:
    """SymPy's ∂output/∂wrt, unsimplified (the check tests claim − truth itself):
    ``symbolic.derivative`` for a leaf, the ``create_graph`` derivative for a node."""
    if setup.wrt.is_leaf:
        return sym.derivative(setup.output, setup.wrt, simplify=False)
    (d,) = grad(setup.output, [setup.wrt], create_graph=True)
    return sym.to_sympy(d)


def _symbolic_bindings(setup: Setup) -> dict[str, Value]:
    """Each name of the claim as a Value over the graph's leaves; a δ as the derivative
    graph ``grad(..., create_graph=True)`` builds from the same op rules."""
    out: dict[str, Value] = {}
    for name in setup.used:
        bound = setup.names[name]
        if isinstance(bound, Partial):
            (out[name],) = grad(setup.output, [bound.node], create_graph=True)
        else:
            out[name] = bound
    return out


def _identically_zero(sympy: Any, difference: Any) -> bool:
    """Zero as a polynomial in the function applications (exp(·), tanh(·), …) taken as
    independent symbols: fast and sound (a zero here is a zero everywhere); small leftovers
    get one ``simplify``."""
    if sympy.count_ops(difference) > MAX_EXPAND_OPS:
        return False
    atoms: dict[Any, Any] = {}
    atomized = difference.replace(
        lambda e: isinstance(e, sympy.Function) or (e.is_Pow and not e.exp.is_Integer),
        lambda e: atoms.setdefault(e, sympy.Dummy(f"a{len(atoms)}")),
    )
    numerator = sympy.together(atomized).as_numer_denom()[0]
    if sympy.expand(numerator) == 0:
        return True
    return sympy.count_ops(difference) <= 40 and sympy.simplify(difference) == 0


def _sympy_value(sympy: Any, expr: Any, leaves: Mapping[str, float]) -> float | None:
    symbols = {s: sympy.Float(leaves[s.name], 30) for s in expr.free_symbols if s.name in leaves}
    if len(symbols) != len(expr.free_symbols):
        return None
    try:  # xreplace, not subs: a plain substitution, fast on large expressions
        value = complex(expr.xreplace(symbols).evalf(30))
    except (TypeError, ValueError):
        return None
    return value.real if abs(value.imag) < 1e-12 and math.isfinite(value.real) else None
