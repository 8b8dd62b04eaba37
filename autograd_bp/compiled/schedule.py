"""The tape: a flat program laid out in rows and scheduled as groups, run on batches.

:class:`Tape` decides *where* every node lives and *in which order* the groups run:

* rows — the inputs first (one slice assignment per call, when a group reads them there),
  then the parameters the general path reads and the folded constants, then each group's
  results in consecutive rows (so the next group reads a slice, not a gather), and after a
  layer's inputs a copy of its bias's 1.0 (so the matrix multiply takes the bias along);
* groups — instructions bucketed by topological level and rule, each run
  by an :class:`~autograd_bp.compiled.groups.OpGroup` or a
  :class:`~autograd_bp.compiled.groups.MatmulGroup` (one layer at several positions: a
  :class:`~autograd_bp.compiled.groups.SharedLayerGroup`; rows against rows and sums of any
  length: a :class:`~autograd_bp.compiled.rowdot.RowDotGroup` and a
  :class:`~autograd_bp.compiled.rowdot.RowSumGroup`); backward runs, per output, only the
  groups below that output that a parameter's gradient flows through;
* blocks — a batch is cut into column blocks of about :data:`BLOCK_NUMBERS` numbers per
  group, cache-sized, whose working arrays are allocated once per batch size.

Example:
    >>> from autograd_bp import Value
    >>> from autograd_bp.compiled.trace import Flat
    >>> x, w = Value(1.0), Value(0.5)
    >>> tape = Tape(Flat([(w * x).tanh()], [x]))
    >>> out = tape.outputs(tape.forward(np.array([[0.0], [2.0]])))  # theta is still 0
    >>> out.ravel().tolist()
    [0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .batchfirst import INPUTS, buffer, link_backward, link_forward
from .groups import MatmulGroup, OpGroup, SharedLayerGroup, as_rows
from .rowdot import RowDotGroup, RowSumGroup, row_products
from .trace import Flat, Instruction, float_key, id_orientation, is_layer, shared_operands

__all__ = ["BLOCK_NUMBERS", "Tape"]


def _buckets(flat: Flat, instructions: list[Instruction]) -> list[list[Instruction]]:
    """Instructions grouped by topological level and rule (and, for layer-shaped dot
    nodes, by the rows they read), in an order that runs every operand first."""
    level = [0] * (flat.n_nodes + len(flat.constants))
    buckets: dict[tuple[Any, ...], list[Instruction]] = {}
    for ins in instructions:
        lvl = 1 + max((level[a] for a in ins.args), default=0)
        level[ins.out] = lvl
        key: tuple[Any, ...] = (lvl, ins.rule.name, len(ins.args), float_key(ins.param))
        if ins.rule.name == "dot":
            sides = id_orientation(ins.args, flat)
            if sides is not None:  # a layer: the neurons reading the same rows
                key += ("layer", sides, shared_operands(ins.args, sides))
            else:  # rows against rows (attention), of any length: maybe one matrix product
                key = (lvl, "dot", "rows")
        elif ins.rule.name == "sum" and ins.args:  # sums of any length: one reduceat
            key = (lvl, "sum", "rows")
        buckets.setdefault(key, []).append(ins)
    out: list[list[Instruction]] = []
    for key, group in _shared_layers(flat, sorted(buckets.items(), key=lambda kv: kv[0][0])):
        if key[1:] == ("dot", "rows") and row_products(group) is None:
            by_length: dict[int, list[Instruction]] = {}  # no product: one op group per length
            for ins in group:
                by_length.setdefault(len(ins.args), []).append(ins)
            out += by_length.values()
        else:
            out.append(group)
    return out


def _shared_layers(flat: Flat, buckets: list[tuple[tuple[Any, ...], list[Instruction]]]
                   ) -> list[tuple[tuple[Any, ...], list[Instruction]]]:  # fmt: skip
    """Layer buckets of one level with the same weights (one layer at several positions, as
    attention's projections) joined, position after position, into one bucket."""
    out: list[tuple[tuple[Any, ...], list[Instruction]]] = []
    joined: dict[tuple[Any, ...], list[Instruction]] = {}
    for key, bucket in buckets:
        if "layer" not in key:
            out.append((key, bucket))
            continue
        sides = key[5]  # each position's neurons in the order of their weights
        bucket = sorted(bucket, key=lambda ins: ins.args[sides[0]])
        weights = tuple(tuple(ins.args[2 * i + s] for i, s in enumerate(sides)) for ins in bucket)
        wkey = (key[0], "shared layer", sides, weights)
        if wkey not in joined:
            joined[wkey] = []
            out.append((wkey, joined[wkey]))
        joined[wkey] += bucket
    result = []
    for key, bucket in out:
        positions = _positions(flat, bucket) if key[1] == "shared layer" else []
        if len(positions) > 1 and not SharedLayerGroup.fits(positions, flat):
            result += [(key, p) for p in positions]  # one matrix multiply per position
        else:
            result.append((key, bucket))
    return result


def _positions(flat: Flat, instructions: list[Instruction]) -> list[list[Instruction]]:
    """A layer bucket split by the rows its neurons read (one list per position, in order)."""
    sides = id_orientation(instructions[0].args, flat)
    assert sides is not None
    by_reads: dict[tuple[int, ...], list[Instruction]] = {}
    for ins in instructions:
        by_reads.setdefault(shared_operands(ins.args, sides), []).append(ins)
    return list(by_reads.values())


def _layer_reads(flat: Flat, buckets: list[list[Instruction]]) -> dict[frozenset[int], float]:
    """For each layer that reads node rows and one constant (a bias's 1.0): the set of
    those node ids -> the constant."""
    out: dict[frozenset[int], float] = {}
    for bucket in buckets:
        ins = bucket[0]
        if not is_layer(ins, flat):
            continue
        sides = id_orientation(ins.args, flat)
        assert sides is not None
        shared = shared_operands(ins.args, sides)
        consts = [c for c in map(flat.const_value, shared) if c is not None]
        nodes = [a for a in shared if flat.const_value(a) is None]
        if len(consts) == 1 and len(set(nodes)) == len(nodes):
            out.setdefault(frozenset(nodes), consts[0])
    return out


def _assigned_rows(group: Any) -> list[Any]:
    """The gradient rows a group (already planned) assigns rather than adds to."""
    if isinstance(group, MatmulGroup):
        return [group.S] if group.assign_s else []
    if isinstance(group, OpGroup):
        return [group.table[p, :1] if group.shared[p] else group.table[p]
                for p in range(len(group.assign)) if group.assign[p]]  # fmt: skip
    if isinstance(group, RowSumGroup):
        return [group.targets] if group.assign[0] else []
    return []


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
        row_params = sorted({a for b in buckets for ins in b if not is_layer(ins, flat)
                             for a in ins.args if flat.is_param(a)}
                            | {i for i in flat.output_ids if flat.is_param(i)})  # fmt: skip
        p = flat.n_params
        reads = _layer_reads(flat, buckets)
        slot: dict[int, int] = {}
        self.const_rows: dict[int, Any] = {}  # extra row -> the constant (key) it holds
        self.scratch: dict[Any, Any] = {}  # arrays groups keep from forward to backward

        def place(ids: Sequence[int]) -> None:
            """Rows for ``ids`` — and after them a copy of the constant a layer reads with
            them (a bias's 1.0), so its matrix multiply takes the bias along."""
            for i in ids:
                slot[i] = len(slot) + len(self.const_rows)
            const = reads.get(frozenset(ids))
            if const is not None:
                self.const_rows[len(slot) + len(self.const_rows)] = float_key(const)

        place(range(p, p + flat.n_inputs))  # inputs first: one slice assignment per call
        place([*row_params, *range(flat.n_nodes, flat.n_nodes + len(flat.constants))])
        for bucket in buckets:  # each group's results in consecutive rows
            place([ins.out for ins in bucket])
        self.slot = slot
        self.n_slots = len(slot) + len(self.const_rows)
        self.row_params = np.array(row_params, dtype=np.intp)
        self.row_param_slots = as_rows([slot[i] for i in row_params])
        self.input_slots = slice(0, flat.n_inputs)
        self.output_slots = [slot[i] for i in flat.output_ids]
        self.needs = self._needs_grad()
        self.groups = [self._group(b) for b in buckets]
        # which matrix groups keep their nodes batch-first for the next (see batchfirst)
        self.columns = link_forward(self.groups, self.output_slots, flat.n_inputs)
        # The inputs' rows are filled only when a group reads them there: attention's
        # projections read the batch itself, batch-first, and the transposed copy of the
        # whole batch into rows cost 3–4 % of its step. (A backward pass that reads them
        # fills them then: see backward_groups.)
        self.inputs_in_rows = self._reads_inputs(self.groups) or any(
            s < flat.n_inputs for s in self.output_slots)  # fmt: skip
        self._backward_groups: dict[int, tuple[list[Any], np.ndarray, Any, bool, bool]] = {}
        self._buffers: dict[tuple[int, bool], list[tuple[slice, np.ndarray, np.ndarray]]] = {}

    def _group(self, instructions: list[Instruction]) -> Any:
        if is_layer(instructions[0], self.flat):
            positions = _positions(self.flat, instructions)
            if len(positions) == 1:
                return MatmulGroup(instructions, self)
            return SharedLayerGroup.build(positions, self)
        if RowSumGroup.fits(instructions):
            return RowSumGroup(instructions, self)
        products = row_products(instructions)
        if products is not None:
            return RowDotGroup(instructions, products, self)
        return OpGroup(instructions, self)

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
            rows = link_backward(groups, self.output_slots, self.columns)
            late = not self.inputs_in_rows and self._reads_inputs(groups)
            self._backward_groups[output] = (groups, self._claim(groups),
                                             self._plan(groups, output), rows, late)  # fmt: skip
        return self._backward_groups[output][0]

    def _reads_inputs(self, groups: list[Any]) -> bool:
        """Whether one of these groups (their sources linked) reads an input from its row."""
        n = self.flat.n_inputs
        return any(bool((np.asarray(g.row_reads()) < n).any()) for g in groups)

    def _plan(self, groups: list[Any], output: int) -> slice | np.ndarray:
        """Which gradient rows each group writes first; returns the rows that still need
        zeroing before a backward pass (the others are assigned before they are read)."""
        written = np.zeros(self.n_slots, dtype=bool)
        assigned = np.zeros(self.n_slots, dtype=bool)
        seed = self.output_slots[output]
        written[seed] = assigned[seed] = True
        for g in reversed(groups):
            g.plan(written)
            for rows in _assigned_rows(g):  # written first by an assignment, added to after
                assigned[rows] = True
        # Only rows some group reads need zeroing: the results of the groups that take their
        # gradient from rows, and the parameters' rows. The rest (the inputs, nodes kept
        # batch-first) no one reads.
        read = np.zeros(self.n_slots, dtype=bool)
        every = np.arange(self.n_slots)
        for g in groups:
            if not getattr(g, "bf_grad", False):
                read[every[g.out].ravel()] = True
        read[self.row_param_slots] = True
        rows = np.flatnonzero(read & ~assigned)
        if len(rows) > len(assigned) // 2:  # most rows: one memset beats a gather of them
            return slice(0, len(assigned))
        return as_rows(rows.tolist())

    def _claim(self, groups: list[Any]) -> np.ndarray:
        """Let each layer whose weights no other group touches write its gradient block
        directly (no zeroing, no add); returns the parameters that still need zeroing."""
        writers = np.zeros(self.flat.n_params, dtype=np.intp)
        layers = [g for g in groups if isinstance(g, MatmulGroup)]
        for g in layers:
            np.add.at(writers, g.pids.ravel(), 1)
        writers[self.row_params] += 1
        for g in groups:
            if isinstance(g, SharedLayerGroup):
                writers[g.pids] += 1
        covered = np.zeros(self.flat.n_params, dtype=bool)
        for g in layers:
            g.exclusive = g.contiguous and bool((writers[g.pids] == 1).all())
            if g.exclusive:
                covered[g.pids.ravel()] = True
        return np.flatnonzero(~covered)

    def buffers(self, batch: int, shared: bool = False
                ) -> list[tuple[slice, np.ndarray, np.ndarray]]:  # fmt: skip
        """The working arrays for a batch size, allocated once: the batch is cut into
        column blocks small enough for the cache (and for numpy's temporaries to stay off
        the page-fault path), each with its (slots, block) value and gradient arrays.
        ``shared``: the blocks of one width share one pair (and the batch-first buffers
        kept by their id), for a pass that finishes a block before it starts the next."""
        if (batch, shared) not in self._buffers:
            size = self.block_size
            blocks, made = [], {}
            for lo in range(0, batch, size):
                cols = min(size, batch - lo)
                if cols not in made or not shared:
                    made[cols] = (self._values(cols), np.zeros((self.n_slots, cols)))
                blocks.append((slice(lo, lo + cols), *made[cols]))
            self._buffers[batch, shared] = blocks
        return self._buffers[batch, shared]

    def _values(self, cols: int) -> np.ndarray:
        """A value array for a block of ``cols`` examples, its constants' rows filled."""
        values = np.zeros((self.n_slots, cols))
        for k, c in enumerate(self.flat.constants):
            values[self.slot[self.flat.n_nodes + k]] = c
        for row, key in self.const_rows.items():
            values[row] = float.fromhex(key)
        return values

    @property
    def block_size(self) -> int:
        """Columns per block: about 2^15 numbers in the largest group's block."""
        widest = max([len(range(self.n_slots)[g.out]) if type(g.out) is slice else len(g.out)
                      for g in self.groups] or [1])  # fmt: skip
        return int(min(8192, max(128, 2 ** int(np.log2(max(1, BLOCK_NUMBERS // widest))))))

    def forward(self, X: np.ndarray) -> list[tuple[slice, np.ndarray, np.ndarray]]:
        """Run the tape on a batch (``theta`` already set); returns the blocks."""
        blocks = self.buffers(len(X))
        for cols, values, _ in blocks:
            self._forward_block(X, cols, values)
        return blocks

    def _forward_block(self, X: np.ndarray, cols: slice, values: np.ndarray) -> None:
        theta = self.theta
        if self.inputs_in_rows:
            values[self.input_slots] = X[cols].T
        self.scratch["bf", INPUTS, id(values)] = (X[cols], None)
        if len(self.row_params):
            values[self.row_param_slots] = theta[self.row_params][:, None]
        # One example: op groups work on flat (slots,) views — 1-D gathers and adds are
        # several times cheaper in numpy than the same on (slots, 1) arrays.
        flat = values.reshape(-1) if values.shape[1] == 1 else values
        for group in self.groups:
            group.forward(flat if group.flat_ok else values, theta)

    def forward_backward(self, X: np.ndarray, output: int, seed: float
                         ) -> tuple[list[tuple[slice, np.ndarray, np.ndarray]], np.ndarray]:
        """:meth:`forward` then :meth:`backward`, block by block, every block in the same
        arrays (``buffers(shared=True)``), still in the cache: attention at B = 1024 ran
        12–22 % faster so. Returns the blocks (for :meth:`release`) and the traced outputs
        per example (B, n_outputs), taken from each block before the next overwrites it."""
        blocks = self.buffers(len(X), shared=True)
        groups, makers = self._start_backward(output)
        outputs = []
        for k, (cols, values, grads) in enumerate(blocks):
            self._forward_block(X, cols, values)
            outputs.append(values[self.output_slots])  # a copy (an index array)
            self._backward_block(groups, makers, output, seed, k == 0, values, grads)
        return blocks, np.concatenate(outputs, axis=1).T

    def release(self, blocks: list[tuple[slice, np.ndarray, np.ndarray]]) -> None:
        """Drop the references to the caller's batch that the blocks kept (the batch is
        the inputs' batch-first buffer during a call, and only then)."""
        for _, values, _ in blocks:
            self.scratch.pop(("bf", INPUTS, id(values)), None)

    def _rows_of_batch_first(self, values: np.ndarray) -> None:
        """Copy every node the forward pass kept batch-first only into its row."""
        for key, slots in self.columns.keys.items():
            if key != INPUTS:
                values[slots] = buffer(self.scratch, key, values)[:, self.columns.columns(key)].T

    def outputs(self, blocks: list[tuple[slice, np.ndarray, np.ndarray]]) -> np.ndarray:
        """The traced outputs per example: (B, n_outputs)."""
        return np.concatenate([v[self.output_slots] for _, v, _ in blocks], axis=1).T

    def backward(self, blocks: list[tuple[slice, np.ndarray, np.ndarray]], output: int,
                 seed: float) -> None:  # fmt: skip
        """The same schedule in reverse; the parameters' gradient goes to ``theta_grad``."""
        groups, makers = self._start_backward(output)
        for k, (_, values, grads) in enumerate(blocks):
            self._backward_block(groups, makers, output, seed, k == 0, values, grads)

    def _start_backward(self, output: int) -> tuple[list[Any], list[Any]]:
        """The groups of a backward pass in the order they run, and those whose batch-first
        gradient needs zeroing; zeroes the parameters' gradients no layer assigns."""
        groups = self.backward_groups(output)[::-1]
        to_zero = self._backward_groups[output][1]
        if len(to_zero) == len(self.theta_grad):
            self.theta_grad.fill(0.0)
        elif len(to_zero):
            self.theta_grad[to_zero] = 0.0
        return groups, [g for g in groups if getattr(g, "bf_grad", False) and g.zero_grad]

    def _backward_block(self, groups: list[Any], makers: list[Any], output: int, seed: float,
                        first: bool, values: np.ndarray, grads: np.ndarray) -> None:  # fmt: skip
        theta_grad = self.theta_grad
        zero, rows, late_inputs = self._backward_groups[output][2:]
        grads[zero] = 0.0
        grads[self.output_slots[output]] = seed
        for g in makers:  # their readers add into these
            buffer(self.scratch, g.key, values, grad=True).fill(0.0)
        if rows:  # a group of this pass reads, from rows, nodes kept batch-first only
            self._rows_of_batch_first(values)
        if late_inputs:  # a group of this pass reads inputs the forward pass left out
            values[self.input_slots] = buffer(self.scratch, INPUTS, values).T
        if values.shape[1] == 1:
            flat_v, flat_g = values.reshape(-1), grads.reshape(-1)
            for group in groups:
                if group.flat_ok:
                    group.backward(flat_v, flat_g, theta_grad, first)
                else:
                    group.backward(values, grads, theta_grad, first)
        else:
            for group in groups:
                group.backward(values, grads, theta_grad, first)
        if len(self.row_params):
            theta_grad[self.row_params] += grads[self.row_param_slots].sum(axis=1)
