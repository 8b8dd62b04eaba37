"""One API request computed in a child process the server can stop: the process leads its
own process group, so killing the group ends the computation and any ``dot`` it started —
when the request's time is up or its client has gone. Its memory is capped too.

The server (:mod:`autograd_bp.serve.app`) starts :func:`answer` in a fresh process per
request; it sends back ``(status, document)``: 200 and the answer, or 4xx/5xx and
``{"error": message}``.

Example:
    >>> compute("variables", {"expression": "x*y + z"})
    (200, {'variables': ['x', 'y', 'z']})
"""

from __future__ import annotations

import os
from multiprocessing.connection import Connection
from typing import Any

from ..core.ops import DomainError
from ..lang.expr import ExpressionError
from ..locale import use_language
from ..show.viz import GraphvizNotFound, GraphvizTimeout
from .data import RequestError, check_payload, grad_payload, lab_payload, variables_payload

__all__ = ["MEMORY_LIMIT", "compute", "answer"]

MEMORY_LIMIT = 2 * 1024**3  # bytes of address space one request may use (dot included)
KINDS = {"grad": grad_payload, "check": check_payload, "variables": variables_payload,
         "lab": lab_payload}  # fmt: skip
# What a bad request raises, all answered 400 with the message (the engine's domain errors
# name the op and the operand: log of a negative number, division by zero, overflow);
# a drawing too large to lay out is a ValueError too.
_BAD_INPUT = (RequestError, ExpressionError, DomainError, ZeroDivisionError, OverflowError,
              ValueError)  # fmt: skip


def compute(kind: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The status and JSON document answering ``payload`` at ``/api/<kind>``."""
    try:
        return 200, KINDS[kind](payload)
    except _BAD_INPUT as e:
        return 400, {"error": str(e)}
    except RecursionError:
        return 400, {"error": "the expression is nested too deeply"}
    except GraphvizTimeout as e:
        return 503, {"error": f"{e} (the playground draws within its time bound)"}
    except MemoryError:
        return 503, {"error": f"the request needed more than {MEMORY_LIMIT // 1024**3} GB of "
                              "memory and was stopped; try a smaller expression"}  # fmt: skip
    except GraphvizNotFound as e:
        return 500, {"error": str(e)}
    except Exception as e:  # a bug of ours: said in JSON, and the server keeps serving
        return 500, {"error": f"internal error ({type(e).__name__}): {e}"}


def answer(kind: str, payload: dict[str, Any], conn: Connection, lang: str = "en") -> None:
    """The child process's body: its own process group (so ``dot`` dies with it), a memory
    cap, then :func:`compute`'s answer, its texts in ``lang``, sent on ``conn``."""
    if hasattr(os, "setsid"):
        os.setsid()
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):  # not POSIX, or a lower hard limit already
        pass
    with use_language(lang):
        conn.send(compute(kind, payload))
    conn.close()
