"""The reference networks: Mazur's worked 2-2-2 example and Nielsen's BP1–BP4 in matrix form.

Example:
    >>> from autograd_bp.textbook import worked
    >>> sorted(worked.SCHEDULES)[0]
    'sequential'
"""

from .matrix import ACTIVATIONS, Network, TrainingLog
from .worked import (
    PUBLISHED,
    SCHEDULES,
    SEED_INPUTS,
    SEED_LR,
    SEED_PARAMETERS,
    SEED_TARGETS,
    Comparison,
    Pass,
    build_network,
    comparison,
    compute,
    forward,
    nielsen_lines,
    train,
)

__all__ = [
    "ACTIVATIONS",
    "Comparison",
    "Network",
    "PUBLISHED",
    "Pass",
    "SCHEDULES",
    "SEED_INPUTS",
    "SEED_LR",
    "SEED_PARAMETERS",
    "SEED_TARGETS",
    "TrainingLog",
    "build_network",
    "comparison",
    "compute",
    "forward",
    "nielsen_lines",
    "train",
]
