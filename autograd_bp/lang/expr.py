"""A small, safe expression language that builds a :class:`Value` graph.

``parse("sigmoid(w1*x1 + w2*x2 + b)", w1=0.15, x1=0.05, w2=0.2, x2=0.1, b=0.35)`` returns
the output Value, with one labelled leaf per variable (a variable used twice is one leaf).

The text is parsed with Python's :mod:`ast` and walked against an explicit whitelist:
numbers, names, parentheses, and the operators and functions of the op table
(:data:`OPERATORS`: ``+ - * / **`` and prefix ``-``; :data:`FUNCTIONS`: ``sigmoid``, ``tanh``,
…), looked up when the text is parsed, so an op added with ``ops.register`` works here at
once. Nothing is ever evaluated by Python (no ``eval``/``exec``, no code objects); anything
else is an :class:`ExpressionError` saying in words what was written, and where.

Every node built carries the source text of its subexpression as its label (``w*x + b``),
so explanations and diagrams read in the user's own terms; variables keep their names, and
the output is ``f`` (:func:`output_name`): ``∂f/∂(w*x + b)``. ``Value.expr()`` prints it back.

Example:
    >>> y = parse("x*x + sin(x)", x=0.5)
    >>> y.backward()
    >>> y.label, [p.label for p in y.parents], y.expr()
    ('f', ['x*x', 'sin(x)'], 'x*x + sin(x)')
    >>> variables("x*x + sin(x)")
    ['x']
"""

from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..core.engine import Value
from ..core.engine import to_float as _as_float
from ..core.ops import RULES, Rule
from ..locale import N_, _, say

__all__ = ["CONSTANTS", "FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "OPERATORS", "ExpressionError",
           "check_values", "output_name", "parse", "variables"]  # fmt: skip

MAX_LENGTH = 10_000
MAX_DEPTH = 100
CONSTANTS = {"pi": math.pi, "e": math.e}


class _Table(Mapping[str, Rule]):
    """A live, read-only view of the op table keyed by how an expression spells an op, so an
    op added with ``ops.register`` is usable at once (nothing is cached at import)."""

    def __init__(self, key: Callable[[Rule], str | None]) -> None:
        self._key = key

    def _current(self) -> dict[str, Rule]:
        out: dict[str, Rule] = {}
        for rule in RULES.values():
            k = self._key(rule)
            if k:
                out.setdefault(k, rule)
        return out

    def __getitem__(self, name: str) -> Rule:
        return self._current()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


def _infix_symbol(rule: Rule) -> str | None:
    if rule.function is None and not rule.variadic and not rule.symbol.isidentifier():
        return rule.symbol
    return None


# Functions by name (``sigmoid``), operators by symbol: binary ``+ - * / **``, prefix ``-``.
FUNCTIONS: Mapping[str, Rule] = _Table(lambda r: None if r.variadic else r.function)
OPERATORS: Mapping[str, Rule] = _Table(lambda r: _infix_symbol(r) if r.arity == 2 else None)
_PREFIX: Mapping[str, Rule] = _Table(lambda r: _infix_symbol(r) if r.arity == 1 else None)

# Python's spelling of each operator: syntax, not ops — what they do comes from the table.
_SYNTAX: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.Mod: "%",
    ast.FloorDiv: "//", ast.MatMult: "@", ast.BitXor: "^", ast.BitOr: "|", ast.BitAnd: "&",
    ast.LShift: "<<", ast.RShift: ">>", ast.USub: "-", ast.UAdd: "+", ast.Invert: "~",
    ast.Not: "not",
}  # fmt: skip
# What a construct outside the language is called, in words.
_CONSTRUCTS: dict[type, str] = {
    ast.Attribute: "attribute access", ast.Subscript: "indexing", ast.Slice: "slicing",
    ast.Compare: "a comparison", ast.BoolOp: "'and'/'or'", ast.Lambda: "a lambda",
    ast.IfExp: "'if ... else'", ast.List: "a list", ast.Tuple: "a tuple", ast.Dict: "a dict",
    ast.Set: "a set", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a generator expression",
    ast.JoinedStr: "an f-string", ast.FormattedValue: "an f-string", ast.NamedExpr: "':='",
    ast.Starred: "'*' unpacking", ast.Await: "'await'", ast.Yield: "'yield'",
    ast.YieldFrom: "'yield'",
}  # fmt: skip


def output_name(text: str) -> str:
    """The name :func:`parse` gives an expression's output — in explanations, diagrams, the
    step page, the derivation checker and the command line alike: ``f``, unless the
    expression has a variable called ``f`` (then ``f_1``, ``f_2``, …).

    Example:
        >>> output_name("sigmoid(w*x + b)"), output_name("f*x")
        ('f', 'f_1')
    """
    return _output_name(variables(text))


def _output_name(taken: list[str]) -> str:
    name, k = "f", 0
    while name in taken:
        k += 1
        name = f"f_{k}"
    return name


class ExpressionError(ValueError):
    """The text is not a valid expression, or its variables do not fit the values given."""


def _where(text: str, node: ast.AST) -> str:
    piece = ast.get_source_segment(text, node) or _("the expression")
    if len(piece) > 40:
        piece = piece[:37] + "..."
    return _("{piece} at column {column}").format(piece=repr(piece),
                                                  column=getattr(node, "col_offset", 0) + 1)


def _syntax_tree(text: str) -> ast.Expression:
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError(_("expression is empty"))
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}"
        )
    depth = 0
    for ch in text:  # bound nesting before Python's own parser sees it
        depth += (ch == "(") - (ch == ")")
        if depth > MAX_DEPTH:
            raise ExpressionError(f"expression nests parentheses deeper than {MAX_DEPTH}")
    try:
        with warnings.catch_warnings():  # e.g. "invalid escape sequence" in a rejected string
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        col = _(" at column {column}").format(column=e.offset) if e.offset else ""
        raise ExpressionError(_("syntax error{where}: {message}").format(
            where=col, message=e.msg)) from None  # fmt: skip
    except (ValueError, RecursionError, MemoryError) as e:
        raise ExpressionError(f"cannot parse expression: {type(e).__name__}: {e}") from None
    _check_depth(tree)
    return tree


def _check_depth(tree: ast.AST) -> None:
    stack = [(tree, 0)]
    while stack:  # iterative, so a deep tree cannot exhaust the C stack here
        node, d = stack.pop()
        if d > MAX_DEPTH:
            raise ExpressionError(f"expression nests deeper than {MAX_DEPTH} levels")
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))


def _check(text: str, node: ast.AST) -> None:
    """Reject every construct outside the language, saying in words what was written."""
    if isinstance(node, (ast.Expression, ast.Load, ast.operator, ast.unaryop)):
        return
    if isinstance(node, ast.BinOp):
        return _check_operator(text, node, OPERATORS, "binary")
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.UAdd):
            return None
        return _check_operator(text, node, _PREFIX, "prefix")
    if isinstance(node, ast.Constant):
        return _check_number(text, node)
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        if node.id.startswith("__"):
            raise ExpressionError(_("names starting with '__' are not allowed: {where}").format(
                where=_where(text, node)))  # fmt: skip
        return None
    if isinstance(node, ast.Call):
        return _check_call(text, node)
    what = _CONSTRUCTS.get(type(node), "this construct")
    raise ExpressionError(_("{what} is not allowed in an expression: {where}").format(
        what=what, where=_where(text, node)))  # fmt: skip


def _check_operator(text: str, node: ast.BinOp | ast.UnaryOp, table: Mapping[str, Rule],
                    kind: str) -> None:  # fmt: skip
    symbol = _SYNTAX.get(type(node.op), "?")
    if symbol in table:
        return
    if symbol == "^":
        raise ExpressionError(_("'^' is not a power here: use ** for powers ({where})").format(
            where=_where(text, node)))  # fmt: skip
    known = " ".join(table) or "none"
    raise ExpressionError(f"the {kind} operator {symbol!r} is not supported: "
                          f"{_where(text, node)}; {kind} operators: {known}")  # fmt: skip


def _check_number(text: str, node: ast.Constant) -> None:
    v = node.value
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        raise ExpressionError(f"only numbers are allowed as literals, not {_where(text, node)}")
    try:
        finite = math.isfinite(float(v))
    except OverflowError:
        finite = False
    if not finite:
        raise ExpressionError(_("the number {where} is too large for a float (it would be inf)"
                                ).format(where=_where(text, node)))  # fmt: skip


def _check_call(text: str, node: ast.Call) -> None:
    if not isinstance(node.func, ast.Name):
        raise ExpressionError(f"only plain function names can be called: {_where(text, node)}")
    if node.keywords:
        raise ExpressionError(f"keyword arguments are not allowed: {_where(text, node)}")
    if any(isinstance(a, ast.Starred) for a in node.args):
        raise ExpressionError(f"*arguments are not allowed: {_where(text, node)}")
    name = node.func.id
    rule = FUNCTIONS.get(name)
    if rule is None:
        raise ExpressionError(_("unknown function {name} at column {column}; known: {known}"
                                ).format(name=repr(name), column=node.col_offset + 1,
                                         known=", ".join(FUNCTIONS)))  # fmt: skip
    low = rule.arity
    high = low + (rule.param is not None)  # a fixed parameter (leaky_relu's slope) is optional
    if not low <= len(node.args) <= high:
        want = str(low) if low == high else _("{low} or {high}").format(low=low, high=high)
        raise ExpressionError(
            _("{name}() takes {want} argument(s), got {count}: {where}").format(
                name=name, want=want, count=len(node.args), where=_where(text, node))
        )


def _validated(text: str) -> tuple[ast.Expression, list[str]]:
    tree = _syntax_tree(text)
    text = text.strip()  # columns count from the first non-blank character
    for node in ast.walk(tree):
        _check(text, node)
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    names: dict[str, None] = {}
    for node in _in_order(tree):
        if isinstance(node, ast.Name) and id(node) not in called and node.id not in CONSTANTS:
            names.setdefault(node.id, None)
    return tree, list(names)


def _in_order(tree: ast.AST) -> list[ast.AST]:
    """Nodes sorted by their position in the text (ast.walk is breadth-first)."""
    nodes = [n for n in ast.walk(tree) if hasattr(n, "col_offset")]
    return sorted(nodes, key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))


def variables(text: str) -> list[str]:
    """The variable names of an expression, in order of first appearance.

    Example:
        >>> variables("sigmoid(w1*x1 + w2*x2 + b) * pi")
        ['w1', 'x1', 'w2', 'x2', 'b']
    """
    return _validated(text)[1]


def check_values(names: list[str], values: Mapping[str, Any], what: str) -> None:
    """Refuse a missing value, or one given for a name ``what`` (an expression, a program)
    does not use, naming them.

    Example:
        >>> check_values(["x"], {"x": 1.0, "y": 2.0}, "expression")
        Traceback (most recent call last):
        ...
        autograd_bp.lang.expr.ExpressionError: value given for name(s) the expression does not ...
    """
    missing = [n for n in names if n not in values]
    if missing:
        raise ExpressionError(_("no value given for variable(s): {names}").format(
            names=", ".join(missing)))  # fmt: skip
    unused = [n for n in values if n not in names]
    if unused:
        raise ExpressionError(_("value given for name(s) the {what} does not use: {names}"
                                ).format(what=_(what), names=", ".join(unused)))  # fmt: skip


def parse(text: str, **values: Any) -> Value:
    """Build the expression as a Value graph, one labelled leaf per variable.

    A value may also be an existing :class:`Value`, which is then used as it is, so an
    expression can extend a graph built elsewhere.

    Raises :class:`ExpressionError` for anything malformed or a mismatch between the
    variables and ``values``; the engine's domain errors (``DomainError``,
    ``ZeroDivisionError``, ``OverflowError``) pass through with the piece that raised them.

    Example:
        >>> parse("log(x)", x=-1.0)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        autograd_bp.core.ops.DomainError: log: operand must be positive, got -1.0 (in 'log(x)' ...)
    """
    text = text.strip() if isinstance(text, str) else text
    tree, names = _validated(text)
    check_values(names, values, N_("expression"))
    leaves = {}
    for name in names:
        if isinstance(values[name], Value):  # an existing node: the expression builds on it
            leaves[name] = values[name]
            continue
        try:
            leaves[name] = Value(_as_float(values[name], name), label=name)
        except TypeError:
            raise ExpressionError(
                f"value of {name!r} must be a number, got {values[name]!r}"
            ) from None
    result = _evaluate(text, tree.body, leaves)
    if not isinstance(result, Value):  # a constant expression: a leaf of its own (a number)
        return Value(result)
    if not result.is_leaf and all(result is not v for v in leaves.values()):
        result.label = _output_name(names)  # the output: one name everywhere
    return result


def _source(text: str, node: ast.AST) -> str:
    """The text of a subexpression as typed, runs of whitespace made one space. One ASCII
    line is sliced directly: ``ast.get_source_segment`` splits the whole text into lines on
    every call, which made a 10,000-character expression take 18 s to parse."""
    if text.isascii() and "\n" not in text and "\r" not in text:
        start, end = getattr(node, "col_offset", None), getattr(node, "end_col_offset", None)
        if start is not None and end is not None:
            return " ".join(text[start:end].split())
    return " ".join((ast.get_source_segment(text, node) or "").split())


def _evaluate(text: str, node: ast.AST, leaves: dict[str, Value]) -> Value | float:
    # recursion is safe: _check_depth bounded the tree at MAX_DEPTH levels
    try:
        result = _evaluate_node(text, node, leaves)
    except (ArithmeticError, ValueError) as e:
        if isinstance(e, ExpressionError) or getattr(e, "located", False):
            raise  # the innermost piece that raised is the one to name
        located = type(e)(_("{message} (in {where})").format(message=say(e),
                                                             where=_where(text, node)))
        located.located = True  # type: ignore[union-attr]
        raise located from None
    if isinstance(node, (ast.BinOp, ast.UnaryOp, ast.Call)) and isinstance(result, Value):
        if not result.label and all(result is not v for v in leaves.values()):
            result.label = _source(text, node)  # explanations then say ∂f/∂(w*x + b)
    return result


def _evaluate_node(text: str, node: ast.AST, leaves: dict[str, Value]) -> Value | float:
    if isinstance(node, ast.Constant):
        return _as_float(node.value, "literal")
    if isinstance(node, ast.Name):
        return CONSTANTS[node.id] if node.id in CONSTANTS else leaves[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _evaluate(text, node.operand, leaves)
        if isinstance(node.op, ast.UAdd):
            return operand
        rule = _PREFIX[_SYNTAX[type(node.op)]]
        if not isinstance(operand, Value):
            return rule.forward(operand, None)  # a number: fold
        return getattr(operand, rule.method or rule.name)()  # e.g. __neg__
    if isinstance(node, ast.BinOp):
        rule = OPERATORS[_SYNTAX[type(node.op)]]
        a = _evaluate(text, node.left, leaves)
        b = _evaluate(text, node.right, leaves)
        if isinstance(a, Value):
            return getattr(a, f"__{rule.method}__")(b)
        if isinstance(b, Value):
            return getattr(b, f"__r{rule.method}__")(a)
        return rule.forward(a, b, None)  # two numbers: fold
    if isinstance(node, ast.Call):
        rule = FUNCTIONS[node.func.id]  # type: ignore[attr-defined]
        args = [_evaluate(text, a, leaves) for a in node.args]
        x = args[0] if isinstance(args[0], Value) else Value(args[0])
        extra = args[rule.arity :]
        if extra and isinstance(extra[0], Value):
            raise ExpressionError(f"the {rule.param} of {node.func.id} must be a number: "  # type: ignore[attr-defined]
                                  f"{_where(text, node)}")  # fmt: skip
        return getattr(x, rule.method or rule.name)(*args[1 : rule.arity], *extra)
    raise ExpressionError(f"this construct is not allowed: {_where(text, node)}")
