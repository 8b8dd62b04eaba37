"""``autograd_bp.optim``: the import path the docs have always shown; the code lives in
:mod:`autograd_bp.nn.optim` (the ``nn`` room), and this name stays so old programs keep working.

Example:
    >>> from autograd_bp.optim import SGD
    >>> SGD is __import__("autograd_bp.nn.optim", fromlist=["x"]).SGD
    True
"""

from .nn.optim import SGD, Adam, Optimizer

__all__ = ["SGD", "Adam", "Optimizer"]
