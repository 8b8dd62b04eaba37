"""Small real datasets: XOR, scikit-learn's moons, and scikit-learn's bundled digits.

Example:
    >>> X, y = xor()
    >>> X.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
"""

from __future__ import annotations

import numpy as np

from .._io import require

__all__ = ["digits", "moons", "xor"]


def xor() -> tuple[np.ndarray, np.ndarray]:
    """The four XOR points and their 0/1 labels."""
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, np.array([0, 1, 1, 0])


def moons(n: int = 100, noise: float = 0.1, seed: int = 0, *, signed: bool = False):
    """scikit-learn's two interleaving half-moons; labels 0/1, or −1/+1 with ``signed``.

    Example:
        >>> X, y = moons(10, signed=True)
        >>> X.shape, sorted(set(y.tolist()))
        ((10, 2), [-1, 1])
    """
    if n < 2:
        raise ValueError(f"moons: n must be at least 2, got {n!r}")
    if not 0 <= noise < float("inf"):  # NaN fails every comparison
        raise ValueError(f"moons: noise must be a finite number >= 0, got {noise!r}")
    make_moons = require("sklearn.datasets", "train").make_moons
    X, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return X, (2 * y - 1 if signed else y)


def digits(test_size: float = 0.2, seed: int = 0):
    """The 1,797 8×8 handwritten digits shipped inside scikit-learn (no download),
    pixels scaled to [0, 1], split stratified into (X_train, X_test, y_train, y_test).

    Example:
        >>> X_train, X_test, y_train, y_test = digits(0.25)
        >>> X_train.shape[1], float(X_train.max()) <= 1.0
        (64, True)
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"digits: test_size must be in (0, 1), got {test_size!r}")
    data = require("sklearn.datasets", "train").load_digits()
    split = require("sklearn.model_selection", "train").train_test_split
    X = data.data / 16.0
    return split(X, data.target, test_size=test_size, random_state=seed, stratify=data.target)
