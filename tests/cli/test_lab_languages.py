"""The misconception lab in Chinese: ``--lang zh lab …`` and ``AUTOGRAD_BP_LANG=zh`` through a
real subprocess print the lab's prose in Chinese with the same numbers, names and formulas;
``--json`` keeps its keys, ids and numbers and only its sentences change; a usage error is one
Chinese line; every bug's catalogue texts are translated where the lab shows them."""

from __future__ import annotations

import json
import re

import pytest
from conftest import chinese
from test_languages import one_line_error, run

from autograd_bp.check.bugs import BUGS
from autograd_bp.check.catalogue import CATALOGUE
from autograd_bp.locale import _, use_language

TANH = ["lab", "tanh(a*b) + a", "a=0.5", "b=-1", "--bug", "tanh-derivative-from-input",
        "--prediction", "0.25"]  # fmt: skip
NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def numbers(text: str) -> list[str]:
    """The figures of a line, digits glued to a name (a*b, w1) left out."""
    return NUMBER.findall(re.sub(r"[A-Za-z_]\w*", " ", text))


def test_lab_prints_chinese_prose_with_the_english_figures() -> None:
    en, zh = run(*TANH), run("--lang", "zh", *TANH)
    assert en.returncode == zh.returncode == 0, zh.stderr
    en_lines, zh_lines = en.stdout.splitlines(), zh.stdout.splitlines()
    assert len(en_lines) == len(zh_lines)
    assert zh_lines[:5] == [
        "实验：f = tanh(a*b) + a   取 a = 0.5, b = -1",
        "缺陷 tanh-derivative-from-input：tanh 的导数算成 1 − x² 而不是 1 − tanh(x)²",
        "  唯一的改动：tanh 的 backward 用输入 x 算 1 − x²，而它需要的是输出 t = tanh(x) 的 1 − t²",
        "∂f/∂a 的预测：你的 0.25，有缺陷的引擎 0.25，本引擎 0.213552",
        "  你的预测与有缺陷的引擎一致：你看出了这个缺陷的作用",
    ]  # fmt: skip
    assert "  a*b: 0.75 vs 0.786448 — `tanh(a*b)` 传回 1 − (a*b)² = 0.75，而规则 " \
        "1 − tanh²(a*b) 给出 0.786448" in zh_lines  # fmt: skip
    assert any(z.startswith("  有缺陷的引擎：未通过（2 个输入中有 2 个不符") for z in zh_lines)
    assert any(z.startswith("  本引擎：通过（2 个输入中有 0 个不符") for z in zh_lines)
    for e, z in zip(en_lines, zh_lines):
        assert chinese(z), z  # every line of prose is Chinese
        assert sorted(numbers(e)) == sorted(numbers(z)), (e, z)  # the same figures


def lab_json(lang: str, *args: str) -> dict:
    proc = run(*args, "--json", lang=lang)  # the language from AUTOGRAD_BP_LANG this time
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def shape(doc: object) -> object:
    """The document's keys, recursively, with every value that is not a sentence."""
    if isinstance(doc, dict):
        return {k: "<prose>" if k in ("title", "message", "change", "why", "reason", "graph")
                else shape(v) for k, v in doc.items()}  # fmt: skip
    if isinstance(doc, list):
        return [shape(v) for v in doc]
    return doc


@pytest.mark.parametrize("args", [
    TANH,
    ["lab", "x*y", "x=2", "y=3", "--bug", "sub-sign"],  # nothing differs: the reason is prose
])  # fmt: skip
def test_lab_json_keeps_keys_ids_and_numbers_and_translates_only_sentences(args) -> None:
    en, zh = lab_json("en", *args), lab_json("zh", *args)
    assert shape(zh) == shape(en)  # keys, bug id, names, numbers, verdicts: all the same
    assert zh["graph"] == en["graph"].replace("   at ", "   取 ")  # the line naming the graph
    assert zh["bug"]["id"] == en["bug"]["id"] == args[args.index("--bug") + 1]
    for key in ("title", "message", "change"):
        assert chinese(zh["bug"][key]) and not chinese(en["bug"][key]), key
    sentences = [d["why"] for d in zh["differing"]] + ([zh["reason"]] if zh["reason"] else [])
    assert sentences and all(chinese(s) for s in sentences)


def test_lab_list_in_chinese_keeps_the_ids() -> None:
    en, zh = run("lab", "--list"), run("lab", "--list", lang="zh")
    assert en.returncode == zh.returncode == 0, zh.stderr
    assert [line.split()[0] for line in zh.stdout.splitlines()] == list(BUGS) == \
        [line.split()[0] for line in en.stdout.splitlines()]  # fmt: skip
    assert all(chinese(line) for line in zh.stdout.splitlines())
    assert "tanh-derivative-from-input     tanh 的导数算成 1 − x² 而不是 1 − tanh(x)²" in \
        zh.stdout.splitlines()  # fmt: skip


@pytest.mark.parametrize("args, words", [
    (["lab", "x*x", "x=3", "--bug", "no-such-bug"],
     "--bug：未知的缺陷 'no-such-bug'；请从以下选择：assign-instead-of-accumulate, "),
    (["lab", "x*x", "x=3", "--bug", "timeout"], "不是计算图上的数值"),
    (["lab", "x*x", "x=3"], "lab：必须给出 --bug ID"),
    (["lab", "x*x", "x=3", "--bug", "sub-sign", "--wrt", "z"], "不是这个计算图的节点"),
    (["lab", "x*x", "x=3", "--bug", "sub-sign", "--prediction", "nan"], "必须是有限的数"),
])  # fmt: skip
def test_a_lab_usage_error_is_one_chinese_line(args, words) -> None:
    line = one_line_error(run("--lang", "zh", *args))
    assert words in line and chinese(line.split(":", 1)[1]), line
    english = one_line_error(run(*args))
    assert not chinese(english)


def test_predict_asks_its_question_in_chinese() -> None:
    proc = run("--lang", "zh", "lab", "x*x", "x=3", "--bug", "assign-instead-of-accumulate",
               "--predict", input_text="3\n")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(
        "在缺陷 assign-instead-of-accumulate 之下，有缺陷的引擎会给出怎样的 ∂f/∂x？")
    assert "你的预测与有缺陷的引擎一致" in proc.stdout


@pytest.mark.parametrize("bug_id", list(BUGS))
def test_every_lab_bug_text_is_translated_where_it_is_shown(bug_id: str) -> None:
    """The N_() constants reach the catalog: title, message, change and why it cannot show."""
    bug = BUGS[bug_id]
    shown = (bug.title, CATALOGUE[bug_id].message, bug.change, bug.absent)
    with use_language("zh"):
        for text in shown:
            assert chinese(_(text)), text
    with use_language("en"):
        assert [_(text) for text in shown] == list(shown)
