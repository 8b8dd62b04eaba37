"""The graph machinery: construction, backward semantics, grad(), no_grad, deep and wide graphs."""

from __future__ import annotations

import asyncio
import math
import random
import threading

import numpy as np
import pytest
from conftest import require_torch
from hypothesis import given
from hypothesis import strategies as st

from autograd_bp import Value, backward_order, dot, grad, is_grad_enabled, no_grad, sum_values


@pytest.mark.parametrize("data", [3, 2.5, np.float64(1.5), np.float32(0.25), np.int64(7)])
def test_value_accepts_real_numbers_and_stores_float(data) -> None:
    v = Value(data, label="x")
    assert type(v.data) is float and v.data == float(data)
    assert v.grad == 0.0 and type(v.grad) is float
    assert v.op == "" and v.parents == () and v.label == "x"


@pytest.mark.parametrize("bad", ["1", None, 1j, [1.0], True, np.bool_(True)])
def test_value_rejects_other_types_naming_them(bad) -> None:
    with pytest.raises(TypeError) as info:
        Value(bad)
    assert type(bad).__name__ in str(info.value)


@pytest.mark.parametrize("bad", ["1", None, 1j, [1.0], True])
def test_ops_reject_non_numbers_naming_the_op(bad) -> None:
    with pytest.raises(TypeError, match="mul"):
        Value(1.0) * bad


def test_repr_shows_label_data_and_grad() -> None:
    v = Value(0.15, label="w1")
    assert repr(v) == "Value(label='w1', data=0.15, grad=0.0)"
    v.label = "w"
    assert "label='w'" in repr(v)


def test_numpy_scalar_on_the_left_gives_a_value() -> None:
    x = Value(2.0)
    y = np.float64(3.0) * x
    assert isinstance(y, Value) and y.data == 6.0


def test_ops_record_parents_and_local_derivatives() -> None:
    a, b = Value(3.0), Value(4.0)
    c = a * b
    assert c.op == "mul" and c.parents == (a, b) and c.local_grads == (4.0, 3.0)
    d = 2 * a
    assert d.parents == (a,) and d.constants == (2.0,) and d.local_grads == (2.0,)


def test_backward_accumulates_through_shared_subexpressions() -> None:
    a = Value(3.0)
    b = a + a
    c = b * b  # c = 4a^2 -> dc/da = 8a
    c.backward()
    assert a.grad == 24.0 and b.grad == 12.0 and c.grad == 1.0


def test_backward_twice_doubles_every_gradient_root_included() -> None:
    x, w = Value(0.5), Value(-1.5)
    h = (x * w).tanh()
    y = h * h + h.sigmoid()
    y.backward()
    first = {id(n): n.grad for n in backward_order(y)}
    y.backward()
    for node in backward_order(y):
        assert node.grad == 2 * first[id(node)]


def test_zero_grad_resets_the_whole_graph_below() -> None:
    x = Value(2.0)
    y = (x * x).exp()
    y.backward()
    y.zero_grad()
    assert all(n.grad == 0.0 for n in backward_order(y))


def test_no_grad_records_nothing_and_restores() -> None:
    w = Value(2.0)
    with no_grad():
        assert not is_grad_enabled()
        v = (w * 3).tanh()
    assert v.parents == () and v.op == "" and is_grad_enabled()
    assert (w * 3).parents == (w,)


def test_no_grad_restores_on_exception() -> None:
    with pytest.raises(RuntimeError), no_grad():
        raise RuntimeError
    assert is_grad_enabled()


def test_no_grad_is_per_thread_and_per_task() -> None:
    seen: list[bool] = []
    with no_grad():
        t = threading.Thread(target=lambda: seen.append(is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]

    async def main() -> list[bool]:
        gate = asyncio.Event()

        async def inside() -> bool:
            with no_grad():
                await gate.wait()
                return is_grad_enabled()

        async def outside() -> bool:
            gate.set()
            return is_grad_enabled()

        return list(await asyncio.gather(inside(), outside()))

    assert asyncio.run(main()) == [False, True]


def test_grad_leaves_dot_grad_untouched() -> None:
    x, y = Value(1.5), Value(-0.5)
    f = x * y + x.sin()
    gx, gy = grad(f, [x, y])
    assert math.isclose(gx, -0.5 + math.cos(1.5)) and gy == 1.5
    assert x.grad == 0.0 and y.grad == 0.0 and f.grad == 0.0


def test_grad_of_unreachable_input_is_zero() -> None:
    x, z = Value(1.0), Value(2.0)
    assert grad(x * 3, [z]) == (0.0,)


def test_third_derivative_by_nesting() -> None:
    x = Value(0.7)
    (d1,) = grad(x.sin() * x, [x], create_graph=True)
    (d2,) = grad(d1, [x], create_graph=True)
    (d3,) = grad(d2, [x])
    # d3/dx3 (x sin x) = -3 sin x - x cos x
    assert math.isclose(d3, -3 * math.sin(0.7) - 0.7 * math.cos(0.7), rel_tol=1e-12)


def test_million_deep_chain_at_default_recursion_limit() -> None:
    x = Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y * 1.0000001 + 0.0000001
    y.backward()
    assert math.isclose(x.grad, 1.0000001**1_000_000, rel_tol=1e-9)
    del y  # freeing a 10^6-deep graph must not overflow the C stack either


def test_sum_values_is_one_node_for_many_terms() -> None:
    xs = [Value(float(i)) for i in range(100_000)]
    s = sum_values(xs)
    assert len(s.parents) == 100_000 and s.data == sum(range(100_000))
    s.backward()
    assert all(x.grad == 1.0 for x in xs)


def test_dot_is_a_weighted_sum_with_swapped_local_derivatives() -> None:
    w = [Value(0.4), Value(0.45)]
    h = [Value(0.59), Value(0.6)]
    z = dot(w, h) + 0.6
    z.backward()
    assert math.isclose(z.data, 0.4 * 0.59 + 0.45 * 0.6 + 0.6)
    assert [v.grad for v in w] == [0.59, 0.6] and [v.grad for v in h] == [0.4, 0.45]
    with pytest.raises(ValueError, match="dot"):
        dot(w, [1.0])


def test_second_derivative_through_nary_ops() -> None:
    x, y = Value(0.5), Value(-1.2)
    f = dot([x, y, x], [y, 2.0, x]) + sum_values([x * x, y, 3])  # xy + 2y + x^2 + x^2 + y + 3
    (dx,) = grad(f, [x], create_graph=True)
    dxx, dxy = grad(dx, [x, y])
    assert math.isclose(dx.data, -1.2 + 4 * 0.5) and dxx == 4.0 and dxy == 1.0


def _random_dag(n: int, seed: int, make_leaf, ops):
    rng = random.Random(seed)
    nodes = [make_leaf(rng.uniform(-1, 1)) for _ in range(8)]
    leaves = list(nodes)
    for _ in range(n):
        kind = rng.randrange(3)
        a, b = nodes[rng.randrange(len(nodes))], nodes[rng.randrange(len(nodes))]
        nodes.append(ops[kind](a, b))
    return leaves, nodes


def test_random_dag_with_reuse_matches_torch() -> None:
    torch = require_torch()
    ops = [lambda a, b: a + b, lambda a, b: a * b * 0.5, lambda a, b: (a - b).tanh()]
    leaves, nodes = _random_dag(10_000, 1, Value, ops)
    out = sum_values(nodes[-50:])
    out.backward()
    tleaves, tnodes = _random_dag(
        10_000,
        1,
        lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True),
        [lambda a, b: a + b, lambda a, b: a * b * 0.5, lambda a, b: torch.tanh(a - b)],
    )
    tout = torch.stack(tnodes[-50:]).sum()
    tout.backward()
    assert math.isclose(out.data, tout.item(), rel_tol=1e-12, abs_tol=1e-12)
    for v, t in zip(leaves, tleaves):
        assert math.isclose(v.grad, t.grad.item(), rel_tol=1e-10, abs_tol=1e-12)


@given(st.lists(st.floats(-3, 3), min_size=1, max_size=6), st.integers(0, 2**16))
def test_backward_order_puts_every_consumer_before_its_parents(xs, seed) -> None:
    rng = random.Random(seed)
    nodes = [Value(x) for x in xs]
    for _ in range(20):
        a, b = rng.choice(nodes), rng.choice(nodes)
        nodes.append(a * b if rng.random() < 0.5 else a + b.tanh())
    order = backward_order(nodes[-1])
    position = {id(n): i for i, n in enumerate(order)}
    assert len(position) == len(order)
    for node in order:
        for parent in node.parents:
            assert position[id(node)] < position[id(parent)]
