"""The Chinese catalog: every string the package marks for a learner is translated, every
translation keeps its placeholders, and the committed .mo is what the .po compiles to."""

from __future__ import annotations

import io
import string
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

import autograd_bp.locale as locale
from autograd_bp.locale import LanguageError, _, language, ngettext, use_language

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "autograd_bp" / "locale" / "zh" / "LC_MESSAGES" / "autograd_bp.po"


def extracted() -> dict[str | tuple[str, ...], str]:
    """Every msgid Babel's extraction finds, as `make messages` runs it (babel.cfg)."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str | tuple[str, ...], str] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        found[message] = filename
    return found


def zh_catalog():
    with open(CATALOG, "rb") as f:
        return read_po(f)


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_extraction_finds_the_learner_facing_strings() -> None:
    found = extracted()
    assert len(found) > 150  # the check, demo, explain, exercise and CLI texts
    assert "✓ correct" in found and "{prog}: error: {message}" in found
    assert ("You have the path {have}", "You have the paths {have}") in found


def test_every_extracted_string_has_a_chinese_translation() -> None:
    catalog = zh_catalog()
    untranslated = []
    for msgid, filename in extracted().items():
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        entry = catalog.get(key)
        strings = [] if entry is None else (
            list(entry.string) if isinstance(entry.string, (tuple, list)) else [entry.string])
        if entry is None or entry.fuzzy or not strings or not all(s.strip() for s in strings):
            untranslated.append(f"{filename}: {msgid!r}")
    assert not untranslated, "no Chinese for (run `make messages`, translate the .po):\n" + \
        "\n".join(untranslated)  # fmt: skip


def test_every_translation_keeps_its_placeholders_and_says_it_in_chinese() -> None:
    for entry in zh_catalog():
        if not entry.id:
            continue
        ids = [entry.id] if isinstance(entry.id, str) else list(entry.id)
        strings = [entry.string] if isinstance(entry.string, str) else list(entry.string)
        wanted = set().union(*(fields(i) for i in ids))
        for s in strings:
            assert fields(s) == wanted, (entry.id, s)  # a lost {name} would be a KeyError
        literal = "".join(text for text, _, _, _ in string.Formatter().parse(ids[0]))
        if sum(c.isalpha() and c.isascii() for c in literal) > 3:  # words, not only {names}
            assert any("\u4e00" <= c <= "\u9fff" for c in strings[0]), entry.id


def test_the_committed_mo_is_the_compiled_po() -> None:
    compiled = io.BytesIO()
    write_mo(compiled, zh_catalog())
    assert (CATALOG.with_suffix(".mo")).read_bytes() == compiled.getvalue(), (
        "stale autograd_bp.mo: run `make messages`")


def test_english_is_the_source_text_and_chinese_comes_from_the_catalog() -> None:
    with use_language("en"):
        assert _("✓ correct") == "✓ correct"
        assert ngettext("{count} path from {output} to {wrt}",
                        "{count} paths from {output} to {wrt}", 2) == \
            "{count} paths from {output} to {wrt}"  # fmt: skip
    with use_language("zh_CN.UTF-8"):
        assert language() == "zh"
        assert _("✓ correct") == "✓ 正确"
        assert _("a text no catalog has") == "a text no catalog has"


def test_a_language_without_a_catalog_is_an_error_not_english(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(locale, "LOCALE_DIR", tmp_path)
    with pytest.raises(LanguageError, match="no compiled catalog"):
        locale.translations.__wrapped__("zh")
    with pytest.raises(LanguageError, match="choose one of: en, zh"):
        locale.normalize("fr")


def test_the_environment_chooses_the_language_and_a_bad_one_is_named(
        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("AUTOGRAD_BP_LANG", "zh")
    assert language() == "zh" and _("✗ wrong") == "✗ 错误"
    with use_language("en"):  # --lang en wins over the environment
        assert _("✗ wrong") == "✗ wrong"
    monkeypatch.setenv("AUTOGRAD_BP_LANG", "klingon")
    with pytest.raises(LanguageError, match="'klingon' is not available"):
        language()
