"""How a rule of the op table becomes ``Value`` methods: the source text of each method.

A rule's code (rules.py: Python expressions over the operands ``a`` and ``b``, the result
``out`` and the parameter ``p``) is put into the templates below, giving methods that run
the forward and local derivatives inline, as micrograd's methods do, instead of calling two
functions per op (40 % of an op, measured). The table's own rules are rendered once into
:mod:`autograd_bp.core.node` as source (``python -m autograd_bp.core.methods`` rewrites it,
and a test checks it equals the rendering), so that mypyc compiles them with the node; a rule
``register`` adds at run time gets the same text, executed by :mod:`autograd_bp.core.engine`.

Beside a number operand only the other operand's derivative is computed (``x ** 0.5`` takes
no log), and the number is folded in, never wrapped as a node (half the nodes of micrograd's
``x * 2 + 1``): ``_db`` keeps it.

Example:
    >>> print(method_source(RULES["exp"]).splitlines()[0])
    def exp(self) -> Any:
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .node import source_digest
from .rules import RULES, Rule

__all__ = ["BINARY_TEMPLATE", "UNARY_TEMPLATE", "method_source", "node_methods_source"]

BINARY_TEMPLATE = '''\
def __{method}__(self, other: Any) -> Any:
    """self {symbol} other (the op table's {name!r} rule)."""
    a = self.data
    if isinstance(other, Node):
        b = other.data
        out = {forward}
        if not recording():
            return new_leaf(out)
        {return_both}
    # _db keeps the number as given if a float: compiled, b is a C double, and storing it
    # would make a second float object
    number: Any = other
    if type(other) is float:
        b = other
    else:
        b = number = to_float(other, {where!r})
    out = {forward}
    if not recording():
        return new_leaf(out)
    {return_a}

def __r{method}__(self, other: Any) -> Any:
    """other {symbol} self (the op table's {name!r} rule): other, a number, comes first."""
    number: Any = other
    if type(other) is float:
        a = other
    else:
        a = number = to_float(other, {where!r})
    b = self.data
    out = {forward}
    if not recording():
        return new_leaf(out)
    # _db: the operands, in order
    {return_b}
'''

UNARY_TEMPLATE = '''\
def {method}(self{param}) -> Any:
    """{doc}"""
    a = self.data{p_line}
    out: float = {forward}
    if not recording():
        return new_leaf(out)
    # _db: the parameter, if any
    {return_local}
'''


# A local derivative written as arithmetic on the operands, the result and number literals is
# a float by construction: the node keeps it as a number of its own (_ga/_gb: compiled, a C
# double), not a float object made, and later freed, for every node (a microgpt-style step
# 1.1x faster, compiled). Anything else (a call: recip, where_positive, ...) may give BLOCKED
# or a float subclass, and is kept as the object it is (_da/_db).
PLAIN = re.compile(r"(?:\s+|\b(?:a|b|out)\b|\d+(?:\.\d*)?|[-+*()])+")


def plain(*codes: str) -> bool:
    """Whether every one of ``codes`` is arithmetic that gives a float (:data:`PLAIN`).

    Example:
        >>> plain("1.0 - out * out"), plain("recip(b)")
        (True, False)
    """
    return all(PLAIN.fullmatch(code) is not None for code in codes)


def _one_parent(name: str, local: str, record: str) -> str:
    """The line that makes a node with one parent (the other operand a number, or none):
    its local derivative a number of its own if plain, else the object it is; ``_db`` keeps
    ``record`` (the number, the operands in order, or the parameter). A local that is the
    number operand itself (``x * 2``'s) is kept as the object given: no second float."""
    if plain(local):
        return f"return new_node_f(out, {name!r}, self, None, {local}, 0.0, {record})"
    as_object = record if local == "b" else local
    return f"return new_node(out, {name!r}, self, {as_object}, None, {record})"


def _code_of(rule: Rule) -> tuple[str, tuple[str, ...]]:
    """The rule's code; for a rule given as functions, code that calls them (once per op).
    Without a parameter, ``p`` in the code is None."""
    if rule.code is not None:
        forward, locals_ = rule.code
        if rule.param is None:
            return _no_p(forward), tuple(_no_p(d) for d in locals_)
        return forward, locals_
    p = "p" if rule.param is not None else "None"
    if rule.arity == 2:
        return (f"forward(a, b, {p})",
                (f"local(a, b, out, {p})[0]", f"local(a, b, out, {p})[1]"))  # fmt: skip
    return f"forward(a, {p})", (f"local(a, out, {p})[0]",)


def _no_p(code: str) -> str:
    return re.sub(r"\bp\b", "None", code)


def method_source(rule: Rule) -> str:
    """The source of the ``Value`` method(s) of a one- or two-operand rule.

    Example:
        >>> for line in method_source(RULES["neg"]).splitlines()[2:4]:
        ...     print(line)
            a = self.data
            out: float = -a
    """
    forward, locals_ = _code_of(rule)
    if rule.arity == 2:
        local_a, local_b = locals_
        if rule.code is not None and plain(*locals_):
            return_both = (f"return new_node_f(out, {rule.name!r}, self, other, "
                           f"{local_a}, {local_b}, None)")  # fmt: skip
        else:
            both = f"{local_a}, {local_b}" if rule.code is not None else "local(a, b, out, None)"
            return_both = (f"da, db = {both}\n        "
                           f"return new_node(out, {rule.name!r}, self, da, other, db)")  # fmt: skip
        return BINARY_TEMPLATE.format(
            method=rule.method, name=rule.name, symbol=rule.symbol, forward=forward,
            where=f"{rule.name}: number operand", return_both=return_both,
            return_a=_one_parent(rule.name, local_a, "number"),
            return_b=_one_parent(rule.name, local_b, "(number, self)"))  # fmt: skip
    has_param = rule.param is not None
    doc = f"The op table's {rule.name!r} rule."
    if rule.text:
        derivative = rule.derivative(0, "text", x="self", out="out", p=rule.param or "")
        doc = f"The op table's {rule.name!r} rule; ∂/∂self = {derivative}."
    return UNARY_TEMPLATE.format(
        method=rule.method or rule.name, name=rule.name, doc=doc, forward=forward,
        return_local=_one_parent(rule.name, locals_[0], "p" if has_param else "None"),
        param=f", param: Any = {rule.default!r}" if has_param else "",
        p_line=f"\n    p: Any = to_float(param, {rule.name + ' ' + str(rule.param)!r})" if has_param
        else "")  # fmt: skip


BEGIN = "    # -- BEGIN the op table's methods (python -m autograd_bp.core.methods) --\n"
END = "    # -- END the op table's methods --\n"


def node_methods_source() -> str:
    """The methods of every one- and two-operand rule of the table, indented as in a class
    body: what :mod:`autograd_bp.core.node` holds between its BEGIN and END lines.

    Example:
        >>> "def __mul__(self, other: Any) -> Any:" in node_methods_source()
        True
    """
    blocks = []
    for rule in RULES.values():
        if rule.variadic:
            continue
        text = method_source(rule)
        blocks.append("".join("    " + line if line.strip() else line
                              for line in text.splitlines(True)))  # fmt: skip
    return "\n".join(blocks)


def render(path: Path) -> bool:
    """Rewrite the rendered part of ``path`` (node.py) and its SOURCE_DIGEST line; True if
    it changed."""
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    new = head + BEGIN + node_methods_source() + END + tail
    new = re.sub(r'(?m)^SOURCE_DIGEST: Final = "[0-9a-f]*"$',
                 f'SOURCE_DIGEST: Final = "{source_digest(new)}"', new)  # fmt: skip
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":  # pragma: no cover - the developer's command
    changed = render(Path(__file__).with_name("node.py"))
    sys.stdout.write("node.py rewritten\n" if changed else "node.py unchanged\n")
