"""What the playground shows, computed in Python by the project's own modules: the
documents of ``grad --json`` and ``check --json`` (:mod:`autograd_bp.reports`), one
Graphviz SVG of the graph, the backward steps of :func:`autograd_bp.show.steps.step_data`
as states of that SVG, and each node's chain-rule sum from
:func:`autograd_bp.show.explain.explain_nodes`. The browser only displays them.

Example:
    >>> doc = grad_payload({"expression": "x*x", "values": {"x": 3}})
    >>> doc["gradients"], len(doc["steps"]), doc["svg"].startswith("<svg")
    ({'x': 6.0}, 3, True)
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from typing import Any

from ..core.engine import Value
from ..reports import (
    InputError,
    check_report,
    grad_report,
    lab_bugs,
    lab_report,
    program_variables,
)
from ..show.graphviz_bounds import DOT_TIMEOUT
from ..show.steps import step_data

__all__ = ["MAX_STEPS", "PRESETS", "RequestError", "bugs_payload", "check_payload",
           "grad_payload", "graph_data", "lab_payload", "variables_payload"]  # fmt: skip


def _page(text: str) -> str:
    """Mark a text the page shows in its reader's language: the "web" catalog has it
    (scripts/web_messages.py extracts these), the page translates it."""
    return text


MAX_STEPS = 600  # backward steps sent to the page (one per edge of the graph)
MAX_NAMES = 200  # variables in one request


class RequestError(ValueError):
    """A request the API refuses (HTTP 400): the message names the field and the problem."""


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RequestError(f"{key!r} must be a non-empty string, got {value!r:.60}")
    return value


def _values(payload: Mapping[str, Any]) -> dict[str, float]:
    """``values``: an object of names to finite numbers (booleans are not numbers)."""
    values = payload.get("values", {})
    if not isinstance(values, dict):
        raise RequestError(f"'values' must be an object of name: number, got {values!r:.60}")
    if len(values) > MAX_NAMES:
        raise RequestError(f"'values' has {len(values)} names; at most {MAX_NAMES}")
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise RequestError(f"value of {name!r} must be a number, got {v!r:.60}")
        if not math.isfinite(v):
            raise RequestError(f"value of {name!r} must be a finite number, got {v!r}")
    return {name: float(v) for name, v in values.items()}


def _precision(payload: Mapping[str, Any]) -> int:
    p = payload.get("precision", 4)
    if isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 17:
        raise RequestError(f"'precision' must be an integer from 1 to 17, got {p!r:.60}")
    return p


def _known(payload: Mapping[str, Any], keys: set[str]) -> None:
    unknown = sorted(set(payload) - keys)
    if unknown:
        raise RequestError(f"unknown field(s) {', '.join(map(repr, unknown))}; "
                           f"expected {', '.join(sorted(keys))}")  # fmt: skip


def grad_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /api/grad``: what ``autograd-bp grad EXPRESSION NAME=VALUE… --json`` prints
    (with ``"check": true`` what ``--check`` adds, with ``"explain": NAME`` ``--explain``),
    plus ``svg``, ``steps`` and ``nodes`` (see :func:`graph_data`)."""
    _known(payload, {"expression", "values", "check", "explain", "precision"})
    expression = _text(payload, "expression")
    explain = None if payload.get("explain") is None else _text(payload, "explain")
    check = payload.get("check", False)
    if not isinstance(check, bool):
        raise RequestError(f"'check' must be true or false, got {check!r:.60}")
    precision = _precision(payload)
    try:
        report = grad_report(expression, _values(payload), explain_wrt=explain, check=check)
    except InputError as e:
        raise RequestError(str(e)) from None
    return {**report.to_dict(), **graph_data(report.root, precision)}


def variables_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /api/variables``: the variable names of an expression or a program, in order
    of appearance (the page builds a field for each)."""
    _known(payload, {"expression"})
    return {"variables": program_variables(_text(payload, "expression"))}


def check_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /api/check``: what ``autograd-bp check EXPRESSION NAME=VALUE… --wrt W --claim C
    --json`` prints."""
    _known(payload, {"expression", "values", "wrt", "claim"})
    expression, wrt, claim = (_text(payload, k) for k in ("expression", "wrt", "claim"))
    # the claim is read by the expression language only (autograd_bp.check.derivation)
    return check_report(expression, _values(payload), wrt, claim).to_dict()


def lab_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /api/lab``: what ``autograd-bp lab EXPRESSION NAME=VALUE… --bug ID [--wrt W
    --prediction P] --json`` prints, plus ``expression`` and ``values``. The bugs are faulty
    variants of this package's own engine (:mod:`autograd_bp.check.bugs`): no code of the
    request runs.

    Example:
        >>> doc = lab_payload({"expression": "a*a", "values": {"a": 3},
        ...                    "bug": "assign-instead-of-accumulate"})
        >>> [(d["name"], d["buggy"], d["correct"]) for d in doc["differing"]]
        [('a', 3.0, 6.0)]
    """
    _known(payload, {"expression", "values", "bug", "wrt", "prediction"})
    expression, bug = _text(payload, "expression"), _text(payload, "bug")
    wrt = None if payload.get("wrt") is None else _text(payload, "wrt")
    prediction = payload.get("prediction")
    if prediction is not None and (isinstance(prediction, bool)
                                   or not isinstance(prediction, int | float)):  # fmt: skip
        raise RequestError(f"'prediction' must be a number or null, got {prediction!r:.60}")
    return lab_report(expression, _values(payload), bug, wrt=wrt,
                      prediction=None if prediction is None else float(prediction))


def bugs_payload() -> dict[str, Any]:
    """``GET /api/bugs``: the lab's bugs, ``id``, ``title`` and ``change`` each.

    Example:
        >>> bugs_payload()["bugs"][0]["id"]
        'assign-instead-of-accumulate'
    """
    return {"bugs": lab_bugs()}


def graph_data(root: Value, precision: int = 4, *,
               dot_timeout: float = DOT_TIMEOUT) -> dict[str, Any]:  # fmt: skip
    """The picture and the step-through of ``root``'s backward pass, for the front end:
    :func:`autograd_bp.show.steps.step_data` (the ``steps`` page's too), at most
    ``MAX_STEPS`` steps; a graph too large to draw is refused before ``dot`` runs, and
    ``dot`` is stopped after ``dot_timeout`` seconds.

    Example:
        >>> from autograd_bp import Value
        >>> a = Value(3.0, label="a"); b = a * a; b.label = "b"
        >>> d = graph_data(b)
        >>> d["steps"][-1]["text"].split("; ")[-1], d["nodes"]["n1"]["sum"]
        ('∂b/∂a = 3 + 3 = 6 (final)', '∂b/∂a = ∂b/∂b·∂b/∂a + ∂b/∂b·∂b/∂a = 1 × 3 + 1 × 3 = 6')
    """
    return step_data(root, precision, max_steps=MAX_STEPS, dot_timeout=dot_timeout,
                     what="the playground", hint="try a smaller expression")  # fmt: skip


def _worked_preset() -> dict[str, Any]:
    """Matt Mazur's 2-2-2 network as a program under his names, at his numbers (from
    :mod:`autograd_bp.textbook.worked`)."""
    from ..textbook import worked

    program = "\n".join([
        "net_h1 = w1*x1 + w2*x2 + b1", "out_h1 = sigmoid(net_h1)",
        "net_h2 = w3*x1 + w4*x2 + b1", "out_h2 = sigmoid(net_h2)",
        "net_o1 = w5*out_h1 + w6*out_h2 + b2", "out_o1 = sigmoid(net_o1)",
        "net_o2 = w7*out_h1 + w8*out_h2 + b2", "out_o2 = sigmoid(net_o2)",
        "E_total = 0.5*(target_o1 - out_o1)**2 + 0.5*(target_o2 - out_o2)**2",
    ])  # fmt: skip
    values = dict(worked.SEED_PARAMETERS)
    values.update(zip(("x1", "x2"), worked.SEED_INPUTS))
    values.update(zip(("target_o1", "target_o2"), worked.SEED_TARGETS))
    return {"name": _page("Mazur's worked example (2-2-2, E_total)"), "expression": program,
            "values": values, "wrt": "w5",
            "claim": "-(target_o1 - out_o1)*out_o1*(1 - out_o1)*out_h1"}  # fmt: skip


def _mlp_preset(seed: int = 0) -> dict[str, Any]:
    """A 2-2-1 tanh MLP with a squared error, small random weights (seeded)."""
    rng = random.Random(seed)
    names = ["w11", "w12", "b1", "w21", "w22", "b2", "v1", "v2", "c"]
    values: dict[str, float] = {n: round(rng.uniform(-1, 1), 2) for n in names}
    values.update(x1=0.5, x2=-1.0, y=1.0)
    program = "\n".join([
        "h1 = tanh(w11*x1 + w12*x2 + b1)", "h2 = tanh(w21*x1 + w22*x2 + b2)",
        "out = tanh(v1*h1 + v2*h2 + c)", "loss = 0.5*(y - out)**2",
    ])  # fmt: skip
    return {"name": _page("small MLP (2-2-1, tanh, squared error)"), "expression": program,
            "values": values, "wrt": "w11",
            "claim": "-(y - out)*(1 - out**2)*v1*(1 - h1**2)*x1"}  # fmt: skip


PRESETS: list[dict[str, Any]] = [
    {"name": _page("sigmoid neuron"), "expression": "sigmoid(w*x + b)",
     "values": {"w": 0.4, "x": 0.5, "b": 0.1}, "wrt": "w",
     "claim": "sigmoid(w*x + b)*(1 - sigmoid(w*x + b))*x"},
    _worked_preset(),
    _mlp_preset(),
    {"name": _page("x used twice"), "expression": "tanh(x*x + y)", "values": {"x": 0.5, "y": -1.0},
     "wrt": "x", "claim": "(1 - tanh(x*x + y)**2)*2*x"},
]  # fmt: skip
