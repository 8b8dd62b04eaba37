"""A small, safe expression language that builds a :class:`Value` graph.

``parse("sigmoid(w1*x1 + w2*x2 + b)", w1=0.15, x1=0.05, w2=0.2, x2=0.1, b=0.35)`` returns
the output Value, with one labelled leaf per variable (a variable used twice is one leaf).

The text is parsed with Python's :mod:`ast` and walked against an explicit whitelist:
numbers, names, ``+ - * / **``, unary ``-``/``+``, parentheses and calls of the engine's
functions. Nothing is ever evaluated by Python (no ``eval``/``exec``, no code objects);
anything else is an :class:`ExpressionError` quoting the offending piece and its column.

Example:
    >>> y = parse("x*x + sin(x)", x=0.5)
    >>> y.backward()
    >>> variables("x*x + sin(x)")
    ['x']
"""

from __future__ import annotations

import ast
import math
import warnings
from collections.abc import Callable
from typing import Any

from .engine import Value
from .engine import to_float as _as_float
from .ops import RULES

__all__ = ["CONSTANTS", "FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "ExpressionError", "parse",
           "variables"]  # fmt: skip

MAX_LENGTH = 10_000
MAX_DEPTH = 100

FUNCTIONS: dict[str, Callable[..., Value]] = {
    "exp": Value.exp,
    "log": Value.log,
    "sqrt": Value.sqrt,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "relu": Value.relu,
    "leaky_relu": Value.leaky_relu,
    "softplus": Value.softplus,
    "sin": Value.sin,
    "cos": Value.cos,
    "abs": Value.abs,
}
# how many arguments each function takes (leaky_relu's slope is optional)
_ARITY = {name: (1, 1) for name in FUNCTIONS} | {"leaky_relu": (1, 2)}
CONSTANTS = {"pi": math.pi, "e": math.e}

_BINARY: dict[type, str] = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"
}  # fmt: skip


class ExpressionError(ValueError):
    """The text is not a valid expression, or its variables do not fit the values given."""


def _where(text: str, node: ast.AST) -> str:
    piece = ast.get_source_segment(text, node) or type(node).__name__
    if len(piece) > 40:
        piece = piece[:37] + "..."
    return f"{piece!r} at column {getattr(node, 'col_offset', 0) + 1}"


def _syntax_tree(text: str) -> ast.Expression:
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("expression is empty")
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
        col = f" at column {e.offset}" if e.offset else ""
        raise ExpressionError(f"syntax error{col}: {e.msg}") from None
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
    """Reject every node type outside the whitelist, with a quote of the piece."""
    if isinstance(node, ast.Expression):
        return
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return
        raise ExpressionError(f"only numbers are allowed as literals, not {_where(text, node)}")
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        if node.id.startswith("__"):
            raise ExpressionError(f"names starting with '__' are not allowed: {_where(text, node)}")
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise ExpressionError(f"only plain function names can be called: {_where(text, node)}")
        if node.keywords:
            raise ExpressionError(f"keyword arguments are not allowed: {_where(text, node)}")
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise ExpressionError(f"*arguments are not allowed: {_where(text, node)}")
        name = node.func.id
        if name not in FUNCTIONS:
            known = ", ".join(FUNCTIONS)
            raise ExpressionError(f"unknown function {name!r} at column {node.col_offset + 1}; "
                                  f"known: {known}")  # fmt: skip
        low, high = _ARITY[name]
        if not low <= len(node.args) <= high:
            want = str(low) if low == high else f"{low} or {high}"
            raise ExpressionError(
                f"{name}() takes {want} argument(s), got {len(node.args)}: {_where(text, node)}"
            )
        return
    if isinstance(node, (ast.Load, ast.operator, ast.unaryop)):
        return
    raise ExpressionError(f"{type(node).__name__} is not allowed: {_where(text, node)}")


def _validated(text: str) -> tuple[ast.Expression, list[str]]:
    tree = _syntax_tree(text)
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
    return sorted(nodes, key=lambda n: (n.lineno, n.col_offset))


def variables(text: str) -> list[str]:
    """The variable names of an expression, in order of first appearance.

    Example:
        >>> variables("sigmoid(w1*x1 + w2*x2 + b) * pi")
        ['w1', 'x1', 'w2', 'x2', 'b']
    """
    return _validated(text)[1]


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
        autograd_bp.ops.DomainError: log: operand must be positive, got -1.0 (in 'log(x)' ...)
    """
    tree, names = _validated(text)
    missing = [n for n in names if n not in values]
    if missing:
        raise ExpressionError(f"no value given for variable(s): {', '.join(missing)}")
    unused = [n for n in values if n not in names]
    if unused:
        raise ExpressionError(f"value given for name(s) the expression does not use: "
                              f"{', '.join(unused)}")  # fmt: skip
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
    if not isinstance(result, Value):  # a constant expression: a leaf of its own
        result = Value(result)
    return result


def _evaluate(text: str, node: ast.AST, leaves: dict[str, Value]) -> Value | float:
    # recursion is safe: _check_depth bounded the tree at MAX_DEPTH levels
    try:
        if isinstance(node, ast.Constant):
            return _as_float(node.value, "literal")
        if isinstance(node, ast.Name):
            return CONSTANTS[node.id] if node.id in CONSTANTS else leaves[node.id]
        if isinstance(node, ast.UnaryOp):
            operand = _evaluate(text, node.operand, leaves)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            a = _evaluate(text, node.left, leaves)
            b = _evaluate(text, node.right, leaves)
            if isinstance(a, Value) or isinstance(b, Value):
                return _PY_OPS[type(node.op)](a, b)
            return RULES[_BINARY[type(node.op)]].forward(a, b, None)  # two numbers: fold
        if isinstance(node, ast.Call):
            args = [_evaluate(text, a, leaves) for a in node.args]
            x = args[0] if isinstance(args[0], Value) else Value(args[0])
            extra = args[1:]
            if extra and isinstance(extra[0], Value):
                raise ExpressionError(f"the slope of leaky_relu must be a number: "
                                      f"{_where(text, node)}")  # fmt: skip
            return FUNCTIONS[node.func.id](x, *extra)
    except (ArithmeticError, ValueError) as e:
        if isinstance(e, ExpressionError) or "(in '" in str(e):
            raise
        raise type(e)(f"{e} (in {_where(text, node)})") from None
    raise ExpressionError(f"{type(node).__name__} is not allowed: {_where(text, node)}")


_PY_OPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
