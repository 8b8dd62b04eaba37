"""The codebase keeps the shape its readers rely on: short functions, one-way imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "autograd_bp"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_FUNCTION_LINES = 80


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_no_function_is_longer_than_80_lines(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{path.name}: {', '.join(long)}"


# Who may import whom (docs/engine.md): the core at the bottom, the command line on top.
LOWER = {
    "ops": set(),
    "grad_mode": set(),
    "walk": {"ops"},
    "engine": {"ops", "grad_mode", "walk"},
}


def _package_imports(path: Path) -> set[str]:
    """Modules of this package that ``path`` imports when it runs (module level or in functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {  # `if TYPE_CHECKING:` imports never run
        id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
        and "TYPE_CHECKING" in ast.unparse(block.test) for n in ast.walk(block)
    }  # fmt: skip
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and id(node) not in typing_only:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found |= {alias.name for alias in node.names}
    return found


@pytest.mark.parametrize("name", sorted(LOWER))
def test_the_core_imports_only_what_is_below_it(name: str) -> None:
    imports = _package_imports(PACKAGE / f"{name}.py") - {"graph"}  # Value.expr: a lazy import
    assert imports <= LOWER[name], f"{name} imports {sorted(imports - LOWER[name])}"


def test_nothing_imports_the_cli() -> None:
    offenders = [p.name for p in MODULES if p.name not in ("cli.py", "__main__.py")
                 and "cli" in _package_imports(p)]  # fmt: skip
    assert not offenders


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_no_module_imports_a_private_name_of_another(path: Path) -> None:
    private = [
        f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.level >= 1
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")  # not __version__
    ]
    assert not private, f"{path.name} imports {private}"
