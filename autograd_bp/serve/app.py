"""The playground's web server (Starlette, run by uvicorn): the page, its static files and
the JSON API. Nothing in a request is evaluated by Python: expressions go through
:func:`autograd_bp.lang.expr.parse` and its limits (length, depth) only.

Example:
    >>> [route.path for route in create_app().routes][:5]
    ['/', '/api/presets', '/api/grad', '/api/check', '/api/variables']
    >>> [route.path for route in create_app().routes][5:]
    ['/api/bugs', '/api/lab', '/static', '/api/messages']
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import multiprocessing
import multiprocessing.forkserver
import os
import re
import signal
from collections.abc import Callable
from email.message import Message
from multiprocessing.process import BaseProcess
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from .._io import dumps_strict
from ..locale import LANGUAGES, LanguageError, catalog, language, normalize, use_language
from . import STATIC, worker
from .data import PRESETS, RequestError, bugs_payload

__all__ = ["MAX_BODY", "MAX_WORKERS", "REQUEST_TIMEOUT", "create_app"]

MAX_BODY = 64 * 1024  # bytes: an expression is at most 10,000 characters
REQUEST_TIMEOUT = 15.0  # seconds one API request may compute before it is stopped
MAX_WORKERS = 4  # requests computed at once; more wait (within their time) for a turn
# a fork server: each request's process starts from a clean, single-threaded copy with the
# package already imported (fork from the server's threads could inherit a held lock)
_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
_CONTEXT: Any = multiprocessing.get_context(_METHOD)  # typeshed's BaseContext lacks Process
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def _json(doc: Any, status: int = 200) -> Response:
    """Strict JSON (no NaN or Infinity tokens), as the command line prints it."""
    return Response(dumps_strict(doc), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def _refuse_constant(name: str) -> None:
    raise RequestError(f"{name} is not a number JSON allows; send finite numbers")


def _check_media_type(value: str) -> None:
    """Only ``application/json`` (parameters allowed; a charset, if any, UTF-8), parsed as a
    media type: ``text/plain; x=json``, which a page may send cross-site without asking,
    is refused."""
    header = Message()
    header["content-type"] = value
    if value.strip() == "" or header.get_content_type() != "application/json":
        raise HTTPException(415, "send JSON: Content-Type: application/json")
    charset = header.get_content_charset()
    if charset not in (None, "utf-8", "utf8"):
        raise HTTPException(415, f"send JSON in UTF-8, not {charset}")


async def _payload(request: Request) -> dict[str, Any]:
    """The request's JSON object, read up to MAX_BODY bytes (more is refused with 413)."""
    _check_media_type(request.headers.get("content-type", ""))
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


def _stop(proc: BaseProcess) -> None:
    """End a request's process and its process group (a ``dot`` it started included)."""
    if proc.pid is not None and hasattr(os, "killpg"):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # no group yet, or already gone
            pass
    proc.kill()
    proc.join()
    proc.close()


async def _compute(kind: str, payload: dict[str, Any], request: Request,
                   timeout: float, lang: str = "en") -> Response | None:  # fmt: skip
    """``worker.answer`` in its own process, stopped after ``timeout`` seconds or when the
    client leaves (then None: nobody is there to answer)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    # not a daemon: the computation may start processes of its own (a bounded checker);
    # it is stopped below in every case
    proc = _CONTEXT.Process(target=worker.answer, args=(kind, payload, sender, lang),
                           daemon=False)  # fmt: skip
    proc.start()
    sender.close()
    try:
        while not receiver.poll():
            if not proc.is_alive() and not receiver.poll():
                return _error(500, "internal error: the request's process ended without an "
                                   f"answer (exit code {proc.exitcode})")  # fmt: skip
            if loop.time() > deadline:
                return _error(503, f"the request took longer than {timeout:g} s and was "
                                   "stopped; try a smaller expression")  # fmt: skip
            if await request.is_disconnected():
                return None
            await asyncio.sleep(0.02)
        status, doc = await run_in_threadpool(receiver.recv)
        return _json(doc, status)
    except EOFError:
        return _error(500, "internal error: the request's process ended mid-answer")
    finally:
        receiver.close()
        await run_in_threadpool(_stop, proc)


def _endpoint(kind: str, timeout: float, turns: asyncio.Semaphore,
              lang: str = "en") -> Callable[..., Any]:  # fmt: skip
    async def endpoint(request: Request) -> Response:
        try:
            payload = await _payload(request)
            answer_in = _language(request, lang)
        except (RequestError, LanguageError) as e:
            return _error(400, str(e))
        try:
            await asyncio.wait_for(turns.acquire(), timeout)
        except TimeoutError:
            return _error(503, "the playground is busy with other requests; try again")
        try:
            reply = await _compute(kind, payload, request, timeout, answer_in)
        finally:
            turns.release()
        return reply if reply is not None else Response(status_code=499)

    return endpoint


class _SameOrigin:
    """Refuse (403) a request whose ``Host`` is not this server (a DNS-rebinding page names
    its own host) or whose ``Origin`` is another site. Allowed hosts: ``localhost`` and the
    bound address (listening on every address: any IP address, never a name), with the
    bound port."""

    def __init__(self, app: ASGIApp, host: str, port: int | None) -> None:
        self.app, self.port = app, port
        self.host = host.strip("[]").lower()
        self.wildcard = self.host in ("", "0.0.0.0", "::")

    def host_problem(self, value: str) -> str | None:
        if not _HOST.fullmatch(value):
            return f"the Host header {value[:80]!r} is not a host"
        where = urlsplit("//" + value)
        try:
            name, port = where.hostname or "", where.port or 80
        except ValueError:  # a port beyond 65535
            return f"the Host header {value!r} names no valid port"
        if self.port is not None and port != self.port:
            return f"the Host header {value!r} names port {port}, not {self.port}"
        if name in ("localhost", self.host):
            return None
        if self.wildcard:
            try:
                ipaddress.ip_address(name)
                return None
            except ValueError:
                pass
        return (f"the Host header {value!r} is not this server (localhost or {self.host}); "
                "open the playground at the address serve printed")  # fmt: skip

    def problem(self, headers: Headers) -> str | None:
        host = headers.get("host", "")
        wrong = self.host_problem(host)
        if wrong is not None:
            return wrong
        origin = headers.get("origin")
        if origin is not None and origin.lower() != f"http://{host}".lower():
            return f"cross-origin request from {origin[:80]!r} refused"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            wrong = self.problem(Headers(scope=scope))
            if wrong is not None:
                await _error(403, wrong)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


async def _presets(request: Request) -> Response:
    return _json({"presets": PRESETS})


def _language(request: Request, default: str) -> str:
    """The language a request asks for (``?lang=zh``), else the server's."""
    asked = request.query_params.get("lang")
    return normalize(asked) if asked else default


def _messages(default: str) -> Callable[..., Any]:
    """``GET /api/messages[?lang=zh]``: the page's texts in that language (the "web"
    catalog, msgid → text; English: empty), which the page translates itself with."""

    async def messages(request: Request) -> Response:
        try:
            lang = _language(request, default)
        except LanguageError as e:
            return _error(400, str(e))
        return _json({"lang": lang, "languages": list(LANGUAGES),
                      "messages": catalog("web", lang)})  # fmt: skip

    return messages


def _bugs(default: str) -> Callable[..., Any]:
    """``GET /api/bugs[?lang=zh]``: the lab's bugs, their titles and changes in that
    language."""

    async def bugs(request: Request) -> Response:
        try:
            lang = _language(request, default)
        except LanguageError as e:
            return _error(400, str(e))
        with use_language(lang):
            return _json(bugs_payload())

    return bugs


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _error(exc.status_code, exc.detail)


def create_app(host: str = "127.0.0.1", port: int | None = None, *,
               timeout: float = REQUEST_TIMEOUT, lang: str | None = None) -> Starlette:  # fmt: skip
    """The playground: ``GET /`` the page, ``GET /api/presets``, ``POST /api/grad``,
    ``POST /api/check``, ``GET /api/bugs`` and ``POST /api/lab`` (see docs/cli.md and
    docs/lab.md for the schemas), ``/static/…`` its files. Only
    requests to ``host`` (or localhost) on ``port`` (None: any port) from the page itself are
    served; each API request computes in its own process for at most ``timeout`` seconds.
    ``lang`` (default: :func:`autograd_bp.locale.language`, so ``serve --lang`` or
    ``AUTOGRAD_BP_LANG``) is the page's language unless a request asks ``?lang=``:
    ``GET /api/messages`` sends its catalog, the API answers in it."""
    lang = normalize(lang) if lang is not None else language()
    turns = asyncio.Semaphore(MAX_WORKERS)
    routes = [
        Route("/", _index, methods=["GET"]),
        Route("/api/presets", _presets, methods=["GET"]),
        Route("/api/grad", _endpoint("grad", timeout, turns, lang), methods=["POST"]),
        Route("/api/check", _endpoint("check", timeout, turns, lang), methods=["POST"]),
        Route("/api/variables", _endpoint("variables", timeout, turns, lang), methods=["POST"]),
        # the misconception lab: faulty variants of this package's engine, no request code
        Route("/api/bugs", _bugs(lang), methods=["GET"]),
        Route("/api/lab", _endpoint("lab", timeout, turns, lang), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    routes.append(Route("/api/messages", _messages(lang), methods=["GET"]))
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error},
                     middleware=[Middleware(_SameOrigin, host=host, port=port)])  # fmt: skip


def run(host: str, port: int, on_ready: Callable[[str], None], *,
        timeout: float = REQUEST_TIMEOUT) -> None:  # fmt: skip
    """Serve until interrupted; ``on_ready(url)`` once the socket is bound (port 0: a free
    port, and the URL says which). ``timeout``: seconds one API request may compute."""
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
    if _METHOD == "forkserver":  # the package imported once, before the first request
        _CONTEXT.set_forkserver_preload(["autograd_bp.serve.worker"])
        multiprocessing.forkserver.ensure_running()
    config = uvicorn.Config(create_app(host, bound, timeout=timeout), log_level="warning",
                            lifespan="off")  # fmt: skip
    on_ready(f"http://{shown}:{bound}/")
    uvicorn.Server(config).run(sockets=[sock])
