"""Trace once, replay a whole mini-batch: compiled scalar graphs at vector speed.

:func:`compile` runs a function once on :class:`Value` leaves to record its graph, then turns
the graph into a flat program — a tape of instructions over slot indices, in topological
order. Replaying the tape evaluates the **same graph for a whole batch at once**: every
scalar op becomes one numpy operation on a vector of B examples (an n-ary ``dot`` or ``sum``
one operation on a k×B block), and the backward pass is the same tape in reverse, through
the same op rules as the dynamic engine (:mod:`autograd_bp.ops` handles floats, arrays and
Values alike — there is no second copy of any derivative).

Leaves that are not inputs are parameters: shared by every example, read from ``.data`` at
each call, and their gradients (summed over the batch, or averaged for ``reduction="mean"``)
are written to ``.grad``, so the ordinary optimizers step them.

Limits, plainly:

* The graph must not depend on the data through Python control flow. A branch on a Value
  comparison is impossible by construction (Values do not define ``<``), but a branch on
  ``.data`` is possible; :func:`compile` traces two different examples and refuses when
  their graphs differ, which catches it whenever those two examples take different branches.
* Numbers computed from the data at trace time and folded into the graph as constants are
  frozen: e.g. the max subtracted inside ``cross_entropy``'s log-sum-exp (harmless: the
  shift cancels exactly in exact arithmetic).
* Ops whose derivative depends on the data (relu, abs, leaky_relu) are recomputed per
  example, as they must be.

Example:
    >>> import numpy as np
    >>> from autograd_bp import Value
    >>> w = Value(0.5, label="w")
    >>> f = compile(lambda x: (w * x).tanh(), [Value(1.0)])
    >>> f(np.array([[0.0], [2.0]])).round(6).tolist()
    [0.0, 0.761594]
    >>> loss, _ = f.backward(np.array([[0.0], [2.0]]))
    >>> round(w.grad, 6)   # mean over the batch of x·(1 − tanh²(w·x))
    0.419974
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .engine import Value, backward_order
from .ops import RULES, Rule

__all__ = ["CompiledFunction", "CompiledLoss", "TraceError", "compile", "compile_loss"]


class TraceError(ValueError):
    """The function cannot be compiled (e.g. its graph depends on the data)."""


@dataclass(frozen=True)
class Instruction:
    """One op of the tape: ``slots[out] = rule(slots[args...])``."""

    rule: Rule
    out: int
    args: tuple[int, ...]
    param: Any


class Tape:
    """A graph flattened to instructions over slots (one row of a (slots, B) array each)."""

    def __init__(self, outputs: Sequence[Value], inputs: Sequence[Value]) -> None:
        self.inputs = list(inputs)
        order = _forward_order(outputs)
        input_ids = {id(v) for v in self.inputs}
        missing = [v.label or f"input {k}" for k, v in enumerate(self.inputs)
                   if id(v) not in {id(n) for n in order}]  # fmt: skip
        if missing:
            raise TraceError(f"the traced graph does not use input(s): {', '.join(missing)}")
        # Slots: parameters first, then inputs (each a contiguous range, filled by one slice
        # assignment per call), then computed nodes, then folded constants.
        self.parameters = [n for n in order if n.is_leaf and id(n) not in input_ids]
        computed = [n for n in order if not n.is_leaf]
        nodes = [*self.parameters, *self.inputs, *computed]
        self.slot: dict[int, int] = {id(n): s for s, n in enumerate(nodes)}
        self.n_params = len(self.parameters)
        self.constants: list[tuple[int, float]] = []
        self._const_slot: dict[float, int] = {}
        self.instructions: list[Instruction] = []
        for node in computed:
            rule = RULES[node.op]
            args = tuple(self._operand_slot(a, len(nodes)) for a in node.operands)
            param = node.param
            self.instructions.append(Instruction(rule, self.slot[id(node)], args, param))
        self.output_slots = [self.slot[id(v)] for v in outputs]
        self.n_slots = len(nodes) + len(self.constants)
        self._buffers: dict[int, _Program] = {}

    @property
    def param_slots(self) -> range:
        """The slots of the parameters (a contiguous range)."""
        return range(self.n_params)

    @property
    def input_slots(self) -> range:
        """The slots of the inputs, in input order (a contiguous range)."""
        return range(self.n_params, self.n_params + len(self.inputs))

    def _operand_slot(self, a: Any, first_free: int) -> int:
        if type(a) is Value:
            return self.slot[id(a)]
        if a not in self._const_slot:  # a folded constant: a row of its own, filled once
            s = first_free + len(self.constants)
            self._const_slot[a] = s
            self.constants.append((s, a))
        return self._const_slot[a]

    def signature(self) -> list[tuple[str, tuple[int, ...], Any]]:
        """The wiring (ops and slots), to compare two traces; constants are left out."""
        return [(i.rule.name, i.args, i.param) for i in self.instructions]

    def _needs_grad(self) -> list[bool]:
        """Per slot: does a parameter's gradient flow through it? (Inputs and constants
        need none, so their updates are skipped.)"""
        needs = [False] * self.n_slots
        for s in self.param_slots:
            needs[s] = True
        for ins in self.instructions:
            needs[ins.out] = any(needs[a] for a in ins.args)
        return needs

    def buffers(self, batch: int) -> _Program:
        """The value and gradient arrays for a batch size, allocated once and reused, with
        each instruction's rows bound in advance (views into those arrays)."""
        if batch not in self._buffers:
            self._buffers[batch] = _Program(self, batch)
        return self._buffers[batch]

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Run the tape on a batch; returns the (slots, B) value array."""
        prog = self.buffers(len(X))
        values = prog.values
        p, n = self.n_params, len(self.inputs)
        values[p : p + n] = X.T
        if p:  # read .data at every call: optimizers update it between calls
            values[:p] = np.fromiter([q.data for q in self.parameters], float, p)[:, None]
        for group in prog.groups:
            rule, rows = group.rule, group.rows
            if rule.variadic:
                out = rule.forward(values[rows], None)
            elif rule.arity == 2:
                out = rule.forward(values[rows[0]], values[rows[1]], None)
            else:
                out = rule.forward(values[rows[0]], group.param)
            values[group.out] = out
        return values

    def backward(self, values: np.ndarray, seeds: dict[int, Any]) -> np.ndarray:
        """The same tape in reverse: each op hands local derivative × gradient to its
        operands, per example. Returns the (slots, B) gradient array."""
        prog = self.buffers(values.shape[1])
        grads = prog.grads
        grads.fill(0.0)
        for s, g in seeds.items():
            grads[s] = g
        for group in reversed(prog.groups):
            if not group.needs_grad:
                continue  # no parameter below: nothing to propagate
            rule, rows = group.rule, group.rows
            g = grads[group.out]
            out = values[group.out]
            if rule.variadic:  # (k, m, B), or (k, 1, 1) when it does not depend on the data
                local = np.broadcast_to(rule.local(values[rows], out, None), (len(rows), *g.shape))
            elif rule.arity == 2:
                da, db = rule.local(values[rows[0]], values[rows[1]], out, None)
                local = np.stack([np.broadcast_to(da, g.shape), np.broadcast_to(db, g.shape)])
            else:
                local = np.broadcast_to(rule.local(values[rows[0]], out, group.param)[0], g.shape)
                local = local[None]
            group.scatter(grads, local, g)
        return grads


@dataclass
class _Group:
    """Same-rule instructions of one topological level, run as one block op.

    ``rows[p]`` holds, for operand position p, the slot of that operand in each of the m
    instructions; ``out`` their result slots.
    """

    rule: Rule
    param: Any
    rows: np.ndarray  # (n_operands, m)
    out: np.ndarray  # (m,)
    needs_grad: bool

    def __post_init__(self) -> None:
        # Operand positions whose slot is the same for every instruction (the inputs of a
        # layer, read by each of its neurons) are summed over the group before the add.
        self.shared = (self.rows == self.rows[:, :1]).all(axis=1) & (self.rows.shape[1] > 1)
        targets = np.concatenate([self.rows[self.shared, 0], self.rows[~self.shared].ravel()])
        self.targets = targets
        self.unique = len(np.unique(targets)) == len(targets)

    def scatter(self, grads: np.ndarray, local: np.ndarray, g: np.ndarray) -> None:
        """grads[operand slot] += local derivative × upstream gradient, for every operand
        position p of every instruction i: ``local[p, i] * g[i]``."""
        batch = grads.shape[1]
        if self.shared.any():  # Σ over the instructions that read the same slot, fused
            parts = [np.einsum("pib,ib->pb", local[self.shared], g),
                     (local[~self.shared] * g).reshape(-1, batch)]  # fmt: skip
            values = np.concatenate(parts)
        else:
            values = (local * g).reshape(-1, batch)
        if self.unique:
            grads[self.targets] += values
        else:
            np.add.at(grads, self.targets, values)


class _Program:
    """A tape scheduled for one batch size: instructions grouped by topological level and
    rule, so each group is one numpy op over a block of rows; the value and gradient arrays
    are allocated once and reused."""

    def __init__(self, tape: Tape, batch: int) -> None:
        self.values = values = np.zeros((tape.n_slots, batch))
        self.grads = np.zeros((tape.n_slots, batch))
        for s, c in tape.constants:
            values[s] = c
        needs = tape._needs_grad()
        level = [0] * tape.n_slots
        buckets: dict[tuple[Any, ...], list[Instruction]] = {}
        for ins in tape.instructions:
            lvl = 1 + max(level[a] for a in ins.args)
            level[ins.out] = lvl
            key = (lvl, ins.rule.name, len(ins.args), ins.param, needs[ins.out])
            buckets.setdefault(key, []).append(ins)
        self.groups = [
            _Group(
                group[0].rule,
                group[0].param,
                np.array([ins.args for ins in group]).T,
                np.array([ins.out for ins in group]),
                key[4],
            )
            for key, group in sorted(buckets.items(), key=lambda kv: kv[0][0])
        ]


def _forward_order(outputs: Sequence[Value]) -> list[Value]:
    """Every node below the outputs, each after all of its operands."""
    seen: set[int] = set()
    order: list[Value] = []
    for out in outputs:
        for node in reversed(backward_order(out)):
            if id(node) not in seen:
                seen.add(id(node))
                order.append(node)
    return order


def _as_batch(X: Any, n_inputs: int) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim == 1 and n_inputs == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[1] != n_inputs:
        raise ValueError(f"compiled: expected inputs of shape (B, {n_inputs}), got {X.shape}")
    if len(X) == 0:
        raise ValueError("compiled: the batch is empty")
    return X


def _trace(fn: Callable[..., Any], example: Sequence[Any]) -> tuple[list[Value], list[Value]]:
    inputs = [Value(float(v.data if isinstance(v, Value) else v), label=f"x{k}")
              for k, v in enumerate(example)]  # fmt: skip
    out = fn(*inputs)
    outputs = list(out) if isinstance(out, (list, tuple)) else [out]
    if not outputs or not all(isinstance(o, Value) for o in outputs):
        raise TraceError("compile: the function must return a Value or a list of Values")
    return outputs, inputs


class CompiledFunction:
    """A traced function, replayable on batches. See :func:`compile`."""

    def __init__(
        self,
        fn: Callable[..., Any],
        example_inputs: Sequence[Any],
        second_example: Sequence[Any] | None = None,
    ) -> None:
        outputs, inputs = _trace(fn, example_inputs)
        self.outputs, self.inputs = outputs, inputs  # the traced graph: ordinary Values
        self.tape = Tape(outputs, inputs)
        # Trace a second, different example: a graph that changes with the data cannot be
        # replayed. (Catches data-dependent branches that these two examples disagree on.)
        if second_example is None:
            second_example = [float(getattr(v, "data", v)) * 0.5 + 0.25 for v in example_inputs]
        try:
            other = Tape(*_trace(fn, second_example))
        except (ArithmeticError, ValueError):  # outside fn's domain: nothing to compare
            return
        if other.signature() != self.tape.signature():
            raise TraceError(
                "compile: the graph depends on the data through Python control flow "
                "(two examples gave different graphs); it cannot be replayed on a batch"
            )

    @property
    def parameters(self) -> list[Value]:
        """The non-input leaves: shared across the batch, their gradients written back."""
        return self.tape.parameters

    def __call__(self, X: Any) -> np.ndarray:
        """Outputs for each example: shape (B,) for one output, else (B, n_outputs)."""
        X = _as_batch(X, len(self.inputs))
        values = self.tape.forward(X)
        out = values[self.tape.output_slots].T.copy()
        return out[:, 0] if out.shape[1] == 1 else out

    def backward(
        self, X: Any, *, output: int = 0, reduction: str = "mean"
    ) -> tuple[float, np.ndarray]:
        """Forward and backward for the batch; ``.grad`` of every parameter += the gradient
        of the reduced output (``"mean"`` or ``"sum"`` over the batch). Returns the reduced
        value and the per-example outputs (B, n_outputs)."""
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        X = _as_batch(X, len(self.inputs))
        values = self.tape.forward(X)
        slot = self.tape.output_slots[output]
        weight = 1.0 / len(X) if reduction == "mean" else 1.0
        grads = self.tape.backward(values, {slot: weight})
        if self.parameters:
            totals = grads[: self.tape.n_params].sum(axis=1).tolist()
            for p, g in zip(self.tape.parameters, totals):
                p.grad += g
        reduced = float(values[slot].sum() * weight)
        return reduced, values[self.tape.output_slots].T.copy()


def compile(  # noqa: A001 - the name the issue and users expect: autograd_bp.compile
    fn: Callable[..., Any],
    example_inputs: Sequence[Any],
    second_example: Sequence[Any] | None = None,
) -> CompiledFunction:
    """Trace ``fn`` (Values in, a Value or list of Values out) on ``example_inputs`` and
    return a :class:`CompiledFunction` that replays it on batches of shape (B, n_inputs).

    ``second_example`` (default: a perturbed copy) is traced too, to detect a graph that
    depends on the data. The traced graph (``.outputs``) is an ordinary Value graph:
    diagrams and the chain-rule trace work on it as on any other.
    """
    if len(example_inputs) == 0:
        raise TraceError("compile: needs at least one example input")
    return CompiledFunction(fn, example_inputs, second_example)


class CompiledLoss:
    """``loss(model(x), target)`` compiled for training; see :func:`compile_loss`."""

    def __init__(self, model: Any, loss: Callable[..., Value], n_inputs: int, n_targets: int,
                 examples: list[list[float]]) -> None:  # fmt: skip
        self.n_inputs, self.n_targets = n_inputs, n_targets

        def fn(*leaves: Value) -> list[Value]:
            x, t = list(leaves[:n_inputs]), list(leaves[n_inputs:])
            out = model(x)
            outs = out if isinstance(out, list) else [out]
            target = t[0] if n_targets == 1 else t
            return [loss(out, target), *outs]

        self.compiled = compile(fn, examples[0], examples[1] if len(examples) > 1 else None)

    def step(self, X: Any, T: Any) -> tuple[float, np.ndarray]:
        """Mean loss over the batch, with the parameters' ``.grad`` += its gradient; also
        returns the model's outputs per example (B, n_outputs)."""
        X = np.asarray(X, dtype=float).reshape(len(X), self.n_inputs)
        T = np.asarray(T, dtype=float).reshape(len(X), self.n_targets)
        loss, outs = self.compiled.backward(np.hstack([X, T]), output=0)
        return loss, outs[:, 1:]


def compile_loss(model: Any, loss: Callable[..., Value], X: Any, T: Any) -> CompiledLoss:
    """Compile ``loss(model(x), t)`` for training, tracing on the first two rows of (X, T).

    ``T`` has one row of targets per example (use one-hot rows for ``cross_entropy``).
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or len(X) < 1:
        raise ValueError(f"compile_loss: X must have shape (B, n_inputs), got {X.shape}")
    T = np.asarray(T, dtype=float).reshape(len(X), -1)
    rows = np.hstack([X, T])
    # the second traced example: the first row that differs from the first one
    differs = np.flatnonzero((rows != rows[0]).any(axis=1))
    examples = [rows[0].tolist()] + ([rows[differs[0]].tolist()] if len(differs) else [])
    return CompiledLoss(model, loss, X.shape[1], T.shape[1], examples)
