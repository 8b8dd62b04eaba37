"""Produce every image in docs/images/ from the package itself (diagrams with Graphviz,
plots with matplotlib). The test suite runs this into a scratch directory, so the
pictures cannot drift from the code.

Usage: python scripts/make_doc_images.py [OUTPUT_DIR]   (default: docs/images)
"""

from __future__ import annotations

import sys
from pathlib import Path

from autograd_bp import Value
from autograd_bp.nn import MLP
from autograd_bp.nn.datasets import moons
from autograd_bp.nn.losses import half_sse
from autograd_bp.nn.plots import plot_decision_boundary, plot_history
from autograd_bp.nn.train import fit
from autograd_bp.optim import SGD
from autograd_bp.show.viz import render, render_network, render_steps
from autograd_bp.textbook.worked import build_network, forward

ROOT = Path(__file__).resolve().parent.parent


def seed_graph():
    net, params = build_network()
    p = forward(net)
    p["E_total"].backward()
    return net, params, p["E_total"]


def expression():
    x, w, b = Value(0.5, label="x"), Value(-1.5, label="w"), Value(0.2, label="b")
    z = w * x + b
    z.label = "z"
    y = z.tanh()
    y.label = "y"
    y.backward()
    return y, w, [w, b]


def first_expression():
    x1, x2 = Value(0.05, label="x1"), Value(0.10, label="x2")
    w1, w2, b1 = Value(0.15, label="w1"), Value(0.20, label="w2"), Value(0.35, label="b1")
    net_h1 = w1 * x1 + w2 * x2 + b1
    net_h1.label = "net_h1"
    out_h1 = net_h1.sigmoid()
    out_h1.label = "out_h1"
    out_h1.backward()
    return out_h1, [w1, w2, b1]


def main(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    net, params, E = seed_graph()
    y, w, y_parameters = expression()
    first, first_parameters = first_expression()
    nielsen = MLP(2, [3, 1], activation="tanh", output_activation="sigmoid", seed=0)
    half_sse(nielsen([0.5, -0.3]), 0.25).backward()  # no hand labels: Nielsen's names
    mine = {"parameters": y_parameters}  # x is an input, w and b are parameters
    # the worked example is deep (17 ranks): top to bottom it fits a page, left to right not
    written = [
        render(first, out / "first.svg", parameters=first_parameters),
        render(E, out / "worked.svg", model=net, highlight=(E, params["w1"]),
               show_local_grads=True, rankdir="TB"),
        render_network(net, out / "network.svg", [0.05, 0.10], show_grad=True),
        render(E, out / "worked_neurons.svg", model=net, group="neuron", rankdir="TB"),
        render(E, out / "worked_layers.svg", model=net, group="layer", show_grad=False),
        render(y, out / "expression.svg", **mine),
        render(y, out / "expression_local_grads.svg", show_local_grads=True, **mine),
        render(y, out / "expression_order.svg", show_order=True, **mine),
        render(y, out / "expression_no_ops.svg", show_ops=False, rankdir="TB", **mine),
        render(y, out / "expression_highlight.svg", highlight=(y, w), **mine),
        render(E, out / "worked_budget.svg", max_nodes=12, rankdir="TB"),
        render_steps(E, out / "steps", model=net, rankdir="TB"),
        render_network(nielsen, out / "nielsen_network.svg", [0.5, -0.3], show_grad=True),
    ]  # fmt: skip
    X, labels = moons(100, 0.1, seed=0, signed=True)
    mlp = MLP(2, [16, 16, 1], activation="relu", seed=0)
    history = fit(mlp, X, labels, loss="hinge", optimizer=SGD(mlp.parameters(), lr=0.5),
                  epochs=100, l2=1e-4, progress=False)  # fmt: skip
    written.append(plot_decision_boundary(mlp, X, labels, out / "moons.png"))
    written.append(plot_history(history, out / "moons_history.png"))
    # by-products: DOT sources, and the per-step SVGs that index.html already holds inline
    for path in [*out.glob("*.gv"), *(out / "steps").glob("step_*.svg")]:
        path.unlink()
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images"
    for path in main(target):
        print(path)
