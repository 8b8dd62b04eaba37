"""What ``autograd-bp demo --example FILE`` prints: the forward table, every weight's chain,
Nielsen's BP1–BP4 checked against the engine, the update, training, and the comparison
with the figures the source printed (``[published]``).

Example:
    >>> from autograd_bp.textbook.example_file import parse_example
    >>> from autograd_bp.textbook.example_file import EXAMPLES
    >>> ex = parse_example((EXAMPLES / "mazur.toml").read_text())
    >>> from autograd_bp.textbook.example import compute_example
    >>> rows = compare(ex, compute_example(ex))
    >>> [(r.name, r.status) for r in rows if r.key == "gradients.w5"]
    [('gradients.w5', '✓')]
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from ..locale import N_, _
from ..show.explain import explain, signed_sum
from ..show.paths import latex_name, nielsen_parts
from .example import Run, build, names_for, run_forward
from .example_file import SCHEDULES, Example
from .worked import Comparison

__all__ = ["bp_lines", "chain_texts", "compare", "forward_lines", "header", "latex_symbol",
           "report_lines", "shown_status"]

_SCHEDULED = ("updated.", "after_one_update.", "after_training.")
# A comparison's status is a value of the JSON (it never changes with the language); these
# two are words, said in the reader's language where a table shows them.
STATUS_WORDS = {"other schedule": N_("other schedule"), "n/a": N_("n/a")}


def header(*columns: tuple[str, int]) -> str:
    """A comparison table's header line: each (word, width) padded as the rows are (a
    negative width aligns right; a Chinese character is two columns wide in a terminal), the
    words in the language in use, then "match".

    Example:
        >>> header(("quantity", 10), ("engine", -8))
        'quantity     engine  match'
    """
    cells = []
    for word, width in columns:
        text = _(word)
        gap = " " * max(0, abs(width) - sum(2 if ord(c) > 0x2E7F else 1 for c in text))
        cells.append(text + gap if width > 0 else gap + text)
    match = _("match")
    return " ".join(cells) + "  " + match


def shown_status(status: str) -> str:
    """A comparison's status as a table shows it, in the language in use.

    Example:
        >>> shown_status("✓"), shown_status("other schedule")
        ('✓', 'other schedule')
    """
    return _(STATUS_WORDS[status]) if status in STATUS_WORDS else status


def _lookup(results: dict[str, Any], key: str) -> float | None:
    if key in results:
        value = results[key]
        return float(value) if isinstance(value, (int, float)) else None
    base, _, index = key.rpartition(".")
    if base in results and isinstance(results[base], list) and index.isdigit():
        items = results[base]
        return float(items[int(index)]) if int(index) < len(items) else None
    return None


def _other(key: str, schedule: str) -> str | None:
    """The same quantity under the other schedule, for a key without a schedule in it."""
    group, _, rest = key.partition(".")
    if not key.startswith(_SCHEDULED) or rest.split(".")[0] in SCHEDULES:
        return None
    other = next(s for s in SCHEDULES if s != schedule)
    return f"{group}.{other}.{rest}"


def compare(ex: Example, results: dict[str, Any]) -> list[Comparison]:
    """One row per ``[published]`` figure: ✓ rounds to the printed digits, ≈ one unit off in
    the last printed digit, ``other schedule`` only the other update schedule gives it, ✗.
    A key that names no result raises ValueError naming it."""
    schedule = results["settings.schedule"]
    rows = []
    for key, printed in ex.published.items():
        computed = _lookup(results, key)
        if computed is None:
            raise ValueError(f"published.{key}: no such result (see demo --example FILE --json)")
        row = Comparison(key, computed, printed, True, key)
        twin_key = _other(key, schedule)
        if twin_key is not None and row.status.startswith("✗"):
            twin = Comparison(twin_key, _lookup(results, twin_key) or math.nan, printed, True)
            other = twin_key.split(".")[1]
            if twin.status in ("✓", "≈"):
                row = Comparison(key, computed, printed, True, key, schedule, other)
        rows.append(row)
    return rows


def _f(x: float, digits: int = 9) -> str:
    return f"{x:.{digits}g}"


def _vec(xs: Sequence[float], digits: int = 6) -> str:
    return "(" + ", ".join(_f(x, digits) for x in xs) + ")"


def _check(mine: Sequence[float], engine: Sequence[float]) -> str:
    same = all(math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15) for a, b in zip(mine, engine))
    return _("✓ = engine") if same else _("✗ ≠ engine {values}").format(values=_vec(engine, 9))


def forward_lines(ex: Example, results: dict[str, Any]) -> list[str]:
    """The forward table: each neuron's weighted input and activation, then the error."""
    names, lines = names_for(ex), [_("Forward pass:")]
    last = len(ex.sizes) - 2
    for i in range(len(ex.sizes) - 1):
        for j in range(ex.sizes[i + 1]):
            zn, an = names.z(i, j, i == last), names.a(i, j, i == last)
            lines.append(f"  {zn:<10} = {_f(results['forward.' + zn]):>16}    "
                         f"{an:<10} = {ex.activations[i]}({zn}) = "
                         f"{_f(results['forward.' + an])}")  # fmt: skip
    terms = [results[f"error.{names.error(j)}"] for j in range(ex.sizes[-1])]
    shown = "  ".join(f"{names.error(j)} = {_f(t)}" for j, t in enumerate(terms))
    lines.append(f"  {ex.loss}: {shown}   E_total = {_f(results['error.E_total'])}")
    return lines


def _fresh_run(ex: Example) -> tuple[Run, dict[str, Any]]:
    net, params = build(ex)
    run = run_forward(net, ex)
    run.cost.backward()
    return run, params


def chain_texts(ex: Example, max_paths: int = 64) -> list[str]:
    """Every weight's gradient as the chain rule, factor by factor (``explain``)."""
    run, params = _fresh_run(ex)
    stops = [v for layer in run.z + run.a for v in layer]
    return [explain(run.cost, v, stops=stops, max_paths=max_paths).text()
            for name, v in params.items() if name.startswith("w")]  # fmt: skip


def _sigma_prime(run: Run, i: int) -> list[float]:
    return [1.0 if a is z else a.local_grads[0] for a, z in zip(run.a[i], run.z[i])]


def bp_lines(ex: Example) -> list[str]:
    """δ per layer by BP1/BP2 from the activations, BP3/BP4 from the δ's, each checked
    against the engine's scalar gradients (layer 1 = the inputs, as in Nielsen)."""
    run, params = _fresh_run(ex)
    L = len(run.z)
    lines = [_("The same gradients by the four equations of chapter 2 of Michael Nielsen's "
               '"Neural Networks and Deep Learning"\n(http://neuralnetworksanddeeplearning.com/'
               "chap2.html); layer 1 = the inputs, δ = ∂E/∂z:")]  # fmt: skip
    grad_a = [a.grad for a in run.a[-1]]
    delta = [g * s for g, s in zip(grad_a, _sigma_prime(run, L - 1))]
    lines.append(f"  BP1  δ{L + 1} = ∇_a C ⊙ σ′(z{L + 1}) = {_vec(grad_a)} ⊙ "
                 f"{_vec(_sigma_prime(run, L - 1))} = {_vec(delta)}  "
                 + _check(delta, [z.grad for z in run.z[-1]]))  # fmt: skip
    deltas = {L - 1: delta}
    for i in range(L - 2, -1, -1):
        above = [[w.data for w in row] for row in _weight_rows(run, params, ex, i + 1)]
        back = [sum(above[j][k] * deltas[i + 1][j] for j in range(len(above)))
                for k in range(len(run.z[i]))]  # fmt: skip
        deltas[i] = [b * s for b, s in zip(back, _sigma_prime(run, i))]
        lines.append(f"  BP2  δ{i + 2} = ((w{i + 3})ᵀ δ{i + 3}) ⊙ σ′(z{i + 2}) = {_vec(back)} ⊙ "
                     f"{_vec(_sigma_prime(run, i))} = {_vec(deltas[i])}  "
                     + _check(deltas[i], [z.grad for z in run.z[i]]))  # fmt: skip
    for i in range(L - 1, -1, -1):
        lines += _bp34(ex, run, params, i, deltas[i])
    return lines


def _weight_rows(run: Run, params: dict[str, Any], ex: Example, i: int) -> list[list[Any]]:
    names = names_for(ex)
    return [[params[names.weight(i, j, k, ex.sizes)] for k in range(ex.sizes[i])]
            for j in range(ex.sizes[i + 1])]  # fmt: skip


def _bp34(ex: Example, run: Run, params: dict[str, Any], i: int, delta: list[float]) -> list[str]:
    names = names_for(ex)
    below = [v.data for v in (run.a[i - 1] if i > 0 else run.x)]
    if ex.bias == "per-layer":
        b = names.bias(i, None)
        bp3 = (_("  BP3  ∂E/∂{b} = Σ_j δ{layer}_j (shared by the layer) = {terms} = {total}  "
                 ).format(b=b, layer=i + 2, terms=signed_sum(delta, _f), total=_f(sum(delta)))
               + _check([sum(delta)], [params[b].grad]))  # fmt: skip
    else:
        bs = [names.bias(i, j) for j in range(len(delta))]
        bp3 = (f"  BP3  ∂E/∂b{i + 2}_j = δ{i + 2}_j: ({', '.join(bs)}) → {_vec(delta)}  "
               + _check(delta, [params[n].grad for n in bs]))  # fmt: skip
    rows = _weight_rows(run, params, ex, i)
    gw = [below[k] * delta[j] for j in range(len(rows)) for k in range(len(rows[0]))]
    ws = [w.label for row in rows for w in row]
    a = "x" if i == 0 else f"a{i + 1}"
    bp4 = (f"  BP4  ∂E/∂w{i + 2}_jk = {a}_k δ{i + 2}_j: ({', '.join(ws)}) → {_vec(gw)}  "
           + _check(gw, [w.grad for row in rows for w in row]))  # fmt: skip
    return [bp3, bp4]


def _update_lines(ex: Example, results: dict[str, Any]) -> list[str]:
    schedule = results["settings.schedule"]
    frozen = "" if ex.update_biases else _(" (biases frozen)")
    lines = [_("After one update, lr = {lr}, schedule {schedule}{frozen}:").format(
        lr=ex.lr, schedule=schedule, frozen=frozen)]
    params = [k.split(".", 2)[2] for k in results if k.startswith(f"updated.{schedule}.")]
    for name in params:
        if not ex.update_biases and name.startswith("b"):
            continue  # frozen: it does not move
        g = results[f"gradients.{name}"]
        new = results[f"updated.{schedule}.{name}"]
        lines.append(f"  {name + '⁺':<10} = {name} − {ex.lr} × {_f(g)} = {_f(new)}")
    lines.append("\n" + _("Training on the one example, {count} updates:").format(
        count=ex.iterations))
    for s in SCHEDULES:
        outs = ", ".join(_f(o) for o in results[f"after_training.{s}.outputs"])
        lines.append(f"  {s:<13} " + _("E after 1 update = {once}   E after {count} = {trained}"
                                       "   outputs = {outputs}").format(
            once=_f(results[f"after_one_update.{s}.E"]), count=ex.iterations,
            trained=_f(results[f"after_training.{s}.E"]), outputs=outs))  # fmt: skip
    return lines


def _comparison_lines(ex: Example, results: dict[str, Any]) -> list[str]:
    if not ex.published:
        return []
    lines = ["", _("Compared with the figures the source printed ([published]); ✓ rounds to "
                   "the printed digits,"), _("≈ one unit off in the last printed digit, other "
                                             "schedule: only the other update schedule gives "
                                             "it, ✗ differs:"),
             header((N_("quantity"), 38), (N_("computed"), -18), (N_("printed"), -14))]
    for r in compare(ex, results):
        lines.append(f"{r.key:<38} {_f(r.computed, 12):>18} {r.published:>14}  "
                     f"{shown_status(r.status)}")  # fmt: skip
    return lines


def report_lines(ex: Example, results: dict[str, Any]) -> list[str]:
    """The whole text report of ``demo --example``."""
    acts = ", ".join(ex.activations)
    head = [_("{title}: a {sizes} network ({activations}; biases {bias}; loss {loss}), every "
              "figure computed by the engine.").format(
                title=ex.title, sizes="-".join(map(str, ex.sizes)), activations=acts,
                bias=ex.bias, loss=ex.loss),
            f"x = {_vec(ex.inputs, 9)}; y = {_vec(ex.targets, 9)}", ""]  # fmt: skip
    chains = ["", _("The chain rule for every weight, factor by factor:"), *chain_texts(ex)]
    return [*head, *forward_lines(ex, results), *chains, "", *bp_lines(ex), "",
            *_update_lines(ex, results), *_comparison_lines(ex, results)]  # fmt: skip


def latex_symbol(name: str) -> str:
    """A label in textbook LaTeX: ``w2_1_3`` → ``w^{2}_{13}``, ``net_h1`` → ``net_{h1}``.

    Example:
        >>> latex_symbol("w3_2_1"), latex_symbol("delta2_1"), latex_symbol("out_o1")
        ('w^{3}_{21}', '\\\\delta^{2}_{1}', '\\\\mathrm{out}_{o1}')
    """
    if nielsen_parts(name) is not None:
        return latex_name(name)  # w^{2}_{13}: the one rendering of Nielsen's names
    if name.startswith("delta_"):
        return f"\\delta_{{{name[6:]}}}"
    if "_" in name:
        base, _, sub = name.partition("_")
        return f"\\mathrm{{{base}}}_{{{sub}}}" if len(base) > 1 else f"{base}_{{{sub}}}"
    m2 = re.match(r"\A([a-zA-Z])(\d+)\Z", name)
    return f"{m2[1]}_{{{m2[2]}}}" if m2 else f"\\mathrm{{{name}}}"
