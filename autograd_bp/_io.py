"""Small shared helpers: atomic file writes, strict JSON, and friendly errors for optional
extras."""

from __future__ import annotations

import importlib
import json
import math
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any


def _resolve_target(path: str | os.PathLike[str]) -> Path:
    """Where the bytes go: a symlink is followed (its target is replaced, the link stays)."""
    target = Path(path)
    if target.is_symlink():
        return Path(os.path.realpath(target))
    return target


def _new_temp_file(target: Path) -> Path:
    """Create an empty temporary file beside ``target`` with the mode a plain ``open``
    would give: 0o666 minus the umask (``mkstemp`` would give 0o600 whatever the umask)."""
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"cannot create a temporary file beside {str(target)!r}")


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    A crash half-way leaves the old file (or none), never a half-written one. The new
    file gets the old file's permission bits when it replaces one, else 0o666 minus the
    umask (0o644 under the usual 022), like any file a program creates. A symlink is
    written through: its target gets the new contents and the link stays a link.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> atomic_write(d / "a.txt", lambda tmp: tmp.write_text("hi")).read_text()
        'hi'
    """
    link = Path(path)
    target = _resolve_target(link)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temp_file(target)
    try:
        if target.exists():
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return link


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def strict_json(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None`` (JSON ``null``).

    JSON has no NaN or infinity: Python's ``json`` writes ``NaN``/``Infinity`` tokens that
    ``JSON.parse``, jq and most parsers reject or mangle. Callers that can meet such a
    number also say which keys were affected (see :func:`dumps_strict`).

    Example:
        >>> strict_json({"a": [1.0, float("inf")], "b": float("nan")})
        {'a': [1.0, None], 'b': None}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    return value


def non_finite_paths(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key path, "nan"/"inf"/"-inf") for every non-finite float inside ``value``.

    Example:
        >>> non_finite_paths({"g": {"x": float("-inf")}, "v": [0.0, float("nan")]})
        [('g.x', '-inf'), ('v.1', 'nan')]
    """
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(prefix, repr(value))]
    items: Any = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    found: list[tuple[str, str]] = []
    for key, item in items:
        found += non_finite_paths(item, f"{prefix}.{key}" if prefix else str(key))
    return found


def dumps_strict(doc: dict[str, Any]) -> str:
    """``doc`` as strict JSON (indent 1): non-finite numbers become ``null`` and a
    ``"non_finite"`` entry maps each such key path to ``"nan"``, ``"inf"`` or ``"-inf"``.

    Example:
        >>> print(dumps_strict({"value": float("inf")}))
        {
         "value": null,
         "non_finite": {
          "value": "inf"
         }
        }
    """
    bad = non_finite_paths(doc)
    out = strict_json(doc)
    if bad:
        out["non_finite"] = dict(bad)
    return json.dumps(out, indent=1, allow_nan=False)


def require(module: str, extra: str) -> ModuleType:
    """Import an optional dependency or say which extra installs it.

    Example:
        >>> require("math", "none").sqrt(4.0)
        2.0
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"{module} is needed for this; install it with: pip install 'autograd_bp[{extra}]'"
        ) from None
