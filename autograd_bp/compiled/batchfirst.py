"""Batch-first buffers: nodes a matrix group makes for another matrix group, kept (B, n).

The tape keeps a batch in columns — one row of B examples per node — which suits the op
groups (one numpy call over a block of rows) and the layers (``W @ S`` over the batch). But
attention's row products (:class:`~autograd_bp.compiled.rowdot.RowDotGroup`) multiply small
matrices *per example*: in rows they need a transposed copy of every operand and result, 40 %
of their time. Here a group that makes nodes only other matrix groups read — the q, k and v
projections, the weighted sums of value rows — writes them into a buffer of its own with the
batch first (one column per node), and its readers take their operands from it as strided
views, with no copy; gradients flow back the same way, into a batch-first gradient buffer that
the maker reads. Rows stay the layout of everything else: a maker whose nodes an op group, an
output or the general path reads writes rows, as before.

* :class:`Columns` — which nodes live batch-first, in which buffer and column;
* :class:`Source` — a matrix of such nodes, read (and its gradient added) as a view;
* :func:`link_forward` and :func:`link_backward` — the decision, made once for the forward
  pass and once for each backward pass's groups.

Example:
    >>> cols = Columns()
    >>> cols.add("q", [10, 11, 12, 13])            # a maker's four nodes, columns 0..3
    >>> src = cols.source(np.array([[10, 11], [12, 13]]))
    >>> buf = np.arange(8.0).reshape(2, 4)         # two examples
    >>> src.read(buf).tolist()                     # (B, 2, 2), a view
    [[[0.0, 1.0], [2.0, 3.0]], [[4.0, 5.0], [6.0, 7.0]]]
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any, cast

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = ["INPUTS", "Columns", "Source", "buffer", "buffers", "link_backward", "link_forward",
           "maker_key"]

INPUTS = "inputs"  # the key of the batch itself: (B, n_inputs), as the caller passed it


class Source:
    """A matrix of nodes (any shape) that all live in one batch-first buffer: ``idx`` their
    columns; when those columns are evenly spaced along each axis, the matrix is a strided
    view of the buffer (``read`` copies nothing), else a gather of columns (not transposed).

    Example:
        >>> src = Source("k", np.array([[0, 3], [1, 4]]))   # a transposed block: a view
        >>> src.strides
        (1, 3)
    """

    def __init__(self, key: Hashable, idx: np.ndarray) -> None:
        self.key, self.idx, self.shape = key, idx, idx.shape
        self.offset = int(idx.flat[0]) if idx.size else 0
        self.strides = _even_strides(idx)
        # a view BLAS can write into row by row (unit steps along the last axis), or, for a
        # matrix, column by column (along the one before: its transpose is row by row)
        self.row_major = self.strides is not None and self.strides[-1] == 1
        self.col_major = self.strides is not None and len(self.strides) >= 2 \
            and self.strides[-2] == 1  # fmt: skip
        self.sole = False  # set by link_backward: no other group adds to these columns

    def read(self, buf: np.ndarray) -> np.ndarray:
        """The matrix for every example: (B, *shape), a view when the columns are even."""
        if self.strides is None:
            return buf[:, self.idx]
        if buf.flags.c_contiguous:  # the view straight on its memory: 0.4 µs, as_strided 3
            # (read about ten times per block and pass)
            size = buf.itemsize
            return np.ndarray((len(buf), *self.shape), buf.dtype, buf, self.offset * size,
                              (buf.strides[0], *(s * size for s in self.strides)))  # fmt: skip
        step = buf.strides[1]
        return as_strided(buf[:, self.offset :], (len(buf), *self.shape),
                          (buf.strides[0], *(s * step for s in self.strides)),
                          writeable=True)  # fmt: skip

    def add(self, buf: np.ndarray, d: np.ndarray) -> None:
        """``buf``'s columns of these nodes += d (B, *shape) (the nodes are distinct)."""
        if self.strides is None:
            buf[:, self.idx] += d
        else:
            view = self.read(buf)
            view += d


def _even_strides(idx: np.ndarray) -> tuple[int, ...] | None:
    """Per axis, the step between neighbouring columns when it is the same everywhere (and
    the columns do not overlap), else None."""
    if idx.size == 0 or idx.ndim == 0:
        return None
    strides = []
    for axis in range(idx.ndim):
        steps = np.diff(idx, axis=axis)
        if steps.size == 0:
            strides.append(0 if idx.shape[axis] == 1 else 1)
            continue
        if not (steps == steps.flat[0]).all():
            return None
        strides.append(int(steps.flat[0]))
    grid = idx.flat[0] + sum(np.arange(n).reshape([-1 if a == k else 1 for a in range(idx.ndim)])
                             * s for k, (n, s) in enumerate(zip(idx.shape, strides)))  # fmt: skip
    return tuple(strides) if (grid == idx).all() else None


class Columns:
    """Which node rows (slots) live batch-first: slot -> (the maker's key, its column).

    Example:
        >>> cols = Columns()
        >>> cols.add("v", [4, 5, 6])
        >>> cols.source(np.array([6, 4])).idx.tolist(), cols.source(np.array([6, 9]))
        ([2, 0], None)
    """

    def __init__(self) -> None:
        self.place: dict[int, tuple[Hashable, int]] = {}
        self.keys: dict[Hashable, list[int]] = {}

    def add(self, key: Hashable, slots: Sequence[int]) -> None:
        """The maker ``key`` holds these slots, in this order, as its columns (a slot of -1:
        a column that holds no node)."""
        self.keys[key] = [int(s) for s in slots if s >= 0]
        for column, s in enumerate(slots):
            if s >= 0:
                self.place[int(s)] = (key, column)

    def columns(self, key: Hashable) -> np.ndarray:
        """The maker ``key``'s columns, in the order of ``keys[key]``."""
        return np.array([self.place[s][1] for s in self.keys[key]], dtype=np.intp)

    def remove(self, key: Hashable) -> None:
        """The maker ``key`` writes rows after all."""
        for s in self.keys.pop(key):
            del self.place[s]

    def source(self, slots: np.ndarray) -> Source | None:
        """The matrix of these slots as a :class:`Source`, when they are distinct and all in
        one maker's buffer; else None (read from rows)."""
        flat = [self.place.get(int(s)) for s in slots.ravel()]
        if not flat or any(p is None or p[0] != flat[0][0] for p in flat):  # type: ignore[index]
            return None
        idx = np.array([p[1] for p in flat if p is not None], dtype=np.intp)
        if len(np.unique(idx)) != len(idx):
            return None
        return Source(flat[0][0], idx.reshape(slots.shape))  # type: ignore[index]


def maker_key(scratch: dict[Any, Any], kind: str, slots: Iterable[int]) -> int:
    """A small number naming the group that makes these nodes, the same for every group of
    one tape that makes them (a forward group and its backward twin): looked up in every
    call, it must hash fast, and a tuple of a thousand slots does not.

    Example:
        >>> scratch = {}
        >>> maker_key(scratch, "layer", [3, 4]), maker_key(scratch, "rows", [5])
        (0, 1)
        >>> maker_key(scratch, "layer", [3, 4])
        0
    """
    names = scratch.setdefault("maker keys", {})
    return cast(int, names.setdefault((kind, *map(int, slots)), len(names)))


def buffer(scratch: dict[Any, Any], key: Hashable, values: np.ndarray, grad: bool = False
           ) -> np.ndarray:  # fmt: skip
    """The maker ``key``'s values (or gradient) buffer for the block ``values`` (the batch
    itself for :data:`INPUTS`)."""
    return cast(np.ndarray, scratch["bf", key, id(values)][int(grad)])


def buffers(scratch: dict[Any, Any], key: Hashable, values: np.ndarray, width: int
            ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The maker ``key``'s (values, gradients) buffers for one block, (B, width) each,
    allocated once per block (kept in the tape's ``scratch``, where readers find them)."""
    entry = scratch.get(("bf", key, id(values)))
    if entry is None or len(entry[0]) != values.shape[1]:
        entry = (np.zeros((values.shape[1], width)), np.zeros((values.shape[1], width)))
        scratch["bf", key, id(values)] = entry
    return entry


def _reads(groups: Sequence[Any], cols: Columns, reads_rows: Iterable[int]) -> set[int]:
    """Give each reader a :class:`Source` per matrix that lives batch-first; returns the
    slots read from rows (by anyone, ``reads_rows`` included)."""
    rows = {int(s) for s in reads_rows}
    for g in groups:
        matrices = g.matrices() if hasattr(g, "matrices") else {}
        g.sources = {name: src for name, m in matrices.items()
                     if (src := cols.source(m)) is not None}  # fmt: skip
        rows.update(int(s) for s in g.row_reads())
    return rows


def link_forward(groups: Sequence[Any], reads_rows: Iterable[int], n_inputs: int) -> Columns:
    """Decide, for the forward pass, which makers keep their nodes batch-first (``bf_out``);
    returns the map, the inputs' included (the batch itself is batch-first).

    A maker (a group with ``key`` and ``out_order``) does when no node it makes is read from
    rows: by an op group, a layer, a reader's matrix that is not all in its buffer, or
    ``reads_rows`` (the tape's outputs). Readers (``matrices()``) get their ``sources``.
    """
    cols = Columns()
    cols.add(INPUTS, range(n_inputs))
    makers = [g for g in groups if getattr(g, "key", None) is not None]
    for g in makers:
        cols.add(g.key, g.out_order)
    rows = _reads(groups, cols, reads_rows)
    for g in makers:
        g.bf_out = not rows.intersection(cols.keys[g.key])
        if not g.bf_out:
            cols.remove(g.key)
    _reads(groups, cols, ())  # sources again, without the makers that write rows
    return cols


def link_backward(groups: Sequence[Any], reads_rows: Iterable[int], cols: Columns) -> bool:
    """Decide, for one backward pass's groups, which makers take their gradient batch-first
    (``bf_grad``: a maker of the forward map whose nodes no group of this pass reads from
    rows) and which readers' matrices add theirs there (``grad_sources``). The values come
    from the forward map ``cols``. Returns whether a group of this pass reads from rows a
    node the forward pass kept batch-first only (the tape then copies those into rows)."""
    rows = _reads(groups, cols, reads_rows)
    keys = set()
    for g in groups:
        if getattr(g, "key", None) is not None:
            g.bf_grad = g.key in cols.keys and not rows.intersection(cols.keys[g.key])
            if g.bf_grad:
                keys.add(g.key)
    writers: dict[tuple[Hashable, int], int] = {}
    for g in groups:
        g.grad_sources = {n: src for n, src in g.sources.items() if src.key in keys}
        for src in g.grad_sources.values():
            for c in src.idx.ravel().tolist():
                writers[src.key, c] = writers.get((src.key, c), 0) + 1
    covered: dict[Hashable, int] = {}
    for g in groups:
        for src in g.grad_sources.values():
            src.sole = all(writers[src.key, c] == 1 for c in src.idx.ravel().tolist())
            if src.sole and (src.row_major or src.col_major):  # assigned: no zeroing
                covered[src.key] = covered.get(src.key, 0) + src.idx.size
    for g in groups:  # zero the gradient buffer before each pass, unless all assigned
        if getattr(g, "bf_grad", False):
            g.zero_grad = covered.get(g.key, 0) < len(cols.keys[g.key])
    return any(cols.place.get(s, (INPUTS,))[0] != INPUTS for s in rows)
