"""The datasets are the real ones, with the documented scaling and splits."""

from __future__ import annotations

import numpy as np
import pytest

from autograd_bp.nn.datasets import digits, moons, xor


def test_xor_truth_table() -> None:
    X, y = xor()
    assert [int(a) ^ int(b) for a, b in X] == y.tolist()


def test_moons_is_reproducible_and_signed_on_request() -> None:
    X1, y1 = moons(50, 0.1, seed=3)
    X2, _ = moons(50, 0.1, seed=3)
    assert np.array_equal(X1, X2) and set(y1.tolist()) == {0, 1}
    assert set(moons(50, 0.1, seed=3, signed=True)[1].tolist()) == {-1, 1}
    with pytest.raises(ValueError, match="noise"):
        moons(10, -1.0)


def test_digits_are_sklearns_1797_scaled_and_stratified() -> None:
    X_train, X_test, y_train, y_test = digits(0.25, seed=0)
    assert len(X_train) + len(X_test) == 1797 and X_train.shape[1] == 64
    assert X_train.min() >= 0.0 and X_train.max() == 1.0
    train_share = np.bincount(y_train) / len(y_train)
    test_share = np.bincount(y_test) / len(y_test)
    assert np.abs(train_share - test_share).max() < 0.01
    with pytest.raises(ValueError, match="test_size"):
        digits(1.5)


@pytest.mark.parametrize("noise", [float("nan"), float("inf"), -0.1])
def test_moons_refuses_a_noise_that_is_not_a_finite_non_negative_number(noise) -> None:
    with pytest.raises(ValueError, match="noise"):
        moons(10, noise)
