"""The backward steps' sentences follow the language in use; their formulas and numbers do not."""

from __future__ import annotations

from autograd_bp.core.engine import Value
from autograd_bp.locale import use_language
from autograd_bp.show.steps import backward_steps, expression_lines


def _texts(lang: str) -> list[str]:
    a = Value(3.0, label="a")
    b = a * a
    b.label = "b"
    with use_language(lang):
        return [step.text for step, _style in backward_steps(b)]


def test_the_step_sentences_are_chinese_with_the_same_formulas_and_numbers() -> None:
    english, chinese = _texts("en"), _texts("zh")
    assert english == ["start: ∂b/∂b = 1", "∂b/∂a × ∂b/∂b = 3 × 1 = 3; ∂b/∂a is now 3",
                       "∂b/∂a × ∂b/∂b = 3 × 1 = 3; ∂b/∂a = 3 + 3 = 6 (final)"]  # fmt: skip
    assert chinese == ["开始：∂b/∂b = 1", "∂b/∂a × ∂b/∂b = 3 × 1 = 3; ∂b/∂a 现在是 3",
                       "∂b/∂a × ∂b/∂b = 3 × 1 = 3; ∂b/∂a = 3 + 3 = 6 （最终值）"]  # fmt: skip


def test_a_long_expression_says_how_many_lines_are_left_in_chinese() -> None:
    x = Value(1.0, label="x")
    y = x
    for k in range(6):
        y = (y * 2).tanh()
        y.label = f"y{k}"
    with use_language("zh"):
        lines = expression_lines(y, limit=2)
    assert lines[-1].startswith("……还有 ") and lines[-1].endswith(" 行")
