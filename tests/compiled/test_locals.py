"""The compiled tape computes only the local derivatives that have an edge (x ** 2: not the
exponent's), with the dynamic engine's gradients."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp import Value, compile
from autograd_bp.compiled.groups import OpGroup, RowSums
from autograd_bp.core import RULES


def engine_mean_grads(fn, params: list[Value], X: np.ndarray) -> np.ndarray:
    """The dynamic engine, example by example: the mean gradient of the output."""
    grads = np.zeros(len(params))
    for row in X:
        for p in params:
            p.grad = 0.0
        fn(*[Value(float(v)) for v in row]).backward()
        grads += [p.grad for p in params]
    return grads / len(X)


def _pow_group(f) -> OpGroup:
    (group,) = [g for g in f.tape.backward_groups(0) if getattr(g, "rule", None) is RULES["pow"]]
    return group


@pytest.mark.parametrize("exponent", [2.0, 3.0, 0.5, -1.0, 0.0])
def test_a_constant_exponent_gets_no_local_derivative(exponent: float) -> None:
    w = [Value(0.7), Value(-1.3)]

    def fn(x: Value, y: Value) -> Value:
        base = w[0] * x + w[1] * y + 2.5 if exponent in (0.5, -1.0) else w[0] * x + w[1] * y
        return base**exponent

    X = np.random.default_rng(1).normal(size=(9, 2))
    f = compile(fn, X[0], X[1])
    group = _pow_group(f)
    base, power = np.array([[1.5, -2.0, 0.0]]), np.full((1, 3), exponent)
    if exponent != 0.5 and exponent != -1.0:  # pow's forward refuses 0 ** negative only
        out = RULES["pow"].forward(base, power, None)
        base_local, exponent_local = group.local(base, power, out, None)
        assert exponent_local is None  # not computed: the constant 2.0 has no edge
        full = RULES["pow"].local(base, power, out, None)[0]
        np.testing.assert_array_equal(np.asarray(base_local), np.asarray(full))
    _, _ = f.backward(X, sync=False)
    position = {id(p): i for i, p in enumerate(f.parameters)}
    got = np.array([f.flat_grad[position[id(p)]] for p in w])
    want = engine_mean_grads(fn, w, X)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0.0)


def test_a_parameter_exponent_still_gets_both() -> None:
    """w ** x with both operands needing a gradient: the rule's own ``local``, whole."""
    w, e = Value(1.7), Value(1.3)

    def fn(x: Value) -> Value:
        return (w * x * x + 0.5) ** e

    X = np.random.default_rng(2).normal(size=(7, 1))
    f = compile(fn, X[0], X[1])
    assert _pow_group(f).local is RULES["pow"].local
    f.backward(X, sync=False)
    position = {id(p): i for i, p in enumerate(f.parameters)}
    got = np.array([f.flat_grad[position[id(p)]] for p in (w, e)])
    np.testing.assert_allclose(got, engine_mean_grads(fn, [w, e], X), rtol=1e-12, atol=0.0)


def test_one_example_and_a_negative_base_squared() -> None:
    """B = 1 on flat rows, a negative base (its exponent derivative would be NaN)."""
    w = Value(-2.0)
    f = compile(lambda x: (w * x) ** 2, [3.0])
    f.backward(np.array([[3.0]]), sync=False)
    assert f.flat_grad.tolist() == [2 * (-6.0) * 3.0]


def engine_outputs(fn, X: np.ndarray) -> np.ndarray:
    return np.array([fn(*[Value(float(v)) for v in row]).data for row in X])


CONSTANT_OPS = {
    "pow half": lambda u: (u * u + 0.25) ** 0.5,
    "pow int": lambda u: u**3,
    "pow of a constant": lambda u: 2.0**u,
    "mul negative zero": lambda u: u * -0.0 + u,
    "rsub": lambda u: 1.5 - u,
    "div": lambda u: u / 3,
    "rdiv": lambda u: 2.0 / (u * u + 1.0),
}


@pytest.mark.parametrize("name", sorted(CONSTANT_OPS))
@pytest.mark.parametrize("batch", [1, 6])
def test_a_constant_operand_is_passed_as_a_number(name: str, batch: int) -> None:
    """Each op with a folded constant runs on the number (numpy's fast scalar paths), with
    the engine's outputs and gradients — B = 1 (flat rows) and B > 1, -0.0 and 0.5 kept."""
    w = Value(0.8)
    op = CONSTANT_OPS[name]

    def fn(x: Value) -> Value:
        return op(w * x)

    X = np.random.default_rng(3).normal(size=(max(batch, 2), 1))[:batch]
    X[0, 0] = 0.0 if name == "mul negative zero" else X[0, 0]
    f = compile(fn, [0.3], [1.1])
    numbered = [g for g in f.tape.groups if isinstance(g, OpGroup) and any(
        c is not None for c in g.numbers)]  # fmt: skip
    assert numbered, "no group took its constant as a number"
    _, outs = f.backward(X, sync=False)
    want = engine_outputs(fn, X)
    np.testing.assert_array_equal(np.signbit(outs[:, 0]), np.signbit(want))
    np.testing.assert_allclose(outs[:, 0], want, rtol=1e-15, atol=0.0)
    np.testing.assert_allclose(f.flat_grad, engine_mean_grads(fn, [w], X), rtol=1e-12, atol=0.0)



def _square(u: Value) -> Value:
    return u * u


def _double(u: Value) -> Value:
    return u + u


TWINS = {
    "x * x": lambda w, x: _square(w * x),
    "x + x, then tanh": lambda w, x: _double(w * x).tanh(),
    "x * x beside x": lambda w, x: _square(w * x) + (w * x).tanh(),  # x's rows added to
    "x * x three times": lambda w, x: sum(_square(w * x) * float(k) for k in (1, 2, 3)),
    "relu(x) * relu(x)": lambda w, x: _square((w * x).relu()),
}


@pytest.mark.parametrize("name", sorted(TWINS))
@pytest.mark.parametrize("batch", [1, 5])
def test_an_operand_taken_twice_by_a_symmetric_rule(name: str, batch: int) -> None:
    """x * x and x + x: the second position adds the first's contribution again (computed
    once), the same numbers bit for bit as computing it twice, and the engine's gradients —
    assigned, added to, summed over a group whose every instruction reads x, on flat rows
    (B = 1) and on a batch."""
    w = Value(0.7)
    fn = lambda x: TWINS[name](w, x)  # noqa: E731
    X = np.array([[1.5], [-2.0], [0.25], [3.0], [-0.5]])[:batch]
    f = compile(fn, [1.5], [-2.0])
    f.backward(X, sync=False)
    twins = [g for g in f.tape.backward_groups(0) if getattr(g, "twin", False)]
    assert twins  # the case is exercised
    once = f.flat_grad.copy()
    for g in twins:
        g.twin = False
    f.backward(X, sync=False)
    assert once.tolist() == f.flat_grad.tolist()
    np.testing.assert_allclose(once, engine_mean_grads(fn, [w], X), rtol=1e-14)


@pytest.mark.parametrize(("fn", "twin"), [(lambda a: a * a, True), (lambda a: a + a, True),
                                          (lambda a: a * (a * 1.0), False),
                                          (lambda a: a - a, False),
                                          (lambda a: a / a, False)])  # fmt: skip
def test_only_a_symmetric_rule_on_one_node_is_a_twin(fn, twin: bool) -> None:
    f = compile(fn, [1.0], [3.0])
    assert f.tape.groups[-1].twin is twin  # the op of the output


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=12), st.booleans())
def test_row_sums_add_what_add_at_adds(rows: list[int], sort: bool) -> None:
    """Repeated rows' contributions summed into their rows, whether the rows come sorted (a
    softmax's denominators: no gather) or in any order, on a slice of rows or a scatter."""
    index = np.array(sorted(rows) if sort else rows)
    contribution = np.random.default_rng(len(rows)).normal(size=(len(index), 3))
    grads = np.random.default_rng(1).normal(size=(8, 3))
    want = grads.copy()
    np.add.at(want, index, contribution)
    sums = RowSums(index)
    assert (sums.order is None) == bool((np.diff(index) >= 0).all())
    sums.add(grads, contribution)
    np.testing.assert_allclose(grads, want, rtol=1e-15, atol=1e-15)
