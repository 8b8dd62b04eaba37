"""SGD and Adam against torch.optim on the same gradients."""

from __future__ import annotations

import math

import pytest
from conftest import require_torch

from autograd_bp import Value, is_grad_enabled
from autograd_bp.nn.optim import SGD, Adam


def _run(make_ours, make_torch, steps: int = 5) -> None:
    torch = require_torch()
    start = [0.5, -1.5, 2.0]
    ours = [Value(v) for v in start]
    theirs = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt, topt = make_ours(ours), make_torch(torch, [theirs])
    for _ in range(steps):
        opt.zero_grad()
        topt.zero_grad()
        loss = sum((p * p * p).tanh() * (i + 1) for i, p in enumerate(ours))
        loss.backward()
        tloss = sum(torch.tanh(theirs[i] ** 3) * (i + 1) for i in range(3))
        tloss.backward()
        opt.step()
        topt.step()
    for p, q in zip(ours, theirs.tolist()):
        assert math.isclose(p.data, q, rel_tol=1e-12, abs_tol=1e-14)


def test_sgd_with_momentum_and_weight_decay_matches_torch() -> None:
    _run(
        lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
        lambda torch, ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    )


def test_adam_matches_torch() -> None:
    _run(
        lambda ps: Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-6),
        lambda torch, ps: torch.optim.Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-6),
    )


def test_step_records_no_graph() -> None:
    w = Value(1.0)
    w.grad = 1.0
    opt = SGD([w], lr=0.1)
    opt.step()
    assert w.parents == () and is_grad_enabled()


@pytest.mark.parametrize(
    "make, word",
    [
        (lambda: SGD([Value(1.0)], lr=-0.1), "lr"),
        (lambda: SGD([Value(1.0)], lr=0.0), "lr"),
        (lambda: SGD([Value(1.0)], lr=0.1, momentum=-1), "momentum"),
        (lambda: Adam([Value(1.0)], betas=(1.0, 0.9)), "betas"),
        (lambda: SGD([], lr=0.1), "empty"),
    ],
)
def test_bad_hyperparameters(make, word) -> None:
    with pytest.raises(ValueError, match=word):
        make()
