"""The playground's web server (Starlette, run by uvicorn): the page, its static files and
the JSON API. Nothing in a request is evaluated by Python: expressions go through
:func:`autograd_bp.lang.expr.parse` and its limits (length, depth) only.

Example:
    >>> [route.path for route in create_app().routes]
    ['/', '/api/presets', '/api/grad', '/api/check', '/api/variables', '/static']
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .._io import dumps_strict
from ..core.ops import DomainError
from ..lang.expr import ExpressionError
from ..show.viz import GraphvizNotFound
from . import STATIC
from .data import PRESETS, RequestError, check_payload, grad_payload, variables_payload

__all__ = ["MAX_BODY", "create_app"]

MAX_BODY = 64 * 1024  # bytes: an expression is at most 10,000 characters
# What a bad request raises, all answered 400 with the message (the engine's domain errors
# name the op and the operand: log of a negative number, division by zero, overflow).
_BAD_INPUT = (RequestError, ExpressionError, DomainError, ZeroDivisionError, OverflowError,
              ValueError)  # fmt: skip


def _json(doc: Any, status: int = 200) -> Response:
    """Strict JSON (no NaN or Infinity tokens), as the command line prints it."""
    return Response(dumps_strict(doc), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def _refuse_constant(name: str) -> None:
    raise RequestError(f"{name} is not a number JSON allows; send finite numbers")


async def _payload(request: Request) -> dict[str, Any]:
    """The request's JSON object, read up to MAX_BODY bytes (more is refused with 413)."""
    if "json" not in request.headers.get("content-type", ""):
        raise HTTPException(415, "send JSON: Content-Type: application/json")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise HTTPException(413, f"the body is larger than {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"the body is larger than {MAX_BODY} bytes")
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise RequestError(f"the body is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise RequestError(f"the body must be a JSON object, got {type(doc).__name__}")
    return doc


def _endpoint(compute: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        try:
            payload = await _payload(request)
            # dot and the engine block: a worker thread keeps the server answering
            return _json(await run_in_threadpool(compute, payload))
        except _BAD_INPUT as e:
            return _error(400, str(e))
        except RecursionError:
            return _error(400, "the expression is nested too deeply")
        except GraphvizNotFound as e:
            return _error(500, str(e))
        except HTTPException:
            raise
        except Exception as e:  # a bug of ours: said in JSON, and the server keeps serving
            return _error(500, f"internal error ({type(e).__name__}): {e}")

    return endpoint


async def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


async def _presets(request: Request) -> Response:
    return _json({"presets": PRESETS})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, exc.detail)


def create_app() -> Starlette:
    """The playground: ``GET /`` the page, ``GET /api/presets``, ``POST /api/grad`` and
    ``POST /api/check`` (see docs/cli.md for the schemas), ``/static/…`` its files."""
    routes = [
        Route("/", _index, methods=["GET"]),
        Route("/api/presets", _presets, methods=["GET"]),
        Route("/api/grad", _endpoint(grad_payload), methods=["POST"]),
        Route("/api/check", _endpoint(check_payload), methods=["POST"]),
        Route("/api/variables", _endpoint(variables_payload), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error})


def run(host: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Serve until interrupted; ``on_ready(url)`` once the socket is bound (port 0: a free
    port, and the URL says which)."""
    import errno
    import socket

    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise OSError(f"serve: cannot listen on {host} port {port}: {e.strerror or e}"
                      + ("; choose another with --port N (0: any free port)"
                         if e.errno == errno.EADDRINUSE else "")) from None  # fmt: skip
    sock.listen(128)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    config = uvicorn.Config(create_app(), log_level="warning", lifespan="off")
    on_ready(f"http://{shown}:{bound}/")
    uvicorn.Server(config).run(sockets=[sock])
