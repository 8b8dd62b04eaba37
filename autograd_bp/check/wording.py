"""The words of a diagnosis: the graph's own names for its nodes, paths and factors.

Used by :mod:`autograd_bp.check.diagnosis`, whose sentences say which mistake explains a claim.

Example:
    >>> partial("E_total", "w1"), number(-0.25)
    ('∂E_total/∂w1', '−0.25')
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from ..core.engine import Value
from ..locale import _
from ..show.paths import Factor, PathTerm
from .points import Point, Setup, close

__all__ = ["Words", "display_names", "join", "number", "partial", "short_list", "to_its_digits"]


def partial(top: str, bottom: str) -> str:
    """``∂top/∂bottom``, with parentheses around a name that is an expression.

    Example:
        >>> partial("f", "x*y")
        '∂f/∂(x*y)'
    """
    return "/".join("∂" + (n if n.isidentifier() else f"({n})") for n in (top, bottom))


def number(x: float) -> str:
    """A number for a sentence, with a real minus sign: ``−0.3``.

    Example:
        >>> number(-0.3), number(0.000438567734)
        ('−0.3', '0.000438568')
    """
    return f"{x:.6g}".replace("-", "−")


def display_names(setup: Setup) -> dict[Value, str]:
    """Every node's name for a message, keyed by the node (``Setup.display`` keys by id).

    Example:
        >>> from autograd_bp import parse
        >>> f = parse("x*y", x=1.0, y=2.0); x = f.parents[0]
        >>> sorted(display_names(Setup(f, x, "y", {"x": x, "y": f.parents[1]})).values())
        ['f', 'x', 'y']
    """
    return {n: setup.display[n] for n in setup.order}


class Words:
    """Names and formulas for the sentences of one diagnosis."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        self.name = display_names(setup)
        self.named = {b for b in setup.names.values() if isinstance(b, Value)}
        self.out = self.name[setup.output]
        self.wrt = self.name[setup.wrt]
        self.d = partial(self.out, self.wrt)

    def factor(self, f: Factor) -> str:
        """``∂out_h1/∂net_h1 = σ(net_h1)·(1 − σ(net_h1)) = 0.241301``."""
        text = partial(self.name[f.top], self.name[f.bottom])
        if len(f.edges) == 1:
            formula = f.edges[0].rule_text(self.name)
            if formula:
                text += f" = {formula}"
        return f"{text} = {f.value:.6g}"

    def through(self, path: PathTerm, others: Sequence[PathTerm]) -> str:
        """``through E_o1, out_o1, net_o1``: the named nodes of the path that some other path
        does not pass (else the first such node, else the whole chain)."""
        apart = [node for node in path.nodes if any(node not in o.nodes for o in others)]
        own = [self.name[n] for n in apart if n in self.named] or [self.name[n] for n in apart[:1]]
        if own:  # the named nodes only this path passes, e.g. E_o1, out_o1, net_o1
            return _("through {names}").format(names=short_list(own))
        return _("along {chain}").format(chain=self.chain(path))

    def branch(self, group: Sequence[PathTerm], rest: Sequence[PathTerm]) -> str | None:
        """``through out_h2, net_h2``: the named nodes every path of ``group`` passes and no
        path of ``rest`` does — the branch those paths share — or None."""
        shared = [n for n in group[0].nodes if n in self.named and all(n in p.nodes for p in group)
                  and all(n not in p.nodes for p in rest)]  # fmt: skip
        if not shared:
            return None
        return _("through {names}").format(names=short_list([self.name[n] for n in shared]))

    def paths(self, group: Sequence[PathTerm], every: Sequence[PathTerm]) -> str:
        """The paths of ``group`` in words: their shared branch, else each one's own nodes."""
        rest = [p for p in every if all(p is not g for g in group)]
        if len(group) > 1 and (shared := self.branch(group, rest)):
            return shared
        return join([self.through(p, every) for p in group])

    def chain(self, path: PathTerm) -> str:
        """``f → mul#2 → x``, with the operand slot where a node uses one parent twice."""
        text = self.out
        for e in (e for f in path.factors for e in f.edges):
            parents = e.node.parents
            slot = _(" (operand {index} of {name})").format(
                index=e.index + 1, name=self.name[e.node]) if parents.count(e.parent) > 1 else ""
            text += f" → {self.name[e.parent]}{slot}"
        return text

    def values(self, point: Point, names: Sequence[str]) -> str:
        """``x = 3, y = 2``: the named variables' values at ``point``."""
        return ", ".join(f"{n} = {point.leaves[n]:.6g}" for n in names if n in point.leaves)


def short_list(names: list[str]) -> str:
    """Up to three names; a longer list as its first and last.

    Example:
        >>> short_list(["a", "b", "c", "d"])
        'a, …, d'
    """
    return ", ".join(names if len(names) <= 3 else [names[0], "…", names[-1]])


def join(items: list[str]) -> str:
    """``a, b and c``.

    Example:
        >>> join(["a", "b", "c"])
        'a, b and c'
    """
    if len(items) == 1:
        return items[0]
    return _("{items} and {last}").format(items=", ".join(items[:-1]), last=items[-1])


def to_its_digits(text: str, claim: float, truth: float, edge: bool = True) -> bool:
    """Whether ``truth`` rounds to the number written: within half a unit of its last digit
    (``4`` is not 3; ``0.1222`` is 0.122229), the half itself included when ``edge``. A claim
    that is not one decimal number (``1/3``) must agree to within float rounding.

    Example:
        >>> to_its_digits("0.1222", 0.1222, 0.122229), to_its_digits("4", 4.0, 3.0)
        (True, False)
    """
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        return close(claim, truth, 1e-9, 1e-15)
    if not d.is_finite():
        return False
    half = Decimal(5).scaleb(d.as_tuple().exponent - 1)  # type: ignore[operator]
    gap = abs(d - Decimal(truth))
    return gap <= half if edge else gap < half
