"""Shared test helpers: the PyTorch cross-check switch and finite differences."""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType

import pytest
from hypothesis import settings

# CI replays the same examples every run (a failure there is reproducible from the log);
# local runs draw new ones, so the property tests keep hunting.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    settings.load_profile("ci")

# The suite pins what the package prints in English (the default); a reader's own
# AUTOGRAD_BP_LANG=zh must not turn those checks into failures. Chinese is tested explicitly.
os.environ.pop("AUTOGRAD_BP_LANG", None)


def require_torch() -> ModuleType:
    """PyTorch, or a clean skip; with AUTOGRAD_BP_REQUIRE_TORCH=1 (CI) a missing torch fails."""
    if os.environ.get("AUTOGRAD_BP_REQUIRE_TORCH") == "1":
        import torch

        return torch
    return pytest.importorskip("torch")


def central_difference(f: Callable[[float], float], x: float, eps: float = 1e-6) -> float:
    """(f(x+h) − f(x−h)) / 2h with h scaled to |x|."""
    h = eps * max(1.0, abs(x))
    return (f(x + h) - f(x - h)) / (2 * h)


GRAPH_OPS = ["+", "-", "*", "tanh", "sin", "neg", "sigmoid"]


def build_graph(program: list[tuple[str, int, int]]) -> list:
    """Leaves a, b, c, then one node per (op, i, j) of ``program`` on earlier nodes (so
    nodes get shared): random graphs for property tests of the graph readers."""
    from autograd_bp import Value

    nodes = [Value(0.7, label="a"), Value(-1.3, label="b"), Value(0.4, label="c")]
    for op, i, j in program:
        x, y = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if op in ("+", "-", "*"):
            nodes.append({"+": x + y, "-": x - y, "*": x * y}[op])
        elif op == "neg":
            nodes.append(-x)
        else:
            nodes.append(getattr(x, op)())
    return nodes


def chromium(profile_dir, window: str = "1400,1000") -> object:
    """A headless Chromium (selenium) for the browser tests, ``window`` px wide and high, or a
    clean skip when it is not installed outside CI. The caller quits it."""
    import shutil

    webdriver = pytest.importorskip("selenium.webdriver")
    browser_bin, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if os.environ.get("CI") != "true" and not (browser_bin and driver_bin):
        pytest.skip("chromium and chromedriver are not installed (CI installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser_bin
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--window-size={window}", f"--user-data-dir={profile_dir}"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(driver_bin))


def chinese(text: str) -> bool:
    """Whether ``text`` holds a CJK ideograph: prose said in Chinese, not only names and numbers."""
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def expression(text: str, **values: float):
    """An expression's graph with its output called f, as the command line names it (the
    checker's tests grade claims about ∂f/∂…)."""
    from autograd_bp import parse

    f = parse(text, **values)
    f.label = "f"
    return f
