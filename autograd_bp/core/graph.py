"""Reading a Value graph: display names, reachability, operands by slot, infix text.

Everything that shows a graph to a person — the chain-rule trace, the diagrams, the SymPy
bridge — reads it through these functions, so a node has the same name everywhere:

* a labelled node is its label (``parse`` labels every node with its source text, ``MLP``
  labels its parameters with Nielsen's names, ``w2_1_1`` for w²₁₁ and ``b2_1``);
* an unlabelled leaf is its number;
* an unlabelled computed node is its own infix text (``w*x + b``) when that is short and the
  node is used once; otherwise a temporary name ``t1``, ``t2``, … numbered in the order the
  forward pass computes them — the same names :func:`infix` binds after ``where``.

Dicts are keyed by the Value itself (Values hash by identity).

Example:
    >>> from autograd_bp import Value
    >>> x, y = Value(2.0, label="x"), Value(3.0, label="y")
    >>> s = x * y
    >>> infix((s + 1).tanh() * s)
    'tanh(t1 + 1)*t1 where t1 = x*y'
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .rules import RULES
from .walk import backward_order

if TYPE_CHECKING:
    from .engine import Value

__all__ = ["MAX_INLINE", "PLACEHOLDERS", "Naming", "edges", "evaluate_formula", "format_number",
           "formula_tree", "infix", "names", "product_terms", "reaching",
           "substitute", "uses"]  # fmt: skip

MAX_INLINE = 32  # an unlabelled node whose own text is longer gets a temporary name
_ATOM = 9  # precedence of a name or a call: never needs parentheses
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]]*\Z")


def format_number(x: float) -> str:
    """A number as the expression language writes it: ``2`` for 2.0, else the shortest repr.

    Example:
        >>> format_number(2.0), format_number(0.1), format_number(-0.0), format_number(1e300)
        ('2', '0.1', '-0', '1e+300')
    """
    if math.isfinite(x) and x == int(x) and abs(x) < 1e16:
        return ("-" if math.copysign(1.0, x) < 0 and x == 0 else "") + str(int(x))
    return repr(float(x))


def edges(node: Value) -> list[tuple[int, Value, Any]]:
    """``(slot, parent, local derivative)`` for each parent edge of ``node``: the slot tells
    the two operands of ``x*x`` apart.

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(3.0, label="x")
        >>> [(slot, p.label, d) for slot, p, d in edges(x * x)]
        [(0, 'x', 3.0), (1, 'x', 3.0)]
    """
    if node.is_leaf:
        return []
    slots = [i for i, a in enumerate(node.operands) if type(a) is not float]
    return list(zip(slots, node.parents, node.local_grads))


def reaching(order: list[Value], wrt: Value) -> set[Value]:
    """The nodes of ``order`` (a :func:`backward_order`) from which ``wrt`` can be reached,
    ``wrt`` included when it is in the graph. One pass: linear in the graph size.

    Example:
        >>> from autograd_bp import Value
        >>> x, y = Value(1.0, label="x"), Value(2.0, label="y")
        >>> z = x * 2 + y
        >>> sorted(n.label or n.op for n in reaching(backward_order(z), x))
        ['add', 'mul', 'x']
    """
    reach: set[Value] = set()
    for node in reversed(order):  # parents come before their consumers in this direction
        if node is wrt or any(p in reach for p in node.parents):
            reach.add(node)
    return reach


def uses(order: list[Value]) -> dict[Value, int]:
    """How many operand slots use each node (``x*x`` uses x twice)."""
    count: dict[Value, int] = {}
    for node in order:
        for p in node.parents:
            count[p] = count.get(p, 0) + 1
    return count


def _variadic(rule: Any) -> bool:
    return bool(getattr(rule, "variadic", False))


class Naming:
    """Every node's display name (``name``), its inline text (``text``: string and
    precedence) and the nodes :func:`infix` defines after ``where`` (``bound``), computed
    once, parents first — linear in the graph size.

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(1.0, label="x"); s = x * 2
        >>> n = Naming(s + s)
        >>> [(n.name[b], n.text[b][0]) for b in n.bound]
        [('t1', 'x*2')]
    """

    def __init__(self, root: Value, order: list[Value] | None = None) -> None:
        self.order = backward_order(root) if order is None else order
        self.root = root
        self.uses = uses(self.order)
        taken = {n.label for n in self.order if n.label}
        self.text: dict[Value, tuple[str, int]] = {}  # inline text and its precedence
        self.name: dict[Value, str] = {}
        self.bound: list[Value] = []  # nodes infix defines after "where", in forward order
        self.bound_set: set[Value] = set()
        counter = 0
        for node in reversed(self.order):
            self.text[node] = self._inline(node)
            if node.is_leaf:
                self.name[node] = node.label or format_number(node.data)
            elif node.label:
                self.name[node] = node.label
                if node is not root and _IDENTIFIER.match(node.label):
                    self._bind(node)
            elif len(self.text[node][0]) > MAX_INLINE or (
                node is not root and self.uses.get(node, 0) > 1
            ):
                if node is root and "f" not in taken:  # a long unlabelled output
                    self.name[node] = "f"
                    continue
                counter += 1
                while f"t{counter}" in taken:
                    counter += 1
                self.name[node] = f"t{counter}"
                if node is not root:
                    self._bind(node)
            else:
                self.name[node] = self.text[node][0]

    def ref(self, x: Any) -> tuple[str, int]:
        """How an operand appears inside its consumer's text."""
        if isinstance(x, (int, float)):  # a folded number constant
            s = format_number(float(x))
            return s, (3 if s.startswith("-") else _ATOM)
        if x.is_leaf:
            s = self.name[x]
            return s, (3 if s.startswith("-") and not x.label else _ATOM)
        if x in self.bound_set:
            return self.name[x], _ATOM
        return self.text[x]

    def _bind(self, node: Value) -> None:
        self.bound.append(node)
        self.bound_set.add(node)

    def _inline(self, node: Value) -> tuple[str, int]:
        rule = node.rule
        if rule is None and not node.is_leaf:  # made by hand, micrograd- or microgpt-style
            parents = ", ".join(self.ref(p)[0] for p in node.parents)
            return f"{node.op or 'node'}({parents})", _ATOM
        if rule is None:
            return self.name.get(node) or node.label or format_number(node.data), _ATOM
        ops = node.operands
        if _variadic(rule):
            return self._variadic(rule, ops)
        if rule.arity == 2 and rule.function is None:
            return _binary(rule.symbol, rule.precedence, self.ref(ops[0]), self.ref(ops[1]))
        if rule.arity == 1 and rule.function is None and not rule.symbol.isidentifier():
            text, prec = self.ref(ops[0])
            if prec <= rule.precedence:
                text = f"({text})"
            return f"{rule.symbol}{text}", rule.precedence
        args = [self.ref(a)[0] for a in ops]
        p = node.param
        if p is not None:
            args.append(format_number(float(p)))
        return f"{rule.function or rule.name}({', '.join(args)})", _ATOM

    def _variadic(self, rule: Any, ops: tuple[Any, ...]) -> tuple[str, int]:
        add = RULES["add"]
        if rule.name == "dot":  # Σ w_i·x_i, a bias's "·1" left out
            mul = RULES["mul"]
            terms = []
            for w, x in zip(ops[0::2], ops[1::2]):
                if type(x) is float and x == 1.0:
                    terms.append(self.ref(w))
                elif type(w) is float and w == 1.0:
                    terms.append(self.ref(x))
                else:
                    terms.append(_binary(mul.symbol, mul.precedence, self.ref(w), self.ref(x)))
        elif rule.name == "sum":
            terms = [self.ref(a) for a in ops]
        else:
            args = ", ".join(self.ref(a)[0] for a in ops)
            return f"{rule.function or rule.name}({args})", _ATOM
        if not terms:
            return "0", _ATOM
        text, prec = terms[0]
        for term in terms[1:]:
            text, prec = _binary(add.symbol, add.precedence, (text, prec), term)
        return text, prec


def _binary(
    symbol: str, prec: int, left: tuple[str, int], right: tuple[str, int]
) -> tuple[str, int]:
    """``left symbol right`` with the fewest parentheses that keep the tree (** is
    right-associative, the others left-associative)."""
    right_assoc = symbol == "**"
    a, pa = left
    b, pb = right
    if pa < prec or (right_assoc and pa == prec):
        a = f"({a})"
    if pb < prec or (not right_assoc and pb == prec):
        b = f"({b})"
    sep = f" {symbol} " if prec <= 1 else symbol
    return f"{a}{sep}{b}", prec


def names(root: Value, order: list[Value] | None = None) -> dict[Value, str]:
    """A display name for every node below ``root`` (see the module docs). Pass ``order``
    when the caller already has ``backward_order(root)``.

    Example:
        >>> from autograd_bp import Value
        >>> w, x = Value(0.4, label="w"), Value(0.5, label="x")
        >>> y = (w * x + 0.1).sigmoid()
        >>> sorted(names(y).values())
        ['sigmoid(w*x + 0.1)', 'w', 'w*x', 'w*x + 0.1', 'x']
    """
    return Naming(root, order).name


def infix(value: Value) -> str:
    """The graph below ``value`` as one line of infix text, with the fewest parentheses.

    A computed node used more than once (or whose text is long) is written once, after
    ``where``, under its temporary name (``t1``) or its label when that is a plain name
    (``net_h1``); everything else is inlined. The text of a graph built by ``parse`` (and
    without shared nodes) parses back to the same graph.

    Example:
        >>> from autograd_bp import Value
        >>> a, b = Value(1.0, label="a"), Value(2.0, label="b")
        >>> infix((a - b) * -(a + b) ** 2)
        '(a - b)*-(a + b)**2'
        >>> h = (a * b).tanh(); h.label = "h"
        >>> infix(h * h + h)
        'h*h + h where h = tanh(a*b)'
    """
    namer = Naming(value, None)
    text = namer.text[value][0] if not value.is_leaf else namer.name[value]
    if not namer.bound:
        return text
    defs = ", ".join(f"{namer.name[n]} = {namer.text[n][0]}" for n in namer.bound)
    return f"{text} where {defs}"


# --- the op table's formulas -------------------------------------------------------------
# Rule.formula / Rule.definition are written in the expression language over placeholders
# ({x} {y} operands, {out} the result, {p} the parameter, {pair} a dot partner). One walker
# evaluates them on floats (the chain-rule trace) and on SymPy objects (the symbolic bridge).

PLACEHOLDERS = ("x", "y", "out", "p", "pair")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


def substitute(template: str, values: dict[str, str]) -> str:
    """Put ``values`` in for the placeholders ``{x}``, ``{y}``, ``{out}``, ``{p}``, ``{pair}``
    (other braces, e.g. LaTeX's, are left alone).

    Example:
        >>> substitute("\\\\frac{1}{{x}}", {"x": "a"})
        '\\\\frac{1}{a}'
    """
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


@functools.lru_cache(maxsize=512)
def formula_tree(formula: str) -> ast.expr:
    """A formula of the op table parsed once (placeholders become plain names)."""
    return ast.parse(substitute(formula, {k: k for k in PLACEHOLDERS}).strip(), mode="eval").body


def evaluate_formula(
    formula: str, env: dict[str, Any], call: Callable[[str, list[Any]], Any]
) -> Any:
    """Evaluate an op-table formula with ``env`` for the placeholders and ``call(name, args)``
    for functions; arithmetic is Python's, so floats and SymPy objects both work.

    Example:
        >>> import math
        >>> evaluate_formula("{y}*{x}**({y} - 1)", {"x": 3.0, "y": 2.0}, None)
        6.0
    """

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.UnaryOp):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            return _ARITHMETIC[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return call(node.func.id, [walk(a) for a in node.args])
        raise ValueError(f"formula {formula!r}: cannot evaluate {ast.unparse(node)!r}")

    return walk(formula_tree(formula))


@functools.lru_cache(maxsize=512)
def product_terms(formula: str) -> tuple[str, ...]:
    """The top-level factors of a formula (``a*b*c`` → three), each as formula text.

    Example:
        >>> product_terms("sigmoid({x})*(1 - sigmoid({x}))")
        ('sigmoid(x)', '1 - sigmoid(x)')
    """
    out: list[ast.expr] = []
    stack = [formula_tree(formula)]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            stack += [node.right, node.left]
        else:
            out.append(node)
    return tuple(ast.unparse(n) for n in out)


_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
