"""Trace once, replay a batch: ``compile`` turns a graph into a numpy tape with the same op rules.

:func:`compile` runs a function on :class:`~autograd_bp.core.engine.Value` leaves to record
its graph, then turns the graph into a flat program — a tape of instructions over rows, in
topological order. Replaying the tape evaluates the **same graph for a whole batch at once**:
the instructions of one topological level and one op become one numpy operation on a block
of rows (one row of B examples per node), and the backward pass is the same schedule in
reverse, through the same op rules as the dynamic engine (the op table handles floats,
arrays and Values alike — there is no second copy of any derivative). The ``dot`` nodes of
one layer become one matrix multiply forward and two backward, and so do attention's.

The room, in the order a call goes through it:

* :mod:`~autograd_bp.compiled.trace` — the function traced into a flat program (node ids,
  instructions), refused with :class:`TraceError` when the graph depends on the data;
* :mod:`~autograd_bp.compiled.groups` — same-rule instructions run as one block op, a
  layer's dot nodes as one matrix multiply (one layer at several positions as one too);
* :mod:`~autograd_bp.compiled.rowdot` — attention's dot nodes (rows against rows) as one
  batched matrix multiply, sums of any length as one ``reduceat``;
* :mod:`~autograd_bp.compiled.schedule` — the ``Tape``: which row each node lives in, the
  groups in order, the batch cut into cache-sized blocks;
* :mod:`~autograd_bp.compiled.function` — :func:`compile`, :func:`compile_loss` and the
  :class:`CompiledFunction` / :class:`CompiledLoss` they return.

Example:
    >>> import numpy as np
    >>> from autograd_bp import Value
    >>> from autograd_bp.compiled import compile
    >>> w = Value(2.0)
    >>> compile(lambda x: w * x, [1.0])(np.array([[1.0], [3.0]])).tolist()
    [2.0, 6.0]
"""

from .function import CompiledFunction, CompiledLoss, compile, compile_loss
from .trace import TraceError

__all__ = ["CompiledFunction", "CompiledLoss", "TraceError", "compile", "compile_loss"]
