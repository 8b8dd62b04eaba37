"""Every script in examples/ runs, with small settings, as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SMALL = {
    "quickstart.py": [],
    "xor.py": ["--epochs", "50"],
    "moons.py": ["--epochs", "3", "--out", "moons.png"],
    "digits.py": ["--epochs", "1", "--train-size", "200"],
    "transformer.py": ["--steps", "2"],
}


def test_every_example_has_small_settings() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_example_runs(name: str, tmp_path) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *SMALL[name]], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
    if name == "moons.py":
        assert (tmp_path / "moons.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("name, args, words", [
    ("xor.py", ["--epochs", "0"], "--epochs: must be at least 1, got 0"),
    ("moons.py", ["--epochs", "-1"], "--epochs: must be at least 1, got -1"),
    ("digits.py", ["--epochs", "0"], "--epochs: must be at least 1, got 0"),
    ("digits.py", ["--train-size", "-5"], "--train-size: must be at least 1, got -5"),
    ("transformer.py", ["--steps", "0"], "--steps: must be at least 1, got 0"),
])  # fmt: skip
def test_examples_refuse_counts_below_one_in_one_line(name, args, words, tmp_path) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 2 and words in proc.stderr
    assert "Traceback" not in proc.stderr and not proc.stdout
