"""Training loops: :func:`fit` with mini-batches (as in Nielsen's chapter 2) and :func:`evaluate`.

Example:
    >>> from autograd_bp.nn import MLP
    >>> from autograd_bp.optim import SGD
    >>> from autograd_bp.nn.datasets import xor
    >>> X, y = xor()
    >>> net = MLP(2, [4, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
    >>> h = fit(net, X, y, loss="half_sse", optimizer=SGD(net.parameters(), lr=2.0),
    ...         epochs=5, progress=False)
    >>> len(h.loss)
    5
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .._io import require
from ..core.engine import Value, gc_paused, no_grad, sum_values
from ..locale import N_, _, aligned, ngettext
from .losses import get_loss
from .losses import l2 as l2_penalty
from .modules import Module
from .optim import Optimizer

__all__ = ["History", "TrainReport", "accuracy", "evaluate", "fit", "infer_task", "gc_paused"]


@dataclass
class History:
    """Per-epoch mean training loss, accuracy (None for regression) and wall seconds."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[Any]]:
        """Plain lists, ready for JSON."""
        return asdict(self)


@dataclass
class TrainReport:
    """One training run as the CLI reports it: what was trained, how it went, what was
    written. ``to_dict`` is its JSON form, ``text`` its terminal form.

    Example:
        >>> h = History(loss=[0.5, 0.25], accuracy=[0.5, 1.0], seconds=[0.1, 0.3])
        >>> r = TrainReport("xor", "MLP(2, [4, 1])", [4], "half_sse", h, train_accuracy=1.0)
        >>> r.to_dict()["final_loss"], r.to_dict()["seconds_per_epoch"]
        (0.25, 0.2)
    """

    dataset: str
    model: str
    hidden: list[int]
    loss: str
    history: History
    train_accuracy: float | None = None
    test_accuracy: float | None = None
    plot: str | None = None
    saved: str | None = None

    @property
    def seconds_per_epoch(self) -> float:
        """Mean wall time of an epoch."""
        return sum(self.history.seconds) / len(self.history.seconds)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON; test_accuracy, plot and saved only when there are any."""
        doc: dict[str, Any] = {
            "dataset": self.dataset,
            "model": self.model,
            "hidden": self.hidden,
            "loss": self.loss,
            "history": self.history.to_dict(),
            "final_loss": self.history.loss[-1],
            "train_accuracy": self.train_accuracy,
            "seconds_per_epoch": self.seconds_per_epoch,
        }
        optional = {"test_accuracy": self.test_accuracy, "plot": self.plot, "saved": self.saved}
        return doc | {k: v for k, v in optional.items() if v is not None}

    def text(self) -> str:
        """The lines ``autograd-bp train`` prints."""
        epochs = len(self.history.loss)
        lines = [ngettext("{dataset}: {model}, {loss}, {epochs} epoch",
                          "{dataset}: {model}, {loss}, {epochs} epochs", epochs).format(
                     dataset=self.dataset, model=self.model, loss=self.loss, epochs=epochs)]
        rows = [(N_("final training loss"), f"{self.history.loss[-1]:.6g}"),
                (N_("training accuracy"), self.train_accuracy),
                (N_("test accuracy"), self.test_accuracy),
                (N_("seconds per epoch"), f"{self.seconds_per_epoch:.3f}")]  # fmt: skip
        for name, value in rows:
            if value is not None:
                shown = f"{value:.4f}" if isinstance(value, float) else value
                lines.append(f"  {aligned(_(name), 20)} {shown}")
        files = ((N_("plot: {file}"), self.plot), (N_("saved: {file}"), self.saved))
        lines += ["  " + _(label).format(file=v) for label, v in files if v]
        return "\n".join(lines)


def infer_task(loss: str | Callable[..., Value], y: np.ndarray) -> str:
    """'multiclass', 'sign' (labels ±1), 'binary' (labels 0/1) or 'regression'."""
    name = loss if isinstance(loss, str) else getattr(loss, "__name__", "")
    if name == "cross_entropy":
        return "multiclass"
    if name == "hinge":
        return "sign"
    values = set(np.unique(np.asarray(y)).tolist()) if np.asarray(y).ndim == 1 else set()
    if name == "binary_cross_entropy" or (values and values <= {0, 1}):
        return "binary"
    return "regression"


def _threshold(output: Any, loss_name: str = "") -> float:
    """Where a single binary output splits the classes: 0.5 for probabilities (a sigmoid
    output, or a squared-error fit to 0/1), else 0 (a logit)."""
    if getattr(output, "op", "") == "sigmoid" or loss_name in ("half_sse", "mse"):
        return 0.5
    return 0.0


def _predict(values: Sequence[float], task: str, threshold: float) -> int:
    """The predicted class from one example's output numbers."""
    if task == "multiclass":
        return int(np.argmax(values))
    if task == "sign":
        return 1 if values[0] > 0 else -1
    if task == "binary":
        return 1 if values[0] > threshold else 0
    raise ValueError(f"no accuracy for task {task!r}")


def _label(target: Any) -> int:
    """A class label from a target: the index itself, or the hot position of a one-hot row."""
    return int(np.argmax(target)) if isinstance(target, (list, np.ndarray)) else int(target)


def _numbers(output: Any) -> list[float]:
    return [o.data for o in output] if isinstance(output, list) else [output.data]


def accuracy(outputs: Sequence[Any], y: Sequence[Any], task: str, threshold: float = 0.0) -> float:
    """Fraction of examples whose predicted class equals the label (outputs are Values)."""
    hits = sum(_predict(_numbers(o), task, threshold) == _label(t) for o, t in zip(outputs, y))
    return hits / len(outputs)


def evaluate(model: Module, X: Any, y: Any, task: str = "multiclass") -> float:
    """Accuracy of ``model`` on (X, y), computed without recording a graph.

    Example:
        >>> from autograd_bp.nn import MLP
        >>> net = MLP(2, [1], seed=0)
        >>> 0.0 <= evaluate(net, [[0.0, 1.0], [1.0, 0.0]], [1, -1], task="sign") <= 1.0
        True
    """
    rows = np.asarray(X, dtype=float).tolist()
    threshold = _threshold(model(rows[0])) if task == "binary" else 0.0  # needs the op: grad on
    with no_grad():
        outputs = [model(x) for x in rows]
    return accuracy(outputs, list(y), task, threshold)


def _target(t: Any) -> Any:
    return t.tolist() if isinstance(t, np.ndarray) else (t.item() if hasattr(t, "item") else t)


def fit(
    model: Module,
    X: Any,
    y: Any,
    *,
    loss: str | Callable[..., Value],
    optimizer: Optimizer,
    epochs: int,
    batch_size: int | None = None,
    seed: int = 0,
    progress: bool = True,
    l2: float = 0.0,
    task: str | None = None,
    compiled: bool = False,
) -> History:
    """Train with mini-batch gradient descent; returns the :class:`History`.

    Each step averages the per-example losses of one mini-batch (so the gradient is the
    batch mean, as in Nielsen's update w ← w − (η/m) Σ_x ∂C_x/∂w), adds ``l2``·Σp²,
    back-propagates once and steps the optimizer. ``batch_size=None`` means full batch.
    Examples are reshuffled every epoch with ``seed``.

    ``compiled=True`` traces ``loss(model(x), y)`` once and replays it on each whole batch
    with numpy (:mod:`autograd_bp.compiled`): the same graph and gradients, much faster.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    if not (isinstance(l2, (int, float)) and math.isfinite(l2) and l2 >= 0):
        raise ValueError(f"fit: l2 must be a finite number >= 0, got {l2!r}")
    X_arr = np.asarray(X, dtype=float)
    rows = X_arr.tolist()
    targets = [_target(t) for t in np.asarray(y)]
    n = len(rows)
    if n == 0 or n != len(targets):
        raise ValueError(f"fit: {n} inputs but {len(targets)} targets")
    size = n if batch_size is None else batch_size
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"fit: batch_size must be a positive integer, got {batch_size!r}")
    loss_fn = get_loss(loss)
    loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", "")
    task = task or infer_task(loss, np.asarray(y))
    params = model.parameters()
    rng = np.random.default_rng(seed)
    history = History()
    step = _compiled_step(model, loss_fn, X_arr, y, task) if compiled else None
    threshold = _threshold(model(rows[0]) if task == "binary" else None, loss_name)
    tqdm = require("tqdm.auto", "train").tqdm

    bar = tqdm(range(epochs), disable=not progress, desc=_("training"), unit="epoch",
               leave=False)  # fmt: skip
    for _epoch in bar:
        start = time.perf_counter()
        order = rng.permutation(n)
        total, hits = 0.0, 0
        for lo in range(0, n, size):
            batch = order[lo : lo + size]
            with gc_paused():
                optimizer.zero_grad()
                outputs: Any
                if step is not None:
                    batch_loss, outputs = step(batch)
                else:
                    values = [model(rows[i]) for i in batch]
                    losses = [loss_fn(o, targets[i]) for o, i in zip(values, batch)]
                    mean = sum_values(losses) * (1.0 / len(batch))
                    mean.backward()
                    batch_loss, outputs = mean.data, [_numbers(o) for o in values]
                if l2:
                    l2_penalty(params, l2).backward()
                optimizer.step()
            total += batch_loss * len(batch)
            if task != "regression":
                hits += sum(_predict(o, task, threshold) == _label(targets[i])
                            for o, i in zip(outputs, batch))  # fmt: skip
        history.loss.append(total / n)
        history.accuracy.append(hits / n if task != "regression" else None)
        history.seconds.append(time.perf_counter() - start)
        bar.set_postfix(loss=f"{history.loss[-1]:.4g}")
    bar.close()
    return history


def _compiled_step(model: Module, loss_fn: Callable[..., Value], X: np.ndarray, y: Any,
                   task: str) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:  # fmt: skip
    """Compile the loss once; a step is then (mean loss, outputs) for a batch of indices."""
    from ..compiled import compile_loss

    y = np.asarray(y)
    if task == "multiclass" and y.ndim == 1:  # class indices -> one-hot rows: one graph for all
        n_classes = len(_numbers(model(X[0].tolist())))
        T = np.eye(n_classes)[y.astype(int)]
    else:
        T = y.reshape(len(y), -1).astype(float)
    compiled = compile_loss(model, loss_fn, X, T)
    return lambda batch: compiled.step(X[batch], T[batch])
