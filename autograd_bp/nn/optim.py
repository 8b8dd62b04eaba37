"""Optimizers with PyTorch's shape: ``opt.zero_grad(); loss.backward(); opt.step()``.

Example:
    >>> from autograd_bp import Value
    >>> w = Value(1.0)
    >>> opt = SGD([w], lr=0.5)
    >>> (w * w).backward()
    >>> opt.step()
    >>> w.data
    0.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..core.engine import Value, no_grad

__all__ = ["SGD", "Adam", "Optimizer"]


def _check(name: str, value: float, *, low: float = 0.0, strict: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low or (strict and value == low):
        bound = f"> {low}" if strict else f">= {low}"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


class Optimizer:
    """Holds the parameters; subclasses implement :meth:`step`."""

    def __init__(self, params: Iterable[Value]) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        if not all(isinstance(p, Value) for p in self.params):
            raise TypeError("optimizer parameters must be Value objects")

    def zero_grad(self) -> None:
        """Set every parameter's grad to 0.0."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter from its ``.grad``."""
        raise NotImplementedError


class SGD(Optimizer):
    """p ← p − lr·(g + weight_decay·p), with optional (PyTorch-style) momentum.

    Example:
        >>> w = Value(2.0); w.grad = 1.0
        >>> SGD([w], lr=0.1, weight_decay=0.5).step(); round(w.data, 10)
        1.8
    """

    def __init__(
        self, params: Iterable[Value], lr: float, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> None:
        super().__init__(params)
        self.lr = _check("lr", lr, strict=True)
        self.momentum = _check("momentum", momentum)
        self.weight_decay = _check("weight_decay", weight_decay)
        self._velocity = [0.0] * len(self.params)

    def step(self) -> None:
        """One update; runs under no_grad, touching only ``.data``."""
        with no_grad():
            for i, p in enumerate(self.params):
                g = p.grad + self.weight_decay * p.data
                if self.momentum:
                    g = self._velocity[i] = self.momentum * self._velocity[i] + g
                p.data -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction, as ``torch.optim.Adam``.

    Example:
        >>> w = Value(1.0); w.grad = 0.5
        >>> Adam([w], lr=0.1).step(); round(w.data, 6)
        0.9
    """

    def __init__(
        self,
        params: Iterable[Value],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params)
        self.lr = _check("lr", lr, strict=True)
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"betas must each be in [0, 1), got {betas!r}")
        self.betas = (float(b1), float(b2))
        self.eps = _check("eps", eps)
        self._m = [0.0] * len(self.params)
        self._v = [0.0] * len(self.params)
        self._t = 0

    def step(self) -> None:
        """One update; runs under no_grad, touching only ``.data``."""
        b1, b2 = self.betas
        self._t += 1
        c1, c2 = 1.0 - b1**self._t, 1.0 - b2**self._t
        with no_grad():
            for i, p in enumerate(self.params):
                g = p.grad
                self._m[i] = m = b1 * self._m[i] + (1.0 - b1) * g
                self._v[i] = v = b2 * self._v[i] + (1.0 - b2) * g * g
                p.data -= self.lr * (m / c1) / (math.sqrt(v / c2) + self.eps)
