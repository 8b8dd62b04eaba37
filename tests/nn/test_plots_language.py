"""The words on the training pictures follow the language: real files rendered by
matplotlib in both languages. An SVG with ``svg.fonttype: none`` keeps its text as text, so
the test reads the titles and labels back, and the font the Chinese is set in; a PNG in
Chinese is drawn with every glyph found (matplotlib warns for each one a font lacks)."""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import matplotlib
import pytest

import autograd_bp.nn.plots as plots
from autograd_bp.locale import use_language
from autograd_bp.nn.datasets import moons
from autograd_bp.nn.modules import MLP
from autograd_bp.nn.plots import chinese_font, plot_decision_boundary, plot_history
from autograd_bp.nn.train import History

HISTORY = History(loss=[1.0, 0.5, 0.2], accuracy=[0.5, 0.7, 1.0], seconds=[0.1] * 3)
PNG = b"\x89PNG\r\n\x1a\n"


def svg_texts(path: Path) -> tuple[set[str], set[str]]:
    """The words of an SVG written with its text kept as text, and its font families."""
    svg = path.read_text(encoding="utf-8")
    words = {w for w in re.findall(r"<text[^>]*>([^<]*)</text>", svg) if not re.fullmatch(
        r"[−\d.\s]+", w)}  # fmt: skip  (the tick numbers are the same in every language)
    return words, set(re.findall(r"font-family: ([^;\"]*)", svg))


def history_svg(tmp_path: Path, lang: str, name: str = "h.svg") -> Path:
    with use_language(lang), matplotlib.rc_context({"svg.fonttype": "none"}):
        return plot_history(HISTORY, tmp_path / name)


# CI installs the font (make dot): there a missing font is a failure, not a skip.
needs_font = pytest.mark.skipif(chinese_font() is None and os.environ.get("CI") != "true",
                                reason="no Chinese font: make dot")


@needs_font
def test_the_loss_and_accuracy_pictures_are_drawn_in_both_languages(tmp_path: Path) -> None:
    en, en_fonts = svg_texts(history_svg(tmp_path, "en", "en.svg"))
    zh, zh_fonts = svg_texts(history_svg(tmp_path, "zh", "zh.svg"))
    assert en == {"epoch", "training loss", "loss", "training accuracy", "accuracy"}
    assert zh == {"轮", "训练误差", "误差", "训练准确率", "准确率"}
    assert all("WenQuanYi" not in f for f in en_fonts)
    assert zh_fonts and all(f.startswith(repr(chinese_font())) for f in zh_fonts), zh_fonts


@needs_font
def test_the_decision_boundary_title_is_chinese(tmp_path: Path) -> None:
    X, y = moons(30, 0.1, seed=0)
    with use_language("zh"), matplotlib.rc_context({"svg.fonttype": "none"}):
        path = plot_decision_boundary(MLP(2, [4, 1], seed=0), X, y, tmp_path / "b.svg",
                                      resolution=20)  # fmt: skip
    assert svg_texts(path)[0] == {"决策边界", "x1", "x2"}


@needs_font
def test_a_chinese_png_has_every_glyph(tmp_path: Path) -> None:
    """matplotlib warns "Glyph ... missing from font(s)" for a character it draws as an
    empty box: as an error here, so a PNG that has one fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with use_language("zh"):
            path = plot_history(HISTORY, tmp_path / "h.png")
    assert path.read_bytes().startswith(PNG)
    # the guard above can fail: Chinese in a font without it warns
    with pytest.warns(UserWarning, match="missing from font"), matplotlib.rc_context(
            {"font.family": "DejaVu Sans"}):  # fmt: skip
        fig = matplotlib.pyplot.figure()
        fig.text(0.5, 0.5, "训练误差")
        fig.savefig(tmp_path / "boxes.png")
        matplotlib.pyplot.close(fig)


def test_without_a_chinese_font_the_picture_is_english_and_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    monkeypatch.setattr(plots, "CJK_FAMILIES", ("No Such Font Family",))
    words, fonts = svg_texts(history_svg(tmp_path, "zh"))
    assert words == {"epoch", "training loss", "loss", "training accuracy", "accuracy"}
    warning = capsys.readouterr().err
    assert warning.count("\n") == 1 and warning.startswith("警告：找不到含中文字符的字体")
    assert "fonts-wqy-microhei" in warning


def test_no_such_font_family_is_found() -> None:
    assert chinese_font(("No Such Font Family",)) is None
