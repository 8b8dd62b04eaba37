"""The "web" gettext domain: every text the playground, the ``steps`` page and the Jupyter
widget show, extracted with Babel and kept in autograd_bp/locale/<lang>/LC_MESSAGES/web.po
(compiled to web.mo, which the server and the pages read through
:func:`autograd_bp.locale.catalog`).

Where the texts are:

- JavaScript (serve/static/*.js): ``t("…")`` calls, Babel's ``javascript`` extractor (template
  strings parsed too);
- HTML (serve/static/*.html): elements marked ``data-t`` (the msgid is the element's inner
  HTML with whitespace squashed, as stepper.js's ``translatePage`` reads it in the browser,
  or the ``data-t`` value when it names a message with ``{slots}``), and the attributes an
  element lists in ``data-t-attr``; extracted by :func:`extract_html` below;
- Python (serve/data.py): the preset names, marked ``_page("…")``.

    python scripts/web_messages.py          # add new msgids to each .po, compile the .mo
    python scripts/web_messages.py --check  # exit 1 naming every msgid without a translation
"""

from __future__ import annotations

import html
import io
import re
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "autograd_bp" / "serve" / "static"
LOCALE = ROOT / "autograd_bp" / "locale"
DOMAIN = "web"
TRANSLATED = ("zh",)
VOID = {"br", "img", "input", "meta", "link", "hr", "wbr"}


def squash(text: str) -> str:
    """Whitespace runs as one space, ends trimmed: the msgid the browser computes too."""
    return re.sub(r"\s+", " ", text).strip()


class _Marked(HTMLParser):
    """Collects (line, msgid) for data-t elements and data-t-attr attributes, rebuilding
    each data-t element's inner HTML as the browser serializes it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self.open: list[list] = []  # [tag, line, fixed msgid or None, parts, depth]

    def _emit(self, text: str) -> None:
        for frame in self.open:
            frame[3].append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        given = dict(attrs)
        for name in (given.get("data-t-attr") or "").split():
            self.found.append((self.getpos()[0], squash(given.get(name) or "")))
        shown = "".join(f' {k}="{html.escape(v or "", quote=True).replace("&#x27;", chr(39))}"'
                        for k, v in attrs)  # fmt: skip
        self._emit(f"<{tag}{shown}>")
        for frame in self.open:
            frame[4] += tag not in VOID
        if "data-t" in given:
            self.open.append([tag, self.getpos()[0], given["data-t"] or None, [], 0])

    def handle_endtag(self, tag: str) -> None:
        if self.open and self.open[-1][0] == tag and self.open[-1][4] == 0:
            _, line, fixed, parts, _ = self.open.pop()
            self.found.append((line, fixed or squash("".join(parts))))
        for frame in self.open:
            frame[4] -= 1
        self._emit(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        self._emit(html.escape(data, quote=False))


def extract_html(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    """Babel extraction method for the pages' HTML (see the module's docstring)."""
    parser = _Marked()
    parser.feed(fileobj.read().decode("utf-8"))
    parser.close()
    for line, msgid in parser.found:
        yield line, None, msgid, []


SOURCES = [  # (file, Babel method, keywords, options)
    (STATIC / "stepper.js", "javascript", {"t": None}, {"parse_template_string": True}),
    (STATIC / "playground.js", "javascript", {"t": None}, {"parse_template_string": True}),
    (STATIC / "index.html", extract_html, {}, {}),
    (STATIC / "steps.html", extract_html, {}, {}),
    (ROOT / "autograd_bp" / "serve" / "data.py", "python", {"_page": None}, {}),
]


def extracted():
    """A Babel template Catalog of every web-facing text, with where each was found."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract

    template = Catalog(project="autograd_bp", domain=DOMAIN)
    for path, method, keywords, options in SOURCES:
        where = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        with open(path, "rb") as f:
            for line, message, comments, _ in extract(method, f, keywords, options=options):
                template.add(message, locations=[(where, line)], auto_comments=comments)
    return template


def po_path(lang: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(lang: str):
    from babel.messages.pofile import read_po

    with open(po_path(lang), "rb") as f:
        return read_po(f, locale=lang, domain=DOMAIN)


def untranslated(lang: str) -> list[str]:
    """The msgids found in the sources that ``lang``'s .po does not translate."""
    po = read(lang)
    return [m.id for m in extracted() if m.id and not (po.get(m.id) and po.get(m.id).string)]


def update(lang: str) -> Path:
    """Merge the sources' msgids into ``lang``'s .po (obsolete ones dropped, no fuzzy guesses)
    and compile it into the .mo next to it."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import write_po

    po = read(lang) if po_path(lang).exists() else Catalog(locale=lang, domain=DOMAIN)
    created = po.creation_date  # kept: a run that changes no text changes no file
    po.update(extracted(), no_fuzzy_matching=True)
    po.obsolete.clear()
    po.creation_date, po.fuzzy = created, False  # translated by hand, reviewed
    buffer = io.BytesIO()
    write_po(buffer, po, width=100, omit_header=False, sort_output=False)
    po_path(lang).parent.mkdir(parents=True, exist_ok=True)
    po_path(lang).write_bytes(buffer.getvalue())
    with open(po_path(lang).with_suffix(".mo"), "wb") as f:
        write_mo(f, read(lang))
    return po_path(lang)


def main(argv: list[str]) -> int:
    if "--check" in argv:
        missing = {lang: untranslated(lang) for lang in TRANSLATED}
        for lang, ids in missing.items():
            for msgid in ids:
                print(f"{po_path(lang).relative_to(ROOT)}: no translation for {msgid!r}")
        return 1 if any(missing.values()) else 0
    for lang in TRANSLATED:
        print(update(lang))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
