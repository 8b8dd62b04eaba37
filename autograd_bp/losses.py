"""``autograd_bp.losses``: the import path the docs have always shown; the code lives in
:mod:`autograd_bp.nn.losses` (the ``nn`` room), and this name stays so old programs keep working.

Example:
    >>> from autograd_bp.losses import LOSSES
    >>> LOSSES is __import__("autograd_bp.nn.losses", fromlist=["x"]).LOSSES
    True
"""

from .nn.losses import (
    LOSSES,
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
