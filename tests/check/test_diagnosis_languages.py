"""Every diagnosis story, rendered in English and in Chinese from real wrong claims: the same
stories in the same order, the Chinese in Chinese, and every formula, name and number of the
English sentence untouched in the Chinese one; the verdict ids never change."""

from __future__ import annotations

import re

import pytest
from conftest import chinese
from hypothesis import given, settings
from hypothesis import strategies as st
from test_diagnosis import CLAIMS, TEMPLATES, W1_RIGHT, problem_for, setup_and_points

from autograd_bp import Value
from autograd_bp.check.diagnosis import diagnose
from autograd_bp.check.gradcheck import check_derivation
from autograd_bp.check.points import Setup
from autograd_bp.check.problems import worked_problem
from autograd_bp.locale import use_language

# What a translation must leave as it is: ∂-fractions, names with a digit or an underscore
# (w5, out_h1, w2_1_1, delta_o1), op names, numbers with their real minus sign.
KEPT = re.compile(r"∂[\w()*+⁺]+/∂[\w()*+⁺]+|\b[A-Za-z]+_?\w*\d\w*⁺?|\brelu\b|\bsigmoid\b|"
                  r"−?\d+(?:\.\d+)?(?:e[-+]\d+)?")  # fmt: skip


def both(problem, wrt: str, claim: str):
    with use_language("en"):
        en = check_derivation(problem(), wrt, claim)
    with use_language("zh"):
        zh = check_derivation(problem(), wrt, claim)
    return en, zh


def assert_same_story(en, zh) -> None:
    assert zh.verdict == en.verdict and zh.to_dict().keys() == en.to_dict().keys()
    assert len(zh.diagnosis) == len(en.diagnosis) > 0, (en.diagnosis, zh.diagnosis)
    for e, z in zip(en.diagnosis, zh.diagnosis):
        assert chinese(z) and not chinese(e), (e, z)
        assert "{" not in z and "}" not in z, z  # every placeholder filled
        missing = [t for t in KEPT.findall(e) if t not in z]
        assert not missing, (missing, e, z)
    with use_language("zh"):
        text = zh.text()
    head = {"wrong": "✗ 错误", "only_here": "≈ 仅在给定点成立"}[zh.verdict]
    assert text.startswith(head) and "  诊断：" in text


@pytest.mark.parametrize("name, wrt, claim, sentence", TEMPLATES)
def test_every_story_in_both_languages(name: str, wrt: str, claim: str, sentence: str) -> None:
    en, zh = both(lambda: problem_for(name), wrt, claim)
    assert any(s.startswith(sentence) for s in en.diagnosis), en.diagnosis  # English as ever
    assert_same_story(en, zh)


def test_the_update_stories_in_both_languages() -> None:
    after = worked_problem().updates[0]
    claim = f"(delta_o1*{after['w5']!r} + delta_o2*{after['w7']!r})*out_h1*(1-out_h1)*x1"
    en, zh = both(worked_problem, "w1", claim)
    assert en.diagnosis[0].startswith("Your value is what the backward pass gives")
    assert_same_story(en, zh)
    assert "更新后的权重" in zh.diagnosis[0] and "w5⁺ = " in zh.diagnosis[0]
    worked = worked_problem()
    setup = Setup(worked.output, worked.node("w1"), "w1", worked.names)
    moved = {worked.node(n): v for n, v in worked.updates[1].items()}
    en, zh = both(worked_problem, "w1", repr(setup.truth(setup.evaluate(moved))))
    assert any(s.startswith("Your value is ∂E_total/∂w1 at the weights after")
               for s in en.diagnosis)  # fmt: skip
    assert_same_story(en, zh)


def test_the_many_paths_breakdown_in_both_languages() -> None:
    def many():
        x = Value(0.9, label="x")
        y = x
        for _ in range(4):  # 81 paths, beyond the 64 a diagnosis lists
            y = y * y * 0.5 + y
        y.label = "f"
        return y

    en, zh = both(many, "x", "x")
    assert "∂f/∂x sums over more than 64 paths" in "\n".join(en.diagnosis)
    assert_same_story(en, zh)
    assert "超过 64 条路径" in "\n".join(zh.diagnosis)


def test_the_path_breakdown_in_chinese_names_every_factor() -> None:
    en, zh = both(worked_problem, "w1", W1_RIGHT.replace("*x1", "*x1*x1*w5"))
    assert en.diagnosis[0] == "No known pattern explains the difference."
    assert_same_story(en, zh)
    assert zh.diagnosis[0] == "没有已知的错误模式能解释这个差异。"
    assert any(line.startswith("路径 1（经过 ") for line in zh.diagnosis)


def test_notes_and_the_undecided_and_correct_reports_in_chinese() -> None:
    f = lambda: problem_for("x*3")  # noqa: E731
    with use_language("zh"):
        right = check_derivation(f(), "x", "3")
        text = right.text()
    assert right.verdict == "correct" and text.startswith("✓ 正确: ∂f/∂x =? 3")
    assert "数值只在给定点检验" in text and "符号验证  相等（SymPy）" in text
    with use_language("en"):
        assert check_derivation(f(), "x", "3").text().startswith("✓ correct: ∂f/∂x =? 3")


@settings(max_examples=40, deadline=None)
@given(CLAIMS, st.sampled_from(["wrong", "only_here"]), st.booleans())
def test_property_any_claim_gets_the_same_stories_in_chinese(claim, verdict, no_misses) -> None:
    # every branch a random claim reaches formats its Chinese template (no lost placeholder)
    setup, here, around = setup_and_points("relu(x*y - 1) + sin(x)*y", claim, x=0.7, y=2.0)
    misses = [] if no_misses else [p for p in around if p.claim is None
                                    or abs(p.claim - setup.truth(p)) > 1e-6]  # fmt: skip
    said = {}
    for lang in ("en", "zh"):
        with use_language(lang):
            said[lang] = diagnose(setup, here, around, misses, verdict, (1e-7, 1e-12), [])
    assert len(said["zh"]) == len(said["en"])
    for e, z in zip(said["en"], said["zh"]):
        lost = [t for t in KEPT.findall(e) if t not in z]
        assert chinese(z) and "{" not in z and not lost, (e, z, lost)
