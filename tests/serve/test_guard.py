"""The playground server's guards, against the real server (uvicorn on 127.0.0.1, a free
port): a foreign Host (DNS rebinding) or Origin is refused, only a JSON media type is read,
every request's work is bounded in time, and the ``dot`` a request started does not outlive
it — neither its time bound nor its client."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")

# x*x + x*x + … (37 terms): under the size guard, yet dot needs seconds to lay it out (x's
# edges reach across the whole sum)
SLOW = "+".join(["x*x"] * 37)  # the largest sum the size guard lets through: dot takes ~1 s
GOOD = {"expression": "x*x", "values": {"x": 3}}


@contextlib.contextmanager
def serving(timeout: float = 15.0) -> Iterator[tuple[subprocess.Popen, str]]:
    """``autograd_bp.serve.app.run`` (what ``autograd-bp serve`` runs) with a chosen request
    time bound; yields the process and its URL."""
    code = ("import sys; from autograd_bp.serve.app import run; run('127.0.0.1', 0, "
            "lambda url: print(url, flush=True), timeout=float(sys.argv[1]))")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code, str(timeout)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    try:
        url = proc.stdout.readline().strip() if proc.stdout else ""
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read() if proc.stderr else ""
        yield proc, url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[subprocess.Popen, str]]:
    with serving() as running:
        yield running


def send(url: str, path: str = "/api/grad", body: dict | bytes = GOOD, *, method: str = "POST",
         **headers: str) -> tuple[int, dict]:  # fmt: skip
    """One request with exactly these headers (``Host`` included when given)."""
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"}
    sent.update({k.replace("_", "-"): v for k, v in headers.items()})
    conn.request(method, path, body=data if method == "POST" else None, headers=sent)
    reply = conn.getresponse()
    raw = reply.read()
    conn.close()
    is_json = reply.getheader("content-type", "").startswith("application/json")
    doc = json.loads(raw) if is_json else {}
    return reply.status, doc


def netloc(url: str) -> str:
    return urlsplit(url).netloc


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1",
                                  "localhost:{other}", "[::1]:{port}", "127.0.0.2:{port}",
                                  "localhost.evil.example:{port}", "user@127.0.0.1:{port}",
                                  "127.0.0.1:{port}/x", "localhost:99999", ""])  # fmt: skip
def test_a_foreign_host_is_refused(server, host):
    """A page on evil.example that rebinds its name to 127.0.0.1 still sends its own name
    as the Host: refused, and so is every other host or port than the server's."""
    _, url = server
    port = urlsplit(url).port
    status, doc = send(url, Host=host.format(port=port, other=port + 1))
    assert status == 403 and "host" in doc["error"].lower(), (status, doc)
    assert send(url, "/", method="GET", Host=host.format(port=port, other=port + 1))[0] == 403


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}"])
def test_the_servers_own_host_is_served(server, host):
    _, url = server
    status, doc = send(url, Host=host.format(port=urlsplit(url).port))
    assert status == 200 and doc["gradients"] == {"x": 6.0}


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost:{port}",
                                    "https://127.0.0.1:{port}", "http://127.0.0.1:{other}",
                                    "http://127.0.0.1:{port}.evil.example"])  # fmt: skip
def test_a_cross_origin_request_is_refused(server, origin):
    _, url = server
    port = urlsplit(url).port
    status, doc = send(url, Origin=origin.format(port=port, other=port + 1))
    assert status == 403 and "cross-origin" in doc["error"], (status, doc)


def test_no_origin_and_the_same_origin_are_served(server):
    _, url = server
    assert send(url)[0] == 200  # curl, scripts: no Origin
    assert send(url, Origin=f"http://{netloc(url)}")[0] == 200  # the page itself
    local = f"localhost:{urlsplit(url).port}"
    assert send(url, Host=local, Origin=f"http://{local}")[0] == 200


@pytest.mark.parametrize("content_type, ok", [
    ("application/json", True),
    ("application/json; charset=utf-8", True),
    ("Application/JSON ; charset=\"UTF-8\"", True),
    ("application/json;foo=bar", True),
    ("text/plain; x=json", False),  # what a page may send cross-site without a preflight
    ("text/plain;application/json", False),
    ("application/x-www-form-urlencoded; json=1", False),
    ("multipart/form-data; boundary=json", False),
    ("application/jsonp", False),
    ("application/json-patch+json", False),
    ("text/json", False),
    ("json", False),
    ("application/json; charset=latin-1", False),
    ("", False),
])  # fmt: skip
def test_only_a_json_media_type_is_read(server, content_type, ok):
    _, url = server
    status, doc = send(url, Content_Type=content_type)
    assert (status == 200) if ok else (status == 415 and "JSON" in doc["error"]), (status, doc)


def _processes() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, name) of every process, from /proc."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # ended meanwhile
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z":  # a zombie has ended already
                out[int(entry.name)] = (int(fields[1]), name)
    return out


def dots_below(pid: int) -> set[int]:
    """The ``dot`` processes descending from ``pid`` now."""
    procs = _processes()
    below, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, (parent, _) in procs.items() if parent in frontier} - below
        below |= frontier
    return {p for p in below if procs[p][1] == "dot"}


def alive(pid: int) -> bool:
    return pid in _processes()


class DotWatch(threading.Thread):
    """Records every ``dot`` started below the server while a request runs."""

    def __init__(self, server_pid: int) -> None:
        super().__init__(daemon=True)
        self.server_pid, self.seen, self.first, self.done = server_pid, set(), None, False

    def run(self) -> None:
        while not self.done:
            found = dots_below(self.server_pid)
            if found and self.first is None:
                self.first = time.monotonic()
            self.seen |= found
            time.sleep(0.05)


@needs_proc
def test_a_slow_request_is_stopped_and_its_dot_killed():
    # 0.4 s: dot starts within a few tens of ms of the request, and the largest drawing the
    # size guard lets through (SLOW) keeps it busy ~1 s here, so the bound stops it mid-run.
    # On a loaded machine the worker may not reach dot within 0.4 s: the bound is doubled
    # until a dot was caught running, and every dot seen must have died with its request.
    caught = False
    for bound in (0.4, 0.8, 1.6):
        with serving(timeout=bound) as (proc, url):
            watch = DotWatch(proc.pid)
            watch.start()
            start = time.monotonic()
            status, doc = send(url, body={"expression": SLOW, "values": {"x": 1}})
            took = time.monotonic() - start
            watch.done = True
            watch.join()
            assert status == 503 and f"longer than {bound:g} s" in doc["error"], (status, doc)
            assert took < bound + 5
            assert not any(alive(p) for p in watch.seen), "a dot outlived its request"
            assert send(url)[0] == 200  # and the server keeps serving
            caught = bool(watch.seen)
        if caught:
            break
    assert caught, "dot never ran: the request did not reach Graphviz"


@needs_proc
def test_a_client_that_leaves_takes_its_dot_with_it():
    from autograd_bp.reports import expression_graph
    from autograd_bp.show.graphviz_bounds import run_dot
    from autograd_bp.show.viz import draw_dot

    source = draw_dot(expression_graph(SLOW, {"x": 1}), show_local_grads=True).source
    start = time.monotonic()
    run_dot(source, "svg", timeout=300)
    alone = time.monotonic() - start  # what the same layout takes left alone
    with serving(timeout=60.0) as (proc, url):
        where = urlsplit(url)
        body = json.dumps({"expression": SLOW, "values": {"x": 1}}).encode()
        client = socket.create_connection((where.hostname, where.port), timeout=30)
        client.sendall(b"POST /api/grad HTTP/1.1\r\nHost: " + where.netloc.encode()
                       + b"\r\nContent-Type: application/json\r\nContent-Length: "
                       + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
        deadline = time.monotonic() + 30
        while not (dots := dots_below(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert dots, "dot never ran"
        started = time.monotonic()
        client.close()  # the reader closes the tab
        while any(alive(p) for p in dots) and time.monotonic() < started + 30:
            time.sleep(0.02)
        lived = time.monotonic() - started
        assert not any(alive(p) for p in dots)
        # gone long before it would have finished on its own
        assert lived < min(2.0, alone / 2), (lived, alone)
        assert send(url)[0] == 200


def test_a_graph_too_large_to_draw_is_refused_at_once(server):
    _, url = server
    start = time.monotonic()
    status, doc = send(url, body={"expression": "+".join(["x*x"] * 90), "values": {"x": 1}})
    assert status == 400 and "too large to draw" in doc["error"] and "smaller" in doc["error"]
    assert time.monotonic() - start < 10


@needs_proc
def test_the_server_leaves_no_process_behind():
    with serving() as (proc, url):
        assert send(url)[0] == 200
        children = {p for p, (parent, _) in _processes().items() if parent == proc.pid}
    for pid in children:  # the fork server: ends with the server
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid)
