"""Small shared helpers: atomic file writes, strict JSON, and friendly errors for optional
extras."""

from __future__ import annotations

import errno
import importlib
import json
import math
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, BinaryIO


def N_(message: str) -> str:
    """Mark ``message`` for extraction into the catalog (Babel's ``N_`` keyword) and
    return it as it is. This module imports nothing of the package, so it says its
    phrases in English and keeps them as :class:`Phrase`; a room above says them in the
    learner's language (``autograd_bp.locale.say``).

    Example:
        >>> N_("a directory")
        'a directory'
    """
    return message


class Phrase(str):
    """``template`` filled in with ``fields``: as a ``str`` it is the English, and it keeps
    ``template`` and ``fields`` so that ``autograd_bp.locale.say`` can say it in the
    learner's language (a field may be a Phrase too: the file kind inside a reason).

    Example:
        >>> reason = Phrase(N_("it is {kind}, not a regular file"), kind=Phrase(N_("a socket")))
        >>> reason, reason.template, reason.fields["kind"].template
        ('it is a socket, not a regular file', 'it is {kind}, not a regular file', 'a socket')
    """

    template: str
    fields: dict[str, Any]

    def __new__(cls, template: str, **fields: Any) -> Phrase:
        made = super().__new__(cls, template.format(**fields))
        made.template, made.fields = template, fields
        return made


def _kept(error: BaseException, template: str, **fields: Any) -> None:
    """Keep ``template`` and ``fields`` on ``error``: the protocol of ``core.numerics.said``
    that ``autograd_bp.locale.say`` reads."""
    error.template, error.fields = template, fields  # type: ignore[attr-defined]


# the whole sentence per verb, so that a translator sees it whole
_CANNOT = {"read": N_("cannot read {path}: {reason}"), "write": N_("cannot write {path}: {reason}")}


class NotRegularFileError(OSError):
    """A path that must be a regular file (to write through, or to read) is something else:
    a FIFO, a device, a directory, a socket, or a symlink that leads nowhere.

    An ``OSError``, so whatever already handles a failed save or load handles it too; its
    message is one line naming the path and what it is; ``reason`` is that message without
    the path ("it is a FIFO (named pipe), not a regular file"), a :class:`Phrase`. The
    error keeps its ``template`` and ``fields`` (``autograd_bp.locale.say`` says it in the
    learner's language).
    """

    def __init__(self, doing: str, path: Path, reason: Phrase) -> None:
        fields = {"path": repr(str(path)), "reason": reason}
        super().__init__(_CANNOT[doing].format(**fields))
        _kept(self, _CANNOT[doing], **fields)
        self.reason = reason


# One human name per file type the checks below can meet.
_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISDIR, N_("a directory")),
    (stat.S_ISFIFO, N_("a FIFO (named pipe)")),
    (stat.S_ISCHR, N_("a character device")),
    (stat.S_ISBLK, N_("a block device")),
    (stat.S_ISSOCK, N_("a socket")),
)


def file_kind(mode: int) -> Phrase:
    """What a file of this ``st_mode`` is, in words ("a regular file", "a FIFO (named pipe)"...).

    Example:
        >>> import os
        >>> file_kind(os.stat("/dev/null").st_mode)
        'a character device'
    """
    if stat.S_ISREG(mode):
        return Phrase(N_("a regular file"))
    return Phrase(next((name for test, name in _KINDS if test(mode)), N_("not a regular file")))


def _refuse_unless_regular(path: Path, target: Path, mode: int, doing: str) -> None:
    if stat.S_ISREG(mode):
        return
    if target != path:
        reason = Phrase(N_("it is a symlink to {target}, which is {kind}, not a regular file"),
                        target=repr(str(target)), kind=file_kind(mode))  # fmt: skip
    else:
        reason = Phrase(N_("it is {kind}, not a regular file"), kind=file_kind(mode))
    raise NotRegularFileError(doing, path, reason)


def _resolve_target(path: Path) -> Path:
    """Where the bytes go: a symlink is followed to its final target (the link stays a
    link); a dangling or looping link is refused, since writing would replace the link."""
    if not path.is_symlink():
        return path
    try:
        os.stat(path)  # follows every link in the chain
    except FileNotFoundError:
        raise NotRegularFileError("write", path, Phrase(
            N_("it is a dangling symlink (to {target}, which does not exist)"),
            target=repr(os.readlink(path)))) from None  # fmt: skip
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise NotRegularFileError("write", path, Phrase(
                N_("it is a symlink loop (a link that leads back to itself)"))) from None
        raise
    return Path(os.path.realpath(path))


def _writable_target(path: Path) -> tuple[Path, int | None]:
    """The regular file (existing or not) that ``path`` names, and its permission bits
    when it exists; anything else is refused before a byte is written."""
    target = _resolve_target(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target, None
    _refuse_unless_regular(path, target, st.st_mode, "write")
    return target, stat.S_IMODE(st.st_mode)


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
    template = N_("cannot create a temporary file beside {path}")
    error = FileExistsError(template.format(path=repr(str(target))))
    _kept(error, template, path=repr(str(target)))
    raise error


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    A crash half-way leaves the old file (or none), never a half-written one. The new
    file gets the old file's permission bits when it replaces one, else 0o666 minus the
    umask (0o644 under the usual 022), like any file a program creates. A symlink is
    written through: the temporary file is made beside its final target and renamed over
    it, so the target gets the new contents and the link stays a link. Only a regular
    file (or a new name) is written: a FIFO, a device, a directory, a socket, a dangling
    or looping symlink raise :class:`NotRegularFileError` and nothing is touched. A hard
    link is a directory entry like any other: the rename replaces the entry named here
    and the file's other names keep the old contents.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> atomic_write(d / "a.txt", lambda tmp: tmp.write_text("hi")).read_text()
        'hi'
        >>> try:
        ...     atomic_write(d, lambda tmp: tmp.write_text("hi"))
        ... except NotRegularFileError as e:
        ...     print(str(e).partition(": ")[2])
        it is a directory, not a regular file
    """
    link = Path(path)
    target, mode = _writable_target(link)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temp_file(target)
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return link


class FileTooLargeError(ValueError):
    """A file is larger than the reader's stated limit; refused before it is parsed.
    ``reason`` is the message without the path, a :class:`Phrase`; the error keeps its
    ``template`` and ``fields`` like :class:`NotRegularFileError`."""

    def __init__(self, path: Path, reason: Phrase) -> None:
        fields = {"path": repr(str(path)), "reason": reason}
        super().__init__(_CANNOT["read"].format(**fields))
        _kept(self, _CANNOT["read"], **fields)
        self.reason = reason


def read_regular_file(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes`` of them.

    Anything else is refused without blocking or reading: a FIFO (which would wait for a
    writer), a device (``/dev/zero`` never ends), a directory, a socket raise
    :class:`NotRegularFileError`; a file over ``max_bytes`` raises
    :class:`FileTooLargeError`. The path is checked with ``stat`` before opening, then
    opened non-blocking and checked again on the open descriptor (``fstat``), so a file
    swapped in between is caught too; at most ``max_bytes + 1`` bytes are ever read
    (a file that grows while it is read, or reports size 0 like those in ``/proc``,
    is still bounded).

    Example:
        >>> try:
        ...     read_regular_file("/dev/zero", 1024)
        ... except NotRegularFileError as e:
        ...     print(e)
        cannot read '/dev/zero': it is a character device, not a regular file
    """
    where = Path(path)
    with _open_regular(where) as f:
        size = os.fstat(f.fileno()).st_size
        if size > max_bytes:
            raise _too_large(where, max_bytes, size)
        data = f.read(max_bytes + 1)  # buffered: read(n) loops until n bytes or the end
        if len(data) > max_bytes:
            raise _too_large(where, max_bytes, None)
    return data


def read_file_head(path: str | os.PathLike[str], n: int) -> bytes:
    """The first ``n`` bytes (fewer if the file is shorter) of the regular file at ``path``;
    like :func:`read_regular_file`, a FIFO, device or directory is refused without blocking.
    For a look at a file before overwriting it (is this one ours?).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "g.gv"
        >>> _ = path.write_text("// mark\\ndigraph {}")
        >>> read_file_head(path, 7)
        b'// mark'
    """
    with _open_regular(Path(path)) as f:
        return f.read(n)


def _open_regular(where: Path) -> BinaryIO:
    """``where`` opened for reading if it is a regular file: checked with ``stat`` first (a
    FIFO is never opened), opened non-blocking, and checked again on the descriptor."""
    _refuse_unless_regular(where, where, os.stat(where).st_mode, "read")
    fd = os.open(where, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    f = os.fdopen(fd, "rb")
    try:
        _refuse_unless_regular(where, where, os.fstat(fd).st_mode, "read")
    except BaseException:
        f.close()
        raise
    return f


def _too_large(path: Path, max_bytes: int, size: int | None) -> FileTooLargeError:
    """``size`` None: the file grew past the limit while it was read (or said it was empty)."""
    limit = f"{max_bytes:,}"
    if size is None:
        reason = Phrase(N_("it holds more, over the limit of {limit} bytes"), limit=limit)
    else:
        reason = Phrase(N_("it holds {size} bytes, over the limit of {limit} bytes"),
                        size=f"{size:,}", limit=limit)  # fmt: skip
    return FileTooLargeError(path, reason)


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
        template = N_("{module} is needed for this; install it with: pip install "
                      "'autograd_bp[{extra}]'")  # fmt: skip
        error = ImportError(template.format(module=module, extra=extra))
        _kept(error, template, module=module, extra=extra)
        raise error from None
