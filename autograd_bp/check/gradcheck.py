"""Independent checks of the engine's gradients.

* :func:`gradcheck` — central differences against ``backward`` for any scalar function.
* :func:`check_derivation` — grade a hand-derived gradient formula and diagnose it
  (:mod:`autograd_bp.check.derivation`).
* :func:`verify` — the triangle for a network: scalar engine = BP1–BP4 in matrix form =
  finite differences (= PyTorch, when installed), per parameter.

Example:
    >>> report = gradcheck(lambda x, y: (x * y).tanh() + x.exp(), [0.3, -1.2])
    >>> report.passed
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.engine import Value, no_grad, sum_values
from ..locale import N_, _, aligned
from ..textbook.matrix import Network
from .derivation import DerivationReport, check_derivation

__all__ = [
    "DerivationReport",
    "GradcheckReport",
    "GradcheckRow",
    "VerifyReport",
    "check_derivation",
    "gradcheck",
    "verify",
]


@dataclass
class GradcheckRow:
    """One input: the engine's derivative, the numeric one, and how far apart they are."""

    name: str
    analytic: float
    numeric: float
    error: float
    ok: bool
    note: str = ""  # why the row could not be checked (numeric is then NaN)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (``note`` only when there is one)."""
        doc = {"name": self.name, "analytic": self.analytic, "numeric": self.numeric,
               "error": self.error, "ok": self.ok}  # fmt: skip
        return dict(doc, note=self.note) if self.note else doc


@dataclass
class GradcheckReport:
    """Per-input rows and the verdict; truthy when every row passed."""

    rows: list[GradcheckRow]
    passed: bool

    @property
    def max_error(self) -> float:
        """The largest |analytic − numeric| over the inputs that could be checked."""
        return max((r.error for r in self.rows if not r.note), default=0.0)

    def __bool__(self) -> bool:
        return self.passed

    def text(self) -> str:
        """A table of the rows, its headings and verdict in the language in use."""
        head = [aligned(_("input"), 12), *(aligned(_(h), 16, right=True)
                                           for h in (N_("analytic"), N_("numeric")))]
        lines = [" ".join(head) + " " + aligned("|diff|", 10, right=True)]
        for r in self.rows:
            name = aligned(r.name, 12)
            if r.note:
                lines.append(f"{name} {r.analytic:>16.10g} {'—':>16} {'—':>10} ✗ {r.note}")
                continue
            mark = "✓" if r.ok else "✗"
            lines.append(
                f"{name} {r.analytic:>16.10g} {r.numeric:>16.10g} {r.error:>10.2e} {mark}"
            )
        verdict = _("PASS") if self.passed else _("FAIL")
        lines.append(f"max |diff| = {self.max_error:.3e}: {verdict}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: ``passed``, ``max_error`` and one entry per input."""
        return {"passed": self.passed, "max_error": self.max_error,
                "inputs": [r.to_dict() for r in self.rows]}  # fmt: skip


def gradcheck(
    f: Callable[..., Value],
    inputs: Sequence[float | Value],
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
) -> GradcheckReport:
    """Compare ``f``'s gradients from ``backward`` with central differences.

    ``f`` takes one Value per input and returns a Value. Each derivative passes when
    |analytic − numeric| ≤ atol + rtol·|numeric|. Inputs that are Values lend their labels.
    """
    xs = [x.data if isinstance(x, Value) else float(x) for x in inputs]
    labels = [
        (x.label if isinstance(x, Value) and x.label else f"x{i}") for i, x in enumerate(inputs)
    ]
    leaves = [Value(x) for x in xs]
    f(*leaves).backward()

    def at(i: int, x: float) -> float:
        with no_grad():
            args = [Value(v) for v in xs]
            args[i] = Value(x)
            return f(*args).data

    rows = []
    for i, x in enumerate(xs):
        h = eps * max(1.0, abs(x))
        sides, undefined = [], []
        for sign, where in ((1, "+"), (-1, "−")):
            try:
                sides.append(at(i, x + sign * h))
            except (ValueError, ZeroDivisionError, OverflowError):  # DomainError is a ValueError
                undefined.append(f"{labels[i]} {where} {h:g}")
        analytic = leaves[i].grad
        if undefined:
            note = _("{name} = {value} is at the edge of the domain: central differences "
                     "need f at {points}, where it is undefined").format(
                         name=labels[i], value=f"{x:g}", points=_(" and ").join(undefined))
            rows.append(GradcheckRow(labels[i], analytic, math.nan, math.nan, False, note))
            continue
        numeric = (sides[0] - sides[1]) / (2 * h)
        error = abs(analytic - numeric)
        ok = math.isfinite(error) and error <= atol + rtol * abs(numeric)
        rows.append(GradcheckRow(labels[i], analytic, numeric, error, ok))
    return GradcheckReport(rows, all(r.ok for r in rows))


@dataclass
class VerifyReport:
    """Per-parameter gradients from every method, and the largest disagreement."""

    names: list[str]
    engine: list[float]
    matrix: list[float]
    numeric: list[float]
    torch: list[float] | None

    def _rel(self, other: Sequence[float]) -> float:
        return max(
            (abs(a - b) / max(1e-12, abs(a), abs(b)) for a, b in zip(self.engine, other)),
            default=0.0,
        )

    @property
    def max_rel_matrix(self) -> float:
        """Largest relative disagreement, engine vs BP1–BP4."""
        return self._rel(self.matrix)

    @property
    def max_abs_numeric(self) -> float:
        """Largest absolute disagreement, engine vs central differences."""
        return max((abs(a - b) for a, b in zip(self.engine, self.numeric)), default=0.0)

    @property
    def max_rel_torch(self) -> float | None:
        """Largest relative disagreement, engine vs PyTorch (None without torch)."""
        return None if self.torch is None else self._rel(self.torch)

    def text(self) -> str:
        """A table: parameter, engine, BP1–BP4, numeric, torch (headings in the language in
        use; the numbers are the same in every language)."""
        has_torch = self.torch is not None
        columns = [N_("engine"), "BP1-BP4", N_("numeric")] + (["torch"] if has_torch else [])
        lines = [aligned(_("parameter"), 26) + "".join(" " + aligned(_(c), 15, right=True)
                                                       for c in columns)]  # fmt: skip
        for i, name in enumerate(self.names):
            row = (
                f"{aligned(name, 26)} {self.engine[i]:>15.8e} {self.matrix[i]:>15.8e} "
                f"{self.numeric[i]:>15.8e}"
            )
            lines.append(row + (f" {self.torch[i]:>15.8e}" if self.torch else ""))
        summary: list[tuple[str, float | None]] = [
            (N_("max relative |engine − BP1-BP4| = {value}"), self.max_rel_matrix),
            (N_("max absolute |engine − numeric| = {value}"), self.max_abs_numeric)]
        if has_torch:
            summary.append((N_("max relative |engine − torch|   = {value}"), self.max_rel_torch))
        lines += [_(text).format(value=f"{value:.2e}") for text, value in summary]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "parameters": [
                {
                    "name": n,
                    "engine": self.engine[i],
                    "matrix": self.matrix[i],
                    "numeric": self.numeric[i],
                    "torch": None if self.torch is None else self.torch[i],
                }
                for i, n in enumerate(self.names)
            ],
            "max_rel_matrix": self.max_rel_matrix,
            "max_abs_numeric": self.max_abs_numeric,
            "max_rel_torch": self.max_rel_torch,
        }


def _scalar_cost(mlp: Any, x: Sequence[float], y: Sequence[float], cost: str) -> Value:
    out = mlp(list(x))
    outs = out if isinstance(out, list) else [out]
    from ..nn.losses import binary_cross_entropy, half_sse

    if cost == "quadratic":
        return half_sse(outs, list(y))
    return sum_values([binary_cross_entropy(a, t) for a, t in zip(outs, y)])


def verify(
    mlp: Any,
    x: Sequence[float],
    y: Sequence[float],
    cost: str = "quadratic",
    *,
    eps: float = 1e-6,
    use_torch: bool | None = None,
) -> VerifyReport:
    """∂C/∂(each parameter) four ways for one example (x, y) and an MLP.

    ``cost``: ``"quadratic"`` (½‖a − y‖², the seeds' ``half_sse``) or ``"cross_entropy"``
    (needs sigmoid outputs). A shared parameter's BP1–BP4 gradient is the sum over its uses.
    """
    params = mlp.named_parameters()
    net = Network.from_mlp(mlp, cost)
    mlp.zero_grad()
    _scalar_cost(mlp, x, y, cost).backward()
    engine = [p.grad for _, p in params]

    nabla_b, nabla_w, _ = net.backprop(x, y)
    matrix = _per_parameter(mlp, nabla_w, nabla_b, params)

    numeric = []
    with no_grad():
        for _, p in params:
            original = p.data
            h = eps * max(1.0, abs(original))
            p.data = original + h
            up = _scalar_cost(mlp, x, y, cost).data
            p.data = original - h
            down = _scalar_cost(mlp, x, y, cost).data
            p.data = original
            numeric.append((up - down) / (2 * h))

    torch_grads = _torch_gradients(mlp, x, y, cost, params) if use_torch is not False else None
    if use_torch and torch_grads is None:
        raise ImportError("verify: use_torch=True but torch is not installed")
    return VerifyReport([n for n, _ in params], engine, matrix, numeric, torch_grads)


def _torch_gradients(mlp: Any, x: Any, y: Any, cost: str, params: list) -> list[float] | None:
    try:
        import torch
    except ImportError:
        return None
    tnet = mlp.to_torch()
    out = tnet(torch.tensor([list(x)], dtype=torch.float64))
    target = torch.tensor([list(y)], dtype=torch.float64)
    if cost == "quadratic":
        loss = 0.5 * ((out - target) ** 2).sum()
    else:
        loss = torch.nn.functional.binary_cross_entropy(out, target, reduction="sum")
    loss.backward()
    linears = [m for m in tnet if isinstance(m, torch.nn.Linear)]
    weight_grads = [_grad_of(lin.weight) for lin in linears]
    bias_grads = [_grad_of(lin.bias) if lin.bias is not None else None for lin in linears]
    return _per_parameter(mlp, weight_grads, bias_grads, params)


def _grad_of(tensor: Any) -> Any:
    """A torch parameter's gradient as numpy (backward has just filled it in)."""
    assert tensor.grad is not None, "torch left a parameter without a gradient"
    return tensor.grad.numpy()


def _per_parameter(mlp: Any, weight_grads: list, bias_grads: list, params: list) -> list[float]:
    """Per-layer gradient matrices -> one number per MLP parameter (shared ones summed)."""
    by_param: dict[int, float] = {}
    for layer, gw, gb in zip(mlp.layers, weight_grads, bias_grads):
        for j, neuron in enumerate(layer.neurons):
            for k, w in enumerate(neuron.w):
                by_param[id(w)] = by_param.get(id(w), 0.0) + float(gw[j, k])
            if neuron.b is not None and gb is not None:
                by_param[id(neuron.b)] = by_param.get(id(neuron.b), 0.0) + float(gb[j])
    return [by_param[id(p)] for _, p in params]
