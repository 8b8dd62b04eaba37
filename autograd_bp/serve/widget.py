"""The playground's step-through inside Jupyter: an ``anywidget`` widget whose front end is
the very file the page uses (``static/stepper.js``), fed the same data as ``POST
/api/grad`` (:func:`autograd_bp.serve.data.graph_data`), and its language's "web" catalog
as ``messages`` (``GraphWidget(loss, lang="zh")``; default: ``AUTOGRAD_BP_LANG``, else English).

Example:
    >>> from autograd_bp import Value
    >>> x = Value(3.0, label="x"); y = x * x; y.label = "y"
    >>> w = GraphWidget(y)
    >>> len(w.data["steps"]), w.data["nodes"]["n1"]["grad"]
    (3, 6.0)
    >>> GraphWidget(y, lang="zh").messages["next ▶"]
    '下一步 ▶'
"""

from __future__ import annotations

from typing import Any

from .._io import require, strict_json
from ..core.engine import Value
from ..locale import catalog, language, normalize, use_language
from . import STATIC, STEPPER_JS
from .data import graph_data

anywidget = require("anywidget", "serve")
traitlets = require("traitlets", "serve")

__all__ = ["GraphWidget"]


class GraphWidget(anywidget.AnyWidget):  # type: ignore[name-defined]
    """A Value's graph with the backward step control: ``GraphWidget(loss)`` in a cell.
    ``backward`` is not needed first: the steps replay it from the graph."""

    _esm = STEPPER_JS
    _css = STATIC / "stepper.css"
    data = traitlets.Dict().tag(sync=True)
    messages = traitlets.Dict().tag(sync=True)  # the front end's words, msgid -> text

    def __init__(self, root: Value, *, precision: int = 4, lang: str | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        if not isinstance(root, Value):
            raise TypeError(f"GraphWidget: expected a Value, got {type(root).__name__}")
        lang = normalize(lang) if lang is not None else language()
        with use_language(lang):
            data = strict_json(graph_data(root, precision))
        super().__init__(data=data, messages=catalog("web", lang), **kwargs)
