"""The interface: ``compile`` and ``compile_loss``, and the callables they return.

:func:`compile` traces a function (:mod:`~autograd_bp.compiled.trace`), schedules it as a
:class:`~autograd_bp.compiled.schedule.Tape` and wraps it in a :class:`CompiledFunction`:
call it on a batch for the outputs, or :meth:`~CompiledFunction.backward` for the gradient
of the batch's mean (or sum) with respect to every parameter. The parameters — leaves that
are not inputs — are shared by every example and kept in one float64 vector
(:attr:`CompiledFunction.flat_data`); by default each call reads them from ``.data`` and
adds their gradients to ``.grad``, so the ordinary optimizers step them, while
``sync=False`` works on the vectors alone. :func:`compile_loss` does the same for
``loss(model(x), target)``, the shape a training loop wants.

Limits, plainly:

* The graph must not depend on the data through Python control flow or through numbers
  read from ``.data``: :func:`compile` traces several perturbed copies of the example and
  refuses (:class:`~autograd_bp.compiled.trace.TraceError`) when their graphs, folded
  constants or leaves differ — e.g. ``x * x.data``, ``max(x.data, 0)``,
  ``x * Value(x.data)`` or a branch on ``.data`` that the examples take differently. A
  branch every example takes the same way is invisible: keep traced functions branch-free.
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
from typing import Any

import numpy as np

from ..core import Value
from ..core.engine import GRAPH_LOCK
from .schedule import Tape
from .trace import TraceError, example_row, trace_checked

__all__ = ["CompiledFunction", "CompiledLoss", "compile", "compile_loss"]


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
        row = example_row(example, "example_inputs")
        second = (None if second_example is None
                  else example_row(second_example, "second_example"))  # fmt: skip
        if second is not None and len(second) != len(row):
            raise TraceError(f"compile: second_example has {len(second)} inputs, "
                             f"example_inputs {len(row)}")  # fmt: skip
        flat, self.outputs, self.inputs = trace_checked(fn, row, second)
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
            blocks = self.tape.forward(X)
            out = self.tape.outputs(blocks)
            self.tape.release(blocks)
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
            weight = 1.0 / len(X) if reduction == "mean" else 1.0
            blocks, outputs = self.tape.forward_backward(X, int(output), weight)
            if sync:
                _add_grads(self.parameters, self.flat_grad)
            self.tape.release(blocks)
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
    data is refused with :class:`~autograd_bp.compiled.trace.TraceError`. The traced graph
    (``.outputs``) is an ordinary Value graph: diagrams and the chain-rule trace work on it
    as on any other.

    Example:
        >>> compile(lambda x: x * x.data, [3.0])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        autograd_bp.compiled.trace.TraceError: compile: a number read from the data is ...
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
