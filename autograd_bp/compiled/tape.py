"""The old import path of the compiled tape, kept so ``from autograd_bp.compiled.tape import
compile_loss`` (and the other public names) keeps working.

The tape itself is four modules now, one idea each: :mod:`~autograd_bp.compiled.trace`
(a function becomes a flat program, or is refused), :mod:`~autograd_bp.compiled.groups`
(instructions run as block operations), :mod:`~autograd_bp.compiled.schedule` (the
:class:`~autograd_bp.compiled.schedule.Tape`: rows, groups, batch blocks) and
:mod:`~autograd_bp.compiled.function` (``compile``, ``compile_loss``). New code imports
from :mod:`autograd_bp.compiled`.

Example:
    >>> from autograd_bp.compiled.tape import compile
    >>> from autograd_bp.compiled import compile as same
    >>> compile is same
    True
"""

from .function import CompiledFunction, CompiledLoss, compile, compile_loss
from .trace import TraceError

__all__ = ["CompiledFunction", "CompiledLoss", "TraceError", "compile", "compile_loss"]
