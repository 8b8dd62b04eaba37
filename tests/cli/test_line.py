"""The command line read as a person means it (issue 22): ``NAME=VALUE`` before or after the
options, a leading minus in an expression, a claim, an answer or a value, ``--`` and
``--option=value``; homework sheets whose grading commands grade their own key correct; and
every grading output naming the f it graded."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp.check.exercise import LEVELS, make_exercise
from autograd_bp.cli import arrange, build_parser, main, verdict_status


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "autograd_bp", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=env)  # fmt: skip


def call(capsys, *args: str) -> tuple[int, str, str]:
    """main() in-process: (exit status, stdout, stderr)."""
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def one_line_error(status: int, err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("autograd-bp: error:"), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], lines[0]


def parsed(argv: list[str]) -> dict:
    parser = build_parser()
    return vars(parser.parse_args(arrange(parser, argv)))


# --- every order, every form: the parse is the same ------------------------------------------

EXPRESSIONS = ["x*y", "-x*y", "-(x*y)", "- x*y", "-2*x*y", "-x", "-1", "x"]
CLAIMS = ["y", "-y", "-1*y", "- y", "-2", "-.5*y", "y - 1"]
ASSIGNMENTS = [["x=1", "y=2"], ["x=-3", "y=-2.5e-1"], ["y=-1"], []]


@st.composite
def command_lines(draw, command: str, options: dict[str, str], flags: list[str]):
    """A command line for ``command``: the expression and its values in order, the options
    (each as ``--opt value`` or ``--opt=value``) and flags shuffled among them, and perhaps
    ``--`` between the last option and the values."""
    expression = draw(st.sampled_from(EXPRESSIONS))
    values = draw(st.sampled_from(ASSIGNMENTS))
    chunks = [[f"{o}={v}"] if draw(st.booleans()) else [o, v] for o, v in options.items()]
    chunks += [[f] for f in flags]
    chunks = draw(st.permutations(chunks))
    positionals = [expression, *values]
    if draw(st.booleans()):  # the POSIX way: every option first, then -- and the values
        line = [t for c in chunks for t in c] + ["--", *positionals]
    else:
        slots = sorted(draw(st.lists(st.integers(0, len(chunks)), min_size=len(positionals),
                                     max_size=len(positionals))))  # fmt: skip
        line = []
        for i in range(len(chunks) + 1):
            line += [p for p, slot in zip(positionals, slots) if slot == i]
            line += chunks[i] if i < len(chunks) else []
    return [command, *line], expression, values


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_check_reads_every_order_and_every_leading_minus_the_same(data) -> None:
    claim = data.draw(st.sampled_from(CLAIMS))
    argv, expression, values = data.draw(
        command_lines(
            "check", {"--wrt": "x", "--claim": claim, "--seed": "3", "--points": "60"}, ["--json"]
        )
    )
    args = parsed(argv)
    assert (args["expression"], args["assignments"], args["claim"]) == (expression, values, claim)
    assert (args["wrt"], args["seed"], args["points"], args["json"]) == ("x", 3, 60, True)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_grad_and_steps_read_every_order_the_same(data) -> None:
    argv, expression, values = data.draw(command_lines(
        "grad", {"--wrt": "x", "--explain": "x", "--precision": "4", "--format": "latex"},
        ["--check", "--json"]))  # fmt: skip
    args = parsed(argv)
    assert (args["expression"], args["assignments"]) == (expression, values)
    assert (args["wrt"], args["explain"], args["precision"], args["format"]) == (
        "x",
        "x",
        4,
        "latex",
    )
    assert args["check"] and args["json"]
    argv, expression, values = data.draw(command_lines("steps", {"--out": "-dir"}, []))
    args = parsed(argv)
    assert (args["expression"], args["assignments"], args["out"]) == (expression, values, "-dir")


@pytest.mark.parametrize("answer", ["-x", "- x", "-1*x", "-(x)"])
@pytest.mark.parametrize("form", ["separate", "attached"])
def test_exercise_answer_may_start_with_a_minus_before_or_after_options(answer, form) -> None:
    given = ["--answer", answer] if form == "separate" else [f"--answer={answer}"]
    for line in (["exercise", *given, "--seed", "2", "--json"],
                 ["exercise", "--seed", "2", *given, "--level", "1"]):  # fmt: skip
        assert parsed(line)["answer"] == answer


def test_a_negative_number_is_an_options_value_and_is_refused_by_name(capsys) -> None:
    one_line_error(*call(capsys, "check", "x*y", "x=1", "y=2", "--wrt", "x", "--claim", "y",
                         "--seed", "-1")[::2], "--seed", "'-1'")  # fmt: skip
    one_line_error(*call(capsys, "grad", "-x", "--precision", "-3", "x=1")[::2],
                   "--precision", "'-3'")  # fmt: skip


# --- the lines, run as a learner runs them ---------------------------------------------


def test_values_after_the_options_grade_as_before() -> None:
    before = run("check", "x*y", "x=1", "y=2", "--wrt", "x", "--claim", "y")
    after = run("check", "x*y", "--wrt", "x", "--claim", "y", "x=1", "y=2")
    split = run("check", "x*y", "x=1", "--wrt", "x", "y=2", "--claim", "y")
    assert before.returncode == after.returncode == split.returncode == 0, after.stderr
    assert before.stdout == after.stdout == split.stdout
    assert before.stdout.startswith("graded: f = x*y   at x = 1, y = 2\n✓ correct")
    grad = run("grad", "x*y", "--wrt", "y", "x=3", "--json", "y=2")
    assert grad.returncode == 0 and json.loads(grad.stdout)["gradients"] == {"y": 3.0}


def test_a_leading_minus_works_in_expression_claim_and_value(capsys) -> None:
    status, out, _ = call(capsys, "grad", "-x*y", "x=1", "y=2")
    assert status == 0 and out.splitlines()[:3] == ["f = -x*y = -2", "  ∂/∂x    -2",
                                                    "  ∂/∂y    -1"]  # fmt: skip
    for claim in (["--claim", "-2*x"], ["--claim=-2*x"]):  # wrong, not an argparse error
        status, out, err = call(capsys, "check", "x*x", "x=3", "--wrt", "x", *claim)
        assert status == 1 and out.splitlines()[1].startswith("✗ wrong: ∂f/∂x =? -2*x"), err
        assert "Sign error" in out
    status, out, _ = call(capsys, "check", "-x*x", "x=-3", "--wrt", "x", "--claim", "-2*x")
    assert status == 0 and out.startswith("graded: f = -x*x   at x = -3\n✓ correct")
    status, out, _ = call(capsys, "grad", "--wrt", "x", "--", "-x*y", "x=1", "y=-2")
    assert status == 0 and out.splitlines()[:2] == ["f = -x*y = 2", "  ∂/∂x    2"]


def test_the_separator_ends_the_options_as_posix_says() -> None:
    proc = run("grad", "--json", "--", "-x", "x=2")
    assert proc.returncode == 0 and json.loads(proc.stdout)["value"] == -2.0
    # after --, an option is a value: here a NAME=VALUE that is not one
    late = run("grad", "--", "-x", "x=2", "--json")
    assert late.returncode == 2 and "Traceback" not in late.stderr
    assert "expected NAME=VALUE, got '--json'" in late.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["grad", "-x*y", "x=1", "--wrt"], ["grad", "--wrt", "expected one argument"]),
        (["check", "-x*x", "x=1", "--wrt", "x", "--claim"], ["--claim", "expected one"]),
        (["check", "x*x", "x=1", "--wrt", "x", "--claim", "--json"], ["--claim", "expected one"]),
        (["grad", "-x*y", "--frob", "3", "x=1"], ["grad: unrecognized arguments: --frob"]),
        (
            ["check", "x*y", "x=1", "--s", "3", "--wrt", "x", "--claim", "y"],
            ["ambiguous option: --s could match --sizes, --seed"],
        ),
        (["demo", "-x"], ["demo: unrecognized arguments: -x"]),
        (["verify", "foo"], ["verify: unrecognized arguments: foo"]),
        (["grad", "-x*", "x=1"], ["syntax"]),
        (["check", "x*x", "x=1", "--wrt", "x", "--claim", "-q"], ["unknown name(s) q"]),
        (["exercise", "--seed", "2", "--level", "1", "--answer", "-q"], ["unknown name"]),
        (["grad", "x", "x=-1e999"], ["'x'", "finite"]),
        (["steps", "x", "--out"], ["--out", "expected one argument"]),
    ],
)
def test_mistakes_with_minus_signs_and_options_are_one_line(args, words, tmp_path) -> None:
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == "", proc.stdout
    one_line_error(proc.returncode, proc.stderr, *words)


def test_help_still_works_anywhere_on_the_line() -> None:
    for line in (["grad", "-x*y", "-h"], ["check", "--help"], ["grad", "-x", "x=1", "--help"]):
        proc = run(*line)
        assert proc.returncode == 0 and proc.stdout.startswith(f"usage: autograd-bp {line[0]}")


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_steps_takes_values_after_its_options_and_a_minus_expression(tmp_path) -> None:
    out = tmp_path / "steps"
    proc = run("steps", "-a*b", "--out", str(out), "a=0.5", "b=-1")
    assert proc.returncode == 0, proc.stderr
    assert "f = -a*b   at a=0.5, b=-1" in (out / "index.html").read_text(encoding="utf-8")


# --- grading outputs name their f; the verdicts' exit statuses -------------------------------


def test_every_grading_output_names_the_f_and_point_it_graded(capsys) -> None:
    status, out, _ = call(capsys, "check", "x*y", "x=0.1", "y=-3e-2", "--wrt", "y",
                          "--claim", "x", "--json")  # fmt: skip
    doc = json.loads(out)
    assert status == 0 and doc["expression"] == "x*y" and doc["wrt"] == "y"
    assert doc["values"] == {"x": 0.1, "y": -0.03}
    status, out, _ = call(capsys, "check", "z = w*x; a = sigmoid(z)", "w=1", "x=2",
                          "--wrt", "w", "--claim", "a*(1 - a)*x")  # fmt: skip
    assert status == 0 and out.startswith("graded: z = w*x; a = sigmoid(z)   at w = 1, x = 2\n")
    for level in LEVELS:
        ex = make_exercise(2, level)
        status, out, _ = call(capsys, "exercise", "--seed", "2", "--level", str(level),
                              "--answer", ex.answer, "--json")  # fmt: skip
        doc = json.loads(out)
        assert status == 0 and doc["verdict"] == "correct"
        assert doc["expression"] == ex.expression and doc["values"] == dict(ex.values)
        assert doc["wrt"] == ex.wrt
        status, out, _ = call(capsys, "exercise", "--seed", "2", "--level", str(level),
                              "--answer", ex.answer)  # fmt: skip
        first = out.splitlines()[0]
        assert first.startswith(f"graded: exercise 2 (level {level}): ")
        assert ex.expression in first and all(f"{n} = {v:g}" in first for n, v in ex.values)


def test_each_verdict_has_its_own_exit_status() -> None:
    assert [verdict_status(v) for v in ("correct", "wrong", "only_here")] == [0, 1, 1]
    # a verdict that is neither proved nor refuted is neither 0 nor 1, nor a usage error
    assert verdict_status("undecided") == 3 and verdict_status("anything new") == 3


# --- homework sheets grade their own key ---------------------------------------------------

KEY_ROW = re.compile(r"^\| (\d+) \| `∂\w+/∂\w+ = (.+?)` \| \S+ \| `(autograd-bp exercise .+)` \|$",
                     re.M)  # fmt: skip
BLANK = re.compile(r"^```console\n(autograd-bp exercise [^\n]+)\n```$", re.M)


@pytest.mark.parametrize("level", [None, *LEVELS])
def test_every_grading_command_on_a_sheet_grades_its_key_correct(capsys, tmp_path, level):
    sheet = tmp_path / "sheet.md"
    chosen = [] if level is None else ["--level", str(level)]
    assert call(capsys, "exercise", "--markdown", str(sheet), "--count", "6", "--seed", "1",
                *chosen)[0] == 0  # fmt: skip
    text = sheet.read_text(encoding="utf-8")
    keys, blanks = KEY_ROW.findall(text), BLANK.findall(text)
    assert len(keys) == len(blanks) == 6
    for (seed, answer, command), blank in zip(keys, blanks):
        ex = make_exercise(int(seed), level)
        assert f"--seed {seed} --level {ex.level} " in command and answer == ex.answer
        assert blank.replace('"FORMULA"', f'"{answer}"') == command
        argv = shlex.split(command)  # as a shell reads the pasted line
        status, out, err = call(capsys, *argv[1:])
        assert status == 0 and "✓ correct" in out, (command, out, err)
        assert out.startswith(f"graded: exercise {seed} (level {ex.level}): ")
    if level == 1:  # seeds 2 and 4 have keys that start with a minus: "-x"
        assert any(answer.startswith("-") for _, answer, _ in keys)


def test_a_pasted_key_with_a_leading_minus_grades_correct_in_a_shell(tmp_path) -> None:
    sheet = tmp_path / "sheet.md"
    assert run("exercise", "--markdown", str(sheet), "--count", "3", "--seed", "2", "--level",
               "1").returncode == 0  # fmt: skip
    (seed, answer, command), *_ = KEY_ROW.findall(sheet.read_text(encoding="utf-8"))
    assert answer == "-x" and command == 'autograd-bp exercise --seed 2 --level 1 --answer "-x"'
    proc = run(*shlex.split(command)[1:])
    assert proc.returncode == 0 and "✓ correct" in proc.stdout, proc.stderr


# --- a new user's other first steps -------------------------------------------------------


def test_a_reader_that_leaves_stops_the_command_quietly() -> None:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    for line in (["grad", "x*x*y", "x=3", "y=2", "--explain", "x"], ["exercise", "--seed", "7"]):
        proc = subprocess.Popen([sys.executable, "-m", "autograd_bp", *line], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        proc.stdout.close()  # `| head -0`: gone before the first line is written
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 141 and err == "", err


def test_grad_of_a_program_prints_the_steps_then_the_outputs_value(capsys) -> None:
    status, out, _ = call(capsys, "grad", "z = w*x + b; a = sigmoid(z)", "w=1", "x=2", "b=0")
    assert status == 0 and out.splitlines()[:3] == ["z = w*x + b; a = sigmoid(z)", "a = 0.880797",
                                                    "  ∂/∂w    0.209987"]  # fmt: skip


def test_a_value_that_reads_as_an_option_is_given_attached(capsys) -> None:
    assert parsed(["check", "x*x", "x=1", "--wrt", "x", "--claim=--x"])["claim"] == "--x"
    status, out, _ = call(capsys, "check", "x*x", "x=3", "--wrt", "x", "--claim=--2*x")
    assert status == 0 and "✓ correct: ∂f/∂x =? --2*x" in out


# --- every option of every command: `--opt V` and `--opt=V` mean the same -------------------

BASE = {  # the least each command needs besides the option under test
    "train": ["xor"],
    "check": ["x*y", "x=1", "y=2", "--wrt=x", "--claim=y"],
    "grad": ["x*y", "x=1", "y=2"],
    "steps": ["x*y", "x=1", "y=2"],
    "grade": ["engine.py"],  # parsing only: the file is not read here
}


def outcome(argv: list[str]) -> object:
    """The parsed arguments, or the one-line error argparse (or a type check) gives."""
    from autograd_bp.cli import UsageError

    try:
        return parsed(argv)
    except UsageError as e:
        return f"error: {e}"


def value_options() -> list[tuple[str, str]]:
    parser = build_parser()
    return [(name, option) for name, command in parser.commands.items()
            for option, arity in command.options.items()
            if arity == 1 and option.startswith("--")]  # fmt: skip


@pytest.mark.parametrize("command, option", value_options())
@pytest.mark.parametrize("value", ["2", "-1", "-0.5", "-x*y", "- x", "x=1"])
def test_every_option_reads_its_value_separate_or_attached_the_same(command, option, value):
    base = [t for t in BASE.get(command, []) if not t.startswith(option + "=")]
    separate = outcome([command, *base, option, value])
    attached = outcome([command, *base, f"{option}={value}"])
    before = outcome([command, option, value, *base])  # the option before the positionals
    assert separate == attached == before
    if isinstance(separate, dict):
        dest = {"--class": "class_name"}.get(option, option[2:].replace("-", "_"))
        got = separate[dest]
        number = isinstance(got, (int, float)) and got == float(value)
        assert got == value or str(got) == f"[{value}]" or number, got  # --sizes 2: [2]
    else:  # refused by the option's own check, naming it and the value as typed
        assert option in separate and value in separate, separate


# a Chinese phrase with the stops after it, as help texts write them
CHINESE_PHRASE = st.builds(lambda han, stop: han + stop, st.text("反向传播链式法则", min_size=1),
                           st.text("）：，。", max_size=2))  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.one_of(st.text("abcxyz.,()", min_size=1, max_size=6),
                                st.lists(CHINESE_PHRASE, min_size=1, max_size=3).map("".join)),
                      max_size=30),
       columns=st.integers(12, 60))  # fmt: skip
def test_chinese_help_is_wrapped_by_terminal_columns_and_loses_nothing(
        words: list[str], columns: int) -> None:  # fmt: skip
    """--help in Chinese: argparse wraps only at spaces, so line.wrap_columns fills lines by
    the columns a character takes (two for a Chinese one); no text is lost or reordered."""
    from autograd_bp.cli.line import wrap_columns
    from autograd_bp.locale import width

    text = " ".join(words)
    lines = wrap_columns(text, columns)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(width(line) <= columns for line in lines), lines
    assert all(line == line.strip() and line for line in lines)
    assert not any(line.startswith(("）", "，", "。", "：")) for line in lines[1:]), lines
