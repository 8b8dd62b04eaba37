"""Trace once, replay a batch: ``compile`` turns a graph into a numpy tape with the same op rules.

Example:
    >>> from autograd_bp.compiled import compile
    >>> callable(compile)
    True
"""

from .tape import CompiledFunction, CompiledLoss, TraceError, compile, compile_loss

__all__ = ["CompiledFunction", "CompiledLoss", "TraceError", "compile", "compile_loss"]
