"""Losses: values and gradients against PyTorch, and stability at extremes."""

from __future__ import annotations

import math

import pytest
from conftest import require_torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp import Value
from autograd_bp.nn.losses import (
    binary_cross_entropy,
    cross_entropy,
    get_loss,
    half_sse,
    hinge,
    l2,
    log_softmax,
    logsumexp,
    mse,
    softmax,
)

logits = st.lists(st.floats(-30, 30), min_size=2, max_size=6)


@settings(max_examples=40, deadline=None)
@given(logits, st.data())
def test_cross_entropy_and_softmax_match_torch(zs, data) -> None:
    torch = require_torch()
    target = data.draw(st.integers(0, len(zs) - 1))
    vs = [Value(z) for z in zs]
    loss = cross_entropy(vs, target)
    loss.backward()
    t = torch.tensor(zs, dtype=torch.float64, requires_grad=True)
    tl = torch.nn.functional.cross_entropy(t[None], torch.tensor([target]))
    tl.backward()
    assert math.isclose(loss.data, tl.item(), rel_tol=1e-10, abs_tol=1e-12)
    for v, g in zip(vs, t.grad.tolist()):
        assert math.isclose(v.grad, g, rel_tol=1e-9, abs_tol=1e-12)
    probs = torch.softmax(t.detach(), 0).tolist()
    for p, q in zip(softmax(vs), probs):
        assert math.isclose(p.data, q, rel_tol=1e-10, abs_tol=1e-15)
    for p, q in zip(log_softmax(vs), torch.log_softmax(t.detach(), 0).tolist()):
        assert math.isclose(p.data, q, rel_tol=1e-10, abs_tol=1e-12)


@pytest.mark.parametrize("z", [-1000.0, -20.0, 0.3, 20.0, 1000.0])
@pytest.mark.parametrize("y", [0.0, 1.0, 0.3])
def test_binary_cross_entropy_from_logits_and_through_sigmoid_is_stable(z: float, y: float) -> None:
    torch = require_torch()
    a, b = Value(z), Value(z)
    la = binary_cross_entropy(a, y, from_logits=True)
    lb = binary_cross_entropy(b.sigmoid(), y)  # recognised as a sigmoid: uses its logit
    la.backward()
    lb.backward()
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    tl = torch.nn.functional.binary_cross_entropy_with_logits(
        t, torch.tensor(y, dtype=torch.float64)
    )
    tl.backward()
    for loss, v in ((la, a), (lb, b)):
        assert math.isfinite(loss.data)
        assert math.isclose(loss.data, tl.item(), rel_tol=1e-10, abs_tol=1e-12)
        assert math.isclose(v.grad, t.grad.item(), rel_tol=1e-10, abs_tol=1e-12)


def test_binary_cross_entropy_on_a_plain_probability() -> None:
    p = Value(0.8)
    loss = binary_cross_entropy(p, 1.0)
    assert math.isclose(loss.data, -math.log(0.8))
    with pytest.raises(ValueError, match="from_logits"):
        binary_cross_entropy(Value(1.0), 1.0)
    with pytest.raises(ValueError, match="target"):
        binary_cross_entropy(p, 2.0)


def test_half_sse_mse_hinge_l2_values_and_gradients() -> None:
    a = [Value(0.75), Value(0.25)]
    e = half_sse(a, [0.0, 1.0])
    e.backward()
    assert e.data == 0.5 * (0.75**2 + 0.75**2)
    assert [v.grad for v in a] == [0.75, -0.75]  # dE/da = a - y
    assert mse(a, [0.0, 1.0]).data == 0.75**2
    assert hinge(Value(2.0), 1).data == 0.0 and hinge(Value(-0.5), 1).data == 1.5
    w = Value(3.0)
    reg = l2([w], 0.1)
    reg.backward()
    assert math.isclose(reg.data, 0.9) and math.isclose(w.grad, 0.6)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: half_sse([Value(1.0)], [1.0, 2.0]), ["half_sse", "1 predictions but 2"]),
        (lambda: cross_entropy([Value(1.0), Value(2.0)], 5), ["class index"]),
        (lambda: hinge(Value(1.0), 0), ["-1 or +1"]),
        (lambda: l2([Value(1.0)], -1.0), ["alpha"]),
        (lambda: l2([Value(1.0)], float("nan")), ["alpha", "finite"]),
        (lambda: l2([Value(1.0)], float("inf")), ["alpha", "finite"]),
        (lambda: get_loss("huber"), ["unknown loss", "half_sse"]),
    ],
)
def test_bad_loss_arguments(call, words) -> None:
    with pytest.raises(ValueError) as info:
        call()
    for w in words:
        assert w in str(info.value)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-800, 800), min_size=1, max_size=6))
def test_logsumexp_matches_torch_value_gradient_and_second_derivative(zs) -> None:
    torch = require_torch()
    from autograd_bp import grad

    vs = [Value(z) for z in zs]
    out = logsumexp(vs)
    t = torch.tensor(zs, dtype=torch.float64, requires_grad=True)
    want = torch.logsumexp(t, 0)
    assert math.isclose(out.data, want.item(), rel_tol=1e-12, abs_tol=1e-12)
    (g_t,) = torch.autograd.grad(want, t, create_graph=True)
    firsts = grad(out, vs, create_graph=True)
    for a, b in zip(firsts, g_t.tolist()):
        assert math.isclose(a.data, b, rel_tol=1e-10, abs_tol=1e-12)
    (h_t,) = torch.autograd.grad(g_t[0], t)  # the softmax differentiated again
    for a, b in zip(grad(firsts[0], vs), h_t.tolist()):
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


EDGES = [([math.inf, 0.0], math.inf), ([-math.inf, -math.inf], -math.inf),
         ([math.nan, 1.0], math.nan), ([math.inf, math.nan], math.nan)]  # fmt: skip


@pytest.mark.parametrize("zs, want", EDGES)
def test_logsumexp_at_the_edges_is_the_same_on_floats_and_arrays(zs, want) -> None:
    import numpy as np

    from autograd_bp.core.ops import RULES

    rule = RULES["logsumexp"]
    a, b = rule.forward(tuple(zs), None), rule.forward(np.array(zs)[:, None], None)[0]
    for got in (a, b):
        assert (math.isnan(got) and math.isnan(want)) or got == want


def test_logsumexp_needs_a_logit() -> None:
    with pytest.raises(ValueError, match="logsumexp: needs at least one logit"):
        logsumexp([])
