"""Drop-in: scripts written against micrograd's and microgpt's ``Value`` run on ours with the
import swapped, and give the gradients the installed micrograd package (and PyTorch) give."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
from pathlib import Path

import graphviz
import micrograd.engine as mg_engine
import micrograd.nn as mg_nn
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_moons

from autograd_bp import Value, grad
from autograd_bp.nn import MLP, Neuron

ROOT = Path(__file__).resolve().parents[2]


# -- micrograd's dialect ---------------------------------------------------------------------


def micrograd_tanh(self):
    """The micrograd lecture's tanh, written as users write a custom op (verbatim style)."""
    x = self.data
    t = (math.exp(2 * x) - 1) / (math.exp(2 * x) + 1)
    out = Value(t, (self,), "tanh")

    def _backward():
        self.grad += (1 - t**2) * out.grad

    out._backward = _backward
    return out


def micrograd_mul(self, other):
    out = Value(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += other.data * out.grad
        other.grad += self.data * out.grad

    out._backward = _backward
    return out


def test_custom_closure_ops_mixed_with_ours_give_the_rule_gradients():
    a, b = Value(0.3), Value(-1.2)
    ours_a, ours_b = Value(0.3), Value(-1.2)
    # the custom node is reached twice (a diamond), so its closure must run after both uses
    h = micrograd_tanh(micrograd_mul(a, b) + a)
    y = (h * h + h.exp()) * b
    h2 = (ours_a * ours_b + ours_a).tanh()
    y2 = (h2 * h2 + h2.exp()) * ours_b
    y.backward()
    y2.backward()
    assert y.data == pytest.approx(y2.data, abs=1e-15)
    assert a.grad == pytest.approx(ours_a.grad, rel=1e-12)
    assert b.grad == pytest.approx(ours_b.grad, rel=1e-12)
    assert h._op == "tanh" and h._prev == {h.parents[0]} and h.rule is None


def test_a_closure_runs_in_reverse_topological_order():
    x = Value(1.5)
    calls = []
    mid = Value(x.data * 2, (x,), "double")

    def _backward():
        calls.append(mid.grad)  # must already hold both consumers' contributions
        x.grad += 2 * mid.grad

    mid._backward = _backward
    y = mid * mid + mid * 3
    y.backward()
    assert calls == [2 * mid.data + 3]
    assert x.grad == 2 * (2 * mid.data + 3)


def test_a_node_without_closure_passes_nothing_on_as_in_micrograd():
    x = Value(2.0)
    y = Value(x.data + 1, (x,), "+1")  # no _backward set: micrograd's lambda: None
    (y * 3).backward()
    mx = mg_engine.Value(2.0)
    my = mg_engine.Value(mx.data + 1, (mx,), "+1")
    (my * 3).backward()
    assert (x.grad, y.grad) == (mx.grad, my.grad) == (0, 3)


def test_micrograd_manual_backward_calls_as_in_the_lecture():
    x1, w1, x2, w2 = Value(2.0), Value(-3.0), Value(0.0), Value(1.0)
    n = x1 * w1 + x2 * w2
    o = n.tanh()
    o.grad = 1.0
    o._backward()
    n._backward()
    assert n.grad == pytest.approx(1 - o.data**2)
    for node in n._prev:
        node._backward()
    assert x1.grad == pytest.approx(w1.data * (1 - o.data**2))
    assert w2.grad == pytest.approx(0.0)


def trace(root):
    """micrograd's trace_graph.ipynb: every node and edge, reached through ``_prev``."""
    nodes, edges = set(), set()

    def build(v):
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                build(child)

    build(root)
    return nodes, edges


def draw_dot(root, format="svg", rankdir="LR"):
    """micrograd's draw_dot, as its notebook has it, on real Graphviz."""
    nodes, edges = trace(root)
    dot = graphviz.Digraph(format=format, graph_attr={"rankdir": rankdir})
    for n in nodes:
        dot.node(name=str(id(n)), label="{ data %.4f | grad %.4f }" % (n.data, n.grad),  # noqa: UP031
                 shape="record")  # fmt: skip
        if n._op:
            dot.node(name=str(id(n)) + n._op, label=n._op)
            dot.edge(str(id(n)) + n._op, str(id(n)))
    for n1, n2 in edges:
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)
    return dot


def test_micrograds_draw_dot_runs_on_our_graph():
    a, b = Value(2.0), Value(-3.0)
    c = micrograd_mul(a, b)
    d = (c + a).relu() * b
    d.backward()
    nodes, edges = trace(d)
    assert len(nodes) == 6 and len(edges) == 7  # a, b, a*b, +a, relu, *b; a and b used twice
    assert sorted(n._op for n in nodes) == ["", "", "*", "*", "+", "relu"]
    svg = draw_dot(d).pipe(format="svg").decode()
    assert svg.count('class="node"') == 6 + 4  # a record per node, an op box per non-leaf
    assert svg.count('class="edge"') == 7 + 4
    assert "relu" in svg


def test_adam_with_its_state_on_the_parameters_matches_torch():
    """A micrograd-style Adam that keeps ``p.m``/``p.v`` on the Value itself, as EurekaLabs'
    micrograd does (a lazily made per-node ``__dict__``: see docs/engine.md)."""
    lr, beta1, beta2, eps = 0.05, 0.9, 0.999, 1e-8
    params = [Value(0.5), Value(-1.5), Value(2.0)]
    for p in params:
        p.m, p.v = 0.0, 0.0
    ts = [torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for p in params]
    opt = torch.optim.Adam(ts, lr=lr, betas=(beta1, beta2), eps=eps)
    for t in range(1, 6):
        x, y, z = params
        loss = (x * y - z) ** 2 + (x - 1.0).tanh() * z
        for p in params:
            p.grad = 0.0
        loss.backward()
        for p in params:
            p.m = beta1 * p.m + (1 - beta1) * p.grad
            p.v = beta2 * p.v + (1 - beta2) * p.grad**2
            m_hat, v_hat = p.m / (1 - beta1**t), p.v / (1 - beta2**t)
            p.data -= lr * m_hat / (math.sqrt(v_hat) + eps)
        tx, ty, tz = ts
        opt.zero_grad()
        ((tx * ty - tz) ** 2 + torch.tanh(tx - 1.0) * tz).backward()
        opt.step()
    assert [p.data for p in params] == pytest.approx([t.item() for t in ts], rel=1e-12)


def test_attributes_attached_to_a_value_read_back_pickle_and_copy():
    """Attributes of one's own live in the node's __dict__, made only when one is set; they
    survive pickling and copying, and a node without them has an empty ``vars``."""
    import copy
    import pickle

    x = Value(2.0, label="x")
    y = x * 3 + 1
    assert vars(y) == {}  # nothing attached: no dict entries
    y.note, x.m = "hidden", [1.0, 2.0]
    assert (y.note, x.m) == ("hidden", [1.0, 2.0])
    for clone in (pickle.loads(pickle.dumps(y)), copy.deepcopy(y)):
        assert clone.note == "hidden" and clone.data == 7.0 and clone.op == "add"
        (inner,) = [p for p in clone.parents]
        (leaf,) = inner.parents
        assert leaf.m == [1.0, 2.0] and leaf.label == "x" and leaf is not x
        clone.backward()
        assert leaf.grad == 3.0
    shallow = copy.copy(x)
    assert shallow.m is x.m and shallow.label == "x" and shallow.data == 2.0
    del x.m
    with pytest.raises(AttributeError):
        x.m  # noqa: B018 - reading a removed attribute raises, as on any object
    with pytest.raises(AttributeError):
        x._prev = set()  # micrograd's names stay read-only views of the graph


def micrograd_demo_losses(value_cls, model, steps):
    """micrograd's demo.ipynb training loop (SVM max-margin loss, L2, decaying lr), verbatim."""
    X, y = make_moons(n_samples=100, noise=0.1, random_state=0)
    y = y * 2 - 1
    losses = []
    for k in range(steps):
        inputs = [list(map(value_cls, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses_ = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
        data_loss = sum(losses_) * (1.0 / len(losses_))
        alpha = 1e-4
        reg_loss = alpha * sum(p * p for p in model.parameters())
        total_loss = data_loss + reg_loss
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        losses.append(total_loss.data)
    return losses, [p.data for p in model.parameters()]


def test_micrograds_moons_demo_gives_micrograds_losses():
    random.seed(1337)
    theirs = micrograd_demo_losses(mg_engine.Value, mg_nn.MLP(2, [16, 16, 1]), 4)
    random.seed(1337)
    ours = micrograd_demo_losses(Value, MLP(2, [16, 16, 1], init="micrograd"), 4)
    assert ours[0] == pytest.approx(theirs[0], rel=1e-12, abs=1e-12)
    assert ours[1] == pytest.approx(theirs[1], rel=1e-12, abs=1e-12)
    assert theirs[0][0] != theirs[0][-1]  # it trained: the comparison covers updated weights


def test_init_micrograd_draws_micrograds_weights_in_micrograds_order():
    for sizes in ([1], [3, 1], [16, 16, 1], [4, 5, 2]):
        random.seed(7)
        theirs = [p.data for p in mg_nn.MLP(3, sizes).parameters()]
        random.seed(7)
        net = MLP(3, sizes, init="micrograd")
        assert [p.data for p in net.parameters()] == theirs
        assert [a.__name__ for a in net.activations] == ["relu"] * (len(sizes) - 1) + ["_linear"]
    random.seed(3)
    theirs = [p.data for p in mg_nn.Neuron(4, nonlin=False).parameters()]
    random.seed(3)
    assert [p.data for p in Neuron(4, nonlin=False, init="micrograd").parameters()] == theirs


# -- microgpt's dialect ----------------------------------------------------------------------


class MicrogptOps:
    """microgpt's Value ops, written as its script writes them, building *our* Values."""

    @staticmethod
    def add(a, b):
        return Value(a.data + b.data, (a, b), (1, 1))

    @staticmethod
    def mul(a, b):
        return Value(a.data * b.data, (a, b), (b.data, a.data))

    @staticmethod
    def log(a):
        return Value(math.log(a.data), (a,), (1 / a.data,))

    @staticmethod
    def exp(a):
        return Value(math.exp(a.data), (a,), (math.exp(a.data),))

    @staticmethod
    def relu(a):
        return Value(max(0, a.data), (a,), (float(a.data > 0),))


def microgpt_backward(root):
    """microgpt's backward, verbatim in shape: a topological sort over ``_children``."""
    topo, visited = [], set()

    def build_topo(v):
        if v not in visited:
            visited.add(v)
            for child in v._children:
                build_topo(child)
            topo.append(v)

    build_topo(root)
    root.grad = 1
    for v in reversed(topo):
        for child, local_grad in zip(v._children, v._local_grads):
            child.grad += local_grad * v.grad


def test_microgpt_style_nodes_give_our_gradients_both_ways():
    op = MicrogptOps
    x, w = Value(0.7), Value(-0.4)
    z = op.add(op.mul(x, w), op.mul(x, x))  # x reached three times
    y = op.log(op.add(op.exp(z), op.relu(w)))
    ours_x, ours_w = Value(0.7), Value(-0.4)
    z2 = ours_x * ours_w + ours_x * ours_x
    y2 = (z2.exp() + ours_w.relu()).log()
    (gx, gw) = grad(y2, [ours_x, ours_w])
    y.backward()
    assert (x.grad, w.grad) == pytest.approx((gx, gw), rel=1e-13)
    x.grad = w.grad = 0.0
    for node in trace(y)[0]:
        node.grad = 0.0
    microgpt_backward(y)
    assert (x.grad, w.grad) == pytest.approx((gx, gw), rel=1e-13)
    assert y._children[0]._local_grads == (1.0, 1.0) and y.rule is None


def test_microgpt_node_with_many_children_and_keywords():
    xs = [Value(float(i)) for i in range(1, 5)]
    s = Value(sum(x.data**2 for x in xs), children=xs, local_grads=[2 * x.data for x in xs])
    s.backward()
    assert [x.grad for x in xs] == [2.0, 4.0, 6.0, 8.0]
    assert s._children == tuple(xs) and s._prev == set(xs)
    assert microgpt_backward(Value(1.0)) is None  # a leaf: nothing to walk


# -- semantics and refusals ------------------------------------------------------------------


def test_second_backward_accumulates_like_torch_where_micrograd_counts_more():
    """Ours (and PyTorch) add the same gradients again; micrograd resets the root to 1 but
    pushes every interior node's already-accumulated grad down once more."""
    for cls in (Value, mg_engine.Value):
        x = cls(3.0)
        z = x * 2
        y = z * z
        y.backward()
        y.backward()
        if cls is Value:
            assert (x.grad, z.grad, y.grad) == (48.0, 24.0, 2.0)
        else:
            assert (x.grad, z.grad, y.grad) == (72, 24, 1)
    tx = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    ty = (tx * 2) * (tx * 2)
    ty.backward(retain_graph=True)
    ty.backward()
    assert tx.grad.item() == 48.0
    a, b = Value(2.0), Value(5.0)
    ma, mb = mg_engine.Value(2.0), mg_engine.Value(5.0)
    for root in (a * b, ma * mb):  # one level deep: both just double
        root.backward()
        root.backward()
    assert (a.grad, b.grad) == (ma.grad, mb.grad) == (10.0, 4.0)


def test_refusals_name_what_is_wrong():
    x = Value(1.0)
    with pytest.raises(TypeError, match="op rule 'mul'"):
        (x * x)._backward = lambda: None
    with pytest.raises(TypeError, match=r"_children\[1\] must be a Value, got float"):
        Value(1.0, (x, 2.0), "+")
    with pytest.raises(ValueError, match="2 children but 1 local_grads"):
        Value(1.0, (x, x), (1.0,))
    with pytest.raises(TypeError, match=r"local_grads\[0\].*str"):
        Value(1.0, (x,), ("a",))
    with pytest.raises(TypeError, match="micrograd's _op .* or microgpt's"):
        Value(1.0, (x,), 3)
    with pytest.raises(TypeError, match="_backward must be callable"):
        Value(1.0, (x,), "f")._backward = 3
    custom = Value(2.0, (x,), "f")
    custom._backward = lambda: None
    with pytest.raises(ValueError, match="'f' was made micrograd-style"):
        grad(custom * 2, x)


def test_a_closure_that_raises_leaves_every_grad_as_it_was():
    x = Value(1.0)
    bad = Value(2.0, (x,), "bad")

    def _backward():
        x.grad += 1.0
        raise RuntimeError("learner's bug")

    bad._backward = _backward
    y = bad * x
    for before in (0.0, 5.0):
        x.grad, bad.grad, y.grad = before, before, before
        with pytest.raises(RuntimeError, match="learner's bug"):
            y.backward()
        assert (x.grad, bad.grad, y.grad) == (before, before, before)


def test_value_keeps_label_positionally_and_by_keyword():
    assert Value(1.0, "w").label == Value(1.0, label="w").label == "w"
    assert Value(1.0, (), "", "w").label == "w"  # the lecture's Value(data, _children, _op, label)
    assert Value(1.0, (), "leaf").is_leaf


def test_a_node_of_the_benchmarks_chain_stays_within_its_bytes():
    """144 bytes compiled (the seven fields, the walk's mark, the two local derivatives kept
    as numbers, a __dict__ pointer, the collector's header); 168 as Python source, where
    CPython 3.11 also gives each object that ``object.__new__`` makes of a class with a
    __dict__ a 16-byte array for its attributes' values, and ``data`` is a float object of
    its own."""
    from autograd_bp.core import COMPILED

    code = ("import json, tracemalloc, sys; sys.setrecursionlimit(10**6)\n"
            "from benchmarks import engines as E\n"
            "tracemalloc.start(); x, y = E.chain_ours(20000)\n"
            "print(json.dumps(tracemalloc.get_traced_memory()[0] / 40000))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)  # fmt: skip
    # and the chain's few fixed allocations
    assert json.loads(out.stdout) < (144.5 if COMPILED else 168.5)


def _by_hand(kind, a, b):
    """``a <op> b`` built by hand: micrograd-style (a closure) or microgpt-style (locals)."""
    data, da, db = {"add": (a.data + b.data, 1.0, 1.0), "mul": (a.data * b.data, b.data, a.data),
                    "sub": (a.data - b.data, 1.0, -1.0)}[kind]  # fmt: skip
    if random.random() < 0.5:
        return Value(data, (a, b), (da, db))
    out = Value(data, (a, b), kind)

    def _backward():
        a.grad += da * out.grad
        b.grad += db * out.grad

    out._backward = _backward
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "mul", "sub"]), st.integers(0, 99),
                          st.integers(0, 99), st.booleans()), min_size=1, max_size=25),
       st.lists(st.floats(-2, 2), min_size=3, max_size=3), st.integers(0, 2**32))  # fmt: skip
def test_hand_built_nodes_anywhere_in_a_graph_give_the_rules_gradients(steps, xs, seed):
    random.seed(seed)
    mixed, plain = [Value(x) for x in xs], [Value(x) for x in xs]
    for kind, i, j, by_hand in steps:
        a, b = mixed[i % len(mixed)], mixed[j % len(mixed)]
        p, q = plain[i % len(plain)], plain[j % len(plain)]
        mixed.append(_by_hand(kind, a, b) if by_hand else getattr(a, f"__{kind}__")(b))
        plain.append(getattr(p, f"__{kind}__")(q))
    root, expected = mixed[-1].tanh(), plain[-1].tanh()
    root.backward()
    expected.backward()
    for got, want in zip(mixed[:3], plain[:3]):
        assert got.grad == pytest.approx(want.grad, rel=1e-12, abs=1e-12)


def test_a_hand_built_node_prints_as_its_op_over_its_parents():
    x = Value(2.0, label="x")
    tripled = Value(6.0, (x,), "triple")
    y = (tripled + Value(5.0, (x, x), (1.0, 2.0))).tanh()
    assert y.expr() == "tanh(triple(x) + node(x, x))"
