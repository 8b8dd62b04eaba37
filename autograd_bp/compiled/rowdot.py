"""Attention-shaped dot products run as batched matrix multiplies.

A layer's ``dot`` nodes pair every input with a *parameter*, and
:class:`~autograd_bp.compiled.groups.MatmulGroup` runs them as ``W @ S``. Attention's dot
nodes pair two rows of *computed* nodes: a score ``dot(q_t, k_u)`` is a row of queries
against a row of keys, and a weighted sum ``dot(a_t, [v_0j, ..., v_tj])`` is a row of
softmax weights against a column of values (a prefix of it: position t sees 0..t). Run
one by one, every such node gathers its 2k operands from the tape's rows.

:func:`row_products` finds the matrix product hidden in a set of them: the distinct left
rows L (n_L × K, zeros after a shorter row's end), the distinct right rows R (K × n_R, a
shorter one read as the prefix of a longer one) and, for each node, its entry (l, r) of
L·R. :class:`RowDotGroup` then computes L·R for every example at once with one
``np.matmul`` over the batch, and backward ∂L = G·Rᵀ, ∂R = Lᵀ·G with G the nodes' upstream
gradients in their entries (zeros elsewhere). The padding zeros and unused entries add
exact zeros — as long as every number is finite; a block with an infinity or a NaN runs
the general path instead, node by node, so it gives what the dynamic engine gives. A set
whose product would compute more than :data:`MAX_WASTE` times the products its nodes need
is refused (None), and runs the general path.

Example:
    >>> from autograd_bp import Value, dot
    >>> from autograd_bp.compiled.trace import Flat
    >>> x = [Value(float(i)) for i in range(4)]
    >>> nodes = [dot(x[0:2], x[2:4]), dot(x[0:2], x[0:2]), dot(x[2:4], x[2:4])]
    >>> plan = row_products(Flat(nodes, x).instructions)
    >>> len(plan.lefts), len(plan.rights), plan.entries
    (2, 2, [(0, 1), (0, 0), (1, 1)])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .batchfirst import Source, buffer, maker_key
from .groups import Layout, OpGroup, RowSums, as_rows
from .trace import Instruction

__all__ = ["MAX_WASTE", "MIN_RUN", "PIECE_NUMBERS", "Pieces", "RowDotGroup", "RowProducts",
           "RowSumGroup", "batch_first", "row_products"]  # fmt: skip

MAX_WASTE = 4  # products computed per product needed, at most (causal attention: about 2)
PIECE_NUMBERS = 16384  # numbers per piece of a transposed copy (measured in whole steps)
MIN_RUN = 4  # rows per run, on average, for a copy run by run (Pieces.runs)


@dataclass(frozen=True)
class RowProducts:
    """Dot nodes as entries of one matrix product: ``lefts[l]`` and ``rights[r]`` are rows of
    node ids (a shorter right row stands for the prefix of a longer one), ``entries[i]`` the
    (l, r) of node i, ``width`` the longest row."""

    lefts: list[tuple[int, ...]]
    rights: list[tuple[int, ...]]
    entries: list[tuple[int, int]]
    width: int


def row_products(instructions: Sequence[Instruction]) -> RowProducts | None:
    """The matrix product that computes these ``dot`` instructions, or None when there is none
    worth computing (fewer than two nodes, two nodes in one entry, or too many unused
    entries: see :data:`MAX_WASTE`).

    Example:
        >>> from autograd_bp import Value, dot
        >>> from autograd_bp.compiled.trace import Flat
        >>> x = [Value(float(i)) for i in range(3)]
        >>> plan = row_products(Flat([dot(x[:1], x[1:2]), dot(x[:2], x[1:3])], x).instructions)
        >>> plan.rights, plan.entries  # one right row (x1, x2); (x1,) is read as its prefix
        ([(1, 2)], [(0, 0), (1, 0)])
    """
    if len(instructions) < 2 or any(ins.rule.name != "dot" for ins in instructions):
        return None
    left_index: dict[tuple[int, ...], int] = {}
    for ins in instructions:
        left_index.setdefault(ins.args[0::2], len(left_index))
    # the longest right rows first: each shorter one is read as the prefix of one of them
    prefix_index: dict[tuple[int, ...], int] = {}
    rights: list[tuple[int, ...]] = []
    # (in node order among equal lengths: deterministic, and evenly spaced when the nodes are)
    for row in sorted({ins.args[1::2] for ins in instructions}, key=lambda r: (-len(r), r)):
        if row not in prefix_index:
            for n in range(1, len(row) + 1):
                prefix_index.setdefault(row[:n], len(rights))
            rights.append(row)
    entries = [(left_index[ins.args[0::2]], prefix_index[ins.args[1::2]]) for ins in instructions]
    if len(set(entries)) != len(entries):
        return None
    width = max(len(row) for row in left_index)
    needed = sum(len(ins.args) // 2 for ins in instructions)
    if len(left_index) * len(rights) * width > MAX_WASTE * needed:
        return None
    return RowProducts(list(left_index), rights, entries, width)


def _padded(rows: list[tuple[int, ...]], width: int, slot: dict[int, int]
            ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(slots, padding mask), both (len(rows), width): the padding's slot is 0, never read."""
    slots = np.zeros((len(rows), width), dtype=np.intp)
    pad = np.ones((len(rows), width), dtype=bool)
    for i, row in enumerate(rows):
        slots[i, : len(row)] = [slot[a] for a in row]
        pad[i, : len(row)] = False
    return slots, pad


class Pieces:
    """Rows of the tape and the columns of a batch-first array they go with, cut into pieces
    for a transposed copy: about :data:`PIECE_NUMBERS` numbers each, so that each piece's
    strided reads stay in the cache (a transposed copy in one go runs 2–3× slower), and not
    more pieces than that (each costs a few numpy calls). Cut once per block width.

    Example:
        >>> Pieces(np.array([7, 8, 9]), None).cut(PIECE_NUMBERS // 2)  # two rows a piece
        [(slice(0, 2, None), slice(7, 9, None)), (slice(2, 3, None), slice(9, 10, None))]
        >>> Pieces(np.arange(7, 15), np.array([0, 1, 2, 3, 8, 9, 10, 11])).runs(1)  # two runs
        [(slice(0, 4, None), slice(7, 11, None)), (slice(8, 12, None), slice(11, 15, None))]
    """

    def __init__(self, slots: np.ndarray, columns: np.ndarray | None) -> None:
        self.slots, self.columns = slots, columns
        self._cut: dict[tuple[int, bool], list[tuple[Any, Any]]] = {}

    def cut(self, width: int) -> list[tuple[Any, Any]]:
        """The pieces for blocks of ``width`` examples: (columns, rows) pairs."""
        if (width, False) not in self._cut:
            size = max(1, PIECE_NUMBERS // width)
            pieces = []
            for lo in range(0, len(self.slots), size):
                hi = min(lo + size, len(self.slots))
                cols = slice(lo, hi) if self.columns is None else as_rows(self.columns[lo:hi])
                pieces.append((cols, as_rows(self.slots[lo:hi])))
            self._cut[width, False] = pieces
        return self._cut[width, False]

    def runs(self, width: int) -> list[tuple[Any, Any]]:
        """The pieces for writing the batch-first array (``out[:, cols] = rows.T``): each a
        run of rows whose columns are consecutive too, so both sides are slices, when the
        runs are long enough (at least :data:`MIN_RUN` on average; a causal triangle's rows
        are), else :meth:`cut`'s. numpy writes columns picked by an index array 2–3× slower
        than a strided slice (measured on attention's T = 16 and 32 triangles)."""
        if (width, True) not in self._cut:
            cols = np.arange(len(self.slots)) if self.columns is None else self.columns
            breaks = np.flatnonzero((np.diff(cols) != 1) | (np.diff(self.slots) != 1)) + 1
            bounds = [0, *breaks.tolist(), len(self.slots)]
            if len(self.slots) < MIN_RUN * (len(bounds) - 1):
                return self.cut(width)
            size = max(1, PIECE_NUMBERS // width)
            pieces = []
            for start, stop in zip(bounds[:-1], bounds[1:]):
                for lo in range(start, stop, size):
                    hi = min(lo + size, stop)
                    c, r = int(cols[lo]), int(self.slots[lo])
                    pieces.append((slice(c, c + hi - lo), slice(r, r + hi - lo)))
            self._cut[width, True] = pieces
        return self._cut[width, True]


def batch_first(values: np.ndarray, pieces: Pieces, out: np.ndarray) -> np.ndarray:
    """The tape's rows (slots, B) copied into ``out`` (B, n), run by run (:meth:`Pieces.runs`).

    Example:
        >>> values = np.arange(6.0).reshape(3, 2)
        >>> batch_first(values, Pieces(np.array([2, 0]), None), np.empty((2, 2))).tolist()
        [[4.0, 0.0], [5.0, 1.0]]
    """
    for cols, rows in pieces.runs(values.shape[1]):
        out[:, cols] = values[rows].T
    return out


def _real(slots: np.ndarray, pad: np.ndarray) -> Pieces:
    """The pieces that copy a padded matrix's real entries (all of them when unpadded)."""
    if not pad.any():
        return Pieces(slots.ravel(), None)
    real = np.flatnonzero(~pad.ravel())
    return Pieces(slots.ravel()[real], real)


class _Work:
    """One block's arrays, allocated once: numpy's large temporaries are fresh pages from the
    system at every call (page faults cost more than these matrix products)."""

    def __init__(self, batch: int, n_left: int, width: int, n_right: int) -> None:
        self.L = np.zeros((batch, n_left, width))  # the padding: zeros, never written
        self.R = np.zeros((batch, width, n_right))
        self.P = np.empty((batch, n_left, n_right))
        self.G = np.zeros((batch, n_left, n_right))  # entries no node reads stay 0
        self.dL = np.empty((batch, n_left, width))
        self.dR = np.empty((batch, width, n_right))
        self.Lm, self.Rm = self.L, self.R  # the L and R of the last product (maybe views)
        self.finite = False
        self.fresh = False  # L, R and P are this pass's (set by forward, used by backward)


class RowDotGroup:
    """Dot nodes of one level as one batched matrix product (see :func:`row_products`).

    Its operands L and R are read batch-first — as views of a maker's batch-first buffer when
    they live there (:mod:`~autograd_bp.compiled.batchfirst`: attention's q, k and v), else
    by a transposed copy of their rows; its products P are its own batch-first buffer, which
    a matrix group reading them takes as a view (``bf_out``), else they are copied into rows.
    """

    flat_ok = False

    def __init__(self, instructions: list[Instruction], plan: RowProducts, tape: Layout) -> None:
        slot = tape.slot
        self.n_left, self.n_right, self.width = len(plan.lefts), len(plan.rights), plan.width
        left_slots, left_pad = _padded(plan.lefts, plan.width, slot)
        right_slots, right_pad = _padded(plan.rights, plan.width, slot)
        self.left_pad = left_pad if left_pad.any() else None
        self.right_pad = right_pad.T if right_pad.any() else None  # R is K × n_R
        self.left_slots, self.right_slots = left_slots, right_slots.T
        # the copies take the real entries only: the padding stays the zeros L and R were
        # allocated with (no entry of it is ever written)
        self.left_chunks = _real(left_slots, left_pad)
        self.right_chunks = _real(right_slots.T, right_pad.T)
        entry = np.array([i * self.n_right + j for i, j in plan.entries], dtype=np.intp)
        self.out = as_rows([slot[ins.out] for ins in instructions])
        self.out_slots = np.array([slot[ins.out] for ins in instructions], dtype=np.intp)
        self.entry = entry
        self.out_chunks = Pieces(self.out_slots, entry)
        self.left_grads = _Targets(plan.lefts, plan.width, slot, tape.needs, left=True)
        self.right_grads = _Targets(plan.rights, plan.width, slot, tape.needs, left=False)
        self.assign, self.position_needs = [False], [True]  # it adds; never the first writer
        by_length: dict[int, list[Instruction]] = {}
        for ins in instructions:
            by_length.setdefault(len(ins.args), []).append(ins)
        self.fallback = [OpGroup(b, tape) for b in by_length.values()]
        # per block (keyed by its value array): L and R kept from forward to backward, and
        # whether L·R was finite (then so are L and R: every padding zero adds exactly 0);
        # kept in the tape, where the backward pass's group of the same nodes finds them
        self.work, self.key = tape.scratch, maker_key(tape.scratch, "rows", self.out_slots)
        self.out_order = np.full(self.n_left * self.n_right, -1, dtype=np.intp)
        self.out_order[entry] = self.out_slots  # P, batch-first: one column per entry
        self.reads = np.unique([slot[a] for ins in instructions for a in ins.args])
        # set by batchfirst.link_forward / link_backward: which matrices live batch-first,
        # whether P stays batch-first, whether its gradient arrives batch-first
        self.sources: dict[str, Source] = {}
        self.grad_sources: dict[str, Source] = {}
        self.bf_out = self.bf_grad = False

    def matrices(self) -> dict[str, np.ndarray]:
        """The operand matrices that may live batch-first: those without padding."""
        out = {}
        if self.left_pad is None:
            out["left"] = self.left_slots
        if self.right_pad is None:
            out["right"] = self.right_slots
        return out

    def row_reads(self) -> np.ndarray:
        """The slots it reads from rows (its operands not in a batch-first source)."""
        taken = [m.ravel() for name, m in self.matrices().items() if name in self.sources]
        return np.setdiff1d(self.reads, np.concatenate(taken)) if taken else self.reads

    def plan(self, written: np.ndarray) -> None:
        """Mark the rows it adds gradients to (it never assigns: see OpGroup.plan)."""
        written[self.left_grads.slots] = True
        written[self.right_grads.slots] = True

    def _block(self, values: np.ndarray) -> _Work:
        work = self.work.get((self.key, id(values)))
        if work is None or len(work.L) != values.shape[1]:
            work = _Work(values.shape[1], self.n_left, self.width, self.n_right)
            self.work[self.key, id(values)] = work
            B = values.shape[1]  # P and G are this group's batch-first buffers
            self.work["bf", self.key, id(values)] = (work.P.reshape(B, -1), work.G.reshape(B, -1))
        return work

    def _operand(self, values: np.ndarray, name: str, chunks: Pieces, into: np.ndarray
                 ) -> np.ndarray:  # fmt: skip
        """L or R for the block, (B, ·, ·): a view of a batch-first buffer, or a transposed
        copy of its rows' real entries into ``into`` (whose padding is zeros)."""
        src = self.sources.get(name)
        if src is not None:
            return src.read(buffer(self.work, src.key, values))
        batch_first(values, chunks, into.reshape(len(into), -1))
        return into

    def _product(self, values: np.ndarray, work: _Work) -> None:
        """L (B, n_L, K) and R (B, K, n_R), padding zeroed, and P = L·R, into ``work``."""
        work.Lm = self._operand(values, "left", self.left_chunks, work.L)
        work.Rm = self._operand(values, "right", self.right_chunks, work.R)
        with np.errstate(invalid="ignore", over="ignore"):  # checked just below
            np.matmul(work.Lm, work.Rm, out=work.P)
        work.finite = bool(np.isfinite(work.P).all())
        work.fresh = True

    def forward(self, values: np.ndarray, theta: np.ndarray) -> None:
        work = self._block(values)
        self._product(values, work)
        if not work.finite:  # an infinity or NaN: node by node, as the engine
            self._rows_of_sources(values, work)
            for group in self.fallback:
                group.forward(values, theta)
            if self.bf_out:
                work.P.reshape(len(work.P), -1)[:, self.entry] = values[self.out_slots].T
            return
        if self.bf_out:  # P is where its readers find it
            return
        P = work.P.reshape(len(work.P), -1)
        for cols, rows in self.out_chunks.cut(values.shape[1]):
            values[rows] = P[:, cols].T

    def _rows_of_sources(self, values: np.ndarray, work: _Work) -> None:
        """The operands that live batch-first copied into their rows, for the general path."""
        for name, matrix in (("left", work.Lm), ("right", work.Rm)):
            if name in self.sources:
                values[self.matrices()[name].ravel()] = matrix.reshape(len(matrix), -1).T

    def backward(self, values: np.ndarray, grads: np.ndarray, theta_grad: np.ndarray,
                 first: bool = False) -> None:  # fmt: skip
        work = self._block(values)  # L, R and P as the forward pass of this block left them
        if not work.fresh:  # no forward group of these very nodes ran: compute them again
            self._product(values, work)
        work.fresh = False
        G = work.G.reshape(len(work.G), -1)
        if not self.bf_grad:  # else its readers added it there already
            batch_first(grads, self.out_chunks, G)
        if not (work.finite and np.isfinite(G).all()):
            self._general_backward(values, grads, theta_grad, first, work)
            return
        left, right = self.grad_sources.get("left"), self.grad_sources.get("right")
        if left is not None or len(self.left_grads.slots):  # ∂L = G·Rᵀ
            self._grad(work.G, work.Rm.transpose(0, 2, 1), left, values, grads, work.dL,
                       self.left_grads)  # fmt: skip
        if right is not None or len(self.right_grads.slots):  # ∂R = Lᵀ·G
            self._grad(work.Lm.transpose(0, 2, 1), work.G, right, values, grads, work.dR,
                       self.right_grads)  # fmt: skip

    def _grad(self, a: np.ndarray, b: np.ndarray, src: Source | None, values: np.ndarray,
              grads: np.ndarray, own: np.ndarray, targets: _Targets) -> None:  # fmt: skip
        """An operand's gradient a·b, where it goes: straight into its maker's batch-first
        gradient when this is that gradient's only writer and BLAS can write that view (row
        by row, or column by column as bᵀ·aᵀ); else computed into ``own`` and added to the
        maker's buffer, or to the rows."""
        if src is None:
            np.matmul(a, b, out=own)
            targets.add(grads, own)
            return
        buf = buffer(self.work, src.key, values, grad=True)
        if src.sole and src.row_major:
            np.matmul(a, b, out=src.read(buf))
        elif src.sole and src.col_major:
            np.matmul(b.transpose(0, 2, 1), a.transpose(0, 2, 1),
                      out=src.read(buf).transpose(0, 2, 1))  # fmt: skip
        else:
            np.matmul(a, b, out=own)
            src.add(buf, own)

    def _general_backward(self, values: np.ndarray, grads: np.ndarray, theta_grad: np.ndarray,
                          first: bool, work: _Work) -> None:  # fmt: skip
        """An infinity or NaN: node by node, on rows — the batch-first operands and gradients
        copied into rows and back around it."""
        G = work.G.reshape(len(work.G), -1)
        if self.bf_grad:
            grads[self.out_slots] = G[:, self.entry].T
        self._rows_of_sources(values, work)
        for src_name in self.grad_sources:
            grads[self.matrices()[src_name].ravel()] = 0.0  # rows no one else writes
        G.fill(0.0)  # keep the unread entries zero for the next pass
        for group in self.fallback:
            group.backward(values, grads, theta_grad, first)
        for name, src in self.grad_sources.items():
            slots = self.matrices()[name]
            d = grads[slots.ravel()].T.reshape(values.shape[1], *slots.shape)
            buf = buffer(self.work, src.key, values, grad=True)
            if src.sole and (src.row_major or src.col_major):  # not zeroed: assign
                src.read(buf)[...] = d
            else:
                src.add(buf, d)


class _Targets:
    """Where the gradient of L (or R) goes: the entries that are nodes needing one."""

    def __init__(self, rows: list[tuple[int, ...]], width: int, slot: dict[int, int],
                 needs: np.ndarray, left: bool) -> None:  # fmt: skip
        ids = np.full((len(rows), width), -1, dtype=np.intp)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        if not left:
            ids = ids.T  # R is K × n_R
        take = ((ids >= 0) & needs[np.maximum(ids, 0)]).ravel()
        self.slots = np.array([slot[int(i)] for i in ids.ravel()[take]], dtype=np.intp)
        self.columns = np.flatnonzero(take)
        unique = len(np.unique(self.slots)) == len(self.slots)
        self.repeated = None if unique else RowSums(self.slots)
        self.chunks = Pieces(self.slots, self.columns)

    def add(self, grads: np.ndarray, d: np.ndarray) -> None:
        """grads[slots] += the taken entries of d (B, ...), a few rows at a time."""
        flat = d.reshape(len(d), -1)
        if self.repeated is not None:
            self.repeated.add(grads, flat[:, self.columns].T)
            return
        for cols, rows in self.chunks.cut(grads.shape[1]):
            grads[rows] += flat[:, cols].T


class RowSumGroup:
    """The ``sum`` nodes of one level, of any number of terms each — a softmax's denominators,
    row t summing t + 1 exponentials — as one ``np.add.reduceat`` over all their terms;
    backward, every term gets its sum's gradient (``np.repeat``). Nodes with no term are
    left to the general path (:meth:`fits`).

    Example:
        >>> from autograd_bp import Value, sum_values
        >>> from autograd_bp.compiled.schedule import Tape
        >>> from autograd_bp.compiled.trace import Flat
        >>> x = [Value(1.0), Value(2.0), Value(3.0)]
        >>> tape = Tape(Flat([sum_values(x[:1]) * sum_values(x)], x))
        >>> [type(g).__name__ for g in tape.groups]
        ['RowSumGroup', 'OpGroup']
    """

    flat_ok = False

    def __init__(self, instructions: list[Instruction], tape: Layout) -> None:
        slot = tape.slot
        ids = [a for ins in instructions for a in ins.args]
        self.counts = np.array([len(ins.args) for ins in instructions], dtype=np.intp)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.intp)
        self.terms = as_rows([slot[a] for a in ids])
        self.out = as_rows([slot[ins.out] for ins in instructions])
        needs = tape.needs[ids]
        self.take = None if needs.all() else np.flatnonzero(needs)
        self.term_slots = np.array([slot[a] for a in ids], dtype=np.intp)
        self.targets = self.term_slots[needs]
        self.target_rows = as_rows(self.targets)  # a slice when consecutive: no gather
        self.unique = len(np.unique(self.targets)) == len(self.targets)
        self.repeated = None if self.unique else RowSums(self.targets)
        self.assign, self.position_needs = [False], [True]  # set by plan()

    @staticmethod
    def fits(instructions: list[Instruction]) -> bool:
        """Sum nodes, each of at least one term."""
        return all(ins.rule.name == "sum" and ins.args for ins in instructions)

    def row_reads(self) -> np.ndarray:
        """Every term's slot."""
        return self.term_slots

    def plan(self, written: np.ndarray) -> None:
        """Mark the rows it writes gradients to; it assigns them when it is their first
        writer and each term is a different node (see OpGroup.plan)."""
        self.assign = [self.unique and not written[self.targets].any()]
        written[self.targets] = True

    def forward(self, values: np.ndarray, theta: np.ndarray) -> None:
        if len(self.counts) == 1 and type(self.out) is slice:  # one sum (a loss's): the
            # rule's own forward, ``sum(axis=0)``, about 3× faster than a reduceat of one
            np.sum(values[self.terms], axis=0, keepdims=True, out=values[self.out])
            return
        values[self.out] = np.add.reduceat(values[self.terms], self.starts, axis=0)

    def backward(self, values: np.ndarray, grads: np.ndarray, theta_grad: np.ndarray,
                 first: bool = False) -> None:  # fmt: skip
        if len(self.counts) == 1 and self.take is None:  # one sum: its gradient, broadcast
            g = grads[self.out]
        else:
            g = np.repeat(grads[self.out], self.counts, axis=0)
            if self.take is not None:
                g = g[self.take]
        if self.assign[0]:
            grads[self.target_rows] = g
        elif self.repeated is None:
            grads[self.target_rows] += g
        else:
            self.repeated.add(grads, np.broadcast_to(g, (len(self.targets), *g.shape[1:])))
