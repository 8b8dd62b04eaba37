"""Name the mistake in a wrong derivative, in the chain rule's terms.

Every known mistake is a *candidate*: a function of the point built from the true paths and
factors (:mod:`autograd_bp.show.paths`, the model explanations use too): the path through
out_o2 left out, σ′(net_h1) left out, a closed relu counted as open, W where Wᵀ belongs, the
sign flipped, … A candidate explains the claim when it equals the claim at every point checked
— the given one and the random ones around it (the given one alone for a claim that is a plain
number) — while differing from the truth somewhere. Of the candidates that explain it, the
simplest story leads (each kind of mistake has a rank: a sign error or a closed relu before a
missing path, a missing path before "the wrong variable"), and of equally simple ones the one
that meets the claim more exactly. Used by
:func:`autograd_bp.check.check_derivation`.

Example:
    >>> from autograd_bp import parse
    >>> from autograd_bp.check import check_derivation
    >>> f = parse("x*y + sin(x)", x=0.5, y=2.0)
    >>> check_derivation(f, "x", "y").diagnosis[0].startswith("You have the path")
    True
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.engine import Value
from ..core.graph import reaching
from ..locale import _, ngettext
from ..show.paths import (
    Factor,
    Local,
    PathTerm,
    count_paths,
    nielsen_parts,
    nielsen_symbol,
    walk_paths,
)
from .points import Point, Setup, backward, close, flat_operands, replay
from .wording import Words, display_names, join, number, partial, to_its_digits

__all__ = ["Factor", "PathInfo", "diagnose", "paths_to"]

PathInfo = PathTerm  # the name this module has always exported for one path

MAX_PATHS = 64
MAX_SUBSETS_PATHS = 8
MAX_TRANSPOSE_NODES = 5000  # beyond, replaying the graph per point for BP2 is not attempted
CONSTANTS_TRIED = (2.0, 0.5, 4.0, 0.25, 3.0, 1 / 3, -2.0, -0.5)


def paths_to(setup: Setup, end: Value, cap: int = MAX_PATHS) -> list[PathTerm] | None:
    """Every path from the output to ``end`` split into named factors; None beyond ``cap``.

    Example:
        >>> from autograd_bp import parse
        >>> from autograd_bp.check.points import Setup
        >>> f = parse("x*y + sin(x)", x=0.5, y=2.0); x = f.parents[0].parents[0]
        >>> len(paths_to(Setup(f, x, "2*x", {"x": x}), x))
        2
    """
    reach = reaching(setup.order, end)
    if count_paths(setup.order, setup.output, end, reach) > cap:
        return None
    return walk_paths(setup.output, end, reach, _stops(setup), display_names(setup))


def _stops(setup: Setup) -> set[Value]:
    """The nodes a factor may end at: the named ones; every node when only leaves are named
    (an expression typed on the command line: one factor per op)."""
    named = {b for b in setup.names.values() if isinstance(b, Value)}
    inner = {n for n in setup.order if not n.is_leaf and n is not setup.output}
    return named if named & inner else named | inner


def _point_key(node: Value) -> Value:
    """A node's key in the maps of :mod:`autograd_bp.check.points`: the Value itself, as
    everywhere else (Values hash by identity)."""
    return node


def _local_at(point: Point) -> Callable[[Local], float]:
    """Each edge's local derivative at ``point``."""
    return lambda e: point.local[_point_key(e.node)][e.index]


# --- candidates ---------------------------------------------------------------------------


@dataclass
class Candidate:
    """A known mistake: its sentence, its value at each point (NaN where unknown), its kind
    (one sentence per kind is said) and its rank (lower = a simpler story, said first)."""

    sentence: str
    values: np.ndarray
    kind: str
    rank: float
    point_only: bool = False  # defined at the given point only


class Evidence:
    """The claim, the truth and the true paths at every point, as arrays."""

    def __init__(self, setup: Setup, points: list[Point], tol: tuple[float, float]) -> None:
        self.setup, self.points, self.tol = setup, points, tol
        self.claim = np.array([np.nan if p.claim is None else p.claim for p in points])
        self.truth = np.array([setup.truth(p) for p in points])
        self.paths = paths_to(setup, setup.wrt)
        self.constant_claim = not setup.used
        self._locals = [_local_at(p) for p in points]
        self._edges: dict[tuple[Value, int], np.ndarray] = {}

    def vector(self, f: Callable[[Point], float]) -> np.ndarray:
        return np.array([f(p) for p in self.points], dtype=float)

    def of(self, x: PathTerm | Factor) -> np.ndarray:
        """A path's product or a factor's value at every point."""
        edges = x.edges if isinstance(x, Factor) else [e for f in x.factors for e in f.edges]
        out = np.ones(len(self.points))
        for e in edges:
            out = out * self.edge(e)
        return out

    def edge(self, e: Local) -> np.ndarray:
        """One local derivative at every point (computed once per edge)."""
        key = (e.node, e.slot)
        if key not in self._edges:
            self._edges[key] = np.array([local(e) for local in self._locals], dtype=float)
        return self._edges[key]

    def sum_without(self, drop: Callable[[int, Local], bool]) -> np.ndarray:
        """Σ over paths of Π of their local derivatives, each edge with ``drop(k, edge)``
        counted as 1 — a factor left out, without dividing by it (it may be 0 here)."""
        total = np.zeros(len(self.points))
        for k, path in enumerate(self.paths or []):
            term = np.ones(len(self.points))
            for e in (e for f in path.factors for e in f.edges):
                if not drop(k, e):
                    term = term * self.edge(e)
            total = total + term
        return total

    def explains(self, c: Candidate) -> bool:
        """Equal to the claim wherever both are known, and not the truth."""
        rows = [0] if self.constant_claim or c.point_only else range(len(self.points))
        pairs = [(self.claim[i], c.values[i], self.truth[i]) for i in rows]
        known = [(a, b, t) for a, b, t in pairs if math.isfinite(a) and math.isfinite(b)]
        if not known or len(known) < len(pairs) / 2 or not math.isfinite(self.claim[0]):
            return False
        if self.constant_claim:  # a number matches a value it rounds to, at its last digit
            (claim, value, truth), text = known[0], self.setup.claim_text
            return to_its_digits(text, claim, value, edge=False) and not to_its_digits(
                text, claim, truth)  # fmt: skip
        if not all(close(a, b, *self.tol) for a, b, _ in known):
            return False
        return any(not close(b, t, *self.tol) for _, b, t in known)

    def exactness(self, c: Candidate) -> int:
        """0 when the candidate meets the claim to a hundredth of the tolerance at every
        point, else 1: of two equally simple stories, the more exact one leads."""
        rows = [0] if self.constant_claim or c.point_only else range(len(self.points))
        rtol, atol = self.tol
        tight = (rtol / 100, atol / 100)
        pairs = [(float(self.claim[i]), float(c.values[i])) for i in rows]
        return 0 if all(close(a, b, *tight) for a, b in pairs if math.isfinite(b)) else 1


def _wrong_variable(ev: Evidence, w: Words) -> Iterator[Candidate]:
    seen = {ev.setup.wrt, ev.setup.output}  # ∂f/∂f = 1 is no one's mistake
    for name, b in ev.setup.names.items():
        if isinstance(b, Value) and b not in seen:
            seen.add(b)
            yield Candidate(
                _("This is {other}, not {d}: the derivative was taken with respect to the wrong "
                  "variable.").format(other=partial(w.out, name), d=w.d),
                ev.vector(_gradient_of(b)), "wrong variable", 3.5,
            )  # fmt: skip


def _gradient_of(node: Value) -> Callable[[Point], float]:
    return lambda p: p.grads.get(_point_key(node), 0.0)


def _missing_paths(ev: Evidence, w: Words) -> Iterator[Candidate]:
    paths = ev.paths or []
    if not 2 <= len(paths) <= MAX_SUBSETS_PATHS:
        return
    vectors = [ev.of(p) for p in paths]
    for size in range(len(paths) - 1, 0, -1):
        for kept in itertools.combinations(range(len(paths)), size):
            lost = [k for k in range(len(paths)) if k not in kept]
            have = w.paths([paths[k] for k in kept], paths)
            miss = w.paths([paths[k] for k in lost], paths)
            share = number(sum(vectors[k][0] for k in lost))
            yield Candidate(
                _("{have} {missing}: {why}").format(
                    have=ngettext("You have the path {have}", "You have the paths {have}",
                                  size).format(have=have),
                    missing=ngettext("but not the one {miss} (it contributes {share} here)",
                                     "but not the ones {miss} (they contribute {share} here)",
                                     len(lost)).format(miss=miss, share=share),
                    why=_("{wrt} reaches {out} along {count} paths, and {d} is the sum over all "
                          "of them.").format(wrt=w.wrt, out=w.out, count=len(paths), d=w.d)),
                np.sum([vectors[k] for k in kept], axis=0), "missing path", 2.0 + 0.1 * len(lost),
            )  # fmt: skip


def _extra_paths(ev: Evidence, w: Words) -> Iterator[Candidate]:
    paths = ev.paths or []
    if len(paths) > 1:
        for path in paths:
            yield Candidate(_("The path {path} is counted twice.").format(
                                path=w.through(path, paths)),
                            ev.truth + ev.of(path), "counted twice", 3.0)  # fmt: skip
    on_true = {n for p in paths for n in p.nodes}
    for leaf in ev.setup.variables.values():
        if leaf is ev.setup.wrt:
            continue
        for path in paths_to(ev.setup, leaf, cap=16) or []:
            new = next((n for n in path.nodes if n not in on_true), leaf)
            yield Candidate(
                _("You added a path that does not lead to {wrt}: through {name} ({chain}), "
                  "which contributes {value} here.").format(
                      wrt=w.wrt, name=w.name[new], chain=w.chain(path), value=number(path.product)),
                ev.truth + ev.of(path), "extra path", 3.0,
            )  # fmt: skip


def _factor_candidates(ev: Evidence, w: Words) -> Iterator[Candidate]:
    paths = ev.paths or []
    everywhere = set.intersection(*({f.key for f in p.factors} for p in paths)) if paths else set()
    seen: set[tuple[Any, ...]] = set()
    for k, path in enumerate(paths):
        v = ev.of(path)
        for f in path.factors:
            fv = ev.of(f)
            if not np.all(np.isfinite(fv)) or (np.all(fv == fv[0]) and fv[0] != 0):
                continue  # constants are the constant-factor pattern's business
            common = f.key in everywhere
            mark = (f.key, common, -1 if common else k)
            if mark in seen or _is_gate(f):
                continue  # a relu's factor is the closed-relu pattern's business
            seen.add(mark)
            where = ("" if len(paths) == 1 else _(" (it is on every path)") if common
                     else _(" on the path {path}").format(path=w.through(path, paths)))  # fmt: skip
            without = ev.sum_without(_dropping(set(f.key), None if common else k))
            rank = 2.0 if common else 2.5
            text = w.factor(f)
            yield Candidate(_("Missing factor {factor}{where}.").format(factor=text, where=where),
                            without, "missing factor", rank)  # fmt: skip
            with np.errstate(over="ignore", invalid="ignore"):  # inf/NaN: explains nothing
                doubled = ev.truth * fv if common else ev.truth - v + v * fv
            yield Candidate(_("Extra factor {factor}{where}: it appears twice in your product."
                              ).format(factor=text, where=where),
                            doubled, "extra factor", rank + 0.5)  # fmt: skip


def _dropping(keys: set[tuple[Value, int]], on: int | None) -> Callable[[int, Local], bool]:
    """Drop these edges on path ``on`` (every path when None)."""
    return lambda k, e: on in (None, k) and (e.node, e.slot) in keys


def _input(point: Point, e: Local) -> float:
    return point.values[_point_key(e.parent)]


def _is_gate(f: Factor) -> bool:
    return len(f.edges) == 1 and f.edges[0].node.op == "relu"


def _closed_relus(ev: Evidence, w: Words) -> Iterator[Candidate]:
    """A relu closed at the given point (its input < 0, relu′ = 0) counted as open."""
    paths, here = ev.paths or [], ev.points[0]
    relus = {(e.node, e.slot): e for p in paths for f in p.factors for e in f.edges
             if e.node.op == "relu"}  # fmt: skip
    gates = {k: e for k, e in relus.items() if e.value == 0 and _input(here, e) <= 0}
    if not gates:
        return
    # The misconception is "relu′ is 1": the learner's formula takes every relu as open at
    # every point, so the story's numbers drop every relu gate — not only the closed one —
    # or it would fail at checked points where another relu closes.
    as_open = ev.sum_without(_dropping(set(relus), None))
    for key, gate in gates.items():
        through = [p for p in paths if any((e.node, e.slot) == key for f in p.factors
                                           for e in f.edges)]  # fmt: skip
        these = (_("this path contributes") if len(paths) == 1 else
                 _("the path {path} contributes").format(path=w.through(through[0], paths))
                 if len(through) == 1 else _("the {count} paths through {name} contribute").format(
                     count=len(through), name=w.name[gate.node]))  # fmt: skip
        below = _input(here, gate)
        yield Candidate(
            _("relu is closed here: its input {name} = {value} {relation} 0, so {these} 0. Your "
              "formula counts relu′ as 1 there (the slope of an open relu); closed, it is 0."
              ).format(name=w.name[gate.parent], value=number(below),
                       relation="<" if below < 0 else "≤", these=these),
            as_open, "closed relu", 1.0,
        )  # fmt: skip


def _transposed_weights(ev: Evidence, w: Words) -> Iterator[Candidate]:
    """BP2 with W instead of Wᵀ: in Nielsen's names, w{l}_{k}_{j} read as w{l}_{j}_{k}."""
    layers: dict[int, dict[tuple[int, ...], str]] = {}
    for name in ev.setup.variables:
        parts = nielsen_parts(name)
        if parts is not None and parts[0] == "w":  # w{layer}_j_k
            layers.setdefault(parts[1], {})[parts[2]] = name
    if not layers or len(ev.setup.order) > MAX_TRANSPOSE_NODES:
        return
    on_paths = _weights_read_on_paths(ev)
    for layer, weights in sorted(layers.items()):
        swap = {name: weights[(k, j)] for (j, k), name in weights.items()
                if j != k and (k, j) in weights}  # fmt: skip
        read = [n for n in swap if n in on_paths]
        if not read:
            continue
        values = ev.vector(functools.partial(_grad_swapped, ev.setup, swap))
        pairs = join([_("{used} where {name} belongs").format(used=swap[n], name=n)
                      for n in sorted(read)[:3]])  # fmt: skip
        up, below = nielsen_symbol("", layer), nielsen_symbol("", layer - 1)
        yield Candidate(
            _("BP2 with W instead of Wᵀ: your formula uses {pairs}. In δ{below} = ((w{up})ᵀ "
              "δ{up}) ⊙ σ′(z{below}) the sum over k uses w{layer}_k_j (into neuron k of layer "
              "{layer} from neuron j of layer {previous}), not w{layer}_j_k.").format(
                  pairs=pairs, below=below, up=up, layer=layer, previous=layer - 1),
            values, "transposed", 1.5,
        )  # fmt: skip


def _weights_read_on_paths(ev: Evidence) -> set[str]:
    """Names of the weights an edge on a true path multiplies by (∂(w·a)/∂a = w): the other
    operand of a product, the paired operand of a dot (its operands run w1, a1, w2, a2, …)."""
    names = {v: n for n, v in ev.setup.variables.items()}
    read: set[str] = set()
    for e in (e for p in ev.paths or [] for f in p.factors for e in f.edges):
        ops = e.node.operands
        if e.node.op == "dot":
            partners = [ops[e.slot ^ 1]] if e.slot ^ 1 < len(ops) else []
        elif e.node.op == "mul":
            partners = [a for i, a in enumerate(ops) if i != e.slot]
        else:
            continue
        read |= {names[a] for a in partners if type(a) is Value and a in names}
    return read


def _grad_swapped(setup: Setup, swap: dict[str, str], p: Point) -> float:
    leaves = {_point_key(setup.variables[n]): p.leaves[n] for n in setup.variables}
    moved = {_point_key(setup.variables[n]): p.leaves[other] for n, other in swap.items()}
    value = _grad_with(setup, leaves, moved)
    return math.nan if value is None else value


def _signs(ev: Evidence, w: Words) -> Iterator[Candidate]:
    yield Candidate(
        _("Sign error: your result is −{d}. Check the order of each subtraction "
          "(out − target, not target − out) and every minus sign's factor of −1.").format(d=w.d),
        -ev.truth, "sign", 1.0,
    )  # fmt: skip
    paths = ev.paths or []
    if len(paths) > 1:
        for path in paths:
            yield Candidate(
                _("Sign error on the path {path}: its term has the wrong sign.").format(
                    path=w.through(path, paths)),
                ev.truth - 2 * ev.of(path), "sign on a path", 2.5,
            )  # fmt: skip


def _constant_factors(ev: Evidence, w: Words) -> Iterator[Candidate]:
    half, square = _has_constant(ev.setup, "mul", 0.5), _has_constant(ev.setup, "pow", 2.0)
    for c in CONSTANTS_TRIED:
        sentence = _("Off by a constant factor: your result is {factor} × {d}.").format(
            factor=f"{c:g}", d=w.d)
        rank = 3.0
        if c == 2.0 and half and square:
            sentence += _(" The ½ in the cost cancels the 2 that differentiating the square "
                          "brings down: d(½u²)/du = u.")  # fmt: skip
            rank = 1.5
        elif c == 0.5 and square:
            sentence += _(" The 2 that differentiating a square brings down is missing: "
                          "(u²)′ = 2u.")  # fmt: skip
            rank = 1.5
        yield Candidate(sentence, c * ev.truth, "constant", rank)


def _has_constant(setup: Setup, op: str, value: float) -> bool:
    return any(
        n.op == op and any(type(a) is not Value and a == value for a in flat_operands(n))
        for n in setup.order if not n.is_leaf
    )  # fmt: skip


def _after_update(ev: Evidence, w: Words, groups: list[dict[str, float]]) -> Iterator[Candidate]:
    setup, here = ev.setup, ev.points[0]
    for group in groups:
        leaves = {n: v for n in group if isinstance(v := setup.names.get(n), Value)}
        moved = {_point_key(v): group[n] for n, v in leaves.items()}
        truth = here.grads.get(_point_key(setup.wrt), 0.0)
        on_paths = [n for n, v in leaves.items()  # the ones whose change reaches the result
                    if not _same(_grad_with(setup, {}, {_point_key(v): group[n]}), truth,
                                 ev.tol)]  # fmt: skip
        nan = np.full(len(ev.points), np.nan)
        if on_paths:
            new = ", ".join(f"{n}⁺ = {group[n]:.9g}" for n in on_paths)
            old = ", ".join(f"{n} = {leaves[n].data:.9g}" for n in on_paths)
            value = _grad_with(setup, {}, moved)
            yield Candidate(
                _("Your value is what the backward pass gives with the weights after the update "
                  "({new}) where the ones before it belong ({old}): every gradient of a step is "
                  "taken at the weights before any of them moves; update only afterwards."
                  ).format(new=new, old=old),
                _at_point(nan, value), "after update (backward)", 1.0, point_only=True,
            )  # fmt: skip
        value = _grad_with(setup, moved, {})
        names = ", ".join(f"{n}⁺" for n in group)
        yield Candidate(
            _("Your value is {d} at the weights after the update ({names}), not at the "
              "weights before it (here: {values}).").format(
                  d=w.d, names=names, values=w.values(here, list(group))),
            _at_point(nan, value), "after update", 1.0, point_only=True,
        )  # fmt: skip


def _at_point(nan: np.ndarray, value: float | None) -> np.ndarray:
    out = nan.copy()
    out[0] = np.nan if value is None else value
    return out


def _same(a: float | None, b: float, tol: tuple[float, float]) -> bool:
    return a is not None and close(a, b, *tol)


def _grad_with(
    setup: Setup, forward: dict[Value, float], local: dict[Value, float]
) -> float | None:
    try:
        _, loc = replay(setup.order, forward, local)
    except (ArithmeticError, ValueError):
        return None
    return backward(setup.order, setup.output, loc).get(_point_key(setup.wrt), 0.0)


def _numbers_for_names(setup: Setup, here: Point) -> list[str]:
    """Numbers in the claim that are a variable's value here: a name belongs there."""
    literals = {a for n in setup.claim_order if not n.is_leaf
                for a in flat_operands(n) if type(a) is not Value}  # fmt: skip
    placeholders = set(setup.placeholders.values())
    literals |= {n.data for n in setup.claim_order if n.is_leaf and n not in placeholders}
    out = []
    for c in sorted(literals):
        for name, v in here.leaves.items():
            if c != 0 and close(c, v, 1e-9, 0.0):
                out.append(_("Your formula has the number {number} where it means {name} "
                             "({name} = {value} here): with the name, it stays right when "
                             "{name} changes.").format(number=f"{c:g}", name=name,
                                                       value=f"{v:g}"))  # fmt: skip
                break
    return out


# --- the diagnosis ------------------------------------------------------------------------

GENERATORS = (_closed_relus, _transposed_weights, _signs, _missing_paths, _factor_candidates,
              _constant_factors, _extra_paths, _wrong_variable)  # fmt: skip


def diagnose(
    setup: Setup,
    here: Point,
    around: list[Point],
    misses: list[Point],
    verdict: str,
    tol: tuple[float, float],
    updates: list[dict[str, float]],
) -> list[str]:
    """Sentences saying what is wrong with the claim: the known mistakes that explain it,
    simplest first, else the path-by-path breakdown. ``misses`` may be empty for an
    ``only_here`` verdict (a symbolic refutation); an ``undecided`` verdict gets none."""
    if verdict not in ("wrong", "only_here"):
        return []
    ev = Evidence(setup, [here, *around], tol)
    w = Words(setup)
    sentences: list[str] = []
    if verdict == "only_here":
        sentences.append(_only_here(ev, w, misses))
        if not ev.constant_claim or to_its_digits(setup.claim_text, ev.claim[0], ev.truth[0]):
            sentences += _numbers_for_names(setup, here)  # a right number that means a name
    elif ev.constant_claim:
        sentences.append(_number(ev, w, misses))
    found = _explaining(ev, w, updates)
    sentences += found
    if not found and verdict == "wrong":
        sentences += _breakdown(ev, w, here)
    elif not found and ev.constant_claim:
        names = ", ".join(setup.variables) or _("the variables")
        sentences.append(_("Your claim is a number, so it is checked at the given point only: "
                           "write it as a formula in {names} to have it checked everywhere."
                           ).format(names=names))  # fmt: skip
    return sentences


def _explaining(ev: Evidence, w: Words, updates: list[dict[str, float]]) -> list[str]:
    """The sentences of the candidates that explain the claim, one per kind, simplest first."""
    candidates = [c for g in GENERATORS for c in g(ev, w)] + list(_after_update(ev, w, updates))
    ranked = sorted((c for c in candidates if ev.explains(c)),
                    key=lambda c: (c.rank, ev.exactness(c)))  # fmt: skip
    kinds: set[str] = set()
    found: list[str] = []
    for c in ranked:  # sorted() is stable: within a rank, the order the generators gave
        if c.kind not in kinds:
            kinds.add(c.kind)
            found.append(c.sentence)
    return found


def _number(ev: Evidence, w: Words, misses: list[Point]) -> str:
    """What a claim that is one number is, at the given point — never "equal" unless it is."""
    here, truth = ev.points[0], ev.truth[0]
    where = w.values(here, list(here.leaves)) if len(here.leaves) <= 4 else ""
    at = (_("at the given point ({values})").format(values=where) if where
          else _("at the given point"))  # fmt: skip
    if here.claim is None:
        return _("Your number is undefined; {d} {at} is {truth}.").format(
            d=w.d, at=at, truth=f"{truth:.9g}")
    if not to_its_digits(ev.setup.claim_text, here.claim, truth):
        return _("Your number {claim} is not {d} {at}: the engine gives {truth}, a difference "
                 "of {difference}.").format(claim=f"{here.claim:.9g}", d=w.d, at=at,
                                            truth=f"{truth:.9g}",
                                            difference=number(here.claim - truth))  # fmt: skip
    rounded = ""
    if not close(here.claim, truth, 1e-12, 1e-15):
        rounded = _(" to the digits you wrote (the engine gives {truth})").format(
            truth=f"{truth:.9g}")
    if not misses:
        return _("Your number {claim} is {d}{rounded} {at}.").format(
            claim=f"{here.claim:.9g}", d=w.d, rounded=rounded, at=at)
    first = misses[0]
    return _("Your number {claim} is {d}{rounded} at the given point but not at {misses}; e.g. "
             "at {values} it is {truth}.").format(
                 claim=f"{here.claim:.9g}", d=w.d, rounded=rounded, misses=_how_many(misses, ev),
                 values=w.values(first, list(first.leaves)),
                 truth=f"{ev.setup.truth(first):.9g}")  # fmt: skip


def _how_many(misses: list[Point], ev: Evidence) -> str:
    """``12 of the 50 points around it`` (or, for misses found elsewhere, ``12 other points``)."""
    n = len(ev.points) - 1
    if len(misses) <= n:
        return _("{count} of the {total} points around it").format(count=len(misses), total=n)
    return _("{count} other points checked").format(count=len(misses))


def _only_here(ev: Evidence, w: Words, misses: list[Point]) -> str:
    if ev.constant_claim:
        return _number(ev, w, misses)
    here, n = ev.points[0], len(ev.points) - 1
    mine = _("undefined") if here.claim is None else f"{here.claim:.9g}"
    pair = _("yours {mine}, the engine's {engine}").format(mine=mine, engine=f"{ev.truth[0]:.9g}")
    if not misses:  # every number agreed: the refutation was symbolic
        return _("Your formula agrees with {d} to within rounding at all {count} points "
                 "checked (at the given point: {pair}), but it is a different function: the "
                 "symbolic check finds a difference that is not zero.").format(
                     d=w.d, count=n + 1, pair=pair)  # fmt: skip
    first = misses[0]
    yours = _("undefined") if first.claim is None else f"{first.claim:.9g}"
    return _("Your formula agrees with {d} at the given point but not at {misses}: at the given "
             "point {pair}; at {values}, yours {yours}, the engine's {engine}.").format(
                 d=w.d, misses=_how_many(misses, ev), pair=pair,
                 values=w.values(first, list(first.leaves)), yours=yours,
                 engine=f"{ev.setup.truth(first):.9g}")  # fmt: skip


def _breakdown(ev: Evidence, w: Words, here: Point) -> list[str]:
    claim = _("undefined") if here.claim is None else f"{here.claim:.9g}"
    lines = [_("No known pattern explains the difference.")]
    paths = ev.paths
    if paths is None:
        return lines + [_("{d} sums over more than {count} paths; the engine gives {engine}, "
                          "your claim {claim}.").format(d=w.d, count=MAX_PATHS,
                                                        engine=f"{ev.truth[0]:.9g}",
                                                        claim=claim)]  # fmt: skip
    lines.append(ngettext("{d} is the sum over {count} path:", "{d} is the sum over {count} paths:",
                          len(paths)).format(d=w.d, count=len(paths)))  # fmt: skip
    for k, path in enumerate(paths, 1):
        symbols = " · ".join(partial(w.name[f.top], w.name[f.bottom]) for f in path.factors)
        values = " × ".join(f"{f.value:.6g}" for f in path.factors)
        lines.append(_("path {k} ({through}): {symbols} = {values} = {product}").format(
            k=k, through=w.through(path, paths), symbols=symbols, values=values,
            product=f"{path.product:.9g}"))  # fmt: skip
    lines.append(_("sum = {engine}; your claim = {claim}.").format(
        engine=f"{ev.truth[0]:.9g}", claim=claim))
    return lines
