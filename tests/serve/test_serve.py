"""The playground (autograd_bp.serve): the real server on a free port, its API over HTTP
against the CLI's JSON, hostile requests, the page in headless Chromium, the widget."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

_spec = importlib.util.spec_from_file_location(
    "make_playground_images", ROOT / "scripts" / "make_playground_images.py"
)
shots = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shots)
_BROWSER = shutil.which("chromium") and shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(
    os.environ.get("CI") != "true" and not _BROWSER,
    reason="chromium and chromedriver are not installed (CI installs them)",
)


@pytest.fixture(scope="module")
def url():
    with shots.serving() as address:
        yield address


def post(url: str, path: str, body: bytes | dict, method: str = "POST",
         content_type: str = "application/json") -> tuple[int, dict]:  # fmt: skip
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url + path.lstrip("/"), data=data, method=method,
                                 headers={"Content-Type": content_type})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def cli_json(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "autograd_bp", *args, "--json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)  # fmt: skip
    return json.loads(proc.stdout)


EXTRA = {"svg", "steps", "nodes", "colors"}


@pytest.mark.parametrize("expression, values", [
    ("x*x*y", {"x": 3, "y": -2.5}),
    ("sigmoid(w*x + b)", {"w": 0.4, "x": 0.5, "b": 0.1}),
    ("log(a) + exp(-a)/a", {"a": 1e-3}),
])  # fmt: skip
def test_grad_api_is_the_cli_json(url, expression, values):
    status, doc = post(url, "/api/grad", {"expression": expression, "values": values})
    assert status == 200
    cli = cli_json("grad", expression, *(f"{k}={v!r}" for k, v in values.items()))
    assert {k: v for k, v in doc.items() if k not in EXTRA} == cli
    assert doc["svg"].startswith("<svg") and len(doc["steps"]) >= 2
    assert doc["steps"][-1]["final"] and doc["steps"][0]["text"].startswith("start")
    # every node of the graph has its sum, and its gradient is the engine's (the CLI's)
    names = {n["name"]: n["grad"] for n in doc["nodes"].values()}
    for name, g in cli["gradients"].items():
        assert names[name] == g


def test_grad_api_check_is_the_cli_check(url):
    body = {"expression": "tanh(x*x + y)", "values": {"x": 0.5, "y": -1}, "check": True}
    status, doc = post(url, "/api/grad", body)
    cli = cli_json("grad", "tanh(x*x + y)", "x=0.5", "y=-1", "--check")
    assert status == 200 and doc["check"] == cli["check"] and cli["check"]["passed"]


@pytest.mark.parametrize("claim, verdict", [("2*x*y", "correct"), ("x*y", "wrong")])
def test_check_api_is_the_cli_json(url, claim, verdict):
    body = {"expression": "x*x*y", "wrt": "x", "claim": claim, "values": {"x": 3, "y": 2}}
    status, doc = post(url, "/api/check", body)
    cli = cli_json("check", "x*x*y", "x=3", "y=2", "--wrt", "x", "--claim", claim)
    assert status == 200 and doc == cli and doc["verdict"] == verdict


HOSTILE = [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"expression": "x", "values": {"x": NaN}}', "NaN"),
    (b'{"expression": "x", "values": {"x": Infinity}}', "Infinity"),
    (b'{"expression": "x", "values": {"x": 1e400}}', "finite"),
    (b'{"expression": "x", "values": {"x": true}}', "number"),
    (b'{"expression": "x", "values": {"x": "1"}}', "number"),
    (b'{"expression": "x", "values": [1]}', "values"),
    (b'{"expression": 7, "values": {}}', "expression"),
    (b'{"values": {}}', "expression"),
    (b'{"expression": "x", "values": {"x": 1}, "shell": 1}', "unknown field"),
    (b'{"expression": "__import__(\'os\').system(\'true\')", "values": {}}', "__import__"),
    (b'{"expression": "x.__class__", "values": {"x": 1}}', "x"),
    (b'{"expression": "x", "values": {}}', "no value given"),
    (b'{"expression": "log(x)", "values": {"x": -1}}', "log"),
    (b'{"expression": "1/x", "values": {"x": 0}}', "zero"),
    (b'{"expression": "x", "values": {"x": 1}, "explain": "q"}', "'q'"),
    (b'{"expression": "x", "values": {"x": 1}, "precision": 99}', "precision"),
    (json.dumps({"expression": "(" * 300 + "x" + ")" * 300, "values": {"x": 1}}).encode(),
     "deep"),
    (json.dumps({"expression": "x+" * 5000 + "x", "values": {"x": 1}}).encode(), "long"),
    (b"\xff\xfe", "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "larger"),  # also beyond the body limit
]


@pytest.mark.parametrize("body, words", HOSTILE)
def test_bad_requests_get_a_4xx_naming_the_problem(url, body, words):
    status, doc = post(url, "/api/grad", body)
    assert 400 <= status < 500, doc
    assert set(doc) == {"error"} and words.lower() in doc["error"].lower(), doc["error"]
    assert post(url, "/api/grad", {"expression": "x", "values": {"x": 2}})[0] == 200  # still up


def test_overflow_is_null_in_strict_json_and_an_unevaluable_check_is_400(url):
    status, doc = post(url, "/api/grad", {"expression": "x*x", "values": {"x": 1e200}})
    cli = cli_json("grad", "x*x", "x=1e200")
    assert status == 200 and doc["value"] is None and doc["non_finite"]["value"] == "inf"
    # the CLI's keys and their non-finite entries are the CLI's; the extras' are listed too
    ours = {k: v for k, v in doc["non_finite"].items() if k.split(".")[0] not in EXTRA}
    assert ours == cli.pop("non_finite") and doc.pop("non_finite") != ours
    assert {k: v for k, v in doc.items() if k not in EXTRA} == cli
    body = {"expression": "x*x", "values": {"x": 1e200}, "wrt": "x", "claim": "2*x"}
    status, doc = post(url, "/api/check", body)
    assert status == 400 and "f is inf" in doc["error"] and "finite" in doc["error"]


def test_check_api_bad_claims(url):
    status, doc = post(url, "/api/check", {"expression": "x*y", "values": {"x": 1, "y": 2},
                                           "wrt": "z", "claim": "y"})  # fmt: skip
    assert status == 400 and "'z'" in doc["error"]
    status, doc = post(url, "/api/check", {"expression": "x*y", "values": {"x": 1, "y": 2},
                                           "wrt": "x", "claim": "__import__('os')"})  # fmt: skip
    assert 400 <= status < 500 and "error" in doc


def test_oversized_body_wrong_method_wrong_type(url):
    from autograd_bp.serve.app import MAX_BODY

    big = {"expression": "x" + " " * (MAX_BODY + 10), "values": {"x": 1}}
    assert post(url, "/api/grad", big)[0] == 413
    assert post(url, "/api/grad", b"{}", method="GET")[0] == 405
    assert post(url, "/api/check", b"{}", method="PUT")[0] == 405
    assert post(url, "/api/grad", b"x=1", content_type="text/plain")[0] == 415
    with urllib.request.urlopen(url, timeout=30) as reply:  # the page is still served
        assert b"stepper" in reply.read()


def test_serve_without_the_extra_names_it():
    code = ("import sys; sys.modules['starlette'] = None; from autograd_bp.cli import main; "
            "sys.exit(main(['serve', '--no-open']))")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "autograd_bp[serve]" in proc.stderr


def test_other_host_warns_what_it_exposes():
    proc = subprocess.Popen([sys.executable, "-m", "autograd_bp", "serve", "--host", "0.0.0.0",
                             "--port", "0", "--no-open"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)  # fmt: skip
    try:
        warning = proc.stderr.readline()
        line = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(10)
    assert warning.startswith("warning: --host 0.0.0.0") and "every machine" in warning
    assert line.startswith("autograd-bp playground: http://0.0.0.0:")


def test_port_in_use_and_browser_opened(tmp_path):
    """Without --no-open the URL goes to the browser ($BROWSER here: a script that records
    it); a port already taken is one line that says what to do."""
    opened = tmp_path / "opened.txt"
    fake = tmp_path / "browser.sh"
    fake.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    fake.chmod(0o755)
    env = dict(os.environ, BROWSER=f"{fake} %s")
    proc = subprocess.Popen([sys.executable, "-m", "autograd_bp", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env=env)  # fmt: skip
    try:
        url = proc.stdout.readline().split()[2]
        shots.wait_for(None, lambda _: opened.exists() and opened.read_text().strip(), 30)
        assert opened.read_text().strip() == url
        port = url.rsplit(":", 1)[1].strip("/")
        taken = subprocess.run([sys.executable, "-m", "autograd_bp", "serve", "--port", port,
                                "--no-open"], capture_output=True, text=True, cwd=ROOT,
                               timeout=60)  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(10)
    assert taken.returncode == 2 and len(taken.stderr.strip().splitlines()) == 1
    assert f"port {port}" in taken.stderr and "--port" in taken.stderr


def test_bad_port_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "autograd_bp", "serve", "--port", "70000"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "--port" in proc.stderr and "Traceback" not in proc.stderr


def test_presets_compute_what_the_engine_computes(url):
    from autograd_bp.check.problems import worked_problem

    with urllib.request.urlopen(url + "api/presets", timeout=30) as reply:
        presets = json.loads(reply.read())["presets"]
    worked = next(p for p in presets if "Mazur" in p["name"])
    status, doc = post(url, "/api/grad", {"expression": worked["expression"],
                                          "values": worked["values"]})  # fmt: skip
    problem = worked_problem()
    problem.output.backward()
    assert status == 200 and doc["value"] == pytest.approx(problem.output.data, rel=1e-14)
    assert doc["gradients"]["w5"] == pytest.approx(problem.names["w5"].grad, rel=1e-12)
    assert any("MLP" in p["name"] for p in presets)
    for preset in presets:  # each example's claim is a right answer, graded so
        body = {k: preset[k] for k in ("expression", "values", "wrt", "claim")}
        status, doc = post(url, "/api/check", body)
        assert status == 200 and doc["verdict"] == "correct", (preset["name"], doc)


def test_a_program_of_named_steps_is_the_cli_too(url):
    program = "z = w*x + b\na = sigmoid(z)"
    values = {"w": 0.4, "x": 0.5, "b": 0.1}
    status, doc = post(url, "/api/grad", {"expression": program, "values": values,
                                          "check": True, "explain": "w"})  # fmt: skip
    cli = cli_json("grad", program, "w=0.4", "x=0.5", "b=0.1", "--check", "--explain", "w")
    assert status == 200 and {k: v for k, v in doc.items() if k not in EXTRA} == cli
    assert {n["name"] for n in doc["nodes"].values()} >= {"z", "a", "w", "x", "b"}
    assert doc["output"] == "a" and cli["check"]["passed"]
    body = {"expression": program, "values": values, "wrt": "w", "claim": "a*(1 - a)*x"}
    assert post(url, "/api/check", body)[1] == cli_json(
        "check", program, "w=0.4", "x=0.5", "b=0.1", "--wrt", "w", "--claim", "a*(1 - a)*x"
    )
    assert post(url, "/api/variables", {"expression": program})[1] == {
        "variables": ["w", "x", "b"]
    }
    for bad, words in (("z = w\nz = 2*w", "already a name"), ("z = w\n2*z", "step 2"),
                       ("pi = 3", "already a name")):  # fmt: skip
        status, doc = post(url, "/api/grad", {"expression": bad, "values": {"w": 1}})
        assert status == 400 and words in doc["error"], doc


# --- the page in headless Chromium --------------------------------------------------------


@pytest.fixture(scope="module")
def page(url):
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("chromium and chromedriver are not installed (CI installs them)")
    with shots.chromium() as driver:
        driver.get(url)
        shots.wait_for(driver, shots.ready)
        yield driver


def _counter(driver) -> int:
    from selenium.webdriver.common.by import By

    return int(driver.find_element(By.CSS_SELECTOR, ".abp-counter").text.split()[1])


def _value_nodes(driver) -> int:
    return driver.execute_script("return document.querySelectorAll('#stepper g.node.value').length")


IN_VIEW = """
const vp = document.querySelector('#stepper .abp-viewport').getBoundingClientRect();
const out = document.querySelector('#stepper g.node.output').getBoundingClientRect();
const svg = document.querySelector('#stepper .abp-diagram svg').getBoundingClientRect();
return [out.left >= vp.left && out.right <= vp.right && out.top >= vp.top
        && out.bottom <= vp.bottom, svg.width <= vp.width,
        document.querySelector('#stepper .abp-zoom').textContent];
"""


@needs_browser
def test_the_first_view_shows_the_whole_neuron_and_its_output(page, url):
    # The backward pass starts at the output: it must be on screen before any key is pressed
    # (it opened at 80 % with f cut off at the right). The sigmoid neuron fits the width.
    page.get(url)
    shots.wait_for(page, shots.ready)
    output_seen, fits, zoom = page.execute_script(IN_VIEW)
    assert output_seen and fits, zoom
    assert 60 <= int(zoom.split()[0]) <= 100  # never below readable, never enlarged


@needs_browser
def test_page_loads_draws_steps_and_checks(page, url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from autograd_bp import parse
    from autograd_bp.core.engine import backward_order

    assert _value_nodes(page) == len(backward_order(parse("sigmoid(w*x + b)", w=1, x=1, b=1)))
    body = page.find_element(By.TAG_NAME, "body")
    body.click()
    body.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    assert _counter(page) == 2
    body.send_keys(Keys.ARROW_LEFT)
    assert _counter(page) == 1
    page.find_element(By.CSS_SELECTOR, '[data-act="last"]').click()
    last = _counter(page)
    assert "(final)" in page.find_element(By.CSS_SELECTOR, ".abp-text").text
    page.find_element(By.CSS_SELECTOR, '[data-act="prev"]').click()
    assert _counter(page) == last - 1
    body.send_keys(Keys.HOME)
    assert _counter(page) == 0
    # a node's chain-rule sum on click
    page.find_element(By.CSS_SELECTOR, "#stepper g.node.value#n1").click()
    assert page.find_element(By.CSS_SELECTOR, ".abp-node").text.startswith("∂f/∂")
    page.execute_script("document.querySelector('#stepper g.node.value#n2').focus()")  # Tab
    start = {"expression": "sigmoid(w*x + b)", "values": {"w": 0.4, "x": 0.5, "b": 0.1}}
    expected = post(url, "/api/grad", start)[1]["nodes"]["n2"]["sum"]
    assert page.find_element(By.CSS_SELECTOR, ".abp-node").text == expected

    # a new expression, typed: a new graph
    box = page.find_element(By.ID, "expression")
    box.clear()
    box.send_keys("x*x*y", Keys.ENTER)
    shots.wait_for(page, lambda d: _value_nodes(d) == 4 and shots.ready(d))
    fields = page.find_elements(By.CSS_SELECTOR, "#values input[type=number]")
    assert [e.get_attribute("id") for e in fields] == ["value-x", "value-y"]

    # check a right and a wrong claim
    claim = page.find_element(By.ID, "claim")
    for text, verdict in (("2*x*y", "correct"), ("x*y", "wrong")):
        page.find_element(By.ID, "wrt").send_keys("x")
        claim.clear()
        claim.send_keys(text, Keys.ENTER)
        shots.wait_for(page, lambda d: d.find_element(By.ID, "verdict").text)
        assert page.find_element(By.ID, "verdict").get_attribute("class") == f"verdict-{verdict}"
    assert page.find_elements(By.CSS_SELECTOR, "#diagnosis li")

    page.find_element(By.ID, "gradcheck").click()
    shots.wait_for(page, lambda d: d.find_element(By.ID, "gradcheck-result").text)
    assert "passed" in page.find_element(By.ID, "gradcheck-result").text

    box.clear()
    box.send_keys("log(", Keys.ENTER)  # a bad expression: an error line, the page lives on
    shots.wait_for(page, lambda d: d.find_element(By.ID, "error").text)
    severe = [e for e in page.get_log("browser") if e["level"] == "SEVERE"
              and "/api/" not in e["message"]]  # the 400 itself is logged by Chromium
    assert severe == []


def test_screenshot_script(tmp_path):
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("chromium and chromedriver are not installed (CI installs them)")
    written = shots.main(str(tmp_path))
    assert [p.name for p in written] == ["playground.png", "playground-steps.png",
                                         "playground-check.png", "playground-worked.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 20_000
               for p in written)  # fmt: skip
    for p in written:  # the committed copies docs/playground.md shows
        assert (ROOT / "docs" / "images" / p.name).exists(), p.name
        assert f"](images/{p.name})" in (ROOT / "docs" / "playground.md").read_text()


@needs_browser
def test_widget_entry_point_renders_the_api_data_in_chromium(page, url):
    """stepper.js's default export (what anywidget calls) given a model holding the data
    GraphWidget sends: the graph and the step control appear and step. The model is the
    two-method object anywidget passes (get, on); Jupyter itself is not run here."""
    drawn = page.execute_async_script("""
      const done = arguments[arguments.length - 1];
      const reply = await fetch("/api/grad", {method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({expression: "tanh(x*x + y)", values: {x: 0.5, y: -1}})});
      const data = await reply.json();
      const widget = (await import("/static/stepper.js")).default;
      const el = document.createElement("div"); document.body.append(el);
      const model = {get: () => data, on: () => {}};
      widget.render({model, el});
      el.querySelector('[data-act="last"]').click();
      done([el.querySelectorAll("g.node.value").length,
            el.querySelector(".abp-counter").textContent,
            el.querySelector(".abp-text").textContent]);
    """)
    from autograd_bp.core.engine import backward_order
    from autograd_bp.reports import expression_graph
    from autograd_bp.show.viz import backward_steps

    root = expression_graph("tanh(x*x + y)", {"x": 0.5, "y": -1.0})  # as the API builds it
    steps = backward_steps(root)
    assert drawn[0] == len(backward_order(root))
    assert drawn[1] == f"step {len(steps) - 1} / {len(steps) - 1}"
    assert drawn[2] == steps[-1][0].text


def test_concurrent_requests_all_answer_the_same(url):
    from concurrent.futures import ThreadPoolExecutor

    body = {"expression": "sigmoid(w*x + b)*tanh(w - b)", "values": {"w": 0.3, "x": 2, "b": -1}}
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: post(url, "/api/grad", body), range(16)))
    assert {r[0] for r in replies} == {200}
    assert all(r[1] == replies[0][1] for r in replies)


# --- the widget ---------------------------------------------------------------------------


def test_widget_sends_the_api_data_and_uses_the_page_component():
    pytest.importorskip("anywidget")
    from autograd_bp import parse
    from autograd_bp._io import strict_json
    from autograd_bp.serve import STATIC, STEPPER_JS
    from autograd_bp.serve.data import graph_data
    from autograd_bp.serve.widget import GraphWidget

    root = parse("tanh(x*x + y)", x=0.5, y=-1.0)
    w = GraphWidget(root)
    assert w.data == strict_json(graph_data(parse("tanh(x*x + y)", x=0.5, y=-1.0)))
    state = w.get_state()
    assert state["data"]["steps"][-1]["text"].endswith("(final)")
    assert Path(w._esm) == STEPPER_JS or w._esm == STEPPER_JS.read_text()
    assert 'from "./stepper.js"' in (STATIC / "playground.js").read_text()
    assert "export default" in STEPPER_JS.read_text()
    with pytest.raises(TypeError, match="expected a Value"):
        GraphWidget(1.5)


def test_widget_displays_in_a_real_kernel(tmp_path):
    """In a Jupyter kernel (nbclient), GraphWidget(value) displays as a widget view whose
    model state holds the step data — Mazur's own names when given his network."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("anywidget")
    code = ("from autograd_bp.check.problems import worked_problem\n"
            "from autograd_bp.serve.widget import GraphWidget\n"
            "GraphWidget(worked_problem().output)")  # fmt: skip
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     store_widget_state=True,
                                     resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    client.execute()
    (output,) = nb.cells[0].outputs
    assert output.output_type == "execute_result"
    view = output.data["application/vnd.jupyter.widget-view+json"]
    state = nb.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]
    data = state[view["model_id"]]["state"]["data"]
    assert data["steps"][0]["text"] == "start: ∂E_total/∂E_total = 1"
    assert any(n["name"] == "out_h1" for n in data["nodes"].values())
