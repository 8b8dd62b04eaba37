"""Networks on top of the engine: ``Neuron``, ``Layer``, ``MLP``, the model file, losses,
optimizers, training, datasets and plots.

Example:
    >>> from autograd_bp.nn import MLP
    >>> len(MLP(2, [3, 1], seed=0).parameters())
    13
"""

from .losses import (
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
from .model_file import ModelFileError
from .modules import (
    ACTIVATIONS,
    INITS,
    MLP,
    Layer,
    Module,
    Neuron,
    activation_name,
    get_activation,
)
from .optim import SGD, Adam, Optimizer
from .train import History, TrainReport, accuracy, evaluate, fit, gc_paused, infer_task

__all__ = [
    "ACTIVATIONS",
    "Adam",
    "History",
    "INITS",
    "LOSSES",
    "Layer",
    "MLP",
    "ModelFileError",
    "Module",
    "Neuron",
    "Optimizer",
    "SGD",
    "TrainReport",
    "accuracy",
    "activation_name",
    "binary_cross_entropy",
    "cross_entropy",
    "evaluate",
    "fit",
    "gc_paused",
    "get_activation",
    "get_loss",
    "half_sse",
    "hinge",
    "infer_task",
    "l2",
    "log_softmax",
    "logsumexp",
    "mse",
    "softmax",
]
