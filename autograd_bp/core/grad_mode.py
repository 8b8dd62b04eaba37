"""Switches around the graph: recording on or off (``no_grad``), the garbage collector
paused, and the one number check every entry point shares (``to_float``).

Example:
    >>> from autograd_bp import Value, no_grad
    >>> with no_grad():
    ...     y = Value(2.0) * 3
    >>> y.is_leaf
    True
"""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

import numpy as np

__all__ = ["gc_paused", "is_grad_enabled", "no_grad", "to_float"]

F = TypeVar("F", bound=Callable[..., Any])

# Whether ops record the graph; the engine reads it on every op (no_grad sets it off).
GRAD_ENABLED: ContextVar[bool] = ContextVar("autograd_bp_grad_enabled", default=True)


class no_grad(contextlib.ContextDecorator):  # noqa: N801 - the name torch users type
    """Inside this block ops compute values but record no parents (like ``torch.no_grad``).

    Per thread and per asyncio task (a ``ContextVar``). Works as ``with no_grad():``, and as a
    decorator with or without parentheses on functions, generators and ``async def``.

    Example:
        >>> from autograd_bp import Value
        >>> w = Value(1.0)
        >>> with no_grad():
        ...     v = w * 3
        >>> v.parents
        ()
        >>> @no_grad
        ... def triple(x):
        ...     return x * 3
        >>> triple(w).is_leaf
        True
    """

    _tokens: list[Any]

    def __new__(cls, func: Callable[..., Any] | None = None) -> Any:
        self = super().__new__(cls)
        self._tokens = []  # one per open `with`: the same object may be re-entered
        if func is None:
            return self
        if not callable(func):
            raise TypeError(f"no_grad: expected a function to decorate, got {func!r}")
        return self(func)  # bare @no_grad

    def __init__(self, func: Callable[..., Any] | None = None) -> None:
        pass  # all set up in __new__, which bare @no_grad leaves without calling __init__

    def __enter__(self) -> no_grad:
        self._tokens.append(GRAD_ENABLED.set(False))
        return self

    def __exit__(self, *exc: object) -> None:
        GRAD_ENABLED.reset(self._tokens.pop())

    def __call__(self, func: F) -> F:
        if inspect.isasyncgenfunction(func):
            raise TypeError("no_grad: async generator functions are not supported")
        if inspect.iscoroutinefunction(func):  # the body runs at await time, not at call time

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with no_grad():
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]
        if inspect.isgeneratorfunction(func):  # the body runs at each next(), not at call time

            @functools.wraps(func)
            def run_generator(*args: Any, **kwargs: Any) -> Any:
                with no_grad():
                    gen = func(*args, **kwargs)
                return (yield from _each_step_without_grad(gen))

            return run_generator  # type: ignore[return-value]
        return super().__call__(func)


def _each_step_without_grad(gen: Any) -> Any:
    """Drive ``gen``, resuming it inside ``no_grad`` each time and outside it in between."""
    send: Any = gen.send
    value: Any = None
    while True:
        try:
            with no_grad():
                item = send(value)
        except StopIteration as stop:
            return stop.value
        try:
            value, send = (yield item), gen.send
        except GeneratorExit:
            gen.close()
            raise
        except BaseException as error:  # noqa: BLE001 - handed to the generator, as yield from
            value, send = error, gen.throw


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph (False inside :func:`no_grad`).

    Example:
        >>> is_grad_enabled()
        True
    """
    return GRAD_ENABLED.get()


_GC_LOCK = threading.Lock()
_gc_pauses = 0  # how many gc_paused blocks are open, in any thread
_gc_was_enabled = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building and back-propagating big graphs.

    Graphs hold no cycles, so reference counting frees them; the collector's scans of the
    many new nodes cost up to half of a training step (measured, docs/performance.md).
    Overlapping blocks in several threads share one pause: the last to leave restores the
    collector, and only if it was enabled when the first entered (an application that
    disabled it keeps it disabled).

    Example:
        >>> import gc
        >>> with gc_paused():
        ...     gc.isenabled()
        False
    """
    global _gc_pauses, _gc_was_enabled
    with _GC_LOCK:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def to_float(x: Any, where: str) -> float:
    """``x`` as a float: int, float and numpy real scalars; bool, str, None... are refused.

    Example:
        >>> import numpy as np
        >>> to_float(np.float32(0.5), "x")
        0.5
    """
    t = type(x)
    if t is float:
        return x
    # An int goes straight to float(): ``x * 2``, ``x ** 2`` and ``sum(values)``'s 0 are
    # ints in micrograd-style code, and the numpy checks below took half of such an op
    # (``x * 2``: 553 -> 380 ns, interleaved A/B; the microgpt-style model 1.05x).
    if t is not int:
        if t is bool or isinstance(x, np.bool_):
            raise TypeError(f"{where}: expected a real number, got bool {x!r}")
        if isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iuf":
            return float(x)
        if not isinstance(x, (int, np.integer, np.floating)):
            raise TypeError(f"{where}: expected a real number (int or float), "
                            f"got {t.__name__} {x!r}")  # fmt: skip
    try:
        return float(x)
    except OverflowError:
        raise OverflowError(f"{where}: {x!r} is too large for a float") from None
