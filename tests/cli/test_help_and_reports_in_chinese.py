"""The rest of the command line in Chinese, through real subprocesses: ``--help`` of every
command (with ``--lang`` before or after the command, or from the environment), the reports
of ``train``, ``verify`` and ``grade``, ``grad --check``'s table and a model file's errors.
Each is run in both languages: the Chinese has Chinese prose, the same numbers as the
English and no English sentence left; the exit status and the JSON do not change."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import chinese
from test_languages import one_line_error, run

from autograd_bp.cli import build_parser
from autograd_bp.locale import use_language, width

ENGINES = Path(__file__).resolve().parents[2] / "examples" / "engines"

# Three English words in a row: a sentence, or a piece of one. The commands shown as
# examples ("autograd-bp train moons --hidden ...") are code, the same in every language.
ENGLISH_WORDS = re.compile(r"\b[A-Za-z]{2,}'?[a-z]* [a-z]{2,} [a-z]{2,}\b")
EXAMPLE_COMMAND = re.compile(r"autograd-bp [^\n（]*")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")


def english_left(text: str) -> list[str]:
    return ENGLISH_WORDS.findall(EXAMPLE_COMMAND.sub("", text))


def numbers(text: str) -> list[str]:
    return NUMBER.findall(text)


# ------------------------------------------------------------------------------------ --help


def test_every_command_s_help_is_chinese_with_nothing_left_in_english() -> None:
    """In-process, every parser: its help texts, description and epilog are said in
    Chinese, and argparse's own words too; the option names and choices stay."""
    parser = build_parser()
    for name, command in [("", parser), *parser.commands.items()]:
        with use_language("en"):
            en = command.format_help()
        with use_language("zh"):
            zh = command.format_help()
        assert en.startswith("usage: ") and zh.startswith("用法："), name
        assert english_left(en) and not english_left(zh), (name, english_left(zh))
        helps = [a.help for a in command._actions if a.help]
        assert helps and all(h not in zh for h in helps if len(h.split()) > 1), name
        options = [s for a in command._actions for s in a.option_strings]
        assert all(option in zh for option in options), name
        assert "options:" in en and "options:" not in zh and "选项" in zh


@pytest.mark.parametrize("line, environment", [
    (["--lang", "zh", "train", "--help"], None),
    (["train", "--help", "--lang", "zh"], None),
    (["train", "-h", "--lang=zh_CN"], None),
    (["train", "--help"], "zh"),
    (["--lang", "en", "train", "--help", "--lang", "zh"], None),
    (["train", "--help", "--la", "zh"], None),  # argparse's abbreviation is read as --lang too
])  # fmt: skip
def test_train_help_in_chinese_wherever_lang_is_given(
        line: list[str], environment: str | None) -> None:  # fmt: skip
    proc = run(*line, lang=environment)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("用法：autograd-bp train [-h] [--lang en|zh]"), out
    assert "在 xor、moons 或 digits 上训练 MLP" in out and "显示此帮助信息后退出" in out
    assert "隐藏层大小（默认 16,16）" in out and "--hidden HIDDEN" in out
    assert "示例：autograd-bp train moons --hidden 16,16 --activation relu --epochs 100" in out
    assert not english_left(out), english_left(out)


def test_top_level_help_in_both_languages_and_lang_after_help() -> None:
    en = run("--help")
    zh = run("--help", "--lang", "zh")  # no command: the line is read as typed
    assert en.returncode == zh.returncode == 0
    assert en.stdout.startswith("usage: autograd-bp") and "show this help message" in en.stdout
    assert zh.stdout.startswith("用法：autograd-bp") and "反向传播" in zh.stdout
    assert [w for w in ("demo", "grad", "train", "grade", "lab") if w in zh.stdout] == \
        ["demo", "grad", "train", "grade", "lab"] and not english_left(zh.stdout)  # fmt: skip
    # a long Chinese help text is wrapped to the terminal, as argparse wraps English
    assert max(width(line) for line in zh.stdout.splitlines()) <= 80


@pytest.mark.parametrize("line, environment, where", [
    (["train", "--help"], "klingon", "AUTOGRAD_BP_LANG: language 'klingon'"),
    (["train", "--help", "--lang", "fr"], None, "--lang: language 'fr'"),
    (["--help", "--lang=xx"], None, "--lang: language 'xx'"),
])  # fmt: skip
def test_help_in_a_language_without_a_catalog_is_one_line(
        line: list[str], environment: str | None, where: str) -> None:  # fmt: skip
    assert one_line_error(run(*line, lang=environment)).startswith(
        f"autograd-bp: error: {where} is not available")  # fmt: skip


# ------------------------------------------------------------------------------- the reports


def test_train_report_in_chinese(tmp_path: Path) -> None:
    args = ("train", "xor", "--epochs", "30", "--lr", "0.5", "--save")
    en = run(*args, str(tmp_path / "en.json"))
    zh = run(*args, str(tmp_path / "zh.json"), "--lang", "zh")
    assert en.returncode == zh.returncode == 0, zh.stderr
    assert en.stdout.startswith("xor: MLP(2, [16, 16, 1]) (tanh, sigmoid), half_sse, 30 epochs")
    assert zh.stdout.startswith("xor：MLP(2, [16, 16, 1]) (tanh, sigmoid)，half_sse，30 轮")
    for words in ("最终训练误差", "训练准确率", "每轮秒数", "已保存："):
        assert words in zh.stdout, words
    # the same run: every number but the seconds the epochs took
    timed = re.compile(r".*(seconds per epoch|每轮秒数).*\n?")
    assert numbers(timed.sub("", en.stdout.replace("en.json", ""))) == \
        numbers(timed.sub("", zh.stdout.replace("zh.json", "")))  # fmt: skip
    assert not english_left(zh.stdout) and "accuracy" not in zh.stdout
    assert (tmp_path / "en.json").read_text() == (tmp_path / "zh.json").read_text()


def test_train_json_is_the_same_in_both_languages() -> None:
    args = ("train", "xor", "--epochs", "5", "--json")
    en, zh = json.loads(run(*args).stdout), json.loads(run(*args, lang="zh").stdout)
    for doc in (en, zh):
        del doc["seconds_per_epoch"], doc["history"]["seconds"]
    assert en == zh


@pytest.mark.parametrize("task, words", [
    ("digits", {"en": {"epoch", "training loss", "loss", "training accuracy", "accuracy"},
                "zh": {"轮", "训练误差", "误差", "训练准确率", "准确率"}}),
    ("xor", {"en": {"decision boundary", "x1", "x2"}, "zh": {"决策边界", "x1", "x2"}}),
])  # fmt: skip
def test_train_plot_has_its_words_in_the_language(
        tmp_path: Path, task: str, words: dict[str, set[str]]) -> None:  # fmt: skip
    """A real ``train --plot`` (digits: the loss and accuracy per epoch; a 2-D task: its
    decision boundary) in a folder whose matplotlibrc keeps an SVG's text as text
    (matplotlib reads ./matplotlibrc), so its words are read back from the file."""
    (tmp_path / "matplotlibrc").write_text("svg.fonttype: none\n")
    for lang in ("en", "zh"):
        proc = run("train", task, "--epochs", "1", "--plot", f"{lang}.svg", "--lang", lang,
                   cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0 and not proc.stderr, proc.stderr  # a font was found: no warning
        svg = (tmp_path / f"{lang}.svg").read_text(encoding="utf-8")
        texts = set(re.findall(r"<text[^>]*>([^<]*)</text>", svg))
        assert {t for t in texts if not NUMBER.fullmatch(t.replace("−", "-"))} == words[lang]
        assert ("WenQuanYi" in svg) is (lang == "zh")


def test_verify_report_in_chinese() -> None:
    args = ("verify", "--sizes", "3,4,2", "--activation", "tanh")
    en, zh = run(*args), run("--lang", "zh", *args)
    assert en.returncode == zh.returncode == 0, zh.stderr
    assert en.stdout.startswith("parameter") and "max relative |engine − BP1-BP4| =" in en.stdout
    assert zh.stdout.startswith("参数") and "最大相对差 |引擎 − BP1-BP4| =" in zh.stdout
    assert "最大绝对差 |引擎 − 数值| =" in zh.stdout
    assert numbers(en.stdout) == numbers(zh.stdout) and len(numbers(zh.stdout)) > 100
    assert not english_left(zh.stdout) and "engine" not in zh.stdout
    # the columns line up in Chinese too: every row as wide as the heading, in columns
    table = [line for line in zh.stdout.splitlines() if not line.startswith("最大")]
    assert len({width(line) for line in table}) == 1, table[:2]


def test_grad_check_table_in_chinese() -> None:
    args = ("grad", "tanh(w*x) + log(y)", "w=0.4", "x=-1.5", "y=2", "--check")
    en, zh = run(*args), run(*args, lang="zh")
    assert en.returncode == zh.returncode == 0, zh.stderr
    table = en.stdout.split("input")[1]
    assert table.rstrip().endswith(": PASS") and "analytic" in en.stdout
    head = next(line for line in zh.stdout.splitlines() if line.startswith("输入"))
    assert head.split() == ["输入", "解析值", "数值", "|diff|"], head
    assert zh.stdout.rstrip().endswith(": 通过")
    assert numbers(en.stdout) == numbers(zh.stdout)
    assert not english_left(zh.stdout) and "PASS" not in zh.stdout


def test_grad_check_note_at_the_edge_of_the_domain_in_chinese() -> None:
    args = ("grad", "log(x)", "x=1e-7", "--check")
    en, zh = run(*args), run("--lang", "zh", *args)
    assert en.returncode == zh.returncode == 1
    assert "x = 1e-07 is at the edge of the domain: central differences need f at x − 1e-06" \
        in en.stdout and en.stdout.rstrip().endswith(": FAIL")  # fmt: skip
    assert "x = 1e-07 在定义域的边界上：中心差分需要 f 在 x − 1e-06 处的值" in zh.stdout
    assert zh.stdout.rstrip().endswith(": 未通过") and not english_left(zh.stdout)
    assert numbers(en.stdout) == numbers(zh.stdout)
    en_json = json.loads(run(*args, "--json").stdout)["check"]
    zh_json = json.loads(run(*args, "--json", lang="zh").stdout)["check"]
    assert en_json["passed"] is zh_json["passed"] is False  # the verdict; the note is prose
    assert chinese(zh_json["inputs"][0]["note"]) and not chinese(en_json["inputs"][0]["note"])


# What the learner wrote, quoted as it is in every language: code in backquotes, an
# exception their engine raised (up to the report's own "—" or "："), their last line.
LEARNERS_OWN = re.compile(r"`[^`]*`|\w+Error: [^—：]*|(?<=最后一行：).*|(?<=yours: ).*")


def report_prose(text: str) -> tuple[list[str], list[str]]:
    """The grade report's lines in two kinds: the marks of its check rows (``  通过    add
    a + b``: the check's name and code stay as they are), and its other lines — the
    evidence under a misconception (``  - ...``) included — without what the learner wrote."""
    marks, prose = [], []
    for line in text.splitlines():
        if line.startswith("  - "):
            prose.append(LEARNERS_OWN.sub("", line[4:]))
        elif line.startswith("  "):
            marks.append(line.split()[0])
        else:
            prose.append(LEARNERS_OWN.sub("", line))
    return marks, prose


@pytest.mark.parametrize("engine, status, misconceptions", [
    ("micrograd_value.py", 0, []),
    ("microgpt_sub_sign.py", 1, ["sub-sign"]),
    ("micrograd_missing_reflected_op.py", 1, ["missing-reflected-op"]),
    ("microgpt_no_topological_order.py", 1, ["no-topological-order", "timeout"]),
    ("micrograd_crash.py", 1, ["crash"]),
])  # fmt: skip
def test_grade_report_in_chinese(engine: str, status: int, misconceptions: list[str]) -> None:
    path = str(ENGINES / engine)
    en, zh = run("grade", path), run("grade", path, "--lang", "zh")
    assert en.returncode == zh.returncode == status, zh.stderr
    assert en.stdout.startswith(f"grade: {path} (class Value, ")
    assert zh.stdout.startswith(f"评测：{path}（类 Value，")
    en_verdict, zh_verdict = en.stdout.splitlines()[1], zh.stdout.splitlines()[1]
    assert zh_verdict.startswith("判定：通过" if status == 0 else "判定：未通过"), zh_verdict
    assert sorted(numbers(en_verdict)) == sorted(numbers(zh_verdict)) and "项检查中" in zh_verdict
    assert "检查项：" in zh.stdout and "  通过    add             a + b" in zh.stdout
    assert "局限：deep-chain" in zh.stdout  # all these engines recurse in backward
    # the two checks described in words, and the relu checks' condition
    assert " mazur           Mazur 的 2-2-2 网络，前向传播与反向传播" in zh.stdout
    assert " mlp-step        一个 2-3-1 的 tanh MLP：误差、反向传播、一步 SGD 更新" in zh.stdout
    assert " relu-           n.relu()，其中 n < 0" in zh.stdout
    if engine == "microgpt_sub_sign.py":
        assert "误解 sub-sign：你的减法的导数符号错了：∂(a − b)/∂b 是 −1" in zh.stdout
        assert "  - 对 `a - b`，你的 ∂/∂b 是 1，引擎的是 -1：你的 `-` 存入 `_local_grads` 的" \
            "局部梯度把 a − b 的导数符号弄错了（∂/∂a = +1，∂/∂b = −1）" in zh.stdout  # fmt: skip
    assert [line.split()[1].split("：")[0] for line in zh.stdout.splitlines()
            if line.startswith("误解 ")] == misconceptions  # fmt: skip
    # the evidence: the same numbers in both languages, one line for one line
    en_evidence = [line for line in en.stdout.splitlines() if line.startswith("  - ")]
    zh_evidence = [line for line in zh.stdout.splitlines() if line.startswith("  - ")]
    assert len(en_evidence) == len(zh_evidence) == (len(misconceptions) and len(zh_evidence))
    for en_line, zh_line in zip(en_evidence, zh_evidence):
        assert numbers(LEARNERS_OWN.sub("", en_line)) == numbers(LEARNERS_OWN.sub("", zh_line))
    # the report's own words are Chinese: every check's mark and every other line
    marks, prose = report_prose(zh.stdout)
    assert len(marks) == 23 and all(chinese(mark) for mark in marks), marks
    assert all(chinese(line) and not english_left(line) for line in prose), prose
    en_marks, en_prose = report_prose(en.stdout)
    assert not any(map(chinese, en_marks)) and any(map(english_left, en_prose))
    en_json = json.loads(run("grade", path, "--json").stdout)
    zh_json = json.loads(run("grade", path, "--json", lang="zh").stdout)
    assert en_json["verdict"] == zh_json["verdict"] and \
        [c["status"] for c in en_json["checks"]] == [c["status"] for c in zh_json["checks"]]
    assert [f["id"] for f in en_json["misconceptions"]] == \
        [f["id"] for f in zh_json["misconceptions"]] == misconceptions  # fmt: skip


def test_grade_input_errors_in_chinese_are_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "engine.py"
    zh = one_line_error(run("grade", str(missing), "--lang", "zh"))
    assert zh == f"autograd-bp: 错误：grade: {missing}: 文件不存在"
    en = one_line_error(run("grade", str(missing)))
    assert en == f"autograd-bp: error: grade: {missing}: no such file"


# ------------------------------------------------------------------------ model-file errors


@pytest.mark.parametrize("content, english, chinese_words", [
    ('{"format": "x"}', "is not an autograd_bp model file", ["不是 autograd_bp 的模型文件"]),
    ('{"state": {"w": NaN}}', "has a non-finite number (NaN)", ["含有非有限数（NaN）"]),
    ('{"a": 1, "a": 2}', "has the key 'a' twice", ["键 'a' 出现了两次"]),
    ("{", "is not valid JSON (truncated or corrupt?)", ["不是有效的 JSON"]),
])  # fmt: skip
def test_a_bad_model_file_is_one_chinese_line(
        tmp_path: Path, content: str, english: str, chinese_words: list[str]) -> None:  # fmt: skip
    model = tmp_path / "model.json"
    model.write_text(content, encoding="utf-8")
    en = one_line_error(run("train", "xor", "--load", str(model)))
    assert en.startswith(f"autograd-bp: error: model file '{model}' {english}"), en
    zh = one_line_error(run("--lang", "zh", "train", "xor", "--load", str(model)))
    assert zh.startswith(f"autograd-bp: 错误：模型文件 '{model}' ")
    assert all(word in zh for word in chinese_words), zh
    # the JSON decoder's own words ("Expecting property name ...") come after the last "："
    assert not english_left(zh.rsplit("：", 1)[0] if content == "{" else zh), zh


def test_a_model_file_of_another_architecture_is_one_chinese_line(tmp_path: Path) -> None:
    """A saved moons network (hinge: a linear output) loaded for xor (a sigmoid output)."""
    model = tmp_path / "moons.json"
    assert run("train", "moons", "--epochs", "1", "--save", str(model)).returncode == 0
    state = json.loads(model.read_text())
    state["config"]["nouts"] = [16, 16, 2]  # its state no longer fits the architecture
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(state))
    en = one_line_error(run("train", "moons", "--load", str(bad)))
    zh = one_line_error(run("train", "moons", "--load", str(bad), lang="zh"))
    assert en.endswith("architecture MLP(2, [16, 16, 2]) has 354 parameters but the state "
                       "has 337")  # fmt: skip
    assert zh.endswith("网络结构 MLP(2, [16, 16, 2]) 有 354 个参数，但保存的状态有 337 个")
    assert numbers(en) == numbers(zh) and not english_left(zh)


@pytest.mark.parametrize("program, english, chinese_words", [
    ("z = w*x; a", "step 2: expected NAME = EXPRESSION, got 'a'",
     "第 2 步：应为 NAME = EXPRESSION，实际为 'a'"),
    ("z = w*x; z = 2*z", "step 2: 'z' is already a name; choose another",
     "第 2 步：'z' 已经是一个名称；请换一个"),
])  # fmt: skip
def test_a_bad_program_step_is_one_chinese_line(
        program: str, english: str, chinese_words: str) -> None:  # fmt: skip
    """grad's programs (one NAME = EXPRESSION a step): their errors in both languages."""
    assert one_line_error(run("grad", program, "w=1", "x=2")) == f"autograd-bp: error: {english}"
    zh = one_line_error(run("grad", program, "w=1", "x=2", lang="zh"))
    assert zh == f"autograd-bp: 错误：{chinese_words}"
