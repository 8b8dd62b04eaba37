"""Name the mistake in a wrong derivative, in the chain rule's terms.

Every known mistake is a *candidate*: a function of the point built from the true paths and
factors (the path through out_o2 left out, σ′(net_h1) left out, the sign flipped, …). A
candidate explains the claim when it equals the claim at every point checked — the given one
and the random ones around it (the given one alone for a claim that is a plain number) —
while differing from the truth somewhere. Used by :func:`autograd_bp.check.check_derivation`.

Example:
    >>> from autograd_bp import parse
    >>> from autograd_bp.check import check_derivation
    >>> f = parse("x*y + sin(x)", x=0.5, y=2.0)
    >>> check_derivation(f, "x", "y").diagnosis[0].startswith("You have the path")
    True
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.engine import Value
from ..core.graph import reaching
from .points import Point, Setup, backward, close, flat_operands, replay

__all__ = ["Factor", "PathInfo", "diagnose", "paths_to"]

MAX_PATHS = 64
MAX_SUBSETS_PATHS = 8
CONSTANTS_TRIED = (2.0, 0.5, 4.0, 0.25, 3.0, 1 / 3, -2.0, -0.5)


@dataclass(frozen=True, eq=False)
class Factor:
    """∂top/∂bottom along one run of edges between two named nodes."""

    top: Value
    bottom: Value
    edges: tuple[tuple[Value, int], ...]  # (node, index of the parent) from top down

    @property
    def key(self) -> tuple[tuple[int, int], ...]:
        """Which edges it multiplies: equal keys are the same factor on different paths."""
        return tuple((id(n), k) for n, k in self.edges)

    def at(self, point: Point) -> float:
        """Its value at ``point``."""
        return math.prod(point.local[id(n)][k] for n, k in self.edges)


@dataclass
class PathInfo:
    """One path from the output down to a node, as named factors."""

    nodes: list[Value]  # below the output, down to the end
    factors: list[Factor]

    def at(self, point: Point) -> float:
        """Its product at ``point``."""
        return math.prod(f.at(point) for f in self.factors)


def paths_to(setup: Setup, end: Value, cap: int = MAX_PATHS) -> list[PathInfo] | None:
    """Every path from the output to ``end`` split into named factors; None beyond ``cap``."""
    reach = {id(n) for n in reaching(setup.order, end)}
    count: dict[int, int] = {id(end): 1}
    for node in reversed(setup.order):
        if id(node) in reach and node is not end:
            count[id(node)] = sum(count.get(id(p), 0) for p in node.parents)
    if count.get(id(setup.output), 0) > cap:
        return None
    stops = _stops(setup) | {id(end)}
    found: list[PathInfo] = []
    stack: list[tuple[Value, list[tuple[Value, int]]]] = [(setup.output, [])]
    while stack and id(setup.output) in reach:
        node, edges = stack.pop()
        if node is end:
            found.append(_split(edges, stops))
            continue
        for k, parent in reversed(list(enumerate(node.parents))):
            if id(parent) in reach:
                stack.append((parent, [*edges, (node, k)]))
    return found


def _stops(setup: Setup) -> set[int]:
    """The nodes a factor may end at: the named ones; every node when only leaves are named
    (an expression typed on the command line: one factor per op)."""
    named = {id(b) for b in setup.names.values() if isinstance(b, Value)}
    inner = {id(n) for n in setup.order if not n.is_leaf and n is not setup.output}
    return named if named & inner else named | inner


def _split(edges: list[tuple[Value, int]], stops: set[int]) -> PathInfo:
    factors: list[Factor] = []
    run: list[tuple[Value, int]] = []
    nodes: list[Value] = []
    for node, k in edges:
        run.append((node, k))
        parent = node.parents[k]
        nodes.append(parent)
        if id(parent) in stops:
            factors.append(Factor(run[0][0], parent, tuple(run)))
            run = []
    return PathInfo(nodes, factors)


# --- wording ------------------------------------------------------------------------------


def partial(top: str, bottom: str) -> str:
    """``∂top/∂bottom``, with parentheses around a name that is an expression.

    Example:
        >>> partial("f", "x*y")
        '∂f/∂(x*y)'
    """
    return "/".join("∂" + (n if n.isidentifier() else f"({n})") for n in (top, bottom))


class Words:
    """Names and formulas for the sentences of one diagnosis."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.name = setup.display
        self.out = self.name[id(setup.output)]
        self.wrt = self.name[id(setup.wrt)]
        self.d = partial(self.out, self.wrt)

    def factor(self, f: Factor, point: Point) -> str:
        """``∂out_h1/∂net_h1 = σ(net_h1)·(1 − σ(net_h1)) = 0.241301``."""
        text = partial(self.name[id(f.top)], self.name[id(f.bottom)])
        if len(f.edges) == 1:
            formula = self.rule_text(*f.edges[0])
            if formula:
                text += f" = {formula}"
        return f"{text} = {f.at(point):.6g}"

    def rule_text(self, node: Value, k: int) -> str | None:
        """The op table's plain-text formula for the k-th parent's local derivative."""
        rule = node.rule
        if rule is None or not rule.text:
            return None
        flat = flat_operands(node)
        slot = [i for i, a in enumerate(flat) if type(a) is Value][k]
        fill = {"out": self.name.get(id(node), "out"), "p": f"{node.param}"}
        for key, i in (("x", 0), ("y", 1), ("pair", slot ^ 1)):
            if i < len(flat):
                fill[key] = self.operand(flat[i])
        return rule.derivative(slot, "text", **fill)

    def operand(self, a: Any) -> str:
        """A node's name, or a folded constant as a number."""
        return self.name.get(id(a), "?") if type(a) is Value else f"{a:g}"

    def through(self, path: PathInfo, others: Sequence[PathInfo]) -> str:
        """``through E_o1, out_o1, net_o1``: the named nodes of the path that some other path
        does not pass (else the first such node, else the whole chain)."""
        named = {id(b) for b in self.setup.names.values() if isinstance(b, Value)}
        apart = [node for node in path.nodes
                 if any(all(n is not node for n in o.nodes) for o in others)]  # fmt: skip
        own = [self.name[id(n)] for n in apart if id(n) in named]
        own = own or [self.name[id(n)] for n in apart[:1]]
        if own:  # the named nodes only this path passes, e.g. E_o1, out_o1, net_o1
            return "through " + ", ".join(own if len(own) <= 3 else [own[0], "…", own[-1]])
        return "along " + self.chain(path)

    def chain(self, path: PathInfo) -> str:
        """``f → mul#2 → x``, with the operand slot where a node uses one parent twice."""
        text = self.out
        for node, k in (e for f in path.factors for e in f.edges):
            parents = node.parents
            slot = f" (operand {k + 1} of {self.name[id(node)]})" if parents.count(
                parents[k]) > 1 else ""  # fmt: skip
            text += f" → {self.name[id(parents[k])]}{slot}"
        return text

    def values(self, point: Point, names: Sequence[str]) -> str:
        return ", ".join(f"{n} = {point.leaves[n]:.6g}" for n in names if n in point.leaves)


# --- candidates ---------------------------------------------------------------------------


@dataclass
class Candidate:
    """A known mistake: its sentence and its value at each point (NaN where unknown)."""

    sentence: str
    values: np.ndarray
    point_only: bool = False  # defined at the given point only


class Evidence:
    """The claim, the truth and the true paths at every point, as arrays."""

    def __init__(self, setup: Setup, points: list[Point], tol: tuple[float, float]) -> None:
        self.setup, self.points, self.tol = setup, points, tol
        self.claim = np.array([np.nan if p.claim is None else p.claim for p in points])
        self.truth = np.array([setup.truth(p) for p in points])
        self.paths = paths_to(setup, setup.wrt)
        self.constant_claim = not setup.used

    def vector(self, f: Callable[[Point], float]) -> np.ndarray:
        return np.array([f(p) for p in self.points], dtype=float)

    def explains(self, c: Candidate) -> bool:
        """Equal to the claim wherever both are known, and not the truth."""
        rows = [0] if self.constant_claim or c.point_only else range(len(self.points))
        pairs = [(self.claim[i], c.values[i], self.truth[i]) for i in rows]
        known = [(a, b, t) for a, b, t in pairs if math.isfinite(a) and math.isfinite(b)]
        if not known or len(known) < len(pairs) / 2 or not math.isfinite(self.claim[0]):
            return False
        if not all(close(a, b, *self.tol) for a, b, _ in known):
            return False
        return any(not close(b, t, *self.tol) for _, b, t in known)


def _wrong_variable(ev: Evidence, w: Words) -> Iterator[Candidate]:
    seen = {id(ev.setup.wrt)}
    for name, b in ev.setup.names.items():
        if isinstance(b, Value) and id(b) not in seen:
            seen.add(id(b))
            yield Candidate(
                f"This is {partial(w.out, name)}, not {w.d}: the derivative was taken with respect "
                f"to the wrong variable.",
                ev.vector(_gradient_of(b)),
            )


def _gradient_of(node: Value) -> Callable[[Point], float]:
    return lambda p: p.grads.get(id(node), 0.0)


def _path_vectors(ev: Evidence) -> list[np.ndarray]:
    return [ev.vector(path.at) for path in ev.paths or []]


def _missing_paths(ev: Evidence, w: Words) -> Iterator[Candidate]:
    paths = ev.paths or []
    if not 2 <= len(paths) <= MAX_SUBSETS_PATHS:
        return
    vectors = _path_vectors(ev)
    for size in range(len(paths) - 1, 0, -1):
        for kept in itertools.combinations(range(len(paths)), size):
            lost = [k for k in range(len(paths)) if k not in kept]
            have = _join([w.through(paths[k], paths) for k in kept])
            miss = _join([w.through(paths[k], paths) for k in lost])
            s, one = ("s", "ones") if len(lost) > 1 else ("", "one")
            yield Candidate(
                f"You have the path{'s' if size > 1 else ''} {have} but not the {one} {miss}: "
                f"{w.wrt} reaches {w.out} along {len(paths)} paths, and {w.d} is the sum over "
                f"all of them{s and ''}.",
                np.sum([vectors[k] for k in kept], axis=0),
            )


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _extra_paths(ev: Evidence, w: Words) -> Iterator[Candidate]:
    paths = ev.paths or []
    vectors = _path_vectors(ev)
    if len(paths) > 1:
        for path, v in zip(paths, vectors):
            yield Candidate(f"The path {w.through(path, paths)} is counted twice.", ev.truth + v)
    on_true = {id(n) for p in paths for n in p.nodes}
    for leaf in ev.setup.variables.values():
        if leaf is ev.setup.wrt:
            continue
        for path in paths_to(ev.setup, leaf, cap=16) or []:
            new = next((n for n in path.nodes if id(n) not in on_true), leaf)
            chain = w.chain(path)
            yield Candidate(
                f"You added a path that does not lead to {w.wrt}: through {w.name[id(new)]} "
                f"({chain}).",
                ev.truth + ev.vector(path.at),
            )


def _factor_candidates(ev: Evidence, w: Words) -> Iterator[Candidate]:
    paths = ev.paths or []
    if not paths:
        return
    here = ev.points[0]
    vectors = _path_vectors(ev)
    everywhere = set.intersection(*({f.key for f in p.factors} for p in paths))
    seen: set[tuple[Any, ...]] = set()
    for k, (path, v) in enumerate(zip(paths, vectors)):
        for f in path.factors:
            fv = ev.vector(f.at)
            if not np.all(np.isfinite(fv)) or np.all(fv == fv[0]):
                continue  # constants are the constant-factor pattern's business
            common = f.key in everywhere
            where = ("" if len(paths) == 1 else " (it is on every path)" if common
                     else f" on the path {w.through(path, paths)}")  # fmt: skip
            if (f.key, common, k if not common else -1) in seen:
                continue
            seen.add((f.key, common, k if not common else -1))
            text = w.factor(f, here)
            with np.errstate(divide="ignore", invalid="ignore"):
                without = ev.truth / fv if common else ev.truth - v + v / fv
            yield Candidate(f"Missing factor {text}{where}.", without)
            doubled = ev.truth * fv if common else ev.truth - v + v * fv
            yield Candidate(f"Extra factor {text}{where}: it appears twice in your product.",
                            doubled)  # fmt: skip


def _signs(ev: Evidence, w: Words) -> Iterator[Candidate]:
    yield Candidate(
        f"Sign error: your result is −{w.d}. Check the order of each subtraction "
        f"(out − target, not target − out) and every minus sign's factor of −1.",
        -ev.truth,
    )
    paths = ev.paths or []
    if len(paths) > 1:
        for path, v in zip(paths, _path_vectors(ev)):
            yield Candidate(
                f"Sign error on the path {w.through(path, paths)}: its term has the wrong sign.",
                ev.truth - 2 * v,
            )


def _constant_factors(ev: Evidence, w: Words) -> Iterator[Candidate]:
    half, square = _has_constant(ev.setup, "mul", 0.5), _has_constant(ev.setup, "pow", 2.0)
    for c in CONSTANTS_TRIED:
        sentence = f"Off by a constant factor: your result is {c:g} × {w.d}."
        if c == 2.0 and half and square:
            sentence += (" The ½ in the cost cancels the 2 that differentiating the square "
                         "brings down: d(½u²)/du = u.")  # fmt: skip
        elif c == 0.5 and square:
            sentence += " The 2 that differentiating a square brings down is missing: (u²)′ = 2u."
        yield Candidate(sentence, c * ev.truth)


def _has_constant(setup: Setup, op: str, value: float) -> bool:
    return any(
        n.op == op and any(type(a) is not Value and a == value for a in flat_operands(n))
        for n in setup.order if not n.is_leaf
    )  # fmt: skip


def _after_update(ev: Evidence, w: Words, groups: list[dict[str, float]]) -> Iterator[Candidate]:
    setup, here = ev.setup, ev.points[0]
    for group in groups:
        leaves = {n: v for n in group if isinstance(v := setup.names.get(n), Value)}
        moved = {id(v): group[n] for n, v in leaves.items()}
        truth = here.grads.get(id(setup.wrt), 0.0)
        on_paths = [n for n, v in leaves.items()  # the ones whose change reaches the result
                    if not _same(_grad_with(setup, {}, {id(v): group[n]}), truth,
                                 ev.tol)]  # fmt: skip
        nan = np.full(len(ev.points), np.nan)
        if on_paths:
            new = ", ".join(f"{n}⁺ = {group[n]:.9g}" for n in on_paths)
            old = ", ".join(f"{n} = {leaves[n].data:.9g}" for n in on_paths)
            value = _grad_with(setup, {}, moved)
            yield Candidate(
                f"Your value is what the backward pass gives with the weights after the update "
                f"({new}) where the ones before it belong ({old}): every gradient of a step is "
                f"taken at the weights before any of them moves; update only afterwards.",
                _at_point(nan, value), point_only=True,
            )  # fmt: skip
        value = _grad_with(setup, moved, {})
        names = ", ".join(f"{n}⁺" for n in group)
        yield Candidate(
            f"Your value is {w.d} at the weights after the update ({names}), not at the "
            f"weights before it (here: {w.values(here, list(group))}).",
            _at_point(nan, value), point_only=True,
        )  # fmt: skip


def _at_point(nan: np.ndarray, value: float | None) -> np.ndarray:
    out = nan.copy()
    out[0] = np.nan if value is None else value
    return out


def _same(a: float | None, b: float, tol: tuple[float, float]) -> bool:
    return a is not None and close(a, b, *tol)


def _grad_with(setup: Setup, forward: dict[int, float], local: dict[int, float]) -> float | None:
    try:
        _, loc = replay(setup.order, forward, local)
    except (ArithmeticError, ValueError):
        return None
    return backward(setup.order, setup.output, loc).get(id(setup.wrt), 0.0)


def _numbers_for_names(setup: Setup, here: Point) -> list[str]:
    """Numbers in the claim that are a variable's value here: a name belongs there."""
    literals = {a for n in setup.claim_order if not n.is_leaf
                for a in flat_operands(n) if type(a) is not Value}  # fmt: skip
    placeholders = {id(v) for v in setup.placeholders.values()}
    literals |= {n.data for n in setup.claim_order if n.is_leaf and id(n) not in placeholders}
    out = []
    for c in sorted(literals):
        for name, v in here.leaves.items():
            if c != 0 and close(c, v, 1e-9, 0.0):
                out.append(f"Your formula has the number {c:g} where it means {name} "
                           f"({name} = {v:g} here): with the name, it stays right when "
                           f"{name} changes.")  # fmt: skip
                break
    return out


# --- the diagnosis ------------------------------------------------------------------------


def diagnose(
    setup: Setup,
    here: Point,
    around: list[Point],
    misses: list[Point],
    verdict: str,
    tol: tuple[float, float],
    updates: list[dict[str, float]],
) -> list[str]:
    """Sentences saying what is wrong with the claim (a known pattern, else the breakdown)."""
    ev = Evidence(setup, [here, *around], tol)
    w = Words(setup)
    sentences: list[str] = []
    if verdict == "only_here":
        sentences.append(_only_here(setup, w, misses, len(around)))
        sentences += _numbers_for_names(setup, here)
    generators = [_wrong_variable, _missing_paths, _extra_paths, _factor_candidates, _signs,
                  _constant_factors]  # fmt: skip
    candidates = [c for g in generators for c in g(ev, w)] + list(_after_update(ev, w, updates))
    found: list[str] = []
    kinds: set[str] = set()
    for c in candidates:
        kind = c.sentence.split(":")[0].split(" the ")[0]  # one sentence per kind of mistake
        if kind not in kinds and ev.explains(c):
            kinds.add(kind)
            found.append(c.sentence)
    sentences += found
    if not found and verdict == "wrong":
        sentences += _breakdown(ev, w, here)
    elif not found and ev.constant_claim:
        names = ", ".join(setup.variables) or "the variables"
        sentences.append(f"Your claim is a number, so it can only be right at one point: write "
                         f"it as a formula in {names} to have it checked everywhere.")  # fmt: skip
    return sentences


def _only_here(setup: Setup, w: Words, misses: list[Point], n: int) -> str:
    first = misses[0]
    yours = "undefined" if first.claim is None else f"{first.claim:.9g}"
    return (f"Your formula equals {w.d} at the given point but not at {len(misses)} of the "
            f"{n} points around it; e.g. at {w.values(first, list(first.leaves))}: yours "
            f"{yours}, the engine's {setup.truth(first):.9g}.")  # fmt: skip


def _breakdown(ev: Evidence, w: Words, here: Point) -> list[str]:
    claim = "undefined" if here.claim is None else f"{here.claim:.9g}"
    lines = ["No known pattern explains the difference."]
    paths = ev.paths
    if paths is None:
        return lines + [f"{w.d} sums over more than {MAX_PATHS} paths; the engine gives "
                        f"{ev.truth[0]:.9g}, your claim {claim}."]  # fmt: skip
    s = "s" if len(paths) != 1 else ""
    lines.append(f"{w.d} is the sum over {len(paths)} path{s}:")
    for k, path in enumerate(paths, 1):
        symbols = " · ".join(partial(w.name[id(f.top)], w.name[id(f.bottom)])
                             for f in path.factors)  # fmt: skip
        values = " × ".join(f"{f.at(here):.6g}" for f in path.factors)
        lines.append(f"path {k} ({w.through(path, paths)}): {symbols} = {values} = "
                     f"{path.at(here):.9g}")  # fmt: skip
    lines.append(f"sum = {ev.truth[0]:.9g}; your claim = {claim}.")
    return lines
