"""Tracing: a Python function on :class:`Value` leaves becomes a flat program, or is refused.

:func:`trace_checked` runs the function on the example (and on several perturbed copies of
it) to record its graph, and :class:`Flat` turns that graph into numbers — node ids and
:class:`Instruction` s in topological order, parameters laid out so that each layer's weights
are one contiguous row-major block. Nothing here computes on a batch: this module answers
"what program does this function run, and is it the same program for every example?" —
when it is not (a branch or a number read from ``.data``), :class:`TraceError` says why.

The next steps live beside it: :mod:`~autograd_bp.compiled.groups` (instructions run as
block operations), :mod:`~autograd_bp.compiled.schedule` (the :class:`Tape`: rows, groups
and batch blocks) and :mod:`~autograd_bp.compiled.function` (``compile``).

Example:
    >>> from autograd_bp import Value
    >>> w = Value(0.5)
    >>> flat, outputs, inputs = trace_checked(lambda x: (w * x).tanh(), [1.0], None)
    >>> [i.rule.name for i in flat.instructions], flat.n_params, flat.n_inputs
    (['mul', 'tanh'], 1, 1)
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core import RULES, Rule, Value

__all__ = ["Flat", "Instruction", "TraceError", "example_row", "float_key", "forward_order",
           "id_orientation", "is_layer", "shared_operands", "symmetric",
           "trace_checked"]  # fmt: skip


class TraceError(ValueError):
    """The function cannot be compiled (e.g. its graph depends on the data).

    Example:
        >>> try:
        ...     trace_checked(lambda x: x * 2 if x.data > 0 else -x, [1.0], None)
        ... except TraceError as e:
        ...     print(str(e)[:38])
        compile: the graph depends on the data
    """


def float_key(x: Any) -> Any:
    """A dictionary key that tells 0.0 from -0.0 and matches NaN with NaN.

    Example:
        >>> float_key(0.0) == float_key(-0.0), float_key(float("nan")) == float_key(float("nan"))
        (False, True)
    """
    return float.hex(x) if type(x) is float else x


@dataclass(frozen=True)
class Instruction:
    """One op of the tape: ``node[out] = rule(node[args...])`` over node ids.

    Example:
        >>> from autograd_bp import Value
        >>> w = Value(2.0)
        >>> x = Value(1.0)
        >>> Flat([w * x], [x]).instructions[0].args  # w is id 0 (a parameter), x 1
        (0, 1)
    """

    rule: Rule
    out: int
    args: tuple[int, ...]
    param: Any


# ------------------------------------------------------------------------ flattening


class Flat:
    """A traced graph as numbers: node ids and instructions (no arrays yet).

    Node ids: parameters ``0..P-1`` (weights of one layer row-major and contiguous), then
    the inputs, the computed nodes in topological order, and the folded constants.

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(3.0)
        >>> flat = Flat([x * 2.0 + 1.0], [x])
        >>> [i.rule.name for i in flat.instructions], flat.constants
        (['mul', 'add'], [2.0, 1.0])
    """

    def __init__(self, outputs: Sequence[Value], inputs: Sequence[Value]) -> None:
        order = forward_order(outputs)
        seen = {id(n) for n in order}
        missing = [v.label or f"input {k}" for k, v in enumerate(inputs) if id(v) not in seen]
        if missing:
            raise TraceError(f"the traced graph does not use input(s): {', '.join(missing)}")
        input_ids = {id(v) for v in inputs}
        leaves = [n for n in order if n.is_leaf and id(n) not in input_ids]
        computed = [n for n in order if not n.is_leaf]
        raw = [_raw_instruction(n) for n in computed]
        self.parameters = _parameter_order(raw, leaves)
        self.n_params, self.n_inputs = len(self.parameters), len(inputs)
        self.id: dict[int, int] = {}
        for v in [*self.parameters, *inputs, *computed]:
            self.id[id(v)] = len(self.id)
        self.n_nodes = len(self.id)
        self.constants: list[float] = []
        self._const_id: dict[Any, int] = {}
        self.instructions = [
            Instruction(rule, self.id[id(node)], tuple(self._arg_id(a) for a in args), param)
            for rule, node, args, param in raw
        ]
        self.output_ids = [self.id[id(v)] for v in outputs]

    def _arg_id(self, a: Any) -> int:
        if type(a) is Value:
            return self.id[id(a)]
        key = float_key(a)  # 0.0 and -0.0 are different constants (1/x tells them apart)
        if key not in self._const_id:
            self._const_id[key] = self.n_nodes + len(self.constants)
            self.constants.append(a)
        return self._const_id[key]

    def is_param(self, i: int) -> bool:
        """Whether node id ``i`` is a parameter."""
        return i < self.n_params

    def const_value(self, i: int) -> float | None:
        """The number of a folded-constant node id, else None."""
        k = i - self.n_nodes
        return self.constants[k] if k >= 0 else None

    def signature(self) -> tuple[Any, ...]:
        """The wiring (ops, node ids, op parameters): equal for two traces of one graph."""
        return tuple((i.rule.name, i.args, float_key(i.param)) for i in self.instructions)


def _raw_instruction(node: Value) -> tuple[Rule, Value, list[Any], Any]:
    rule = RULES.get(node.op)
    if rule is None:  # a micrograd- or microgpt-style node: no rule to run on a batch
        raise TraceError(f"compile: op {node.op!r} is not in the op table (a node built as "
                         "Value(data, children, ...)); register it as a Rule to compile it")
    return rule, node, list(node.operands), node.param


def _layer_orientation(args: Sequence[Any], params: set[int]) -> tuple[int, ...] | None:
    """For a dot's (a0, b0, a1, b1, ...): per pair, which side (0 or 1) is the parameter,
    when every pair has exactly one parameter side; else None (not layer-shaped)."""
    sides = []
    for a, b in zip(args[0::2], args[1::2]):
        pa = type(a) is Value and id(a) in params
        pb = type(b) is Value and id(b) in params
        if pa == pb:
            return None
        sides.append(0 if pa else 1)
    return tuple(sides)


def _parameter_order(raw: list[tuple[Rule, Value, list[Any], Any]], leaves: list[Value]
                     ) -> list[Value]:  # fmt: skip
    """Parameters in the order that makes each layer's weights one contiguous row-major
    block: first as they appear in layer-shaped dot nodes, then the rest."""
    params = {id(p) for p in leaves}
    ordered: dict[int, Value] = {}
    for rule, _, args, _ in raw:
        if rule.name != "dot":
            continue
        sides = _layer_orientation(args, params)
        if sides is not None:
            for i, side in enumerate(sides):
                p = args[2 * i + side]
                ordered.setdefault(id(p), p)
    for p in leaves:
        ordered.setdefault(id(p), p)
    return list(ordered.values())


def forward_order(outputs: Sequence[Value]) -> list[Value]:
    """Every node below the outputs, each after all of its operands — and operands taken in
    their order, so a layer's neurons come out in order and the next layer, reading them in
    that order, reads one slice of rows (a depth-first search, iterative: no recursion).

    Example:
        >>> from autograd_bp import Value
        >>> a, b = Value(1.0, label="a"), Value(2.0, label="b")
        >>> [n.label or n.op for n in forward_order([(a * b).tanh()])]
        ['a', 'b', 'mul', 'tanh']
    """
    seen: set[int] = set()
    order: list[Value] = []
    for out in outputs:
        stack: list[tuple[Value, bool]] = [(out, False)]
        while stack:
            node, done = stack.pop()
            if done:  # every operand is in the order by now
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack += [(p, False) for p in reversed(_visit_order(node)) if id(p) not in seen]
    return order


def _visit_order(node: Value) -> tuple[Value, ...]:
    """A node's operands in order — a dot's as its two sides, one after the other: a score
    dot(q, k) then lays out every q before any k, so the queries of a position share one
    slice of rows, as do the weights of each projection in the parameter vector."""
    if node.op != "dot":
        return node.parents
    args = node.operands
    return tuple(a for a in (*args[0::2], *args[1::2]) if type(a) is Value)


def id_orientation(args: Sequence[int], flat: Flat) -> tuple[int, ...] | None:
    """:func:`_layer_orientation` over node ids: for a dot's (a0, b0, a1, b1, ...), which
    side of each pair is the parameter, or None when the node is not layer-shaped.

    Example:
        >>> from autograd_bp import Value, dot
        >>> w, x = Value(0.5), Value(1.0)
        >>> flat = Flat([dot([w], [x])], [x])
        >>> id_orientation(flat.instructions[0].args, flat)  # w (id 0) is side 0
        (0,)
    """
    sides = []
    for a, b in zip(args[0::2], args[1::2]):
        pa, pb = flat.is_param(a), flat.is_param(b)
        if pa == pb:
            return None
        sides.append(0 if pa else 1)
    return tuple(sides)


def shared_operands(args: Sequence[int], sides: Sequence[int]) -> tuple[int, ...]:
    """A layer-shaped dot's non-parameter operand of each pair: the rows the layer reads.

    Example:
        >>> shared_operands((0, 5, 6, 1), (0, 1))  # pairs (w=0, x=5) and (x=6, w=1)
        (5, 6)
    """
    return tuple(args[2 * i + 1 - s] for i, s in enumerate(sides))


def symmetric(rule: Rule) -> bool:
    """Whether a two-operand rule written as code has local derivatives that swap with its
    operands — mul's (b, a), add's (1.0, 1.0): on one node twice (``x * x``), both positions
    then add the very same numbers to its gradient.

    Example:
        >>> symmetric(RULES["mul"]), symmetric(RULES["add"]), symmetric(RULES["div"])
        (True, True, False)
    """
    if rule.variadic or rule.arity != 2 or rule.code is None:
        return False
    first, second = (ast.parse(expr, mode="eval") for expr in rule.code[1])
    for node in ast.walk(first):
        if isinstance(node, ast.Name) and node.id in ("a", "b"):
            node.id = "b" if node.id == "a" else "a"
    return ast.dump(first) == ast.dump(second)


def is_layer(ins: Instruction, flat: Flat) -> bool:
    """Whether an instruction is a layer's neuron: a dot with one parameter in every pair
    (the tape runs a layer of them as one matrix multiply).

    Example:
        >>> from autograd_bp import Value, dot
        >>> w, x = Value(0.5), Value(1.0)
        >>> flat = Flat([dot([w], [x]), dot([x], [x])], [x])
        >>> [is_layer(i, flat) for i in flat.instructions]
        [True, False]
    """
    return ins.rule.name == "dot" and id_orientation(ins.args, flat) is not None


# ------------------------------------------------------------------ tracing and checking


def example_row(example: Any, name: str) -> list[float]:
    """One example as a list of floats: a sequence of numbers or Values, or a 1-D array;
    anything else is refused with a :class:`TraceError` naming ``name``.

    Example:
        >>> example_row((1, 2.5), "example_inputs")
        [1.0, 2.5]
    """
    if isinstance(example, np.ndarray):
        if example.ndim != 1:
            raise TraceError(f"compile: {name} must be one example (a 1-D row), got an array of "
                             f"shape {example.shape}")  # fmt: skip
        example = example.tolist()
    if isinstance(example, (str, bytes)) or not isinstance(example, Sequence):
        raise TraceError(f"compile: {name} must be a list, tuple or 1-D array of numbers, "
                         f"got {type(example).__name__}")  # fmt: skip
    row = []
    for k, v in enumerate(example):
        v = v.data if type(v) is Value else v
        real = isinstance(v, (int, float, np.integer, np.floating))
        if isinstance(v, (bool, np.bool_)) or not real:
            raise TraceError(f"compile: {name}[{k}] must be a real number, got "
                             f"{type(v).__name__} {v!r}")  # fmt: skip
        row.append(float(v))
    if not row:
        raise TraceError(f"compile: {name} is empty; the function needs at least one input")
    return row


def _trace(fn: Callable[..., Any], row: Sequence[float]) -> tuple[list[Value], list[Value]]:
    inputs = [Value(v, label=f"x{k}") for k, v in enumerate(row)]
    out = fn(*inputs)
    outputs = list(out) if isinstance(out, (list, tuple)) else [out]
    if not outputs or not all(type(o) is Value for o in outputs):
        raise TraceError("compile: the function must return a Value or a list of Values")
    return outputs, inputs


def _perturbed(row: list[float], second: list[float] | None) -> list[list[float]]:
    """Other examples to trace: an affine map with no fixed point worth hitting, a sign
    flip, a small relative change and a random row (non-finite entries made finite)."""
    rng = np.random.default_rng(20250417)
    noise = rng.normal(0.0, 1.5, len(row)).tolist()
    base = [v if np.isfinite(v) else n for v, n in zip(row, noise)]
    rows = [[v * 1.37 + 0.11 + 0.01 * k for k, v in enumerate(base)],
            [-0.61 * v - 0.07 for v in base],
            [v * (1.0 + 2.0**-9) + 2.0**-12 for v in base],
            noise]  # fmt: skip
    return ([second] if second is not None else []) + rows


def _compare(first: Flat, other: Flat) -> None:
    """Refuse, naming the reason, when another trace built a different graph."""
    if other.signature() != first.signature():
        raise TraceError(
            "compile: the graph depends on the data (another example built a different "
            "graph, e.g. through a branch on .data); it cannot be replayed on a batch"
        )
    for a, b in zip(first.constants, other.constants):
        if float_key(a) != float_key(b):
            raise TraceError(
                f"compile: a number read from the data is frozen into the graph as a constant "
                f"({a!r} for one example, {b!r} for another), e.g. `x * x.data` or "
                "`max(x.data, 0)`; write it with Value ops so it is recomputed per example"
            )
    for p, q in zip(first.parameters, other.parameters):
        if p is not q and float_key(p.data) != float_key(q.data):
            raise TraceError(
                f"compile: a Value made inside the function holds data that changes with the "
                f"example ({p.data!r} vs {q.data!r}), e.g. `Value(x.data)`; it would be "
                "frozen. Use the input Value itself"
            )


def trace_checked(fn: Callable[..., Any], row: list[float], second: list[float] | None
                     ) -> tuple[Flat, list[Value], list[Value]]:  # fmt: skip
    """Trace ``row`` and the perturbed examples (and ``second``, a real second example, if
    given); the first trace — its flat program, outputs and input leaves — if they all
    agree, else a :class:`TraceError` naming what differed.

    Example:
        >>> flat, outputs, inputs = trace_checked(lambda x: x * x, [3.0], None)
        >>> outputs[0].data, [i.rule.name for i in flat.instructions]
        (9.0, ['mul'])
    """
    outputs, inputs = _trace(fn, row)
    first = Flat(outputs, inputs)
    checked, failure = 0, None
    for k, other_row in enumerate(_perturbed(row, second)):
        try:
            other = Flat(*_trace(fn, other_row))
        except TraceError:
            raise
        except (ArithmeticError, ValueError) as e:  # outside fn's domain: try the next one
            if k == 0 and second is not None:
                raise TraceError(f"compile: second_example failed: {e}") from e
            failure = failure or e
            continue
        _compare(first, other)
        checked += 1
    if not checked:
        raise TraceError(f"compile: cannot check that the graph is independent of the data: "
                         f"every other example failed ({failure}); "
                         "pass second_example")  # fmt: skip
    return first, outputs, inputs
