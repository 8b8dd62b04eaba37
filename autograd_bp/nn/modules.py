"""Neural networks on the engine: :class:`Module`, :class:`Neuron`, :class:`Layer`, :class:`MLP`.

A neuron computes ``act(dot(w, x) + b)`` as two nodes: the weighted input z (the seeds'
``net``, one n-ary ``dot`` node whose local derivatives are exactly ∂net/∂w = x and
∂net/∂x = w) and the activation (``out``). Stacking layers nests these functions, and
``backward`` undresses them last-applied-first — no network-specific gradient code.
Saving and loading go through :mod:`autograd_bp.nn.model_file`, which owns the file format.

Example:
    >>> from autograd_bp.nn import MLP
    >>> net = MLP(2, [3, 1], activation="tanh", seed=0)
    >>> y = net([0.5, -1.0])
    >>> y.backward()
    >>> len(net.parameters())
    13
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.engine import Number, Value, dot
from ..locale import _
from .model_file import (
    ModelFileError,
    about_file,
    checked_mlp_config,
    load_state,
    read_model_file,
    saved_state_for,
    write_model_file,
)
from .notation import parameter_names

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
    # micrograd's exactly: w_i = random.uniform(-1, 1) from Python's own generator, drawn in
    # micrograd's order, so random.seed(s) gives micrograd's weights (the seed is ignored)
    "micrograd": lambda rng, nin: (np.array([random.uniform(-1, 1) for _ in range(nin)]), 0.0),
}


def _micrograd_activation(activation: Any, nonlin: bool | None, init: str) -> Any:
    """The activation from micrograd's ``nonlin`` (True: relu, False: linear) or ours; with
    neither given, micrograd's relu under ``init="micrograd"``, else tanh."""
    if isinstance(activation, bool):  # micrograd's Neuron(nin, True): nonlin, positionally
        activation, nonlin = None, activation
    if nonlin is not None:
        if activation is not None:
            raise ValueError("give activation or micrograd's nonlin, not both")
        if not isinstance(nonlin, bool):
            raise TypeError(f"nonlin must be True or False, got {type(nonlin).__name__}")
        return "relu" if nonlin else "linear"
    if activation is None:
        return "relu" if init == "micrograd" else "tanh"
    return activation


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
        ``layers.0.neurons.1.b`` its bias. ``Neuron`` and ``Layer`` label their parameters
        with these names unless the user labelled them; ``MLP`` with Nielsen's
        (:mod:`autograd_bp.nn.notation`): w²₁₁ is ``w2_1_1``.

        Example:
            >>> net = MLP(2, [1], seed=0)
            >>> [(name, p.label) for name, p in net.named_parameters()][:2]
            [('layers.0.neurons.0.w.0', 'w2_1_1'), ('layers.0.neurons.0.w.1', 'w2_1_2')]
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

    def _parameter_labels(self) -> list[tuple[str, Value]]:
        """The label each parameter gets unless the user gave one: its dotted name (an
        :class:`MLP` uses Nielsen's names instead)."""
        return self.named_parameters()

    def _label_parameters(self) -> None:
        """Label every parameter with its name from :meth:`_parameter_labels`, so diagrams
        and explanations say ``w.0`` (an MLP's: ``w2_1_1``); a label the user gave is kept (a
        sub-module's automatic label is replaced by the name from here)."""
        inherited: set[Value] = set()
        for _label, child in self._children():
            inherited |= getattr(child, "_auto_labelled", set())
        self._auto_labelled: set[Value] = set()
        for name, p in self._parameter_labels():
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
        load_state(self.named_parameters(), state)

    def config(self) -> dict[str, Any] | None:
        """What is needed to rebuild this module's architecture (None if not rebuildable)."""
        return None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the parameters (and architecture, when known) as JSON, atomically.

        A NaN or infinite parameter is refused (the file could not be loaded back): the
        error names it, and an existing file is left as it was. A symlink is written
        through (the link stays a link); a FIFO, a device, a directory or a dangling or
        looping link is refused with an ``OSError`` naming the path and what it is.
        The file format: :mod:`autograd_bp.nn.model_file`.
        """
        return write_model_file(path, type(self).__name__, self.config(), self.state_dict())

    def load(self, path: str | os.PathLike[str]) -> None:
        """Read parameters saved by :meth:`save`; on any error the model is unchanged.

        The file must hold this kind of model with this architecture: a file saved from
        a relu network does not load into a tanh one (rebuild it with ``MLP.from_file``).
        Only a regular file of at most ``MAX_MODEL_BYTES`` (64 MiB) is read; anything else
        (a FIFO, ``/dev/zero``, a directory) raises :class:`ModelFileError` without blocking.
        """
        state = saved_state_for(path, type(self).__name__, self.config())
        with about_file(path):
            self.load_state_dict(state)


class Neuron(Module):
    """``act(Σ w_i·x_i + b)`` with its own (or shared) parameter Values.

    ``weights``/``bias`` may be numbers (new parameters) or existing Values (shared).
    The result of the weighted sum is one ``dot`` node (the seeds' ``net``).

    Example:
        >>> b = Value(0.35, label="b1")
        >>> h1 = Neuron(2, "sigmoid", weights=[0.15, 0.20], bias=b)
        >>> round(h1([0.05, 0.10]).data, 9)
        0.593269992

    micrograd's ``Neuron(nin, nonlin=True)`` works too: ``nonlin`` True is relu, False linear.
    """

    def __init__(
        self,
        nin: int,
        activation: str | Activation | None = None,
        *,
        nonlin: bool | None = None,
        bias: bool | Value | Number = True,
        init: str = "uniform",
        seed: int | None = None,
        weights: Sequence[Value | Number] | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        if not isinstance(nin, int) or isinstance(nin, bool) or nin < 1:
            raise ValueError(f"Neuron: nin must be a positive integer, got {nin!r}")
        self.activation = get_activation(_micrograd_activation(activation, nonlin, init))
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

    micrograd's ``Layer(nin, nout, nonlin=False)`` works too (see :class:`Neuron`).
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str | Activation | None = None,
        *,
        nonlin: bool | None = None,
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
        activation = _micrograd_activation(activation, nonlin, init)
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

    ``init="micrograd"`` is micrograd's ``MLP(nin, nouts)``: relu hidden layers, a linear
    last one, and the weights micrograd draws after the same ``random.seed``:

        >>> random.seed(1337); net = MLP(2, [16, 16, 1], init="micrograd")
        >>> round(net.layers[0].neurons[0].w[0].data, 6), net.activations[0].__name__
        (0.235506, 'relu')
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str | Activation | Sequence[str | Activation] | None = None,
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
            activation = _micrograd_activation(activation, None, init)
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

    def _parameter_labels(self) -> list[tuple[str, Value]]:
        return parameter_names(self.layers)  # Nielsen's w2_1_1, b2_1 (b2: shared by the layer)

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
        """Rebuild an MLP (architecture and weights) from a file written by :meth:`save`;
        a file that is not one raises :class:`ModelFileError` (see :meth:`Module.load`)."""
        doc = read_model_file(path)
        cfg = doc.get("config")
        if doc.get("model") != "MLP" or not isinstance(cfg, dict):
            raise ModelFileError(_("model file {path} holds no MLP architecture").format(
                path=repr(str(path))))
        with about_file(path):
            arch = checked_mlp_config(cfg, len(doc["state"]), list(ACTIVATIONS))
            net = cls(arch.nin, arch.nouts, arch.activations, bias=arch.bias)  # small: checked
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
