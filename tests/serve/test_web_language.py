"""The web pages in the reader's language: the "web" gettext catalog (extracted with Babel
from the pages' sources by scripts/web_messages.py) is complete and compiled, the server
sends it, and the steps page, the playground and the widget show Chinese in real Chromium
with their keys still working, English unchanged."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from autograd_bp.locale import catalog

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("babel")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


messages = _script("web_messages")
shots = _script("make_playground_images")
_BROWSER = shutil.which("chromium") and shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(
    os.environ.get("CI") != "true" and not _BROWSER,
    reason="chromium and chromedriver are not installed (CI installs them)",
)
ZH = catalog("web", "zh")


# --- the catalog ---------------------------------------------------------------------------


def test_every_web_text_has_a_chinese_translation_and_none_is_left_over():
    found = {m.id for m in messages.extracted() if m.id}
    po = messages.read("zh")
    in_po = {m.id for m in po if m.id}
    assert len(found) >= 50  # the buttons, labels, headings, verdicts, presets
    assert messages.untranslated("zh") == []
    assert in_po == found, (found - in_po, in_po - found)  # no stale msgid kept either
    assert {"next ▶", "Check my derivation", "Backward pass of {name}, step by step",
            "sigmoid neuron"} <= found  # one from each kind of source  # fmt: skip


def test_a_text_added_without_a_translation_is_caught(tmp_path, monkeypatch):
    page = tmp_path / "new.js"
    page.write_text('const x = t("a brand-new button");\nconst y = `<b>${t("in a template")}</b>`;')
    html = tmp_path / "new.html"
    html.write_text('<p data-t>A new <kbd>→</kbd>\n  paragraph &amp; more</p>'
                    '<input placeholder="a hint" data-t-attr="placeholder">')  # fmt: skip
    monkeypatch.setattr(messages, "SOURCES", [
        *messages.SOURCES,
        (page, "javascript", {"t": None}, {"parse_template_string": True}),
        (html, messages.extract_html, {}, {}),
    ])  # fmt: skip
    assert messages.untranslated("zh") == ["a brand-new button", "in a template",
                                           "A new <kbd>→</kbd> paragraph &amp; more", "a hint"]
    assert messages.main(["--check"]) == 1


def test_the_compiled_catalog_is_the_po():
    po = messages.read("zh")
    assert ZH == {m.id: m.string for m in po if m.id}
    assert not any(m.fuzzy for m in po if m.id)


def _shape(text: str) -> tuple:
    """What a translation must keep: its {slots}, its HTML tags, the keys in <kbd>, the
    formulas in <code>, the links."""
    return (sorted(re.findall(r"\{\w+\}", text)), re.findall(r"<[^>]+>", text),
            re.findall(r"<(?:kbd|code)>(.*?)</", text))  # fmt: skip


def test_translations_keep_slots_markup_formulas_and_symbols():
    for msgid, text in ZH.items():
        assert _shape(text) == _shape(msgid), msgid
        for kept in ("◀", "▶", "■", "✓", "✗", "≈", "E_total", "MLP", "sigmoid", "tanh", "2*x*y"):
            assert msgid.count(kept) == text.count(kept), (msgid, kept)
        assert re.search(r"[\u4e00-\u9fff]", text), msgid  # it is Chinese
    # the terms of the Chinese sources (Mazur's and Nielsen's translations)
    assert "反向传播" in ZH["Backward pass, step by step"]
    assert "链式法则" in ZH["hover or click a value node for its chain-rule sum; drag to pan"]
    assert "误差" in ZH["small MLP (2-2-1, tanh, squared error)"]


def test_english_has_no_catalog_and_unknown_languages_are_refused():
    from autograd_bp.locale import LanguageError

    assert catalog("web", "en") == {} and catalog("web", "zh_CN.UTF-8") == ZH
    with pytest.raises(LanguageError, match="'fr'"):
        catalog("web", "fr")


def test_the_html_extractor_reads_what_the_browser_serializes():
    page = io.BytesIO(b'<h1 data-t="Of {name}" data-name="f">Of f</h1>\n'
                      b'<p data-t>Keys: <a href="x?a=1&amp;b=2">it\'s</a>,\n <kbd>&lt;</kbd>'
                      b'<br> end</p>')  # fmt: skip
    found = [m for _, _, m, _ in messages.extract_html(page, [], [], {})]
    assert found == ["Of {name}",
                     'Keys: <a href="x?a=1&amp;b=2">it\'s</a>, <kbd>&lt;</kbd><br> end']


# --- the server ----------------------------------------------------------------------------


@contextlib.contextmanager
def serving(lang: str | None):
    """``autograd-bp serve`` with AUTOGRAD_BP_LANG set to ``lang`` (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != "AUTOGRAD_BP_LANG"}
    if lang is not None:
        env["AUTOGRAD_BP_LANG"] = lang
    proc = subprocess.Popen([sys.executable, "-m", "autograd_bp", "serve", "--port", "0",
                             "--no-open"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env=env)  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert "http://" in line, line + proc.stderr.read()
        # the line is in the server's language: the URL is found, not counted in words
        yield re.search(r"http://\S+", line).group(0)
    finally:
        proc.terminate()
        proc.wait(10)


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=60) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture(scope="module")
def url():
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    with serving(None) as address:
        yield address


def test_the_server_sends_the_catalog_the_page_asks_for(url):
    assert get(url + "api/messages") == (200, {"lang": "en", "languages": ["en", "zh"],
                                               "messages": {}})  # fmt: skip
    status, doc = get(url + "api/messages?lang=zh-CN")
    assert status == 200 and doc["lang"] == "zh" and doc["messages"] == ZH
    status, doc = get(url + "api/messages?lang=fr")
    assert status == 400 and "'fr'" in doc["error"] and "en, zh" in doc["error"]
    req = urllib.request.Request(url + "api/grad?lang=fr", method="POST",
                                 data=b'{"expression": "x", "values": {"x": 1}}',
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=60)
    assert refused.value.code == 400 and "'fr'" in json.loads(refused.value.read())["error"]


def _cli_json(lang: str, *args: str) -> dict:
    env = dict(os.environ, AUTOGRAD_BP_LANG=lang)
    proc = subprocess.run([sys.executable, "-m", "autograd_bp", *args, "--json"], env=env,
                          capture_output=True, text=True, cwd=ROOT, timeout=300)  # fmt: skip
    return json.loads(proc.stdout)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_api_answers_what_the_command_line_prints_in_that_language(url, lang):
    """A request's ?lang= is the language its answer is computed in: the CLI's, there."""
    body = json.dumps({"expression": "x*x*y", "values": {"x": 3, "y": 2}, "wrt": "x",
                       "claim": "x*y"}).encode()  # fmt: skip
    req = urllib.request.Request(url + f"api/check?lang={lang}", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=60) as reply:
        doc = json.loads(reply.read())
    cli = _cli_json(lang, "check", "x*x*y", "x=3", "y=2", "--wrt", "x", "--claim", "x*y")
    assert doc == cli and doc["verdict"] == "wrong" and doc["diagnosis"]


def test_the_server_language_is_the_environment_s():
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    with serving("zh_CN.UTF-8") as address:
        assert get(address + "api/messages")[1]["lang"] == "zh"
        assert get(address + "api/messages?lang=en")[1]["messages"] == {}


# --- in Chromium ---------------------------------------------------------------------------


def _untranslated(driver) -> list[str]:
    return driver.execute_script("return [...window.abpUntranslated]")


def _buttons(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [b.text for b in driver.find_elements(By.CSS_SELECTOR, "#stepper button")]


def _counter(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, ".abp-counter").text


BUTTONS = {"en": ["◀◀ first", "◀ previous", "▶ play", "next ▶", "last ▶▶", "− zoom", "+ zoom",
                  "fit", "100 %"],
           "zh": ["◀◀ 第一步", "◀ 上一步", "▶ 播放", "下一步 ▶", "最后一步 ▶▶", "− 缩小",
                  "+ 放大", "适应宽度", "100 %"]}  # fmt: skip
COUNTER = {"en": "step {k} / {n}", "zh": "第 {k} / {n} 步"}


def _steps_page(tmp_path: Path, lang: str) -> Path:
    """The page as `autograd-bp steps` writes it, the language from the environment."""
    env = dict(os.environ, AUTOGRAD_BP_LANG=lang)
    proc = subprocess.run([sys.executable, "-m", "autograd_bp", "steps", "tanh(x*x + y)",
                           "x=0.5", "y=-1", "--out", str(tmp_path / lang)], env=env,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip())


@needs_browser
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_steps_page_in_both_languages_with_its_keys(tmp_path, lang):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    page = _steps_page(tmp_path, lang)
    with shots.chromium() as driver:
        driver.get(page.as_uri())
        shots.wait_for(driver, _counter)
        n = driver.execute_script("return JSON.parse(document.getElementById('data')"
                                  ".textContent).steps.length") - 1  # fmt: skip
        assert _buttons(driver) == BUTTONS[lang]
        assert _counter(driver) == COUNTER[lang].format(k=0, n=n)
        heading = driver.find_element(By.TAG_NAME, "h1").text
        body = driver.find_element(By.TAG_NAME, "body")
        body.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
        assert _counter(driver) == COUNTER[lang].format(k=2, n=n)
        body.send_keys(Keys.END)
        assert _counter(driver) == COUNTER[lang].format(k=n, n=n)
        body.send_keys(Keys.HOME, "p")  # play: the button says pause, in the page's language
        pause = driver.find_element(By.CSS_SELECTOR, '[data-act="play"]').text
        body.send_keys("p")
        hint = driver.find_element(By.CSS_SELECTOR, ".abp-hint").text
        title = driver.title
        lang_attr = driver.execute_script("return document.documentElement.lang")
        missing = _untranslated(driver)
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        if lang == "zh":
            driver.save_screenshot(str(tmp_path / "steps-zh.png"))
    assert missing == [] and severe == []
    if lang == "en":
        assert heading == "Backward pass of f, step by step" and pause == "■ pause"
        assert title == "Backward pass, step by step" and lang_attr == "en"
        assert hint.startswith("hover or click")
    else:
        assert heading == "f 的反向传播，一步一步" and pause == "■ 暂停"
        assert title == "一步一步的反向传播" and lang_attr == "zh-CN"
        assert "链式法则" in hint


@pytest.fixture(scope="module")
def zh_server():
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    with serving("zh") as address:
        yield address


@needs_browser
def test_the_playground_in_chinese_with_its_keys_and_the_switch_back(zh_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    with shots.chromium() as driver:
        driver.get(zh_server)  # the server's language: serve under AUTOGRAD_BP_LANG=zh
        shots.wait_for(driver, shots.ready)
        text = lambda css: driver.find_element(By.CSS_SELECTOR, css).text  # noqa: E731
        assert text("h1") == "autograd_bp 练习场：一步一步的反向传播"
        assert text("#draw") == "绘制并求导" and text("#gradcheck") == "梯度检验"
        assert [e.text for e in driver.find_elements(By.TAG_NAME, "legend")] == [
            "表达式", "检查我的推导", "误区实验室"]  # fmt: skip
        assert driver.find_element(By.ID, "claim").get_attribute("placeholder") == "例如 2*x*y"
        assert Select(driver.find_element(By.ID, "preset")).first_selected_option.text == \
            "sigmoid 神经元"
        assert _buttons(driver)[:5] == BUTTONS["zh"][:5]
        body = driver.find_element(By.TAG_NAME, "body")
        body.click()
        body.send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_LEFT)
        assert text(".abp-counter").startswith("第 1 / ")
        claim = driver.find_element(By.ID, "claim")
        claim.clear()
        claim.send_keys("x", Keys.ENTER)  # ∂f/∂w of sigmoid(w*x + b) is not x
        shots.wait_for(driver, lambda d: d.find_element(By.ID, "verdict").text)
        verdict = text("#verdict")
        driver.find_element(By.ID, "gradcheck").click()
        shots.wait_for(driver, lambda d: d.find_element(By.ID, "gradcheck-result").text)
        checked = text("#gradcheck-result")
        missing = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "import('/static/stepper.js').then((m) => done([...m.untranslated]));")
        driver.save_screenshot("/tmp/playground-zh.png")
        Select(driver.find_element(By.ID, "lang")).select_by_value("en")  # the switch
        shots.wait_for(driver, lambda d: "lang=en" in d.current_url and shots.ready(d))
        english = (text("h1"), text("#draw"), _buttons(driver)[:2])
        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert verdict.startswith("✗ 错误 — 引擎 ") and "你的公式 0.5" in verdict
    assert checked.startswith("✓ 通过：引擎与中心差分对比（最大误差 ")
    assert "输入" in checked and "引擎" in checked and "数值" in checked
    assert missing == [] and severe == []
    assert english == ("autograd_bp playground: backpropagation, step by step",
                       "Draw and differentiate", BUTTONS["en"][:2])  # fmt: skip


@needs_browser
def test_the_widget_front_end_speaks_the_catalog_it_is_sent(zh_server):
    """stepper.js's anywidget entry given the model GraphWidget(…, lang="zh") syncs: its
    data and its messages."""
    pytest.importorskip("anywidget")
    from autograd_bp import parse
    from autograd_bp.serve.widget import GraphWidget

    widget = GraphWidget(parse("tanh(x*x + y)", x=0.5, y=-1.0), lang="zh")
    state = widget.get_state()
    assert state["messages"] == ZH and GraphWidget(parse("x*x", x=1.0)).messages == {}
    with shots.chromium() as driver:
        driver.get(zh_server + "?lang=en")  # an English page: the widget brings its own words
        shots.wait_for(driver, shots.ready)
        shown = driver.execute_async_script("""
          const [data, messages, done] = arguments;
          const widget = (await import("/static/stepper.js")).default;
          const el = document.createElement("div"); document.body.append(el);
          widget.render({model: {get: (k) => ({data, messages})[k], on: () => {}}, el});
          el.querySelector('[data-act="next"]').click();
          done([...el.querySelectorAll("button")].map((b) => b.textContent)
               .concat(el.querySelector(".abp-counter").textContent,
                       document.querySelector("#stepper .abp-counter").textContent));
        """, state["data"], state["messages"])
    n = len(state["data"]["steps"]) - 1
    assert shown[:9] == BUTTONS["zh"] and shown[9] == f"第 1 / {n} 步"
    assert shown[10].startswith("step 0 / ")  # the page's own stepper stays English


@needs_browser
def test_an_unknown_language_in_the_address_is_said_and_the_page_stays_english(url):
    from selenium.webdriver.common.by import By

    with shots.chromium() as driver:
        driver.get(url + "?lang=fr")
        shots.wait_for(driver, shots.ready)
        error = driver.find_element(By.ID, "lang-error").text
        heading = driver.find_element(By.TAG_NAME, "h1").text
        counter = _counter(driver)
    assert "language 'fr' is not available" in error
    assert heading == "autograd_bp playground: backpropagation, step by step"
    assert counter.startswith("step 0 / ")
