"""A worked example written down in TOML: any fully connected net, its numbers, its data,
its training settings, and (optionally) the figures a source printed for it.

The format (see docs/your-example.md) is read with :mod:`tomllib`; every key is checked, and
a malformed file is refused with one :class:`ExampleFileError` naming the key and what was
expected. Only the *problem* is stored; every result is computed. ``[published]`` holds the
figures a source printed, compared against and never used as an answer.

Example:
    >>> text = '''
    ... title = "one hidden layer"
    ... names = "nielsen"
    ... [network]
    ... sizes = [1, 1, 1]
    ... activation = "sigmoid"
    ... [parameters]
    ... weights = [[[0.5]], [[-0.25]]]
    ... biases = [[0.1], [0.2]]
    ... [data]
    ... inputs = [1.0]
    ... targets = [0.5]
    ... [training]
    ... lr = 0.5
    ... '''
    >>> ex = parse_example(text)
    >>> ex.sizes, ex.activations, ex.loss
    ((1, 1, 1), ('sigmoid', 'sigmoid'), 'half_sse')
    >>> try:
    ...     parse_example(text.replace('"sigmoid"', '"sigmoyd"'))
    ... except ExampleFileError as e:
    ...     print(e)
    network.activation: expected one of linear, relu, sigmoid, tanh, got 'sigmoyd'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from ..locale import _

__all__ = [
    "ACTIVATION_NAMES",
    "BIAS_KINDS",
    "EXAMPLES",
    "Example",
    "ExampleFileError",
    "LOSS_NAMES",
    "MAX_EXAMPLE_BYTES",
    "MAX_ITERATIONS",
    "MAX_NEURONS",
    "NAME_STYLES",
    "SCHEDULES",
    "parse_example",
]

ACTIVATION_NAMES = ("linear", "relu", "sigmoid", "tanh")
LOSS_NAMES = ("half_sse", "mse", "cross_entropy")
NAME_STYLES = ("nielsen", "mazur")
BIAS_KINDS = ("per-neuron", "per-layer")
SCHEDULES = ("simultaneous", "sequential")
MAX_EXAMPLE_BYTES = 256 * 1024  # a hand-written example is a few hundred bytes
MAX_NEURONS = 64  # per layer: a worked example is read by a person
MAX_LAYERS = 8
MAX_ITERATIONS = 100_000  # training is scalar and single-example: about a minute at most
# The shipped examples: package data, so an installed package has them too (the built-in
# demo reads mazur.toml); examples/worked/ in a checkout is a link to this folder.
EXAMPLES = Path(__file__).resolve().parent / "examples"
_TOP_KEYS = {"title", "names", "network", "parameters", "data", "training", "published"}


class ExampleFileError(ValueError):
    """A worked-example file that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Example:
    """A fully connected worked example; ``weights[l][j][k]`` is Nielsen's w^(l+2)_jk,
    the weight to neuron j of layer l+2 from neuron k of the layer below (layer 1 = inputs)."""

    title: str
    names: str
    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    bias: str
    weights: list[list[list[float]]]
    biases: list[list[float]]  # per neuron; per layer: one number per layer, in a list of one
    inputs: list[float]
    targets: list[float]
    loss: str = "half_sse"
    lr: float = 0.5
    schedule: str = "simultaneous"
    iterations: int = 1
    update_biases: bool = True
    published: dict[str, str] = field(default_factory=dict)


def _fail(key: str, expected: str, got: Any) -> ExampleFileError:
    shown = repr(got) if not isinstance(got, dict) else _("a table")
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return ExampleFileError(f"{key}: " + _("expected {expected}, got {got}").format(
        expected=expected, got=shown))  # fmt: skip


def _table(doc: dict[str, Any], key: str, required: bool = True) -> dict[str, Any]:
    if key not in doc:
        if required:
            raise ExampleFileError(f"[{key}]: " + _("missing table"))
        return {}
    if not isinstance(doc[key], dict):
        raise _fail(key, _("a table"), doc[key])
    return doc[key]


def _need(t: dict[str, Any], section: str, key: str) -> Any:
    if key not in t:
        raise ExampleFileError(f"{section}.{key}: " + _("missing key"))
    return t[key]


def _number(x: Any, key: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise _fail(key, _("a number"), x)
    if not math.isfinite(x):
        raise _fail(key, _("a finite number"), x)
    return float(x)


def _choice(x: Any, key: str, choices: tuple[str, ...]) -> str:
    if not isinstance(x, str) or x not in choices:
        raise _fail(key, _("one of {choices}").format(choices=", ".join(choices)), x)
    return x


def _vector(x: Any, key: str, n: int) -> list[float]:
    if not isinstance(x, list) or len(x) != n:
        raise _fail(key, _("a list of {count} numbers").format(count=n), x)
    return [_number(v, f"{key}[{i}]") for i, v in enumerate(x)]


def _sizes(x: Any) -> tuple[int, ...]:
    key = "network.sizes"
    if not isinstance(x, list) or not 2 <= len(x) <= MAX_LAYERS + 1:
        raise _fail(key, _("a list of 2 to {count} layer sizes").format(count=MAX_LAYERS + 1), x)
    for i, n in enumerate(x):
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_NEURONS:
            raise _fail(f"{key}[{i}]", _("an integer from 1 to {high}").format(high=MAX_NEURONS), n)
    return tuple(x)


def _activations(x: Any, layers: int) -> tuple[str, ...]:
    key = "network.activation"
    if isinstance(x, list):
        if len(x) != layers:
            raise _fail(key, _("one name or a list of {count} (one per layer)").format(
                count=layers), x)  # fmt: skip
        return tuple(_choice(a, f"{key}[{i}]", ACTIVATION_NAMES) for i, a in enumerate(x))
    return (_choice(x, key, ACTIVATION_NAMES),) * layers


def _weights(x: Any, sizes: tuple[int, ...]) -> list[list[list[float]]]:
    key = "parameters.weights"
    if not isinstance(x, list) or len(x) != len(sizes) - 1:
        raise _fail(key, _("{count} matrices (one per layer after the inputs)").format(
            count=len(sizes) - 1), x)  # fmt: skip
    out = []
    for layer, (rows, n_in, n_out) in enumerate(zip(x, sizes, sizes[1:])):
        where = f"{key}[{layer}]"
        if not isinstance(rows, list) or len(rows) != n_out:
            raise _fail(where, _("{rows} rows (one per neuron), each of {count} numbers").format(
                rows=n_out, count=n_in), rows)  # fmt: skip
        out.append([_vector(r, f"{where}[{j}]", n_in) for j, r in enumerate(rows)])
    return out


def _biases(x: Any, sizes: tuple[int, ...], kind: str) -> list[list[float]]:
    key = "parameters.biases"
    if not isinstance(x, list) or len(x) != len(sizes) - 1:
        raise _fail(key, _("{count} entries (one per layer after the inputs)").format(
            count=len(sizes) - 1), x)  # fmt: skip
    if kind == "per-layer":
        return [[_number(b, f"{key}[{i}]")] for i, b in enumerate(x)]
    return [_vector(b, f"{key}[{i}]", n) for i, (b, n) in enumerate(zip(x, sizes[1:]))]


def _published(t: dict[str, Any]) -> dict[str, str]:
    """Printed figures as text, so their number of decimals is kept ("0.50" has two)."""
    out = {}
    for k, v in t.items():
        if isinstance(v, str):
            try:
                number = float(v)
            except ValueError:
                raise _fail(f"published.{k}", _("a number (or a number in quotes)"), v) from None
            _number(number, f"published.{k}")
            out[k] = v.strip()
        else:
            out[k] = repr(_number(v, f"published.{k}"))
    return out


def _training(t: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "loss" in t:
        out["loss"] = _choice(t["loss"], "training.loss", LOSS_NAMES)
    if "lr" in t:
        out["lr"] = _number(t["lr"], "training.lr")
        if out["lr"] <= 0:
            raise _fail("training.lr", _("a number > 0"), t["lr"])
    if "schedule" in t:
        out["schedule"] = _choice(t["schedule"], "training.schedule", SCHEDULES)
    if "iterations" in t:
        n = t["iterations"]
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_ITERATIONS:
            raise _fail("training.iterations", _("an integer from 1 to {high}").format(
                high=f"{MAX_ITERATIONS:,}"), n)  # fmt: skip
        out["iterations"] = n
    if "update_biases" in t:
        if not isinstance(t["update_biases"], bool):
            raise _fail("training.update_biases", _("true or false"), t["update_biases"])
        out["update_biases"] = t["update_biases"]
    unknown = sorted(set(t) - {"loss", "lr", "schedule", "iterations", "update_biases"})
    if unknown:
        raise ExampleFileError(f"training.{unknown[0]}: " + _("unknown key"))
    return out


def _check_consistent(ex: Example) -> None:
    if ex.names == "mazur" and (ex.sizes != (2, 2, 2) or ex.bias != "per-layer"):
        raise ExampleFileError("names: " + _(
            '"mazur" names only a 2-2-2 net with per-layer biases (network.sizes = [2, 2, 2], '
            'bias = "per-layer"); use "nielsen" for {sizes}').format(sizes=list(ex.sizes)))
    if ex.loss == "cross_entropy":
        if ex.activations[-1] != "sigmoid":
            raise _fail("network.activation", _("sigmoid on the output layer for cross_entropy"),
                        ex.activations[-1])  # fmt: skip
        for i, y in enumerate(ex.targets):
            if not 0.0 <= y <= 1.0:
                raise _fail(f"data.targets[{i}]", _("a number in [0, 1] for cross_entropy"), y)


def parse_example(text: str) -> Example:
    """The :class:`Example` a TOML text describes, or :class:`ExampleFileError`."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ExampleFileError(_("not valid TOML: {error}").format(error=e)) from None
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        known = ", ".join(sorted(_TOP_KEYS))
        raise ExampleFileError(f"{unknown[0]}: " + _(
            "unknown key (expected one of {known})").format(known=known))  # fmt: skip
    title = doc.get("title", "a worked example")
    if not isinstance(title, str):
        raise _fail("title", _("a string"), title)
    names = _choice(doc.get("names", "nielsen"), "names", NAME_STYLES)
    network, params = _table(doc, "network"), _table(doc, "parameters")
    data = _table(doc, "data")
    sizes = _sizes(_need(network, "network", "sizes"))
    bias = _choice(network.get("bias", "per-neuron"), "network.bias", BIAS_KINDS)
    ex = Example(
        title=title,
        names=names,
        sizes=sizes,
        activations=_activations(_need(network, "network", "activation"), len(sizes) - 1),
        bias=bias,
        weights=_weights(_need(params, "parameters", "weights"), sizes),
        biases=_biases(_need(params, "parameters", "biases"), sizes, bias),
        inputs=_vector(_need(data, "data", "inputs"), "data.inputs", sizes[0]),
        targets=_vector(_need(data, "data", "targets"), "data.targets", sizes[-1]),
        published=_published(_table(doc, "published", required=False)),
        **_training(_table(doc, "training", required=False)),
    )
    _check_consistent(ex)
    return ex
