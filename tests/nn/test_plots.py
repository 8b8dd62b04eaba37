"""Plots are real image files written by matplotlib, in the format the extension names."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from autograd_bp.nn.datasets import moons
from autograd_bp.nn.modules import MLP
from autograd_bp.nn.plots import _class_one, plot_decision_boundary, plot_format, plot_history
from autograd_bp.nn.train import History

PNG = b"\x89PNG\r\n\x1a\n"


def test_history_plot_is_a_png(tmp_path) -> None:
    path = plot_history(History([1.0, 0.5, 0.2], [0.5, 0.7, 1.0], [0.1] * 3), tmp_path / "h.png")
    assert path.read_bytes().startswith(PNG) and path.stat().st_size > 5000


def test_decision_boundary_is_a_png(tmp_path) -> None:
    X, y = moons(30, 0.1, seed=0)
    path = plot_decision_boundary(MLP(2, [4, 1], seed=0), X, y, tmp_path / "b.png", resolution=20)
    assert path.read_bytes().startswith(PNG) and path.stat().st_size > 5000


@pytest.mark.parametrize(
    "name, magic",
    [("h.svg", None), ("h.pdf", b"%PDF"), ("h.jpg", b"\xff\xd8\xff"), ("h.PNG", PNG)],
)
def test_the_extension_picks_the_format(tmp_path, name, magic) -> None:
    path = plot_history(History([1.0, 0.5], [None, None], [0.1] * 2), tmp_path / name)
    if magic is None:
        assert ET.parse(path).getroot().tag.endswith("svg")
    else:
        assert path.read_bytes().startswith(magic)


@pytest.mark.parametrize("name", ["h.bmp", "h", "h.svg.tmp"])
def test_an_extension_matplotlib_cannot_write_is_refused_before_drawing(tmp_path, name) -> None:
    with pytest.raises(ValueError, match=r"cannot write .*\.png"):
        plot_format(tmp_path / name)
    with pytest.raises(ValueError, match="cannot write"):
        plot_history(History([1.0], [None], [0.1]), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_decision_boundary_of_two_class_logits(tmp_path) -> None:
    X, y = moons(30, 0.1, seed=0)
    net = MLP(2, [4, 2], seed=0)
    path = plot_decision_boundary(net, X, y, tmp_path / "b.png", resolution=10)
    assert path.read_bytes().startswith(PNG)
    with pytest.raises(ValueError, match="1 or 2 outputs"):
        plot_decision_boundary(MLP(2, [3]), X, y, tmp_path / "c.png", resolution=5)


def test_a_score_in_zero_one_is_split_at_zero_not_guessed_as_a_probability() -> None:
    grid = np.linspace(-1.0, 1.0, 5)
    score = MLP(2, [1], activation="linear", weights=[[[0.0, 0.0]]], biases=[0.2])
    assert _class_one(score, grid, grid).all()  # 0.2 > 0: class 1 everywhere
    prob = MLP(2, [1], output_activation="sigmoid", weights=[[[0.0, 0.0]]], biases=[-0.5])
    assert not _class_one(prob, grid, grid).any()  # sigmoid(-0.5) = 0.38 < 0.5: class 0
