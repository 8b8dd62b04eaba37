"""Neural networks on the engine: :class:`Module`, :class:`Neuron`, :class:`Layer`, :class:`MLP`.

A neuron computes ``act(dot(w, x) + b)`` as two nodes: the weighted input z (the seeds'
``net``, one n-ary ``dot`` node whose local derivatives are exactly ∂net/∂w = x and
∂net/∂x = w) and the activation (``out``). Stacking layers nests these functions, and
``backward`` undresses them last-applied-first — no network-specific gradient code.

Example:
    >>> from autograd_bp.nn import MLP
    >>> net = MLP(2, [3, 1], activation="tanh", seed=0)
    >>> y = net([0.5, -1.0])
    >>> y.backward()
    >>> len(net.parameters())
    13
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import reprlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write_text
from ..core.engine import Number, Value, dot

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "Layer",
    "MLP",
    "Module",
    "ModelFileError",
    "Neuron",
    "activation_name",
    "get_activation",
]

Activation = Callable[[Value], Value]
FORMAT = "autograd_bp.model"
FORMAT_VERSION = 1


def _linear(z: Value) -> Value:
    return z


# The one activation table: name -> (function, the torch.nn module class that matches it).
_ACTIVATION_TABLE: dict[str, tuple[Activation, str]] = {
    "linear": (_linear, "Identity"),
    "sigmoid": (Value.sigmoid, "Sigmoid"),
    "tanh": (Value.tanh, "Tanh"),
    "relu": (Value.relu, "ReLU"),
    "leaky_relu": (Value.leaky_relu, "LeakyReLU"),  # slope 0.01 in both
    "softplus": (Value.softplus, "Softplus"),
}
ACTIVATIONS: dict[str, Activation] = {name: fn for name, (fn, _) in _ACTIVATION_TABLE.items()}


def get_activation(activation: str | Activation) -> Activation:
    """An activation function from its name, or the callable itself.

    Example:
        >>> get_activation("tanh")(Value(0.0)).data
        0.0
    """
    if callable(activation):
        return activation
    try:
        return ACTIVATIONS[activation]
    except (KeyError, TypeError):
        known = ", ".join(ACTIVATIONS)
        raise ValueError(f"unknown activation {activation!r}; known: {known}") from None


def activation_name(activation: Activation) -> str | None:
    """The registered name of an activation function, or None for a custom callable."""
    for name, fn in ACTIVATIONS.items():
        if fn is activation:
            return name
    return None


# Initialisation schemes: (weights for one neuron, its bias) from a numpy Generator.
INITS: dict[str, Callable[[np.random.Generator, int], tuple[np.ndarray, float]]] = {
    # micrograd's: w ~ U(-1, 1), b = 0
    "uniform": lambda rng, nin: (rng.uniform(-1.0, 1.0, nin), 0.0),
    # Nielsen's network.py: w ~ N(0, 1), b ~ N(0, 1)
    "normal": lambda rng, nin: (rng.standard_normal(nin), float(rng.standard_normal())),
    # w ~ N(0, 1/nin) (standard deviation 1/sqrt(nin)), b = 0: keeps z of order 1
    "scaled_normal": lambda rng, nin: (rng.standard_normal(nin) / math.sqrt(nin), 0.0),
}


class ModelFileError(ValueError):
    """A saved model could not be read, or does not fit the model it is loaded into."""


def _param(x: Value | Number, label: str = "") -> Value:
    """Share a given Value as it is; wrap a number as a new parameter."""
    if isinstance(x, Value):
        return x
    return Value(x, label=label)


class Module:
    """Base class: a tree of sub-modules holding parameters, with PyTorch's names.

    Subclasses implement ``forward`` and ``_children`` (named sub-modules and Values).

    Example:
        >>> n = Neuron(2, seed=1)
        >>> [name for name, _ in n.named_parameters()]
        ['w.0', 'w.1', 'b']
    """

    def _children(self) -> Iterator[tuple[str, Module | Value]]:
        return iter(())

    def forward(self, x: Sequence[Value | Number]) -> Any:
        """Compute the module's output for one example ``x``."""
        raise NotImplementedError

    def __call__(self, x: Sequence[Value | Number]) -> Any:
        return self.forward(x)

    def named_parameters(self) -> list[tuple[str, Value]]:
        """(dotted name, parameter) pairs; a shared parameter is listed once, at first use.

        One scheme everywhere (PyTorch's, so saved files and ``state_dict`` keys read the
        same): ``layers.0.neurons.1.w.0`` is weight 0 of neuron 1 of layer 0 and
        ``layers.0.neurons.1.b`` its bias. ``Neuron``, ``Layer`` and ``MLP`` label their
        parameters with these names unless the user labelled them.

        Example:
            >>> net = MLP(2, [1], seed=0)
            >>> [p.label for _, p in net.named_parameters()]
            ['layers.0.neurons.0.w.0', 'layers.0.neurons.0.w.1', 'layers.0.neurons.0.b']
        """
        seen: set[int] = set()
        out: list[tuple[str, Value]] = []
        stack: list[tuple[str, Module | Value]] = [("", self)]
        while stack:  # depth-first, in declaration order
            prefix, item = stack.pop()
            if isinstance(item, Value):
                if id(item) not in seen:
                    seen.add(id(item))
                    out.append((prefix, item))
                continue
            children = [(f"{prefix}.{n}" if prefix else n, c) for n, c in item._children()]
            stack.extend(reversed(children))
        return out

    def _label_parameters(self) -> None:
        """Label every parameter with its name from :meth:`named_parameters`, so diagrams and
        explanations say ``layers.0.neurons.1.w.0``; a label the user gave is kept (a
        sub-module's automatic label is replaced by the longer name from here)."""
        inherited: set[Value] = set()
        for _, child in self._children():
            inherited |= getattr(child, "_auto_labelled", set())
        self._auto_labelled: set[Value] = set()
        for name, p in self.named_parameters():
            if not p.label or p in inherited:
                p.label = name
                self._auto_labelled.add(p)

    def parameters(self) -> list[Value]:
        """Every distinct parameter Value."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to 0.0."""
        for p in self.parameters():
            p.grad = 0.0

    # -- weights as data -----------------------------------------------------------------

    def state_dict(self) -> dict[str, float]:
        """{name: value} for every parameter (plain floats, JSON-ready)."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set every parameter from ``state``; checks everything first, so a bad state
        changes nothing."""
        if not isinstance(state, dict):
            raise ModelFileError(
                f"state must be a dict of name -> number, got {type(state).__name__}"
            )
        params = self.named_parameters()
        names = {name for name, _ in params}
        missing = sorted(names - state.keys())
        extra = sorted(state.keys() - names)
        if missing or extra:
            parts = [f"{what} {_short(keys)}" for what, keys in
                     (("missing", missing), ("unexpected", extra)) if keys]  # fmt: skip
            raise ModelFileError("state does not fit this model: " + "; ".join(parts))
        values = {name: _parameter_value(name, state[name]) for name, _ in params}
        for name, p in params:
            p.data = values[name]

    def config(self) -> dict[str, Any] | None:
        """What is needed to rebuild this module's architecture (None if not rebuildable)."""
        return None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the parameters (and architecture, when known) as JSON, atomically.

        A NaN or infinite parameter is refused (the file could not be loaded back): the
        error names it, and an existing file is left as it was.
        """
        state = self.state_dict()
        bad = [name for name, v in state.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(
                f"save: parameter {bad[0]!r} is {state[bad[0]]!r}"
                f"{f' (and {len(bad) - 1} more)' if len(bad) > 1 else ''}; "
                f"refusing to write {str(path)!r}: a model file holds finite numbers only"
            )
        doc = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "model": type(self).__name__,
            "config": self.config(),
            "state": state,
        }
        return atomic_write_text(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read parameters saved by :meth:`save`; on any error the model is unchanged.

        The file must hold this kind of model with this architecture: a file saved from
        a relu network does not load into a tanh one (rebuild it with ``MLP.from_file``).
        """
        doc = read_model_file(path)
        where = f"model file {str(path)!r}"
        saved, mine = doc.get("model"), type(self).__name__
        if saved != mine:
            raise ModelFileError(f"{where} holds a {_short(saved)}, not a {mine}")
        cfg, own = doc.get("config"), self.config()
        if isinstance(cfg, dict) and own is not None and cfg != own:
            diff = [f"{k} {_short(cfg.get(k))} (this model: {_short(own.get(k))})"
                    for k in own if cfg.get(k) != own.get(k)] or ["extra keys"]  # fmt: skip
            raise ModelFileError(
                f"{where} was saved from a different architecture: {'; '.join(diff)}; "
                f"use {mine}.from_file to rebuild the saved one"
            )
        with _naming(where):
            self.load_state_dict(doc["state"])


@contextlib.contextmanager
def _naming(where: str) -> Iterator[None]:
    """Prefix a ModelFileError raised inside with the file it is about."""
    try:
        yield
    except ModelFileError as e:
        raise ModelFileError(f"{where}: {e}") from None


def _short(x: Any) -> str:
    """A repr cut to a readable length: error messages quote what a file holds."""
    return reprlib.repr(x)


def _parameter_value(name: str, v: Any) -> float:
    """A state entry as a float: a finite real number, or a ModelFileError naming it."""
    name = _short(name)
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ModelFileError(f"parameter {name} must be a number, got {_short(v)}")
    try:
        value = float(v)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise ModelFileError(f"parameter {name} must be finite, got {v!r}")
    return value


_MAX_INT_DIGITS = 18  # no count or version in a model file needs more; also stops 10**4300


class _Refused(ValueError):
    """Raised by the JSON hooks; read_model_file turns it into a ModelFileError."""


def _refuse_constant(token: str) -> float:
    raise _Refused(f"has a non-finite number ({token}); JSON has none and a model needs none")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"has a number too large for a float ({text[:20]})")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise _Refused(f"has an integer with {len(text)} digits")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise _Refused(f"has the key {dup!r} twice")
    return doc


def _parse_model_json(text: str, where: str) -> Any:
    """json.loads, strict: finite numbers, bounded integers, unique keys, bounded depth."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float,
                          parse_int=_bounded_int, object_pairs_hook=_unique_keys)  # fmt: skip
    except json.JSONDecodeError as e:
        raise ModelFileError(f"{where} is not valid JSON (truncated or corrupt?): {e}") from None
    except _Refused as e:
        raise ModelFileError(f"{where} {e}") from None
    except RecursionError:  # the C decoder recurses once per nesting level
        raise ModelFileError(f"{where} is nested too deeply to be a model file") from None


def read_model_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse and check a saved model file; raises :class:`ModelFileError` naming the file
    and the reason, whatever is wrong with it.

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
    where = f"model file {str(path)!r}"
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise ModelFileError(f"cannot read {where}: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFileError(f"{where} is not UTF-8 text (byte {e.start}): corrupt?") from None
    doc = _parse_model_json(text, where)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(f"{where} is not an autograd_bp model file")
    if doc.get("version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{where} has format version {doc.get('version')!r}; "
            f"this autograd_bp reads version {FORMAT_VERSION}"
        )
    if not isinstance(doc.get("state"), dict):
        raise ModelFileError(f"{where} has no parameter state")
    return doc


class Neuron(Module):
    """``act(Σ w_i·x_i + b)`` with its own (or shared) parameter Values.

    ``weights``/``bias`` may be numbers (new parameters) or existing Values (shared).
    The result of the weighted sum is one ``dot`` node (the seeds' ``net``).

    Example:
        >>> b = Value(0.35, label="b1")
        >>> h1 = Neuron(2, "sigmoid", weights=[0.15, 0.20], bias=b)
        >>> round(h1([0.05, 0.10]).data, 9)
        0.593269992
    """

    def __init__(
        self,
        nin: int,
        activation: str | Activation = "tanh",
        *,
        bias: bool | Value | Number = True,
        init: str = "uniform",
        seed: int | None = None,
        weights: Sequence[Value | Number] | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        if not isinstance(nin, int) or isinstance(nin, bool) or nin < 1:
            raise ValueError(f"Neuron: nin must be a positive integer, got {nin!r}")
        self.activation = get_activation(activation)
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; known: {', '.join(INITS)}")
        w0, b0 = INITS[init](rng if rng is not None else np.random.default_rng(seed), nin)
        if weights is not None:
            if len(weights) != nin:
                raise ValueError(f"Neuron: {len(weights)} weights given for nin={nin}")
            self.w = [_param(v) for v in weights]
        else:
            self.w = [Value(float(v)) for v in w0]
        self.b: Value | None
        if bias is False:
            self.b = None
        elif bias is True:
            self.b = Value(b0)
        else:
            self.b = _param(bias)
        self._label_parameters()

    def _children(self) -> Iterator[tuple[str, Module | Value]]:
        for i, w in enumerate(self.w):
            yield f"w.{i}", w
        if self.b is not None:
            yield "b", self.b

    def net(self, x: Sequence[Value | Number]) -> Value:
        """The weighted input z = Σ w_i·x_i + b, one node (the seeds' net_h / net_o)."""
        if len(x) != len(self.w):
            raise ValueError(f"Neuron: expected {len(self.w)} inputs, got {len(x)}")
        if self.b is None:
            return dot(self.w, x)
        return dot([*self.w, self.b], [*x, 1.0])

    def forward(self, x: Sequence[Value | Number]) -> Value:
        """act(net(x))."""
        return self.activation(self.net(x))

    def __repr__(self) -> str:
        name = activation_name(self.activation) or getattr(self.activation, "__name__", "custom")
        return f"Neuron({len(self.w)}, {name!r})"


class Layer(Module):
    """``nout`` neurons reading the same inputs.

    Calling a layer with one neuron returns a Value, otherwise a list of Values.
    ``weights`` is nested ``[neuron][input]``; ``biases`` a list (one per neuron; repeat a
    Value to share it) or a single Value/number shared by all neurons.

    Example:
        >>> layer = Layer(2, 3, "relu", seed=0)
        >>> len(layer([1.0, 2.0])), len(layer.parameters())
        (3, 9)
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str | Activation = "tanh",
        *,
        bias: bool = True,
        init: str = "uniform",
        seed: int | None = None,
        weights: Sequence[Sequence[Value | Number]] | None = None,
        biases: Sequence[Value | Number] | Value | Number | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        if not isinstance(nout, int) or isinstance(nout, bool) or nout < 1:
            raise ValueError(f"Layer: nout must be a positive integer, got {nout!r}")
        if weights is not None and len(weights) != nout:
            raise ValueError(f"Layer: {len(weights)} weight rows given for nout={nout}")
        if biases is not None and not isinstance(biases, (Value, int, float)):
            if len(biases) != nout:
                raise ValueError(f"Layer: {len(biases)} biases given for nout={nout}")
        if isinstance(biases, (int, float)):
            biases = Value(biases)  # one number for the layer: one parameter, shared
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.neurons = [
            Neuron(
                nin,
                activation,
                bias=_bias_for(biases, j, bias),
                init=init,
                weights=None if weights is None else weights[j],
                rng=rng,
            )
            for j in range(nout)
        ]
        self._label_parameters()

    def _children(self) -> Iterator[tuple[str, Module | Value]]:
        for j, n in enumerate(self.neurons):
            yield f"neurons.{j}", n

    def forward(self, x: Sequence[Value | Number]) -> Value | list[Value]:
        """Each neuron's output; a single Value when the layer has one neuron."""
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def __repr__(self) -> str:
        return f"Layer([{', '.join(map(repr, self.neurons))}])"


def _bias_for(biases: Any, j: int, bias: bool) -> bool | Value | Number:
    if biases is None:
        return bias
    if isinstance(biases, (Value, int, float)):
        return biases
    return biases[j]


class MLP(Module):
    """A multi-layer perceptron: ``MLP(nin, [h1, ..., nout])``.

    ``activation`` applies to hidden layers and ``output_activation`` to the last; pass a
    list as ``activation`` to set every layer's (its length must equal ``len(nouts)``).
    ``weights``/``biases`` give explicit parameters per layer (see :class:`Layer`).

    Example:
        >>> net = MLP(2, [2, 2], activation="sigmoid", output_activation="sigmoid",
        ...           weights=[[[0.15, 0.2], [0.25, 0.3]], [[0.4, 0.45], [0.5, 0.55]]],
        ...           biases=[0.35, 0.6])
        >>> [round(o.data, 9) for o in net([0.05, 0.1])]
        [0.75136507, 0.772928465]
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str | Activation | Sequence[str | Activation] = "tanh",
        output_activation: str | Activation = "linear",
        *,
        init: str = "uniform",
        seed: int | None = None,
        bias: bool = True,
        weights: Sequence[Any] | None = None,
        biases: Sequence[Any] | None = None,
    ) -> None:
        nouts = [int(n) if isinstance(n, np.integer) else n for n in nouts]  # JSON-ready
        nin = int(nin) if isinstance(nin, np.integer) else nin
        self.nin, self.nouts, self.init, self.bias = nin, nouts, init, bias
        if not nouts:
            raise ValueError("MLP: nouts must list at least one layer size")
        if isinstance(activation, (list, tuple)):
            if len(activation) != len(nouts):
                raise ValueError(
                    f"MLP: {len(activation)} activations given for {len(nouts)} layers"
                )
            acts = list(activation)
        else:
            get_activation(activation)  # type: ignore[arg-type] # a str or callable here: checked above
            acts = [activation] * (len(nouts) - 1) + [output_activation]
        for given, what in ((weights, "weight"), (biases, "bias")):
            if given is not None and len(given) != len(nouts):
                raise ValueError(f"MLP: {len(given)} {what} entries given for {len(nouts)} layers")
        rng = np.random.default_rng(seed)
        sizes = [nin, *nouts]
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                acts[i],
                bias=bias,
                init=init,
                weights=None if weights is None else weights[i],
                biases=None if biases is None else biases[i],
                rng=rng,
            )
            for i in range(len(nouts))
        ]
        self._label_parameters()

    def _children(self) -> Iterator[tuple[str, Module | Value]]:
        for i, layer in enumerate(self.layers):
            yield f"layers.{i}", layer

    def forward(self, x: Sequence[Value | Number]) -> Value | list[Value]:
        """Feed one example through every layer (T(G(S(F(x)))) for two layers)."""
        if len(x) != self.nin:
            raise ValueError(f"MLP: expected {self.nin} inputs, got {len(x)}")
        out: Any = x
        for layer in self.layers:
            out = layer(out)
            if isinstance(out, Value):
                out = [out]
        return out[0] if len(out) == 1 else out

    @property
    def activations(self) -> list[Activation]:
        """Each layer's activation function."""
        return [layer.neurons[0].activation for layer in self.layers]

    def weight_matrices(self) -> list[list[list[float]]]:
        """Per layer, the weights as nested floats ``[neuron][input]`` (Nielsen's w^l)."""
        return [[[w.data for w in n.w] for n in layer.neurons] for layer in self.layers]

    def bias_vectors(self) -> list[list[float]]:
        """Per layer, each neuron's bias (0.0 where a neuron has none)."""
        return [[n.b.data if n.b else 0.0 for n in layer.neurons] for layer in self.layers]

    def config(self) -> dict[str, Any] | None:
        """nin, nouts and activation names; None if an activation is a custom callable."""
        names = [activation_name(a) for a in self.activations]
        if None in names:
            return None
        return {"nin": self.nin, "nouts": self.nouts, "activations": names, "bias": self.bias}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> MLP:
        """Rebuild an MLP (architecture and weights) from a file written by :meth:`save`."""
        doc = read_model_file(path)
        where = f"model file {str(path)!r}"
        cfg = doc.get("config")
        if doc.get("model") != "MLP" or not isinstance(cfg, dict):
            raise ModelFileError(f"{where} holds no MLP architecture")
        with _naming(where):
            nin, nouts, acts, bias = _checked_mlp_config(cfg, len(doc["state"]))
            net = cls(nin, nouts, acts, bias=bias)  # small: its size matched the state's
            net.load_state_dict(doc["state"])
        return net

    # -- the PyTorch bridge --------------------------------------------------------------

    def to_torch(self) -> Any:
        """An equivalent float64 ``torch.nn.Sequential`` with the same weights.

        Shared biases become separate copies in torch; their gradients there sum to ours.
        """
        from .._io import require

        torch = require("torch", "torch")
        modules = []
        for layer, act in zip(self.layers, self.activations):
            n_in, n_out = len(layer.neurons[0].w), len(layer.neurons)
            linear = torch.nn.Linear(n_in, n_out, bias=self.bias, dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(
                    torch.tensor(
                        [[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64
                    )
                )
                if self.bias:
                    linear.bias.copy_(
                        torch.tensor([n.b.data for n in layer.neurons if n.b is not None],
                                     dtype=torch.float64)  # fmt: skip
                    )
            modules.append(linear)
            modules.append(_torch_activation(torch, act))
        return torch.nn.Sequential(*modules)

    @classmethod
    def from_torch(cls, module: Any) -> MLP:
        """Read a ``torch.nn.Sequential`` of ``Linear`` layers and activations back."""
        torch = __import__("torch")
        linears: list[Any] = []
        acts: list[str] = []
        for m in module:
            if isinstance(m, torch.nn.Linear):
                linears.append(m)
                acts.append("linear")
            else:
                name = _activation_from_torch(m)
                if name is None or not linears or acts[-1] != "linear":
                    raise ValueError(f"from_torch: cannot map module {m!r}")
                acts[-1] = name
        if not linears:
            raise ValueError("from_torch: the module has no Linear layers")
        has_bias = all(lin.bias is not None for lin in linears)
        weights = [lin.weight.detach().double().tolist() for lin in linears]
        biases = [lin.bias.detach().double().tolist() for lin in linears] if has_bias else None
        return cls(
            linears[0].in_features,
            [lin.out_features for lin in linears],
            acts,
            bias=has_bias,
            weights=weights,
            biases=biases,
        )

    def __repr__(self) -> str:
        return f"MLP({self.nin}, {self.nouts})"


def _checked_mlp_config(
    cfg: dict[str, Any], n_state: int
) -> tuple[int, list[int], list[str], bool]:
    """A saved MLP config's (nin, nouts, activations, bias), every field checked, and its
    parameter count compared with the state's *before* anything is built: a 700-byte file
    claiming ``"nin": 100000000`` is refused, not allocated."""
    nin, nouts, acts, bias = (cfg.get(k) for k in ("nin", "nouts", "activations", "bias"))
    if not isinstance(nin, int) or not isinstance(nouts, list) or not nouts:
        raise ModelFileError(f"bad architecture: nin {_short(nin)}, nouts {_short(nouts)}")
    sizes = [nin, *nouts]
    if not all(type(n) is int and n >= 1 for n in sizes):
        raise ModelFileError(f"bad architecture: nin {_short(nin)}, nouts {_short(nouts)}")
    if (
        not isinstance(acts, list)
        or len(acts) != len(nouts)
        or not all(isinstance(a, str) and a in ACTIVATIONS for a in acts)
    ):
        raise ModelFileError(
            f"bad architecture: activations {_short(acts)} for {len(nouts)} layers"
        )
    if not isinstance(bias, bool):
        raise ModelFileError(f"bad architecture: bias {_short(bias)}")
    count = sum((a + bias) * b for a, b in zip(sizes, sizes[1:]))
    if count != n_state:
        raise ModelFileError(
            f"architecture MLP({nin}, {_short(nouts)}) has {count} parameters "
            f"but the state has {n_state}"
        )
    return nin, nouts, acts, bias


def _torch_activation(torch: Any, act: Activation) -> Any:
    name = activation_name(act)
    if name is None:
        raise ValueError("to_torch: a custom activation callable has no torch equivalent")
    return getattr(torch.nn, _ACTIVATION_TABLE[name][1])()  # LeakyReLU's default slope: 0.01


def _activation_from_torch(module: Any) -> str | None:
    """The activation name of a torch.nn module, or None if it is not one we have."""
    kind = type(module).__name__
    if kind == "LeakyReLU" and module.negative_slope != 0.01:
        return None
    return next((n for n, (_, t) in _ACTIVATION_TABLE.items() if t == kind), None)
