"""The chain rule as paths and factors: the one model explanations and diagnoses share.

∂output/∂wrt is a sum over every path from ``output`` down to ``wrt``; each path is a product
of local derivatives, one per edge (:class:`Local`). Runs of edges between two *stops* (the
nodes worth naming) are multiplied into one :class:`Factor`; a :class:`PathTerm` is one
path's factors. Everything is keyed by the :class:`~autograd_bp.core.engine.Value` itself
(Values hash by identity), so the same node is the same key wherever it is met.

:func:`walk_paths` lists the paths (depth first, parents in operand order), :func:`count_paths`
counts them first (path counts grow exponentially, so callers cap them). A factor knows its
value where the graph was built (``value``) and at any other point, given the local
derivatives there (:meth:`Factor.at`). :mod:`autograd_bp.show.explain` writes them out;
:mod:`autograd_bp.check.diagnosis` evaluates them at the points a claim is checked at.

Example:
    >>> from autograd_bp import Value
    >>> from autograd_bp.core import graph
    >>> from autograd_bp.core.engine import backward_order
    >>> x = Value(3.0, label="x"); y = x * x; y.label = "y"
    >>> order = backward_order(y); reach = graph.reaching(order, x)
    >>> count_paths(order, y, x, reach)
    2
    >>> [p.product for p in walk_paths(y, x, reach, set(order), graph.names(y))]
    [3.0, 3.0]
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..core import graph
from ..core.engine import Value

__all__ = [
    "Factor",
    "Local",
    "PathTerm",
    "count_paths",
    "latex_name",
    "latex_number",
    "latex_wrapped",
    "nielsen_parts",
    "nielsen_symbol",
    "pretty_name",
    "walk_paths",
    "wrap",
]

# --- one local derivative, as its rule ----------------------------------------------------

_COMPOUND = re.compile(r"[\s+\-*/·^]")


def wrap(name: str) -> str:
    """A name as it reads inside ∂…/∂…: a name with an operator outside parentheses gets
    parentheses (``∂(w*x + b)``, but ``∂sigmoid(w*x + b)``).

    Example:
        >>> wrap("w*x + b"), wrap("sigmoid(w*x + b)"), wrap("out_h1")
        ('(w*x + b)', 'sigmoid(w*x + b)', 'out_h1')
    """
    top, inner = name, ""
    while top != inner:  # drop parenthesised groups, innermost first
        inner, top = top, re.sub(r"\([^()]*\)", "", top)
    return f"({name})" if _COMPOUND.search(top) else name


@dataclass(frozen=True)
class Local:
    """The edge ``node -> operand slot``: one local derivative ∂node/∂operand."""

    node: Value
    slot: int  # the operand slot (folded constants count)
    value: float  # where the graph was built
    parent: Value

    @cached_property
    def index(self) -> int:
        """The parent's position in ``node.parents`` (constants do not count)."""
        return sum(type(a) is Value for a in self.node.operands[: self.slot])

    def _operand_env(self, label: dict[Value, str], as_name: Any) -> dict[str, Any]:
        ops = self.node.operands
        env: dict[str, Any] = {"out": as_name(self.node)}
        if getattr(self.node.rule, "variadic", False):
            env["x"] = as_name(ops[self.slot])
            if self.slot ^ 1 < len(ops):
                env["pair"] = as_name(ops[self.slot ^ 1])
        else:
            env.update(zip(("x", "y"), map(as_name, ops)))
        p = self.node.param
        if p is not None:
            env["p"] = as_name(p)
        return env

    def _entry(self, column: tuple[str, ...]) -> str:
        return column[self.slot % len(column)] if column else ""

    def rule_text(self, label: dict[Value, str]) -> str:
        """The rule from the op table over the operands' names, e.g. ``σ(z)·(1 − σ(z))``."""
        template = self._entry(getattr(self.node.rule, "text", ()))
        if not template:
            return ""
        env = self._operand_env(label, lambda v: _display(v, label))
        return _fill(template, env, wrap)

    def rule_latex(self, label: dict[Value, str]) -> str:
        """The same rule in LaTeX, from the op table's ``latex`` column."""
        template = self._entry(getattr(self.node.rule, "latex", ()))
        if not template:
            return ""
        env = self._operand_env(label, lambda v: latex_name(_display(v, label)))
        return _fill(template, env, lambda s: f"\\left({s}\\right)" if " " in s else s)

    def numbers(self) -> list[float]:
        """The rule's top-level factors evaluated at this node (one entry if the rule is
        not a product); [] when the table has no formula."""
        formula = self._entry(getattr(self.node.rule, "formula", ()))
        if not formula:
            return []
        env = self._operand_env({}, _number)
        try:
            terms = graph.product_terms(formula)
            return [graph.evaluate_formula(t, env, _call_float) for t in terms]
        except (ArithmeticError, ValueError, KeyError):
            return []


def _display(v: Any, label: dict[Value, str]) -> str:
    if type(v) is Value:
        return label.get(v) or graph.format_number(v.data)
    return graph.format_number(float(v))


def _number(v: Any) -> float:
    return v.data if type(v) is Value else float(v)


def _fill(template: str, env: dict[str, str], paren: Any) -> str:
    """Substitute names into a rule; a compound name gets parentheses unless the template
    already puts it alone inside a pair (``σ({x})``)."""

    def one(m: re.Match[str]) -> str:
        name = env.get(m.group(1), m.group(0))
        before, after = template[: m.start()], template[m.end() :]
        alone = before.endswith(("(", "{", "|")) and after.startswith((")", "}", "|"))
        return name if alone or name == m.group(0) else paren(name)

    return re.sub(r"\{(" + "|".join(graph.PLACEHOLDERS) + r")\}", one, template)


def _call_float(name: str, args: list[float]) -> float:
    from ..core.ops import RULES

    if name == "step":
        return 1.0 if args[0] > 0 else 0.0
    if name == "sign":
        return float(math.copysign(1.0, args[0])) if args[0] else 0.0
    for rule in RULES.values():
        if getattr(rule, "function", None) == name:
            param = args[1] if len(args) > 1 else None
            return float(rule.forward(float(args[0]), param))
    raise ValueError(f"unknown function {name!r} in a formula")


# --- the result ---------------------------------------------------------------------------


@dataclass
class Factor:
    """One named factor ∂numerator/∂denominator and its value: the product of the local
    derivatives along the edges between two stops (one edge by default)."""

    numerator: str
    denominator: str
    value: float
    slot: str = ""  # "left"/"right"/"k" when the denominator fills several operand slots
    edges: list[Local] = field(default_factory=list, repr=False, compare=False)
    names: dict[Value, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def top(self) -> Value:
        """The node the factor differentiates (its numerator)."""
        return self.edges[0].node

    @property
    def bottom(self) -> Value:
        """The node it differentiates with respect to (its denominator)."""
        return self.edges[-1].parent

    @property
    def key(self) -> tuple[tuple[Value, int], ...]:
        """Which edges it multiplies: equal keys are the same factor on different paths."""
        return tuple((e.node, e.slot) for e in self.edges)

    def at(self, local: Callable[[Local], float]) -> float:
        """Its value where ``local`` gives each edge's local derivative."""
        return math.prod(local(e) for e in self.edges)

    def symbol(self) -> str:
        """The factor written out, e.g. ``∂out_o1/∂net_o1`` or ``∂(x*x)/∂x[left]``."""
        slot = f"[{self.slot}]" if self.slot else ""
        return f"∂{wrap(self.numerator)}/∂{wrap(self.denominator)}{slot}"

    @property
    def _shown(self) -> list[Local]:
        """The edges worth writing out: in a merged run, the ×1 edges (sums) are left out."""
        kept = [e for e in self.edges if e.value != 1.0]
        return self.edges if len(self.edges) == 1 or not kept else kept

    @cached_property
    def rule(self) -> str:
        """The rule over the names (factors of a merged run joined by ``·``)."""
        parts = [e.rule_text(self.names) for e in self._shown]
        if len(parts) == 1 or not all(parts):
            return parts[0] if len(parts) == 1 else ""
        return " · ".join(f"({p})" if " " in p else p for p in parts)

    @cached_property
    def numbers(self) -> list[float]:
        """The numbers that multiply to ``value``: the rule's factors, or one per edge."""
        if len(self._shown) == 1:
            return self._shown[0].numbers()
        return [e.value for e in self._shown]

    def line(self, f: Any) -> str:
        """``∂a/∂b = rule = n1 × n2 = value`` with ``f`` formatting the numbers."""
        parts = [self.symbol()]
        if self.rule and self.rule != f(self.value):
            parts.append(self.rule)
        if len(self.numbers) > 1:
            parts.append(" × ".join(f(n) for n in self.numbers))
        parts.append(f(self.value))
        return " = ".join(parts)

    def latex(self, f: Any) -> tuple[str, str, str]:
        """(∂ fraction, rule, numbers) in LaTeX."""
        slot = f"^{{[\\text{{{self.slot}}}]}}" if self.slot else ""
        frac = (f"\\frac{{\\partial {latex_wrapped(self.numerator)}}}"
                f"{{\\partial {latex_wrapped(self.denominator)}{slot}}}")  # fmt: skip
        rules = [e.rule_latex(self.names) for e in self._shown]
        if len(rules) > 1:
            rules = [f"\\left({r}\\right)" if " " in r else r for r in rules]
        rule = " \\cdot ".join(rules)
        nums = " \\times ".join(f(n) for n in self.numbers) if len(self.numbers) > 1 else ""
        return frac, rule, nums


@dataclass
class PathTerm:
    """One path from the output to ``wrt``: its factors and their product."""

    factors: list[Factor]
    product: float

    @property
    def nodes(self) -> list[Value]:
        """The nodes it passes below the output, down to its end."""
        return [e.parent for f in self.factors for e in f.edges]

    def at(self, local: Callable[[Local], float]) -> float:
        """Its product where ``local`` gives each edge's local derivative."""
        return math.prod(f.at(local) for f in self.factors)


# --- the walk -----------------------------------------------------------------------------


def count_paths(order: list[Value], output: Value, wrt: Value, reach: set[Value]) -> int:
    """How many paths lead from ``output`` down to ``wrt`` (``reach``: the nodes of ``order``
    that reach ``wrt``); one pass over the graph, parents before their consumers."""
    count: dict[Value, int] = {}
    for node in reversed(order):
        if node in reach:
            count[node] = 1 if node is wrt else sum(count.get(p, 0) for p in node.parents)
    return count.get(output, 0)


def walk_paths(
    output: Value, wrt: Value, reach: set[Value], stops: Iterable[Value], label: dict[Value, str]
) -> list[PathTerm]:
    """Every path from ``output`` to ``wrt`` as named factors, a factor ending at each node of
    ``stops`` (and at ``wrt``). Depth-first over the edges that lead to ``wrt``, with one
    shared path stack (backtracking), so a path of length L costs O(L), not O(L²)."""
    stop_set = {*stops, wrt}
    out_edges: dict[Value, list[Local]] = {}
    repeated: dict[Value, set[int]] = {}
    for node in reach:
        out_edges[node] = [Local(node, s, d, p) for s, p, d in graph.edges(node) if p in reach]
        repeated[node] = _repeated(out_edges[node], label)
    found: list[PathTerm] = []
    path: list[Local] = []
    stack: list[tuple[Value, int]] = [(output, 0)] if output in reach else []
    while stack:
        node, i = stack[-1]
        if node is wrt and i == 0:
            found.append(_path_term(path, stop_set, label, repeated))
            i = len(out_edges[node])  # nothing below wrt belongs to a path to it
        if i < len(out_edges[node]):
            stack[-1] = (node, i + 1)
            edge = out_edges[node][i]
            path.append(edge)
            stack.append((edge.parent, 0))
            continue
        stack.pop()
        if path:
            path.pop()
    return found


def _repeated(edges: list[Local], label: dict[Value, str]) -> set[int]:
    """Slots whose operand reads the same as another operand of the node (``x*x``, or two
    separate ``tanh(a)`` nodes): marking them keeps every listed path distinct."""
    seen: dict[str, list[int]] = {}
    for e in edges:
        seen.setdefault(label[e.parent], []).append(e.slot)
    return {i for slots in seen.values() if len(slots) > 1 for i in slots}


def _slot_name(node: Value, slot: int) -> str:
    rule = node.rule
    if rule is not None and not getattr(rule, "variadic", False) and rule.arity == 2:
        return ("left", "right")[slot]
    return str(slot + 1)


def _path_term(
    path: list[Local], stops: set[Value], label: dict[Value, str], repeated: dict[Value, set[int]]
) -> PathTerm:
    factors: list[Factor] = []
    run: list[Local] = []
    for edge in path:
        run.append(edge)
        parent = edge.parent
        if parent in stops:
            slot = _slot_name(edge.node, edge.slot) if edge.slot in repeated[edge.node] else ""
            value = math.prod(e.value for e in run)
            factors.append(Factor(label[run[0].node], label[parent], value, slot, run, label))
            run = []
    return PathTerm(factors, math.prod(f.value for f in factors))


# --- names in LaTeX -----------------------------------------------------------------------

# Functions LaTeX has a command for; any other is \operatorname{name}.
_LATEX_FUNCTIONS = {"exp": "\\exp", "log": "\\log", "sin": "\\sin", "cos": "\\cos",
                    "tanh": "\\tanh", "sqrt": "\\sqrt", "sigmoid": "\\sigma"}  # fmt: skip


# Nielsen's names as autograd_bp.nn.notation writes them: w2_1_2, b2_1, z2_1, a2_1, delta2_1
_NIELSEN = re.compile(r"(delta|[wbza])(\d+)_(\d+)(?:_(\d+))?")
_NIELSEN_WORD = re.compile(rf"\b{_NIELSEN.pattern}\b")
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_SUBSCRIPTS = str.maketrans("0123456789,", "₀₁₂₃₄₅₆₇₈₉,")


def nielsen_parts(name: str) -> tuple[str, int, tuple[int, ...]] | None:
    """A name in Nielsen's notation as (letter, layer, indices); None for any other name.

    Example:
        >>> nielsen_parts("w2_1_2"), nielsen_parts("delta3_1")
        (('w', 2, (1, 2)), ('delta', 3, (1,)))
        >>> nielsen_parts("w1") is None, nielsen_parts("b2_1_1") is None
        (True, True)
    """
    m = _NIELSEN.fullmatch(name)
    if m is None or (m[4] is not None) != (m[1] == "w"):
        return None
    return m[1], int(m[2]), tuple(int(i) for i in m.groups()[2:] if i is not None)


def nielsen_symbol(letter: str, layer: int, *indices: int, latex: bool = False) -> str:
    """Nielsen's symbol as the book sets it: the layer as a superscript, the indices as one
    subscript, run together (``jk``) unless one has two digits (then ``j,k``); ``delta``
    is δ. In Unicode (w²₁₂), or in LaTeX with ``latex`` (``w^{2}_{12}``).

    Example:
        >>> nielsen_symbol("w", 2, 1, 2), nielsen_symbol("delta", 3, 1, latex=True)
        ('w²₁₂', '\\\\delta^{3}_{1}')
        >>> nielsen_symbol("w", 12, 10, 3)
        'w¹²₁₀,₃'
    """
    sub = ("," if any(i > 9 for i in indices) else "").join(map(str, indices))
    if latex:
        base = "\\delta" if letter == "delta" else letter
        return f"{base}^{{{layer}}}_{{{sub}}}"
    base = "δ" if letter == "delta" else letter
    return base + str(layer).translate(_SUPERSCRIPTS) + sub.translate(_SUBSCRIPTS)


def pretty_name(name: str) -> str:
    """A name as a diagram shows it: Nielsen's ``w2_1_2`` as w²₁₂, ``delta2_1`` as δ²₁ —
    inside a node's text too (``w2_1_1*x1 + b2_1`` as w²₁₁*x1 + b²₁); every other name
    (Mazur's ``w5``, ``net_h1``) as it is.

    Example:
        >>> pretty_name("w2_1_2"), pretty_name("b3_1"), pretty_name("net_h1")
        ('w²₁₂', 'b³₁', 'net_h1')
        >>> pretty_name("tanh(w2_1_1*x1 + b2_1)")
        'tanh(w²₁₁*x1 + b²₁)'
    """

    def symbol(m: re.Match[str]) -> str:
        parts = nielsen_parts(m[0])
        return m[0] if parts is None else nielsen_symbol(parts[0], parts[1], *parts[2])

    return _NIELSEN_WORD.sub(symbol, name)


def latex_name(name: str) -> str:
    """A display name in LaTeX: ``out_h1`` → ``\\mathrm{out}_{h1}``, ``w1`` → ``w_{1}``,
    Nielsen's ``w2_1_2`` → ``w^{2}_{12}``, ``w*x + b`` → ``w \\cdot x + b``; a name that is
    not an expression is set as text.

    Example:
        >>> latex_name("E_total"), latex_name("w1"), latex_name("sigmoid(w*x + b)")
        ('E_{\\\\mathrm{total}}', 'w_{1}', '\\\\sigma\\\\left(w \\\\cdot x + b\\\\right)')
        >>> latex_name("w2_1_2"), latex_name("delta3_1")
        ('w^{2}_{12}', '\\\\delta^{3}_{1}')
    """
    nielsen = nielsen_parts(name)
    if nielsen is not None:
        return nielsen_symbol(nielsen[0], nielsen[1], *nielsen[2], latex=True)
    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", name) or re.fullmatch(r"([A-Za-z]+)_(\w+)", name)
    if m:
        return f"{_latex_word(m.group(1))}_{{{_latex_word(m.group(2))}}}"
    if re.fullmatch(r"[A-Za-z]+", name):
        return _latex_word(name)
    try:  # a plain name that fits neither pattern (w_a_b) is text: parsing it again loops
        if name.isidentifier():
            raise ValueError("a name, not an expression")
        tree = ast.parse(name, mode="eval").body
        return _latex_tree(tree)[0]
    except (SyntaxError, ValueError, KeyError):
        return "\\text{" + name.replace("\\", "\\\\").replace("_", "\\_") + "}"


def latex_wrapped(name: str) -> str:
    """A name after ∂ in LaTeX, in parentheses when it is compound (as :func:`wrap`)."""
    tex = latex_name(name)
    return f"\\left({tex}\\right)" if wrap(name) != name else tex


def _latex_word(word: str) -> str:
    if len(word) == 1 or word.isdigit() or re.fullmatch(r"[a-z]\d+", word):
        return word
    return f"\\mathrm{{{word}}}"


def _latex_tree(node: Any) -> tuple[str, int]:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return latex_number(graph.format_number(float(node.value))), 9
    if isinstance(node, ast.Name):
        return latex_name(node.id), 9
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        text, prec = _latex_tree(node.operand)
        return "-" + (f"\\left({text}\\right)" if prec <= 3 else text), 3
    if isinstance(node, ast.BinOp) and type(node.op) in _LATEX_BINARY:
        symbol, prec = _LATEX_BINARY[type(node.op)]
        (a, pa), (b, pb) = _latex_tree(node.left), _latex_tree(node.right)
        if symbol == "/":
            return f"\\frac{{{a}}}{{{b}}}", 9
        if symbol == "^":
            a = f"\\left({a}\\right)" if pa <= prec else a
            return f"{a}^{{{b}}}", prec
        a = f"\\left({a}\\right)" if pa < prec else a
        b = f"\\left({b}\\right)" if pb <= prec else b
        return f"{a} {symbol} {b}", prec
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = ", ".join(_latex_tree(a)[0] for a in node.args)
        return f"{_latex_function(node.func.id)}\\left({args}\\right)", 9
    raise ValueError("not an expression")


_LATEX_BINARY: dict[type, tuple[str, int]] = {
    ast.Add: ("+", 1), ast.Sub: ("-", 1), ast.Mult: ("\\cdot", 2), ast.Div: ("/", 2),
    ast.Pow: ("^", 4),
}  # fmt: skip


def _latex_function(name: str) -> str:
    return _LATEX_FUNCTIONS.get(name) or f"\\operatorname{{{name.replace('_', chr(92) + '_')}}}"


def latex_number(s: str) -> str:
    """A number as LaTeX: ``1e-05`` → ``1 \\times 10^{-5}``.

    Example:
        >>> latex_number("2.5e-07")
        '2.5 \\\\times 10^{-7}'
    """
    if "e" in s and "inf" not in s and "nan" not in s:
        mantissa, exponent = s.split("e")
        return f"{mantissa} \\times 10^{{{int(exponent)}}}"
    return s
