"""``autograd-bp demo --example FILE`` end to end, through a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "worked"
NIELSEN = str(EXAMPLES / "nielsen-2-3-2.toml")


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONIOENCODING="utf-8",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))  # fmt: skip
    return subprocess.run([sys.executable, "-m", "autograd_bp", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=env)  # fmt: skip


def one_line_error(proc: subprocess.CompletedProcess, *words: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autograd-bp: error:"), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def test_text_report_in_nielsens_names_with_diagrams_only_where_asked(tmp_path) -> None:
    proc = run("demo", "--example", NIELSEN, "--out", str(tmp_path / "figs"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for text in ("Forward pass:", "z2_1", "a3_2", "∂E_total/∂w2_1_1: 2 paths", "BP1  δ3",
                 "BP2  δ2", "w3_2_3⁺", "sequential    E after 1 update"):  # fmt: skip
        assert text in out, text
    assert "✗" not in out
    assert (tmp_path / "figs" / "network.svg").is_file()
    assert (tmp_path / "figs" / "neurons.svg").is_file()
    assert not (tmp_path / "demo_out").exists()


@pytest.mark.parametrize("example", [None, NIELSEN])
def test_json_writes_no_files_unless_out_is_given(tmp_path, example) -> None:
    args = ["demo", "--json", "--iterations", "3"] + (["--example", example] if example else [])
    proc = run(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"results", "comparison", "files"}
    assert doc["files"] == {"notes": []} and list(tmp_path.iterdir()) == []


def test_json_results_and_comparison_for_mazurs_file(tmp_path) -> None:
    mazur = (EXAMPLES / "mazur.toml").read_text().replace("iterations = 10000", "iterations = 4")
    path = tmp_path / "m.toml"
    path.write_text(mazur + '"gradients.w8" = "0.0227"\n')  # wrong sign: ✗
    proc = run("demo", "--example", str(path), "--json", "--schedule", "sequential")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    r = doc["results"]
    assert round(r["gradients.w5"], 9) == 0.082167041
    assert r["chain.w1.dnet_h1_dw1"] == 0.05 and r["settings.schedule"] == "sequential"
    assert r["chain.dnet_o1_dout_h1"] == 0.40 and r["chain.dnet_o2_dout_h2"] == 0.55  # w5, w8
    assert r["updated.w1"] == r["updated.sequential.w1"]
    status = {row["quantity"]: row["status"] for row in doc["comparison"]}
    assert status["gradients.w5"] == "✓" and status["gradients.w8"].startswith("✗")
    assert status["after_training.sequential.E"].startswith("✗")  # 4 updates, not 10,000
    assert status["updated.simultaneous.w1"] == "✓"


@pytest.mark.parametrize("fmt, marker", [("latex", "\\begin{align*}"), ("markdown", "$$")])
def test_answer_key_formats(tmp_path, fmt, marker) -> None:
    proc = run("demo", "--example", NIELSEN, "--format", fmt, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert marker in proc.stdout and "w^{3}_{23}" in proc.stdout
    assert list(tmp_path.iterdir()) == []


def test_malformed_files_get_one_line_naming_file_and_key(tmp_path) -> None:
    good = Path(NIELSEN).read_text()
    cases = {
        "nan.toml": (good.replace("0.44", "nan"), "parameters.weights[0][1][0]"),
        "syntax.toml": (good.replace("sizes = [2, 3, 2]", "sizes = [2, 3"), "not valid TOML"),
        "act.toml": (good.replace('"tanh"', '"swish"'), "network.activation: expected one of"),
        "missing.toml": (good.replace("inputs = [0.5, -0.3]", ""), "data.inputs: missing key"),
    }
    for name, (text, words) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        one_line_error(run("demo", "--example", str(path)), str(path), words)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe title")
    one_line_error(run("demo", "--example", str(binary)), "not UTF-8")
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 300_000)
    one_line_error(run("demo", "--example", str(big)), str(big))


def test_a_directory_a_fifo_and_a_missing_file_are_refused(tmp_path) -> None:
    one_line_error(run("demo", "--example", str(tmp_path)), "directory")
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    one_line_error(run("demo", "--example", str(fifo)), "FIFO")
    one_line_error(run("demo", "--example", str(tmp_path / "none.toml")), "none.toml")


def test_options_without_an_example_and_out_of_range(tmp_path) -> None:
    one_line_error(run("demo", "--format", "latex"), "--example")
    one_line_error(run("demo", "--example", NIELSEN, "--iterations", "200000"), "100,000")
    published = tmp_path / "p.toml"
    published.write_text(Path(NIELSEN).read_text() + '[published]\n"gradients.w9_9_9" = 1.0\n')
    one_line_error(run("demo", "--example", str(published)), "published.gradients.w9_9_9")
