"""Compiled tapes replay the traced graph on a batch exactly as the dynamic engine would,
example by example, averaged."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp import DomainError, Value, compile, dot, sum_values
from autograd_bp.datasets import digits, moons
from autograd_bp.explain import explain
from autograd_bp.losses import binary_cross_entropy, cross_entropy, half_sse, hinge
from autograd_bp.nn import MLP
from autograd_bp.optim import Adam
from autograd_bp.tape import TraceError, compile_loss
from autograd_bp.train import evaluate, fit
from autograd_bp.viz import draw_dot

UNARY = ["tanh", "sigmoid", "sin", "cos", "relu", "abs", "softplus", "leaky_relu", "neg",
         "square", "exp_small"]  # fmt: skip
BINARY = ["add", "sub", "mul", "div_safe", "const_mul", "const_rsub", "sum3", "dot2"]


def apply(op: str, a: Value, b: Value, c: Value) -> Value:
    return {
        "tanh": lambda: a.tanh(), "sigmoid": lambda: a.sigmoid(), "sin": lambda: a.sin(),
        "cos": lambda: a.cos(), "relu": lambda: a.relu(), "abs": lambda: abs(a),
        "softplus": lambda: a.softplus(), "leaky_relu": lambda: a.leaky_relu(0.1),
        "neg": lambda: -a, "square": lambda: a**2, "exp_small": lambda: (a * 0.1).exp(),
        "add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
        "div_safe": lambda: a / (b * b + 1.0), "const_mul": lambda: 2.5 * a,
        "const_rsub": lambda: 1.0 - a, "sum3": lambda: sum_values([a, b, c, 0.5]),
        "dot2": lambda: dot([a, b], [c, 0.3]),
    }[op]()  # fmt: skip


recipes = st.lists(
    st.tuples(
        st.sampled_from(UNARY + BINARY),
        st.integers(0, 10**6),
        st.integers(0, 10**6),
        st.integers(0, 10**6),
    ),  # fmt: skip
    min_size=1,
    max_size=25,
)


def build(recipe, inputs, params):
    nodes = [*inputs, *params]
    for op, i, j, k in recipe:
        nodes.append(apply(op, nodes[i % len(nodes)], nodes[j % len(nodes)], nodes[k % len(nodes)]))
    return nodes[-1] + 0.0 * sum_values(nodes)  # every node reaches the output


@settings(max_examples=60, deadline=None)
@given(recipes, st.integers(0, 10**6))
def test_random_graphs_replay_exactly(recipe, seed) -> None:
    rng = np.random.default_rng(seed)
    params = [Value(v) for v in rng.uniform(-1, 1, 3)]
    X = rng.uniform(-1.5, 1.5, (7, 3))
    compiled = compile(lambda *xs: build(recipe, xs, params), X[0].tolist(), X[1].tolist())
    outputs = compiled(X)
    mean, _ = compiled.backward(X)
    compiled_grads = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    dynamic = []
    for row in X:
        out = build(recipe, [Value(v) for v in row], params)
        out.backward()
        dynamic.append(out.data)
    for a, b in zip(outputs, dynamic):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    assert math.isclose(mean, sum(dynamic) / len(X), rel_tol=1e-12, abs_tol=1e-12)
    for g_c, p in zip(compiled_grads, params):
        assert math.isclose(g_c, p.grad / len(X), rel_tol=1e-12, abs_tol=1e-12)


LOSSES = {
    "half_sse": (half_sse, lambda rng, n, k: rng.uniform(0, 1, (n, k))),
    "hinge": (hinge, lambda rng, n, k: rng.choice([-1.0, 1.0], (n, 1))),
    "bce": (lambda o, t: binary_cross_entropy(o, t, from_logits=True),
            lambda rng, n, k: rng.integers(0, 2, (n, 1)).astype(float)),
    "cross_entropy": (cross_entropy, lambda rng, n, k: np.eye(k)[rng.integers(0, k, n)]),
}  # fmt: skip


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(1, 6), min_size=1, max_size=3),
    st.sampled_from(["tanh", "relu", "sigmoid", "softplus", "leaky_relu", "linear"]),
    st.sampled_from(sorted(LOSSES)),
    st.integers(0, 10**6),
)
def test_random_mlps_give_the_dynamic_engines_batch_mean_gradient(hidden, act, name, seed):
    rng = np.random.default_rng(seed)
    loss, make_targets = LOSSES[name]
    nout = int(rng.integers(2, 4)) if name in ("half_sse", "cross_entropy") else 1
    net = MLP(3, [*hidden, nout], activation=act, seed=seed)
    X = rng.uniform(-1, 1, (9, 3))
    T = make_targets(rng, 9, nout)
    step = compile_loss(net, loss, X, T)
    params = net.parameters()
    mean, outs = step.step(X, T)
    compiled = [p.grad for p in params]
    net.zero_grad()
    per_example = []
    for x, t in zip(X.tolist(), T.tolist()):
        target = t if name in ("half_sse", "cross_entropy") else t[0]
        per_example.append(loss(net(x), target))
    total = sum_values(per_example) * (1 / len(X))
    total.backward()
    assert math.isclose(mean, total.data, rel_tol=1e-12, abs_tol=1e-12)
    for a, p in zip(compiled, params):
        assert math.isclose(a, p.grad, rel_tol=1e-10, abs_tol=1e-12)
    assert outs.shape == (9, nout)


def test_a_data_dependent_branch_is_refused() -> None:
    def branchy(x: Value) -> Value:
        return x * 2 if x.data > 0 else x.tanh()

    with pytest.raises(TraceError, match="depends on the data"):
        compile(branchy, [1.0], [-1.0])


def test_values_cannot_be_compared_so_cannot_branch() -> None:
    with pytest.raises(TypeError):
        Value(1.0) < Value(2.0)  # noqa: B015


def test_domain_errors_name_the_example() -> None:
    f = compile(lambda x: x.log(), [1.0])
    with pytest.raises(DomainError, match="example 2"):
        f(np.array([[1.0], [2.0], [-3.0]]))


def test_working_arrays_are_allocated_once_per_batch_size() -> None:
    w = Value(0.5)
    f = compile(lambda x: (w * x).tanh(), [1.0])
    X = np.ones((4, 1))
    f.backward(X)
    program = f.tape.buffers(4)
    f.backward(X * 2)
    assert f.tape.buffers(4) is program and program[0][1].shape == (f.tape.n_slots, 4)
    f.backward(np.ones((6, 1)))
    assert set(f.tape._buffers) == {4, 6}


def test_traced_graph_is_an_ordinary_value_graph() -> None:
    w = Value(0.4, label="w")
    f = compile(lambda x: (w * x).sigmoid(), [0.5])
    (out,) = f.outputs
    out.backward()
    assert explain(out, w).matches
    assert "shape=record" in draw_dot(out).source


@pytest.mark.parametrize("X, word", [(np.ones((3, 2)), "shape"), (np.ones((0, 1)), "empty")])
def test_bad_batches_are_refused(X, word) -> None:
    f = compile(lambda x: x * 2, [1.0])
    with pytest.raises(ValueError, match=word):
        f(X)


def test_fit_compiled_matches_fit_dynamic() -> None:
    X, y = moons(40, 0.1, seed=1, signed=True)
    a, b = MLP(2, [8, 1], activation="relu", seed=3), MLP(2, [8, 1], activation="relu", seed=3)
    from autograd_bp.optim import SGD

    ha = fit(a, X, y, loss="hinge", optimizer=SGD(a.parameters(), lr=0.1), epochs=5,
             batch_size=16, progress=False, l2=1e-3)  # fmt: skip
    hb = fit(b, X, y, loss="hinge", optimizer=SGD(b.parameters(), lr=0.1), epochs=5,
             batch_size=16, progress=False, l2=1e-3, compiled=True)  # fmt: skip
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert math.isclose(pa.data, pb.data, rel_tol=1e-9, abs_tol=1e-12)
    assert ha.loss == pytest.approx(hb.loss, rel=1e-9)
    assert ha.accuracy == hb.accuracy


def test_compiled_digits_reach_95_percent(capsys) -> None:
    import time

    X_train, X_test, y_train, y_test = digits(0.2, seed=0)
    net = MLP(64, [32, 10], activation="tanh", init="scaled_normal", seed=0)
    start = time.perf_counter()
    fit(net, X_train, y_train, loss="cross_entropy", optimizer=Adam(net.parameters(), lr=0.01),
        epochs=30, batch_size=32, progress=False, compiled=True)  # fmt: skip
    seconds = time.perf_counter() - start
    accuracy = evaluate(net, X_test, y_test)
    with capsys.disabled():
        print(f"\n[compiled digits: {accuracy:.4f} test accuracy, {seconds:.1f} s for 30 epochs]")
    assert accuracy >= 0.95
