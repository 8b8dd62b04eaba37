"""Exercises: deterministic per seed, every answer key graded correct by the checker."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp.check.exercise import LEVELS, TEMPLATES, exercise_set, make_exercise


def test_same_seed_same_exercise_and_levels_differ() -> None:
    assert make_exercise(11, 2) == make_exercise(11, 2)
    assert make_exercise(11).level == 1 + 11 % 3
    texts = {make_exercise(s, 1).text() for s in range(20)}
    assert len(texts) > 10  # seeds give different exercises


@pytest.mark.parametrize("level", LEVELS)
def test_every_template_answer_is_graded_correct(level: int) -> None:
    seen = set()
    for seed in range(60):
        ex = make_exercise(seed, level)
        seen.add((ex.steps, ex.wrt))
        report = ex.grade(ex.answer, symbolic=False)  # SymPy: the test below, once a template
        assert report.verdict == "correct", (seed, ex.answer, report.diagnosis)
        assert report.engine == pytest.approx(ex.engine_value(), rel=0, abs=0)
    wanted = {(t.steps, w) for t in TEMPLATES[level] for w in t.answers}
    assert seen == wanted  # 60 seeds reach every template and every variable asked about


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10**6), st.sampled_from(LEVELS))
def test_property_wrong_answers_are_wrong(seed: int, level: int) -> None:
    ex = make_exercise(seed, level)
    report = ex.grade(f"3*({ex.answer})", symbolic=False)
    if abs(report.engine) > 1e-9:
        assert report.verdict == "wrong" and "3 × " in "\n".join(report.diagnosis)


def test_every_answer_key_is_proved_by_sympy() -> None:
    pytest.importorskip("sympy")  # the optional "symbolic" extra
    done = set()
    for level in LEVELS:
        for seed in range(60):
            ex = make_exercise(seed, level)
            if (ex.steps, ex.wrt) not in done:
                done.add((ex.steps, ex.wrt))
                assert ex.grade(ex.answer).symbolic is True, ex.answer
                assert ex.grade(f"2*({ex.answer})").symbolic is False, ex.answer


def test_level_three_uses_deltas_and_named_steps() -> None:
    ex = next(make_exercise(s, 3) for s in range(50) if make_exercise(s, 3).wrt == "w1")
    assert "delta_o" in ex.text() and "sigmoid(net_h)" in ex.text()
    one_path = ex.answer.replace("delta_o1*w2 + delta_o2*w3", "delta_o1*w2")
    if one_path != ex.answer:
        assert "You have the path" in "\n".join(ex.grade(one_path).diagnosis)


def test_bad_levels_and_counts() -> None:
    with pytest.raises(ValueError, match="level must be 1, 2 or 3"):
        make_exercise(1, 4)
    with pytest.raises(ValueError, match="count"):
        exercise_set(0)


def test_markdown_set_has_the_exercises_and_an_answer_key() -> None:
    text = exercise_set(4, seed=10, level=2)
    assert text.startswith("# Gradient exercises") and "## Answer key" in text
    for seed in range(10, 14):
        ex = make_exercise(seed, 2)
        assert f"## Exercise {seed} (level 2)" in text
        assert (
            f"| {seed} | `∂{ex.output}/∂{ex.wrt} = {ex.answer}` | {ex.engine_value():.9g} |" in text
        )
