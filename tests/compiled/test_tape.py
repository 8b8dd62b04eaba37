"""Compiled tapes replay the traced graph on a batch exactly as the dynamic engine would,
example by example, averaged."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp import DomainError, Value, compile, dot, sum_values
from autograd_bp.compiled import TraceError, compile_loss
from autograd_bp.core import RULES
from autograd_bp.nn.datasets import digits, moons
from autograd_bp.nn.losses import binary_cross_entropy, cross_entropy, half_sse, hinge, logsumexp
from autograd_bp.nn.modules import MLP
from autograd_bp.nn.optim import Adam
from autograd_bp.nn.train import evaluate, fit
from autograd_bp.show.explain import explain
from autograd_bp.show.viz import draw_dot

UNARY = ["tanh", "sigmoid", "sin", "cos", "relu", "abs", "softplus", "leaky_relu", "neg",
         "square", "exp_small"]  # fmt: skip
BINARY = ["add", "sub", "mul", "div_safe", "const_mul", "const_rsub", "sum3", "dot2", "lse3",
          "layer", "edge_const"]  # fmt: skip
EDGE = [0.0, -0.0, 1e-300, 1e300, 2.5]
# Every rule of the op table is an op of the random programs too ("rule:<name>"), so a rule
# added to the table is fuzzed inside random graphs at once (tests/core/test_op_table.py
# holds each rule alone to the engine on a grid, its edges included). Its operands are
# squashed into its domain: into (-1.25, 1.75) when its forward takes every number
# (PROBE: no error), into (0.05, 2.05) when it has a domain (log, sqrt, div, pow, exp).
TABLE = [f"rule:{name}" for name in sorted(RULES)]
PROBE = [-1e3, -2.0, -0.0, 0.0, 0.5, 1e3]
VARIADIC = {"sum": (sum_values, 3), "dot": (lambda xs: dot(xs[0::2], xs[1::2]), 4),
            "logsumexp": (logsumexp, 3)}  # fmt: skip


@functools.cache
def _total(name: str) -> bool:
    """Whether the rule's float forward takes every probe value (every combination)."""
    rule = RULES[name]
    n = VARIADIC[name][1] if rule.variadic else rule.arity
    args = (None,) if rule.param is None else (rule.default if rule.default is not None else 0.5,)
    for xs in itertools.product(PROBE, repeat=n):
        try:
            rule.forward(xs, None) if rule.variadic else rule.forward(*xs, *args)
        except (ArithmeticError, ValueError):
            return False
    return True


def table_op(name: str, operands: list[Value]) -> Value:
    """The rule ``name`` on (squashed) operands, called as a user calls it."""
    rule = RULES[name]
    xs = [v.tanh() * 1.5 + 0.25 if _total(name) else v.sigmoid() * 2.0 + 0.05 for v in operands]
    if rule.variadic:
        build, n = VARIADIC[name]
        return build(xs[:n])
    if rule.arity == 2:
        return getattr(xs[0], f"__{rule.method}__")(xs[1])
    return getattr(xs[0], rule.method)()


def apply(op: str, a: Value, b: Value, c: Value, params: list[Value], pick: int = 0) -> list[Value]:
    """One step of a random program: usually one node, a whole layer for "layer"."""
    if op.startswith("rule:"):
        return [table_op(op[5:], [a, b, c, a])]
    if op == "layer":  # three neurons reading (a, b, c), weights from the parameters
        k = len(params)
        return [dot([params[(3 * j + i) % k] for i in range(4)], [a, b, c, 1.0]) for j in range(3)]
    node = {
        "tanh": lambda: a.tanh(), "sigmoid": lambda: a.sigmoid(), "sin": lambda: a.sin(),
        "cos": lambda: a.cos(), "relu": lambda: a.relu(), "abs": lambda: abs(a),
        "softplus": lambda: a.softplus(), "leaky_relu": lambda: a.leaky_relu(0.1),
        "neg": lambda: -a, "square": lambda: a**2, "exp_small": lambda: (a.tanh() * 2).exp(),
        "add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
        "div_safe": lambda: a / (b * b + 1.0), "const_mul": lambda: 2.5 * a,
        "const_rsub": lambda: 1.0 - a, "sum3": lambda: sum_values([a, b, c, 0.5]),
        "dot2": lambda: dot([a, b], [c, 0.3]), "lse3": lambda: logsumexp([a, b * 3.0, c]),
        "edge_const": lambda: (a * EDGE[pick % len(EDGE)]).tanh() + b * EDGE[pick % 3],
    }[op]()  # fmt: skip
    return [node]


recipes = st.lists(
    st.tuples(st.sampled_from(UNARY + BINARY + TABLE), st.integers(0, 10**6), st.integers(0, 10**6),
              st.integers(0, 10**6)),  # fmt: skip
    min_size=1,
    max_size=25,
)


def build(recipe, inputs, params, n_outputs: int = 1) -> list[Value]:
    nodes = [*inputs, *params]
    for op, i, j, k in recipe:
        n = len(nodes)
        nodes += apply(op, nodes[i % n], nodes[j % n], nodes[k % n], params, i + j)
    # every input reaches the first output; the others are earlier nodes
    first = nodes[-1] + 0.0 * sum_values(inputs)
    return [first, *[nodes[-1 - (3 * t + 1) % len(nodes)] for t in range(1, n_outputs)]]


def _check_program(recipe, seed: int, n_outputs: int, output: int) -> None:
    """Compiled outputs and parameter gradients equal the dynamic engine's, example by
    example (1e-12 relative)."""
    rng = np.random.default_rng(seed)
    params = [Value(v) for v in rng.uniform(-1, 1, 5)]
    X = rng.uniform(-1.5, 1.5, (7, 3))
    compiled = compile(lambda *xs: build(recipe, xs, params, n_outputs), X[0], X[1])
    outputs = compiled(X).reshape(len(X), -1)
    total, _ = compiled.backward(X, output=output, reduction="sum")
    compiled_grads = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    dynamic = []
    for row in X:
        outs = build(recipe, [Value(v) for v in row], params, n_outputs)
        outs[output].backward()
        dynamic.append([o.data for o in outs])
    close = lambda a, b: math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12) or a == b  # noqa: E731
    for got, want in zip(outputs.tolist(), dynamic):
        assert all(close(a, b) for a, b in zip(got, want)), (got, want)
    assert close(total, sum(d[output] for d in dynamic))
    for g_c, p in zip(compiled_grads, params):
        assert close(g_c, p.grad) or (math.isnan(g_c) and math.isnan(p.grad)), (g_c, p.grad)
    # one example at a time (the tape's flat path) gives the same as the engine too
    for p in params:
        p.grad = 0.0
    compiled.backward(X[:1], output=output, reduction="sum")
    single = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    build(recipe, [Value(v) for v in X[0]], params, n_outputs)[output].backward()
    assert compiled(X[:1]).reshape(-1).tolist() == pytest.approx(dynamic[0], rel=1e-12, abs=1e-12,
                                                                 nan_ok=True)  # fmt: skip
    for g_c, p in zip(single, params):
        assert close(g_c, p.grad) or (math.isnan(g_c) and math.isnan(p.grad)), (g_c, p.grad)


@settings(max_examples=40, deadline=None)
@given(recipes, st.integers(0, 10**6), st.integers(1, 3), st.integers(0, 2))
def test_random_compiled_programs_match_the_dynamic_engine(recipe, seed, n_out, output) -> None:
    _check_program(recipe, seed, n_out, output % n_out)


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(st.lists(recipes.element_strategy if hasattr(recipes, "element_strategy") else
                st.tuples(st.sampled_from(UNARY + BINARY + TABLE), st.integers(0, 10**6),
                          st.integers(0, 10**6), st.integers(0, 10**6)),
                min_size=1, max_size=80),
       st.integers(0, 10**6), st.integers(1, 4), st.integers(0, 3))  # fmt: skip
def test_random_compiled_programs_match_the_dynamic_engine_long(recipe, seed, n_out, output):
    _check_program(recipe, seed, n_out, output % n_out)


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
    program = f.tape.buffers(4, shared=True)  # backward's: a block at a time
    f.backward(X * 2)
    assert f.tape.buffers(4, shared=True) is program
    assert program[0][1].shape == (f.tape.n_slots, 4)
    f.backward(np.ones((6, 1)))
    assert set(f.tape._buffers) == {(4, True), (6, True)}


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
    from autograd_bp.nn.optim import SGD

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


# ---------------------------------------------------------------- misuse (issue 14)


def test_a_compiled_function_shared_by_threads_gives_every_thread_its_own_answer() -> None:
    import threading

    net = MLP(4, [24, 24, 1], activation="tanh", seed=1)
    f = compile(lambda *x: net(list(x)), np.zeros(4) + 0.1)
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(int(rng.integers(50, 300)), 4)) for _ in range(4)]
    want = [f(X) for X in batches]
    wrong: list[int] = []

    def worker(k: int) -> None:
        for _ in range(25):
            if not np.array_equal(f(batches[k]), want[k]):
                wrong.append(k)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_compiled_backward_in_threads_accumulates_as_if_one_after_another() -> None:
    import threading

    w = Value(0.3)
    f = compile(lambda x: (w * x).tanh() * x, [1.0])
    X = np.linspace(-2, 2, 400)[:, None]
    f.backward(X, reduction="sum")
    once, w.grad = w.grad, 0.0
    threads = [threading.Thread(target=lambda: [f.backward(X, reduction="sum") for _ in range(10)])
               for _ in range(4)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert math.isclose(w.grad, 40 * once, rel_tol=1e-12)


def test_a_node_that_does_not_reach_the_chosen_output_contributes_nothing() -> None:
    # issue 14.2: sqrt'(0) = inf on the branch of output 1 must not turn p.grad into nan
    p = Value(0.0)
    f = compile(lambda x: [x * p, (p * x).sqrt()], [1.0])
    X = np.array([[1.0], [2.0]])
    f.backward(X, output=0, reduction="sum")
    assert p.grad == 3.0
    p.grad = 0.0
    f.backward(X, output=1, reduction="sum")  # on that branch the engine's answer is inf
    dynamic = 0.0
    for x in X[:, 0]:
        p.grad = 0.0
        (p * Value(x)).sqrt().backward()
        dynamic += p.grad
    assert math.isinf(dynamic)


def test_the_constants_zero_and_minus_zero_keep_their_signs() -> None:
    f = compile(lambda x: [x * 0.0, x * -0.0], [1.0])
    out = f(np.array([[1.0], [2.0]]))
    dynamic = [[(Value(x) * c).data for c in (0.0, -0.0)] for x in (1.0, 2.0)]
    assert np.signbit(out[:, :2]).tolist() == np.signbit(dynamic).tolist()
    assert np.signbit(out[:, 1]).all() and not np.signbit(out[:, 0]).any()


@pytest.mark.parametrize(
    "fn",
    [lambda x: x * x.data, lambda x: x * max(x.data, 0.0), lambda x: x * Value(x.data),
     lambda x: x + abs(x.data) ** 0.5],  # fmt: skip
    ids=["x*x.data", "max(x.data,0)", "Value(x.data)", "abs(x.data)"],
)
@pytest.mark.parametrize("example", [3.0, 0.5, -2.0, math.nan, 0.0])
def test_numbers_read_from_the_data_are_refused(fn, example) -> None:
    with pytest.raises(TraceError, match="frozen|changes with the example|depends on the data"):
        compile(fn, [example])


def test_a_branch_on_the_data_is_refused_without_a_second_example() -> None:
    with pytest.raises(TraceError, match="depends on the data"):
        compile(lambda x: x * 2 if x.data > 0 else x.tanh(), [1.0])


def test_constants_and_leaves_that_do_not_depend_on_the_data_compile() -> None:
    f = compile(lambda x: x * Value(2.0) + 0.5 * x, [3.0])
    assert f(np.array([[1.0], [4.0]])).tolist() == [2.5, 10.0]


def test_compiled_cross_entropy_agrees_with_the_engine_for_every_logit() -> None:
    # issue 14.4: the log-sum-exp shift is recomputed per example (an op), never frozen
    f = compile(lambda a, b, c: cross_entropy([a, b, c], 0), [0.0, 1.0, 2.0])
    X = np.array([[1000.0, 0.0, -5.0], [0.0, 1000.0, 3.0], [-1000.0, 5.0, 990.0], [1, 2, 3.0]])
    got = f(X)
    want = [cross_entropy([Value(v) for v in row], 0).data for row in X.tolist()]
    assert np.allclose(got, want, rtol=1e-12, atol=0) and np.isfinite(got).all()


def test_losses_have_one_log_sum_exp() -> None:
    import inspect

    from autograd_bp.nn import losses

    source = inspect.getsource(losses)
    assert source.count(".exp()") == 1  # softmax exponentiates log_softmax; nothing else
    assert "max(v.data" not in source


@pytest.mark.parametrize(
    "example",
    [np.array([1.0, 2.0]), [np.float64(1.0), np.float32(2.0)], (np.int64(1), 2.0),
     [Value(1.0), 2]],  # fmt: skip
    ids=["numpy row", "numpy scalars", "int64", "Values"],
)
def test_numpy_rows_and_scalars_are_examples(example) -> None:
    f = compile(lambda a, b: a * b, example)
    assert f(np.array([[2.0, 3.0]])).tolist() == [6.0]


def test_a_single_numpy_scalar_example() -> None:
    f = compile(lambda a: a * 2, [np.float32(1.5)])
    assert f(np.array([[1.5]])).tolist() == [3.0]


@pytest.mark.parametrize(
    "example, words",
    [(np.ones((2, 2)), "example_inputs.*1-D.*(2, 2)"), (np.array(1.0), "example_inputs.*shape ()"),
     ((v for v in [1.0]), "example_inputs.*generator"), ([], "example_inputs is empty"),
     (["a"], r"example_inputs\[0\].*str"), ([True], r"example_inputs\[0\].*bool"),
     ("12", "example_inputs.*str")],  # fmt: skip
)
def test_bad_examples_are_refused_naming_the_argument(example, words) -> None:
    with pytest.raises(TraceError, match=words):
        compile(lambda *x: x[0] * 2, example)


@pytest.mark.parametrize("output", [3, 1.5, -1, True, "0"])
def test_a_bad_output_index_is_refused_naming_it(output) -> None:
    f = compile(lambda x: [x * 2, x * 3], [1.0])
    with pytest.raises(ValueError, match=r"output must be an index in \[0, 2\)"):
        f.backward(np.ones((2, 1)), output=output)


def test_flat_parameters_without_value_traffic() -> None:
    net = MLP(2, [3, 1], activation="tanh", seed=0)
    f = compile(lambda a, b: net([a, b]), [0.5, -0.5])
    X = np.array([[0.1, 0.2], [0.3, -0.4]])
    f.backward(X)
    want = [p.grad for p in f.parameters]
    net.zero_grad()
    f.backward(X, sync=False)
    assert all(p.grad == 0.0 for p in f.parameters)
    assert np.allclose(f.flat_grad, want, rtol=1e-13, atol=0)
    f.flat_data -= 0.1 * f.flat_grad
    f.write_back()
    assert [p.data for p in f.parameters] == f.flat_data.tolist()


def test_a_layer_becomes_one_matrix_multiply() -> None:
    from autograd_bp.compiled.groups import MatmulGroup

    net = MLP(3, [8, 8, 1], activation="tanh", seed=0)
    f = compile(lambda *x: net(list(x)), [0.1, 0.2, 0.3])
    layers = [g for g in f.tape.groups if isinstance(g, MatmulGroup)]
    assert [g.pids.shape for g in layers] == [(8, 4), (8, 9), (1, 9)]
    assert all(g.contiguous for g in layers)


def _compiled_vs_dynamic_grads(fn, params: list[Value], X: np.ndarray) -> tuple[list, list]:
    """Σ over the rows of X of ∂fn/∂params: compiled (one batch), then the dynamic engine."""
    f = compile(fn, X[0])
    for p in params:
        p.grad = 0.0
    f.backward(X, reduction="sum")
    compiled = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    for x in X.tolist():
        fn(*map(Value, x)).backward()
    return compiled, [p.grad for p in params]


def test_a_bias_rides_in_the_matrix_multiply_over_many_blocks(monkeypatch) -> None:
    from autograd_bp.compiled import groups, schedule

    monkeypatch.setattr(schedule, "BLOCK_NUMBERS", 1)  # 128-column blocks: 5 of them below
    net = MLP(3, [8, 8, 1], activation="tanh", seed=0)
    X = np.random.default_rng(0).uniform(-1, 1, (600, 3))
    compiled, dynamic = _compiled_vs_dynamic_grads(lambda *x: net(list(x)), net.parameters(), X)
    assert compiled == pytest.approx(dynamic, rel=1e-12, abs=1e-12)
    f = compile(lambda *x: net(list(x)), X[0])
    layers = [g for g in f.tape.groups if isinstance(g, groups.MatmulGroup)]
    # every layer reads a slice of rows (the inputs, the activations), the 1.0 right after
    assert [g.S_ext is not None for g in layers] == [True, True, True]
    assert len(f.tape.buffers(len(X))) == 5


def test_tied_weights_permuted_rows_and_a_constant_that_is_not_one() -> None:
    """One weight matrix used by three layers (so none writes ∂W alone), two of them reading
    the same rows in opposite orders (one reads a slice, the other must gather), and a
    'bias input' of 2.0."""
    rng = np.random.default_rng(1)
    W = [[Value(v) for v in row] for row in rng.uniform(-1, 1, (3, 3))]
    b = [Value(v) for v in rng.uniform(-1, 1, 3)]

    def layer(inputs: list[Value]) -> list[Value]:
        return [dot([*W[i], b[i]], [*inputs, 2.0]).tanh() for i in range(3)]

    def fn(*x: Value) -> Value:
        h = layer(list(x))
        return sum_values(layer(h[::-1]) + layer(h))

    params = [w for row in W for w in row] + b
    X = rng.uniform(-1, 1, (40, 3))
    compiled, dynamic = _compiled_vs_dynamic_grads(fn, params, X)
    assert compiled == pytest.approx(dynamic, rel=1e-12, abs=1e-12)
    from autograd_bp.compiled.groups import MatmulGroup

    f = compile(fn, X[0])
    layers = [g for g in f.tape.groups if isinstance(g, MatmulGroup)]
    assert len(layers) == 3 and not any(g.exclusive for g in layers)
    assert sorted(g.S_ext is not None for g in layers) == [False, True, True]


_LAYER = st.tuples(
    st.integers(1, 4),  # neurons
    st.sampled_from([(), (1.0,), (1.0,), (2.0,), (-0.0,), (-3.5,), (1.0, 0.5)]),  # constants
    st.integers(0, 9),  # where the constants sit among the operands
    st.booleans(),  # read the rows below reversed (a gather, not a slice)
    st.sampled_from(["tanh", "relu", "sigmoid", "none"]),
    st.booleans(),  # a sibling layer reads the same rows with another constant, 3.0
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_LAYER, min_size=1, max_size=3), st.integers(1, 3), st.integers(0, 2),
       st.sampled_from([1, 2, 129, 300]), st.integers(0, 2), st.integers(0, 10**6))  # fmt: skip
def test_random_layer_stacks_with_constants_match_the_dynamic_engine(
        layers, n_in, n_targets, batch, output, seed) -> None:  # fmt: skip
    """Stacks of layer-shaped dot groups — a constant or two (a bias's 1.0, or not) anywhere
    among the operands, rows read in order or reversed, extra inputs the layers do not read,
    hidden activations also returned — over 128-column blocks (several, and a 1-column
    one): outputs and summed gradients equal the dynamic engine's, and a layer that reads
    the activations below in order, with one constant, folds it into its matrix multiply."""
    from autograd_bp.compiled import groups, schedule

    rng = np.random.default_rng(seed)
    weights = [[[Value(v) for v in rng.uniform(-1, 1, (n_in if i == 0 else layers[i - 1][0])
                                                 + len(consts))] for _ in range(m)]
               for i, (m, consts, *_) in enumerate(layers)]  # fmt: skip
    siblings = [[Value(v) for v in rng.uniform(-1, 1, len(w[0]) - len(c) + 1)]
                for w, (_, c, *_) in zip(weights, layers)]  # fmt: skip

    def fn(*x: Value) -> list[Value]:
        h, returned = list(x[:n_in]), []
        for (_, consts, at, backwards, act, sibling), W, w in zip(layers, weights, siblings):
            if sibling:
                returned.append(dot(w, [*h, 3.0]))
            rows = h[::-1] if backwards else h
            at %= len(rows) + 1
            operands = [*rows[:at], *consts, *rows[at:]]
            h = [dot(row, operands) for row in W]
            h = h if act == "none" else [getattr(v, act)() for v in h]
            returned.append(h[0])
        loss = sum_values(h) - sum_values([t * t for t in x[n_in:]] or [0.0])
        return [loss, *returned]

    params = [w for layer in [*weights, siblings] for row in layer for w in row]
    X = rng.uniform(-1.5, 1.5, (batch, n_in + n_targets))
    output %= 1 + len(layers) + sum(layer[-1] for layer in layers)
    saved = schedule.BLOCK_NUMBERS
    schedule.BLOCK_NUMBERS = 1  # 128-column blocks
    try:
        f = compile(fn, X[0])
        outputs = f(X).reshape(batch, -1)
        for p in params:
            p.grad = 0.0
        f.backward(X, output=output, reduction="sum")
    finally:
        schedule.BLOCK_NUMBERS = saved
    compiled = [p.grad for p in params]
    for p in params:
        p.grad = 0.0
    for k, x in enumerate(X.tolist()):
        values = fn(*map(Value, x))
        assert outputs[k].tolist() == pytest.approx([v.data for v in values], rel=1e-12, abs=1e-12)
        values[output].backward()
    assert compiled == pytest.approx([p.grad for p in params], rel=1e-12, abs=1e-12)
    layer_of = {int(k): g for g in f.tape.groups if isinstance(g, groups.MatmulGroup)
                for k in g.pids.ravel()}  # fmt: skip
    index = {id(p): k for k, p in enumerate(f.parameters)}
    for i, ((_, consts, _, backwards, _, sibling), W) in enumerate(zip(layers, weights)):
        if i > 0 and len(consts) == 1 and not backwards and not sibling:
            assert layer_of[index[id(W[0][0])]].S_ext is not None


def test_a_closed_relu_stops_a_nan_upstream_as_the_engine_does() -> None:
    """relu's derivative is a gate that selects (PyTorch's threshold_backward): the dynamic
    engine gives 0, not 0 · NaN, to a weight behind a closed relu — so must the tape."""
    w0, w1 = Value(0.5), Value(-0.7)
    v = [Value(0.3), Value(0.2)]

    def fn(x: Value) -> Value:
        return dot(v, [(w0 * x).relu(), (w1 * x).relu()]) * math.nan

    X = np.array([[1.0], [2.0], [0.5]])
    compiled, dynamic = _compiled_vs_dynamic_grads(fn, [w0, w1, *v], X)
    np.testing.assert_array_equal(compiled, dynamic)  # NaN where NaN, 0.0 where gated
    assert compiled[1] == 0.0 and math.isnan(compiled[0])


def test_a_power_of_zero_stops_a_nan_upstream_as_the_engine_does() -> None:
    """∂(x**0)/∂x is PyTorch's selected 0 (the engine's BLOCKED), also on a batch."""
    w = Value(0.5)

    def fn(x: Value) -> Value:
        return (w * x) ** 0.0 * math.nan + (w * x) ** 2.0

    compiled, dynamic = _compiled_vs_dynamic_grads(fn, [w], np.array([[1.0], [2.0], [-3.0]]))
    assert compiled == dynamic and math.isfinite(compiled[0])


def test_a_hand_built_node_is_refused_by_compile_naming_its_op() -> None:
    def triple(x):
        out = Value(3 * x.data, (x,), "triple")

        def _backward():
            x.grad += 3 * out.grad

        out._backward = _backward
        return out

    with pytest.raises(TraceError, match="op 'triple' is not in the op table"):
        compile(lambda x: triple(x) * x, [2.0])
    with pytest.raises(TraceError, match="op '' is not in the op table"):
        compile(lambda x: Value(x.data * 2, (x,), (2.0,)) + x, [2.0])
