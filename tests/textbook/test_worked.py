"""Seed 000's worked example: every printed figure reproduced by computation, both schedules
checked against an independent numpy implementation."""

from __future__ import annotations

import numpy as np
import pytest

from autograd_bp.textbook.worked import (
    PUBLISHED,
    SEED_INPUTS,
    SEED_PARAMETERS,
    SEED_TARGETS,
    build_network,
    comparison,
    compute,
    forward,
)


@pytest.fixture(scope="module")
def results() -> dict:
    return compute()


def rows_by_key(results: dict) -> dict:
    return {r.key: r for r in comparison(results)}


def test_network_is_built_from_nn_with_shared_labelled_biases() -> None:
    net, p = build_network()
    assert sorted(v.label for v in net.parameters()) == sorted(SEED_PARAMETERS)
    hidden, output = net.layers
    assert hidden.neurons[0].b is hidden.neurons[1].b is p["b1"]
    assert output.neurons[0].b is output.neurons[1].b is p["b2"]


def test_every_forward_and_gradient_figure_matches_the_printed_digits(results) -> None:
    rows = rows_by_key(results)
    per_weight = [k for k in PUBLISHED if not k.startswith(("updated.", "after_"))]
    exact = [k for k in per_weight if k != "chain.w1.dE_o2_dout_h1"]
    for key in exact:
        assert rows[key].matches, (key, rows[key].computed, rows[key].published)
    # The seed printed −0.019049119 for δ_o2·w7 = −0.01904911826: it multiplied rounded
    # intermediates. One unit in the last printed digit, and only there.
    odd = rows["chain.w1.dE_o2_dout_h1"]
    assert not odd.matches and abs(odd.difference) < 10.0**-odd.decimals


def test_simultaneous_reproduces_the_per_weight_updates(results) -> None:
    rows = rows_by_key(results)
    for w in SEED_PARAMETERS:
        key = f"updated.simultaneous.{w}"
        if key in rows:
            assert rows[key].matches, key


def test_sequential_reproduces_the_post_update_figures_and_simultaneous_does_not(results) -> None:
    rows = rows_by_key(results)
    post = ["after_one_update.{}.E", "after_training.{}.E", "after_training.{}.outputs.0",
            "after_training.{}.outputs.1"]  # fmt: skip
    for pattern in post:
        assert rows[pattern.format("sequential")].matches, pattern
        assert not rows[pattern.format("simultaneous")].matches, pattern
    # the output weights move identically under both; the hidden ones do not
    for w in ("w5", "w6", "w7", "w8"):
        assert results[f"updated.sequential.{w}"] == results[f"updated.simultaneous.{w}"]
    for w in ("w1", "w2", "w3", "w4"):
        assert not rows[f"updated.sequential.{w}"].matches


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _numpy_run(lr: float, iterations: int, schedule: str, update_biases: bool):
    """An independent implementation: two weight matrices, two shared scalar biases."""
    p = SEED_PARAMETERS
    W1 = np.array([[p["w1"], p["w2"]], [p["w3"], p["w4"]]])
    W2 = np.array([[p["w5"], p["w6"]], [p["w7"], p["w8"]]])
    b1, b2 = p["b1"], p["b2"]
    x, y = np.array(SEED_INPUTS), np.array(SEED_TARGETS)
    for _ in range(iterations):
        h = _sigmoid(W1 @ x + b1)
        o = _sigmoid(W2 @ h + b2)
        d_o = (o - y) * o * (1 - o)
        gW2 = np.outer(d_o, h)
        W2_for_hidden = W2 - lr * gW2 if schedule == "sequential" else W2
        d_h = (W2_for_hidden.T @ d_o) * h * (1 - h)
        W2 = W2 - lr * gW2
        W1 = W1 - lr * np.outer(d_h, x)
        if update_biases:
            b2, b1 = b2 - lr * d_o.sum(), b1 - lr * d_h.sum()
    o = _sigmoid(W2 @ _sigmoid(W1 @ x + b1) + b2)
    return 0.5 * np.sum((y - o) ** 2), o


@pytest.mark.parametrize("update_biases", [False, True])
def test_lr_and_iterations_change_the_results_as_computed(update_biases: bool) -> None:
    r = compute(lr=0.3, iterations=25, update_biases=update_biases)
    for schedule in ("simultaneous", "sequential"):
        E, outputs = _numpy_run(0.3, 25, schedule, update_biases)
        assert r[f"after_training.{schedule}.E"] == pytest.approx(E, rel=1e-10)
        assert r[f"after_training.{schedule}.outputs"] == pytest.approx(outputs.tolist(), rel=1e-10)
    assert r["after_training.E"] == r["after_training.simultaneous.E"]
    assert compute(lr=0.3, iterations=26)["after_training.E"] != r["after_training.E"]


def test_settings_other_than_the_seeds_mark_post_update_rows_not_applicable() -> None:
    rows = rows_by_key(compute(lr=0.1, iterations=2))
    assert not rows["after_training.sequential.E"].applies
    assert not rows["updated.simultaneous.w1"].applies
    assert rows["gradients.w1"].applies and rows["gradients.w1"].matches


def test_forward_labels_the_seeds_vocabulary() -> None:
    net, _ = build_network()
    p = forward(net)
    for name in ("x1", "net_h1", "out_h2", "net_o1", "out_o2", "E_o1", "E_total"):
        assert p[name].label == name


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"lr": 0.0}, "lr"),
        ({"iterations": 0}, "iterations"),
        ({"schedule": "random"}, "schedule"),
    ],  # fmt: skip
)
def test_bad_settings_are_refused(kwargs, word) -> None:
    with pytest.raises(ValueError, match=word):
        compute(**kwargs)
