"""``autograd-bp lab`` through a real subprocess: the bug list, an expression, --worked,
--sizes, predict then run (stdin and --prediction), --json, and every usage error in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograd_bp.check.bugs import BUGS


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run([sys.executable, "-m", "autograd_bp", "lab", *args], input=stdin,
                          capture_output=True, text=True, timeout=300, env=env)  # fmt: skip


def assert_usage_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autograd-bp: error:"), proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_list_gives_every_bug_with_its_one_line_description():
    proc = run("--list")
    assert proc.returncode == 0
    lines = proc.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(BUGS)
    assert lines[0].split(None, 1)[1] == "`=` where backward must `+=`"


def test_an_expression_under_a_bug():
    proc = run("tanh(a*b) + a", "a=0.5", "b=-1", "--bug", "tanh-derivative-from-input")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("lab: f = tanh(a*b) + a   at a = 0.5, b = -1\n")
    assert "  a*b: 0.75 vs 0.786448 — `tanh(a*b)` hands back 1 − (a*b)² = 0.75" in out
    assert "  faulty engine: FAIL (2 of 2 inputs off" in out
    assert "  this engine: PASS (0 of 2 inputs off" in out


def test_predict_asks_on_stdin_first_then_runs():
    proc = run("tanh(a*b) + a", "a=0.5", "b=-1", "--bug", "tanh-derivative-from-input",
               "--predict", "--wrt", "a", stdin="0.25\n")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    question = "Under the bug tanh-derivative-from-input, what will the faulty engine give " \
               "for ∂f/∂a?"  # fmt: skip
    assert proc.stdout.startswith(question)
    assert "prediction for ∂f/∂a: yours 0.25, the faulty engine's 0.25, this engine's " \
           "0.213552" in proc.stdout  # fmt: skip
    assert "your prediction matches the faulty engine" in proc.stdout


def test_predict_with_json_asks_on_stderr_and_keeps_stdout_json():
    proc = run("--worked", "--bug", "sub-sign", "--predict", "--wrt", "target_o1", "--json",
               stdin="-0.741365\n")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "∂E_total/∂target_o1?" in proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["prediction"]["matched"] == "correct"
    assert doc["output"] == "E_total" and doc["exposed"]
    assert [d["name"] for d in doc["differing"]] == ["target_o1", "target_o2"]


def test_sizes_with_nielsens_names_and_a_prediction_given_on_the_line():
    proc = run("--sizes", "2,3,1", "--activation", "tanh", "--bug",
               "tanh-derivative-from-input", "--wrt", "b3_1", "--prediction", "12.2", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["graph"] == "a 2-3-1 tanh network, in Nielsen's notation"
    assert doc["prediction"]["wrt"] == "b3_1" and doc["prediction"]["matched"] == "buggy"
    assert not doc["gradcheck"]["buggy"]["passed"] and doc["gradcheck"]["correct"]["passed"]


def test_a_bug_this_graph_cannot_show():
    proc = run("x*y", "x=1", "y=2", "--bug", "sub-sign")
    assert proc.returncode == 0
    assert "no node differs: this graph has no subtraction" in proc.stdout


@pytest.mark.parametrize("args, stdin, words", [
    (("x*y", "x=1", "y=2", "--bug", "nope"), None,
     ("unknown bug 'nope'", "choose one of: assign-instead-of-accumulate,")),
    (("x*y", "x=1", "y=2", "--bug", "timeout"), None, ("no number on a graph",)),
    (("x*", "x=1", "--bug", "sub-sign"), None, ("syntax",)),
    (("x*y", "x=1", "--bug", "sub-sign"), None, ("y",)),
    (("x*y", "x=1", "y=2"), None, ("--bug ID is required",)),
    (("x*y", "x=1", "y=2", "--bug", "sub-sign", "--wrt", "z"), None, ("its inputs are: x, y",)),
    (("x*y", "x=1", "y=2", "--bug", "sub-sign", "--prediction", "nan"), None, ("finite",)),
    (("x*y", "x=1", "y=2", "--bug", "sub-sign", "--prediction", "two"), None, ("number",)),
    (("x*y", "x=1", "y=2", "--bug", "sub-sign", "--predict"), "", ("stdin is closed",)),
    (("x*y", "x=1", "y=2", "--bug", "sub-sign", "--predict"), "lots\n", ("number",)),
    (("x*y", "x=1", "y=2", "--bug", "sub-sign", "--predict", "--prediction", "1"), None,
     ("not both",)),
    (("--worked", "--sizes", "2,1", "--bug", "sub-sign"), None, ("exactly one",)),
    (("--sizes", "200,200,10", "--bug", "sub-sign"), None, ("5,000",)),
    (("--sizes", "3", "--bug", "sub-sign"), None, ("at least an input and an output",)),
    (("--worked", "x=1", "--bug", "sub-sign"), None, ("go with an EXPRESSION",)),
    (("x" * 10_001, "--bug", "sub-sign"), None, ("limit is 10000",)),
])  # fmt: skip
def test_usage_errors_are_one_line_exit_2(args, stdin, words):
    assert_usage_error(run(*args, stdin=stdin), *words)


def test_too_many_paths_for_the_recursive_walk_is_refused_in_one_line():
    steps = "; ".join(["x1 = a + a"] + [f"x{k + 1} = x{k} + x{k}" for k in range(1, 20)])
    assert_usage_error(run(steps, "a=1", "--bug", "no-topological-order"),
                       "lab: the recursive walk would run a backward")  # fmt: skip


def test_help_has_an_example():
    proc = subprocess.run([sys.executable, "-m", "autograd_bp", "lab", "--help"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0 and "example: autograd-bp lab" in proc.stdout


def _transcript(command: str) -> str:
    """What docs/lab.md shows after ``$ autograd-bp lab …`` in a console block."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "lab.md").read_text(encoding="utf-8")
    block = page.split(f"$ autograd-bp lab {command}\n", 1)[1]
    return block.split("```", 1)[0]


def test_the_transcripts_in_the_docs_are_what_the_command_prints():
    assert run("--list").stdout == _transcript("--list")
    shown = _transcript('"tanh(a*b) + a" a=0.5 b=-1 --bug tanh-derivative-from-input --predict')
    proc = run("tanh(a*b) + a", "a=0.5", "b=-1", "--bug", "tanh-derivative-from-input",
               "--predict", stdin="0.25\n")  # fmt: skip
    # in a terminal the answer typed after the question is echoed; piped, it is not
    assert proc.stdout == shown.replace("? 0.25\n\n", "? \n")
