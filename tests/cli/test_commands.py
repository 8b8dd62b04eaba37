"""The command line, through a real subprocess: outputs, JSON schemas, exit codes, errors."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from autograd_bp import __version__
from autograd_bp.cli import main


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
    assert "∂E_total/∂w5" in out and "0.082167041" in out and "✓" in out
    assert "∂E_total/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5" in out
    assert "2 paths from E_total to w1" in out
    if shutil.which("dot"):
        ET.parse(tmp_path / "network.svg")  # a well-formed SVG
        ET.parse(tmp_path / "neurons.svg")  # the neuron-level picture
        assert (tmp_path / "steps" / "index.html").exists()


def _table(out: str) -> dict[str, str]:
    """Table rows of the demo's text output: quantity name -> the rest of the line."""
    lines = out.split("\n\n")[1].splitlines()[1:]
    return {line[:30].strip(): line[30:] for line in lines}


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory) -> str:
    proc = run("demo", "--out", str(tmp_path_factory.mktemp("demo")))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_demo_table_speaks_mathematics_names_its_source_and_has_no_false_alarms(
    default_demo,
) -> None:
    out = default_demo
    rows = _table(out)
    for name in ("∂E_o2/∂out_h1", "w1⁺", "δ_o1 = ∂E_total/∂net_o1", "E_total after 1 update",
                 "out_o1 after 10,000 updates"):  # fmt: skip
        assert name in rows, name
    assert not any("chain." in k or "gradients." in k for k in rows)
    # every figure is reproduced under one schedule or the other: no ✗ in the table
    assert len(rows) == 31 and not any("✗" in rest for rest in rows.values())
    assert rows["E_total after 1 update"].split()[-3:] == ["(sequential:", "0.291027924", "✓)"]
    assert "other schedule" in rows["E_total after 1 update"]
    assert rows["w1⁺"].split()[-1] == "✓"
    assert "https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/" in out
    assert "http://neuralnetworksanddeeplearning.com/chap2.html" in out
    assert "seed" not in out.lower()


def test_demo_schedule_changes_the_text_output(default_demo, tmp_path) -> None:
    seq = run("demo", "--schedule", "sequential", "--out", str(tmp_path)).stdout
    a, b = _table(default_demo), _table(seq)
    assert a["w1⁺"] != b["w1⁺"] and "other schedule (simultaneous:" in b["w1⁺"]
    assert b["E_total after 1 update"].split()[-1] == "✓"
    assert a["w5⁺"] == b["w5⁺"]  # the output weights move the same under both
    assert "schedule sequential" in seq and "schedule simultaneous" in default_demo


def test_demo_update_biases_shows_the_updated_biases(tmp_path) -> None:
    from autograd_bp.textbook.worked import compute

    out = run("demo", "--update-biases", "--iterations", "3", "--out", str(tmp_path)).stdout
    rows = _table(out)
    expected = compute(iterations=3, update_biases=True)
    for b in ("b1", "b2"):
        engine = float(rows[b + "⁺"].split()[0])
        assert engine == pytest.approx(expected[f"updated.simultaneous.{b}"], abs=1e-9)
        assert engine != pytest.approx(0.35 if b == "b1" else 0.60)  # it moved
    assert "b1⁺" not in _table(run("demo", "--iterations", "3", "--out", str(tmp_path)).stdout)


def test_demo_prints_the_four_equations_checked_against_the_engine(default_demo) -> None:
    lines = [
        ln
        for ln in default_demo.splitlines()
        if ln.strip().startswith(("BP1", "BP2", "BP3", "BP4"))
    ]
    assert [ln.split()[0] for ln in lines] == ["BP1", "BP2", "BP3", "BP4"]
    assert "δ² = ∇_a C ⊙ σ′(z²)" in lines[0] and "δ¹ = ((w²)ᵀ δ²) ⊙ σ′(z¹)" in lines[1]
    assert all(ln.endswith("✓ = engine") for ln in lines)


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
    assert rows["gradients.w5"]["name"] == "∂E_total/∂w5" and rows["gradients.w5"]["status"] == "✓"
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
    assert [f.name for f in (tmp_path / "s2").iterdir()] == ["index.html"]  # one SVG, inside


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
        (["train", "xor", "--lr", "-0.1"], ["--lr", "> 0"]),
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


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
def test_steps_page_shows_the_expression_and_leaves_no_stale_steps(tmp_path) -> None:
    out = tmp_path / "steps"
    out.mkdir()
    (out / "step_007.svg").write_text("<svg/>")  # what an older version wrote, one per step
    assert run("steps", "tanh(a*b) + a*a*a", "a=0.5", "b=-1", "--out", str(out)).returncode == 0
    assert run("steps", "a*a", "a=2", "--out", str(out)).returncode == 0
    assert [f.name for f in out.iterdir()] == ["index.html"]
    assert "f = a*a   at a=2" in (out / "index.html").read_text(encoding="utf-8")


def test_grad_draw_refuses_to_overwrite_a_foreign_gv_file(tmp_path) -> None:
    notes = tmp_path / "g.gv"
    notes.write_text("keep me\n")
    proc = run("grad", "x*x", "x=3", "--draw", str(tmp_path / "g.svg"))
    assert_usage_error(proc, "g.gv", "not written by render")
    assert notes.read_text() == "keep me\n"


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


# --- check and exercise ---------------------------------------------------------------------

W1 = "(delta_o1*w5 + delta_o2*w7)*out_h1*(1-out_h1)*x1"


def test_check_help_and_exit_codes(tmp_path) -> None:
    for command in ("check", "exercise"):
        proc = run(command, "--help")
        assert proc.returncode == 0 and "example: autograd-bp " + command in proc.stdout
    right = run("check", "--worked", "--wrt", "w1", "--claim", W1)
    assert right.returncode == 0 and right.stdout.startswith("✓ correct")
    wrong = run("check", "--worked", "--wrt", "w1", "--claim", "delta_o1*w5*out_h1*(1-out_h1)*x1")
    assert wrong.returncode == 1 and "but not the one through E_o2, out_o2" in wrong.stdout
    here = run("check", "sin(x)*x", "x=0", "--wrt", "x", "--claim", "0")
    assert here.returncode == 1 and here.stdout.splitlines()[1].startswith("≈ only here")
    assert here.stdout.splitlines()[0] == "graded: f = sin(x)*x   at x = 0"
    expr = run("check", "x*x*y", "x=3", "y=2", "--wrt", "x", "--claim", "2*x*y", "--points", "60")
    assert expr.returncode == 0 and "60 around it" in expr.stdout
    nielsen = run("check", "--sizes", "2,3,2", "--wrt", "w2_1_1", "--claim", "delta2_1*x1")
    assert nielsen.returncode == 0, nielsen.stdout + nielsen.stderr


def test_check_json_has_exactly_the_keys_and_is_strict() -> None:
    keys = {"verdict", "engine", "claimed", "points", "symbolic", "diagnosis", "expression",
            "values", "wrt"}  # fmt: skip
    for claim, verdict, code in ((W1, "correct", 0), ("x1*w5", "wrong", 1),
                                 ("log(w1 - 0.15)", "wrong", 1)):  # fmt: skip
        proc = run("check", "--worked", "--wrt", "w1", "--claim", claim, "--json")
        assert proc.returncode == code, proc.stderr
        doc = strict_loads(proc.stdout)
        assert set(doc) == keys and doc["verdict"] == verdict and doc["points"] > 51
        assert isinstance(doc["diagnosis"], list)
        assert doc["expression"] is None and doc["values"] is None and doc["wrt"] == "w1"
    assert doc["claimed"] is None  # log(0) at the given point: undefined, not -Infinity


# --------------------------------------------------------------------- misuse (issue 14)


def _refuse_constant(token: str) -> None:
    raise AssertionError(f"--json printed the non-JSON token {token}")


def strict_loads(text: str):
    """json.loads that fails on NaN/Infinity tokens (what JSON.parse and jq reject)."""
    return json.loads(text, parse_constant=_refuse_constant)


def call(capsys, *args: str) -> tuple[int, str, str]:
    """main() in-process: (exit status, stdout, stderr)."""
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


def assert_one_line_error(status: int, err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert status == 2 and len(lines) == 1 and lines[0].startswith("autograd-bp: error:"), err
    for w in words:
        assert w in lines[0], lines[0]


@pytest.mark.parametrize(
    "args, words",
    [
        (["x*y", "x=1", "y=2", "--wrt", "x", "--claim", "q*2"], ["unknown name(s) q"]),
        (["x*y", "x=1", "y=2", "--wrt", "x", "--claim", "y*"], ["--claim", "syntax error"]),
        (["x*y", "x=1", "y=2", "--wrt", "z", "--claim", "y"], ["--wrt", "'z'"]),
        (["x*y", "x=1", "y=2", "--wrt", "f", "--claim", "1"], ["--wrt", "output itself"]),
        (["log(x)", "x=-1", "--wrt", "x", "--claim", "1/x"], ["log", "positive"]),
        (["--worked", "--wrt", "w9", "--claim", "1"], ["--wrt", "'w9'"]),
        (["--worked", "x=1", "--wrt", "w1", "--claim", "1"], ["NAME=VALUE"]),
        (["x*y", "x=1", "y=2", "--worked", "--wrt", "x", "--claim", "y"], ["exactly one"]),
        (["--wrt", "x", "--claim", "y"], ["exactly one"]),
        (["--sizes", "2", "--wrt", "x", "--claim", "y"], ["--sizes"]),
        (["--worked", "--wrt", "w1"], ["--claim"]),
        (["--worked", "--wrt", "w1", "--claim", "1", "--points", "0"], ["--points"]),
        (["--worked", "--wrt", "w1", "--claim", "1", "--points", "10"], ["at least 50"]),
    ],
)
def test_check_bad_input_is_one_line_exit_2(args: list[str], words: list[str]) -> None:
    assert_usage_error(run("check", *args), *words)


def test_exercise_prints_grades_and_writes_a_set(tmp_path) -> None:
    a, b = run("exercise", "--seed", "7"), run("exercise", "--seed", "7")
    assert a.returncode == 0 and a.stdout == b.stdout and "Exercise 7" in a.stdout
    assert 'exercise --seed 7 --answer "FORMULA"' in a.stdout
    from autograd_bp.check.exercise import make_exercise

    ex = make_exercise(7)
    assert run("exercise", "--seed", "7", "--answer", ex.answer).returncode == 0
    wrong = run("exercise", "--seed", "7", "--answer", f"2*({ex.answer})", "--json")
    assert wrong.returncode == 1 and strict_loads(wrong.stdout)["verdict"] == "wrong"
    fresh = run("exercise")
    assert fresh.returncode == 0 and "Exercise " in fresh.stdout
    out = tmp_path / "set.md"
    proc = run("exercise", "--markdown", str(out), "--count", "3", "--seed", "2")
    assert proc.returncode == 0 and "## Answer key" in out.read_text(encoding="utf-8")
    assert_usage_error(run("exercise", "--level", "4"), "--level")
    assert_usage_error(run("exercise", "--seed", "1", "--answer", "nope"), "unknown name")
    assert_usage_error(run("exercise", "--markdown", str(out), "--answer", "1"), "--markdown")


def test_demo_ends_by_pointing_to_check(tmp_path) -> None:
    proc = run("demo", "--iterations", "2", "--out", str(tmp_path))
    assert proc.returncode == 0
    assert (
        proc.stdout.strip().splitlines()[-1].startswith("Derived one yourself? autograd-bp check")
    )


@pytest.mark.parametrize(
    "args, words",
    [
        (["grad", "x*2", "x=1e309"], ["'x'", "finite", "1e309", "too large"]),
        (["grad", "x*2", "x=inf"], ["'x'", "finite"]),
        (["grad", "x*2", "x=nan"], ["'x'", "finite"]),
        (["grad", "x*2", "x=1", "x=2"], ["'x' is given twice", "x=1 and x=2"]),
        (["train", "xor", "--l2", "nan"], ["--l2", "finite"]),
        (["train", "xor", "--l2", "inf"], ["--l2", "finite"]),
        (["train", "xor", "--l2", "-1"], ["--l2", ">= 0"]),
        (["train", "xor", "--lr", "inf"], ["--lr", "finite"]),
        (["train", "xor", "--momentum", "nan"], ["--momentum"]),
        (["train", "xor", "--momentum", "1"], ["--momentum", "[0, 1)"]),
        (["train", "moons", "--noise", "nan"], ["--noise"]),
        (["train", "xor", "--noise", "0.2"], ["--noise", "only moons"]),
        (["train", "digits", "--noise", "0.2"], ["--noise", "only moons"]),
        (["train", "xor", "--samples", "50"], ["--samples", "xor has no samples"]),
        (["train", "xor", "--seed", "-1"], ["--seed", "[0, 4294967295]"]),
        (["verify", "--seed", "99999999999"], ["--seed"]),
        (["train", "xor", "--hidden", "10000000"], ["--hidden", "parameters"]),
        (["train", "moons", "--samples", "1e9"], ["--samples", "integer"]),
        (["train", "moons", "--samples", "1000000000"], ["--samples", "100000"]),
        (["train", "moons", "--samples", "100000", "--hidden", "64,64"], ["--batch-size", "GiB"]),
        (["train", "digits", "--samples", "5000"], ["--samples", "1437"]),
        (["train", "xor", "--epochs", "1000000000000"], ["--epochs"]),
        (["verify", "--sizes", "100000,100000"], ["--sizes", "parameters"]),
        (["demo", "--iterations", "1000000000000"], ["--iterations"]),
        (["grad", "x", "x=1", "--precision", "1000000000"], ["--precision", "[1, 17]"]),
        (["train", "xor", "--plot", "boundary.bmp"], ["--plot", ".png", ".svg"]),
        (["train", "xor", "--plot", "boundary"], ["--plot"]),
        (["train", "digits", "--loss", "binary_cross_entropy"], ["binary_cross_entropy", "10"]),
        (["train", "digits", "--loss", "hinge"], ["hinge", "cross_entropy"]),
    ],
)
def test_misuse_is_refused_in_one_line_naming_the_option(capsys, tmp_path, args, words) -> None:
    os.chdir(tmp_path)
    assert_one_line_error(*call(capsys, *args)[::2], *words)
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


def test_json_output_is_strict_json_with_a_note_for_non_finite_numbers(capsys) -> None:
    status, out, _ = call(capsys, "grad", "sqrt(x)*y", "x=0", "y=2", "--json")
    doc = strict_loads(out)
    assert status == 0 and doc["gradients"]["x"] is None and doc["gradients"]["y"] == 0.0
    assert doc["non_finite"] == {"gradients.x": "inf"}


def test_every_json_output_parses_strictly(capsys, tmp_path) -> None:
    runs = [
        ["demo", "--json", "--iterations", "3", "--out", str(tmp_path)],
        ["grad", "relu(x)*log(y)", "x=0", "y=2", "--json", "--check", "--explain", "x"],
        ["train", "xor", "--hidden", "3", "--epochs", "2", "--json"],
        ["train", "moons", "--lr", "1e200", "--activation", "relu", "--epochs", "3", "--json"],
        ["verify", "--json"],
    ]
    for args in runs:
        status, out, err = call(capsys, *args)
        assert status in (0, 1), err
        assert isinstance(strict_loads(out), dict)


def test_grad_check_json_exits_1_when_the_check_fails(capsys) -> None:
    status, out, _ = call(capsys, "grad", "relu(x)", "x=0", "--check", "--json")
    assert status == 1 and strict_loads(out)["check"]["passed"] is False
    status, out, _ = call(capsys, "grad", "x*x", "x=3", "--check", "--json")
    assert status == 0 and strict_loads(out)["check"]["passed"] is True


def test_grad_check_at_the_edge_of_the_domain_says_so(capsys) -> None:
    status, out, err = call(capsys, "grad", "sqrt(x)", "x=0", "--check")
    assert status == 1 and err == "", err
    assert "x = 0 is at the edge of the domain" in out and "x − 1e-06" in out
    assert "-1e-06" not in out  # no operand the user never typed
    status, out, _ = call(capsys, "grad", "sqrt(x)", "x=0", "--check", "--json")
    (row,) = strict_loads(out)["check"]["inputs"]
    assert status == 1 and row["numeric"] is None and "edge of the domain" in row["note"]


def test_train_load_prints_the_loaded_model_and_refuses_architecture_options(
    capsys, tmp_path
) -> None:
    model = str(tmp_path / "small.json")
    args = ["train", "xor", "--hidden", "3", "--activation", "relu", "--epochs", "2"]
    assert call(capsys, *args, "--save", model)[0] == 0
    status, out, err = call(capsys, "train", "xor", "--load", model, "--epochs", "1")
    assert status == 0, err
    assert "MLP(2, [3, 1]) (relu, sigmoid)" in out and "16" not in out.splitlines()[0]
    doc = strict_loads(call(capsys, "train", "xor", "--load", model, "--epochs", "1", "--json")[1])
    assert doc["hidden"] == [3] and doc["model"] == "MLP(2, [3, 1]) (relu, sigmoid)"
    for option, value in (("--hidden", "4"), ("--activation", "tanh"), ("--init", "normal")):
        status, _, err = call(capsys, "train", "xor", "--load", model, option, value)
        assert_one_line_error(status, err, "--load", option)
    status, _, err = call(capsys, "train", "xor", "--load", model, "--loss", "cross_entropy")
    assert_one_line_error(status, err, "--load", "MLP(2, [3, 1])", "2 linear output")


def test_train_that_diverges_exits_1_and_saves_nothing(capsys, tmp_path) -> None:
    saved = tmp_path / "m.json"
    status, out, err = call(capsys, "train", "moons", "--lr", "1e200", "--activation", "relu",
                            "--epochs", "3", "--save", str(saved))  # fmt: skip
    assert status == 1 and "diverged" in err and len(err.strip().splitlines()) == 1
    assert not saved.exists()


@pytest.mark.parametrize(
    "suffix, magic",
    [
        (".png", b"\x89PNG"),
        (".svg", b"<?xml"),
        (".pdf", b"%PDF"),
        (".jpg", b"\xff\xd8\xff"),
        (".JPEG", b"\xff\xd8\xff"),
    ],  # fmt: skip
)
def test_train_plot_writes_the_format_its_extension_names(capsys, tmp_path, suffix, magic):
    path = tmp_path / f"plot{suffix}"
    status, _, err = call(capsys, "train", "xor", "--hidden", "3", "--epochs", "2",
                          "--plot", str(path))  # fmt: skip
    assert status == 0, err
    assert path.read_bytes().startswith(magic)


TRAINABLE = {
    ("xor", "half_sse"), ("xor", "mse"), ("xor", "binary_cross_entropy"),
    ("xor", "cross_entropy"), ("xor", "hinge"),
    ("moons", "half_sse"), ("moons", "mse"), ("moons", "binary_cross_entropy"),
    ("moons", "cross_entropy"), ("moons", "hinge"),
    ("digits", "half_sse"), ("digits", "mse"), ("digits", "cross_entropy"),
}  # fmt: skip


@pytest.mark.parametrize("dataset", ["xor", "moons", "digits"])
@pytest.mark.parametrize("loss", ["half_sse", "mse", "binary_cross_entropy", "cross_entropy",
                                  "hinge"])  # fmt: skip
def test_every_dataset_and_loss_pair_trains_or_is_refused(capsys, tmp_path, dataset, loss):
    epochs = {"xor": "300", "moons": "15", "digits": "10"}[dataset]  # xor: 4 examples a step
    args = ["train", dataset, "--loss", loss, "--hidden", "8", "--epochs", epochs, "--lr", "0.5",
            "--json"] + ([] if dataset == "xor" else ["--samples", "60"])  # fmt: skip
    if dataset != "digits":
        args += ["--plot", str(tmp_path / "b.png")]
    status, out, err = call(capsys, *args)
    if (dataset, loss) not in TRAINABLE:
        assert_one_line_error(status, err, loss, "digits")
        return
    assert status == 0, err
    doc = strict_loads(out)
    losses = doc["history"]["loss"]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert 0.0 <= doc["train_accuracy"] <= 1.0
    if dataset == "xor":
        assert doc["train_accuracy"] == 1.0
