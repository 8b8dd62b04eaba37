"""Op groups: many instructions of the flat program run as one numpy operation on a batch.

The tape (:mod:`~autograd_bp.compiled.schedule`) gives every node a row of B examples and
cuts the program into groups of same-rule instructions of one topological level. Each group
here runs forward and backward as a block:

* :class:`OpGroup` — the general path: the rule's own ``forward`` and ``local`` (the op
  table's, the ones the dynamic engine uses) applied to stacked rows, the gradients added
  back into the operands' rows however they are laid out (a slice, a gather, one row shared
  by the whole group);
* :class:`MatmulGroup` — the ``dot`` nodes of one layer: ``out = W @ S`` forward and
  ∂W = G·Sᵀ, ∂S = Wᵀ·G backward, W a view into the parameter vector;
* :class:`SharedLayerGroup` — one layer at several positions (attention's projections),
  the positions' products in one broadcast matrix multiply.

(Attention's dot products of rows against rows are in :mod:`~autograd_bp.compiled.rowdot`.)

Both plan, before the first backward pass, which gradient rows they are the first to
write (those are assigned, never zeroed then added to).

Example:
    >>> from autograd_bp import Value
    >>> from autograd_bp.compiled.schedule import Tape
    >>> from autograd_bp.compiled.trace import Flat
    >>> x, w = Value(1.0), Value(0.5)
    >>> tape = Tape(Flat([(w * x).tanh()], [x]))
    >>> [type(g).__name__ for g in tape.groups]
    ['OpGroup', 'OpGroup']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

import numpy as np

from ..core import Rule
from .batchfirst import Source, buffer, buffers, maker_key
from .trace import Flat, Instruction, float_key, id_orientation, shared_operands, symmetric

__all__ = ["Layout", "MatmulGroup", "OpGroup", "RowSums", "SharedLayerGroup", "as_rows"]


class Layout(Protocol):
    """What a group reads from the tape that holds it (the schedule's ``Tape`` is one): the
    program, each node's row, which nodes need a gradient, the parameter vectors, the
    extra rows that hold a copy of a constant (row -> :func:`float_key` of it) and a place
    where groups keep arrays from the forward pass to the backward pass."""

    flat: Flat
    slot: dict[int, int]
    needs: np.ndarray
    theta: np.ndarray
    theta_grad: np.ndarray
    const_rows: dict[int, Any]
    scratch: dict[Any, Any]


def as_rows(slots: Sequence[int] | np.ndarray) -> slice | np.ndarray:
    """A slice when the slots are consecutive (a view, no copy), else an index array.

    Example:
        >>> as_rows([3, 4, 5]), as_rows([5, 3]).tolist()
        (slice(3, 6, None), [5, 3])
    """
    a = np.asarray(slots, dtype=np.intp)
    if len(a) and (a == np.arange(a[0], a[0] + len(a))).all():
        return slice(int(a[0]), int(a[0]) + len(a))
    return a


class RowSums:
    """``grads[rows] += contribution`` for rows that repeat, as one sort: the contributions
    to one row summed by ``np.add.reduceat``, then added once — ``np.add.at`` does the same
    element by element, about ten times slower.

    Example:
        >>> grads = np.zeros((3, 1))
        >>> RowSums(np.array([2, 0, 2])).add(grads, np.array([[1.0], [2.0], [4.0]]))
        >>> grads.ravel().tolist()
        [2.0, 0.0, 5.0]
    """

    def __init__(self, rows: np.ndarray) -> None:
        order = np.argsort(rows, kind="stable")  # each row's contributions in order
        self.rows, self.starts = np.unique(rows[order], return_index=True)
        sorted_ = bool((order == np.arange(len(order))).all())  # a softmax's: no gather
        self.order, self.into = None if sorted_ else order, as_rows(self.rows)

    def add(self, grads: np.ndarray, contribution: np.ndarray) -> None:
        """Add each contribution (one per entry of ``rows``) into its row of ``grads``."""
        ordered = contribution if self.order is None else contribution[self.order]
        grads[self.into] += np.add.reduceat(ordered, self.starts, axis=0)


def _unique(rows: Any) -> bool:
    return type(rows) is slice or len(np.unique(rows)) == len(rows)


class OpGroup:
    """Same-rule instructions of one topological level, run as one block op.

    ``rows[p]`` holds, for operand position p, the value slot of that operand in each of
    the m instructions; ``out`` their result slots. Works on (slots, B) arrays and on flat
    (slots,) ones alike.
    """

    flat_ok = True

    def __init__(self, instructions: list[Instruction], tape: Layout) -> None:
        slot = tape.slot
        first = instructions[0]
        self.rule, self.param = first.rule, first.param
        self.variadic = self.rule.variadic
        table = np.array([[slot[a] for a in ins.args] for ins in instructions]).T
        self.table = table  # (n_operands, m)
        self.out = as_rows([slot[ins.out] for ins in instructions])
        self.operand_rows = [as_rows(r) for r in table]
        # Operand positions whose slot is the same for every instruction (the inputs of a
        # layer, read by each of its neurons) are summed over the group before the add.
        self.shared = (table == table[:, :1]).all(axis=1) & (table.shape[1] > 1)
        self.targets = np.concatenate([table[self.shared, 0], table[~self.shared].ravel()])
        self.unique = len(np.unique(self.targets)) == len(self.targets)
        self.position_unique = [_unique(r) for r in self.operand_rows]
        self.repeated = [None if u else RowSums(r) for u, r in zip(self.position_unique, table)]
        self.repeated_targets = None if self.unique else RowSums(self.targets)
        self.position_needs = [bool(tape.needs[[ins.args[p] for ins in instructions]].any())
                               for p in range(table.shape[0])]  # fmt: skip
        self.local = _needed_locals(self.rule, self.position_needs)
        # x * x: the second position's contribution is the first's (see symmetric)
        self.twin = len(table) == 2 and bool((table[0] == table[1]).all()) and symmetric(self.rule)
        # A position that reads one folded constant in every instruction (the 2.0 of x ** 2,
        # the √D of a score's division) gets that number, not a row of copies of it: numpy's
        # power by a number is a square or a multiply, by an array a call of pow() per entry
        # (150× slower). Only for rules written as code (the table's own): their text runs
        # on any mix of numbers and arrays, as it does on Values.
        self.numbers: list[float | None] = [None] * table.shape[0]
        if self.rule.code is not None and not self.variadic:
            for p in range(table.shape[0]):
                c = tape.flat.const_value(instructions[0].args[p])
                if c is not None and all(ins.args[p] == instructions[0].args[p]
                                         for ins in instructions):  # fmt: skip
                    self.numbers[p] = float(c)

    def row_reads(self) -> np.ndarray:
        """Every slot it reads (from rows: see :mod:`~autograd_bp.compiled.batchfirst`)."""
        return self.table.ravel()

    def _operands(self, values: np.ndarray) -> list[Any]:
        """Each operand position's rows of ``values`` — or its number (see ``numbers``)."""
        return [values[rows] if c is None else c
                for rows, c in zip(self.operand_rows, self.numbers)]  # fmt: skip

    def forward(self, values: np.ndarray, theta: np.ndarray) -> None:
        rule = self.rule
        if rule.ufunc is not None and type(self.out) is slice:  # in place: no copy after
            rule.ufunc(*self._operands(values), out=values[self.out])
            return
        if self.variadic:
            out = rule.forward(values[self.table], None)
        elif rule.arity == 2:
            out = rule.forward(*self._operands(values), None)
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
            locals_ = self.local(*self._operands(values), out, None)
        else:
            locals_ = self.local(values[self.operand_rows[0]], out, self.param)
        repeat: Any = None  # the first position's contribution, for its twin (x * x)
        for p, local in enumerate(locals_):
            if not self.position_needs[p]:
                continue
            rows = self.operand_rows[p]
            if p == 1 and self.twin:  # the same numbers again
                self._add(grads, 1, repeat)
                continue
            gated = _gated(local, g)
            if gated is not None:
                self._add(grads, p, repeat := gated)
                continue
            if self.assign[p] and not self.shared[p] and type(rows) is slice:
                np.multiply(local, g, out=(repeat := grads[rows]))  # straight into place: one pass
                continue
            if type(local) is np.ndarray and local.dtype == g.dtype and local.flags.owndata \
                    and local.shape == g.shape:  # fmt: skip
                local *= g  # a fresh temporary of the rule's: reuse it
            else:
                local = local * g
            self._add(grads, p, repeat := local)

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
        else:  # repeated rows (a slice is always unique)
            repeated = self.repeated[p]
            assert repeated is not None
            repeated.add(
                grads, np.broadcast_to(contribution, (self.table.shape[1], *grads.shape[1:]))
            )

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
            assert self.repeated_targets is not None
            self.repeated_targets.add(grads, contributions)


def _needed_locals(rule: Rule, needs: list[bool]) -> Callable[..., tuple[Any, ...]]:
    """The rule's ``local``, or — for a two-operand rule written as code with one operand that
    needs no gradient (the constant exponent of ``x ** 2``) — a function of that rule's own
    code that computes the other operand's local derivative alone (None for the first): only
    what has an edge. pow's ∂/∂exponent (a log and two ``where`` s) cost 31 % of an attention
    step that squares with ``** 2``.

    Example:
        >>> from autograd_bp.core import RULES
        >>> _needed_locals(RULES["pow"], [True, False])(3.0, 2.0, 9.0, None)
        (6.0, None)
    """
    if rule.variadic or rule.arity != 2 or rule.code is None or needs.count(True) != 1:
        return rule.local
    terms = [expr if need else "None" for expr, need in zip(rule.code[1], needs)]
    # compiled as Rule.from_code compiles the whole tuple, in the names the rule's own
    # ``local`` was compiled in (its globals): the text means here what it means there
    source = f"lambda a, b, out, p: ({', '.join(terms)},)"
    return cast(Callable[..., tuple[Any, ...]], eval(source, rule.local.__globals__))


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


class MatmulGroup:
    """The dot nodes of one layer: ``out = W @ S`` with W a block of the parameter vector
    (one row per node, one column per product) and S the rows they all read."""

    flat_ok = False

    def __init__(self, instructions: list[Instruction], tape: Layout) -> None:
        flat, slot = tape.flat, tape.slot
        theta, theta_grad = tape.theta, tape.theta_grad
        first = instructions[0]
        sides = id_orientation(first.args, flat)
        assert sides is not None
        shared = shared_operands(first.args, sides)
        pids = np.array([[ins.args[2 * i + s] for i, s in enumerate(sides)]
                         for ins in instructions])  # fmt: skip
        m, k = pids.shape
        self.out = as_rows([slot[ins.out] for ins in instructions])
        base = int(pids[0, 0])
        self.contiguous = bool((pids.ravel() == np.arange(base, base + m * k)).all())
        self.pids = pids
        if self.contiguous:  # views into the parameter vectors: no gather, no scatter
            self.W = theta[base : base + m * k].reshape(m, k)
            self.dW = theta_grad[base : base + m * k].reshape(m, k)
        consts = [flat.const_value(s) for s in shared]
        cols = [c for c, v in enumerate(consts) if v is None]  # columns read from rows
        self.const_cols = as_rows([c for c, v in enumerate(consts) if v is not None])
        self.cvec = np.array([v for v in consts if v is not None], dtype=float)
        self.cols = as_rows(cols)
        self.S = as_rows([slot[shared[c]] for c in cols])
        self.s_slots = np.array([slot[shared[c]] for c in cols], dtype=np.intp)
        # A bias: one constant operand (the 1.0 it multiplies), with a copy of that constant
        # laid out in the row just after S. Then one matrix multiply over S and that row
        # adds the bias, and its gradient is a column of ∂W: no broadcast add, no row sum.
        self.S_ext: slice | None = None
        if type(self.S) is slice and len(self.cvec) == 1 \
                and tape.const_rows.get(self.S.stop) == float_key(float(self.cvec[0])):  # fmt: skip
            self.S_ext = slice(self.S.start, self.S.stop + 1)
            self.cols_ext = as_rows([*cols, *np.arange(k)[self.const_cols]])
        self.s_unique = _unique(self.S)
        self.needs_s = bool(any(tape.needs[shared[c]] for c in cols))  # ∂S: only if used
        self.theta, self.theta_grad = theta, theta_grad
        self.exclusive = False  # set by the tape: no other group writes these gradients
        self.assign_s = False  # set by plan(): the first to write the rows of S

    def row_reads(self) -> np.ndarray:
        """The rows of S."""
        return self.s_slots

    def plan(self, written: np.ndarray) -> None:
        """As :meth:`OpGroup.plan`, for the rows of S."""
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


class SharedLayerGroup:
    """One layer applied at several positions — the same weights W (a block of the parameter
    vector) reading P different rows S_p, as attention's q, k and v projections read each
    position's x: ``out_p = W @ S_p`` for every p in one broadcast matrix multiply, backward
    ∂W = Σ_p G_p·S_pᵀ and ∂S_p = Wᵀ·G_p. Built by :meth:`build`, which says None when the
    positions are not that (a bias, weights laid out apart, neurons in another order).

    S, the outputs and their gradients may each live in rows or batch-first
    (:mod:`~autograd_bp.compiled.batchfirst`): every one is seen as a (P, ·, B) view either
    way, which BLAS multiplies as it is (a batch-first view is a transposed matrix to it)."""

    flat_ok = False

    def __init__(self, W: np.ndarray, dW: np.ndarray, S: np.ndarray, out: np.ndarray,
                 needs_s: bool, scratch: dict[Any, Any]) -> None:  # fmt: skip
        self.W, self.dW, self.needs_s = W, dW, needs_s
        self.n, (self.m, self.k) = len(S), W.shape
        # Wᵀ laid out row by row, copied at each forward: openblas multiplies a row-major
        # matrix by a transposed view (x·Wᵀ) up to 2× slower than by a row-major one
        self.Wt = np.empty((self.k, self.m))
        self.S, self.S_view = S, _block(S)
        self.out, self.out_view = out, _block(out)
        self.s_unique = len(np.unique(S)) == S.size
        self.pids = np.zeros(0, dtype=np.intp)  # the parameters of W: set by build
        self.work: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.assign, self.position_needs = [False], [True]  # it adds; never the first writer
        self.scratch, self.key = scratch, maker_key(scratch, "layer", out.ravel())
        self.out_order = out.ravel()  # batch-first: column p·m + i is out[p, i]
        # set by batchfirst.link_forward / link_backward (see RowDotGroup)
        self.sources: dict[str, Source] = {}
        self.grad_sources: dict[str, Source] = {}
        self.bf_out = self.bf_grad = False

    def matrices(self) -> dict[str, np.ndarray]:
        """S may live batch-first."""
        return {"S": self.S}

    def row_reads(self) -> np.ndarray:
        """The slots of S, unless S lives batch-first."""
        return self.S.ravel()[:0] if "S" in self.sources else self.S.ravel()

    @staticmethod
    def fits(positions: list[list[Instruction]], flat: Flat) -> bool:
        """Whether these positions (each a layer's neurons) are one layer at several places:
        the same weights in the same order, one row-major block, no constant read (a bias:
        the single-position MatmulGroup takes it along)."""
        sides = id_orientation(positions[0][0].args, flat)
        if sides is None or len(positions) < 2:
            return False
        pids = [[ins.args[2 * i + s] for i, s in enumerate(sides)] for ins in positions[0]]
        m, k = len(pids), len(sides)
        if pids != np.arange(pids[0][0], pids[0][0] + m * k).reshape(m, k).tolist():
            return False
        for bucket in positions:
            if [[ins.args[2 * i + s] for i, s in enumerate(sides)] for ins in bucket] != pids:
                return False
            if any(flat.const_value(a) is not None for a in shared_operands(bucket[0].args, sides)):
                return False
        return True

    @classmethod
    def build(cls, positions: list[list[Instruction]], tape: Layout) -> SharedLayerGroup:
        """The group for these positions (:meth:`fits` must hold)."""
        flat, slot = tape.flat, tape.slot
        assert cls.fits(positions, flat)
        sides = id_orientation(positions[0][0].args, flat)
        assert sides is not None
        m, k = len(positions[0]), len(sides)
        base = positions[0][0].args[sides[0]]
        reads = [[slot[a] for a in shared_operands(b[0].args, sides)] for b in positions]
        out = np.array([[slot[ins.out] for ins in bucket] for bucket in positions])
        needs_s = bool(tape.needs[[a for b in positions for a in shared_operands(b[0].args, sides)]
                                  ].any())  # fmt: skip
        W = tape.theta[base : base + m * k].reshape(m, k)
        dW = tape.theta_grad[base : base + m * k].reshape(m, k)
        group = cls(W, dW, np.array(reads, dtype=np.intp), out, needs_s, tape.scratch)
        group.pids = np.arange(base, base + m * k)
        return group

    def plan(self, written: np.ndarray) -> None:
        """Mark the rows of every S_p (gradients are added to them, never assigned)."""
        if self.needs_s:
            written[self.S.ravel()] = True

    def _rows(self, array: np.ndarray, rows: np.ndarray, view: slice | None) -> np.ndarray:
        if view is not None:  # consecutive rows: a (P, ·, B) view, no copy
            return array[view].reshape(len(rows), -1, array.shape[1])
        return array[rows]

    def _work(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """∂W per position and ∂S, allocated once per block width (fresh large temporaries
        cost page faults)."""
        if width not in self.work:
            self.work[width] = (np.empty((self.n, self.m, self.k)),
                                np.empty((self.n, self.k, width)))  # fmt: skip
        return self.work[width]

    def _S(self, values: np.ndarray) -> np.ndarray:
        """S as (P, k, B): a view of its rows or of a batch-first buffer."""
        src = self.sources.get("S")
        if src is None:
            return self._rows(values, self.S, self.S_view)
        return src.read(buffer(self.scratch, src.key, values)).transpose(1, 2, 0)

    def _flat_S(self, values: np.ndarray) -> np.ndarray | None:
        """S as one (B·P, k) matrix — when it is a whole batch-first buffer, row after row
        (the batch itself, for a projection of the inputs) — else None."""
        src = self.sources.get("S")
        if src is None or src.strides != (self.k, 1) or src.offset != 0:
            return None
        buf = buffer(self.scratch, src.key, values)
        if buf.shape[1] != self.n * self.k or not buf.flags.c_contiguous:
            return None
        return buf.reshape(-1, self.k)

    def _own(self, values: np.ndarray, grad: bool) -> np.ndarray:
        """Its outputs' values (or gradients) as (P, m, B), a view of its batch-first buffer."""
        buf = buffers(self.scratch, self.key, values, self.n * self.m)[int(grad)]
        return buf.reshape(len(buf), self.n, self.m).transpose(1, 2, 0)

    def forward(self, values: np.ndarray, theta: np.ndarray) -> None:
        S = self._S(values)
        np.copyto(self.Wt, self.W.T)
        flat = self._flat_S(values) if self.bf_out else None
        if flat is not None:  # S and out both (B·P, ·) blocks: one matrix product
            out = buffers(self.scratch, self.key, values, self.n * self.m)[0]
            np.matmul(flat, self.Wt, out=out.reshape(-1, self.m))
        elif self.bf_out:  # out_p (B, m) = S_pᵀ·Wᵀ: the view BLAS writes row by row
            out = self._own(values, grad=False).transpose(0, 2, 1)
            np.matmul(S.transpose(0, 2, 1), self.Wt, out=out)
        elif self.out_view is not None and "S" in self.sources:  # S_p batch-first (B, k):
            # out_pᵀ = S_pᵀ·Wᵀ, both row-major (W·S_p would take S_p as a transposed view)
            out = self._rows(values, self.out, self.out_view).transpose(0, 2, 1)
            np.matmul(S.transpose(0, 2, 1), self.Wt, out=out)
        elif self.out_view is not None:
            np.matmul(self.W, S, out=self._rows(values, self.out, self.out_view))
        else:
            values[self.out] = np.matmul(self.W, S)

    def backward(self, values: np.ndarray, grads: np.ndarray, theta_grad: np.ndarray,
                 first: bool = False) -> None:  # fmt: skip
        if self.bf_grad:
            G = self._own(values, grad=True)
        else:
            G = self._rows(grads, self.out, self.out_view)
        S = self._S(values)
        dW, dS = self._work(S.shape[2])
        flat = self._flat_S(values) if self.bf_grad else None
        if flat is not None:  # ∂W = Gᵀ·S over all (example, position) pairs: one product
            own = buffers(self.scratch, self.key, values, self.n * self.m)[1]
            np.matmul(own.reshape(-1, self.m).T, flat, out=dW[0])
            self.dW += dW[0]
        elif S.shape[2] < 16:  # a few examples: one product over (position, example) pairs
            self.dW += np.tensordot(G, S, axes=([0, 2], [0, 2]))
        else:  # one per position, summed (no transposed copy of G and S)
            np.matmul(G, S.transpose(0, 2, 1), out=dW)
            self.dW += dW.sum(axis=0)
        if not self.needs_s:
            return
        src = self.grad_sources.get("S")
        if src is not None:  # ∂S_p (B, k) = G_pᵀ·W, batch-first, into its maker's buffer
            self._batch_first_input_grads(G, src, values)
            return
        np.matmul(self.W.T, G, out=dS)
        if self.S_view is not None:
            self._rows(grads, self.S, self.S_view)[...] += dS
        elif self.s_unique:
            grads[self.S] += dS
        else:
            np.add.at(grads, self.S, dS)


    def _batch_first_input_grads(self, G: np.ndarray, src: Source, values: np.ndarray) -> None:
        buf = buffer(self.scratch, src.key, values, grad=True)
        if src.sole and src.row_major:  # its only writer: straight into place
            np.matmul(G.transpose(0, 2, 1), self.W, out=src.read(buf).transpose(1, 0, 2))
        else:
            src.add(buf, np.matmul(G.transpose(0, 2, 1), self.W).transpose(1, 0, 2))


def _block(rows: np.ndarray) -> slice | None:
    """The slice of consecutive rows that ``rows`` (P, n) covers in order, else None."""
    view = as_rows(rows.ravel())
    return view if type(view) is slice else None
