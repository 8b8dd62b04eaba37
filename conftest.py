"""Collection rules for the whole repository (tests/conftest.py has the fixtures)."""

from __future__ import annotations

from pathlib import Path

from autograd_bp.core import COMPILED

NODE_SOURCE = Path(__file__).resolve().parent / "autograd_bp" / "core" / "node.py"


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    # Compiled, autograd_bp.core.node is the extension module, which --doctest-modules cannot
    # import from node.py's path; tests/core/test_cores.py runs node.py's examples on it.
    if COMPILED and collection_path == NODE_SOURCE:
        return True
    return None
