"""The same workloads written for each engine: autograd_bp, micrograd 0.1.0, PyTorch 0-d
float64 tensors (and, as a reference row, PyTorch batched)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograd_bp import Value, sum_values
from autograd_bp.nn import MLP
from autograd_bp.nn.train import gc_paused


def _chain(x: Any, n: int) -> tuple[Any, Any]:
    """x → x·1.0001 + 0.0001, n times, in whatever engine x belongs to."""
    y = x
    for _ in range(n):
        y = y * 1.0001 + 0.0001
    return x, y


def chain_ours(n: int) -> tuple[Any, Any]:
    return _chain(Value(1.0), n)


def chain_micrograd(n: int) -> tuple[Any, Any]:
    from micrograd.engine import Value as MValue

    return _chain(MValue(1.0), n)


def chain_torch(n: int) -> tuple[Any, Any]:
    import torch

    return _chain(torch.tensor(1.0, dtype=torch.float64, requires_grad=True), n)


@dataclass
class DagSpec:
    """A random DAG with reuse: leaves, then n ops (+, ×, tanh) on earlier nodes."""

    leaves: list[float]
    ops: list[tuple[int, int, int]]  # (kind, a, b): 0 add, 1 mul, 2 tanh(a)


def dag_spec(n: int, seed: int = 0, n_leaves: int = 100, window: int = 500) -> DagSpec:
    rng = random.Random(seed)
    leaves = [rng.uniform(-1, 1) for _ in range(n_leaves)]
    ops = []
    for i in range(n):
        size = n_leaves + i
        lo = max(0, size - window)  # operands from the recent past: deep and wide
        ops.append((rng.randrange(3), rng.randrange(lo, size), rng.randrange(lo, size)))
    return DagSpec(leaves, ops)


def build_dag(spec: DagSpec, leaf, tanh, total) -> tuple[list, Any]:
    nodes = [leaf(v) for v in spec.leaves]
    leaves = list(nodes)
    append = nodes.append
    for kind, a, b in spec.ops:
        if kind == 0:
            append(nodes[a] + nodes[b])
        elif kind == 1:
            append(nodes[a] * nodes[b])
        else:
            append(tanh(nodes[a]))
    return leaves, total(nodes[-100:])


def dag_ours(spec: DagSpec):
    return build_dag(spec, Value, Value.tanh, sum_values)


def dag_micrograd(spec: DagSpec):
    from micrograd.engine import Value as MValue

    return build_dag(spec, MValue, _micrograd_tanh(), sum)


def _micrograd_tanh():
    """micrograd 0.1.0's Value has no tanh; add the lecture's one-node version, with the
    same closure style as its other ops, so the DAG has the same shape in both engines."""
    import math

    from micrograd.engine import Value as MValue

    def tanh(self):
        t = math.tanh(self.data)
        out = MValue(t, (self,), "tanh")

        def _backward():
            self.grad += (1 - t * t) * out.grad

        out._backward = _backward
        return out

    return tanh


def dag_torch(spec: DagSpec):
    import torch

    return build_dag(
        spec,
        lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True),
        torch.tanh,
        lambda xs: torch.stack(xs).sum(),
    )


# ------------------------------------------------------------------------------ MLP step


@dataclass
class MlpSpec:
    """MLP(2, [16, 16, 1]) weights (micrograd's init), 100 points, labels ±1."""

    weights: list[list[list[float]]]
    X: list[list[float]]
    y: list[int]


def mlp_spec(seed: int = 0, sizes=(2, 16, 16, 1), n_points: int = 100) -> MlpSpec:
    rng = random.Random(seed)
    weights = [[[rng.uniform(-1, 1) for _ in range(sizes[i])] for _ in range(sizes[i + 1])]
               for i in range(len(sizes) - 1)]  # fmt: skip
    from autograd_bp.nn.datasets import moons

    X, y = moons(n_points, 0.1, seed=seed, signed=True)
    return MlpSpec(weights, X.tolist(), y.tolist())


LR = 0.05


def mlp_ours(spec: MlpSpec):
    sizes = [len(spec.weights[0][0])] + [len(w) for w in spec.weights]
    net = MLP(sizes[0], sizes[1:], activation="relu",
              weights=spec.weights, biases=[[0.0] * len(w) for w in spec.weights])  # fmt: skip

    def step() -> None:  # the collector as the timing sets it, for every engine alike
        losses = [(1.0 - net(x) * float(t)).relu() for x, t in zip(spec.X, spec.y)]
        loss = sum_values(losses) * (1.0 / len(losses))
        net.zero_grad()
        loss.backward()
        for p in params:
            p.data -= LR * p.grad

    params = net.parameters()
    return net, step, lambda: [p.grad for p in params]


def mlp_compiled(spec: MlpSpec):
    """The same step through autograd_bp.compiled: trace once, replay the batch with numpy."""
    from autograd_bp.compiled import compile_loss
    from autograd_bp.losses import hinge

    sizes = [len(spec.weights[0][0])] + [len(w) for w in spec.weights]
    net = MLP(sizes[0], sizes[1:], activation="relu",
              weights=spec.weights, biases=[[0.0] * len(w) for w in spec.weights])  # fmt: skip
    params = net.parameters()
    X, T = np.array(spec.X), np.array(spec.y, dtype=float)[:, None]
    compiled = compile_loss(net, hinge, X, T)

    def step() -> None:
        for p in params:
            p.grad = 0.0
        compiled.step(X, T)
        for p in params:
            p.data -= LR * p.grad

    return net, step, lambda: [p.grad for p in params]


def mlp_micrograd(spec: MlpSpec):
    import micrograd.nn

    return micrograd_mlp_step(micrograd.nn.MLP, spec)


def micrograd_mlp_step(mlp_class: Any, spec: MlpSpec):
    """The MLP step on micrograd's nn.py ``MLP`` class (micrograd's own, or its nn.py run on
    another Value): the spec's weights, zero biases, hinge loss, one SGD update."""
    sizes = [len(spec.weights[0][0])] + [len(w) for w in spec.weights]
    net = mlp_class(sizes[0], sizes[1:])
    for layer, W in zip(net.layers, spec.weights):
        for neuron, row in zip(layer.neurons, W):
            for p, v in zip(neuron.w, row):
                p.data = v
            neuron.b.data = 0.0
    params = net.parameters()

    def step() -> None:
        losses = [(1 + -net(x) * t).relu() for x, t in zip(spec.X, spec.y)]
        loss = sum(losses) * (1.0 / len(losses))
        net.zero_grad()
        loss.backward()
        for p in params:
            p.data -= LR * p.grad

    # micrograd lists each neuron's weights then its bias; ours the same order
    return net, step, lambda: [p.grad for p in params]


def _torch_scalar_mlp(weights):
    """An MLP of 0-d float64 tensors (ReLU hidden, linear output), built op by op like the
    scalar engines: (parameters, forward(x) -> list of outputs)."""
    import torch

    def t(v):
        return torch.tensor(v, dtype=torch.float64, requires_grad=True)

    layers = [[([t(v) for v in row], t(0.0)) for row in W] for W in weights]
    params = [p for layer in layers for ws, b in layer for p in [*ws, b]]

    def forward(x):
        a = [torch.tensor(v, dtype=torch.float64) for v in x]
        for k, layer in enumerate(layers):
            out = []
            for ws, b in layer:
                z = b
                for w, v in zip(ws, a):
                    z = z + w * v
                out.append(torch.relu(z) if k < len(layers) - 1 else z)
            a = out
        return a

    return params, forward


def _torch_sgd(loss: Any, params: list, lr: float) -> None:
    """Fresh gradients of ``loss``, then p ← p − lr·∂loss/∂p."""
    import torch

    for p in params:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad


def mlp_torch_scalar(spec: MlpSpec):
    import torch

    params, forward = _torch_scalar_mlp(spec.weights)

    def step() -> None:
        losses = [torch.relu(1.0 - forward(x)[0] * float(y)) for x, y in zip(spec.X, spec.y)]
        _torch_sgd(sum(losses) * (1.0 / len(losses)), params, LR)

    return params, step, lambda: [p.grad.item() for p in params]


def mlp_torch_batched(spec: MlpSpec):
    import torch

    Ws = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in spec.weights]
    bs = [torch.zeros(len(W), dtype=torch.float64, requires_grad=True) for W in spec.weights]
    X = torch.tensor(spec.X, dtype=torch.float64)
    y = torch.tensor(spec.y, dtype=torch.float64)

    def step() -> None:
        a = X
        for k, (W, b) in enumerate(zip(Ws, bs)):
            a = a @ W.T + b
            if k < len(Ws) - 1:
                a = torch.relu(a)
        loss = torch.relu(1.0 - a[:, 0] * y).mean()
        for p in (*Ws, *bs):
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in (*Ws, *bs):
                p -= LR * p.grad

    def grads():
        out = []
        for W, b in zip(Ws, bs):
            for j in range(W.shape[0]):
                out += [*W.grad[j].tolist(), b.grad[j].item()]
        return out

    return None, step, grads


# --------------------------------------------------------------------------- digits epoch


def digits_data(n: int | None):
    from autograd_bp.nn.datasets import digits

    X_train, _, y_train, _ = digits(0.2, seed=0)
    if n:
        X_train, y_train = X_train[:n], y_train[:n]
    onehot = np.eye(10)[y_train]
    rng = random.Random(0)
    W = [[[rng.uniform(-0.3, 0.3) for _ in range(64)] for _ in range(32)],
         [[rng.uniform(-0.3, 0.3) for _ in range(32)] for _ in range(10)]]  # fmt: skip
    return X_train.tolist(), onehot.tolist(), W


def digits_epoch_ours(data, batch: int = 32, lr: float = 0.1):
    X, Y, W = data
    net = MLP(64, [32, 10], activation="relu", weights=W, biases=[[0.0] * 32, [0.0] * 10])
    params = net.parameters()
    with gc_paused():
        for lo in range(0, len(X), batch):
            losses = []
            for x, t in zip(X[lo : lo + batch], Y[lo : lo + batch]):
                out = net(x)
                losses.append(sum_values([(o - v) ** 2 for o, v in zip(out, t)]) * 0.5)
            loss = sum_values(losses) * (1.0 / len(losses))
            net.zero_grad()
            loss.backward()
            for p in params:
                p.data -= lr * p.grad


def digits_compiled_training(epochs: int = 30):
    """Full digits training on the compiled tape: (seconds, test accuracy)."""
    import time

    from autograd_bp.nn.datasets import digits
    from autograd_bp.nn.train import evaluate, fit
    from autograd_bp.optim import Adam

    X_train, X_test, y_train, y_test = digits(0.2, seed=0)
    net = MLP(64, [32, 10], activation="tanh", init="scaled_normal", seed=0)
    start = time.perf_counter()
    fit(net, X_train, y_train, loss="cross_entropy", optimizer=Adam(net.parameters(), lr=0.01),
        epochs=epochs, batch_size=32, progress=False, compiled=True)  # fmt: skip
    return time.perf_counter() - start, evaluate(net, X_test, y_test)


def digits_epoch_micrograd(data, batch: int = 32, lr: float = 0.1):
    from micrograd.nn import MLP as MMLP

    X, Y, W = data
    net = MMLP(64, [32, 10])
    for layer, Wl in zip(net.layers, W):
        for neuron, row in zip(layer.neurons, Wl):
            for p, v in zip(neuron.w, row):
                p.data = v
    params = net.parameters()
    for lo in range(0, len(X), batch):
        losses = []
        for x, t in zip(X[lo : lo + batch], Y[lo : lo + batch]):
            out = net(x)
            losses.append(sum((o - v) ** 2 for o, v in zip(out, t)) * 0.5)
        loss = sum(losses) * (1.0 / len(losses))
        net.zero_grad()
        loss.backward()
        for p in params:
            p.data -= lr * p.grad


def digits_epoch_torch(data, batch: int = 32, lr: float = 0.1):

    X, Y, W = data
    params, forward = _torch_scalar_mlp(W)
    for lo in range(0, len(X), batch):
        losses = []
        for x, target in zip(X[lo : lo + batch], Y[lo : lo + batch]):
            out = forward(x)
            losses.append(sum((o - v) ** 2 for o, v in zip(out, target)) * 0.5)
        _torch_sgd(sum(losses) * (1.0 / len(losses)), params, lr)


# ------------------------------------------------------------------- tiny transformer


def _transformer_module():
    """examples/transformer.py (not a package: loaded from its path)."""
    import importlib.util
    import sys
    from pathlib import Path

    name = "autograd_bp_example_transformer"
    if name not in sys.modules:
        path = Path(__file__).resolve().parent.parent / "examples" / "transformer.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def micrograd_engine():
    """The transformer's Engine on micrograd 0.1.0's closure-per-node Value, extended
    with exp and log in its own style (one node and one closure per op); sums are its
    chains of ``+``, the log-sum-exp subtracts the max as a constant, as one writes it
    there."""
    import math

    from micrograd.engine import Value as MValue

    def exp(self):
        out = MValue(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self):
        out = MValue(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += (1.0 / self.data) * out.grad

        out._backward = _backward
        return out

    def logsumexp(zs):
        m = max(z.data for z in zs)
        return log(sum(exp(z - m) for z in zs)) + m

    T = _transformer_module()
    return T.Engine(MValue, sum, lambda w, x: sum(a * b for a, b in zip(w, x)), exp, logsumexp)


def transformer_train(engine: Any, steps: int, after_step: Any = None) -> list[float]:
    """``examples/transformer.py``'s ``train`` loop, step for step, calling ``after_step()``
    after each step (the timing's collection, where it asks for one): the losses."""
    T = _transformer_module()
    cfg = T.Config()
    chars = T.vocabulary()
    P = T.as_values(T.init_weights(len(chars), cfg, 0), engine)
    params = [p for W in P.values() for row in W for p in row]
    state = [np.zeros(len(params)), np.zeros(len(params))]
    losses = []
    for step, (x, y) in enumerate(T.windows(T.CORPUS, chars, cfg.block, steps, 0), start=1):
        out = T.loss(x, y, P, cfg, engine)
        for p in params:
            p.grad = 0.0
        out.backward()
        T.adam(params, state, step)
        losses.append(out.data)
        del out
        if after_step is not None:
            after_step()
    return losses


def transformer_ours(steps: int, after_step: Any = None) -> list[float]:
    return transformer_train(_transformer_module().AUTOGRAD_BP, steps, after_step)


def transformer_micrograd(steps: int, after_step: Any = None) -> list[float]:
    return transformer_train(micrograd_engine(), steps, after_step)


# ---------------------------------------------------- scaling: compiled tape vs batched torch


def _squared(out: Any, target: Any) -> Any:
    d = out - target
    return d * d


def scaling_ours(width: int, batch: int, sync: bool = False):
    """MLP(3, [w, w, 1]) tanh, squared loss, forward + backward on the compiled tape:
    (step, gradients). ``sync=False`` keeps the parameters as one vector (as PyTorch keeps
    tensors); ``sync=True`` also reads every ``.data`` and adds to every ``.grad``."""
    from autograd_bp.compiled import compile_loss

    X, T = _scaling_data(batch)
    net = MLP(3, [width, width, 1], activation="tanh", seed=0)
    compiled = compile_loss(net, _squared, X[:2], T[:2])
    f = compiled.compiled

    def step() -> None:
        compiled.step(X, T, sync=sync)

    def grads() -> list[float]:
        return f.flat_grad.tolist()

    return step, grads, net, f.parameters


def _scaling_data(batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(batch)
    X = rng.normal(size=(batch, 3))
    return X, np.sin(X.sum(axis=1, keepdims=True))


def scaling_torch(net: MLP, batch: int):
    """The same network and loss written batched in PyTorch (float64): (step, gradients
    in the tape's parameter order given by ``order``)."""
    import torch

    X, T = (torch.tensor(a) for a in _scaling_data(batch))
    Ws = [torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64,
                       requires_grad=True) for layer in net.layers]  # fmt: skip
    bs = [torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64,
                       requires_grad=True) for layer in net.layers]  # fmt: skip

    def step() -> None:
        a = X
        for k, (W, b) in enumerate(zip(Ws, bs)):
            a = torch.addmm(b, a, W.T)
            if k < len(Ws) - 1:
                a = torch.tanh(a)
        loss = ((a - T) ** 2).mean()
        for p in (*Ws, *bs):
            p.grad = None
        loss.backward()

    def grads() -> dict[int, float]:  # id(parameter Value) -> gradient
        out = {}
        for layer, W, b in zip(net.layers, Ws, bs):
            for j, n in enumerate(layer.neurons):
                for i, w in enumerate(n.w):
                    out[id(w)] = W.grad[j, i].item()
                out[id(n.b)] = b.grad[j].item()
        return out

    return step, grads


def scaling_gemm(width: int, batch: int):
    """The hidden layer's matrix product alone, (w × w) @ (w × batch), in numpy and in
    PyTorch: how much of the compiled / PyTorch ratio is the BLAS each library calls."""
    import torch

    rng = np.random.default_rng(width)
    W, S = rng.normal(size=(width, width)), rng.normal(size=(width, batch))
    out = np.empty((width, batch))
    Wt, St = torch.tensor(W), torch.tensor(S)

    def numpy_matmul() -> None:
        np.matmul(W, S, out=out)

    def torch_matmul() -> None:
        torch.mm(Wt, St)

    return numpy_matmul, torch_matmul


# ------------------------------------------------- a random scalar graph, one example at a time


@dataclass
class RandomGraph:
    """n ops (+, −, ×, tanh, sigmoid, sin) on random earlier nodes over 10 inputs and 50
    parameters; × reads only bounded nodes, so nothing overflows."""

    ops: list[tuple[int, int, int]]
    n_inputs: int = 10
    n_params: int = 50


def random_graph(n: int = 10_000, seed: int = 0) -> RandomGraph:
    rng = random.Random(seed)
    spec = RandomGraph([])
    leaves = spec.n_inputs + spec.n_params
    bounded = list(range(leaves))
    for i in range(n):
        size = leaves + i
        kind = rng.randrange(6)
        if kind == 1 and i >= leaves:
            a, b = rng.choice(bounded), rng.choice(bounded)
        else:
            a, b = (i if i < leaves else rng.randrange(size)), rng.randrange(size)
        spec.ops.append((kind, a, b))
        if kind in (2, 3, 5):
            bounded.append(size)
    return spec


def build_random_graph(spec: RandomGraph, leaves: list[Value]) -> Value:
    nodes = list(leaves)
    append = nodes.append
    for kind, a, b in spec.ops:
        x, y = nodes[a], nodes[b]
        if kind == 0:
            append(x + y)
        elif kind == 1:
            append(x * y)
        elif kind == 2:
            append(x.tanh())
        elif kind == 3:
            append(x.sigmoid())
        elif kind == 4:
            append(x - y)
        else:
            append(x.sin())
    return sum_values(nodes[-100:])


def random_graph_runs(spec: RandomGraph, n_examples: int = 20):
    """(dynamic run, compiled run, gradient agreement): each run does forward + backward
    of every example, one at a time."""
    from autograd_bp import compile

    rng = np.random.default_rng(0)
    params = [Value(v) for v in rng.uniform(-1, 1, spec.n_params)]
    X = rng.uniform(-1, 1, (n_examples, spec.n_inputs))
    f = compile(lambda *xs: build_random_graph(spec, [*xs, *params]), X[0])

    def dynamic() -> list[float]:
        for p in params:
            p.grad = 0.0
        with gc_paused():
            for x in X.tolist():
                build_random_graph(spec, [*map(Value, x), *params]).backward()
        return [p.grad for p in params]

    def compiled() -> list[float]:
        for p in params:
            p.grad = 0.0
        for x in X:  # reads every .data, adds to every .grad, as the engine does
            f.backward(x[None], reduction="sum")
        return [p.grad for p in params]

    return dynamic, compiled


# ------------------------------------------- micrograd's own nn.py, running on our Value


def micrograd_nn_on(value_cls: Any) -> Any:
    """micrograd 0.1.0's ``nn.py``, its source unchanged but for the import line: its
    ``Value`` is ``value_cls`` (the import swap a micrograd user makes)."""
    import importlib.util
    import types

    spec = importlib.util.find_spec("micrograd.nn")
    source = Path(spec.origin).read_text()
    line = "from micrograd.engine import Value"
    if line not in source:
        raise RuntimeError(f"micrograd's nn.py has changed: {line!r} not found")
    module = types.ModuleType("micrograd_nn_on_our_value")
    module.__dict__["Value"] = value_cls
    exec(compile(source.replace(line, ""), spec.origin, "exec"), module.__dict__)
    return module


def mlp_micrograd_nn(spec: MlpSpec, value_cls: Any = None):
    """The MLP step of :func:`mlp_micrograd`, on micrograd's nn.py with its Value swapped for
    ``value_cls`` (ours unless given)."""
    nn = micrograd_nn_on(Value if value_cls is None else value_cls)
    return micrograd_mlp_step(nn.MLP, spec)


# ------------------------------------------------------ a microgpt-style Value and model


class MicroGPTValue:
    """A scalar engine in the style of Karpathy's microgpt (2026): each node keeps its
    children and their local derivatives (no closures, so no reference cycles and nothing
    for the cyclic collector to free), a number operand is wrapped as a node, and backward
    sorts the graph by a recursive depth-first search."""

    __slots__ = ("data", "grad", "_children", "_local_grads")

    def __init__(self, data, children=(), local_grads=()):
        self.data = data
        self.grad = 0
        self._children = children
        self._local_grads = local_grads

    def __add__(self, other):
        other = other if isinstance(other, MicroGPTValue) else MicroGPTValue(other)
        return MicroGPTValue(self.data + other.data, (self, other), (1, 1))

    def __mul__(self, other):
        other = other if isinstance(other, MicroGPTValue) else MicroGPTValue(other)
        return MicroGPTValue(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, k):
        return MicroGPTValue(self.data**k, (self,), (k * self.data ** (k - 1),))

    def log(self):
        return MicroGPTValue(math.log(self.data), (self,), (1 / self.data,))

    def exp(self):
        e = math.exp(self.data)
        return MicroGPTValue(e, (self,), (e,))

    def relu(self):
        return MicroGPTValue(max(0, self.data), (self,), (float(self.data > 0),))

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other**-1

    def __rtruediv__(self, other):
        return other * self**-1

    def backward(self):
        topo, visited = [], set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._children:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        self.grad = 1
        for v in reversed(topo):
            for child, local_grad in zip(v._children, v._local_grads):
                child.grad += local_grad * v.grad


@dataclass
class GptSpec:
    """A one-layer microgpt-style model: token and position embeddings, RMSNorm, causal
    multi-head attention, a ReLU MLP, softmax cross-entropy; the weights as numbers."""

    weights: dict[str, list[list[float]]]
    windows: list[tuple[list[int], list[int]]]
    n_head: int


def gpt_spec(steps: int, n_embd: int = 16, n_head: int = 4, block: int = 8,
             seed: int = 0) -> GptSpec:  # fmt: skip
    T = _transformer_module()
    chars = T.vocabulary()
    rng = random.Random(seed)

    def matrix(rows: int, cols: int) -> list[list[float]]:
        return [[rng.gauss(0.0, 0.08) for _ in range(cols)] for _ in range(rows)]

    V = len(chars)
    weights = {"wte": matrix(V, n_embd), "wpe": matrix(block, n_embd),
               "wq": matrix(n_embd, n_embd), "wk": matrix(n_embd, n_embd),
               "wv": matrix(n_embd, n_embd), "wo": matrix(n_embd, n_embd),
               "fc1": matrix(4 * n_embd, n_embd), "fc2": matrix(n_embd, 4 * n_embd),
               "head": matrix(V, n_embd)}  # fmt: skip
    return GptSpec(weights, T.windows(T.CORPUS, chars, block, steps, seed), n_head)


def _gpt_linear(x, w):
    return [sum(wi * xi for wi, xi in zip(row, x)) for row in w]


def _gpt_softmax(logits):
    top = max(v.data for v in logits)
    exps = [(v - top).exp() for v in logits]
    total = sum(exps)
    return [e / total for e in exps]


def _gpt_rmsnorm(x):
    scale = (sum(xi * xi for xi in x) / len(x) + 1e-5) ** -0.5
    return [xi * scale for xi in x]


def _gpt_loss(P, tokens, targets, n_head):
    """microgpt's forward, written with operators only (no engine-specific op), so the very
    same code runs on either Value: one position at a time, keys and values cached."""
    keys, values, losses = [], [], []
    size = len(P["wq"]) // n_head
    for pos, (tok, target) in enumerate(zip(tokens, targets)):
        x = _gpt_rmsnorm([t + p for t, p in zip(P["wte"][tok], P["wpe"][pos])])
        residual, x = x, _gpt_rmsnorm(x)
        q, k, v = _gpt_linear(x, P["wq"]), _gpt_linear(x, P["wk"]), _gpt_linear(x, P["wv"])
        keys.append(k)
        values.append(v)
        heads = []
        for h in range(n_head):
            lo, hi = h * size, (h + 1) * size
            scores = [sum(qi * ki for qi, ki in zip(q[lo:hi], kt[lo:hi])) / size**0.5
                      for kt in keys]  # fmt: skip
            weights = _gpt_softmax(scores)
            heads += [sum(w * vt[j] for w, vt in zip(weights, values)) for j in range(lo, hi)]
        x = [a + b for a, b in zip(_gpt_linear(heads, P["wo"]), residual)]
        hidden = [u.relu() for u in _gpt_linear(_gpt_rmsnorm(x), P["fc1"])]
        x = [a + b for a, b in zip(_gpt_linear(hidden, P["fc2"]), x)]
        probs = _gpt_softmax(_gpt_linear(x, P["head"]))
        losses.append(-probs[target].log())
    return (1 / len(losses)) * sum(losses)


def gpt_model(spec: GptSpec, value_cls: Any, backward: Any = None):
    """(step, losses so far): each step one window, forward, backward and plain SGD, on
    ``value_cls`` (ours or :class:`MicroGPTValue`); ``backward(loss)`` replaces
    ``loss.backward()`` if given."""
    P = {name: [[value_cls(v) for v in row] for row in W] for name, W in spec.weights.items()}
    params = [p for W in P.values() for row in W for p in row]
    losses: list[float] = []
    todo = iter(spec.windows * 1000)  # as many steps as the timing asks for

    def step() -> None:
        tokens, targets = next(todo)
        loss = _gpt_loss(P, tokens, targets, spec.n_head)
        for p in params:
            p.grad = 0
        if backward is None:
            loss.backward()
        else:
            backward(loss)
        for p in params:
            p.data -= 0.1 * p.grad
        losses.append(loss.data)

    return step, losses


def gpt_model_bare(spec: GptSpec):
    """:func:`gpt_model` on nodes of the compiled type itself (``core.node.Node``), not on
    Value, a Python subclass of it: the same ops, walk and chain rule, without the subclass
    (no ``__dict__``, none of Value's readers: not a usable Value). What a step would cost if
    Value were the compiled class; mypyc gives a compiled class no ``__dict__`` and refuses
    ``__getattr__``/``__setattr__`` on one that allows Python subclasses, so attributes of
    one's own (``p.m``, ``p.v``) and subclassing need Value to be a Python subclass. Only
    meaningful when the compiled core runs."""
    from autograd_bp.core import node as N

    def on_nodes(make: Any) -> Any:  # ops make bare Nodes while make() runs
        N.make_nodes_of(N.Node)
        try:
            return make()
        finally:
            N.make_nodes_of(Value)

    step, losses = on_nodes(lambda: gpt_model(
        spec, lambda v: N.new_leaf(float(v)), lambda loss: N.backward_pass(loss, 1.0)))
    return (lambda: on_nodes(step)), losses
