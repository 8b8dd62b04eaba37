"""One run of everything the node core computes, printed as JSON with every float as
``float.hex``: run once compiled and once with ``AUTOGRAD_BP_PURE=1``
(tests/core/test_cores.py), the two outputs must be equal, bit for bit.

``python tests/core/cores_workload.py PICKLE_OUT [PICKLE_IN]`` writes a pickled graph to
PICKLE_OUT and, given PICKLE_IN (written by the other implementation), loads it and records
its backward pass too.
"""

from __future__ import annotations

import json
import math
import pickle
import random
import sys
from typing import Any

import numpy as np

from autograd_bp import Value, grad
from autograd_bp.core import COMPILED, RULES, dot, logsumexp, no_grad, sum_values
from benchmarks import engines as E

POINTS = [0.0, -0.0, 1.5, -2.5, 0.3, 1e-300, 700.0, -700.0, math.inf, -math.inf, math.nan]
NUMBERS: list[Any] = [2, 0.5, -0.0, np.float32(0.25), np.float64(-3.0), np.int64(3), math.inf]


def h(x: Any) -> Any:
    """Floats as their hex (NaN's sign and payload included); containers recursively."""
    if isinstance(x, float):
        return float(x).hex() + ("" if type(x) is float else f":{type(x).__name__}")
    if isinstance(x, (list, tuple)):
        return [h(v) for v in x]
    if isinstance(x, Value):
        return {"data": h(x.data), "grad": h(x.grad), "op": x.op, "locals": h(x.local_grads)}
    return repr(x)


def attempt(fn: Any) -> Any:
    """fn()'s result, or the error it raises (type and message), as data."""
    try:
        return fn()
    except (ArithmeticError, ValueError, TypeError) as error:
        return f"{type(error).__name__}: {error}"


def node_and_grads(make: Any, leaves: list[Value]) -> Any:
    def run() -> Any:
        out = make()
        out.backward()
        return [h(out), [h(x.grad) for x in leaves]]

    for x in leaves:
        x.grad = 0.0
    return attempt(run)


def every_rule() -> dict[str, Any]:
    """Each one- and two-operand rule of the table at awkward points, with Values and with
    number operands (ints and numpy scalars), forward, locals and backward."""
    seen: dict[str, Any] = {}
    for rule in RULES.values():
        if rule.variadic or rule.method is None:
            continue
        rows = []
        for p in POINTS:
            x = Value(p)
            if rule.arity == 1:
                method = getattr(Value, rule.method)
                rows.append(node_and_grads(lambda m=method, x=x: m(x), [x]))
                continue
            fwd = getattr(Value, f"__{rule.method}__")
            rev = getattr(Value, f"__r{rule.method}__")
            for q in POINTS[::2]:
                y = Value(q)
                rows.append(node_and_grads(lambda f=fwd, x=x, y=y: f(x, y), [x, y]))
            for n in NUMBERS:
                rows.append(node_and_grads(lambda f=fwd, x=x, n=n: f(x, n), [x]))
                rows.append(node_and_grads(lambda f=rev, x=x, n=n: f(x, n), [x]))
        seen[rule.name] = rows
    seen["leaky_relu slope"] = [h(Value(-2.0).leaky_relu(s)) for s in (0.2, 1, np.float32(0.5))]
    return seen


def variadic() -> Any:
    xs = [Value(v) for v in (0.5, -1.25, 3.0, -0.0)]
    mixed = [xs[0], 2, xs[1], np.float64(0.5), xs[2], -0.0, xs[3], np.int32(4)]
    rows = [node_and_grads(lambda: sum_values(mixed), xs),
            node_and_grads(lambda: dot(xs, [1.5, 2, np.float32(-1.0), 3.0]), xs),
            node_and_grads(lambda: dot(xs, xs[::-1]), xs),
            node_and_grads(lambda: logsumexp([xs[0], 1000.0, xs[2]]), xs),
            node_and_grads(lambda: logsumexp(xs + [math.inf]), xs)]  # fmt: skip
    with no_grad():
        rows.append(h(sum_values(xs)))
    return rows


def random_dags() -> Any:
    out = []
    for seed in range(3):
        leaves, root = E.dag_ours(E.dag_spec(3000, seed=seed))
        root.backward()
        out.append([h(root.data), [h(v.grad) for v in leaves]])
    return out


def mlp_steps() -> Any:
    net, step, grads = E.mlp_ours(E.mlp_spec(n_points=30))
    for _ in range(2):
        step()
    return [h(grads()), [h(p.data) for p in net.parameters()]]


def micrograd_nn() -> Any:
    net, step, grads = E.mlp_micrograd_nn(E.mlp_spec(n_points=20))
    step()
    return h(grads())


def higher_order() -> Any:
    x, w = Value(0.7), Value(-1.3)
    y = (x * w).tanh() * x ** 3 + (x / w).sigmoid() - (2 - x).exp() + x.leaky_relu(0.1)
    (dx, dw) = grad(y, [x, w], create_graph=True)
    (dxx, dxw) = grad(dx, [x, w], create_graph=True)
    (dxxx,) = grad(dxx, x)
    return h([dx.data, dw.data, dxx.data, dxw.data, dxxx])


def dialects() -> Any:
    a, b = Value(1.5), Value(-2.0)
    out = Value(a.data * b.data, (a, b), "*")

    def _backward() -> None:
        a.grad += b.data * out.grad
        b.grad += a.data * out.grad

    out._backward = _backward
    (out * 3 + Value(0.5, (a,), (2.0,))).backward()  # micrograd's closure, microgpt's locals
    return h([a.grad, b.grad])


def accumulation() -> Any:
    x = Value(0.3)
    y = (x * x).sin()
    y.backward()
    y.backward(np.float32(0.5))
    return h(x.grad)


def graph_to_pickle() -> Value:
    rng = random.Random(7)
    xs = [Value(rng.uniform(-1, 1), label=f"x{i}") for i in range(5)]
    xs[0].m = [1.0, 2.0]  # an attribute of the program's own
    y = sum_values(x.tanh() * rng.uniform(-2, 2) for x in xs) + dot(xs, xs) / 3
    return (y - 1).relu() + y.exp()


def loaded_pickle(path: str) -> Any:
    with open(path, "rb") as f:
        y = pickle.load(f)
    y.backward()
    leaves = [n for n in __import__("autograd_bp").core.backward_order(y) if n.is_leaf]
    return [h(y.data), sorted((n.label, h(n.grad), repr(getattr(n, "m", None))) for n in leaves)]


def main() -> None:
    with open(sys.argv[1], "wb") as f:
        pickle.dump(graph_to_pickle(), f)
    report = {"rules": every_rule(), "variadic": variadic(), "dags": random_dags(),
              "mlp": mlp_steps(), "micrograd_nn": micrograd_nn(), "higher": higher_order(),
              "dialects": dialects(), "accumulation": accumulation()}  # fmt: skip
    if len(sys.argv) > 2:
        report["pickle"] = loaded_pickle(sys.argv[2])
    print(json.dumps({"compiled": COMPILED, "report": report}))


if __name__ == "__main__":
    main()
