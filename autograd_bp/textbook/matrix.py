"""Nielsen's four backprop equations (BP1–BP4) in matrix form, on numpy, batched.

Notation as in chapter 2 of Nielsen's "Neural Networks and Deep Learning"
(http://neuralnetworksanddeeplearning.com/chap2.html): ``w[l]`` has shape (n_l, n_{l−1}) — row j,
column k is the weight *to* neuron j *from* neuron k; ``z^l = w^l a^{l−1} + b^l``; ``a^l = σ(z^l)``;
``δ^l = ∂C/∂z^l``. A mini-batch is stored one example per row, so every equation below is
the textbook one applied to all m rows at once (one matrix product per layer).

Example:
    >>> import numpy as np
    >>> net = Network([2, 2, 2], weights=[np.array([[.15, .2], [.25, .3]]),
    ...                                   np.array([[.4, .45], [.5, .55]])],
    ...               biases=[np.array([.35, .35]), np.array([.6, .6])])
    >>> nabla_b, nabla_w, deltas = net.backprop([0.05, 0.1], [0.01, 0.99])
    >>> round(float(nabla_w[1][0, 0]), 9)   # ∂C/∂w5
    0.082167041
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ACTIVATIONS", "Network", "TrainingLog"]

Array = np.ndarray


def _sigmoid(z: Array) -> Array:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1/(1+e^−z), without overflow


# name -> (σ, σ′) as functions of z
ACTIVATIONS: dict[str, tuple[Callable[[Array], Array], Callable[[Array], Array]]] = {
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
    "leaky_relu": (
        lambda z: np.where(z > 0, z, 0.01 * z),
        lambda z: np.where(z > 0, 1.0, 0.01),
    ),
    "softplus": (lambda z: np.logaddexp(0.0, z), _sigmoid),
    "linear": (lambda z: z, np.ones_like),
}
COSTS = ("quadratic", "cross_entropy")


@dataclass
class TrainingLog:
    """Per-epoch test accuracy (None without test data) and wall seconds."""

    accuracy: list[float | None]
    seconds: list[float]


class Network:
    """A fully connected network in Nielsen's matrix form.

    ``activations`` is one name for every layer or a list with one per layer.
    ``cost`` is ``"quadratic"`` (C = ½‖a − y‖², the seeds' E) or ``"cross_entropy"``
    (C = −Σ[y ln a + (1−y) ln(1−a)], which needs a sigmoid output layer).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activations: str | Sequence[str] = "sigmoid",
        cost: str = "quadratic",
        *,
        weights: Sequence[Array] | None = None,
        biases: Sequence[Array] | None = None,
        seed: int | None = None,
    ) -> None:
        if len(sizes) < 2 or any(int(n) < 1 for n in sizes):
            raise ValueError(f"Network: sizes must list >= 2 positive layer sizes, got {sizes!r}")
        self.sizes = [int(n) for n in sizes]
        n_layers = len(self.sizes) - 1
        acts = [activations] * n_layers if isinstance(activations, str) else list(activations)
        if len(acts) != n_layers:
            raise ValueError(f"Network: {len(acts)} activations for {n_layers} layers")
        for a in acts:
            if a not in ACTIVATIONS:
                raise ValueError(
                    f"Network: unknown activation {a!r}; known: {', '.join(ACTIVATIONS)}"
                )
        if cost not in COSTS:
            raise ValueError(f"Network: unknown cost {cost!r}; known: {', '.join(COSTS)}")
        if cost == "cross_entropy" and acts[-1] != "sigmoid":
            raise ValueError("Network: the cross_entropy cost needs a sigmoid output layer")
        self.activations, self.cost = acts, cost
        rng = np.random.default_rng(seed)
        shapes = list(zip(self.sizes[1:], self.sizes[:-1]))
        # Nielsen's network.py initialisation: everything ~ N(0, 1)
        given_w: Sequence[Any] = weights if weights is not None else [None] * n_layers
        given_b: Sequence[Any] = biases if biases is not None else [None] * n_layers
        self.weights = [
            np.array(w, dtype=float) if weights is not None else rng.standard_normal(s)
            for w, s in zip(given_w, shapes)
        ]
        self.biases = [
            np.array(b, dtype=float) if biases is not None else rng.standard_normal(s[0])
            for b, s in zip(given_b, shapes)
        ]
        for w, b, (rows, cols) in zip(self.weights, self.biases, shapes):
            if w.shape != (rows, cols) or b.shape != (rows,):
                raise ValueError(
                    f"Network: a layer needs w of shape {(rows, cols)} and b of shape {(rows,)}, "
                    f"got {w.shape} and {b.shape}"
                )

    def feedforward(self, x: Any) -> Array:
        """a^L for one example (shape (n_in,)) or a batch (shape (m, n_in))."""
        a = np.asarray(x, dtype=float)
        for w, b, act in zip(self.weights, self.biases, self.activations):
            a = ACTIVATIONS[act][0](a @ w.T + b)  # a^l = σ(w^l a^{l−1} + b^l)
        return a

    def cost_value(self, x: Any, y: Any) -> float:
        """C summed over the examples given."""
        a, y = self.feedforward(x), np.asarray(y, dtype=float)
        if self.cost == "quadratic":
            return float(0.5 * np.sum((a - y) ** 2))
        return float(-np.sum(y * np.log(a) + (1 - y) * np.log(1 - a)))

    def backprop(self, x: Any, y: Any) -> tuple[list[Array], list[Array], list[Array]]:
        """(∂C/∂b per layer, ∂C/∂w per layer, δ per layer) for one example or a batch.

        For a batch the gradients are summed over its examples and δ^l has one row per
        example.
        """
        a = np.atleast_2d(np.asarray(x, dtype=float))
        y = np.atleast_2d(np.asarray(y, dtype=float))
        activations, zs = [a], []
        for w, b, act in zip(self.weights, self.biases, self.activations):
            z = activations[-1] @ w.T + b  # z^l = w^l a^{l−1} + b^l (row-wise)
            zs.append(z)
            activations.append(ACTIVATIONS[act][0](z))
        n_layers = len(self.weights)
        deltas: list[Array] = [np.empty(0)] * n_layers
        if self.cost == "quadratic":
            # BP1: δ^L = ∇_a C ⊙ σ′(z^L), with ∇_a C = a^L − y for C = ½‖a − y‖²
            deltas[-1] = (activations[-1] - y) * ACTIVATIONS[self.activations[-1]][1](zs[-1])
        else:
            # BP1 for cross-entropy with a sigmoid output: σ′ cancels, δ^L = a^L − y
            deltas[-1] = activations[-1] - y
        for layer in range(n_layers - 2, -1, -1):
            # BP2: δ^l = ((w^{l+1})ᵀ δ^{l+1}) ⊙ σ′(z^l)
            sigma_prime = ACTIVATIONS[self.activations[layer]][1](zs[layer])
            deltas[layer] = (deltas[layer + 1] @ self.weights[layer + 1]) * sigma_prime
        # BP3: ∂C/∂b^l_j = δ^l_j            (summed over the batch)
        nabla_b = [d.sum(axis=0) for d in deltas]
        # BP4: ∂C/∂w^l_jk = a^{l−1}_k δ^l_j (δᵀ a: the batch sum of outer products)
        nabla_w = [d.T @ a_prev for d, a_prev in zip(deltas, activations[:-1])]
        return nabla_b, nabla_w, deltas

    def update_mini_batch(self, X: Array, Y: Array, eta: float) -> None:
        """w ← w − (η/m) Σ_x ∂C_x/∂w and b likewise, for a batch of m examples (rows)."""
        nabla_b, nabla_w, _ = self.backprop(X, Y)
        m = len(X)
        self.weights = [w - (eta / m) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / m) * nb for b, nb in zip(self.biases, nabla_b)]

    def sgd(
        self,
        X: Any,
        Y: Any,
        epochs: int,
        mini_batch_size: int,
        eta: float,
        *,
        test: tuple[Any, Any] | None = None,
        seed: int = 0,
    ) -> TrainingLog:
        """Mini-batch stochastic gradient descent (Nielsen's ``SGD``), vectorised per batch.

        ``Y`` holds one target vector per row; class labels are one-hot encoded for you.
        """
        if eta <= 0 or mini_batch_size < 1 or epochs < 1:
            raise ValueError("sgd: eta must be > 0, mini_batch_size and epochs >= 1")
        X = np.asarray(X, dtype=float)
        Y = self._targets(Y)
        rng = np.random.default_rng(seed)
        log = TrainingLog([], [])
        for _ in range(epochs):
            start = time.perf_counter()
            order = rng.permutation(len(X))
            for lo in range(0, len(X), mini_batch_size):
                batch = order[lo : lo + mini_batch_size]
                self.update_mini_batch(X[batch], Y[batch], eta)
            log.seconds.append(time.perf_counter() - start)
            log.accuracy.append(self.evaluate(*test) if test is not None else None)
        return log

    def _targets(self, Y: Any) -> Array:
        Y = np.asarray(Y)
        if Y.ndim == 1:  # class labels -> one-hot rows
            return np.eye(self.sizes[-1])[Y.astype(int)]
        return Y.astype(float)

    def evaluate(self, X: Any, labels: Any) -> float:
        """Fraction of examples whose largest output is the labelled class."""
        predicted = np.argmax(self.feedforward(np.asarray(X, dtype=float)), axis=1)
        return float(np.mean(predicted == np.asarray(labels)))

    # -- the scalar engine's MLP -----------------------------------------------------------

    @classmethod
    def from_mlp(cls, mlp: Any, cost: str = "quadratic") -> Network:
        """The same network in matrix form (weights copied; shared biases become copies)."""
        from ..nn.modules import activation_name  # a leaf import: matrix itself needs no engine

        found = [activation_name(a) for a in mlp.activations]
        names = [n for n in found if n is not None]
        if len(names) != len(found):
            raise ValueError("from_mlp: a custom activation has no matrix-form derivative")
        return cls(
            [mlp.nin, *mlp.nouts],
            names,
            cost,
            weights=[np.array(w) for w in mlp.weight_matrices()],
            biases=[np.array(b) for b in mlp.bias_vectors()],
        )

    def to_mlp(self) -> Any:
        """A scalar-engine :class:`~autograd_bp.nn.MLP` with these weights."""
        from ..nn.modules import MLP

        return MLP(
            self.sizes[0],
            self.sizes[1:],
            list(self.activations),
            weights=[w.tolist() for w in self.weights],
            biases=[b.tolist() for b in self.biases],
        )
