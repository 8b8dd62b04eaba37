"""The benchmark harness works end to end (a smoke test: no speed is asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_runs_and_writes_its_report(tmp_path) -> None:
    out = tmp_path / "performance.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    for row in ("chain 1,000 steps: total", "random DAG", "MLP(2, [16, 16, 1]) step",
                "digits MLP(64, [32, 10]) epoch", "bytes per node", "| 16 | 256 |",
                "µs per op", "autograd_bp compiled (`compile`, batch of 1)",
                "| transformer, 1 step |", "MLP(2, [16, 16, 1]) step, collector on",
                "chain 10,000 steps: total, collector on", "hidden-layer matmul alone",
                "Against micrograd as programs run it", "A quick run (`--quick`)",
                "judged on the *collector on* rows", "judged on *compiled / torch*"):  # fmt: skip
        assert row in text, row
    assert (tmp_path / "images" / "performance_scaling.png").read_bytes().startswith(b"\x89PNG")
    assert "![time per step against batch size, log-log](images/performance_scaling.png)" in text
    assert '"machine"' in text and '"python"' in text
    assert "✗" not in text  # the gradient agreement checks all passed


def test_transformer_engines_agree_on_the_losses() -> None:
    """The transformer row's premise: the same model on micrograd's design gives our losses."""
    pytest = __import__("pytest")
    pytest.importorskip("micrograd")
    sys.path.insert(0, str(ROOT))
    from benchmarks import engines as E
    from benchmarks.__main__ import in_big_stack

    ours = E.transformer_ours(2)
    theirs = in_big_stack(lambda: E.transformer_micrograd(2), 1_000_000)
    assert len(ours) == 2 and all(abs(a - b) <= 1e-9 * abs(a) for a, b in zip(ours, theirs))


def test_unknown_sections_are_refused() -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "chain,nope"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 2 and "unknown section(s) nope" in proc.stderr


def test_bad_repetitions_and_an_empty_selection_are_refused() -> None:
    for args, words in ((["--reps", "0"], "--reps: must be at least 1, got 0"),
                        (["--reps", "-3"], "--reps: must be at least 1, got -3"),
                        (["--only", ","], "--only: no section named")):  # fmt: skip
        proc = subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 2 and words in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_a_partial_run_prints_and_leaves_the_published_report_alone() -> None:
    report = ROOT / "docs" / "performance.md"
    before = report.read_bytes()
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "mlp", "--reps", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "MLP(2, [16, 16, 1]) step" in proc.stdout and "written:" not in proc.stderr
    assert report.read_bytes() == before


def test_a_section_run_alone_is_reported() -> None:
    """``--only random_graph`` or ``--only transformer`` prints its own table (each used to
    appear only when the other was run too)."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.__main__ import page

    machine = {"blas": {"numpy": None, "torch": None}}
    graph = {"ops": 1000, "examples": 3, "max_rel_grad_diff": 1e-15,
             "seconds_per_op": {"dynamic": 6e-7, "compiled": 3e-7}}  # fmt: skip
    transformer = {"steps": 2, "seconds": {"autograd_bp": 0.1, "micrograd": 0.7},
                   "max_rel_loss_diff": {"micrograd": 0.0}}  # fmt: skip
    alone = page({"machine": machine, "quick": True, "random_graph": graph}, None)
    assert "µs per op" in alone and "transformer" not in alone.split("```json")[0]
    alone = page({"machine": machine, "quick": True, "transformer": transformer}, None)
    assert "| transformer, 2 steps |" in alone and "µs per op" not in alone
