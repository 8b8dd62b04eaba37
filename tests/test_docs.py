"""Every Python block in README.md and docs/*.md runs; a ```text block right after one is
the output it must print."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "README.zh-CN.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "docs" / "zh").glob("*.md"))]  # the Chinese pages' blocks run too
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
    chinese = {c[0].relative_to(ROOT).as_posix() for c in CASES if "zh" in c[0].parts[-2:]
               or c[0].name == "README.zh-CN.md"}  # fmt: skip
    assert {"README.zh-CN.md", "docs/zh/index.md", "docs/zh/worked-example.md",
            "docs/zh/check.md"} <= chinese  # fmt: skip


@pytest.mark.parametrize(
    "page, k, code, expected", CASES,
    ids=[f"{c[0].relative_to(ROOT).as_posix()}:{c[1]}" for c in CASES]
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
    # plots of measured timings are made by `python -m benchmarks`, with the page they illustrate;
    # the playground's screenshots by scripts/make_playground_images.py (tests/serve/test_serve.py)
    shown = {name for name in shown if not name.startswith(("performance_", "playground"))}
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


def _mkdocs(config: Path, site: Path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "--site-dir",
         str(site)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_the_site_builds_strictly_with_code_blocks_and_links_in_the_api_page(tmp_path) -> None:
    pytest.importorskip("mkdocs")
    proc = _mkdocs(ROOT / "mkdocs.yml", tmp_path / "site")
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    # docstring examples are highlighted code blocks, Sphinx roles became links
    assert api.count('<div class="highlight">') >= 30
    assert ":class:" not in api and ":mod:" not in api and ":func:" not in api
    assert re.search(r'<a class="autorefs autorefs-internal" '
                     r'href="#autograd_bp\.core\.engine\.Value"',
                     api)  # fmt: skip
    assert "from autograd_bp import Value x = Value" not in re.sub(r"<[^>]+>", "", api)
    page = (tmp_path / "site" / "worked-example" / "index.html").read_text(encoding="utf-8")
    assert "glightbox" in page  # figures open full size


def test_a_warning_fails_the_docs_build(tmp_path) -> None:
    """The check above can fail: the same configuration, one dangling reference added."""
    pytest.importorskip("mkdocs")
    import shutil

    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    with open(tmp_path / "docs" / "index.md", "a", encoding="utf-8") as f:
        f.write("\nSee [nothing][autograd_bp.no_such_thing].\n")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = config.replace("docs_dir: docs", f"docs_dir: {tmp_path / 'docs'}")
    config = config.replace("paths: [.]", f"paths: [{ROOT}]")  # relative to the config file
    config = config.replace("- scripts/", f"- {ROOT / 'scripts'}/")
    (tmp_path / "mkdocs.yml").write_text(config, encoding="utf-8")
    proc = _mkdocs(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert proc.returncode != 0 and "no_such_thing" in proc.stderr


def test_the_api_page_lists_every_public_module() -> None:
    package = ROOT / "autograd_bp"
    public = {
        ".".join(p.relative_to(package).with_suffix("").parts)
        for p in package.rglob("*.py")
        if not any(part.startswith("_") for part in p.relative_to(package).parts)
    }
    public = {m for m in public if m.split(".")[0] != "cli"} - {"losses", "optim"}  # the
    # command is documented in cli.md; losses/optim are old import paths, aliases of nn's
    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^::: autograd_bp\.([\w.]+)", api, re.M))
    assert public - listed == set()


def test_the_architecture_page_lists_every_module_in_its_room() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    tree = page[page.index("## The tree"):page.index("## Who may import whom")]
    package = ROOT / "autograd_bp"
    for room in sorted(p for p in package.iterdir() if (p / "__init__.py").exists()):
        assert f"\n  {room.name}/ " in tree, f"{room.name}/ is not in the tree"
        for module in sorted(room.glob("*.py")):
            if module.name != "__init__.py":
                assert f"\n    {module.name} " in tree, f"{room.name}/{module.name} is not listed"
    for module in sorted(package.glob("*.py")):
        assert f"\n  {module.name} " in tree, f"{module.name} is not listed"
