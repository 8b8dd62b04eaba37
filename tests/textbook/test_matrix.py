"""BP1–BP4 in matrix form against the scalar engine, on random networks; batching; digits."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from autograd_bp.check.gradcheck import verify
from autograd_bp.nn.datasets import digits
from autograd_bp.nn.modules import MLP, activation_name
from autograd_bp.textbook.matrix import Network

acts = st.sampled_from(["sigmoid", "tanh", "relu", "linear", "softplus", "leaky_relu"])


def smallest_activation_slope(net: MLP, x: list[float]) -> float:
    """The smallest σ′ of a tanh or sigmoid neuron in a forward pass of ``x`` (1.0 if none)."""
    slopes, inputs = [1.0], x
    for layer in net.layers:
        outs = [neuron(inputs).data for neuron in layer.neurons]
        for neuron, a in zip(layer.neurons, outs):
            if activation_name(neuron.activation) == "tanh":
                slopes.append(1 - a * a)
            elif activation_name(neuron.activation) == "sigmoid":
                slopes.append(a * (1 - a))
        inputs = outs
    return max(min(slopes), 1e-300)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(1, 5), min_size=1, max_size=3),
    st.lists(acts, min_size=4, max_size=4),
    st.sampled_from(["quadratic", "cross_entropy"]),
    st.integers(0, 10_000),
)
@example([4], ["leaky_relu", "tanh", "sigmoid", "sigmoid"], "quadratic", 4643)  # tanh saturates
@example([4, 3, 5], ["sigmoid", "tanh", "linear", "sigmoid"], "cross_entropy", 53)  # σ at 1 − 2e-6
def test_scalar_engine_equals_bp1_to_bp4_on_random_networks(hidden, act_list, cost, seed) -> None:
    rng = np.random.default_rng(seed)
    nin, nout = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    sizes = [*hidden, nout]
    layer_acts = act_list[: len(sizes)]
    if cost == "cross_entropy":
        layer_acts[-1] = "sigmoid"
    net = MLP(nin, sizes, activation=layer_acts, init="normal", seed=seed)
    x = rng.uniform(-1, 1, nin).tolist()
    y = rng.uniform(0.05, 0.95, nout).tolist()
    report = verify(net, x, y, cost, use_torch=False)
    # 1e-8, not 1e-10: at seed 493 (relu, then a sigmoid output) an entry of 4.8e-7 differs by
    # 1.8e-9 relative, the matrix form rounding σ′ near saturation in another order; the
    # engine matches PyTorch there to 1e-10 (tests/check/test_gradcheck.py cross-checks with torch).
    # Near saturation σ′ = 1 − tanh² (or σ(1 − σ)) keeps few digits: one ulp of tanh(z) at
    # tanh = −0.9999999991 (seed 4643, math.tanh in the engine, numpy's in the matrix form and
    # PyTorch) is 1.2e-7 of 1 − tanh². The bound grows with 1/(the smallest σ′ on the way).
    bound = 1e-8 + 1e-15 / smallest_activation_slope(net, x)
    assert report.max_rel_matrix < bound or max(map(abs, report.engine)) < 1e-12
    # Central differences of a cross-entropy lose digits when a sigmoid output nears 0 or 1:
    # ln(1 − a) sees 1 − a with a rounding error of about ε/(1 − a) relative (at seed 53 an
    # output of 0.999998 made the difference quotient 1.7e-5 off, the engine agreeing with
    # BP1–BP4 to 1e-15). The bound grows with that noise, divided by the step 2h = 2e-6.
    outputs = [o.data for o in net(x)] if nout > 1 else [net(x).data]
    closest = min(min(a, 1 - a) for a in outputs)
    noise = 2.3e-16 / max(closest, 1e-300) / 2e-6 if cost == "cross_entropy" else 0.0
    assert report.max_abs_numeric < 1e-5 + 10 * noise


def test_batched_backprop_is_the_sum_of_per_example_backprops() -> None:
    net = Network([4, 6, 3], ["tanh", "sigmoid"], seed=1)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(7, 4)), rng.uniform(size=(7, 3))
    nb, nw, deltas = net.backprop(X, Y)
    assert deltas[0].shape == (7, 6)
    singles = [net.backprop(x, y) for x, y in zip(X, Y)]
    for layer in range(2):
        assert np.allclose(nw[layer], sum(s[1][layer] for s in singles), rtol=1e-12, atol=1e-15)
        assert np.allclose(nb[layer], sum(s[0][layer] for s in singles), rtol=1e-12, atol=1e-15)


def test_from_mlp_and_to_mlp_keep_the_weights() -> None:
    mlp = MLP(3, [4, 2], activation=["relu", "sigmoid"], seed=3)
    net = Network.from_mlp(mlp)
    x = [0.2, -0.4, 0.9]
    assert np.allclose(net.feedforward(x), [o.data for o in mlp(x)], rtol=1e-14)
    back = net.to_mlp()
    assert back.state_dict() == mlp.state_dict()


def test_minibatch_sgd_trains_digits_to_95_percent_quickly(capsys) -> None:
    X_train, X_test, y_train, y_test = digits(0.2, seed=0)
    net = Network([64, 30, 10], "sigmoid", "cross_entropy", seed=0)
    start = time.perf_counter()
    log = net.sgd(X_train, y_train, epochs=30, mini_batch_size=10, eta=0.5, test=(X_test, y_test))
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n[matrix digits: {log.accuracy[-1]:.4f} test accuracy in {seconds:.2f} s]")
    assert log.accuracy[-1] >= 0.95


@pytest.mark.parametrize(
    "make, word",
    [
        (lambda: Network([3]), "sizes"),
        (lambda: Network([3, 2], "swish"), "activation"),
        (lambda: Network([3, 2], cost="hinge"), "cost"),
        (lambda: Network([3, 2], "tanh", "cross_entropy"), "sigmoid output"),
        (lambda: Network([3, 2], weights=[np.zeros((3, 2))], biases=[np.zeros(2)]), "shape"),
    ],
)
def test_bad_networks_are_refused(make, word) -> None:
    with pytest.raises(ValueError, match=word):
        make()
