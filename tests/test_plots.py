"""Plots are real PNG files written by matplotlib."""

from __future__ import annotations

from autograd_bp.datasets import moons
from autograd_bp.nn import MLP
from autograd_bp.plots import plot_decision_boundary, plot_history
from autograd_bp.train import History

PNG = b"\x89PNG\r\n\x1a\n"


def test_history_plot_is_a_png(tmp_path) -> None:
    path = plot_history(History([1.0, 0.5, 0.2], [0.5, 0.7, 1.0], [0.1] * 3), tmp_path / "h.png")
    assert path.read_bytes().startswith(PNG) and path.stat().st_size > 5000


def test_decision_boundary_is_a_png(tmp_path) -> None:
    X, y = moons(30, 0.1, seed=0)
    path = plot_decision_boundary(MLP(2, [4, 1], seed=0), X, y, tmp_path / "b.png", resolution=20)
    assert path.read_bytes().startswith(PNG) and path.stat().st_size > 5000
