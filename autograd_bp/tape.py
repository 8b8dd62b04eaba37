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

from .engine import Value, _operands, backward_order
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
    index: np.ndarray  # args as an index array (n-ary ops gather their rows with it)


class Tape:
    """A graph flattened to instructions over slots (one row of a (slots, B) array each)."""

    def __init__(self, outputs: Sequence[Value], inputs: Sequence[Value]) -> None:
        self.inputs = list(inputs)
        order = _forward_order(outputs)
        self.slot: dict[int, int] = {}
        self.parameters: list[Value] = []
        self.param_slots: list[int] = []
        self.constants: list[tuple[int, float]] = []
        self._const_slot: dict[float, int] = {}
        input_ids = {id(v): k for k, v in enumerate(self.inputs)}
        self.input_slots = [0] * len(self.inputs)
        self.instructions: list[Instruction] = []
        for node in order:
            s = self._new_slot(node)
            if node.is_leaf:
                if id(node) in input_ids:
                    self.input_slots[input_ids[id(node)]] = s
                else:
                    self.parameters.append(node)
                    self.param_slots.append(s)
                continue
            rule = RULES[node.op]
            operands = _operands(node)
            flat = operands[0] if rule.arity == 0 else operands
            args = tuple(self._operand_slot(a) for a in flat)
            param = node._ctx if rule.arity == 1 else None
            self.instructions.append(Instruction(rule, s, args, param, np.array(args)))
        missing = [
            v.label or f"input {k}" for k, v in enumerate(self.inputs) if id(v) not in self.slot
        ]
        if missing:
            raise TraceError(f"the traced graph does not use input(s): {', '.join(missing)}")
        self.output_slots = [self.slot[id(v)] for v in outputs]
        self.n_slots = len(self.slot) + len(self.constants)
        self._buffers: dict[int, _Program] = {}

    def _new_slot(self, node: Value) -> int:
        s = len(self.slot) + len(self.constants)
        self.slot[id(node)] = s
        return s

    def _operand_slot(self, a: Any) -> int:
        if type(a) is Value:
            return self.slot[id(a)]
        if a not in self._const_slot:  # a folded constant: a row of its own, filled once
            s = len(self.slot) + len(self.constants)
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
        values[self.input_slots] = X.T
        if self.parameters:  # read .data at every call: optimizers update it between calls
            values[self.param_slots] = np.fromiter(
                (p.data for p in self.parameters), float, len(self.parameters)
            )[:, None]
        take = np.take
        for arity, forward, out, a, b, param, index in prog.forward_ops:
            if arity == 2:
                out[...] = forward(a, b, None)
            elif arity == 1:
                out[...] = forward(a, param)
            else:  # gather the operand rows into the op's own block (kept for backward)
                out[...] = forward(take(values, index, axis=0, out=b), None)
        return values

    def backward(self, values: np.ndarray, seeds: dict[int, Any]) -> np.ndarray:
        """The same tape in reverse: each op hands local derivative × gradient to its
        operands, per example. Returns the (slots, B) gradient array."""
        prog = self.buffers(values.shape[1])
        grads = prog.grads
        grads.fill(0.0)
        for s, g in seeds.items():
            grads[s] = g
        for arity, local, g, out, a, b, ga, gb, param, scatter in prog.backward_ops:
            if arity == 2:
                da, db = local(a, b, out, None)
                if ga is not None:
                    ga += da * g
                if gb is not None:
                    gb += db * g
            elif arity == 1:
                ga += local(a, out, param)[0] * g
            else:  # b: the operand block gathered by the forward pass
                d = np.asarray(local(b, out, None))
                contribution = (d if d.ndim == 2 else d[:, None]) * g
                rows, keep, unique = scatter
                if keep is not None:
                    contribution = contribution[keep]
                if unique:
                    grads[rows] += contribution
                else:
                    np.add.at(grads, rows, contribution)
        return grads


class _Program:
    """A tape bound to the arrays of one batch size: per instruction, the rule's function
    and the rows it reads and writes, so the replay loops do no lookups."""

    def __init__(self, tape: Tape, batch: int) -> None:
        self.values = values = np.zeros((tape.n_slots, batch))
        self.grads = grads = np.zeros((tape.n_slots, batch))
        for s, c in tape.constants:
            values[s] = c
        needs = tape._needs_grad()
        self.forward_ops: list[tuple[Any, ...]] = []
        self.backward_ops: list[tuple[Any, ...]] = []
        for ins in tape.instructions:
            arity, args, out = ins.rule.arity, ins.args, ins.out
            a = values[args[0]] if arity else None
            b = values[args[1]] if arity == 2 else None
            if arity == 0:  # n-ary: b is a (k, B) block the operand rows are gathered into
                b = np.empty((len(args), batch))
            self.forward_ops.append((arity, ins.rule.forward, values[out], a, b, ins.param,
                                     ins.index))  # fmt: skip
            if not needs[out]:
                continue  # no parameter below: nothing to propagate
            ga = grads[args[0]] if arity and needs[args[0]] else None
            gb = grads[args[1]] if arity == 2 and needs[args[1]] else None
            scatter = None
            if arity == 0:
                keep = np.array([k for k, s in enumerate(args) if needs[s]])
                rows = ins.index[keep]
                unique = len(set(rows.tolist())) == len(rows)
                scatter = (rows, None if len(keep) == len(args) else keep, unique)
            self.backward_ops.append((arity, ins.rule.local, grads[out], values[out], a, b,
                                      ga, gb, ins.param, scatter))  # fmt: skip
        self.backward_ops.reverse()


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
            totals = grads[self.tape.param_slots].sum(axis=1).tolist()
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
