"""Rewrite each ```text block that follows a ```python block in README.md, README.zh-CN.md,
docs/*.md and docs/zh/*.md with what that code prints now. The test suite
(tests/test_docs.py) fails when they differ, so run this after changing an example, then
read the diff.

Usage: python scripts/refresh_doc_outputs.py
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAIR = re.compile(r"(```python\n(.*?)```\n\n```text\n)(.*?)(```)", re.S)


@contextlib.contextmanager
def op_table_restored() -> Iterator[None]:
    """Undo what a block adds to the op table (``ops.register``: the rule and its Value
    methods), so one page's example op does not show up on another page."""
    from autograd_bp.core.engine import Value
    from autograd_bp.core.ops import RULES

    rules, methods = dict(RULES), set(vars(Value))
    try:
        yield
    finally:
        RULES.clear()
        RULES.update(rules)
        for name in set(vars(Value)) - methods:
            delattr(Value, name)


def run(code: str, name: str) -> str:
    buffer = io.StringIO()
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch, op_table_restored():
        os.chdir(scratch)
        try:
            with contextlib.redirect_stdout(buffer):
                exec(compile(code, name, "exec"), {"__name__": "__doc_block__"})
        finally:
            os.chdir(cwd)
    return buffer.getvalue()


def main() -> None:
    docs = ROOT / "docs"
    for page in [ROOT / "README.md", ROOT / "README.zh-CN.md", *sorted(docs.glob("*.md")),
                 *sorted((docs / "zh").glob("*.md"))]:  # fmt: skip
        text = page.read_text(encoding="utf-8")
        name = page.name
        new = PAIR.sub(lambda m, name=name: m.group(1) + run(m.group(2), name) + m.group(4), text)
        if new != text:
            page.write_text(new, encoding="utf-8")
            print(f"updated {page.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
