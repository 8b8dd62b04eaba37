"""Pictures of training with matplotlib, written atomically in the format the file's
extension names (.png, .svg, .pdf, .jpg, ...).

Example:
    >>> import tempfile, pathlib
    >>> from autograd_bp.nn.train import History
    >>> h = History(loss=[1.0, 0.5], accuracy=[0.5, 1.0], seconds=[0.1, 0.1])
    >>> plot_history(h, pathlib.Path(tempfile.mkdtemp()) / "loss.png").suffix
    '.png'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write, require
from ..core.engine import no_grad

__all__ = ["plot_decision_boundary", "plot_format", "plot_history"]


def _pyplot() -> Any:
    matplotlib = require("matplotlib", "train")
    matplotlib.use("Agg")  # files only; never needs a display
    return require("matplotlib.pyplot", "train")


def plot_format(path: str | os.PathLike[str], option: str = "plot") -> str:
    """The image format for ``path``, from its extension, as matplotlib writes it; a
    ValueError naming ``option`` for an extension it cannot write (or none).

    Example:
        >>> plot_format("loss.SVG"), plot_format("b.jpg")
        ('svg', 'jpg')
    """
    _pyplot()
    kinds = require("matplotlib.backends.backend_agg", "train").FigureCanvasAgg.filetypes
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in kinds:
        raise ValueError(f"{option}: cannot write {str(path)!r}: the extension must be one of "
                         f"{', '.join('.' + k for k in sorted(kinds))}")  # fmt: skip
    return suffix


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    plt = _pyplot()
    try:
        kind = plot_format(path)
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format=kind, dpi=110))
    finally:
        plt.close(fig)


def plot_history(history: Any, path: str | os.PathLike[str]) -> Path:
    """Loss (and accuracy, when known) per epoch."""
    plt = _pyplot()
    has_acc = any(a is not None for a in history.accuracy)
    fig, axes = plt.subplots(1, 2 if has_acc else 1, figsize=(9 if has_acc else 5, 3.5))
    axes = np.atleast_1d(axes)
    epochs = np.arange(1, len(history.loss) + 1)
    axes[0].plot(epochs, history.loss)
    axes[0].set(xlabel="epoch", ylabel="training loss", title="loss")
    if has_acc:
        axes[1].plot(epochs, history.accuracy)
        axes[1].set(xlabel="epoch", ylabel="training accuracy", title="accuracy", ylim=(0, 1.05))
    fig.tight_layout()
    return _save(fig, path)


def _score(output: Any) -> float:
    """One number whose sign (or side of 0.5) is the predicted class: the output itself,
    or for two class logits their difference."""
    if not isinstance(output, list):
        return output.data
    if len(output) != 2:
        raise ValueError(f"plot_decision_boundary: needs 1 or 2 outputs, got {len(output)}")
    return output[1].data - output[0].data


def _class_one(model: Any, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Where on the grid the model predicts class 1 (rows follow ``ys``)."""
    with no_grad():
        scores = np.array([[_score(model([a, b])) for a in xs] for b in ys])
    # a probability splits at 0.5, a score or logit difference at 0: read from the output's
    # op (recorded only with grad on), not guessed from the scores' range (a score can be
    # in [0, 1] too)
    threshold = 0.5 if getattr(model([xs[0], ys[0]]), "op", "") == "sigmoid" else 0.0
    return scores > threshold


def plot_decision_boundary(
    model: Any, X: Any, y: Any, path: str | os.PathLike[str], *, resolution: int = 60
) -> Path:
    """Shade where a 2-input model predicts class 1, with the data on top. The model has
    one output (a sigmoid probability, split at 0.5, or a score, split at 0) or two class
    logits."""
    plt = _pyplot()
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: needs 2-D inputs, got shape {X.shape}")
    pad = 0.5
    xs = np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, resolution)
    ys = np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, resolution)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.contourf(xs, ys, _class_one(model, xs, ys), levels=1, cmap="coolwarm", alpha=0.35)
    ax.scatter(X[:, 0], X[:, 1], c=np.asarray(y), cmap="coolwarm", edgecolors="k", s=25)
    ax.set(title="decision boundary", xlabel="x1", ylabel="x2")
    fig.tight_layout()
    return _save(fig, path)
