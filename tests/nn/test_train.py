"""Training: the acceptance runs of the networks issue, computed with fixed seeds."""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest

from autograd_bp.nn.datasets import digits, moons, xor
from autograd_bp.nn.modules import MLP
from autograd_bp.nn.optim import SGD, Adam
from autograd_bp.nn.train import History, TrainReport, evaluate, fit, gc_paused, infer_task


def test_xor_sigmoid_half_sse_reaches_small_loss() -> None:
    X, y = xor()
    net = MLP(2, [4, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
    h = fit(
        net,
        X,
        y,
        loss="half_sse",
        optimizer=SGD(net.parameters(), lr=2.0),
        epochs=2000,
        progress=False,
    )
    assert h.loss[-1] < 0.01
    assert evaluate(net, X, y, task="binary") == 1.0
    assert len(h.loss) == len(h.accuracy) == len(h.seconds) == 2000


def test_moons_hinge_l2_reaches_full_training_accuracy_in_100_steps() -> None:
    X, y = moons(100, 0.1, seed=0, signed=True)
    net = MLP(2, [16, 16, 1], activation="relu", seed=0)
    fit(
        net,
        X,
        y,
        loss="hinge",
        optimizer=SGD(net.parameters(), lr=0.5),
        epochs=100,
        l2=1e-4,
        progress=False,
    )
    assert evaluate(net, X, y, task="sign") == 1.0


def test_digits_softmax_cross_entropy_reaches_93_percent() -> None:
    X_train, X_test, y_train, y_test = digits(0.2, seed=0)
    net = MLP(64, [32, 10], activation="tanh", init="scaled_normal", seed=0)
    h = fit(
        net,
        X_train,
        y_train,
        loss="cross_entropy",
        optimizer=Adam(net.parameters(), lr=0.01),
        epochs=3,
        batch_size=32,
        progress=False,
    )
    assert h.loss[-1] < h.loss[0]
    assert evaluate(net, X_test, y_test) >= 0.93


def test_minibatch_gradient_is_the_batch_mean() -> None:
    # one full-batch SGD step with lr equals the mean of per-example steps
    X, y = xor()
    a = MLP(2, [3, 1], activation="tanh", seed=2)
    b = MLP(2, [3, 1], activation="tanh", seed=2)
    fit(a, X, y, loss="half_sse", optimizer=SGD(a.parameters(), lr=0.1), epochs=1, progress=False)
    from autograd_bp import sum_values
    from autograd_bp.nn.losses import half_sse

    total = sum_values([half_sse(b(x), t) for x, t in zip(X.tolist(), y.tolist())]) * 0.25
    total.backward()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert abs(pa.data - (pb.data - 0.1 * pb.grad)) < 1e-15


def test_progress_bar_goes_to_stderr_and_is_quiet_when_off(capsys) -> None:
    X, y = xor()
    net = MLP(2, [2, 1], seed=0)
    fit(net, X, y, loss="mse", optimizer=SGD(net.parameters(), lr=0.1), epochs=3, progress=True)
    assert "training" in capsys.readouterr().err
    fit(net, X, y, loss="mse", optimizer=SGD(net.parameters(), lr=0.1), epochs=3, progress=False)
    assert capsys.readouterr().err == ""


def test_gc_paused_restores_even_on_error() -> None:
    assert gc.isenabled()
    with pytest.raises(KeyError), gc_paused():
        assert not gc.isenabled()
        raise KeyError
    assert gc.isenabled()


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": 1, "batch_size": 0}, "batch_size"),
        ({"epochs": 1, "l2": math.nan}, "l2"),
        ({"epochs": 1, "l2": math.inf}, "l2"),
        ({"epochs": 1, "l2": -1.0}, "l2"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, word) -> None:
    X, y = xor()
    net = MLP(2, [1], seed=0)
    with pytest.raises(ValueError, match=word):
        fit(
            net, X, y, loss="mse", optimizer=SGD(net.parameters(), lr=0.1), progress=False, **kwargs
        )


def test_infer_task() -> None:
    assert infer_task("cross_entropy", [0, 1, 2]) == "multiclass"
    assert infer_task("hinge", [-1, 1]) == "sign"
    assert infer_task("half_sse", xor()[1]) == "binary"
    assert infer_task("mse", [0.3, 1.7]) == "regression"


def test_one_hot_targets_train_with_accuracy_from_the_hot_position() -> None:
    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    T = np.eye(3)  # example i is class i, one-hot: Nielsen's quadratic-cost targets
    net = MLP(2, [8, 3], activation="tanh", output_activation="sigmoid", seed=0)
    h = fit(net, X, T, loss="half_sse", optimizer=SGD(net.parameters(), lr=2.0), epochs=200,
            task="multiclass", progress=False)  # fmt: skip
    assert h.accuracy[-1] == 1.0 and h.loss[-1] < h.loss[0]
    assert evaluate(net, X, T, "multiclass") == evaluate(net, X, [0, 1, 2], "multiclass") == 1.0


def test_train_report_to_dict_and_text_agree() -> None:
    h = History(loss=[0.5, math.nan], accuracy=[0.5, 0.5], seconds=[0.1, 0.1])
    r = TrainReport("moons", "MLP(2, [4, 1]) (tanh, linear)", [4], "hinge", h)
    doc = r.to_dict()
    assert doc["final_loss"] is h.loss[-1] and "test_accuracy" not in doc and "saved" not in doc
    assert r.text().splitlines()[0] == "moons: MLP(2, [4, 1]) (tanh, linear), hinge, 2 epochs"
    r.test_accuracy, r.saved = 0.75, "m.json"
    assert r.to_dict()["test_accuracy"] == 0.75 and "saved: m.json" in r.text()
