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


MAX_MODULE_LINES = 600


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_no_module_is_longer_than_600_lines(path: Path) -> None:
    """Hand-written lines only: core/node.py's op methods between its BEGIN and END lines are
    rendered from the op table (core/methods.py; a test checks they equal the rendering),
    written out as source so that mypyc compiles them with the node."""
    text = path.read_text(encoding="utf-8")
    if path.name == "node.py" and path.parent.name == "core":
        from autograd_bp.core.methods import BEGIN, END

        head, rest = text.split(BEGIN)
        text = head + rest.split(END)[1]
    n = text.count("\n")
    assert n <= MAX_MODULE_LINES, f"{path.name}: {n} lines"


# Who may import whom (docs/architecture.md): rooms by concept, imports pointing down.
ROOMS_BELOW = {
    "_io": set(),
    "locale": set(),  # the message catalogs: any room above core may speak the learner's language
    "core": set(),
    "lang": {"locale", "core", "_io"},
    "compiled": {"locale", "core"},
    "nn": {"locale", "core", "compiled", "_io"},
    "show": {"locale", "core", "lang", "_io"},
    "textbook": {"locale", "core", "nn", "show"},
    "check": {"locale", "core", "lang", "nn", "show", "textbook"},
    "reports": {"locale", "core", "lang", "show", "check", "textbook"},
    "serve": {"locale", "core", "lang", "show", "reports", "textbook", "_io"},
    "cli": {
        "locale", "core", "lang", "nn", "show", "check", "textbook", "reports", "serve", "_io", "",
    },
    "losses": {"nn"},
    "optim": {"nn"},
    "__main__": {"cli"},
    "": {"core", "lang", "compiled"},  # the package's face: autograd_bp/__init__.py
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _room(module: str) -> str:
    return module.split(".")[0]


def _package_imports(path: Path) -> set[str]:
    """Modules of this package that ``path`` imports when it runs (module level or in
    functions), as dotted names under the package ("core.engine", "" for the face)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {  # `if TYPE_CHECKING:` imports never run
        id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
        and "TYPE_CHECKING" in ast.unparse(block.test) for n in ast.walk(block)
    }  # fmt: skip
    here = _module_name(path).split(".") if _module_name(path) else []
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom) or node.level == 0 or id(node) in typing_only:
            continue
        base = package[: len(package) - (node.level - 1)]
        target = [*base, *(node.module.split(".") if node.module else [])]
        if node.module:
            found.add(".".join(target))
        else:  # from . import a, b: each may be a module of that package
            for alias in node.names:
                sub = PACKAGE.joinpath(*target, alias.name)
                found.add(".".join([*target, alias.name]) if sub.with_suffix(".py").exists()
                          or sub.is_dir() else ".".join(target))  # fmt: skip
    return found


@pytest.mark.parametrize("path", MODULES, ids=[_module_name(p) or "__init__" for p in MODULES])
def test_every_import_points_down_to_a_room_below(path: Path) -> None:
    room = _room(_module_name(path))
    upward = sorted(m for m in _package_imports(path)
                    if _room(m) != room and _room(m) not in ROOMS_BELOW[room])  # fmt: skip
    assert not upward, f"{_module_name(path)} (room {room!r}) imports {upward}"


def test_the_rooms_themselves_form_no_cycle() -> None:
    seen: dict[str, int] = {}

    def visit(room: str, trail: tuple[str, ...]) -> None:
        assert room not in trail, f"rooms import each other in a cycle: {trail + (room,)}"
        for below in ROOMS_BELOW[room]:
            visit(below, trail + (room,))
        seen[room] = 1

    for room in ROOMS_BELOW:
        visit(room, ())


def test_nothing_imports_the_cli() -> None:
    offenders = [p.name for p in MODULES if p.name not in ("cli.py", "__main__.py")
                 and "cli" in _package_imports(p)]  # fmt: skip
    assert not offenders


# gettext's public names, private-looking by a convention older than this package
GETTEXT_NAMES = {"_", "N_"}


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_no_module_imports_a_private_name_of_another(path: Path) -> None:
    private = [
        f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.level >= 1
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")  # not __version__
        and alias.name not in GETTEXT_NAMES
    ]
    assert not private, f"{path.name} imports {private}"


def test_no_modules_import_each_other_in_a_cycle() -> None:
    """No module of the package reaches itself through its imports — lazy imports inside
    functions count (they are cycles a reader must untangle all the same); ``if
    TYPE_CHECKING:`` imports do not (they never run)."""
    graph = {_module_name(p): _package_imports(p) for p in MODULES}
    done: set[str] = set()

    def visit(module: str, trail: tuple[str, ...]) -> None:
        if module in trail:
            cycle = trail[trail.index(module):] + (module,)
            raise AssertionError("import cycle: " + " -> ".join(m or "autograd_bp" for m in cycle))
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            visit(imported, trail + (module,))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())
