"""Reading a command line as a person means it, and the checks every subcommand shares.

``arrange`` puts each option's value next to it and the positionals after ``--``, so that
``NAME=VALUE`` may come before or after the options and a leading minus is a value, not an
option; the number converters and size limits refuse bad values in one line naming the option.

Example:
    >>> from autograd_bp.cli import build_parser
    >>> from autograd_bp.cli.line import arrange
    >>> arrange(build_parser(), ["grad", "-x*y", "--check", "x=1", "y=2"])[-4:]
    ['--', '-x*y', 'x=1', 'y=2']
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Sequence
from typing import Any, NoReturn

# The package's own modules load in a fraction of a second, so they are imported here.
# The heavy optional extras stay lazy, inside the modules that need them (``require``):
# scikit-learn (datasets), matplotlib (plots), torch (check, nn) and tqdm (train), so
# `--help` and `grad` start fast and work without them installed.
from .._io import dumps_strict
from ..locale import ENVIRONMENT_VARIABLE, N_, LanguageError, _, language, normalize
from ..locale import width as columns

PROG = "autograd-bp"


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit status 2."""


# argparse's own words in --help (English in argparse, which asks gettext's global domain
# for them): marked here so they are in this package's catalog, said by TranslatedHelp.
ARGPARSE_WORDS = (N_("usage: "), N_("positional arguments"), N_("options"),
                  N_("show this help message and exit"),
                  N_("show program's version number and exit"))  # fmt: skip


class TranslatedHelp(argparse.HelpFormatter):
    """``--help`` in the language in use when it is printed. The parser is built in English
    (before the language is known, so a bad one can still be refused in one line): its help
    texts, descriptions, epilogs and section titles are English msgids (marked with ``N_``),
    and this formatter says each in the language in use as it formats them.

    Example:
        >>> from autograd_bp.locale import use_language
        >>> p = Parser(prog="demo", description=N_("Backpropagation, done for real and shown."))
        >>> with use_language("zh"):
        ...     print(p.format_help().splitlines()[0])
        用法：demo [-h]
    """

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, _("usage: ") if prefix is None else prefix)

    def _format_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None) -> str:
        wide = columns(prefix or "") - len(prefix or "")  # "用法：" takes 6 columns, not 3
        self._width -= wide  # argparse counts characters: lines are wrapped that much sooner
        try:
            text = super()._format_usage(usage, actions, groups, prefix)
        finally:
            self._width += wide
        return text.replace("\n ", "\n " + " " * wide) if wide else text

    def start_section(self, heading: str | None) -> None:
        super().start_section(_(heading) if heading else heading)

    def add_text(self, text: str | None) -> None:
        super().add_text(_(text) if text and text != argparse.SUPPRESS else text)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return _(action.help) if action.help and action.help != argparse.SUPPRESS else action.help

    # argparse wraps at spaces, and Chinese has none: a line is filled by terminal columns
    def _split_lines(self, text: str, width: int) -> list[str]:
        if len(text) == columns(text):
            return super()._split_lines(text, width)
        return wrap_columns(text, width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if len(text) == columns(text):
            return super()._fill_text(text, width, indent)
        return "\n".join(indent + line for line in wrap_columns(text, width - len(indent)))


# a word, or one Chinese character, with the opening punctuation before it and the closing
# after it (a line never starts with "）" nor ends with "（"), or a space
WRAP_PIECE = re.compile(r"[（“《]*(?:[^\s\u2e80-\uffff]+|[\u2e80-\uffff])[）”》。，；：、]*|\s+")


def wrap_columns(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` terminal columns, broken between words or
    between two Chinese characters.

    Example:
        >>> wrap_columns("学习率 lr（默认 0.1）", 12)
        ['学习率 lr', '（默认 0.1）']
    """
    lines, line = [], ""
    for piece in WRAP_PIECE.findall(" ".join(text.split())):
        if line and columns(line + piece.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        if line or not piece.isspace():
            line += piece
    return [*lines, line.rstrip()] if line.strip() else lines


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, whose ``--help`` is said in the language
    in use (:class:`TranslatedHelp`), and which knows its options' arities (``options``) and
    its subcommands (``commands``), so :func:`arrange` can read a line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.options: dict[str, int] = {}  # option string -> values it takes (0 or 1)
        self.commands: dict[str, Parser] = {}
        self.positionals = False
        kwargs.setdefault("formatter_class", TranslatedHelp)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        self.positionals |= not action.option_strings
        for option in action.option_strings:
            # one value (nargs None) is attached by arrange(); any other nargs ('?', '+')
            # is left where it stands for argparse to read as it always does
            self.options[option] = 1 if action.nargs is None else 0
        return action

    def error(self, message: str) -> NoReturn:  # one line, not usage + message
        command = self.prog.removeprefix(PROG).strip()
        message = argparse_message(message)
        raise UsageError(f"{command}: {message}" if command else message)


# argparse's own one-line errors (English in argparse), said in the language in use; the
# message inside "argument X: ..." is a converter's below, already in that language.
ARGPARSE_MESSAGES = (
    (re.compile(r"the following arguments are required: (?P<names>.*)"),
     N_("the following arguments are required: {names}")),
    (re.compile(r"argument (?P<name>\S+): invalid choice: (?P<value>.*) "
                r"\(choose from (?P<choices>.*)\)"),
     N_("argument {name}: invalid choice: {value} (choose from {choices})")),
    (re.compile(r"argument (?P<name>\S+): expected one argument"),
     N_("argument {name}: expected one argument")),
    (re.compile(r"argument (?P<name>\S+): invalid (?P<type>\w+) value: (?P<value>.*)"),
     N_("argument {name}: invalid {type} value: {value}")),
    (re.compile(r"argument (?P<name>\S+): ignored explicit argument (?P<value>.*)"),
     N_("argument {name}: ignored explicit argument {value}")),
    (re.compile(r"argument (?P<name>\S+): (?P<message>.*)"), N_("argument {name}: {message}")),
    (re.compile(r"ambiguous option: (?P<option>\S+) could match (?P<matches>.*)"),
     N_("ambiguous option: {option} could match {matches}")),
    (re.compile(r"unrecognized arguments: (?P<names>.*)"), N_("unrecognized arguments: {names}")),
)  # fmt: skip


def argparse_message(message: str) -> str:
    """One of argparse's error messages in the language in use (unchanged in English).

    Example:
        >>> argparse_message("the following arguments are required: --wrt")
        'the following arguments are required: --wrt'
    """
    for pattern, template in ARGPARSE_MESSAGES:
        if m := pattern.fullmatch(message):
            return _(template).format(**m.groupdict())
    return message


def language_name(text: str) -> str:
    """The ``--lang`` converter: ``zh``, ``zh_CN``, ``en`` ..., or one line saying which exist."""
    try:
        return normalize(text)
    except LanguageError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def chosen_language(line: Sequence[str]) -> str:
    """The language a command line asks for: its last ``--lang=X`` (as :func:`arrange`
    writes it, before any ``--``), else ``AUTOGRAD_BP_LANG``, else English; a language with
    no catalog is a :class:`UsageError` naming where it was asked for.

    Example:
        >>> chosen_language(["check", "--lang=zh_CN", "--", "x*y"])
        'zh'
    """
    asked = None
    for i, token in enumerate(line):
        if token == "--":
            break
        option, equals, value = token.partition("=")
        if len(option) < 4 or not "--lang".startswith(option):  # argparse takes "--la" too
            continue
        if equals:
            asked = value
        elif i + 1 < len(line) and not line[i + 1].startswith("-"):  # `--help --lang zh`
            asked = line[i + 1]
    try:
        return normalize(asked) if asked is not None else language()
    except LanguageError as e:
        where = "--lang" if asked is not None else ENVIRONMENT_VARIABLE
        raise UsageError(f"{where}: {e}") from None


# A token that reads as a long option (`--wrt`, `--claim=...`): anything else that starts
# with "-" (`-x*y`, `-2*x`, `-3`) is a value, unless it is an option exactly (`-h`).
LONG_OPTION = re.compile(r"--[A-Za-z][\w-]*(=|$)")


def option_arity(parser: Parser, token: str) -> int | None:
    """The number of values that follow ``token`` as an option of ``parser`` (0 or 1), or
    None when the token is a value. An unknown or ambiguous option counts as a flag: argparse
    then refuses it by name."""
    if token in parser.options:
        return parser.options[token]
    if not LONG_OPTION.match(token):
        return None
    if "=" in token:
        return 0  # its value is attached
    found = [n for option, n in parser.options.items() if option.startswith(token)]
    return found[0] if len(found) == 1 else 0  # an abbreviation, as argparse allows


def arrange(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """The command line rewritten so argparse reads it as a person means it: each option
    with its value attached (``--claim=-2*x``, so a value may start with a minus), then
    ``--``, then every positional argument in the order given — an expression, a claim or a
    value may start with ``-`` and ``NAME=VALUE`` may come before or after the options. A
    ``--`` typed by the user still ends the options.

    Example:
        >>> from autograd_bp.cli import build_parser
        >>> arrange(build_parser(), ["check", "x*y", "--wrt", "x", "--claim", "-y", "x=1"])
        ['check', '--wrt=x', '--claim=-y', '--', 'x*y', 'x=1']
    """
    assert isinstance(parser, Parser)
    argv, first = list(argv), []
    while argv and (argv[0].startswith("--lang=") or argv[0] == "--lang" and len(argv) > 1):
        take = 1 if "=" in argv[0] else 2  # the global --lang, read as the command's own
        first.append(argv[0] if take == 1 else f"--lang={argv[1]}")
        argv = argv[take:]
    if not argv or argv[0] not in parser.commands:
        return first + argv  # --version, --help or an unknown command: argparse says so
    if first:
        return arrange(parser, [argv[0], *first, *argv[1:]])
    command, rest = parser.commands[argv[0]], list(argv[1:])
    options: list[str] = []
    values: list[str] = []
    i = 0
    while i < len(rest):
        token, arity = rest[i], option_arity(command, rest[i])
        if token == "--":
            values += rest[i + 1 :]
            break
        if arity is None:
            values.append(token)
        elif arity == 1 and i + 1 < len(rest) and rest[i + 1] != "--" \
                and option_arity(command, rest[i + 1]) is None:  # fmt: skip
            options.append(f"{token}={rest[i + 1]}")
            i += 1
        else:
            options.append(token)  # a flag, or an option missing its value: argparse says so
        i += 1
    if values and command.positionals:
        return [argv[0], *options, "--", *values]
    return [argv[0], *options, *values]  # no positionals: argparse names the strays


def number(parse: type, low: float, high: float, *, open_low: bool = False,
            open_high: bool = False):  # fmt: skip
    """An argparse type: ``parse(text)``, finite and within [low, high] (ends excluded when
    open), or one line saying what the option needs and what it got (argparse prefixes
    the option's name)."""
    kind = N_("an integer") if parse is int else N_("a number")
    noun = N_("integer") if parse is int else N_("number")
    show = (lambda v: str(int(v))) if parse is int else (lambda v: f"{v:g}")

    def span() -> str:  # said when a value is refused, in the language in use then
        if math.isinf(high):
            return _("a finite {noun} {relation} {low}").format(
                noun=_(noun), relation=">" if open_low else ">=", low=show(low))
        interval = (f"{'(' if open_low else '['}{show(low)}, "
                    f"{show(high)}{')' if open_high else ']'}")  # fmt: skip
        return _("{kind} in {interval}").format(kind=_(kind), interval=interval)

    def convert(text: str) -> Any:
        try:
            v = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                _("must be {kind}, got {text}").format(kind=_(kind), text=repr(text))) from None
        inside = (low < v if open_low else low <= v) and (v < high if open_high else v <= high)
        if not (math.isfinite(v) and inside):
            raise argparse.ArgumentTypeError(
                _("must be {kind}, got {text}").format(kind=span(), text=repr(text)))
        return v

    return convert


# The option's name at the call sites is for the reader: argparse puts it in the message.
def positive_float(option: str):
    return number(float, 0.0, math.inf, open_low=True)


def positive_int(option: str, high: int = 10**6):
    return number(int, 1, high)


seed_number = number(int, 0, 2**32 - 1)  # what numpy and scikit-learn both accept


def parse_sizes(option: str):
    def convert(text: str) -> list[int]:
        try:
            sizes = [int(s) for s in text.split(",") if s.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                _("must be comma-separated integers like 16,16, got {text}").format(
                    text=repr(text))
            ) from None
        if not sizes or any(s < 1 for s in sizes):
            raise argparse.ArgumentTypeError(
                _("needs positive sizes, got {text}").format(text=repr(text)))
        return sizes

    return convert


# A scalar engine builds one Python object per parameter use: beyond these a run cannot
# fit in memory (or finish) on an ordinary machine, so it is refused up front.
MAX_PARAMETERS = 1_000_000
MAX_VERIFY_PARAMETERS = 5_000  # verify's central differences cost 2 forward passes each
MAX_BATCH_BYTES = 2 * 2**30
# Graph memory per example, measured with tracemalloc on MLP(2, [64, 64, 1]) and
# MLP(64, [256, 10]) forward passes (256 kB and 754 kB an example): per parameter use (a
# dot node's operand/local slots) and per neuron (its nodes, tuples and lists).
_BYTES_PER_PARAMETER_USE = 24
_BYTES_PER_NEURON = 1200


def parameter_count(sizes: Sequence[int]) -> int:
    return sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))


def check_fits(option: str, sizes: Sequence[int], limit: int = MAX_PARAMETERS) -> None:
    """Refuse a network with more than ``limit`` parameters, in one line naming ``option``."""
    count = parameter_count(sizes)
    if count > limit:
        raise UsageError(option + ": " + _(
            "MLP({inputs}, {layers}) would have {count} parameters; this command takes at "
            "most {limit}").format(inputs=sizes[0], layers=list(sizes[1:]), count=f"{count:,}",
                                   limit=f"{limit:,}"))  # fmt: skip


def check_batch(sizes: Sequence[int], batch: int) -> None:
    """Refuse a mini-batch whose graph cannot fit in memory, saying what batch size fits."""
    per_example = _BYTES_PER_PARAMETER_USE * parameter_count(sizes)
    per_example += _BYTES_PER_NEURON * sum(sizes[1:])
    if batch * per_example > MAX_BATCH_BYTES:
        raise UsageError("--batch-size: " + _(
            "a batch of {batch} examples through MLP({inputs}, {layers}) would build about "
            "{gib} GiB of graph; use --batch-size {fits} or less").format(
                batch=f"{batch:,}", inputs=sizes[0], layers=list(sizes[1:]),
                gib=f"{batch * per_example / 2**30:.1f}",
                fits=f"{MAX_BATCH_BYTES // per_example:,}"))  # fmt: skip


def print_json(doc: dict[str, Any]) -> None:
    """Strict JSON on stdout: a NaN or infinity becomes null, listed under "non_finite"."""
    print(dumps_strict(doc))
