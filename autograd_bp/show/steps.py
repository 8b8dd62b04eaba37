"""The backward pass one edge at a time: :func:`backward_steps` replays ``backward`` as
steps (``parent.grad += local × upstream``) with the diagram's state after each;
:func:`step_data` is what the one step-through component (``serve/static/stepper.js``:
the ``steps`` page, the playground, the Jupyter widget) shows — one SVG drawn once and each
step as a state of it; :func:`render_steps` writes it as a self-contained page.

Example:
    >>> from autograd_bp import Value
    >>> a = Value(3.0, label="a"); b = a * a; b.label = "b"
    >>> len(backward_steps(b))
    3
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write_text, strict_json
from ..core.engine import Value, backward_order, chain_rule
from ..core.graph import Naming, names, uses
from ..locale import _, catalog, language, normalize, use_language
from .diagrams import COLORS, FINAL, HIGHLIGHT, StepStyle, draw_dot, pipe, significant
from .explain import explain_nodes, wrap
from .graphviz_bounds import DOT_TIMEOUT, check_drawable

__all__ = ["STATIC", "Step", "backward_steps", "expression_lines", "render_steps", "step_data"]

# The step-through component's files: the playground's own (autograd_bp.serve serves them
# from here too), read as data — nothing of serve is imported.
STATIC = Path(__file__).resolve().parents[1] / "serve" / "static"


@dataclass
class Step:
    """One step of the backward pass: ``parent.grad += local × upstream``."""

    index: int
    child: str
    parent: str
    local: float
    upstream: float
    contribution: float
    total: float  # the parent's gradient after this step
    text: str
    final: bool = False  # whether this step completed the parent's gradient


def backward_steps(root: Value, *, precision: int = 4) -> list[tuple[Step, StepStyle]]:
    """Replay ``backward`` one edge at a time: each step with the diagram state after it.

    A node is final (green) on the step that adds its last contribution — leaves too.

    Example:
        >>> from autograd_bp import Value
        >>> a = Value(3.0, label="a"); b = a * a; b.label = "b"
        >>> [s.text.split("; ")[-1] for s, _ in backward_steps(b)[1:]]
        ['∂b/∂a is now 3', '∂b/∂a = 3 + 3 = 6 (final)']
    """
    order = backward_order(root)
    label = names(root, order)
    remaining = uses(order)  # contributions still to come, one per edge into a node
    grads: dict[Value, float] = {root: 1.0}
    final: set[Value] = {root}
    f = lambda x: significant(x, precision)
    out = label[root]
    first = Step(0, out, out, 1.0, 1.0, 1.0, 1.0,
                 _("start: {derivative} = 1").format(derivative=f"∂{out}/∂{out}"), True)
    steps = [(first, StepStyle(dict(grads), set(final), None))]

    def step(node: Value, k: int, parent: Value, local: Any, g: Any, earlier: Any) -> None:
        contribution = local * g
        accumulating = earlier is not None  # an earlier contribution is already there
        before = 0.0 if earlier is None else earlier
        grads[parent] = contribution if earlier is None else earlier + contribution
        remaining[parent] -= 1
        done = remaining[parent] == 0
        if done:
            final.add(parent)
        c, p = wrap(label[node]), wrap(label[parent])  # ∂(w*x + b), not ∂w*x + b
        sign = "−" if contribution < 0 else "+"
        total = f"∂{out}/∂{p} = {f(before)} {sign} {f(abs(contribution))} = {f(grads[parent])}"
        text = (f"∂{c}/∂{p} × ∂{out}/∂{c} = {f(local)} × {f(g)} = {f(contribution)}; "
                + (total if accumulating else _("{derivative} is now {value}").format(
                    derivative=f"∂{out}/∂{p}", value=f(grads[parent])))
                + (" " + _("(final)") if done else ""))  # fmt: skip
        shown = Step(len(steps), c, p, local, g, contribution, grads[parent], text, done)
        steps.append((shown, StepStyle(dict(grads), set(final), (node, parent, k))))

    chain_rule(root, order=order, visit=step)  # the walker's sums are the ones shown
    return steps


def expression_lines(root: Value, limit: int = 24) -> list[str]:
    """What is being differentiated, in the expression language: the output, then each
    named part it is made of (:class:`autograd_bp.core.graph.Naming`'s ``where`` bindings),
    outermost first — at most ``limit`` lines.

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(2.0, label="x"); z = x * 3 + 1; z.label = "z"; y = z.tanh(); y.label = "y"
        >>> expression_lines(y)
        ['y = tanh(z)', 'z = x*3 + 1']
    """
    namer = Naming(root, None)
    text = namer.name[root] if root.is_leaf else namer.text[root][0]
    name = namer.name[root]
    lines = [text if name == text else f"{name} = {text}"]
    lines += [f"{namer.name[n]} = {namer.text[n][0]}" for n in reversed(namer.bound)]
    if len(lines) > limit:
        lines = [*lines[:limit], _("… and {count} more").format(count=len(lines) - limit)]
    return lines


def _sum_text(output: str, step: Any, f: Any) -> str:
    """``∂f/∂a = ∂f/∂b·∂b/∂a + … = 1 × 3 + … = 6``: one node's full chain-rule sum."""
    head = f"∂{wrap(output)}/∂{wrap(step.node)}"
    if not step.terms:
        return f"{head} = 1 " + _("(the output)") if step.node == output else f"{head} = 0"
    symbols = " + ".join(f"∂{wrap(output)}/∂{wrap(c)}·∂{wrap(c)}/∂{wrap(step.node)}"
                         for c, _, _ in step.terms)  # fmt: skip
    numbers = " + ".join(f"{f(g)} × {f(d)}" for _, g, d in step.terms)
    return f"{head} = {symbols} = {numbers} = {f(step.grad)}"


def _state(step: Step, style: StepStyle, order: list[Value], ident: dict[Value, str],
           f: Any) -> dict[str, Any]:  # fmt: skip
    """One step as a state of the SVG: gradients so far by node id, final nodes, the edge."""
    grads = style.grads or {}
    active = None
    if style.active is not None:
        child, parent, k = style.active
        active = f"{ident[parent]}->{ident[child]}_op#{k}"
    return {
        "text": step.text, "child": step.child, "parent": step.parent,
        "local": step.local, "upstream": step.upstream, "contribution": step.contribution,
        "total": step.total, "final_step": step.final,
        "grads": {ident[n]: f(grads.get(n, 0.0)) for n in order},
        "final": [ident[n] for n in order if n in style.final],
        "active": active,
        "touched": [ident[n] for n in style.active[:2]] if style.active else [],
    }  # fmt: skip


def step_data(root: Value, precision: int = 4, *, max_steps: int | None = None,
              dot_timeout: float = DOT_TIMEOUT, what: str = "step_data",
              hint: str = "step through a smaller expression",
              **draw_options: Any) -> dict[str, Any]:  # fmt: skip
    """The picture and the step-through of ``root``'s backward pass, as ``stepper.js`` reads it.

    ``svg``: the graph drawn once by :func:`~autograd_bp.show.diagrams.draw_dot` (local
    derivatives on the edges; ``draw_options`` passed on). ``steps``: one entry per
    :func:`backward_steps` step — its text, every node's gradient so far (by SVG node id), the
    nodes whose gradient is final and the edge just used. ``nodes``: per SVG node id, its
    name and chain-rule sum. ``colors``: the diagram's fills. More than ``max_steps`` steps,
    or a graph too large to lay out, is refused (``ValueError`` naming ``what``, then
    ``hint``) before ``dot`` runs; ``dot`` is stopped after ``dot_timeout`` seconds.

    Example:
        >>> from autograd_bp import Value
        >>> a = Value(3.0, label="a"); b = a * a; b.label = "b"
        >>> d = step_data(b)
        >>> d["steps"][-1]["text"].split("; ")[-1], d["nodes"]["n1"]["sum"]
        ('∂b/∂a = 3 + 3 = 6 (final)', '∂b/∂a = ∂b/∂b·∂b/∂a + ∂b/∂b·∂b/∂a = 1 × 3 + 1 × 3 = 6')
    """
    order = backward_order(root)
    ident = {node: f"n{i}" for i, node in enumerate(order)}
    f = lambda x: significant(x, precision)
    steps = backward_steps(root, precision=precision)
    if max_steps is not None and len(steps) > max_steps:
        raise ValueError(f"{what}: the graph has {len(steps)} backward steps, more than "
                         f"{max_steps}; {hint}")  # fmt: skip
    check_drawable(root, what, hint=hint)
    draw_options.setdefault("show_local_grads", True)
    # drawn at the last step: every number at its widest, the legend complete; the page
    # restyles nodes and edges for each step
    dot = draw_dot(root, _style=steps[-1][1], precision=precision, **draw_options)
    svg = pipe(dot, "svg", timeout=dot_timeout).decode("utf-8")
    output = steps[0][0].child
    sums = explain_nodes(root, _order=order)
    nodes = {ident[n]: {"name": s.node, "data": n.data, "grad": s.grad,
                        "sum": _sum_text(output, s, f)} for n, s in zip(order, sums)}  # fmt: skip
    states = [_state(step, style, order, ident, f) for step, style in steps]
    return {"svg": svg[svg.find("<svg"):], "steps": states, "nodes": nodes,
            "colors": {**COLORS, "final": FINAL, "highlight": HIGHLIGHT}}  # fmt: skip


def _script_safe(text: str) -> str:
    """JSON ``text`` to sit inside a script element: every ``<`` written as ``\\u003c``
    (the same string to JSON.parse), so nothing in it can end the element or open a
    comment there."""
    return text.replace("<", "\\u003c")


def render_steps(
    root: Value,
    directory: str | os.PathLike[str],
    *,
    max_steps: int = 400,
    expression: str | None = None,
    dot_timeout: float = DOT_TIMEOUT,
    lang: str | None = None,
    **draw_options: Any,
) -> Path:
    """Write ``index.html`` into ``directory``: the backward pass of ``root`` to step through
    with the playground's component (``stepper.js``), one self-contained file that opens
    from disk; returns its path.

    The page shows ``expression`` (by default the output and its labelled parts, from
    :func:`expression_lines`), the step's arithmetic with accumulation written out, the
    diagram (drawn once, restyled per step) with zoom and pan, and each node's chain-rule sum
    on hover. More than ``max_steps`` steps, or a graph too large to lay out, is refused
    before ``dot`` runs; ``dot`` is stopped after ``dot_timeout`` seconds. The
    ``step_NNN.svg`` files earlier versions wrote, one per step, are removed. ``lang``
    (default: :func:`autograd_bp.locale.language`) is the page's language: its texts are
    the "web" catalog's, embedded, so the page needs nothing but itself.

    Example:
        >>> import tempfile
        >>> from autograd_bp import Value
        >>> a = Value(3.0, label="a"); b = a * a; b.label = "b"
        >>> page = render_steps(b, tempfile.mkdtemp())
        >>> page.name, page.read_text().count("http://www.w3.org/2000/svg")  # drawn once
        ('index.html', 1)
    """
    precision = draw_options.pop("precision", 4)
    lang = normalize(lang) if lang is not None else language()
    with use_language(lang):  # the steps' own texts, where the Python catalog has them
        data = step_data(root, precision, max_steps=max_steps, dot_timeout=dot_timeout,
                         what="render_steps", hint="step through a smaller expression (or "
                         "raise max_steps)", **draw_options)  # fmt: skip
    messages = {"lang": lang, "messages": catalog("web", lang)}
    lines = [expression] if expression is not None else expression_lines(root)
    stepper = (STATIC / "stepper.js").read_text(encoding="utf-8")
    if "</script" in stepper.lower():  # it is inlined: it must not end its own element
        raise RuntimeError("stepper.js contains '</script' and cannot be inlined")
    fill = {"STEPPER_CSS": (STATIC / "stepper.css").read_text(encoding="utf-8"),
            "STEPPER_JS": stepper, "DATA": _script_safe(json.dumps(strict_json(data))),
            "TITLE": html.escape(names(root, backward_order(root))[root]),
            "EXPRESSION": html.escape("\n".join(lines)),
            "MESSAGES": _script_safe(json.dumps(messages, ensure_ascii=False))}  # fmt: skip
    # one pass: what is filled in (names are anyone's text) is never searched for a marker
    template = (STATIC / "steps.html").read_text(encoding="utf-8")
    page = re.sub(r"/\*@([A-Z_]+)@\*/", lambda m: fill[m.group(1)], template)
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = atomic_write_text(out_dir / "index.html", page)
    for old in out_dir.glob("step_[0-9][0-9][0-9].svg"):  # an older version's one per step
        old.unlink()
    return written
