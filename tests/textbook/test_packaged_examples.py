"""The shipped worked examples are package data: one file each, inside the package, which the
built-in demo reads; ``examples/worked`` in a checkout is a link to that folder, not a copy."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest
import tomllib

from autograd_bp.textbook import worked
from autograd_bp.textbook.example_file import EXAMPLES, parse_example

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "autograd_bp"


def test_the_examples_live_in_the_package_and_examples_worked_is_that_folder() -> None:
    assert EXAMPLES.parent == PACKAGE / "textbook"
    shipped = sorted(p.name for p in EXAMPLES.glob("*.toml"))
    assert shipped == ["mazur.toml", "nielsen-2-3-2.toml"]
    seen = ROOT / "examples" / "worked"
    assert seen.is_symlink() and seen.resolve() == EXAMPLES  # one file each, never two
    for name in shipped:
        assert (seen / name).samefile(EXAMPLES / name)
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = data["tool"]["setuptools"]["package-data"]["autograd_bp"]
    for name in shipped:  # the wheel carries every example
        rel = (EXAMPLES / name).relative_to(PACKAGE).as_posix()
        assert any(fnmatch(rel, g) for g in globs), rel


def test_the_built_in_demo_is_the_file_s_problem_and_its_printed_figures() -> None:
    ex = parse_example(worked.MAZUR_FILE.read_text(encoding="utf-8"))
    assert worked.MAZUR_FILE.parent == EXAMPLES
    flat = [w for layer in ex.weights for row in layer for w in row]
    assert list(worked.SEED_PARAMETERS.values()) == [*flat, *(b[0] for b in ex.biases)]
    assert (worked.SEED_INPUTS, worked.SEED_TARGETS) == (tuple(ex.inputs), tuple(ex.targets))
    assert (worked.SEED_LR, worked.SEED_ITERATIONS) == (ex.lr, ex.iterations)
    assert list(worked.PUBLISHED.values()) == list(ex.published.values())  # same order
    results = worked.compute(iterations=1)
    assert all(k in results or k.rsplit(".", 1)[0] in results
               for k in worked.PUBLISHED if not k.startswith("after_"))  # fmt: skip


@pytest.mark.skipif(importlib.util.find_spec("setuptools") is None,
                    reason="building the wheel offline needs setuptools installed")
def test_an_installed_package_runs_the_demo_from_its_own_copy(tmp_path) -> None:
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    wheels, target, elsewhere = tmp_path / "wheels", tmp_path / "site", tmp_path / "cwd"
    elsewhere.mkdir()
    built = subprocess.run([*pip, "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                            "-w", str(wheels)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, timeout=300)  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(target), PYTHONIOENCODING="utf-8")
    proc = subprocess.run([sys.executable, "-m", "autograd_bp", "demo", "--json",
                           "--iterations", "2"], cwd=elsewhere, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    where = subprocess.run([sys.executable, "-c", "import autograd_bp.textbook.worked as w; "
                            "print(w.MAZUR_FILE)"], cwd=elsewhere, env=env, text=True,
                           capture_output=True, check=True).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(target)  # the installed copy's file, not the checkout's
    assert json.loads(proc.stdout)["results"] == json.loads(
        json.dumps(worked.compute(iterations=2)))
