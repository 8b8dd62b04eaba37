"""Shared test helpers: the PyTorch cross-check switch and finite differences."""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType

import pytest


def require_torch() -> ModuleType:
    """PyTorch, or a clean skip; with AUTOGRAD_BP_REQUIRE_TORCH=1 (CI) a missing torch fails."""
    if os.environ.get("AUTOGRAD_BP_REQUIRE_TORCH") == "1":
        import torch

        return torch
    return pytest.importorskip("torch")


def central_difference(f: Callable[[float], float], x: float, eps: float = 1e-6) -> float:
    """(f(x+h) − f(x−h)) / 2h with h scaled to |x|."""
    h = eps * max(1.0, abs(x))
    return (f(x + h) - f(x - h)) / (2 * h)
