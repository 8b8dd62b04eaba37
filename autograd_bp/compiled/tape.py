"""Trace once, replay a whole mini-batch: compiled scalar graphs at vector speed.

:func:`compile` runs a function on :class:`Value` leaves to record its graph, then turns
the graph into a flat program — a tape of instructions over slot indices, in topological
order. Replaying the tape evaluates the **same graph for a whole batch at once**: the
instructions of one topological level and one op become one numpy operation on a block of
rows (one row of B examples per node), and the backward pass is the same schedule in
reverse, through the same op rules as the dynamic engine (:mod:`autograd_bp.core.ops` handles
floats, arrays and Values alike — there is no second copy of any derivative).

**Layers become matrix multiplies.** The ``dot`` nodes of one layer read the same inputs
with a weight of their own in each product; the tape lays those weights out as one
contiguous (neurons × inputs) block of its parameter vector and runs the layer as one
matrix multiply forward and two backward (∂W = G·Sᵀ, ∂S = Wᵀ·G), as a vectorised library
does. Every other graph takes the general path, op group by op group.

Leaves that are not inputs are parameters: shared by every example, kept in one float64
vector (:attr:`CompiledFunction.flat_data`). By default each call reads them from
``.data`` and adds their gradients (summed over the batch, or averaged for
``reduction="mean"``) to ``.grad``, so the ordinary optimizers step them; ``sync=False``
skips that traffic and works on the vectors alone (see :meth:`CompiledFunction.backward`).

Limits, plainly:

* The graph must not depend on the data through Python control flow or through numbers
  read from ``.data``. :func:`compile` traces several perturbed copies of the example and
  refuses (:class:`TraceError`) when their graphs, folded constants or leaves differ —
  e.g. ``x * x.data``, ``max(x.data, 0)``, ``x * Value(x.data)`` or a branch on ``.data``
  that the examples take differently. A branch every example takes the same way is
  invisible: keep traced functions branch-free.
* Ops whose derivative depends on the data (relu, abs, leaky_relu) are recomputed per
  example, as they must be; the stable log-sum-exp of the losses is an op of its own, so
  its shift is recomputed per example too.
* A compiled function may be shared between threads: calls on it are serialised.

Example:
    >>> import numpy as np
    >>> from autograd_bp import Value
    >>> w = Value(0.5, label="w")
    >>> f = compile(lambda x: (w * x).tanh(), [1.0])
    >>> f(np.array([[0.0], [2.0]])).round(6).tolist()
    [0.0, 0.761594]
    >>> loss, _ = f.backward(np.array([[0.0], [2.0]]))
    >>> round(w.grad, 6)   # mean over the batch of x·(1 − tanh²(w·x))
    0.419974
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.engine import GRAPH_LOCK, Value
from ..core.ops import RULES, Rule

__all__ = ["CompiledFunction", "CompiledLoss", "TraceError", "compile", "compile_loss"]


class TraceError(ValueError):
    """The function cannot be compiled (e.g. its graph depends on the data).

    Example:
        >>> try:
        ...     compile(lambda x: x * 2 if x.data > 0 else -x, [1.0])
        ... except TraceError as e:
        ...     print(str(e)[:38])
        compile: the graph depends on the data
    """


def _key(x: Any) -> Any:
    """A dictionary key that tells 0.0 from -0.0 and matches NaN with NaN."""
    return float.hex(x) if type(x) is float else x


@dataclass(frozen=True)
class Instruction:
    """One op of the tape: ``node[out] = rule(node[args...])`` over node ids.

    Example:
        >>> from autograd_bp import Value
        >>> w = Value(2.0)
        >>> compile(lambda x: w * x, [1.0]).tape.flat.instructions[0].args  # w is id 0, x 1
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
        order = _forward_order(outputs)
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
        key = _key(a)  # 0.0 and -0.0 are different constants (1/x tells them apart)
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
        return tuple((i.rule.name, i.args, _key(i.param)) for i in self.instructions)


def _raw_instruction(node: Value) -> tuple[Rule, Value, list[Any], Any]:
    return RULES[node.op], node, list(node.operands), node.param


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


def _forward_order(outputs: Sequence[Value]) -> list[Value]:
    """Every node below the outputs, each after all of its operands — and operands taken in
    their order, so a layer's neurons come out in order and the next layer, reading them in
    that order, reads one slice of rows (a depth-first search, iterative: no recursion)."""
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
                stack += [(p, False) for p in reversed(node.parents) if id(p) not in seen]
    return order


# ------------------------------------------------------------------------ scheduling


def _rows(slots: Sequence[int] | np.ndarray) -> slice | np.ndarray:
    """A slice when the slots are consecutive (a view, no copy), else an index array."""
    a = np.asarray(slots, dtype=np.intp)
    if len(a) and (a == np.arange(a[0], a[0] + len(a))).all():
        return slice(int(a[0]), int(a[0]) + len(a))
    return a


def _unique(rows: Any) -> bool:
    return type(rows) is slice or len(np.unique(rows)) == len(rows)


class _OpGroup:
    """Same-rule instructions of one topological level, run as one block op.

    ``rows[p]`` holds, for operand position p, the value slot of that operand in each of
    the m instructions; ``out`` their result slots. Works on (slots, B) arrays and on flat
    (slots,) ones alike.
    """

    flat_ok = True

    def __init__(self, instructions: list[Instruction], tape: Tape) -> None:
        slot = tape.slot
        first = instructions[0]
        self.rule, self.param = first.rule, first.param
        self.variadic = self.rule.variadic
        table = np.array([[slot[a] for a in ins.args] for ins in instructions]).T
        self.table = table  # (n_operands, m)
        self.out = _rows([slot[ins.out] for ins in instructions])
        self.operand_rows = [_rows(r) for r in table]
        # Operand positions whose slot is the same for every instruction (the inputs of a
        # layer, read by each of its neurons) are summed over the group before the add.
        self.shared = (table == table[:, :1]).all(axis=1) & (table.shape[1] > 1)
        self.targets = np.concatenate([table[self.shared, 0], table[~self.shared].ravel()])
        self.unique = len(np.unique(self.targets)) == len(self.targets)
        self.position_unique = [_unique(r) for r in self.operand_rows]
        self.position_needs = [bool(tape.needs[[ins.args[p] for ins in instructions]].any())
                               for p in range(table.shape[0])]  # fmt: skip

    def forward(self, values: np.ndarray, theta: np.ndarray) -> None:
        rule = self.rule
        if rule.ufunc is not None and type(self.out) is slice:  # in place: no copy after
            rule.ufunc(*[values[rows] for rows in self.operand_rows], out=values[self.out])
            return
        if self.variadic:
            out = rule.forward(values[self.table], None)
        elif rule.arity == 2:
            a, b = self.operand_rows
            out = rule.forward(values[a], values[b], None)
        else:
            out = rule.forward(values[self.operand_rows[0]], self.param)
        values[self.out] = out

    def backward(self, values: np.ndarray, grads: np.ndarray, theta_grad: np.ndarray,
                 first: bool = False) -> None:  # fmt: skip
        rule = self.rule
        g, out = grads[self.out], values[self.out]
        if self.variadic:  # (k, m, B), or (k, 1, 1) when it does not depend on the data
            local = np.broadcast_to(rule.local(values[self.table], out, None),
                                    (self.table.shape[0], *g.shape))  # fmt: skip
            self._scatter(grads, local, g)
            return
        if rule.arity == 2:
            a, b = self.operand_rows
            locals_ = rule.local(values[a], values[b], out, None)
        else:
            locals_ = rule.local(values[self.operand_rows[0]], out, self.param)
        for p, local in enumerate(locals_):
            if not self.position_needs[p]:
                continue
            rows = self.operand_rows[p]
            gated = _gated(local, g)
            if gated is not None:
                self._add(grads, p, gated)
                continue
            if self.assign[p] and not self.shared[p] and type(rows) is slice:
                np.multiply(local, g, out=grads[rows])  # straight into place: one pass
                continue
            if type(local) is np.ndarray and local.dtype == g.dtype and local.flags.owndata \
                    and local.shape == g.shape:  # fmt: skip
                local *= g  # a fresh temporary of the rule's: reuse it
            else:
                local = local * g
            self._add(grads, p, local)

    def plan(self, written: np.ndarray) -> None:
        """Note which operand positions are the first to write their gradient rows in the
        backward pass (they assign instead of adding: those rows need no zeroing)."""
        self.assign = [False] * self.table.shape[0]
        for p, rows in enumerate(self.table):
            if not self.position_needs[p]:
                continue
            if not self.variadic:
                first = (self.shared[p] or self.position_unique[p]) and not written[rows].any()
                self.assign[p] = bool(first)
            written[rows] = True

    def _add(self, grads: np.ndarray, p: int, contribution: np.ndarray) -> None:
        """grads[operand p's rows] += contribution, however those rows are laid out (or =,
        for the first writer of those rows)."""
        rows = self.operand_rows[p]
        if self.shared[p]:  # one slot read by every instruction: sum them first
            if self.assign[p]:
                grads[self.table[p, 0]] = contribution.sum(axis=0)
            else:
                grads[self.table[p, 0]] += contribution.sum(axis=0)
        elif self.assign[p]:
            grads[rows] = contribution
        elif self.position_unique[p]:
            grads[rows] += contribution
        else:
            np.add.at(grads, np.asarray(rows), contribution)  # a slice is always unique

    def _scatter(self, grads: np.ndarray, local: np.ndarray, g: np.ndarray) -> None:
        """grads[operand slot] += local[p, i] * g[i] for every operand position p of every
        instruction i."""
        rest = g.shape[1:]  # (B,), or () when the tape runs one example on flat rows
        if self.shared.any():  # Σ over the instructions that read the same slot, fused
            parts = [np.einsum("pi...,i...->p...", local[self.shared], g),
                     (local[~self.shared] * g).reshape(-1, *rest)]  # fmt: skip
            contributions = np.concatenate(parts)
        else:
            contributions = (local * g).reshape(-1, *rest)
        if self.unique:
            grads[self.targets] += contributions
        else:
            np.add.at(grads, self.targets, contributions)


def _gated(local: Any, g: np.ndarray) -> np.ndarray | None:
    """local × g for a local derivative that *selects* rather than multiplies — relu's gate
    (a boolean mask) or pow's ∂/∂base at exponent 0 (a masked array) — as the engine's
    BLOCKED zero and PyTorch do, so an infinite or NaN upstream stops there; else None."""
    if type(local) is np.ndarray and local.dtype == bool:
        return np.where(local, g, 0.0)
    if isinstance(local, np.ma.MaskedArray):
        with np.errstate(invalid="ignore"):
            return np.where(local.mask, 0.0, local.data * g)
    return None


class _MatmulGroup:
    """The dot nodes of one layer: ``out = W @ S`` with W a block of the parameter vector
    (one row per node, one column per product) and S the rows they all read."""

    flat_ok = False

    def __init__(self, instructions: list[Instruction], tape: Tape) -> None:
        flat, slot = tape.flat, tape.slot
        theta, theta_grad = tape.theta, tape.theta_grad
        first = instructions[0]
        sides = _id_orientation(first.args, flat)
        assert sides is not None
        shared = _shared_operands(first.args, sides)
        pids = np.array([[ins.args[2 * i + s] for i, s in enumerate(sides)]
                         for ins in instructions])  # fmt: skip
        m, k = pids.shape
        self.out = _rows([slot[ins.out] for ins in instructions])
        base = int(pids[0, 0])
        self.contiguous = bool((pids.ravel() == np.arange(base, base + m * k)).all())
        self.pids = pids
        if self.contiguous:  # views into the parameter vectors: no gather, no scatter
            self.W = theta[base : base + m * k].reshape(m, k)
            self.dW = theta_grad[base : base + m * k].reshape(m, k)
        consts = [flat.const_value(s) for s in shared]
        cols = [c for c, v in enumerate(consts) if v is None]  # columns read from rows
        self.const_cols = _rows([c for c, v in enumerate(consts) if v is not None])
        self.cvec = np.array([v for v in consts if v is not None], dtype=float)
        self.cols = _rows(cols)
        self.S = _rows([slot[shared[c]] for c in cols])
        # A bias: one constant operand (the 1.0 it multiplies), with a copy of that constant
        # laid out in the row just after S. Then one matrix multiply over S and that row
        # adds the bias, and its gradient is a column of ∂W: no broadcast add, no row sum.
        self.S_ext: slice | None = None
        if type(self.S) is slice and len(self.cvec) == 1 \
                and tape.const_rows.get(self.S.stop) == _key(float(self.cvec[0])):  # fmt: skip
            self.S_ext = slice(self.S.start, self.S.stop + 1)
            self.cols_ext = _rows([*cols, *np.arange(k)[self.const_cols]])
        self.s_unique = _unique(self.S)
        self.needs_s = bool(any(tape.needs[shared[c]] for c in cols))  # ∂S: only if used
        self.theta, self.theta_grad = theta, theta_grad
        self.exclusive = False  # set by the tape: no other group writes these gradients
        self.assign_s = False  # set by plan(): the first to write the rows of S

    def plan(self, written: np.ndarray) -> None:
        """As :meth:`_OpGroup.plan`, for the rows of S."""
        if self.needs_s:
            rows = np.arange(len(written))[self.S]
            self.assign_s = self.s_unique and not written[rows].any()
            written[rows] = True

    def _weights(self) -> np.ndarray:
        return self.W if self.contiguous else self.theta[self.pids]

    def forward(self, values: np.ndarray, theta: np.ndarray) -> None:
        W = self._weights()
        out = values[self.out]
        if self.S_ext is not None:  # the bias comes with the product
            np.matmul(W[:, self.cols_ext], values[self.S_ext], out=out)
        else:
            np.matmul(W[:, self.cols], values[self.S], out=out)
            if len(self.cvec):  # constant operands (the 1.0 of a bias): a column each
                out += (W[:, self.const_cols] @ self.cvec)[:, None]
        if type(self.out) is not slice:
            values[self.out] = out

    def backward(self, values: np.ndarray, grads: np.ndarray, theta_grad: np.ndarray,
                 first: bool = False) -> None:  # fmt: skip
        G = grads[self.out]
        if self.S_ext is not None:  # every column of ∂W, the bias's included
            self._weight_grads(G, values[self.S_ext], self.cols_ext, theta_grad, first)
        else:
            self._weight_grads(G, values[self.S], self.cols, theta_grad, first)
            if len(self.cvec):
                self._add_weight_grads(np.outer(G.sum(axis=1), self.cvec), self.const_cols,
                                       theta_grad, first)  # fmt: skip
        if self.needs_s:
            self._input_grads(G, grads)

    def _weight_grads(self, G: np.ndarray, S: np.ndarray, cols: Any, theta_grad: np.ndarray,
                      first: bool) -> None:  # fmt: skip
        """∂W[:, cols] = G·Sᵀ: written in place when this group alone writes it."""
        if self.exclusive and first and type(cols) is slice:
            _outer_into(G, S, self.dW[:, cols])
        else:
            self._add_weight_grads(G @ S.T, cols, theta_grad, first)

    def _add_weight_grads(self, part: np.ndarray, cols: Any, theta_grad: np.ndarray,
                          first: bool) -> None:  # fmt: skip
        if self.exclusive and first:  # no one else writes this block: assign, no zeroing
            self.dW[:, cols] = part
        elif self.contiguous:
            self.dW[:, cols] += part  # columns are distinct: a fancy += adds each once
        else:
            np.add.at(theta_grad, self.pids[:, cols], part)

    def _input_grads(self, G: np.ndarray, grads: np.ndarray) -> None:
        """∂S = Wᵀ·G, into the rows of S."""
        W = self._weights()[:, self.cols]
        if self.assign_s and type(self.S) is slice:
            if len(W) == 1:  # one neuron (an output layer): an outer product, and
                np.multiply(W.T, G, out=grads[self.S])  # BLAS is 1.5x slower at it
            else:
                np.matmul(W.T, G, out=grads[self.S])
            return
        dS = W.T @ G
        if self.assign_s:
            grads[self.S] = dS
        elif self.s_unique:
            grads[self.S] += dS
        else:
            np.add.at(grads, np.asarray(self.S), dS)  # a slice is always unique


def _outer_into(G: np.ndarray, S: np.ndarray, out: np.ndarray) -> None:
    """out = G @ Sᵀ (Σ over the batch columns of G[:, b]·S[:, b])."""
    if G.shape[1] == 1:  # one example: an outer product, cheaper than a matrix multiply
        np.multiply(G, S.T, out=out)
    else:
        np.matmul(G, S.T, out=out)


def _id_orientation(args: Sequence[int], flat: Flat) -> tuple[int, ...] | None:
    """:func:`_layer_orientation` over node ids."""
    sides = []
    for a, b in zip(args[0::2], args[1::2]):
        pa, pb = flat.is_param(a), flat.is_param(b)
        if pa == pb:
            return None
        sides.append(0 if pa else 1)
    return tuple(sides)


def _shared_operands(args: Sequence[int], sides: Sequence[int]) -> tuple[int, ...]:
    """A layer-shaped dot's non-parameter operand of each pair: the rows the layer reads."""
    return tuple(args[2 * i + 1 - s] for i, s in enumerate(sides))


def _buckets(flat: Flat, instructions: list[Instruction]) -> list[list[Instruction]]:
    """Instructions grouped by topological level and rule (and, for layer-shaped dot
    nodes, by the rows they read), in an order that runs every operand first."""
    level = [0] * (flat.n_nodes + len(flat.constants))
    buckets: dict[tuple[Any, ...], list[Instruction]] = {}
    for ins in instructions:
        lvl = 1 + max((level[a] for a in ins.args), default=0)
        level[ins.out] = lvl
        key: tuple[Any, ...] = (lvl, ins.rule.name, len(ins.args), _key(ins.param))
        if ins.rule.name == "dot":
            sides = _id_orientation(ins.args, flat)
            if sides is not None:  # a layer: the neurons reading the same rows
                key += ("layer", sides, _shared_operands(ins.args, sides))
        buckets.setdefault(key, []).append(ins)
    return [group for _, group in sorted(buckets.items(), key=lambda kv: kv[0][0])]


def _layer_reads(flat: Flat, buckets: list[list[Instruction]]) -> dict[frozenset[int], float]:
    """For each layer that reads node rows and one constant (a bias's 1.0): the set of
    those node ids -> the constant."""
    out: dict[frozenset[int], float] = {}
    for bucket in buckets:
        ins = bucket[0]
        if not _is_layer(ins, flat):
            continue
        sides = _id_orientation(ins.args, flat)
        assert sides is not None
        shared = _shared_operands(ins.args, sides)
        consts = [c for c in map(flat.const_value, shared) if c is not None]
        nodes = [a for a in shared if flat.const_value(a) is None]
        if len(consts) == 1 and len(set(nodes)) == len(nodes):
            out.setdefault(frozenset(nodes), consts[0])
    return out


BLOCK_NUMBERS = 1 << 16  # numbers per group per batch block: about 256 KB, cache-sized


class Tape:
    """A traced graph scheduled for batches: groups of instructions over value slots (one
    row of B examples each) and the parameter vector.

    Example:
        >>> from autograd_bp import Value
        >>> x, w = Value(1.0), Value(0.5)
        >>> tape = Tape(Flat([(w * x).tanh(), (w * x).sin()], [x]))
        >>> [g.rule.name for g in tape.groups]  # both products in one group, then one each
        ['mul', 'tanh', 'sin']
    """

    def __init__(self, flat: Flat) -> None:
        self.flat = flat
        self.parameters = flat.parameters
        self.theta = np.zeros(flat.n_params)
        self.theta_grad = np.zeros(flat.n_params)
        buckets = _buckets(flat, flat.instructions)
        # Parameters read by the general path get a row of their own, filled per call.
        row_params = sorted({a for b in buckets for ins in b if not _is_layer(ins, flat)
                             for a in ins.args if flat.is_param(a)}
                            | {i for i in flat.output_ids if flat.is_param(i)})  # fmt: skip
        p = flat.n_params
        reads = _layer_reads(flat, buckets)
        slot: dict[int, int] = {}
        self.const_rows: dict[int, Any] = {}  # extra row -> the constant (key) it holds

        def place(ids: Sequence[int]) -> None:
            """Rows for ``ids`` — and after them a copy of the constant a layer reads with
            them (a bias's 1.0), so its matrix multiply takes the bias along."""
            for i in ids:
                slot[i] = len(slot) + len(self.const_rows)
            const = reads.get(frozenset(ids))
            if const is not None:
                self.const_rows[len(slot) + len(self.const_rows)] = _key(const)

        place(range(p, p + flat.n_inputs))  # inputs first: one slice assignment per call
        place([*row_params, *range(flat.n_nodes, flat.n_nodes + len(flat.constants))])
        for bucket in buckets:  # each group's results in consecutive rows
            place([ins.out for ins in bucket])
        self.slot = slot
        self.n_slots = len(slot) + len(self.const_rows)
        self.row_params = np.array(row_params, dtype=np.intp)
        self.row_param_slots = _rows([slot[i] for i in row_params])
        self.input_slots = slice(0, flat.n_inputs)
        self.output_slots = [slot[i] for i in flat.output_ids]
        self.needs = self._needs_grad()
        self.groups = [self._group(b) for b in buckets]
        self._backward_groups: dict[int, tuple[list[Any], np.ndarray, Any]] = {}
        self._buffers: dict[int, list[tuple[slice, np.ndarray, np.ndarray]]] = {}

    def _group(self, instructions: list[Instruction]) -> Any:
        if _is_layer(instructions[0], self.flat):
            return _MatmulGroup(instructions, self)
        return _OpGroup(instructions, self)

    def _needs_grad(self) -> np.ndarray:
        """Per node id: does a parameter's gradient flow through it?"""
        flat = self.flat
        needs = np.zeros(flat.n_nodes + len(flat.constants), dtype=bool)
        needs[: flat.n_params] = True
        for ins in flat.instructions:
            needs[ins.out] = any(needs[a] for a in ins.args)
        return needs

    def backward_groups(self, output: int) -> list[Any]:
        """The groups to run backward for one output: only instructions below that output
        that have a parameter below them (a node that does not reach the output gets no
        gradient at all — as in the dynamic engine, never ``local × 0``)."""
        if output not in self._backward_groups:
            flat = self.flat
            below = np.zeros(len(self.needs), dtype=bool)
            below[flat.output_ids[output]] = True
            for ins in reversed(flat.instructions):
                if below[ins.out]:
                    below[list(ins.args)] = True
            keep = [ins for ins in flat.instructions if below[ins.out] and self.needs[ins.out]]
            groups = [self._group(b) for b in _buckets(flat, keep)]
            self._backward_groups[output] = (groups, self._claim(groups),
                                             self._plan(groups, output))  # fmt: skip
        return self._backward_groups[output][0]

    def _plan(self, groups: list[Any], output: int) -> slice | np.ndarray:
        """Which gradient rows each group writes first; returns the rows that still need
        zeroing before a backward pass (the others are assigned before they are read)."""
        written = np.zeros(self.n_slots, dtype=bool)
        assigned = np.zeros(self.n_slots, dtype=bool)
        seed = self.output_slots[output]
        written[seed] = assigned[seed] = True
        for g in reversed(groups):
            before = written.copy()
            g.plan(written)
            fresh = written & ~before
            if isinstance(g, _MatmulGroup):
                first = g.assign_s
            else:
                first = all(g.assign[p] or not g.position_needs[p] for p in range(len(g.assign)))
            if first:
                assigned |= fresh
        return _rows(np.flatnonzero(~assigned).tolist())

    def _claim(self, groups: list[Any]) -> np.ndarray:
        """Let each layer whose weights no other group touches write its gradient block
        directly (no zeroing, no add); returns the parameters that still need zeroing."""
        writers = np.zeros(self.flat.n_params, dtype=np.intp)
        layers = [g for g in groups if isinstance(g, _MatmulGroup)]
        for g in layers:
            np.add.at(writers, g.pids.ravel(), 1)
        writers[self.row_params] += 1
        covered = np.zeros(self.flat.n_params, dtype=bool)
        for g in layers:
            g.exclusive = g.contiguous and bool((writers[g.pids] == 1).all())
            if g.exclusive:
                covered[g.pids.ravel()] = True
        return np.flatnonzero(~covered)

    def buffers(self, batch: int) -> list[tuple[slice, np.ndarray, np.ndarray]]:
        """The working arrays for a batch size, allocated once: the batch is cut into
        column blocks small enough for the cache (and for numpy's temporaries to stay off
        the page-fault path), each with its (slots, block) value and gradient arrays."""
        if batch not in self._buffers:
            size = self.block_size
            blocks = []
            for lo in range(0, batch, size):
                cols = min(size, batch - lo)
                values = np.zeros((self.n_slots, cols))
                for k, c in enumerate(self.flat.constants):
                    values[self.slot[self.flat.n_nodes + k]] = c
                for row, key in self.const_rows.items():
                    values[row] = float.fromhex(key)
                blocks.append((slice(lo, lo + cols), values, np.zeros((self.n_slots, cols))))
            self._buffers[batch] = blocks
        return self._buffers[batch]

    @property
    def block_size(self) -> int:
        """Columns per block: about 2^15 numbers in the largest group's block."""
        widest = max([len(range(self.n_slots)[g.out]) if type(g.out) is slice else len(g.out)
                      for g in self.groups] or [1])  # fmt: skip
        return int(min(8192, max(128, 2 ** int(np.log2(max(1, BLOCK_NUMBERS // widest))))))

    def forward(self, X: np.ndarray) -> list[tuple[slice, np.ndarray, np.ndarray]]:
        """Run the tape on a batch (``theta`` already set); returns the blocks."""
        blocks = self.buffers(len(X))
        theta = self.theta
        rows = theta[self.row_params][:, None] if len(self.row_params) else None
        for cols, values, _ in blocks:
            values[self.input_slots] = X[cols].T
            if rows is not None:
                values[self.row_param_slots] = rows
            # One example: op groups work on flat (slots,) views — 1-D gathers and adds are
            # several times cheaper in numpy than the same on (slots, 1) arrays.
            flat = values.reshape(-1) if values.shape[1] == 1 else values
            for group in self.groups:
                group.forward(flat if group.flat_ok else values, theta)
        return blocks

    def outputs(self, blocks: list[tuple[slice, np.ndarray, np.ndarray]]) -> np.ndarray:
        """The traced outputs per example: (B, n_outputs)."""
        return np.concatenate([v[self.output_slots] for _, v, _ in blocks], axis=1).T

    def backward(self, blocks: list[tuple[slice, np.ndarray, np.ndarray]], output: int,
                 seed: float) -> None:  # fmt: skip
        """The same schedule in reverse; the parameters' gradient goes to ``theta_grad``."""
        theta_grad = self.theta_grad
        groups = self.backward_groups(output)[::-1]
        to_zero = self._backward_groups[output][1]
        if len(to_zero) == len(theta_grad):
            theta_grad.fill(0.0)
        elif len(to_zero):
            theta_grad[to_zero] = 0.0
        zero = self._backward_groups[output][2]
        for k, (_, values, grads) in enumerate(blocks):
            grads[zero] = 0.0
            grads[self.output_slots[output]] = seed
            if values.shape[1] == 1:
                flat_v, flat_g = values.reshape(-1), grads.reshape(-1)
                for group in groups:
                    if group.flat_ok:
                        group.backward(flat_v, flat_g, theta_grad, k == 0)
                    else:
                        group.backward(values, grads, theta_grad, k == 0)
            else:
                for group in groups:
                    group.backward(values, grads, theta_grad, k == 0)
            if len(self.row_params):
                theta_grad[self.row_params] += grads[self.row_param_slots].sum(axis=1)


def _is_layer(ins: Instruction, flat: Flat) -> bool:
    return ins.rule.name == "dot" and _id_orientation(ins.args, flat) is not None


# ------------------------------------------------------------------------ tracing


def _example_row(example: Any, name: str) -> list[float]:
    """One example as a list of floats: a sequence of numbers or Values, or a 1-D array."""
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
        if _key(a) != _key(b):
            raise TraceError(
                f"compile: a number read from the data is frozen into the graph as a constant "
                f"({a!r} for one example, {b!r} for another), e.g. `x * x.data` or "
                "`max(x.data, 0)`; write it with Value ops so it is recomputed per example"
            )
    for p, q in zip(first.parameters, other.parameters):
        if p is not q and _key(p.data) != _key(q.data):
            raise TraceError(
                f"compile: a Value made inside the function holds data that changes with the "
                f"example ({p.data!r} vs {q.data!r}), e.g. `Value(x.data)`; it would be "
                "frozen. Use the input Value itself"
            )


def _flatten_checked(fn: Callable[..., Any], row: list[float], second: list[float] | None
                     ) -> tuple[Flat, list[Value], list[Value]]:  # fmt: skip
    """Trace ``row`` and the perturbed examples; the first trace, if they all agree."""
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


# ------------------------------------------------------------------------ the interface


def _as_batch(X: Any, n_inputs: int) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim == 1 and n_inputs == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[1] != n_inputs:
        raise ValueError(f"compiled: expected inputs of shape (B, {n_inputs}), got {X.shape}")
    if len(X) == 0:
        raise ValueError("compiled: the batch is empty")
    return X


class CompiledFunction:
    """A traced function, replayable on batches. See :func:`compile`.

    ``flat_data`` holds the parameters (in :attr:`parameters` order) as one float64 vector
    and ``flat_grad`` the gradient of the last :meth:`backward`; with ``sync=False`` the
    calls use and fill only these, for a training loop that keeps its weights as arrays
    (:meth:`write_back` then copies them into the Values).

    Example:
        >>> import numpy as np
        >>> from autograd_bp import Value
        >>> w = Value(2.0)
        >>> f = compile(lambda x: w * x * x, [1.0])
        >>> _ = f.backward(np.array([[1.0], [3.0]]), sync=False)
        >>> f.flat_grad.tolist(), w.grad      # ∂/∂w = mean of x², .grad untouched
        ([5.0], 0.0)
    """

    def __init__(self, fn: Callable[..., Any], example: Any, second_example: Any = None) -> None:
        row = _example_row(example, "example_inputs")
        second = (None if second_example is None
                  else _example_row(second_example, "second_example"))  # fmt: skip
        if second is not None and len(second) != len(row):
            raise TraceError(f"compile: second_example has {len(second)} inputs, "
                             f"example_inputs {len(row)}")  # fmt: skip
        flat, self.outputs, self.inputs = _flatten_checked(fn, row, second)
        self.tape = Tape(flat)
        self.flat_data, self.flat_grad = self.tape.theta, self.tape.theta_grad
        self.flat_data[:] = [p.data for p in self.parameters]
        self._lock = threading.Lock()  # one call at a time: the arrays are reused

    @property
    def parameters(self) -> list[Value]:
        """The non-input leaves: shared across the batch, their gradients written back."""
        return self.tape.parameters

    @property
    def n_outputs(self) -> int:
        """How many Values the traced function returned."""
        return len(self.outputs)

    def _pull(self) -> None:
        if self.parameters:  # read .data at every call: optimizers update it between calls
            self.flat_data[:] = [p.data for p in self.parameters]

    def __call__(self, X: Any, *, sync: bool = True) -> np.ndarray:
        """Outputs for each example: shape (B,) for one output, else (B, n_outputs)."""
        X = _as_batch(X, len(self.inputs))
        with self._lock:
            if sync:
                self._pull()
            out = self.tape.outputs(self.tape.forward(X))
        return out[:, 0] if out.shape[1] == 1 else out

    def backward(self, X: Any, *, output: int = 0, reduction: str = "mean",
                 sync: bool = True) -> tuple[float, np.ndarray]:  # fmt: skip
        """Forward and backward for the batch: the gradient of the reduced output
        (``"mean"`` or ``"sum"`` over the batch) wrt every parameter. Returns the reduced
        value and the per-example outputs (B, n_outputs).

        ``sync=True`` reads each parameter's ``.data`` first and adds the gradient to its
        ``.grad``; ``sync=False`` uses :attr:`flat_data` as it is and leaves the gradient in
        :attr:`flat_grad` only.
        """
        if reduction not in ("mean", "sum"):
            raise ValueError(f"backward: reduction must be 'mean' or 'sum', got {reduction!r}")
        if isinstance(output, (bool, np.bool_)) or not isinstance(output, (int, np.integer)) \
                or not 0 <= output < self.n_outputs:  # fmt: skip
            raise ValueError(f"backward: output must be an index in [0, {self.n_outputs}) of "
                             f"the traced outputs, got {output!r}")  # fmt: skip
        X = _as_batch(X, len(self.inputs))
        with self._lock:
            if sync:
                self._pull()
            blocks = self.tape.forward(X)
            weight = 1.0 / len(X) if reduction == "mean" else 1.0
            self.tape.backward(blocks, int(output), weight)
            if sync:
                _add_grads(self.parameters, self.flat_grad)
            outputs = self.tape.outputs(blocks)
        return float(outputs[:, int(output)].sum() * weight), outputs

    def write_back(self) -> None:
        """Copy :attr:`flat_data` into the parameters' ``.data``."""
        for p, v in zip(self.parameters, self.flat_data.tolist()):
            p.data = v


def _add_grads(parameters: list[Value], flat_grad: np.ndarray) -> None:
    """``.grad += gradient`` for each parameter, under the engine's lock: a compiled function
    and a ``backward`` (or two compiled functions) sharing a parameter in two threads
    accumulate as if one ran after the other."""
    with GRAPH_LOCK:
        for p, g in zip(parameters, flat_grad.tolist()):
            p.grad += g


def compile(  # noqa: A001 - the name the issue and users expect: autograd_bp.compile
    fn: Callable[..., Any],
    example_inputs: Sequence[Any],
    second_example: Sequence[Any] | None = None,
) -> CompiledFunction:
    """Trace ``fn`` (Values in, a Value or list of Values out) on ``example_inputs`` (a
    list, tuple or 1-D array of numbers) and return a :class:`CompiledFunction` that
    replays it on batches of shape (B, n_inputs).

    ``second_example`` (a real, different example) and several perturbed copies of the
    example are traced too: a graph, a folded constant or a leaf that changes with the
    data is refused with :class:`TraceError`. The traced graph (``.outputs``) is an
    ordinary Value graph: diagrams and the chain-rule trace work on it as on any other.

    Example:
        >>> compile(lambda x: x * x.data, [3.0])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        autograd_bp.compiled.tape.TraceError: compile: a number read from the data is ...
    """
    if isinstance(example_inputs, Value):
        example_inputs = [example_inputs]
    return CompiledFunction(fn, example_inputs, second_example)


class CompiledLoss:
    """``loss(model(x), target)`` compiled for training; see :func:`compile_loss`.

    Example:
        >>> from autograd_bp.losses import half_sse
        >>> from autograd_bp.nn import MLP
        >>> net = MLP(1, [1], seed=0)
        >>> step = compile_loss(net, half_sse, [[1.0], [2.0]], [[0.0], [1.0]])
        >>> loss, outputs = step.step([[1.0], [2.0]], [[0.0], [1.0]])
        >>> outputs.shape
        (2, 1)
    """

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

    def step(self, X: Any, T: Any, *, sync: bool = True) -> tuple[float, np.ndarray]:
        """Mean loss over the batch, with the parameters' ``.grad`` += its gradient (or
        only ``compiled.flat_grad`` with ``sync=False``); also returns the model's outputs
        per example (B, n_outputs)."""
        X = np.asarray(X, dtype=float).reshape(len(X), self.n_inputs)
        T = np.asarray(T, dtype=float).reshape(len(X), self.n_targets)
        loss, outs = self.compiled.backward(np.hstack([X, T]), output=0, sync=sync)
        return loss, outs[:, 1:]


def compile_loss(model: Any, loss: Callable[..., Value], X: Any, T: Any) -> CompiledLoss:
    """Compile ``loss(model(x), t)`` for training, tracing on the first two rows of (X, T).

    ``T`` has one row of targets per example (use one-hot rows for ``cross_entropy``).

    Example:
        >>> from autograd_bp.losses import cross_entropy
        >>> from autograd_bp.nn import MLP
        >>> net = MLP(2, [3], seed=0)
        >>> step = compile_loss(net, cross_entropy, [[0.0, 1.0]], [[0.0, 0.0, 1.0]])
        >>> round(step.step([[0.0, 1.0]], [[0.0, 0.0, 1.0]])[0], 6) == round(
        ...     cross_entropy(net([0.0, 1.0]), 2).data, 6)
        True
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
