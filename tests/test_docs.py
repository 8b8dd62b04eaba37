"""Every Python block in README.md and docs/*.md runs; a ```text block right after one is
the output it must print."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def blocks(page: Path) -> list[tuple[str, str | None]]:
    """(python code, expected output or None) for each python block of a page."""
    found = BLOCK.findall(page.read_text(encoding="utf-8"))
    out = []
    for i, (lang, body) in enumerate(found):
        if lang == "python":
            nxt = found[i + 1] if i + 1 < len(found) else None
            out.append((body, nxt[1] if nxt and nxt[0] == "text" else None))
    return out


CASES = [(page, k, code, expected) for page in PAGES for k, (code, expected) in
         enumerate(blocks(page))]  # fmt: skip


def test_there_are_documented_examples() -> None:
    assert len(CASES) >= 5


@pytest.mark.parametrize(
    "page, k, code, expected", CASES, ids=[f"{c[0].name}:{c[1]}" for c in CASES]
)
def test_doc_block_runs_and_prints_what_the_page_shows(page, k, code, expected, tmp_path,
                                                       monkeypatch) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)  # files a block writes land in a scratch directory
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), _refresh_script().op_table_restored():
        exec(compile(code, f"{page.name}[{k}]", "exec"), {"__name__": "__doc_block__"})
    if expected is not None:
        assert buffer.getvalue().strip() == expected.strip()


def _refresh_script():
    """scripts/refresh_doc_outputs.py as a module (it runs the blocks the same way)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "refresh_doc_outputs", ROOT / "scripts" / "refresh_doc_outputs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_image_the_docs_show_is_made_by_the_script(tmp_path) -> None:
    import importlib.util
    import shutil

    if shutil.which("dot") is None:
        pytest.skip("needs Graphviz's dot (CI installs it)")
    spec = importlib.util.spec_from_file_location(
        "make_doc_images", ROOT / "scripts" / "make_doc_images.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = {p.relative_to(tmp_path).as_posix() for p in module.main(tmp_path)}
    shown = set()
    for page in PAGES:
        shown |= set(re.findall(r"\]\(images/([^)]+)\)", page.read_text(encoding="utf-8")))
    assert shown and shown <= made, shown - made
    for name in made:  # and the committed copies exist
        assert (ROOT / "docs" / "images" / name).exists(), name


def test_the_site_renders_maths_with_the_katex_it_ships() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert "pymdownx.arithmatex" in config and "generic: true" in config
    assets = re.findall(r"^\s+- (assets/\S+)$", config, re.M)
    assert {"assets/katex/katex.min.js", "assets/katex/katex.min.css"} <= set(assets)
    for asset in assets:
        assert (ROOT / "docs" / asset).is_file(), asset  # shipped, no CDN
    css = (ROOT / "docs" / "assets" / "katex" / "katex.min.css").read_text(encoding="utf-8")
    for font in set(re.findall(r"url\((fonts/[^)]+\.woff2)\)", css)):
        assert (ROOT / "docs" / "assets" / "katex" / font).is_file(), font
