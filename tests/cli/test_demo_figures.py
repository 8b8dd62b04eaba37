"""``autograd-bp demo --json`` holds every chain-rule figure the text prints, and the built-in
demo reads Mazur's problem from the example file the package ships."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest


def run(*args: str) -> str:
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    proc = subprocess.run([sys.executable, "-m", "autograd_bp", *args], capture_output=True,
                          text=True, timeout=300, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[str, dict]:
    text = run("demo", "--iterations", "3", "--json")
    plain = run("demo", "--iterations", "3", "--out", str(tmp_path_factory.mktemp("demo")))
    return plain, json.loads(text)["results"]


def _chain_section(text: str) -> list[str]:
    start = text.index("The chain rule, factor by factor")
    return text[start : text.index("The same gradients by the four equations")].splitlines()


def test_every_figure_of_the_chain_text_is_in_the_json(demo) -> None:
    text, results = demo
    printed = {f"{v:.9g}" for v in results.values() if isinstance(v, float)}
    figures = []
    for line in _chain_section(text):
        line = line.strip()
        if line.startswith(("∂", "product", "sum over paths")) and " = " in line:
            figures.append(line.rsplit(" = ", 1)[1])  # the figure the line arrives at
            if line.startswith("∂E_total/∂out_h1 = "):  # backward's two contributions
                figures += re.findall(r"-?\d\.\d+", line.split(" = ")[1].replace("− ", "-"))
    assert len(figures) == 18  # w5: 3 factors + product; w1: 8 factors, 2 products, sum, 3
    missing = [f for f in figures if f.removesuffix(" ✓") not in printed]
    assert not missing, missing


def test_the_layer_to_layer_factor_is_the_weight_and_paths_multiply_out(demo) -> None:
    _, r = demo
    assert r["chain.dnet_o1_dout_h1"] == r["updated.simultaneous.w5"] + 0.5 * r["gradients.w5"]
    assert r["chain.w1.path1.dnet_o1_dout_h1"] == r["chain.dnet_o1_dout_h1"]  # w5
    assert r["chain.w1.path2.dnet_o2_dout_h1"] == r["chain.dnet_o2_dout_h1"]  # w7
    for k in (1, 2):
        factors = [v for key, v in r.items() if key.startswith(f"chain.w1.path{k}.d")]
        assert len(factors) == 5
        assert r[f"chain.w1.path{k}.product"] == pytest.approx(
            factors[0] * factors[1] * factors[2] * factors[3] * factors[4], rel=1e-14)
    assert r["chain.w1.path1.product"] + r["chain.w1.path2.product"] == pytest.approx(
        r["gradients.w1"], rel=1e-12)
    for unit in ("o1", "o2", "h1", "h2"):  # δ = ∂E/∂out · ∂out/∂net
        assert r[f"delta.delta_{unit}"] == pytest.approx(
            r[f"chain.dE_dout_{unit}"] * r[f"chain.dout_{unit}_dnet_{unit}"], rel=1e-12)
