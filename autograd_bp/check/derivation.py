"""Check a hand-derived gradient against the graph, and say where it went wrong.

:func:`check_derivation` takes a graph's output, the node to differentiate with respect to
and a *claim*: a formula in the expression language (:mod:`autograd_bp.lang.expr`, never
``eval``) over the names of the graph's leaves and named intermediates — and, where a
:class:`Problem` binds them, the δ's (``delta_o1`` = ∂E_total/∂net_o1). The verdict is

* ``"correct"`` only when SymPy *proves* the claim equal to the derivative wherever the graph
  is defined (:mod:`autograd_bp.check.prover`, in a worker with a time and memory limit);
* ``"wrong"`` when the claim differs from the engine's gradient at the given point;
* ``"only_here"`` when it agrees at the given point but not at another one: the points are
  ``points`` (≥ 50) seeded random points around the given one and points *designed* to cover
  every branch — other scales and signs, both sides of every kink
  (:mod:`autograd_bp.check.design`) — each inside every op's domain;
* ``"undecided"`` when it agrees at every point but SymPy could not prove it (no proof found,
  or the worker ran out of time or memory): never ``correct`` by default.

A claim that is one number means "the value at the given point, to the digits written"
(``0.1222`` is right for 0.122229, ``0.2`` is not): it is checked at the point; it is
``correct`` only when the derivative is that constant everywhere.

When the claim is wrong, the difference is matched against the mistakes learners make,
named in the graph's own terms — see :mod:`autograd_bp.check.diagnosis`.

Example:
    >>> from autograd_bp import parse
    >>> f = parse("x*x*y", x=3.0, y=2.0)
    >>> check_derivation(f, "x", "2*x*y").verdict
    'correct'
    >>> r = check_derivation(f, "x", "x*y")
    >>> r.verdict, r.engine, r.claimed
    ('wrong', 12.0, 6.0)
    >>> check_derivation(parse("relu(x)*x", x=3.0), "x", "2*x").verdict   # wrong for x < 0
    'only_here'
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from ..core.engine import Value, backward_order, grad
from ..lang.expr import CONSTANTS, FUNCTIONS, parse
from ..locale import N_, _, ngettext
from .design import Design, branches_covered, designed_points
from .diagnosis import diagnose, partial
from .points import Binding, ClaimError, Partial, Point, Setup, close, replay
from .prover import SECONDS, Job, Proof

__all__ = [
    "EXIT_CODES",
    "MIN_POINTS",
    "VERDICTS",
    "ClaimError",
    "DerivationReport",
    "Partial",
    "Problem",
    "check_derivation",
]

MIN_POINTS = 50
VERDICTS = ("correct", "wrong", "only_here", "undecided")
# what ``autograd-bp check`` and ``exercise --answer`` exit with (2 is bad input)
EXIT_CODES = {"correct": 0, "wrong": 1, "only_here": 1, "undecided": 3}
# What a learner reads for each verdict (the verdict ids above never change with the language).
HEADS = {"correct": N_("✓ correct"), "wrong": N_("✗ wrong"), "only_here": N_("≈ only here"),
         "undecided": N_("? undecided")}  # fmt: skip
SYMBOLIC = {True: N_("equal (SymPy)"), False: N_("not equal (SymPy)"),
            None: N_("— (SymPy could not decide, or was not asked)")}  # fmt: skip
PROVED_AT = 40  # points SymPy evaluates the difference at (the given one first)
BOX_SECONDS = 1.5  # for the random points; the design has 1.5 s more, SymPy 4 s


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
        known = ", ".join(n for n, b in self.names.items()
                          if isinstance(b, Value) and b is not self.output)  # fmt: skip
        if bound is self.output:  # ∂f/∂f is 1 by definition: nothing to grade (grad refuses it too)
            raise ClaimError("--wrt: " + _("{name} is the output itself (∂{name}/∂{name} = 1); "
                                           "choose one of: {known}").format(name=name, known=known))
        if not isinstance(bound, Value):
            what = (_("a derivative, not a node") if bound is not None
                    else _("not a name of the graph"))  # fmt: skip
            raise ClaimError("--wrt: " + _("{name} is {what}; choose one of: {known}").format(
                name=repr(name), what=what, known=known))  # fmt: skip
        return bound


@dataclass
class DerivationReport:
    """The verdict on a claimed ∂output/∂wrt, with the evidence and a diagnosis.

    ``verdict`` is one of :data:`VERDICTS`. ``points`` counts every point checked: the given
    one, the random ones around it and the designed ones (``groups`` says how many of each).
    ``symbolic`` is SymPy's answer: True proved equal, False proved different, None when it
    could not decide or ran out of its limits. ``notes`` are lines for people (what a
    number claim means, why a verdict is undecided, a proof that beats float rounding).
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
    notes: list[str] = field(default_factory=list)
    groups: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.verdict == "correct"

    @property
    def exit_code(self) -> int:
        """0 correct, 1 wrong or only here, 3 undecided (:data:`EXIT_CODES`)."""
        return EXIT_CODES[self.verdict]

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
        claimed = _("undefined") if self.claimed is None else f"{self.claimed:.{precision}g}"
        lines = [
            f"{_(HEADS[self.verdict])}: {partial(self.output, self.wrt)} =? {self.claim}",
            _("  engine    {value}").format(value=f"{self.engine:.{precision}g}"),
            _("  claimed   {value}").format(value=claimed),
            _("  points    {count} checked ({groups})").format(count=self.points,
                                                          groups=self._groups_text()),
            _("  symbolic  {value}").format(value=_(SYMBOLIC[self.symbolic])),
        ]
        lines += [_("  note      {note}").format(note=n) for n in self.notes]
        diagnosis = [s for s in self.diagnosis if s not in self.notes]  # the JSON's only copy
        if diagnosis:
            lines.append(_("  diagnosis:"))
            lines += [f"    {s}" for s in diagnosis]
        return "\n".join(lines)

    def _groups_text(self) -> str:
        g = self.groups
        if not g:
            return _("the given one and {count} around it").format(count=self.points - 1)
        parts = [_("the given one, {count} around it").format(count=g.get("around", 0))]
        if g.get("scales"):
            parts.append(_("{count} at other scales and signs").format(count=g["scales"]))
        if g.get("kinks"):
            across, kinks, crossed = g.get("across", 0), g["kinks"], g.get("crossed", 0)
            if crossed == kinks:
                text = ngettext("{across} across {kinks} kink", "{across} across {kinks} kinks",
                                kinks)  # fmt: skip
            else:
                text = ngettext("{across} across {crossed} of {kinks} kink",
                                "{across} across {crossed} of {kinks} kinks", kinks)
            parts.append(text.format(across=across, kinks=kinks, crossed=crossed))
        return _(", ").join(parts)

    def __str__(self) -> str:
        return self.text()


def _finite_or_none(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _sample(setup: Setup, count: int, seed: int, radius: float,
            seconds: float = BOX_SECONDS) -> list[Point]:  # fmt: skip
    """``count`` points around the given one, each inside every op's domain (fewer when
    ``seconds`` run out first: a huge graph or claim).

    Every variable moves by up to ``radius`` × (|value| + 0.1); where too many draws fall
    outside the domain (a log near 0, say) the radius halves and the draws go on.
    """
    deadline = time.monotonic() + seconds
    rng = np.random.default_rng(seed)
    leaves = list(setup.variables.values())
    base = np.array([v.data for v in leaves], dtype=float)
    spread = np.abs(base) + 0.1
    points: list[Point] = []
    tries, budget = 0, 40 * count
    while len(points) < count and tries < budget and leaves and time.monotonic() < deadline:
        tries += 1
        if tries % (10 * count) == 0:
            radius /= 2
        moved = base + radius * spread * rng.uniform(-1.0, 1.0, len(leaves))
        point = setup.evaluate({v: float(x) for v, x in zip(leaves, moved)})
        if point is not None:
            points.append(point)
    return points


def number_claim(claim: str) -> Decimal | None:
    """The claim as a number when it is one (``0.1222``, ``-3``, ``4e-2``), else None.

    Example:
        >>> number_claim(" 0.1222 "), number_claim("2*x"), number_claim("nan")
        (Decimal('0.1222'), None, None)
    """
    try:
        d = Decimal(claim.strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def half_unit(number: Decimal) -> float:
    """Half a unit in the last digit written: the rounding a number claim is allowed.

    Example:
        >>> half_unit(Decimal("0.1222")), half_unit(Decimal("4")), half_unit(Decimal("2.5e3"))
        (5e-05, 0.5, 50.0)
    """
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite numbers only
    return 0.5 * 10.0**exponent


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
    seconds: float = SECONDS,
) -> DerivationReport:
    """Grade ``claim`` as ∂output/∂wrt: at the point, at ``points`` random points around it
    and at designed ones (scales, signs, both sides of every kink), and symbolically (SymPy,
    when ``symbolic``, in a worker given ``seconds``); diagnose a claim that is not correct.

    ``output`` is a Value (its labelled nodes are the names a claim may use, plus ``names``)
    or a :class:`Problem` (its names, δ's and weight updates). ``wrt`` is a node or a name.
    Two values agree when |a − b| ≤ atol + rtol·max(|a|, |b|); a claim that is a single
    number is allowed half a unit in its last digit instead of ``rtol``. Without a proof
    (SymPy found none, or ran out of ``seconds`` or memory) the verdict is at best
    ``"undecided"``; ``symbolic=False`` asks for the numbers alone: ``"correct"`` then means
    agreement at every designed point (every kink crossed), which is not a proof.

    Example:
        >>> from autograd_bp import parse
        >>> y = parse("sin(x)*x", x=0.0)
        >>> r = check_derivation(y, "x", "0")   # right at x = 0, wrong elsewhere
        >>> r.verdict, r.symbolic
        ('only_here', False)
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
    number = number_claim(claim)
    tol = (rtol, atol + (half_unit(number) * 1.000001 if number is not None else 0.0))
    job = Job(_builder(setup, here, number), seconds) if symbolic else None
    around = _sample(setup, points, seed, radius)
    design = designed_points(setup, here, around, seed)
    checked = [*around, *design.points]
    misses = [p for p in checked if p.claim is None or not close(p.claim, setup.truth(p), *tol)]
    agree_here = here.claim is not None and close(here.claim, engine, *tol)
    across = design.points[design.scales:]  # the most telling first: misses, kinks, scales
    sympy_points = [here, *[*misses[:6], *across, *design.points[: design.scales],
                            *around[:4]][: PROVED_AT - 1]]  # fmt: skip
    allow = _allowances(setup, sympy_points, number)
    proof = None if job is None else job.finish([p.leaves for p in sympy_points], allow)
    verdict, misses = _verdict(agree_here, misses, proof, sympy_points)
    covered = design.complete and branches_covered(setup, [here, *checked])
    if verdict == "undecided" and not symbolic and covered:
        verdict = "correct"  # asked for numbers only: agreement on the whole design
    notes = _notes(verdict, number, proof, engine, here.claim, design, symbolic, tol)
    diagnosis = [] if verdict in ("correct", "undecided") else diagnose(
        setup, here, checked, misses, verdict, tol, [dict(u) for u in updates or problem.updates]
    )  # fmt: skip
    if len(around) < points:
        notes.append(_("Only {checked} of the {points} random points were checked: the "
                       "others fell outside the domain of an op, or the time for them ran out."
                       ).format(checked=len(around), points=points))  # fmt: skip
    if verdict == "undecided":
        diagnosis = list(notes)
    groups = {"around": len(around), "scales": design.scales, "kinks": design.kinks,
              "crossed": design.crossed, "across": design.across}  # fmt: skip
    return DerivationReport(
        verdict, engine, here.claim, 1 + len(checked), None if proof is None else proof.symbolic,
        diagnosis, output=setup.display[problem.output], wrt=setup.display[wrt_node],
        claim=claim, notes=notes, groups=groups,
    )  # fmt: skip


def _allowances(setup: Setup, at: list[Point], number: Decimal | None) -> list[float]:
    """How far from 0 SymPy's exact claim − truth may be at each point: rounding noise
    (1e-20 relative), plus, for a number, half a unit in its last digit — not the floats'
    atol (0.0000000000000 is not 1e-13)."""
    slack = half_unit(number) * 1.000001 if number is not None else 0.0
    return [slack + 1e-20 * abs(setup.truth(p)) for p in at]


def _verdict(agree_here: bool, misses: list[Point], proof: Proof | None,
             at: list[Point]) -> tuple[str, list[Point]]:  # fmt: skip
    """The verdict, and the points that show the claim is not the derivative there.

    A proof wins over the floats; without one the claim is at best undecided. Where SymPy
    evaluated claim − truth (``at``, the given point first), its 30-digit value overrules
    the floats' comparison: a claim within float tolerance but not equal is a miss, a
    cancellation that made the floats differ is not.
    """
    if proof is not None and proof.status == "proved":
        return "correct", []
    if proof is not None:
        if 0 in proof.values:
            agree_here = 0 not in proof.nonzero
        exact = {id(at[k]): k in proof.nonzero for k in proof.values}
        misses = [p for p in misses if exact.get(id(p), True)]
        misses += [at[k] for k in sorted(proof.nonzero)
                   if k > 0 and all(at[k] is not m for m in misses)]  # fmt: skip
    if not agree_here:
        return "wrong", misses
    return ("only_here" if misses else "undecided"), misses


def _builder(setup: Setup, here: Point, number: Decimal | None) -> Any:
    """What the SymPy worker builds: (claim, truth, reference). For a number the question
    is whether the derivative is constant: the reference is its exact value at the given
    point."""
    from ..lang import symbolic as sym

    def build(sympy: Any) -> tuple[Any, Any, Any]:
        _leaf_symbols(setup)  # in the forked worker: the caller's graph is untouched
        truth = _sympy_truth(sym, setup)
        if number is not None:
            exact = {s: sympy.Rational(repr(here.leaves[s.name])) for s in truth.free_symbols
                     if s.name in here.leaves}  # fmt: skip
            return sympy.Rational(str(number)), truth, truth.xreplace(exact)
        bindings, deltas = _symbolic_bindings(setup, here)
        placeholders = {bindings[name] for name in setup.used if f"δ:{name}" in deltas}
        claim = sym.to_sympy(_numbers_unnamed(parse(setup.claim_text, **bindings), placeholders))
        claim = claim.xreplace({sympy.Symbol(label, real=True): sym.derivative(
            setup.output, node, simplify=False) for label, node in deltas.items()})  # fmt: skip
        return claim, truth, claim

    return build


def _notes(verdict: str, number: Decimal | None, proof: Proof | None, engine: float,
           claimed: float | None, design: Design, symbolic: bool,
           tol: tuple[float, float]) -> list[str]:  # fmt: skip
    """Lines that say what the verdict rests on."""
    notes = []
    if number is not None:
        notes.append(_("A number is checked at the given point, to the digits written "
                       "(± {tol}); it is correct only if ∂ is that constant everywhere."
                       ).format(tol=f"{tol[1]:.2g}"))  # fmt: skip
    if verdict == "correct" and claimed is not None and claimed != engine:
        notes.append(_("SymPy proves them equal; the floats differ by rounding "
                       "(engine {engine}, claimed {claimed}).").format(
                           engine=repr(engine), claimed=repr(claimed)))  # fmt: skip
    if verdict == "correct" and not symbolic:
        notes.append(_("Checked at points only (symbolic=False): it agrees at every point of a "
                       "design that covers every scale, sign and kink, which is not a proof."))
    if verdict == "undecided":
        if not symbolic:
            why = _("the points could not cover every kink, or every combination of sides of "
                    "the kinks (symbolic=False: no proof asked)")
        elif proof is None or proof.status == "limit":
            why = _("SymPy ran out of its time or memory limit")
        else:
            why = _("SymPy found no proof")
        notes.append(_("Undecided: the claim agrees at every point checked, but {why}; "
                       "agreement at points is not a proof.").format(why=why))  # fmt: skip
    if not design.complete:
        notes.append(_("Not every kink was crossed: one side was out of reach, or out of time."))
    return notes


def _why_not_here(setup: Setup) -> str:
    """Which node is not finite at the given point (the graph itself was built there)."""
    values, local = replay(setup.order, {})
    for node in reversed(setup.order):
        v, ds = values[node], local.get(node, [])
        if not math.isfinite(v) or not all(map(math.isfinite, ds)):
            what = (_("is {value}").format(value=v) if not math.isfinite(v)
                    else _("has local derivatives {values}").format(values=ds))  # fmt: skip
            return _("at the given point {name} {what}; the check needs finite values and "
                     "derivatives there").format(name=setup.display[node], what=what)
    return _("the graph cannot be evaluated at the given point")


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




# --- SymPy ---------------------------------------------------------------------------------


def _numbers_unnamed(claim: Value, keep: set[Value]) -> Value:
    """The claim's number leaves without the source-text label parse gives them, so that
    SymPy reads them as numbers, not symbols (the leaves are the claim's own, fresh)."""
    for node in backward_order(claim):
        if node.is_leaf and not node.label.isidentifier() and node not in keep:
            node.label = ""
    return claim


def _leaf_symbols(setup: Setup) -> None:
    """Name each leaf for SymPy as the points do: a variable by its name, any other leaf (held
    at its value at every point) as its number. Only in the worker, which has its own copy
    of the graph.

    SymPy names a leaf's symbol by its label: two leaves both labelled ``x`` were one
    symbol (``x`` claimed for ∂(x₁·x₂)/∂x₁ was "proved"), and a leaf whose label the points
    do not know (``c.1``) was a symbol no point gave a value to: ``7`` claimed for
    ∂(x·c)/∂x = c was "proved" constant and never compared."""
    variables = {leaf: name for name, leaf in setup.variables.items()}
    for leaf in setup.order:
        if leaf.is_leaf:
            leaf.label = variables.get(leaf, "")


def _sympy_truth(sym: Any, setup: Setup) -> Any:
    """SymPy's ∂output/∂wrt, unsimplified (the check tests claim − truth itself), by reverse
    mode over the op table's formulas, for a leaf or a node alike: the ``create_graph``
    derivative would hold each local derivative of relu, step, … as its number at the
    given point, a gate frozen on one side of its kink."""
    return sym.derivative(setup.output, setup.wrt, simplify=False)


def _symbolic_bindings(setup: Setup, here: Point) -> tuple[dict[str, Value], dict[str, Any]]:
    """Each name of the claim as a Value over the graph's leaves; a δ as a placeholder leaf
    (labelled ``δ:name``, no name a variable can have), with the SymPy derivative to put in
    its place — the same formulas as the truth, every gate a Heaviside of its argument."""
    out: dict[str, Value] = {}
    deltas: dict[str, Any] = {}
    for name in setup.used:
        bound = setup.names[name]
        if isinstance(bound, Partial):
            out[name] = Value(here.grads.get(bound.node, 0.0), label=f"δ:{name}")
            deltas[out[name].label] = bound.node
        else:
            out[name] = bound
    return out, deltas
