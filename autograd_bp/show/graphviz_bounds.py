"""Graphviz within bounds: every picture the package renders runs Graphviz's ``dot`` through
:func:`run_dot` — a child process killed when its time is up (``DOT_TIMEOUT`` seconds by
default) — after a size guard (:func:`check_drawable`) that refuses, in one line and before
``dot`` starts, a graph whose layout would take minutes.

Why a guard that counts more than nodes: ``dot`` places an invisible node on every rank an
edge crosses and untangles them all, so a few hundred nodes whose edges reach far (one
variable used by every term of a long sum, ``x*x + x*x + …``) take longer than thousands of
nodes in a tidy tree. The *layout size* is therefore nodes + edges + twice the ranks the
edges cross beyond their neighbour.

Example:
    >>> from autograd_bp import Value
    >>> x = Value(2.0, label="x"); y = x * x + x; y.label = "y"
    >>> size = layout_size(y)
    >>> (size.nodes, size.edges, size.reach, size.total <= DRAW_LIMIT)
    (5, 6, 2, True)
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import atomic_write
from ..core.engine import Value, backward_order

__all__ = ["DOT_TIMEOUT", "DRAW_LIMIT", "DrawingTooLarge", "GraphvizNotFound", "GraphvizTimeout",
           "LayoutSize", "check_drawable", "check_timeout", "layout_size", "run_dot",
           "write_picture"]  # fmt: skip

DOT_TIMEOUT = 30.0  # seconds one run of dot may take (autograd-bp --dot-timeout, dot_timeout=)
# Largest layout size drawn. Measured with dot 2.43 (docs/diagrams.md): sizes near 4,500 took
# 2-8 s; 5,400-8,000 took 20-35 s; the 359-character x*x + x*x + … (size 33,000) ran for
# minutes.
DRAW_LIMIT = 3000
_INSTALL_HINT = (
    "Graphviz's 'dot' binary was not found on PATH; install Graphviz "
    "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz)"
)
_WHAT_TO_DO = "draw part of it (max_nodes=N in Python) or leave the drawing out (no --draw)"


class GraphvizNotFound(RuntimeError):
    """Graphviz's ``dot`` binary is not installed (the DOT source is still written)."""


class GraphvizTimeout(TimeoutError):
    """``dot`` ran past its time bound and was killed (an ``OSError``: the command line
    reports it in one line)."""


class DrawingTooLarge(ValueError):
    """The graph is too large to lay out in reasonable time; refused before ``dot`` runs."""


@dataclass(frozen=True)
class LayoutSize:
    """What ``dot`` has to lay out: ``nodes`` and ``edges`` as drawn (op nodes and folded
    constants included) and ``reach``, the ranks edges cross beyond their neighbour."""

    nodes: int
    edges: int
    reach: int

    @property
    def total(self) -> int:
        return self.nodes + self.edges + 2 * self.reach

    def text(self) -> str:
        return (f"{self.nodes} nodes, {self.edges} edges crossing {self.reach} extra ranks: "
                f"layout size {self.total}")  # fmt: skip


def _ranks(shown: list[Value], shown_set: set[Value]) -> dict[Value, int]:
    """Each node's rank as dot would place it: results after their op node after their
    furthest operand, leaves (and nodes hidden by max_nodes) just before their first use."""
    rank: dict[Value, int] = {}
    for node in reversed(shown):  # inputs first
        inside = [p for p in node.parents if p in shown_set]
        rank[node] = 2 + max((rank[p] for p in inside), default=0) if node.parents else 0
    first_use: dict[Value, int] = {}
    for node in shown:
        for p in node.parents:
            if p in shown_set and not p.parents:
                first_use[p] = min(first_use.get(p, rank[node] - 1), rank[node] - 1)
    rank.update({leaf: use - 1 for leaf, use in first_use.items()})
    return rank


def layout_size(root: Value, max_nodes: int | None = None) -> LayoutSize:
    """The layout size of ``draw_dot(root, max_nodes=max_nodes)`` (see the module's note).

    Example:
        >>> from autograd_bp import Value
        >>> y = Value(1.0, label="a") * 2
        >>> layout_size(y)  # a, y, the × node, the constant 2; three edges
        LayoutSize(nodes=4, edges=3, reach=0)
    """
    order = backward_order(root)
    shown = order if max_nodes is None else order[:max_nodes]
    shown_set = set(shown)
    rank = _ranks(shown, shown_set)
    computed = [n for n in shown if n.parents]
    constants = sum(len(n.constants) for n in computed)
    hidden = len(shown) < len(order)
    nodes = len(shown) + len(computed) + constants + hidden
    edges = sum(len(n.parents) + 1 for n in computed) + constants
    reach = sum(max(0, rank[n] - 2 - rank[p]) for n in computed for p in n.parents
                if p in shown_set)  # fmt: skip
    return LayoutSize(nodes, edges, reach)


def _largest_fitting(root: Value, limit: int) -> int:
    """A max_nodes whose drawing fits ``limit``, near the largest: a bisection (the size
    mostly grows with the nodes shown), then down until it really fits (showing one more
    node can shorten a reach)."""
    low, high = 1, len(backward_order(root))
    while low < high:
        mid = (low + high + 1) // 2
        if layout_size(root, mid).total <= limit:
            low = mid
        else:
            high = mid - 1
    while low > 1 and layout_size(root, low).total > limit:
        low -= 1
    return low


def check_drawable(root: Value, what: str, *, max_nodes: int | None = None,
                   limit: int = DRAW_LIMIT, hint: str | None = None) -> None:  # fmt: skip
    """Refuse (:class:`DrawingTooLarge`, one line that says what to do) a drawing whose
    layout size is above ``limit``.

    Example:
        >>> from autograd_bp import Value
        >>> x = Value(1.0, label="x"); y = x * x
        >>> for _ in range(60): y = y + x * x
        >>> check_drawable(y, "render")
        Traceback (most recent call last):
        ...
        autograd_bp.show.graphviz_bounds.DrawingTooLarge: render: the graph is too large ...
    """
    size = layout_size(root, max_nodes)
    if size.total <= limit:
        return
    if hint is None:
        fits = _largest_fitting(root, limit)
        hint = (f"{_WHAT_TO_DO}; max_nodes={fits} fits" if layout_size(root, fits).total <= limit
                else "leave the drawing out (no --draw): the output alone has too many operands")
    raise DrawingTooLarge(f"{what}: the graph is too large to draw ({size.text()}, more than "
                          f"{limit}; Graphviz would take minutes): {hint}")  # fmt: skip


def check_timeout(timeout: Any) -> float:
    """``timeout`` in seconds as a positive finite float, else a ``ValueError`` naming it.

    Example:
        >>> check_timeout(5)
        5.0
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise ValueError(f"dot_timeout must be a number of seconds, got {timeout!r}")
    if not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"dot_timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


def run_dot(source: str, fmt: str, *, timeout: float = DOT_TIMEOUT) -> bytes:
    """``source`` (DOT text) laid out by ``dot -T<fmt>``; the child is killed, and
    :class:`GraphvizTimeout` raised, when it runs past ``timeout`` seconds (or the caller is
    interrupted).

    Example:
        >>> run_dot("digraph { a -> b }", "svg").startswith(b"<?xml")
        True
    """
    timeout = check_timeout(timeout)
    if shutil.which("dot") is None:
        raise GraphvizNotFound(_INSTALL_HINT)
    proc = subprocess.Popen(["dot", f"-T{fmt}"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    try:
        out, err = proc.communicate(source.encode("utf-8"), timeout=timeout)
    except subprocess.TimeoutExpired:
        raise GraphvizTimeout(
            f"Graphviz's dot did not finish within {timeout:g} s and was stopped; {_WHAT_TO_DO}, "
            "or allow it longer (--dot-timeout SECONDS, dot_timeout= in Python)"
        ) from None
    finally:
        if proc.poll() is None:  # timed out or interrupted: no dot left running
            proc.kill()
            proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"Graphviz's dot failed: {err.decode('utf-8', 'replace').strip()}")
    return out


def write_picture(target: Path, source: str, fmt: str, *, timeout: float = DOT_TIMEOUT,
                  note: Callable[[str], str] = str) -> Path:  # fmt: skip
    """``source`` rendered into ``target`` atomically (nothing written if dot fails).
    ``note`` adds to the message of a missing ``dot`` (where the DOT source went).

    Example:
        >>> import tempfile, pathlib
        >>> out = write_picture(pathlib.Path(tempfile.mkdtemp()) / "g.svg", "digraph { a }", "svg")
        >>> out.read_bytes()[:5]
        b'<?xml'
    """
    try:
        data = run_dot(source, fmt, timeout=timeout)
    except GraphvizNotFound as e:
        raise GraphvizNotFound(note(str(e))) from None

    def write(tmp: Path) -> None:
        tmp.write_bytes(data)

    atomic_write(target, write)
    return target
