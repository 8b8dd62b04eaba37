"""The command line, through a real subprocess: outputs, JSON schemas, exit codes, errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from autograd_bp import __version__


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "autograd_bp", *args],
        capture_output=True, text=True, timeout=300, cwd=cwd, env=env,
    )  # fmt: skip


def assert_usage_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autograd-bp: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_version_and_help_with_examples() -> None:
    assert run("--version").stdout.strip() == f"autograd-bp {__version__}"
    for command in ("demo", "grad", "steps", "train", "verify"):
        proc = run(command, "--help")
        assert proc.returncode == 0 and "example: autograd-bp " + command in proc.stdout


def test_demo_prints_the_table_traces_and_writes_the_diagram(tmp_path) -> None:
    proc = run("demo", "--iterations", "50", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "gradients.w5" in out and "0.082167041" in out and "✓" in out
    assert "∂E_total/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5" in out
    assert "2 paths from E_total to w1" in out
    if shutil.which("dot"):
        ET.parse(tmp_path / "network.svg")  # a well-formed SVG
        assert (tmp_path / "steps" / "index.html").exists()


def test_demo_json_schema_and_that_settings_change_results(tmp_path) -> None:
    a = json.loads(run("demo", "--json", "--iterations", "20", "--out", str(tmp_path)).stdout)
    results = a["results"]
    keys = ["forward.out_o1", "gradients.w5", "updated.w1", "after_one_update.simultaneous.E",
            "after_training.sequential.outputs"]  # fmt: skip
    for key in keys:
        assert key in results
    assert len(results["after_training.sequential.outputs"]) == 2
    args = ["--iterations", "20", "--lr", "0.9", "--schedule", "sequential", "--out", str(tmp_path)]
    b = json.loads(run("demo", "--json", *args).stdout)["results"]
    assert b["gradients.w5"] == results["gradients.w5"]  # the first gradient does not depend on lr
    assert b["after_training.sequential.E"] != results["after_training.sequential.E"]
    assert b["updated.w1"] == b["updated.sequential.w1"]
    rows = {r["quantity"]: r for r in a["comparison"]}
    assert rows["gradients.w5"]["matches"] is True
    assert rows["after_training.sequential.E"]["applies"] is False  # 20 iterations, not 10,000


def test_grad_table_explain_check_and_json(tmp_path) -> None:
    proc = run("grad", "sigmoid(w*x + b)", "w=0.4", "x=0.5", "b=0.1", "--explain", "w", "--check")
    assert proc.returncode == 0, proc.stderr
    assert "∂/∂w" in proc.stdout and "PASS" in proc.stdout and "path 1" in proc.stdout
    doc = json.loads(run("grad", "x*x*y", "x=3", "y=2", "--json", "--check").stdout)
    assert doc["value"] == 18.0 and doc["gradients"] == {"x": 12.0, "y": 9.0}
    assert doc["check"]["passed"] is True
    only = json.loads(run("grad", "x*x*y", "x=3", "y=2", "--wrt", "y", "--json").stdout)
    assert only["gradients"] == {"y": 9.0}


@pytest.mark.skipif(shutil.which("dot") is None and os.environ.get("CI") != "true",
                    reason="needs Graphviz's dot")  # fmt: skip
def test_grad_draw_and_steps_write_real_files(tmp_path) -> None:
    svg, steps = tmp_path / "g.svg", tmp_path / "steps"
    proc = run("grad", "tanh(a*b)", "a=0.5", "b=-1", "--draw", str(svg), "--steps", str(steps))
    assert proc.returncode == 0, proc.stderr
    assert ET.parse(svg).getroot().tag.endswith("svg")
    assert "Backward pass of f, step by step" in (steps / "index.html").read_text("utf-8")
    assert '"{ f |' in (tmp_path / "g.gv").read_text("utf-8")  # the same output name: f
    assert run("steps", "a*a", "a=2", "--out", str(tmp_path / "s2")).returncode == 0
    assert (tmp_path / "s2" / "step_002.svg").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["grad", "foo(x)", "x=1"], ["unknown function 'foo'"]),
        (["grad", "x*2", "x"], ["NAME=VALUE"]),
        (["grad", "x*2", "x=abc"], ["must be a number"]),
        (["grad", "log(x)", "x=-1"], ["log", "-1.0"]),
        (["grad", "x*2", "x=1", "--wrt", "q"], ["'q'"]),
        (["grad", "x.__class__", "x=1"], ["attribute access"]),
        (["grad", "x*2", "x=1", "--draw", "/proc/no/such/dir/g.svg"], []),
        (["grad", "x*2", "x=1", "--draw", "g.bmp"], ["svg, png or pdf"]),
        (["train", "xor", "--activation", "swish"], ["invalid choice", "swish"]),
        (["train", "xor", "--hidden", "0"], ["--hidden"]),
        (["train", "xor", "--lr", "-0.1"], ["--lr", "positive"]),
        (["train", "xor", "--load", "/no/such/model.json"], ["cannot read model file"]),
        (["demo", "--iterations", "0"], ["--iterations"]),
        (["verify", "--sizes", "3"], ["--sizes"]),
        (["nosuchcommand"], ["invalid choice"]),
        ([], ["required"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, words, tmp_path) -> None:
    assert_usage_error(run(*args, cwd=tmp_path), *words)
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))


def test_corrupt_model_file_is_refused_in_one_line(tmp_path) -> None:
    bad = tmp_path / "m.json"
    bad.write_text('{"format": "autograd_bp.model", "vers')
    assert_usage_error(run("train", "xor", "--load", str(bad)), "not valid JSON")


def test_train_xor_saves_a_model_that_loads_back(tmp_path) -> None:
    model = tmp_path / "xor.json"
    proc = run("train", "xor", "--hidden", "4", "--activation", "sigmoid", "--lr", "2",
               "--epochs", "300", "--save", str(model), "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["history"]["loss"][-1] < doc["history"]["loss"][0]
    assert len(doc["history"]["loss"]) == 300 and doc["saved"] == str(model)
    again = run("train", "xor", "--load", str(model), "--epochs", "1", "--lr", "0.01", "--json")
    assert again.returncode == 0, again.stderr


def test_train_moons_plot(tmp_path) -> None:
    png = tmp_path / "moons.png"
    proc = run("train", "moons", "--hidden", "8", "--activation", "relu", "--epochs", "5",
               "--lr", "0.5", "--plot", str(png))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes().startswith(b"\x89PNG")


def test_verify_reports_agreement() -> None:
    proc = run("verify", "--sizes", "3,4,2", "--activation", "tanh", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["max_rel_matrix"] < 1e-10 and len(doc["parameters"]) == 4 * 4 + 2 * 5


def test_train_compiled_digits_reports_test_accuracy() -> None:
    args = ["--hidden", "32", "--optimizer", "adam", "--lr", "0.01", "--epochs", "5",
            "--batch-size", "32", "--samples", "600", "--compiled", "--json"]  # fmt: skip
    proc = run("train", "digits", *args)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["test_accuracy"] > 0.85 and doc["history"]["loss"][-1] < doc["history"]["loss"][0]


def test_grad_names_the_output_f_everywhere_and_explains_both_slots() -> None:
    proc = run("grad", "x*x*y", "x=3", "y=2", "--explain", "x")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "f = x*x*y = 18"
    path_lines = [ln for ln in lines if ln.lstrip().startswith("path")]
    assert len(path_lines) == 2 and path_lines[0] != path_lines[1]
    assert "∂(x*x)/∂x[left] = x = 3" in proc.stdout and "∂f/∂x = 6 + 6 = 12" in proc.stdout
    clash = run("grad", "f*x", "f=2", "x=3", "--explain", "x")
    assert clash.stdout.splitlines()[0] == "f_1 = f*x = 6" and "∂f_1/∂x" in clash.stdout


@pytest.mark.parametrize("fmt", ["text", "latex", "markdown"])
def test_grad_explain_and_formula_in_every_format(fmt) -> None:
    pytest.importorskip("sympy")
    args = ["grad", "sigmoid(w*x + b)", "w=0.4", "x=0.5", "b=0.1", "--format", fmt]
    explained = run(*args, "--explain", "w")
    formula = run(*args, "--formula", "--wrt", "w")
    assert explained.returncode == 0 and formula.returncode == 0, explained.stderr + formula.stderr
    out = explained.stdout
    if fmt == "text":
        assert "σ(w*x + b)·(1 − σ(w*x + b))" in out
        assert formula.stdout.splitlines()[-1].startswith("  ∂f/∂w = x*exp(")
    else:
        assert "\\begin{aligned}" in out and "\\sigma" in out and out.count("{") == out.count("}")
        assert "\\frac{\\partial f}{\\partial w} = " in formula.stdout
        assert ("$$" in out) == (fmt == "markdown") == ("$$" in formula.stdout)
    doc = json.loads(run(*args, "--explain", "w", "--formula", "--json").stdout)
    assert doc["output"] == "f" and set(doc["formulas"]) == {"w", "x", "b"}
    assert doc["explain"]["paths"][0]["factors"][0]["rule"].startswith("σ(")
    if fmt != "text":
        assert doc["explain"][fmt].count("\\frac") >= 3
