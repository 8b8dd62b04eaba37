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
                "digits MLP(64, [32, 10]) epoch", "bytes per node"):  # fmt: skip
        assert row in text, row
    assert '"machine"' in text and '"python"' in text
    assert "✗" not in text  # the gradient agreement checks all passed
