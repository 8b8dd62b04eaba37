"""The backward pass one edge at a time: :func:`backward_steps` replays ``backward`` as
steps (``parent.grad += local × upstream``) with the diagram's state after each, and
:func:`render_steps` writes them as a page to step through.

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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write_text
from ..core.engine import Value, backward_order, chain_rule
from ..core.graph import Naming, names, uses
from .diagrams import StepStyle, draw_dot, pipe, significant
from .explain import wrap
from .graphviz_bounds import DOT_TIMEOUT, GraphvizTimeout, check_drawable, check_timeout

__all__ = ["Step", "backward_steps", "expression_lines", "render_steps"]


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
    first = Step(0, out, out, 1.0, 1.0, 1.0, 1.0, f"start: ∂{out}/∂{out} = 1", True)
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
                + (total if accumulating else f"∂{out}/∂{p} is now {f(grads[parent])}")
                + (" (final)" if done else ""))  # fmt: skip
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
        lines = [*lines[:limit], f"… and {len(lines) - limit} more"]
    return lines


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Backward pass, step by step</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
.bar {{ display: flex; flex-wrap: wrap; gap: .4em; align-items: center; margin: .4em 0; }}
#expression {{ font-family: monospace; white-space: pre; background: #f6f6f6; padding: .4em;
  max-height: 8em; overflow: auto; }}
#text {{ font-family: monospace; font-size: 1.1em; margin: .5em 0; min-height: 1.5em; }}
#viewport {{ border: 1px solid #ccc; height: 70vh; overflow: auto; cursor: grab; }}
#viewport.dragging {{ cursor: grabbing; }}
#slider {{ flex: 1; min-width: 10em; }}
</style></head><body>
<h1>Backward pass of {title}, step by step</h1>
<div id="expression">{expression}</div>
<p>Each step multiplies one local derivative by the gradient arriving from above and adds it
to the operand's gradient. A node turns green on the step its gradient is complete; the red
edge is the one just used. Keys: <kbd>←</kbd>/<kbd>→</kbd> one step, <kbd>Home</kbd>/<kbd>End</kbd>
first/last, <kbd>p</kbd> play/pause, <kbd>+</kbd>/<kbd>−</kbd> zoom. Drag to pan.</p>
<div class="bar">
<button id="first">◀◀ first</button>
<button id="prev">◀ previous</button>
<button id="play">▶ play</button>
<button id="next">next ▶</button>
<button id="last">last ▶▶</button>
<input id="slider" type="range" min="0" max="{last}" value="0" aria-label="step">
<span id="counter"></span></div>
<div class="bar">
<button id="zoom-out">− zoom</button><button id="zoom-in">+ zoom</button>
<button id="fit">fit</button><button id="actual">100 %</button><span id="zoom"></span></div>
<div id="text"></div>
<div id="viewport"><div id="diagram"></div></div>
<script>
const steps = {steps};
let k = 0, zoom = null, timer = null;
const $ = (id) => document.getElementById(id);
function natural(svg) {{  // Graphviz writes width/height in pt
  return [parseFloat(svg.getAttribute("width")) * 4 / 3,
          parseFloat(svg.getAttribute("height")) * 4 / 3];
}}
function applyZoom() {{
  const svg = $("diagram").querySelector("svg");
  if (!svg) return;
  const [w, h] = natural(svg);
  if (zoom === null) zoom = Math.max(0.8, Math.min(1, $("viewport").clientWidth / w));
  svg.style.width = (w * zoom) + "px"; svg.style.height = (h * zoom) + "px";
  $("zoom").textContent = Math.round(zoom * 100) + " %";
}}
function reveal() {{  // keep the edge just used in view
  const a = $("diagram").querySelector("g.edge.active"), vp = $("viewport");
  if (!a) return;
  const r = a.getBoundingClientRect(), v = vp.getBoundingClientRect();
  if (r.left < v.left || r.right > v.right || r.top < v.top || r.bottom > v.bottom) {{
    vp.scrollLeft += (r.left + r.right) / 2 - (v.left + v.right) / 2;
    vp.scrollTop += (r.top + r.bottom) / 2 - (v.top + v.bottom) / 2;
  }}
}}
function show(i) {{
  k = Math.max(0, Math.min(steps.length - 1, i));
  $("diagram").innerHTML = steps[k].svg;
  $("text").textContent = steps[k].text;
  $("slider").value = k;
  $("counter").textContent = "step " + k + " / " + (steps.length - 1);
  applyZoom(); reveal();
  if (k === steps.length - 1) pause();
}}
function pause() {{ clearInterval(timer); timer = null; $("play").textContent = "▶ play"; }}
function play() {{
  if (timer) return pause();
  if (k === steps.length - 1) show(0);
  $("play").textContent = "■ pause";
  timer = setInterval(() => show(k + 1), 900);
}}
function setZoom(z) {{ zoom = Math.max(0.1, Math.min(4, z)); applyZoom(); }}
$("first").onclick = () => show(0);
$("prev").onclick = () => show(k - 1);
$("next").onclick = () => show(k + 1);
$("last").onclick = () => show(steps.length - 1);
$("play").onclick = play;
$("slider").oninput = (e) => show(Number(e.target.value));
$("zoom-in").onclick = () => setZoom(zoom * 1.25);
$("zoom-out").onclick = () => setZoom(zoom / 1.25);
$("actual").onclick = () => setZoom(1);
$("fit").onclick = () => {{
  const svg = $("diagram").querySelector("svg");
  setZoom($("viewport").clientWidth / natural(svg)[0]);
}};
document.addEventListener("keydown", (e) => {{
  const moves = {{ArrowRight: () => show(k + 1), ArrowLeft: () => show(k - 1),
                 Home: () => show(0), End: () => show(steps.length - 1), p: play,
                 "+": () => setZoom(zoom * 1.25), "-": () => setZoom(zoom / 1.25)}};
  if (!(e.key in moves)) return;
  e.preventDefault();  // the slider must not move a second time on its own
  moves[e.key]();
}});
const vp = $("viewport");
let drag = null;
vp.addEventListener("mousedown", (e) => {{
  drag = [e.clientX, e.clientY, vp.scrollLeft, vp.scrollTop]; vp.classList.add("dragging");
}});
window.addEventListener("mousemove", (e) => {{
  if (!drag) return;
  vp.scrollLeft = drag[2] - (e.clientX - drag[0]); vp.scrollTop = drag[3] - (e.clientY - drag[1]);
}});
window.addEventListener("mouseup", () => {{ drag = null; vp.classList.remove("dragging"); }});
vp.addEventListener("wheel", (e) => {{
  if (!e.ctrlKey) return;
  e.preventDefault(); setZoom(zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1));
}}, {{passive: false}});
show(0);
</script></body></html>
"""


def render_steps(
    root: Value,
    directory: str | os.PathLike[str],
    *,
    max_steps: int = 400,
    expression: str | None = None,
    dot_timeout: float = DOT_TIMEOUT,
    **draw_options: Any,
) -> Path:
    """Write ``step_000.svg`` … (one per backward step) and a self-contained
    ``index.html`` that steps through them; returns the page's path.

    The page shows ``expression`` (by default the output and its labelled parts, from
    :func:`expression_lines`), the step's arithmetic with accumulation written out, and the
    diagram with zoom and pan. ``step_NNN.svg`` files left by an earlier, longer run in
    ``directory`` are removed. A graph too large to lay out is refused before ``dot`` runs;
    drawing every picture may take ``dot_timeout`` seconds in all (:class:`GraphvizTimeout`).

    Example:
        >>> import tempfile
        >>> from autograd_bp import Value
        >>> a = Value(3.0, label="a"); b = a * a; b.label = "b"
        >>> page = render_steps(b, tempfile.mkdtemp())
        >>> page.name, len(list(page.parent.glob("step_*.svg")))
        ('index.html', 3)
    """
    steps = backward_steps(root, precision=draw_options.get("precision", 4))
    if len(steps) > max_steps:
        raise ValueError(
            f"render_steps: the graph has {len(steps)} backward steps, more than "
            f"max_steps={max_steps}; render a smaller expression or raise max_steps"
        )
    check_drawable(root, "render_steps", hint="step through a smaller expression")
    deadline = time.monotonic() + check_timeout(dot_timeout)
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    draw_options.setdefault("show_local_grads", True)
    pages = []
    for step, style in steps:
        dot = draw_dot(root, _style=style, **draw_options)
        left = deadline - time.monotonic()
        if left <= 0:
            raise GraphvizTimeout(
                f"render_steps: Graphviz's dot did not finish within {dot_timeout:g} s "
                f"({step.index} of {len(steps)} pictures drawn); allow it longer "
                "(--dot-timeout SECONDS, dot_timeout= in Python) or step through a smaller "
                "expression")  # fmt: skip
        svg = pipe(dot, "svg", timeout=left).decode("utf-8")
        atomic_write_text(out_dir / f"step_{step.index:03d}.svg", svg)
        pages.append({"text": step.text, "svg": svg[svg.find("<svg") :]})
    for old in out_dir.glob("step_*.svg"):  # from an earlier run with more steps
        number = old.stem.removeprefix("step_")
        if number.isdigit() and int(number) >= len(steps):
            old.unlink()
    title = html.escape(names(root, backward_order(root))[root])
    lines = [expression] if expression is not None else expression_lines(root)
    page = _PAGE.format(
        title=title, last=len(pages) - 1, expression=html.escape("\n".join(lines)),
        steps=json.dumps(pages).replace("</", "<\\/"),
    )  # fmt: skip
    return atomic_write_text(out_dir / "index.html", page)
