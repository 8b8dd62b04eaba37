"""Pictures of training with matplotlib, written atomically in the format the file's
extension names (.png, .svg, .pdf, .jpg, ...), their titles and axis labels in the
language in use. Chinese needs a font with Chinese characters (``make dot`` installs
WenQuanYi Micro Hei); without one the text is drawn in English, with a one-line warning,
never as empty boxes.

Example:
    >>> import tempfile, pathlib
    >>> from autograd_bp.nn.train import History
    >>> h = History(loss=[1.0, 0.5], accuracy=[0.5, 1.0], seconds=[0.1, 0.1])
    >>> plot_history(h, pathlib.Path(tempfile.mkdtemp()) / "loss.png").suffix
    '.png'
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write, require
from ..core.engine import no_grad
from ..locale import N_, _, language, use_language

__all__ = ["CJK_FAMILIES", "chinese_font", "plot_decision_boundary", "plot_format",
           "plot_history"]

# Font families with Chinese characters, by preference: Debian's fonts-wqy-microhei (what
# `make dot` installs) first, then the usual ones of other systems.
CJK_FAMILIES = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans SC",
                "Source Han Sans SC", "Source Han Sans CN", "SimHei", "Microsoft YaHei",
                "PingFang SC")  # fmt: skip

# the pictures' words, translated where they are drawn
_EPOCH, _LOSS, _TRAINING_LOSS = N_("epoch"), N_("loss"), N_("training loss")
_ACCURACY, _TRAINING_ACCURACY = N_("accuracy"), N_("training accuracy")
_DECISION_BOUNDARY = N_("decision boundary")


def _pyplot() -> Any:
    matplotlib = require("matplotlib", "train")
    matplotlib.use("Agg")  # files only; never needs a display
    return require("matplotlib.pyplot", "train")


@cache
def chinese_font(families: tuple[str, ...] = CJK_FAMILIES) -> str | None:
    """The first of ``families`` matplotlib can draw with, found by family name through its
    font manager, or None. A font installed after matplotlib built its font cache is not in
    the cache: the system's font files are read then, and the one found is added.

    Example:
        >>> chinese_font(("No Such Font",)) is None
        True
    """
    fm = require("matplotlib.font_manager", "train")
    known = {f.name for f in fm.fontManager.ttflist}
    found = next((name for name in families if name in known), None)
    if found is not None:
        return found
    for path in fm.findSystemFonts():
        try:
            name = fm.get_font(path).family_name
        except (OSError, RuntimeError):  # a file FreeType cannot read: not a font for us
            continue
        if name in families:
            fm.fontManager.addfont(path)
            return str(name)
    return None


@contextlib.contextmanager
def _pictures_language() -> Iterator[None]:
    """Draw in the language in use: for Chinese with a Chinese font (Latin letters and
    signs it lacks fall back to DejaVu Sans), or in English, said in one line on stderr,
    when there is none."""
    if language() != "zh":
        yield
        return
    font = chinese_font(CJK_FAMILIES)  # read here, so that a test can name no such font
    if font is None:
        print(_("warning: no font with Chinese characters found (install fonts-wqy-microhei: "
                "make dot); the picture's text is in English"), file=sys.stderr)  # fmt: skip
        with use_language("en"):
            yield
        return
    plt = _pyplot()
    with plt.rc_context({"font.family": "sans-serif",
                         "font.sans-serif": [font, "DejaVu Sans"]}):  # fmt: skip
        yield


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
        raise ValueError(_("{option}: cannot write {path}: the extension must be one of "
                           "{extensions}").format(option=option, path=repr(str(path)),
                                                  extensions=", ".join(
                                                      "." + k for k in sorted(kinds))))
    return suffix


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    plt = _pyplot()
    try:
        kind = plot_format(path)
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format=kind, dpi=110))
    finally:
        plt.close(fig)


def plot_history(history: Any, path: str | os.PathLike[str]) -> Path:
    """Loss (and accuracy, when known) per epoch, its words in the language in use."""
    with _pictures_language():
        return _plot_history(history, path)


def _plot_history(history: Any, path: str | os.PathLike[str]) -> Path:
    plt = _pyplot()
    has_acc = any(a is not None for a in history.accuracy)
    fig, axes = plt.subplots(1, 2 if has_acc else 1, figsize=(9 if has_acc else 5, 3.5))
    axes = np.atleast_1d(axes)
    epochs = np.arange(1, len(history.loss) + 1)
    axes[0].plot(epochs, history.loss)
    axes[0].set(xlabel=_(_EPOCH), ylabel=_(_TRAINING_LOSS), title=_(_LOSS))
    if has_acc:
        axes[1].plot(epochs, history.accuracy)
        axes[1].set(xlabel=_(_EPOCH), ylabel=_(_TRAINING_ACCURACY), title=_(_ACCURACY),
                    ylim=(0, 1.05))  # fmt: skip
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
    logits. The title is in the language in use.
    """
    with _pictures_language():
        return _plot_decision_boundary(model, X, y, path, resolution)


def _plot_decision_boundary(model: Any, X: Any, y: Any, path: str | os.PathLike[str],
                            resolution: int) -> Path:  # fmt: skip
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
    ax.set(title=_(_DECISION_BOUNDARY), xlabel="x1", ylabel="x2")
    fig.tight_layout()
    return _save(fig, path)
