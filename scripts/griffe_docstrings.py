"""A Griffe extension for the API reference (mkdocs.yml loads it through mkdocstrings).

The package's docstrings are written for ``help()`` and doctest: an ``Example:`` section of
``>>>`` lines and Sphinx roles such as :class:`Value`. mkdocstrings' Google parser knows only
``Examples:`` (plural) as code, and shows roles literally. This extension, run once on the
loaded package, rewrites them for the site:

* ``Example:`` -> ``Examples:``, so doctests render as highlighted code blocks (and their
  output, e.g. ``[0.5, 0.5]``, is no longer read as a Markdown cross-reference);
* ``:class:`Name``` (also ``:func:``, ``:mod:``, ``:data:``, ``:meth:``, ``:attr:``) ->
  ``[Name][full.path]``, an autorefs link, when the target is shown on the API page;
  otherwise inline code, so the strict build never meets a dangling reference.

The source files are not touched.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

API_PAGE = Path(__file__).resolve().parent.parent / "docs" / "api.md"
ROLE = re.compile(r":(?:class|func|mod|data|meth|attr|exc|obj):`~?([^`]+)`")
EXAMPLE = re.compile(r"^(\s*)Example:[ \t]*$", re.M)


def _documented_modules() -> set[str]:
    """The modules docs/api.md renders (its ``::: module`` lines)."""
    text = API_PAGE.read_text(encoding="utf-8") if API_PAGE.exists() else ""
    return set(re.findall(r"^:::\s*(\S+)", text, re.M))


def _shown(obj: Any, modules: set[str]) -> bool:
    """Whether the API page has an anchor for ``obj``: a rendered module, or a public,
    documented member of one."""
    path = obj.path
    if path in modules:
        return True
    module = next((m for m in modules if path.startswith(m + ".")), None)
    if module is None:
        return False
    rest = path[len(module) + 1 :].split(".")
    return not any(p.startswith("_") for p in rest) and bool(obj.docstring)


class DocstringsForMkdocs(griffe.Extension):
    """Rewrite every docstring of the package as described in the module docstring."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        modules = _documented_modules()
        for obj in _walk(pkg):
            if obj.docstring is not None:
                text = EXAMPLE.sub(r"\1Examples:", obj.docstring.value)
                link = lambda m, scope=obj: _link(scope, m.group(1), modules)
                obj.docstring.value = ROLE.sub(link, text)


def _walk(obj: griffe.Object):
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)


def _resolve(scope: griffe.Object, name: str) -> griffe.Object | None:
    """``name`` as Python would see it from ``scope``'s module, or as a full path."""
    name = name.lstrip(".")
    candidates = [scope, *_parents(scope)]
    for base in candidates:
        try:
            found = base[name]
        except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            continue
        try:
            return found.final_target if found.is_alias else found
        except (griffe.AliasResolutionError, griffe.CyclicAliasError):
            continue
    root = scope.package
    try:
        found = root[name.removeprefix(root.name + ".")] if name != root.name else root
        return found.final_target if found.is_alias else found
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _parents(obj: griffe.Object):
    while obj.parent is not None:
        obj = obj.parent
        yield obj


def _link(scope: griffe.Object, name: str, modules: set[str]) -> str:
    target = _resolve(scope, name)
    short = name.rsplit(".", 1)[-1] if name.startswith(".") else name
    if target is None or not _shown(target, modules):
        return f"`{short}`"
    return f"[`{short}`][{target.path}]"
