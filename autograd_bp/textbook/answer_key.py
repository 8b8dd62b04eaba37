"""A worked example's whole derivation as an answer key, in LaTeX or Markdown (with ``$$``
math), to paste into slides or a handout: the forward pass, the error, every delta by BP1/BP2,
every gradient by BP3/BP4, the updated parameters. Every number is computed.

Example:
    >>> from autograd_bp.textbook.example_file import parse_example
    >>> from autograd_bp.textbook.example import compute_example
    >>> from autograd_bp.textbook.example_file import EXAMPLES
    >>> ex = parse_example((EXAMPLES / "nielsen-2-3-2.toml").read_text())
    >>> key = answer_key(ex, compute_example(ex), "latex")
    >>> key.splitlines()[0]
    "\\\\section*{A 2-3-2 tanh network in Nielsen's names: answer key}"
"""

from __future__ import annotations

from typing import Any

from ..locale import _
from .example import names_for
from .example_file import Example
from .example_report import latex_symbol as s

__all__ = ["ANSWER_FORMATS", "answer_key"]

ANSWER_FORMATS = ("latex", "markdown")
_PRIME = {"sigmoid": "\\sigma'", "tanh": "\\tanh'", "relu": "\\mathrm{relu}'", "linear": "1\\cdot"}


def _n(x: float) -> str:
    text = f"{x:.9g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa} \\times 10^{{{int(exponent)}}}"
    return text


def _forward(ex: Example, r: dict[str, Any]) -> list[str]:
    names, L, eqs = names_for(ex), len(ex.sizes) - 1, []
    for i in range(L):
        below = [names.input(k) for k in range(ex.sizes[0])] if i == 0 else [
            names.a(i - 1, k, False) for k in range(ex.sizes[i])]  # fmt: skip
        for j in range(ex.sizes[i + 1]):
            z, a = names.z(i, j, i == L - 1), names.a(i, j, i == L - 1)
            terms = " + ".join(f"{s(names.weight(i, j, k, ex.sizes))}\\,{s(b)}"
                               for k, b in enumerate(below))  # fmt: skip
            bias = names.bias(i, None if ex.bias == "per-layer" else j)
            eqs.append(f"{s(z)} &= {terms} + {s(bias)} = {_n(r['forward.' + z])}")
            act = f"\\mathrm{{{ex.activations[i]}}}"
            eqs.append(f"{s(a)} &= {act}({s(z)}) = {_n(r['forward.' + a])}")
    eqs.append(f"E_{{\\mathrm{{total}}}} &= {_n(r['error.E_total'])}")
    return eqs


def _backward(ex: Example, r: dict[str, Any]) -> list[str]:
    names, L, eqs = names_for(ex), len(ex.sizes) - 1, []
    for i in range(L - 1, -1, -1):
        last = i == L - 1
        for j in range(ex.sizes[i + 1]):
            d, z, a = (names.delta(i, j, last), names.z(i, j, last), names.a(i, j, last))
            prime = _PRIME[ex.activations[i]]
            if last:
                rule = f"\\frac{{\\partial E}}{{\\partial {s(a)}}}\\,{prime}({s(z)})"
            else:
                up = [f"{s(names.weight(i + 1, m, j, ex.sizes))}\\,"
                      f"{s(names.delta(i + 1, m, i + 1 == L - 1))}"
                      for m in range(ex.sizes[i + 2])]  # fmt: skip
                rule = f"\\left({' + '.join(up)}\\right){prime}({s(z)})"
            eqs.append(f"{s(d)} &= {rule} = {_n(r['delta.' + d])}")
    return eqs


def _gradients(ex: Example, r: dict[str, Any]) -> list[str]:
    eqs = []
    for key, g in r.items():
        if not key.startswith("gradients."):
            continue
        name = key.split(".", 1)[1]
        new = r[f"updated.{r['settings.schedule']}.{name}"]
        frozen = name.startswith("b") and not ex.update_biases
        after = "" if frozen else f", \\quad {{{s(name)}}}^{{+}} = {_n(new)}"
        eqs.append(f"\\frac{{\\partial E}}{{\\partial {s(name)}}} &= {_n(g)}{after}")
    return eqs


def _sections(ex: Example, r: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [
        (_("Forward pass"), _forward(ex, r)),
        (_("Backward pass: the errors (BP1, BP2)"), _backward(ex, r)),
        (_("Gradients (BP3, BP4) and one update, learning rate {lr}, {schedule}").format(
            lr=ex.lr, schedule=r["settings.schedule"]), _gradients(ex, r)),
        (_("After {count} updates").format(count=ex.iterations), [
            f"E_{{\\mathrm{{total}}}} &= {_n(r['after_training.E'])}"]),
    ]  # fmt: skip


def answer_key(ex: Example, results: dict[str, Any], fmt: str) -> str:
    """The derivation of ``ex`` (results from ``compute_example``) as ``latex`` or ``markdown``."""
    if fmt not in ANSWER_FORMATS:
        raise ValueError(f"answer_key: fmt must be one of {', '.join(ANSWER_FORMATS)}, got {fmt!r}")
    out = []
    if fmt == "latex":
        out.append("\\section*{" + _("{title}: answer key").format(title=ex.title) + "}")
        for heading, eqs in _sections(ex, results):
            out += [f"\\subsection*{{{heading}}}", "\\begin{align*}",
                    " \\\\\n".join(eqs), "\\end{align*}"]  # fmt: skip
    else:
        out.append("# " + _("{title}: answer key").format(title=ex.title))
        for heading, eqs in _sections(ex, results):
            out += ["", f"## {heading}", "", "$$", "\\begin{aligned}", " \\\\\n".join(eqs),
                    "\\end{aligned}", "$$"]  # fmt: skip
    return "\n".join(out) + "\n"
