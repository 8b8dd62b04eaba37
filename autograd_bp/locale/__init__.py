"""Every text a learner reads, in their language: English by default, Chinese with
``--lang zh`` or ``AUTOGRAD_BP_LANG=zh``.

Messages are marked in the source with :func:`_` (or :func:`N_` where a constant is
defined, translated later where it is shown) and kept as gettext catalogs under
``autograd_bp/locale/<lang>/LC_MESSAGES/autograd_bp.po``, extracted and compiled with
Babel (``make messages``). Formulas and names (∂E/∂w5, w²₁₁, relu) are never translated.

The language is chosen per context (a thread, a request): :func:`use_language` sets it for
a block; otherwise ``AUTOGRAD_BP_LANG`` decides; otherwise English.

>>> with use_language("en"):
...     _("correct")
'correct'
>>> normalize("zh_CN.UTF-8")
'zh'
"""

from __future__ import annotations

import contextlib
import contextvars
import gettext as gettext_module
import os
import unicodedata
from collections.abc import Iterator
from functools import cache
from pathlib import Path

LANGUAGES = ("en", "zh")
DOMAIN = "autograd_bp"
LOCALE_DIR = Path(__file__).parent
ENVIRONMENT_VARIABLE = "AUTOGRAD_BP_LANG"

_chosen: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "autograd_bp_language", default=None
)


class LanguageError(ValueError):
    """A language this package has no catalog for.

    >>> normalize("fr")
    Traceback (most recent call last):
    ...
    autograd_bp.locale.LanguageError: language 'fr' is not available; choose one of: en, zh
    """


def normalize(name: str) -> str:
    """The catalog a language name means: ``zh``, ``zh_CN``, ``zh-Hans``, ``zh_CN.UTF-8``
    are all ``zh``; ``en_US`` is ``en``.

    >>> normalize("en-US")
    'en'
    """
    base = name.strip().split(".")[0].replace("-", "_").split("_")[0].lower()
    if base not in LANGUAGES:
        raise LanguageError(
            f"language {name!r} is not available; choose one of: {', '.join(LANGUAGES)}"
        )
    return base


def language() -> str:
    """The language in use here: the one :func:`use_language` set, else
    ``AUTOGRAD_BP_LANG``, else English.

    >>> with use_language("zh"):
    ...     language()
    'zh'
    """
    chosen = _chosen.get()
    if chosen is not None:
        return chosen
    from_environment = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    return normalize(from_environment) if from_environment else "en"


@contextlib.contextmanager
def use_language(name: str) -> Iterator[str]:
    """Speak ``name`` inside the block (this thread or task only).

    >>> with use_language("en") as lang:
    ...     lang
    'en'
    """
    token = _chosen.set(normalize(name))
    try:
        yield _chosen.get() or "en"
    finally:
        _chosen.reset(token)


@cache
def translations(lang: str) -> gettext_module.NullTranslations:
    """The compiled catalog for ``lang`` (English is the source text itself).

    >>> translations("en").gettext("wrong")
    'wrong'
    """
    if lang == "en":
        return gettext_module.NullTranslations()
    try:  # strict: a missing catalog is an error, never English in disguise
        return gettext_module.translation(DOMAIN, localedir=LOCALE_DIR, languages=[lang])
    except FileNotFoundError:
        raise LanguageError(
            f"language {lang!r} has no compiled catalog under {LOCALE_DIR} "
            "(run `make messages`)"
        ) from None


def _(message: str) -> str:
    """``message`` in the language in use.

    >>> with use_language("en"):
    ...     _("wrong")
    'wrong'
    """
    return translations(language()).gettext(message)



def say(error: BaseException | str) -> str:
    """An error's message in the language in use. The engine (``core``, below this room)
    raises its common errors with their template kept (``core.numerics.said``), and so do
    the file helpers (``_io``, whose reasons are ``Phrase`` strings with their template
    kept): those are translated, and so is every field that keeps a template of its own
    (the kind of file inside the reason a file is refused for); any other error, or
    plain string, is said as it is.

    >>> e = ZeroDivisionError("div: division by zero (1 / 0)")
    >>> e.template, e.fields = "div: division by zero ({x} / {y})", {"x": "1", "y": "0"}
    >>> with use_language("en"):
    ...     say(e)
    'div: division by zero (1 / 0)'
    """
    template, fields = getattr(error, "template", None), getattr(error, "fields", None)
    if isinstance(template, str) and isinstance(fields, dict):
        return _(template).format(**{name: say(value) if hasattr(value, "template") else value
                                     for name, value in fields.items()})  # fmt: skip
    return str(error)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the language in use.

    >>> with use_language("en"):
    ...     ngettext("{n} path", "{n} paths", 2).format(n=2)
    '2 paths'
    """
    return translations(language()).ngettext(singular, plural, n)


def width(text: str) -> int:
    """The columns ``text`` takes in a terminal: a Chinese character takes two.

    >>> width("loss"), width("误差")
    (4, 4)
    """
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def aligned(text: str, columns: int, right: bool = False) -> str:
    """``text`` padded with spaces to ``columns`` terminal columns (on the left when
    ``right``), so a table's columns line up in Chinese as in English.

    >>> aligned("误差", 6) + "|", aligned("loss", 6, right=True) + "|"
    ('误差  |', '  loss|')
    """
    pad = " " * max(0, columns - width(text))
    return pad + text if right else text + pad


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now (a constant defined at
    import time, translated with :func:`_` where it is shown).

    >>> N_("correct")
    'correct'
    """
    return message


# ------------------------------------------------------------------ catalogs sent to a page
# The web pages (the playground, the `steps` page, the Jupyter widget) translate in the
# browser: they get the "web" domain's messages as a JSON object, msgid -> text.


def catalog(domain: str, lang: str) -> dict[str, str]:
    """Every message of ``domain``'s compiled catalog for ``lang``, msgid → translation,
    read from ``<lang>/LC_MESSAGES/<domain>.mo`` with the standard library's gettext.
    English is the source text itself: its catalog is empty.

    >>> catalog("web", "en")
    {}
    >>> catalog("web", "zh-CN")["next ▶"]
    '下一步 ▶'
    """
    lang = normalize(lang)
    if lang == "en":
        return {}
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain}.mo"
    with open(path, "rb") as f:
        read = gettext_module.GNUTranslations(f)
    messages: dict[object, str] = vars(read)["_catalog"]  # gettext keeps them there, by msgid
    return {k: v for k, v in messages.items() if isinstance(k, str) and k}
