"""Losses on Values, for one example: ``loss(prediction, target) -> Value``.

Example:
    >>> from autograd_bp import Value
    >>> round(half_sse([Value(0.75136507), Value(0.772928465)], [0.01, 0.99]).data, 9)
    0.298371109
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..core.engine import Number, Value, logsumexp, sum_values

__all__ = [
    "LOSSES",
    "binary_cross_entropy",
    "cross_entropy",
    "get_loss",
    "half_sse",
    "hinge",
    "l2",
    "log_softmax",
    "logsumexp",
    "mse",
    "softmax",
]

Prediction = Value | Sequence[Value]


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _pairs(prediction: Prediction, target: Any, name: str) -> list[tuple[Value, Any]]:
    a, y = _as_list(prediction), _as_list(target)
    if len(a) != len(y):
        raise ValueError(f"{name}: {len(a)} predictions but {len(y)} targets")
    return list(zip(a, y))


def _total(terms: list[Value]) -> Value:
    """Σ terms; a single term is returned as it is (no one-parent sum node in diagrams)."""
    return terms[0] if len(terms) == 1 else sum_values(terms)


def half_sse(prediction: Prediction, target: Number | Sequence[Number]) -> Value:
    """½ Σ (y − a)²: the seeds' E_total and J(θ). Its gradient wrt a is (a − y).

    Example:
        >>> half_sse(Value(3.0), 1.0).data
        2.0
    """
    return _total([(a - y) ** 2 for a, y in _pairs(prediction, target, "half_sse")]) * 0.5


def mse(prediction: Prediction, target: Number | Sequence[Number]) -> Value:
    """Mean of (y − a)² over the outputs.

    Example:
        >>> mse([Value(1.0), Value(3.0)], [0.0, 0.0]).data
        5.0
    """
    pairs = _pairs(prediction, target, "mse")
    return _total([(a - y) ** 2 for a, y in pairs]) * (1.0 / len(pairs))


def binary_cross_entropy(prediction: Value, target: Number, *, from_logits: bool = False) -> Value:
    """−[y log p + (1 − y) log(1 − p)] for a probability p, or for a logit z with
    ``from_logits=True`` (then computed as softplus(z) − y·z, stable for any z).

    A probability that is itself ``z.sigmoid()`` is evaluated through its logit z, so
    the loss stays finite even when p rounds to 0 or 1.

    Example:
        >>> round(binary_cross_entropy(Value(0.0), 1.0, from_logits=True).data, 6)
        0.693147
    """
    y = target if isinstance(target, Value) else float(target)  # a Value when compiled
    if not isinstance(y, Value) and not 0.0 <= y <= 1.0:
        raise ValueError(f"binary_cross_entropy: target must be in [0, 1], got {target!r}")
    if not from_logits and prediction.op == "sigmoid":
        prediction, from_logits = prediction.parents[0], True
    if from_logits:
        return prediction.softplus() - prediction * y
    p = prediction
    if not 0.0 < p.data < 1.0:
        raise ValueError(
            f"binary_cross_entropy: probability must be in (0, 1), got {p.data!r}; "
            "pass logits with from_logits=True for a stable loss"
        )
    return -(p.log() * y + (1.0 - p).log() * (1.0 - y))


def log_softmax(logits: Sequence[Value]) -> list[Value]:
    """z_i − log Σ_j e^{z_j} (stable: see :func:`logsumexp`).

    Example:
        >>> [round(v.data, 4) for v in log_softmax([Value(0.0), Value(0.0)])]
        [-0.6931, -0.6931]
    """
    z = list(logits)
    log_norm = logsumexp(z)
    return [v - log_norm for v in z]


def softmax(logits: Sequence[Value]) -> list[Value]:
    """e^{z_i} / Σ_j e^{z_j} = e^{z_i − logsumexp(z)}, stable for large logits.

    Example:
        >>> [round(v.data, 3) for v in softmax([Value(1000.0), Value(1000.0)])]
        [0.5, 0.5]
    """
    return [v.exp() for v in log_softmax(logits)]


def cross_entropy(logits: Sequence[Value], target: int | Sequence[Value | Number]) -> Value:
    """−log softmax(z)[target] for a class index, by log-sum-exp (stable); or, for a
    sequence of class probabilities p (e.g. one-hot), −Σ p_k log softmax(z)_k.

    Example:
        >>> round(cross_entropy([Value(2.0), Value(0.0)], 0).data, 6)
        0.126928
        >>> round(cross_entropy([Value(2.0), Value(0.0)], [1.0, 0.0]).data, 6)
        0.126928
    """
    z = list(logits)
    if isinstance(target, (list, tuple)):
        if len(target) != len(z):
            raise ValueError(f"cross_entropy: {len(target)} probabilities for {len(z)} logits")
        traced = any(isinstance(p, Value) for p in target)  # compiled: targets are Values
        mass = sum_values(list(target)) if traced else float(sum(target))
        return logsumexp(z) * mass - sum_values([p * v for p, v in zip(target, z)])
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < len(z):
        raise ValueError(
            f"cross_entropy: target must be a class index in [0, {len(z)}), got {target!r}"
        )
    return logsumexp(z) - z[target]


def hinge(prediction: Value, target: Number) -> Value:
    """max(0, 1 − y·s) for a score s and a label y in {−1, +1} (micrograd's max-margin loss).

    Example:
        >>> hinge(Value(0.25), 1).data
        0.75
    """
    if isinstance(target, Value):  # a traced target (autograd_bp.compiled): taken as given
        return (1.0 - prediction * target).relu()
    if target not in (-1, 1):
        raise ValueError(f"hinge: target must be -1 or +1, got {target!r}")
    return (1.0 - prediction * float(target)).relu()


def l2(parameters: Sequence[Value], alpha: float) -> Value:
    """alpha · Σ p² (weight decay as a loss term).

    Example:
        >>> l2([Value(1.0), Value(2.0)], 0.1).data
        0.5
    """
    if not alpha >= 0 or alpha == float("inf"):  # NaN fails every comparison
        raise ValueError(f"l2: alpha must be a finite number >= 0, got {alpha!r}")
    return sum_values([p * p for p in parameters]) * float(alpha)


LOSSES: dict[str, Callable[..., Value]] = {
    "half_sse": half_sse,
    "mse": mse,
    "binary_cross_entropy": binary_cross_entropy,
    "cross_entropy": cross_entropy,
    "hinge": hinge,
}


def get_loss(loss: str | Callable[..., Value]) -> Callable[..., Value]:
    """A loss function from its name, or the callable itself."""
    if callable(loss):
        return loss
    try:
        return LOSSES[loss]
    except KeyError:
        raise ValueError(f"unknown loss {loss!r}; known: {', '.join(LOSSES)}") from None
