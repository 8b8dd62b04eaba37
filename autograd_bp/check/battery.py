"""The seeded checks a learner's engine is graded on, written once for any ``Value`` class.

Each check builds a small graph with whatever engine it is handed (through an
:class:`Engine`, which knows the class and the names it uses), runs ``backward`` and reads
the value and the gradient of every named node. The grader runs the same builders twice:
inside the sandbox with the learner's class, and in its own process with this package's
:class:`~autograd_bp.core.engine.Value`, the reference. Nothing here imports learner code.

Example:
    >>> from autograd_bp import Value
    >>> seen = run_check(Engine(Value), CHECKS["reuse-add"], leaf_values(0))
    >>> seen["nodes"]["a"]["grad"] == 2.0
    True
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..locale import N_
from ..textbook.worked import SEED_INPUTS, SEED_PARAMETERS, SEED_TARGETS

__all__ = ["CHECKS", "Check", "Engine", "NAMES", "is_close", "leaf_values", "run_check"]

# The attribute and method names the battery uses, as micrograd and microgpt spell them.
# A learner whose class spells them otherwise maps them in ``GRADE_ADAPTER`` (docs/grade.md).
NAMES = {"data": "data", "grad": "grad", "backward": "backward",
         "tanh": "tanh", "exp": "exp", "relu": "relu"}  # fmt: skip

DEEP_CHAIN = 5000  # deeper than Python's default recursion limit (1000)
WIDE_REUSE = 30  # x = x + x thirty times: 2**30 paths, 31 nodes
MLP_LR = 0.1


class Engine:
    """One engine's ``Value`` class and the names it spells ``data``, ``grad``,
    ``backward``, ``tanh``, ``exp`` and ``relu`` with.

    Example:
        >>> from autograd_bp import Value
        >>> e = Engine(Value)
        >>> e.data(e.leaf(2.0) * 3)
        6.0
    """

    def __init__(self, value_class: type, names: dict[str, str] | None = None) -> None:
        self.value_class = value_class
        self.names = dict(NAMES, **(names or {}))

    def leaf(self, x: float) -> Any:
        return self.value_class(x)

    def data(self, node: Any) -> float:
        return float(getattr(node, self.names["data"]))

    def grad(self, node: Any) -> float:
        return float(getattr(node, self.names["grad"]))

    def set_data(self, node: Any, x: float) -> None:
        setattr(node, self.names["data"], x)

    def backward(self, node: Any) -> None:
        getattr(node, self.names["backward"])()

    def call(self, op: str, node: Any) -> Any:
        """``node.tanh()`` (or exp, relu) under the learner's name for it."""
        return getattr(node, self.names[op])()


Build = Callable[[Engine, dict[str, float]], dict[str, Any]]


@dataclass(frozen=True)
class Check:
    """One check: what it builds (``text``: code, or a description in words marked for the
    catalog, said with ``_`` where it is shown), the op it exercises, its leaves and builder.
    ``needs`` names methods the engine may lack (then the check is skipped, not failed)."""

    name: str
    text: str
    op: str
    leaves: tuple[str, ...]
    build: Build
    needs: tuple[str, ...] = ()
    differences: bool = True  # central differences of the learner's own forward
    extra: dict[str, Any] = field(default_factory=dict)


def leaf_values(seed: int = 0) -> dict[str, float]:
    """The seeded leaf values: a in [0.5, 0.9], b in [1.2, 1.8], c in [-1.4, -0.6] and
    n = −a, so that no two of a, b, c, a·b coincide and no derivative is 0 or 1 by accident.

    Example:
        >>> v = leaf_values(0)
        >>> 0.5 <= v["a"] <= 0.9 and 1.2 <= v["b"] <= 1.8
        True
    """
    rng = random.Random(seed)
    a, b, c = rng.uniform(0.5, 0.9), rng.uniform(1.2, 1.8), rng.uniform(-1.4, -0.6)
    return {"a": round(a, 4), "b": round(b, 4), "c": round(c, 4), "n": -round(a, 4)}


def _leaves(e: Engine, xs: dict[str, float], names: str) -> dict[str, Any]:
    return {n: e.leaf(xs[n]) for n in names}


def _binary(op: Callable[[Any, Any], Any]) -> Build:
    def build(e: Engine, xs: dict[str, float]) -> dict[str, Any]:
        n = _leaves(e, xs, "ab")
        return {**n, "out": op(n["a"], n["b"])}

    return build


def _unary(op: Callable[[Engine, Any], Any], leaf: str = "a") -> Build:
    def build(e: Engine, xs: dict[str, float]) -> dict[str, Any]:
        a = e.leaf(xs[leaf])
        return {leaf: a, "out": op(e, a)}

    return build


def _reflected(op: Callable[[Any], Any]) -> Build:
    def build(e: Engine, xs: dict[str, float]) -> dict[str, Any]:
        a = e.leaf(xs["a"])
        return {"a": a, "out": op(a)}

    return build


def _diamond(e: Engine, xs: dict[str, float]) -> dict[str, Any]:
    """d = a·b is used by e = d + c and again by out = d·e: reached twice."""
    n = _leaves(e, xs, "abc")
    d = n["a"] * n["b"]
    mid = d + n["c"]
    return {**n, "d": d, "e": mid, "out": d * mid}


def _equal_values(e: Engine, xs: dict[str, float]) -> dict[str, Any]:
    """x = a·b and y = b·a are distinct nodes with equal values: out = x·c + y."""
    n = _leaves(e, xs, "abc")
    x, y = n["a"] * n["b"], n["b"] * n["a"]
    return {**n, "x": x, "y": y, "out": x * n["c"] + y}


def _chain(depth: int) -> Build:
    def build(e: Engine, xs: dict[str, float]) -> dict[str, Any]:
        a = e.leaf(xs["a"])
        x = a
        for _ in range(depth):
            x = x * 1.0 + 0.0
        return {"a": a, "out": x}

    return build


def _wide_reuse(e: Engine, xs: dict[str, float]) -> dict[str, Any]:
    a = e.leaf(xs["a"])
    x = a
    for _ in range(WIDE_REUSE):
        x = x + x
    return {"a": a, "out": x}


def _sigmoid(e: Engine, x: Any) -> Any:
    return (e.call("exp", x * -1.0) + 1.0) ** -1


def _mazur(e: Engine, xs: dict[str, float]) -> dict[str, Any]:
    """Mazur's 2-2-2 sigmoid network from his post's parameters, error ½Σ(target − out)²."""
    p = {name: e.leaf(v) for name, v in SEED_PARAMETERS.items()}
    i1, i2 = SEED_INPUTS
    h1 = _sigmoid(e, p["w1"] * i1 + p["w2"] * i2 + p["b1"])
    h2 = _sigmoid(e, p["w3"] * i1 + p["w4"] * i2 + p["b1"])
    o1 = _sigmoid(e, p["w5"] * h1 + p["w6"] * h2 + p["b2"])
    o2 = _sigmoid(e, p["w7"] * h1 + p["w8"] * h2 + p["b2"])
    t1, t2 = SEED_TARGETS
    error = (o1 - t1) ** 2 * 0.5 + (o2 - t2) ** 2 * 0.5
    return {**p, "out_h1": h1, "out_h2": h2, "out_o1": o1, "out_o2": o2, "out": error}


_MLP_SIZES = (2, 3, 1)
_MLP_DATA = (((0.5, -0.3), 0.8), ((-0.2, 0.9), -0.4))


def _mlp_parameters() -> dict[str, float]:
    rng = random.Random(24)
    nin, hidden, _ = _MLP_SIZES
    names = [f"w1_{j}{k}" for j in range(hidden) for k in range(nin)]
    names += [f"b1_{j}" for j in range(hidden)] + [f"w2_0{j}" for j in range(hidden)] + ["b2_0"]
    return {name: round(rng.uniform(-1, 1), 4) for name in names}


def _mlp_loss(e: Engine, p: dict[str, Any]) -> Any:
    nin, hidden, _ = _MLP_SIZES
    loss = None
    for x, target in _MLP_DATA:
        h = [e.call("tanh", sum((p[f"w1_{j}{k}"] * x[k] for k in range(nin)), p[f"b1_{j}"]))
             for j in range(hidden)]  # fmt: skip
        y = sum((p[f"w2_0{j}"] * h[j] for j in range(hidden)), p["b2_0"])
        term = (y - target) ** 2
        loss = term if loss is None else loss + term
    return loss


def _mlp(e: Engine, xs: dict[str, float]) -> dict[str, Any]:
    """A 2-3-1 tanh MLP, squared error on two points; ``run_check`` also takes one SGD step."""
    p = {name: e.leaf(v) for name, v in _mlp_parameters().items()}
    return {**p, "out": _mlp_loss(e, p)}


def _checks() -> dict[str, Check]:
    def c(name: str, text: str, op: str, leaves: str | tuple[str, ...], build: Build,
          **kw: Any) -> Check:  # fmt: skip
        return Check(name, text, op, tuple(leaves), build, **kw)

    ops = [
        c("add", "a + b", "+", "ab", _binary(lambda a, b: a + b)),
        c("mul", "a * b", "*", "ab", _binary(lambda a, b: a * b)),
        c("sub", "a - b", "-", "ab", _binary(lambda a, b: a - b)),
        c("div", "a / b", "/", "ab", _binary(lambda a, b: a / b)),
        c("pow", "a ** 3", "**", "a", _unary(lambda e, a: a**3)),
        c("tanh", "a.tanh()", "tanh", "a", _unary(lambda e, a: e.call("tanh", a)), needs=("tanh",)),
        c("exp", "a.exp()", "exp", "a", _unary(lambda e, a: e.call("exp", a)), needs=("exp",)),
        c("relu+", N_("a.relu() with a > 0"), "relu", "a", _unary(lambda e, a: e.call("relu", a)),
          needs=("relu",)),
        c("relu-", N_("n.relu() with n < 0"), "relu", "n",
          _unary(lambda e, a: e.call("relu", a), leaf="n"), needs=("relu",)),
        c("radd", "2 + a", "__radd__", "a", _reflected(lambda a: 2 + a)),
        c("rmul", "2 * a", "__rmul__", "a", _reflected(lambda a: 2 * a)),
        c("rsub", "2 - a", "__rsub__", "a", _reflected(lambda a: 2 - a)),
        c("rtruediv", "2 / a", "__rtruediv__", "a", _reflected(lambda a: 2 / a)),
    ]
    graphs = [
        c("reuse-add", "a + a", "+", "a", _reflected(lambda a: a + a)),
        c("reuse-mul", "a * a", "*", "a", _reflected(lambda a: a * a)),
        c("diamond", "d = a*b; e = d + c; out = d*e", "backward", "abc", _diamond),
        c("equal-values", "x = a*b; y = b*a; out = x*c + y", "backward", "abc", _equal_values),
        c("chain", "100 × (x*1.0 + 0.0)", "backward", "a", _chain(100)),
        c("wide-reuse", f"{WIDE_REUSE} × (x = x + x)", "backward", "a", _wide_reuse,
          differences=False),
        c("deep-chain", f"{DEEP_CHAIN} × (x*1.0 + 0.0)", "backward", "a", _chain(DEEP_CHAIN),
          differences=False),
        c("backward-twice", "out = a*b; backward(); backward()", "backward", "ab",
          _binary(lambda a, b: a * b), extra={"twice": True}),
        c("mazur", N_("Mazur's 2-2-2 network, forward and backward"), "backward",
          tuple(SEED_PARAMETERS), _mazur, needs=("exp",), differences=False),
        c("mlp-step", N_("a 2-3-1 tanh MLP: loss, backward, one SGD step"), "backward",
          tuple(_mlp_parameters()), _mlp, needs=("tanh",), differences=False,
          extra={"step": MLP_LR}),
    ]
    return {check.name: check for check in ops + graphs}


CHECKS = _checks()


def _forward(engine: Engine, check: Check, xs: dict[str, float]) -> float:
    return engine.data(check.build(engine, xs)["out"])


def _differences(engine: Engine, check: Check, xs: dict[str, float]) -> dict[str, float]:
    """Central differences of this engine's own forward, one per leaf the builder reads."""
    found = {}
    for name in check.leaves:
        if name not in xs:
            continue
        h = 1e-6 * max(1.0, abs(xs[name]))
        up = _forward(engine, check, {**xs, name: xs[name] + h})
        down = _forward(engine, check, {**xs, name: xs[name] - h})
        found[name] = (up - down) / (2 * h)
    return found


def run_check(engine: Engine, check: Check, xs: dict[str, float]) -> dict[str, Any]:
    """Build ``check``'s graph with ``engine``, run backward (twice for ``backward-twice``,
    then one SGD step for ``mlp-step``), and return every named node's data and grad.

    Example:
        >>> from autograd_bp import Value
        >>> seen = run_check(Engine(Value), CHECKS["mul"], {"a": 2.0, "b": 3.0, "c": 1.0})
        >>> seen["nodes"]["a"], round(seen["differences"]["a"], 6)
        ({'data': 2.0, 'grad': 3.0}, 3.0)
    """
    nodes = check.build(engine, xs)
    engine.backward(nodes["out"])
    if check.extra.get("twice"):
        engine.backward(nodes["out"])
    seen: dict[str, Any] = {
        "nodes": {n: {"data": engine.data(v), "grad": engine.grad(v)} for n, v in nodes.items()
                  if n != "out"},  # fmt: skip
        "out": engine.data(nodes["out"]),
    }
    if "step" in check.extra:
        for name in check.leaves:
            node = nodes[name]
            engine.set_data(node, engine.data(node) - check.extra["step"] * engine.grad(node))
        params = {name: nodes[name] for name in check.leaves}
        seen["after_step"] = engine.data(_mlp_loss(engine, params))
    if check.differences:
        seen["differences"] = _differences(engine, check, xs)
    return seen


def is_close(x: float, y: float, rel: float = 1e-6, abs_: float = 1e-9) -> bool:
    """Equal up to rounding: ``math.isclose`` with a small absolute floor.

    Example:
        >>> is_close(0.1 + 0.2, 0.3), is_close(1.0, 1.1)
        (True, False)
    """
    return math.isclose(x, y, rel_tol=rel, abs_tol=abs_)
