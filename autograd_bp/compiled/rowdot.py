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
    (2, 2, [(0, 0), (0, 1), (1, 0)])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .groups import Layout, OpGroup, as_rows
from .trace import Instruction

__all__ = ["MAX_WASTE", "RowDotGroup", "RowProducts", "batch_first", "row_products"]

MAX_WASTE = 4  # products computed per product needed, at most (causal attention: about 2)
_CHUNK = 32  # rows per transposed copy: a block of rows that stays in the cache


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
        >>> row_products(Flat([dot(x[:1], x[1:2]), dot(x[:2], x[1:3])], x).instructions).rights
        [(4, 5)]
    """
    if len(instructions) < 2 or any(ins.rule.name != "dot" for ins in instructions):
        return None
    left_index: dict[tuple[int, ...], int] = {}
    for ins in instructions:
        left_index.setdefault(ins.args[0::2], len(left_index))
    # the longest right rows first: each shorter one is read as the prefix of one of them
    prefix_index: dict[tuple[int, ...], int] = {}
    rights: list[tuple[int, ...]] = []
    for row in sorted({ins.args[1::2] for ins in instructions}, key=len, reverse=True):
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
    """(slots, padding mask), both (len(rows), width): the padding reads slot 0 and is zeroed."""
    slots = np.zeros((len(rows), width), dtype=np.intp)
    pad = np.ones((len(rows), width), dtype=bool)
    for i, row in enumerate(rows):
        slots[i, : len(row)] = [slot[a] for a in row]
        pad[i, : len(row)] = False
    return slots, pad


def _chunks(slots: np.ndarray) -> list[tuple[slice, slice | np.ndarray]]:
    """(columns of the batch-first copy, rows of the tape) in cache-sized pieces."""
    return [(slice(lo, min(lo + _CHUNK, len(slots))), as_rows(slots[lo : lo + _CHUNK]))
            for lo in range(0, len(slots), _CHUNK)]  # fmt: skip


def batch_first(values: np.ndarray, chunks: list[tuple[slice, Any]], n: int) -> np.ndarray:
    """The tape's rows (slots, B) copied to (B, n), a few rows at a time: a transposed copy in
    one go strides through memory and runs 2–3× slower.

    Example:
        >>> values = np.arange(6.0).reshape(3, 2)
        >>> batch_first(values, [(slice(0, 2), np.array([2, 0]))], 2).tolist()
        [[4.0, 0.0], [5.0, 1.0]]
    """
    out = np.empty((values.shape[1], n))
    for cols, rows in chunks:
        out[:, cols] = values[rows].T
    return out


class RowDotGroup:
    """Dot nodes of one level as one batched matrix product (see :func:`row_products`)."""

    flat_ok = False

    def __init__(self, instructions: list[Instruction], plan: RowProducts, tape: Layout) -> None:
        slot, needs = tape.slot, tape.needs
        self.n_left, self.n_right, self.width = len(plan.lefts), len(plan.rights), plan.width
        left_slots, self.left_pad = _padded(plan.lefts, plan.width, slot)
        right_slots, right_pad = _padded(plan.rights, plan.width, slot)
        self.right_pad = right_pad.T  # R is (K × n_R): row κ of every right row
        self.left_chunks = _chunks(left_slots.ravel())
        self.right_chunks = _chunks(right_slots.T.ravel())
        self.entry = np.array([i * self.n_right + j for i, j in plan.entries], dtype=np.intp)
        self.out = as_rows([slot[ins.out] for ins in instructions])
        self.out_chunks = _chunks(np.array([slot[ins.out] for ins in instructions]))
        # gradients go to the entries that are real nodes needing one
        left_ids = [[row[k] if k < len(row) else -1 for k in range(plan.width)]
                    for row in plan.lefts]  # fmt: skip
        right_ids = [[row[k] if k < len(row) else -1 for row in plan.rights]
                     for k in range(plan.width)]  # fmt: skip
        self.left_take = np.array([[i >= 0 and bool(needs[i]) for i in r] for r in left_ids])
        self.right_take = np.array([[i >= 0 and bool(needs[i]) for i in r] for r in right_ids])
        self.left_targets = left_slots[self.left_take]
        self.right_targets = right_slots.T[self.right_take]
        self.left_unique = len(np.unique(self.left_targets)) == len(self.left_targets)
        self.right_unique = len(np.unique(self.right_targets)) == len(self.right_targets)
        self.assign, self.position_needs = [False], [True]  # it adds; never the first writer
        by_length: dict[int, list[Instruction]] = {}
        for ins in instructions:
            by_length.setdefault(len(ins.args), []).append(ins)
        self.fallback = [OpGroup(b, tape) for b in by_length.values()]

    def plan(self, written: np.ndarray) -> None:
        """Mark the rows it adds gradients to (it never assigns: see OpGroup.plan)."""
        written[self.left_targets] = True
        written[self.right_targets] = True

    def _operands(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """L (B, n_L, K) and R (B, K, n_R) with their padding zeroed; None if not all finite."""
        L = batch_first(values, self.left_chunks, self.left_pad.size)
        R = batch_first(values, self.right_chunks, self.right_pad.size)
        if not (np.isfinite(L).all() and np.isfinite(R).all()):
            return None
        L = L.reshape(-1, self.n_left, self.width)
        R = R.reshape(-1, self.width, self.n_right)
        L[:, self.left_pad] = 0.0
        R[:, self.right_pad] = 0.0
        return L, R

    def forward(self, values: np.ndarray, theta: np.ndarray) -> None:
        operands = self._operands(values)
        if operands is None:  # an infinity or NaN: node by node, as the engine
            for group in self.fallback:
                group.forward(values, theta)
            return
        P = np.matmul(*operands).reshape(len(values[0]), -1)[:, self.entry]
        for cols, rows in self.out_chunks:
            values[rows] = P[:, cols].T

    def backward(self, values: np.ndarray, grads: np.ndarray, theta_grad: np.ndarray,
                 first: bool = False) -> None:  # fmt: skip
        operands = self._operands(values)
        g = grads[self.out]
        if operands is None or not np.isfinite(g).all():
            for group in self.fallback:
                group.backward(values, grads, theta_grad, first)
            return
        L, R = operands
        flat_G = np.zeros((g.shape[1], self.n_left * self.n_right))
        flat_G[:, self.entry] = g.T
        G = flat_G.reshape(-1, self.n_left, self.n_right)
        if len(self.left_targets):
            dL = np.matmul(G, R.transpose(0, 2, 1))[:, self.left_take]
            _add(grads, self.left_targets, dL, self.left_unique)
        if len(self.right_targets):
            dR = np.matmul(L.transpose(0, 2, 1), G)[:, self.right_take]
            _add(grads, self.right_targets, dR, self.right_unique)


def _add(grads: np.ndarray, targets: np.ndarray, contribution: np.ndarray, unique: bool) -> None:
    """grads[targets] += contributionᵀ (B, n) -> (n, B); np.add.at when a row repeats."""
    if unique:
        grads[targets] += contribution.T
    else:
        np.add.at(grads, targets, contribution.T)
