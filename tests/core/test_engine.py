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


class Two(int):  # an int subclass takes to_float's general path, not the int fast path
    pass


@pytest.mark.parametrize("number", [2, Two(2), np.int64(2), np.float32(2.0), np.array(2)])
def test_an_int_operand_is_folded_in_as_the_float(number) -> None:
    x = Value(3.0)
    for made, expected in ((x * number, x * 2.0), (number - x, 2.0 - x), (x**number, x**2.0)):
        assert made.data == expected.data and made.op == expected.op
        assert made.operands == expected.operands  # the number kept as the float 2.0
        assert all(type(c) is float for c in made.constants)
        assert made.local_grads == expected.local_grads


def test_ops_refuse_an_int_too_large_for_a_float_and_a_numpy_bool() -> None:
    with pytest.raises(OverflowError, match="mul: number operand: 1000.* is too large"):
        Value(1.0) * 10**400
    with pytest.raises(TypeError, match="add.*bool"):
        Value(1.0) + np.bool_(True)


@given(st.floats(1e-300, 1e300), st.floats(-50.0, 50.0).filter(lambda b: b != 0.0))
def test_pow_base_derivative_of_a_positive_base_matches_the_array_path(a, b) -> None:
    # Floats with a > 0 and b != 0 take a fast path; the array branch is the general one.
    from autograd_bp.core.numerics import pow_base_local

    fast = pow_base_local(a, b)
    general = float(np.asarray(pow_base_local(np.array([a]), np.array([b])))[0])
    assert fast == pytest.approx(general, rel=1e-14) or (math.isinf(fast) and fast == general)


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



SPECIAL = [0.0, -0.0, 1e308, -1e308, 5e-324, math.inf, -math.inf, math.nan, 0.1, -3.0]


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(SPECIAL),
                min_size=2, max_size=40).filter(lambda xs: len(xs) % 2 == 0))  # fmt: skip
def test_dot_node_sums_as_the_rules_forward_bit_for_bit(xs) -> None:
    # variadic_node sums dot's products itself (no call into the rule): it must give the
    # rule's own forward, to the bit, at -0.0, inf and NaN too; also with numbers among them
    from autograd_bp.core.rules import RULES

    expected = RULES["dot"].forward(tuple(xs), None)
    for operands in ([Value(x) for x in xs], [Value(x) if i % 2 else x for i, x in enumerate(xs)]):
        got = dot(operands[0::2], operands[1::2]).data
        assert math.copysign(1.0, got) == math.copysign(1.0, expected) or math.isnan(got)
        assert got == expected or (math.isnan(got) and math.isnan(expected))
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


# -- issue 14: misuse must not give silent wrong answers -----------------------------------


def _chain(x: Value, n: int) -> Value:
    y = x
    for i in range(n):
        y = y * 1.0001 + x if i % 2 else (y * 0.999).tanh()
    return y


def test_concurrent_backward_accumulates_as_if_sequential() -> None:
    x = Value(0.3)
    y = _chain(x, 4000)
    y.backward()
    once = x.grad
    y.zero_grad()
    barrier = threading.Barrier(2)

    def work() -> None:
        barrier.wait()
        for _ in range(10):
            y.backward()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert math.isclose(x.grad, 20 * once, rel_tol=1e-12)


def test_concurrent_backward_on_graphs_sharing_a_leaf_loses_no_update() -> None:
    shared = Value(0.7)
    roots = [_chain(shared, 500) * (k + 1) for k in range(4)]
    expected = 0.0
    for r in roots:
        (g,) = grad(r, shared)
        expected += 25 * g
    barrier = threading.Barrier(4)

    def work(root: Value) -> None:
        barrier.wait()
        for _ in range(25):
            root.backward()

    threads = [threading.Thread(target=work, args=(r,)) for r in roots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert math.isclose(shared.grad, expected, rel_tol=1e-12)


def test_walks_in_two_threads_over_shared_nodes_each_see_every_node_once() -> None:
    # a walk marks the nodes it reaches; two at once must not spoil each other's marks
    # (readers such as diagrams walk without the engine's lock)
    import sys

    shared = _chain(Value(0.4), 5000)
    roots = [shared * (k + 1.0) + shared for k in range(2)]
    expected = [backward_order(r) for r in roots]
    barrier = threading.Barrier(2)
    wrong: list[int] = []

    def work(k: int) -> None:
        barrier.wait()
        for _ in range(40):
            if backward_order(roots[k]) != expected[k]:
                wrong.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: in the middle of walks
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not wrong
    assert len(expected[0]) == len(set(map(id, expected[0])))


def test_a_walk_started_inside_a_walk_does_not_spoil_it() -> None:
    # a finaliser or a signal handler may walk another graph in the middle of a walk (on
    # the same thread, so the lock lets it in): the outer walk notices and walks again
    from autograd_bp.core.node import VARIADIC

    x = Value(3.0, label="x")
    nested: list[int] = []
    roots: list[Value] = []

    class WalksWhenRead(tuple):
        def __getitem__(self, i):  # type: ignore[override]
            if not nested:  # the same graph, walked again: every node re-marked
                nested.append(0)
                nested[0] = len(backward_order(roots[0]))
            return tuple.__getitem__(self, i)

    s = Value(3.0)
    s.op, s._a, s._da = "sum", VARIADIC, WalksWhenRead((x, 1.0))
    y = s * s
    roots.append(y)
    assert backward_order(y) == [y, s, x] and nested == [3]
    y.backward()
    assert x.grad == 6.0


def test_gc_pause_never_reenables_a_collector_the_application_disabled() -> None:
    import gc

    from autograd_bp.core.engine import gc_paused

    was = gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            _chain(Value(1.0), 100).backward()
        assert not gc.isenabled()
    finally:
        if was:
            gc.enable()


def test_overlapping_gc_pauses_in_two_threads_restore_once_both_leave() -> None:
    import gc

    from autograd_bp.core.engine import gc_paused

    assert gc.isenabled()
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with gc_paused():
            inside.set()
            release.wait(5)

    t = threading.Thread(target=other)
    with gc_paused():
        t.start()
        inside.wait(5)
    assert not gc.isenabled()  # the other thread is still inside its block
    release.set()
    t.join()
    assert gc.isenabled()


@pytest.mark.parametrize("bad", ["oops", None, [1.0], True])
def test_refused_backward_keeps_gradients_accumulated_before(bad) -> None:
    x = Value(2.0)
    y = x * x
    y.backward()
    with pytest.raises(TypeError, match="gradient"):
        y.backward(gradient=bad)
    assert x.grad == 4.0 and y.grad == 1.0


def test_backward_accepts_numpy_scalar_seed() -> None:
    x = Value(2.0)
    (x * 3).backward(np.float32(2.0))
    assert x.grad == 6.0


def test_no_grad_bare_decorator_generator_and_async() -> None:
    w = Value(1.0)

    @no_grad
    def bare(v: Value) -> Value:
        return v * 2

    @no_grad()
    def gen(v: Value):
        yield v * 2
        yield v * 3

    @no_grad()
    async def coro(v: Value) -> tuple[Value, bool]:
        await asyncio.sleep(0)
        return v * 2, is_grad_enabled()

    assert bare(w).is_leaf
    items = list(gen(w))
    assert all(item.is_leaf for item in items) and is_grad_enabled()
    value, enabled = asyncio.run(coro(w))
    assert value.is_leaf and not enabled and is_grad_enabled()
    assert not (w * 2).is_leaf  # nothing leaked out of the decorated calls


def test_no_grad_generator_leaves_grad_on_between_items() -> None:
    @no_grad()
    def gen():
        yield is_grad_enabled()
        yield is_grad_enabled()

    g = gen()
    assert next(g) is False
    assert is_grad_enabled()  # the caller, between two items, records as usual
    assert next(g) is False


def test_no_grad_refuses_non_callables_clearly() -> None:
    with pytest.raises(TypeError, match="no_grad"):
        no_grad(3)


def test_value_formats_converts_and_rounds_like_its_number() -> None:
    v = Value(2.0 / 3.0, label="v")
    assert f"{v:.4f}" == "0.6667" and float(v) == v.data and round(v, 3) == 0.667
    assert f"{v}" == repr(v)


def test_value_label_must_be_text() -> None:
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=5)  # type: ignore[arg-type]


def test_grad_takes_one_value_or_a_sequence_and_refuses_numbers() -> None:
    x = Value(3.0)
    assert grad(x * x, x) == (6.0,) == grad(x * x, [x])
    with pytest.raises(TypeError, match="output must be a Value"):
        grad(3.0, [x])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"inputs\[1\]"):
        grad(x * x, [x, 2.0])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="expected a Value"):
        backward_order(3.0)  # type: ignore[arg-type]


def test_create_graph_at_sqrt_zero_gives_inf_like_backward() -> None:
    x = Value(0.0)
    y = x.sqrt()
    y.backward()
    (d,) = grad(x.sqrt(), x, create_graph=True)
    assert x.grad == math.inf and d.data == math.inf


def test_chain_rule_walker_sees_both_operand_slots() -> None:
    from autograd_bp.core.engine import chain_rule

    x = Value(3.0)
    y = x * x
    seen = []
    grads = chain_rule(y, visit=lambda node, slot, parent, local, g, before: seen.append(slot))
    assert grads[x] == 6.0 and seen == [0, 1] and x.grad == 0.0


def test_value_spells_out_one_method_per_rule_of_the_table() -> None:
    """The node's class body (node.py, Value's base) holds a method for each method the
    table declares, rendered from that very rule: the text equals a fresh rendering (no stub
    that could drift from the table); only rules added by ``register`` get theirs at run time."""
    import ast
    import json
    import subprocess
    import sys
    from pathlib import Path

    from autograd_bp.core import COMPILED, methods
    from autograd_bp.core.ops import RULES

    source = (Path(methods.__file__).with_name("node.py")).read_text(encoding="utf-8")
    rendered = source.split(methods.BEGIN)[1].split(methods.END)[0]
    assert rendered == methods.node_methods_source(), "run python -m autograd_bp.core.methods"
    (cls,) = [c for c in ast.parse(source).body if isinstance(c, ast.ClassDef) and c.name == "Node"]
    made = {f.name for f in cls.body if isinstance(f, ast.FunctionDef) and f.name != "__new__"}
    table = json.loads(subprocess.run(  # the table as shipped, before any test registers ops
        [sys.executable, "-c", "import json; from autograd_bp.core.rules import RULES; "
         "print(json.dumps({n: [r.method, r.arity, r.variadic] for n, r in RULES.items()}))"],
        capture_output=True, text=True, check=True).stdout)  # fmt: skip
    expected = {}
    for name, (method, arity, variadic) in table.items():
        if method and not variadic:
            for attr in [f"__{method}__", f"__r{method}__"] if arity == 2 else [method]:
                expected[attr] = name
    assert made == set(expected)
    for attr, name in expected.items():  # and each is what Value has, applying that rule
        if not COMPILED:  # compiled methods keep no docstrings (mypyc); their source does
            assert getattr(Value, attr).__doc__.count(repr(name)) == 1, attr
    assert Value(-2.0).leaky_relu().data == -2.0 * RULES["leaky_relu"].default


def test_an_ops_method_runs_its_rules_code_and_shows_it() -> None:
    """Value's methods are made from the op table's code (rules.py): their source is that
    code, tracebacks show it (running from source), and they agree with the rule's functions."""
    import inspect
    import traceback
    from pathlib import Path

    from autograd_bp.core import COMPILED, methods
    from autograd_bp.core.rules import RULES

    source = methods.method_source(RULES["div"])
    forward, (d_a, d_b) = RULES["div"].code  # div has no parameter: its p is None
    assert forward.replace("p)", "None)") in source and d_a in source and d_b in source
    node_py = (Path(methods.__file__).with_name("node.py")).read_text(encoding="utf-8")
    assert "div_forward(a, b, None)" in node_py and "1.0 - out * out" in node_py
    if not COMPILED:
        assert "1.0 - out * out" in inspect.getsource(Value.tanh)
    try:
        Value(1.0) / 0.0
    except ZeroDivisionError as error:
        frames = "".join(traceback.format_exception(error))
    assert "__truediv__" in frames  # the method, named in the trace (and its line, from source)
    if not COMPILED:
        assert "out = div_forward(a, b, None)" in frames
    for name, xs in (("mul", (1.5, -2.0)), ("sub", (0.5, 3.0)), ("pow", (1.7, 2.5)),
                     ("div", (3.0, -0.25))):  # fmt: skip
        rule = RULES[name]
        a, b = Value(xs[0]), Value(xs[1])
        for node, local in (((a.__getattribute__(f"__{rule.method}__"))(b), (0, 1)),
                            (a.__getattribute__(f"__{rule.method}__")(xs[1]), (0,)),
                            (b.__getattribute__(f"__r{rule.method}__")(xs[0]), (1,))):
            out = rule.forward(*xs, None)
            assert node.data == out and node.operands[0] in (a, xs[0])
            want = rule.local(*xs, out, None)
            assert node.local_grads == tuple(want[i] for i in local), (name, local)



def test_op_methods_pickle_by_name_as_values_own() -> None:
    """A method made from the op table is the node's own, which Value inherits: named
    Node.<op> and pickled by name (a process pool can be handed ``Value.tanh``)."""
    import pickle

    for method in (Value.__add__, Value.__rtruediv__, Value.tanh, Value.leaky_relu):
        assert method.__qualname__.startswith("Node.")
        assert pickle.loads(pickle.dumps(method)) is method
