"""``autograd-bp demo``: Mazur's worked example, every figure computed and compared."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

# The package's own modules load in a fraction of a second, so they are imported here.
# The heavy optional extras stay lazy, inside the modules that need them (``require``):
# scikit-learn (datasets), matplotlib (plots), torch (check, nn) and tqdm (train), so
# `--help` and `grad` start fast and work without them installed.
from ..show.viz import GraphvizNotFound, render, render_network, render_steps
from ..textbook import worked
from .line import PROG, print_json

# --------------------------------------------------------------------------------------- demo


def fmt(x: float) -> str:
    return f"{x:.9f}" if abs(x) >= 1e-4 or x == 0 else f"{x:.12f}"


_MAZUR = (
    'Matt Mazur\'s "A Step by Step Backpropagation Example"\n'
    "(https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/)"
)


def cmd_demo(args: argparse.Namespace) -> int:
    results = worked.compute(
        lr=args.lr,
        iterations=args.iterations,
        schedule=args.schedule,
        update_biases=args.update_biases,
    )
    net, params = worked.build_network()
    p = worked.forward(net)
    p["E_total"].backward()
    files = _demo_files(Path(args.out), net, params, p["E_total"], args.dot_timeout)
    if args.json:
        rows = worked.comparison(results)
        doc = {
            "results": results,
            "comparison": [
                {
                    "quantity": r.key,
                    "name": r.name,
                    "schedule": r.schedule,
                    "computed": r.computed,
                    "published": r.published,
                    "applies": r.applies,
                    "matches": r.matches if r.applies else None,
                    "status": r.status,
                }
                for r in rows
            ],  # fmt: skip
            "files": files,
        }
        print_json(doc)
        return 0
    _print_table(args, results)
    print("\nThe chain rule, factor by factor (backward undresses T(G(S(F(x)))) from the outside):")
    print(worked.trace_w5(p, params).text())
    print(worked.trace_w1(p, params).text())
    print()
    print("\n".join(worked.nielsen_lines(p, params)))
    print(f"\nTraining on the one example, {args.iterations} updates:")
    for s in worked.SCHEDULES:
        outs = results[f"after_training.{s}.outputs"]
        print(
            f"  {s:<13} E after 1 update = {fmt(results[f'after_one_update.{s}.E'])}   "
            f"E after {args.iterations} = {fmt(results[f'after_training.{s}.E'])}   "
            f"outputs = {fmt(outs[0])}, {fmt(outs[1])}"
        )
    print(
        "  The post's post-update figures come from the sequential schedule (w5..w8 updated\n"
        "  first, hidden deltas through the new w5..w8); its per-weight figures are the\n"
        "  simultaneous (plain gradient descent) ones."
    )
    print()
    for line in files["notes"]:
        print(line)
    print(f'Derived one yourself? {PROG} check --worked --wrt w1 --claim "YOUR FORMULA"')
    return 0


def _print_table(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """The computed-vs-published table for the chosen schedule, with a legend."""
    other = {r.key: r for r in worked.comparison(results)}
    biases = "updated" if args.update_biases else "frozen"
    print(f"The 2-2-2 sigmoid network of {_MAZUR}: x = 0.05, 0.10; y = 0.01, 0.99.")
    print(f"Computed by the engine with lr = {args.lr}, biases {biases}, "
          f"schedule {args.schedule}.")  # fmt: skip
    print("✓ rounds to the post's printed digits · ≈ one unit off in its last printed digit")
    print("other schedule: the post made that figure under the other update schedule")
    print("n/a: the post's figure was made with other settings · ✗ differs\n")
    print(f"{'quantity':<30} {'engine':>16} {'Mazur printed':>14}  match")
    for r in worked.comparison(results, schedule=args.schedule):
        mark = r.status
        if mark == "other schedule" and r.published_schedule is not None:
            twin = other[r.key.replace(f".{r.schedule}.", f".{r.published_schedule}.")]
            mark += f" ({r.published_schedule}: {fmt(twin.computed)} {twin.status})"
        print(f"{r.name:<30} {fmt(r.computed):>16} {r.published:>14}  {mark}")
    if args.update_biases:
        b1, b2 = (results[f"updated.{args.schedule}.{b}"] for b in ("b1", "b2"))
        print(f"{'b1⁺':<30} {fmt(b1):>16} {'—':>14}  (the post keeps biases frozen)")
        print(f"{'b2⁺':<30} {fmt(b2):>16} {'—':>14}  (the post keeps biases frozen)")


def _demo_files(out_dir: Path, net: Any, params: dict[str, Any], root: Any,
                dot_timeout: float) -> dict[str, Any]:  # fmt: skip
    """The worked example's pictures and step-through page, written into ``out_dir``."""
    files: dict[str, Any] = {"notes": []}
    diagram, neurons = out_dir / "network.svg", out_dir / "neurons.svg"
    try:
        render(root, diagram, highlight=(root, params["w1"]), show_local_grads=True, model=net,
               rankdir="TB", dot_timeout=dot_timeout)  # fmt: skip
        files["diagram"] = str(diagram)
        files["notes"].append(
            f"Computation graph (paths to w1 in red, local derivatives on edges): {diagram}"
        )
        render_network(net, neurons, [0.05, 0.10], show_grad=True, dot_timeout=dot_timeout)
        files["neurons"] = str(neurons)
        files["notes"].append(f"The network as in Mazur's figure, weights and gradients: {neurons}")
        page = render_steps(root, out_dir / "steps", model=net, rankdir="TB",
                            dot_timeout=dot_timeout)  # fmt: skip
        files["steps"] = str(page)
        files["notes"].append(f"Step-through of the backward pass: {page}")
    except GraphvizNotFound as e:
        files["diagram_source"] = str(diagram.with_suffix(".gv"))
        files["notes"].append(f"No SVG: {e}")
    return files
