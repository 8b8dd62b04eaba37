"""``--lang zh`` and ``AUTOGRAD_BP_LANG=zh`` through a real subprocess: demo, grad --explain,
check, exercise and the one-line errors in Chinese; --lang before the command or among its
options; JSON keys and verdicts the same in every language; a bad language named in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import chinese

from autograd_bp.cli import build_parser
from autograd_bp.cli.line import UsageError, arrange, chosen_language

W1_ONE_PATH = "delta_o1*w5*out_h1*(1-out_h1)*x1"


def run(*args: str, lang: str | None = None, cwd: Path | None = None,
        input_text: str | None = None) -> subprocess.CompletedProcess:  # fmt: skip
    """``autograd-bp ARGS`` in a subprocess, AUTOGRAD_BP_LANG set to ``lang`` (None: unset)."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    env.pop("AUTOGRAD_BP_LANG", None)
    if lang is not None:
        env["AUTOGRAD_BP_LANG"] = lang
    return subprocess.run([sys.executable, "-m", "autograd_bp", *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=cwd, input=input_text)  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize("line", [
    ["--lang", "zh", "check", "--worked", "--wrt", "w1", "--claim", W1_ONE_PATH],
    ["--lang=zh", "check", "--worked", "--wrt", "w1", "--claim", W1_ONE_PATH],
    ["check", "--worked", "--lang", "zh", "--wrt", "w1", "--claim", W1_ONE_PATH],
    ["check", "--worked", "--wrt", "w1", "--claim", W1_ONE_PATH, "--lang=zh_CN"],
    ["--lang", "en", "check", "--worked", "--wrt", "w1", "--claim", W1_ONE_PATH, "--lang", "zh"],
])  # fmt: skip
def test_lang_is_read_before_the_command_and_among_its_options(line: list[str]) -> None:
    arranged = arrange(build_parser(), line)
    assert arranged[0] == "check" and chosen_language(arranged) == "zh"


def test_check_in_chinese_keeps_formulas_names_numbers_and_the_exit_status() -> None:
    en = run("check", "--worked", "--wrt", "w1", "--claim", W1_ONE_PATH)
    zh = run("--lang", "zh", "check", "--worked", "--wrt", "w1", "--claim", W1_ONE_PATH)
    assert en.returncode == zh.returncode == 1, zh.stderr
    assert en.stdout.startswith("✗ wrong: ∂E_total/∂w1 =? " + W1_ONE_PATH)
    assert zh.stdout.startswith("✗ 错误: ∂E_total/∂w1 =? " + W1_ONE_PATH)
    assert "  引擎      0.000438567734" in zh.stdout and "  诊断：" in zh.stdout
    lead = zh.stdout.split("诊断：\n")[1].splitlines()[0]
    assert lead.strip().startswith("你算了经过 E_o1, out_o1, net_o1 的路径，但漏了经过 E_o2")
    assert "−0.000229828" in lead and "∂E_total/∂w1" in lead


def test_the_environment_variable_speaks_chinese_and_lang_en_overrides_it() -> None:
    args = ("check", "x*y + sin(x)", "x=0.5", "y=2", "--wrt", "x", "--claim", "y")
    zh = run(*args, lang="zh")
    assert zh.returncode == 1 and zh.stdout.startswith("批改：f = x*y + sin(x)   取 x = 0.5, y = 2")
    en = run(*args, "--lang", "en", lang="zh")
    assert en.stdout.startswith("graded: f = x*y + sin(x)   at x = 0.5, y = 2") and not chinese(
        en.stdout)  # fmt: skip


def test_json_keys_and_verdicts_do_not_change_with_the_language() -> None:
    args = ("check", "--worked", "--wrt", "w1", "--claim", W1_ONE_PATH, "--json")
    en, zh = json.loads(run(*args).stdout), json.loads(run(*args, "--lang", "zh").stdout)
    assert en.keys() == zh.keys() and en["verdict"] == zh["verdict"] == "wrong"
    assert {k: v for k, v in en.items() if k != "diagnosis"} == \
        {k: v for k, v in zh.items() if k != "diagnosis"}  # fmt: skip
    assert not chinese(en["diagnosis"][0]) and chinese(zh["diagnosis"][0])  # prose follows --lang
    demo_en, demo_zh = json.loads(run("demo", "--json").stdout), json.loads(
        run("demo", "--json", lang="zh").stdout)  # fmt: skip
    assert demo_en == demo_zh  # every figure, name and status; no prose there without --out


def test_grad_explain_in_chinese() -> None:
    proc = run("--lang", "zh", "grad", "sigmoid(w*x + b)", "w=0.4", "x=0.5", "b=0.1",
               "--explain", "w")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "∂f/∂w：从 f 到 w 共 1 条路径" in proc.stdout
    assert "  其中 f = sigmoid(w*x + b)" in proc.stdout
    assert "    乘积 = 0.244458 × 1 × 0.5 = 0.122229" in proc.stdout
    assert "  引擎：∂f/∂w = 0.122229 ✓" in proc.stdout


def test_demo_in_chinese(tmp_path: Path) -> None:
    proc = run("demo", "--lang", "zh", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("Matt Mazur 的《A Step by Step Backpropagation Example》")
    assert "由引擎计算，学习率 lr = 0.5，偏置不更新，更新顺序 simultaneous。" in out
    assert "∂E_total/∂w5                        0.082167041    0.082167041  ✓" in out
    assert "更新 1 次后的 E_total" in out and "另一种更新顺序 (sequential: 0.291027924 ✓)" in out
    assert "链式法则，逐个因子" in out and "  BP1  δ² = ∇_a C ⊙ σ′(z²) = " in out
    assert "在这一个样本上训练，更新 10000 次：" in out
    assert "自己推导了一个？autograd-bp check --worked --wrt w1" in out
    assert "Training" not in out and "engine:" not in out  # nothing left in English


def test_demo_example_and_its_answer_key_in_chinese() -> None:
    example = str(Path(__file__).resolve().parents[2] / "examples" / "worked" / "mazur.toml")
    proc = run("demo", "--example", example, "--lang", "zh", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["results"], proc.stderr
    text = run("demo", "--example", example, lang="zh").stdout
    assert "前向传播：" in text and "每个权重的链式法则，逐个因子：" in text and "✓ = 引擎" in text
    key = run("demo", "--example", example, "--format", "markdown", lang="zh").stdout
    assert "：答案" in key.splitlines()[0] and "## 前向传播" in key and "\\sigma" in key


def test_exercise_in_chinese() -> None:
    shown = run("exercise", "--seed", "4", "--lang", "zh")
    assert shown.returncode == 0 and shown.stdout.startswith("练习 4（难度 2）"), shown.stdout
    assert "检查你的答案：autograd-bp exercise --seed 4 --answer \"FORMULA\"" in shown.stdout
    graded = run("--lang", "zh", "exercise", "--seed", "4", "--answer", "0")
    assert graded.returncode == 1 and graded.stdout.startswith("批改：练习 4（难度 2）：")
    assert "✗ 错误" in graded.stdout or "≈ 仅在给定点成立" in graded.stdout


@pytest.mark.parametrize("args, words", [
    (["grad", "x*y", "x=1", "x=2"], ["'x' 给出了两次"]),
    (["train", "xor", "--lr", "-1"], ["参数 --lr：必须是", "'-1'"]),
    (["check", "x*y", "--claim", "y"], ["缺少必需的参数：--wrt"]),
    (["check", "--wrt", "x", "--claim", "y"], ["EXPRESSION、--worked 和 --sizes"]),
    (["verify", "--sizes", "300,300,300"], ["--sizes: MLP(300, [300, 300]) 会有 180,600 个参数"]),
    (["grad", "x*y", "x=1", "y=2", "--explain", "z"], ["--explain: 'z' 不是表达式中的变量"]),
])  # fmt: skip
def test_cli_errors_in_chinese_are_one_line(args: list[str], words: list[str]) -> None:
    line = one_line_error(run("--lang", "zh", *args))
    assert line.startswith("autograd-bp: 错误：") and chinese(line)
    for w in words:
        assert w in line, line
    english = one_line_error(run(*args))
    assert english.startswith("autograd-bp: error: ") and not chinese(english)


def test_a_language_without_a_catalog_is_named_in_one_line() -> None:
    line = one_line_error(run("--lang", "fr", "demo"))
    assert line == ("autograd-bp: error: --lang: language 'fr' is not available; choose one "
                    "of: en, zh")  # fmt: skip
    line = one_line_error(run("demo", "--json", lang="klingon"))
    assert line.startswith("autograd-bp: error: AUTOGRAD_BP_LANG: language 'klingon'")
    with pytest.raises(UsageError, match="--lang: language 'xx'"):
        chosen_language(["grad", "--lang=xx", "--", "x"])


def test_a_malformed_example_file_is_named_in_chinese(tmp_path: Path) -> None:
    mazur = Path(__file__).resolve().parents[2] / "examples" / "worked" / "mazur.toml"
    bad = tmp_path / "bad.toml"
    bad.write_text(mazur.read_text(encoding="utf-8").replace(
        "sizes = [2, 2, 2]", 'sizes = [2, "x", 2]'), encoding="utf-8")  # fmt: skip
    zh = one_line_error(run("demo", "--example", str(bad), "--lang", "zh"))
    assert zh == f"autograd-bp: 错误：{bad}: network.sizes[1]: " + \
        "应为介于 1 到 64 之间的整数，实际为 'x'"  # fmt: skip
    en = one_line_error(run("demo", "--example", str(bad)))
    assert en == f"autograd-bp: error: {bad}: network.sizes[1]: " + \
        "expected an integer from 1 to 64, got 'x'"  # fmt: skip


@pytest.mark.parametrize(("expression", "values", "english", "chinese_words"), [
    ("log(x) + 1", ["x=-1"], "log: operand must be positive, got -1.0 (in 'log(x)' at column 1)",
     ["log: 操作数必须为正数", "-1.0", "'log(x)'"]),
    ("x/y", ["x=1", "y=0"], "div: division by zero (1.0 / 0.0) (in 'x/y' at column 1)",
     ["div: 除以零", "1.0 / 0.0", "'x/y'"]),
    ("x**y", ["x=-2", "y=0.5"], "pow: negative base -2.0 to the non-integer power 0.5 is not "
     "real (in 'x**y' at column 1)", ["pow: 负底数 -2.0", "0.5", "'x**y'"]),
    ("exp(x)", ["x=1000"], "exp: exp(1000.0) overflows a float (in 'exp(x)' at column 1)",
     ["exp(1000.0) 超出浮点数范围"]),
])  # fmt: skip
def test_the_engine_s_domain_errors_are_said_in_the_learner_s_language(
        expression: str, values: list[str], english: str, chinese_words: list[str]) -> None:
    """core raises in English with its template kept (numerics.said); the command line says
    the same template in the learner's language, named once, innermost piece first."""
    assert one_line_error(run("grad", expression, *values)) == f"autograd-bp: error: {english}"
    line = one_line_error(run("grad", expression, *values, lang="zh"))
    assert line.startswith("autograd-bp: 错误：") and line.count("位于") == 1, line
    assert all(word in line for word in chinese_words), line
