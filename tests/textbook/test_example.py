"""Worked examples from TOML files (demo --example): several shapes against PyTorch to 1e-12,
the [published] comparison, every malformed-file error, Mazur's file against the built-in."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import require_torch

from autograd_bp.textbook import worked
from autograd_bp.textbook.answer_key import answer_key
from autograd_bp.textbook.example import compute_example
from autograd_bp.textbook.example_file import ExampleFileError, parse_example
from autograd_bp.textbook.example_report import compare, latex_symbol, report_lines

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "worked"


def toml_text(
    sizes, activation, weights, biases, inputs, targets, *, bias="per-neuron", loss="half_sse",
    lr=0.5, schedule="simultaneous", iterations=5, names="nielsen", published=None,
) -> str:  # fmt: skip
    """A TOML example; numbers and arrays are written as JSON writes them (same syntax)."""
    d = json.dumps
    lines = [f"names = {d(names)}", "[network]", f"sizes = {d(sizes)}",
             f"activation = {d(activation)}", f"bias = {d(bias)}", "[parameters]",
             f"weights = {d(weights)}", f"biases = {d(biases)}", "[data]",
             f"inputs = {d(inputs)}", f"targets = {d(targets)}", "[training]",
             f"loss = {d(loss)}", f"lr = {d(lr)}", f"schedule = {d(schedule)}",
             f"iterations = {iterations}"]  # fmt: skip
    if published:
        lines.append("[published]")
        lines += [f"{d(k)} = {d(v)}" for k, v in published.items()]
    return "\n".join(lines) + "\n"


SHAPES = {
    "2-2-2 per-layer bias": dict(
        sizes=[2, 2, 2], activation="sigmoid", bias="per-layer",
        weights=[[[0.3, -0.1], [0.2, 0.4]], [[-0.5, 0.25], [0.6, 0.1]]], biases=[0.1, -0.2],
        inputs=[0.7, -0.2], targets=[0.2, 0.8], loss="half_sse",
    ),
    "2-3-1 mixed activations": dict(
        sizes=[2, 3, 1], activation=["tanh", "sigmoid"],
        weights=[[[0.12, -0.31], [0.44, 0.27], [-0.53, 0.18]], [[0.61, -0.72, 0.33]]],
        biases=[[0.05, -0.11, 0.2], [0.09]], inputs=[0.5, -0.3], targets=[0.25], loss="mse",
    ),
    "3-4-4-2 cross-entropy": dict(
        sizes=[3, 4, 4, 2], activation=["tanh", "relu", "sigmoid"],
        weights=[
            [[0.2, -0.4, 0.1], [0.5, 0.3, -0.2], [-0.3, 0.6, 0.4], [0.1, 0.1, -0.5]],
            [[0.3, -0.2, 0.5, 0.1], [-0.4, 0.6, 0.2, 0.3], [0.7, 0.1, -0.3, 0.2],
             [0.2, 0.4, 0.6, -0.1]],
            [[0.5, -0.6, 0.3, 0.2], [-0.2, 0.4, 0.1, -0.7]],
        ],
        biases=[[0.1, -0.1, 0.05, 0.0], [0.2, 0.1, -0.05, 0.3], [0.0, 0.1]],
        inputs=[1.0, -0.5, 0.25], targets=[1.0, 0.0], loss="cross_entropy",
    ),
}  # fmt: skip


def _torch_step(torch, Ws, bs, x, y, ex, schedule):
    """One update by torch's autograd (simultaneous), or top layer first with each lower δ
    through the updated weights above (sequential); returns the cost before the update."""
    import torch.nn.functional as F

    acts = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
    a, zs, As = x, [], [x]
    for W, b, act in zip(Ws, bs, ex.activations):
        z = W @ a + b
        z.retain_grad()
        a = acts[act](z)
        zs.append(z)
        As.append(a)
    if ex.loss == "half_sse":
        cost = 0.5 * ((a - y) ** 2).sum()
    elif ex.loss == "mse":
        cost = F.mse_loss(a, y)
    else:
        cost = F.binary_cross_entropy(a, y, reduction="sum")
    params = [*Ws, *bs]
    grads = torch.autograd.grad(cost, params + zs, retain_graph=True)
    n = len(Ws)
    with torch.no_grad():
        if schedule == "simultaneous":
            for p, g in zip(params, grads):
                p -= ex.lr * g
            return cost, grads
        delta = grads[2 * n + n - 1]
        Ws[-1] -= ex.lr * grads[n - 1]
        bs[-1] -= ex.lr * grads[2 * n - 1]
    for i in range(n - 2, -1, -1):
        (sp,) = torch.autograd.grad(acts[ex.activations[i]](zs[i]).sum(), zs[i], retain_graph=True)
        with torch.no_grad():
            delta = (Ws[i + 1].T @ delta) * sp
            Ws[i] -= ex.lr * torch.outer(delta, As[i])
            bs[i] -= ex.lr * (delta.sum() if bs[i].dim() == 0 else delta)
    return cost, grads


def _torch_params(torch, ex):
    Ws = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in ex.weights]
    if ex.bias == "per-layer":
        bs = [torch.tensor(b[0], dtype=torch.float64, requires_grad=True) for b in ex.biases]
    else:
        bs = [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in ex.biases]
    x = torch.tensor(ex.inputs, dtype=torch.float64)
    y = torch.tensor(ex.targets, dtype=torch.float64)
    return Ws, bs, x, y


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("schedule", ["simultaneous", "sequential"])
def test_every_figure_matches_pytorch(shape, schedule) -> None:
    torch = require_torch()
    ex = parse_example(toml_text(**SHAPES[shape], schedule=schedule))
    r = compute_example(ex)
    Ws, bs, x, y = _torch_params(torch, ex)
    cost, grads = _torch_step(torch, Ws, bs, x, y, ex, schedule)
    n = len(Ws)
    assert _close(r["error.E_total"], cost.item())
    # gradients: Nielsen's names w{l}_{j}_{k}, b{l}_{j} (b{l} when shared)
    for i in range(n):
        for (j, k), g in [((j, k), grads[i][j, k].item()) for j in range(ex.sizes[i + 1])
                          for k in range(ex.sizes[i])]:  # fmt: skip
            assert _close(r[f"gradients.w{i + 2}_{j + 1}_{k + 1}"], g), (i, j, k)
        gb = grads[n + i]
        if ex.bias == "per-layer":
            assert _close(r[f"gradients.b{i + 2}"], float(gb))
        else:
            for j in range(ex.sizes[i + 1]):
                assert _close(r[f"gradients.b{i + 2}_{j + 1}"], float(gb[j]))
        for j in range(ex.sizes[i + 1]):
            assert _close(r[f"delta.delta{i + 2}_{j + 1}"], float(grads[2 * n + i][j]))
    # one update, then training continues from it
    for i, W in enumerate(Ws):
        for j in range(ex.sizes[i + 1]):
            for k in range(ex.sizes[i]):
                assert _close(r[f"updated.{schedule}.w{i + 2}_{j + 1}_{k + 1}"], W[j, k].item())
    for _ in range(ex.iterations - 1):
        _torch_step(torch, Ws, bs, x, y, ex, schedule)
    final, _ = _torch_step(torch, Ws, bs, x, y, ex, schedule)  # the cost after `iterations`
    assert _close(r[f"after_training.{schedule}.E"], final.item())
    assert r["after_training.E"] == r[f"after_training.{schedule}.E"]


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_report_checks_every_equation_against_the_engine(shape) -> None:
    ex = parse_example(toml_text(**SHAPES[shape]))
    text = "\n".join(report_lines(ex, compute_example(ex)))
    bp = [line for line in text.splitlines() if line.lstrip().startswith(("BP1", "BP2", "BP3",
                                                                         "BP4"))]  # fmt: skip
    assert len(bp) == 1 + (len(ex.sizes) - 2) + 2 * (len(ex.sizes) - 1)
    assert all(line.endswith("✓ = engine") for line in bp), bp
    weights = sum(a * b for a, b in zip(ex.sizes, ex.sizes[1:]))
    assert text.count("engine: ∂E_total/∂w") == weights
    assert "✗" not in text


def test_mazur_file_is_the_posts_problem_and_reproduces_the_built_in_demo() -> None:
    ex = parse_example((EXAMPLES / "mazur.toml").read_text())
    flat = [w for layer in ex.weights for row in layer for w in row]
    assert flat == [worked.SEED_PARAMETERS[f"w{i}"] for i in range(1, 9)]
    assert [b[0] for b in ex.biases] == [worked.SEED_PARAMETERS["b1"], worked.SEED_PARAMETERS["b2"]]
    assert (tuple(ex.inputs), tuple(ex.targets)) == (worked.SEED_INPUTS, worked.SEED_TARGETS)
    assert (ex.lr, ex.iterations, ex.update_biases) == (worked.SEED_LR, 10_000, False)
    # the file's printed figures are the post's (the built-in's expected column), key by key
    renamed = {"delta.delta_o1": "chain.w1.delta_o1", "after_one_update.sequential.E":
               "after_one_update.E", "after_training.sequential.E": "after_training.E",
               "after_training.sequential.outputs.0": "after_training.outputs.0",
               "after_training.sequential.outputs.1": "after_training.outputs.1"}  # fmt: skip
    for key, printed in ex.published.items():
        assert worked.PUBLISHED[renamed.get(key, key)] == printed, key
    r, built_in = compute_example(ex), worked.compute()
    common = [k for k in built_in if k in r and not k.startswith("settings.")]
    assert len(common) > 40
    for key in common:
        assert r[key] == pytest.approx(built_in[key], rel=1e-12, abs=1e-15), key
    rows = {row.key: row.status for row in compare(ex, r)}
    # the post printed δ_o2·w7 = −0.01904911826 from rounded intermediates: one unit off
    assert rows.pop("chain.w1.dE_o2_dout_h1") == "≈"
    assert list(rows.values()) == ["✓"] * (len(ex.published) - 1)


def _mazur_with(published: dict[str, object], schedule: str = "simultaneous") -> list:
    text = (EXAMPLES / "mazur.toml").read_text().split("\n[published]")[0] + "\n"
    text = text.replace('schedule = "simultaneous"', f'schedule = "{schedule}"')
    text = text.replace("iterations = 10000", "iterations = 3")
    text += "[published]\n" + "".join(f"{json.dumps(k)} = {json.dumps(v)}\n"
                                      for k, v in published.items())  # fmt: skip
    ex = parse_example(text)
    return compare(ex, compute_example(ex))


def test_published_figures_right_rounded_wrong_and_other_schedule() -> None:
    rows = _mazur_with({
        "gradients.w5": "0.082167041",     # as printed: ✓
        "gradients.w6": 0.0826676278,      # a TOML float: its digits count
        "gradients.w1": "0.000438567",     # one unit off in the last digit (true ...5677): ≈
        "gradients.w7": "-0.0226",         # rounded to fewer digits, correctly: ✓
        "gradients.w8": "0.0227",          # wrong sign: ✗
        "forward.out_o1": "0.78",          # wrong by 3 units: ✗
        "updated.w5": "0.35891648",        # this schedule (simultaneous): ✓
    })  # fmt: skip
    status = {r.key: r.status for r in rows}
    assert status["gradients.w5"] == status["gradients.w6"] == status["gradients.w7"] == "✓"
    assert status["gradients.w1"] == "≈"
    assert status["gradients.w8"].startswith("✗") and status["forward.out_o1"].startswith("✗")
    assert status["updated.w5"] == "✓"


def test_a_figure_of_the_other_schedule_says_so() -> None:
    # w1⁺ as the post printed it is the simultaneous one; asked under sequential it differs
    rows = _mazur_with({"updated.w1": "0.149780716", "updated.sequential.w1": "0.149780716"},
                       schedule="sequential")  # fmt: skip
    status = {r.key: r.status for r in rows}
    assert status["updated.w1"] == "other schedule"
    assert status["updated.sequential.w1"].startswith("✗")  # named explicitly: no excuse


def test_a_published_key_that_names_no_result_is_refused() -> None:
    with pytest.raises(ValueError, match=r"published\.gradients\.w9: no such result"):
        _mazur_with({"gradients.w9": "0.1"})


GOOD = toml_text(**SHAPES["2-3-1 mixed activations"])

MALFORMED = {
    "bad TOML syntax": (GOOD.replace("sizes = [2, 3, 1]", "sizes = [2, 3, 1"), "not valid TOML"),
    "missing [network]": (GOOD.replace("[network]", "[netwerk]"), "netwerk: unknown key"),
    "missing sizes": (GOOD.replace("sizes = [2, 3, 1]", ""), "network.sizes: missing key"),
    "missing inputs": (GOOD.replace("inputs = [0.5, -0.3]", ""), "data.inputs: missing key"),
    "missing weights": (GOOD.replace("weights =", "weight ="), "parameters.weights: missing key"),
    "missing activation": (GOOD.replace('activation = ["tanh", "sigmoid"]', ""),
                           "network.activation: missing key"),
    "weights: too few layers": (GOOD.replace("[[0.61, -0.72, 0.33]]]", "]"),
                                "parameters.weights: expected 2 matrices"),
    "weights: a short row": (GOOD.replace("[0.61, -0.72, 0.33]", "[0.61, -0.72]"),
                             "parameters.weights[1][0]: expected a list of 3 numbers"),
    "weights: a missing row": (GOOD.replace("[-0.53, 0.18]", "").replace("[0.44, 0.27], ",
                               "[0.44, 0.27]"), "parameters.weights[0]: expected 3 rows"),
    "biases: wrong length": (GOOD.replace("[0.09]", "[0.09, 0.1]"),
                             "parameters.biases[1]: expected a list of 1 numbers"),
    "unknown activation": (GOOD.replace('"sigmoid"]', '"softmax"]'),
                           "network.activation[1]: expected one of linear, relu, sigmoid, tanh"),
    "activation count": (GOOD.replace('["tanh", "sigmoid"]', '["tanh"]'),
                         "network.activation: expected one name or a list of 2"),
    "non-number weight": (GOOD.replace("0.44", '"0.44"'),
                          "parameters.weights[0][1][0]: expected a number, got '0.44'"),
    "boolean input": (GOOD.replace("inputs = [0.5, -0.3]", "inputs = [true, -0.3]"),
                      "data.inputs[0]: expected a number, got True"),
    "NaN weight": (GOOD.replace("0.44", "nan"),
                   "parameters.weights[0][1][0]: expected a finite number, got nan"),
    "infinite target": (GOOD.replace("targets = [0.25]", "targets = [inf]"),
                        "data.targets[0]: expected a finite number, got inf"),
    "size zero": (GOOD.replace("[2, 3, 1]", "[2, 0, 1]"), "network.sizes[1]: expected an integer"),
    "unknown loss": (GOOD.replace('"mse"', '"hinge"'), "training.loss: expected one of half_sse"),
    "negative lr": (GOOD.replace("lr = 0.5", "lr = -0.5"), "training.lr: expected a number > 0"),
    "zero iterations": (GOOD.replace("iterations = 5", "iterations = 0"),
                        "training.iterations: expected an integer from 1 to 100,000"),
    "unknown schedule": (GOOD.replace('"simultaneous"', '"alternating"'),
                         "training.schedule: expected one of simultaneous, sequential"),
    "unknown training key": (GOOD.replace("lr = 0.5", "lr = 0.5\nmomentum = 0.9"),
                             "training.momentum: unknown key"),
    "mazur names on 2-3-1": (GOOD.replace('names = "nielsen"', 'names = "mazur"'),
                             'names: "mazur" names only a 2-2-2 net'),
    "cross-entropy on a tanh output": (
        GOOD.replace('"mse"', '"cross_entropy"').replace('"sigmoid"]', '"tanh"]'),
        "network.activation: expected sigmoid on the output layer for cross_entropy"),
    "cross-entropy target outside [0, 1]": (
        GOOD.replace('"mse"', '"cross_entropy"').replace("[0.25]", "[1.5]"),
        "data.targets[0]: expected a number in [0, 1] for cross_entropy"),
    "published non-number": (GOOD + '[published]\n"gradients.w2_1_1" = "about 0.1"\n',
                             "published.gradients.w2_1_1: expected a number"),
    "published NaN": (GOOD + '[published]\n"gradients.w2_1_1" = nan\n',
                      "published.gradients.w2_1_1: expected a finite number"),
    "table given a number": ("published = 3\n" + GOOD, "published: expected a table"),
    "title not a string": ("title = 1\n" + GOOD, "title: expected a string, got 1"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_every_malformed_file_is_refused_in_one_line_naming_the_key(case) -> None:
    text, message = MALFORMED[case]
    with pytest.raises(ExampleFileError) as info:
        parse_example(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_shipped_examples_parse_and_the_nielsen_one_is_three_layers_of_tanh() -> None:
    nielsen = parse_example((EXAMPLES / "nielsen-2-3-2.toml").read_text())
    assert len(nielsen.sizes) == 3 and set(nielsen.activations) == {"tanh"}
    assert nielsen.names == "nielsen"
    r = compute_example(nielsen)
    assert "gradients.w3_2_1" in r and "delta.delta2_3" in r
    assert r["after_training.E"] < r["error.E_total"]


@pytest.mark.parametrize("fmt", ["latex", "markdown"])
def test_answer_key_has_every_delta_gradient_and_update(fmt) -> None:
    ex = parse_example((EXAMPLES / "nielsen-2-3-2.toml").read_text())
    r = compute_example(ex)
    key = answer_key(ex, r, fmt)
    for name in ("w2_1_1", "w3_2_3", "b3_2"):
        assert f"\\partial {latex_symbol(name)}}} &= {r['gradients.' + name]:.9g}" in key
        assert f"{{{latex_symbol(name)}}}^{{+}} = {r['updated.' + name]:.9g}" in key
    for name in ("delta2_1", "delta3_2"):
        assert f"{latex_symbol(name)} &=" in key and f"{r['delta.' + name]:.9g}" in key
    assert key.count("\\begin{align*}") == (4 if fmt == "latex" else 0)
    assert key.count("$$") == (0 if fmt == "latex" else 8)


def test_a_file_with_frozen_biases_does_not_move_them() -> None:
    ex = parse_example(
        (EXAMPLES / "mazur.toml").read_text().replace("iterations = 10000", "iterations = 2")
    )
    r = compute_example(ex)
    assert r["updated.b1"] == 0.35 and r["updated.b2"] == 0.6
    assert "b1⁺" not in "\n".join(report_lines(ex, r))
