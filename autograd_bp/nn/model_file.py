"""The model file: a module's parameters (and architecture) as strict JSON on disk.

One format, written by :meth:`Module.save <autograd_bp.nn.modules.Module.save>` and read by
``Module.load`` and ``MLP.from_file``::

    {"format": "autograd_bp.model", "version": 1, "model": "MLP",
     "config": {"nin": 2, "nouts": [3, 1], "activations": ["tanh", "linear"], "bias": true},
     "state": {"layers.0.neurons.0.w.0": 0.25, ...}}

Reading is defensive, because a model file is input: only a regular file of at most
:data:`MAX_MODEL_BYTES` is read (a FIFO, a device or a directory is refused before it is
opened for reading), and every way the contents can be wrong ends in :class:`ModelFileError`
naming the file and the reason.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.json"
    >>> _ = write_model_file(path, "Neuron", None, {"w.0": 0.5, "b": -1.0})
    >>> read_model_file(path)["state"]
    {'w.0': 0.5, 'b': -1.0}
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import reprlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .._io import FileTooLargeError, NotRegularFileError, atomic_write_text, read_regular_file
from ..core.engine import Value
from ..locale import _, say

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_MODEL_BYTES",
    "MLPArchitecture",
    "ModelFileError",
    "about_file",
    "checked_mlp_config",
    "load_state",
    "read_model_file",
    "saved_state_for",
    "write_model_file",
]

FORMAT = "autograd_bp.model"
FORMAT_VERSION = 1
# The largest model file read: 64 MiB holds about 1.3 million parameters at the ~50 bytes
# each takes in the file (measured: MLP(784, [30, 10]), 23,860 parameters, 1,222,826 bytes),
# far beyond what a scalar engine trains; a larger file is refused unread.
MAX_MODEL_BYTES = 64 * 2**20


class ModelFileError(ValueError):
    """A saved model could not be read, or does not fit the model it is loaded into."""


def _short(x: Any) -> str:
    """A repr cut to a readable length: error messages quote what a file holds."""
    return reprlib.repr(x)


def _where(path: str | os.PathLike[str]) -> str:
    return _("model file {path}").format(path=repr(str(path)))


@contextlib.contextmanager
def about_file(path: str | os.PathLike[str]) -> Iterator[None]:
    """Prefix a :class:`ModelFileError` raised inside with the file it is about.

    Example:
        >>> try:
        ...     with about_file("m.json"):
        ...         raise ModelFileError("state does not fit")
        ... except ModelFileError as e:
        ...     print(e)
        model file 'm.json': state does not fit
    """
    try:
        yield
    except ModelFileError as e:
        raise ModelFileError(f"{_where(path)}: {e}") from None


# -- writing -----------------------------------------------------------------------------


def write_model_file(
    path: str | os.PathLike[str], model: str, config: dict[str, Any] | None,
    state: dict[str, float],
) -> Path:  # fmt: skip
    """Write ``state`` (and ``config``) as a model file, atomically (see ``_io.atomic_write``:
    through a symlink, never over a FIFO, device or directory).

    A NaN or infinite parameter is refused (the file could not be loaded back): the error
    names it, and an existing file is left as it was.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "m.json"
        >>> try:
        ...     write_model_file(path, "Neuron", None, {"b": float("nan")})
        ... except ValueError as e:
        ...     print(str(e).partition(";")[0], path.exists())
        save: parameter 'b' is nan False
    """
    bad = [name for name, v in state.items() if not math.isfinite(v)]
    if bad:
        more = _(" (and {count} more)").format(count=len(bad) - 1) if len(bad) > 1 else ""
        raise ValueError("save: " + _(
            "parameter {name} is {value}{more}; refusing to write {path}: a model file holds "
            "finite numbers only").format(name=repr(bad[0]), value=repr(state[bad[0]]),
                                          more=more, path=repr(str(path))))  # fmt: skip
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "model": model, "config": config,
           "state": state}  # fmt: skip
    return atomic_write_text(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")


# -- reading: strict JSON ----------------------------------------------------------------

_MAX_INT_DIGITS = 18  # no count or version in a model file needs more; also stops 10**4300


class _Refused(ValueError):
    """Raised by the JSON hooks; read_model_file turns it into a ModelFileError."""


def _refuse_constant(token: str) -> float:
    raise _Refused(_("has a non-finite number ({token}); JSON has none and a model needs "
                     "none").format(token=token))


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(_("has a number too large for a float ({text})").format(text=text[:20]))
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise _Refused(_("has an integer with {count} digits").format(count=len(text)))
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _Refused(_("has the key {key} twice").format(key=repr(dup)))
    return doc


def _parse_model_json(text: str, where: str) -> Any:
    """json.loads, strict: finite numbers, bounded integers, unique keys, bounded depth."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float,
                          parse_int=_bounded_int, object_pairs_hook=_unique_keys)  # fmt: skip
    except json.JSONDecodeError as e:
        raise ModelFileError(_("{where} is not valid JSON (truncated or corrupt?): {error}").format(
            where=where, error=e)) from None
    except _Refused as e:
        raise ModelFileError(f"{where} {e}") from None
    except RecursionError:  # the C decoder recurses once per nesting level
        raise ModelFileError(_("{where} is nested too deeply to be a model file").format(
            where=where)) from None


def _read_text(path: str | os.PathLike[str]) -> str:
    """The file's text: a regular file of at most MAX_MODEL_BYTES, UTF-8."""
    where = _where(path)
    try:
        raw = read_regular_file(path, MAX_MODEL_BYTES)
    except (NotRegularFileError, FileTooLargeError) as e:
        raise ModelFileError(_("cannot read {where}: {reason}").format(
            where=where, reason=say(e.reason))) from None
    except OSError as e:
        raise ModelFileError(_("cannot read {where}: {reason}").format(
            where=where, reason=e.strerror)) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFileError(_("{where} is not UTF-8 text (byte {byte}): corrupt?").format(
            where=where, byte=e.start)) from None


def read_model_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse and check a saved model file; raises :class:`ModelFileError` naming the file
    and the reason, whatever is wrong with it (a FIFO or ``/dev/zero`` included: refused
    without blocking or reading).

    Example:
        >>> import tempfile, pathlib
        >>> bad = pathlib.Path(tempfile.mkdtemp()) / "m.json"
        >>> _ = bad.write_text('{"state": {"w": NaN}}')
        >>> try:
        ...     read_model_file(bad)
        ... except ModelFileError as e:
        ...     print(str(e).partition("m.json' ")[2])
        has a non-finite number (NaN); JSON has none and a model needs none
    """
    where = _where(path)
    doc = _parse_model_json(_read_text(path), where)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(_("{where} is not an autograd_bp model file").format(where=where))
    if doc.get("version") != FORMAT_VERSION:
        raise ModelFileError(_(
            "{where} has format version {version}; this autograd_bp reads version {known}"
        ).format(where=where, version=repr(doc.get("version")), known=FORMAT_VERSION))
    if not isinstance(doc.get("state"), dict):
        raise ModelFileError(_("{where} has no parameter state").format(where=where))
    return doc


# -- reading: fitting the file to a model ------------------------------------------------


def _parameter_value(name: str, v: Any) -> float:
    """A state entry as a float: a finite real number, or a ModelFileError naming it."""
    name = _short(name)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ModelFileError(_("parameter {name} must be a number, got {value}").format(
            name=name, value=_short(v)))
    try:
        value = float(v)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise ModelFileError(_("parameter {name} must be finite, got {value}").format(
            name=name, value=repr(v)))
    return value


def load_state(params: Sequence[tuple[str, Value]], state: Any) -> None:
    """Set each named parameter from ``state`` ({name: number}); checks everything first,
    so a bad state changes nothing.

    Example:
        >>> w = Value(0.0)
        >>> load_state([("w", w)], {"w": 2})
        >>> w.data
        2.0
    """
    if not isinstance(state, dict):
        raise ModelFileError(_("state must be a dict of name -> number, got {kind}").format(
            kind=type(state).__name__))
    names = {name for name, _ in params}
    missing = sorted(names - state.keys())
    extra = sorted(state.keys() - names)
    if missing or extra:
        parts = [what.format(names=_short(keys)) for what, keys in
                 ((_("missing {names}"), missing), (_("unexpected {names}"), extra))
                 if keys]  # fmt: skip
        raise ModelFileError(_("state does not fit this model: {parts}").format(
            parts="; ".join(parts)))
    values = {name: _parameter_value(name, state[name]) for name, _ in params}
    for name, p in params:
        p.data = values[name]


def saved_state_for(path: str | os.PathLike[str], model: str, config: dict[str, Any] | None) -> Any:
    """The saved state in ``path``, once the file is known to hold this kind of ``model``
    with this ``config`` (a relu network's file does not load into a tanh one).

    Example:
        >>> import tempfile, pathlib
        >>> path = write_model_file(pathlib.Path(tempfile.mkdtemp()) / "m.json", "MLP",
        ...                         {"activations": ["relu"]}, {"w": 1.0})
        >>> try:
        ...     saved_state_for(path, "MLP", {"activations": ["tanh"]})
        ... except ModelFileError as e:
        ...     print(str(e).partition(": ")[2])
        activations ['relu'] (this model: ['tanh']); use MLP.from_file to rebuild the saved one
    """
    doc = read_model_file(path)
    where = _where(path)
    saved = doc.get("model")
    if saved != model:
        raise ModelFileError(_("{where} holds a {saved}, not a {model}").format(
            where=where, saved=_short(saved), model=model))
    cfg = doc.get("config")
    if isinstance(cfg, dict) and config is not None and cfg != config:
        diff = [_("{key} {saved} (this model: {ours})").format(
                    key=k, saved=_short(cfg.get(k)), ours=_short(config.get(k)))
                for k in config if cfg.get(k) != config.get(k)] or [_("extra keys")]
        raise ModelFileError(_(
            "{where} was saved from a different architecture: {differences}; use "
            "{model}.from_file to rebuild the saved one").format(
                where=where, differences="; ".join(diff), model=model))  # fmt: skip
    return doc["state"]


class MLPArchitecture(NamedTuple):
    """What ``MLP(nin, nouts, activations, bias=bias)`` needs to rebuild a saved network."""

    nin: int
    nouts: list[int]
    activations: list[str]
    bias: bool


def checked_mlp_config(
    cfg: dict[str, Any], n_state: int, known_activations: Sequence[str]
) -> MLPArchitecture:
    """A saved MLP config, every field checked, and its parameter count compared with the
    state's *before* anything is built: a 700-byte file claiming ``"nin": 100000000`` is
    refused, not allocated.

    Example:
        >>> cfg = {"nin": 2, "nouts": [1], "activations": ["tanh"], "bias": True}
        >>> checked_mlp_config(cfg, 3, ["tanh"])
        MLPArchitecture(nin=2, nouts=[1], activations=['tanh'], bias=True)
    """
    nin, nouts, acts, bias = (cfg.get(k) for k in ("nin", "nouts", "activations", "bias"))
    if not isinstance(nin, int) or not isinstance(nouts, list) or not nouts:
        raise ModelFileError(_("bad architecture: nin {nin}, nouts {nouts}").format(
            nin=_short(nin), nouts=_short(nouts)))
    sizes = [nin, *nouts]
    if not all(type(n) is int and n >= 1 for n in sizes):
        raise ModelFileError(_("bad architecture: nin {nin}, nouts {nouts}").format(
            nin=_short(nin), nouts=_short(nouts)))
    if (
        not isinstance(acts, list)
        or len(acts) != len(nouts)
        or not all(isinstance(a, str) and a in known_activations for a in acts)
    ):
        raise ModelFileError(_("bad architecture: activations {activations} for {count} "
                               "layers").format(activations=_short(acts), count=len(nouts)))
    if not isinstance(bias, bool):
        raise ModelFileError(_("bad architecture: bias {bias}").format(bias=_short(bias)))
    count = sum((a + bias) * b for a, b in zip(sizes, sizes[1:]))
    if count != n_state:
        raise ModelFileError(_(
            "architecture MLP({nin}, {nouts}) has {count} parameters but the state has "
            "{state}").format(nin=nin, nouts=_short(nouts), count=count, state=n_state))
    return MLPArchitecture(nin, nouts, acts, bias)
