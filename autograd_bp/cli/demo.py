"""``autograd-bp demo``: Mazur's worked example, every figure computed and compared."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

# The package's own modules load in a fraction of a second, so they are imported here.
# The heavy optional extras stay lazy, inside the modules that need them (``require``):
# scikit-learn (datasets), matplotlib (plots), torch (check, nn) and tqdm (train), so
# `--help` and `grad` start fast and work without them installed.
from .._io import read_regular_file
from ..locale import N_, _
from ..show.viz import GraphvizNotFound, render, render_network, render_steps
from ..textbook import worked
from ..textbook.answer_key import answer_key
from ..textbook.example import build as build_example
from ..textbook.example import compute_example
from ..textbook.example import run_forward as run_example_forward
from ..textbook.example_file import MAX_EXAMPLE_BYTES, Example, ExampleFileError, parse_example
from ..textbook.example_file import MAX_ITERATIONS as MAX_EXAMPLE_ITERATIONS
from ..textbook.example_report import compare, header, report_lines, shown_status
from .line import PROG, UsageError, print_json

# --------------------------------------------------------------------------------------- demo


def fmt(x: float) -> str:
    return f"{x:.9f}" if abs(x) >= 1e-4 or x == 0 else f"{x:.12f}"


_MAZUR = N_(
    'Matt Mazur\'s "A Step by Step Backpropagation Example"\n'
    "(https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/)"
)


def _demo_out(args: argparse.Namespace) -> Path | None:
    """Where the diagrams go: ``--out``; without it demo_out/, or nowhere with ``--json``."""
    if args.out is not None:
        return Path(args.out)
    return None if args.json or args.format != "text" else Path("demo_out")


def _read_example(path: str) -> Example:
    """The worked example in the TOML file at ``path``, or ValueError in one line."""
    data = read_regular_file(path, MAX_EXAMPLE_BYTES)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: " + _("not UTF-8 text (byte {byte})").format(
            byte=e.start)) from None  # fmt: skip
    try:
        return parse_example(text)
    except ExampleFileError as e:
        raise ValueError(f"{path}: {e}") from None


def _with_options(ex: Example, args: argparse.Namespace) -> Example:
    """The example with what the command line set explicitly in place of the file's."""
    given = {"lr": args.lr, "iterations": args.iterations, "schedule": args.schedule}
    changes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if changes.get("iterations", 0) > MAX_EXAMPLE_ITERATIONS:
        raise UsageError("demo: " + _("--iterations with --example is at most {count}").format(
            count=f"{MAX_EXAMPLE_ITERATIONS:,}"))  # fmt: skip
    if args.update_biases:
        changes["update_biases"] = True
    return replace(ex, **changes)


def cmd_demo_example(args: argparse.Namespace) -> int:
    """``demo --example FILE``: any fully connected worked example, from its TOML file."""
    ex = _with_options(_read_example(args.example), args)
    results = compute_example(ex)
    rows = compare(ex, results)  # a [published] key naming no result fails here, in one line
    out = _demo_out(args)
    files: dict[str, Any] = {"notes": []}
    if out is not None:
        net, _params = build_example(ex)
        run = run_example_forward(net, ex)
        run.cost.backward()
        first = net.layers[0].neurons[0].w[0]  # w1 (Mazur) or w2_1_1 (Nielsen), in red
        files = _demo_files(out, net, first, run.cost, args.dot_timeout, list(ex.inputs),
                            _("of “{title}”").format(title=ex.title))  # fmt: skip
    if args.format != "text":
        print(answer_key(ex, results, args.format), end="")
        return 0
    if args.json:
        print_json({"results": results, "comparison": [_row_dict(r) for r in rows],
                    "files": files})  # fmt: skip
        return 0
    print("\n".join(report_lines(ex, results)))
    for line in files["notes"]:
        print(line)
    return 0


def _row_dict(r: worked.Comparison) -> dict[str, Any]:
    return {"quantity": r.key, "name": r.name, "schedule": r.schedule, "computed": r.computed,
            "published": r.published, "applies": r.applies,
            "matches": r.matches if r.applies else None, "status": r.status}  # fmt: skip


def cmd_demo(args: argparse.Namespace) -> int:
    """``demo``: Mazur's example (or ``--example FILE``), every figure computed and compared."""
    if args.example is not None:
        return cmd_demo_example(args)
    if args.format != "text":
        raise UsageError("demo: " + _("--format latex|markdown needs --example FILE "
                                      "(e.g. examples/worked/mazur.toml)"))  # fmt: skip
    args.lr = worked.SEED_LR if args.lr is None else args.lr
    args.iterations = worked.SEED_ITERATIONS if args.iterations is None else args.iterations
    args.schedule = args.schedule or "simultaneous"
    results = worked.compute(
        lr=args.lr,
        iterations=args.iterations,
        schedule=args.schedule,
        update_biases=args.update_biases,
    )
    net, params = worked.build_network()
    p = worked.forward(net)
    p["E_total"].backward()
    out = _demo_out(args)
    files: dict[str, Any] = {"notes": []}
    if out is not None:
        files = _demo_files(out, net, params["w1"], p["E_total"], args.dot_timeout)
    if args.json:
        rows = worked.comparison(results)
        print_json({"results": results, "comparison": [_row_dict(r) for r in rows],
                    "files": files})  # fmt: skip
        return 0
    _print_table(args, results)
    print("\n" + _("The chain rule, factor by factor (backward undresses T(G(S(F(x)))) from the "
                   "outside):"))  # fmt: skip
    print(worked.trace_w5(p, params).text())
    print(worked.trace_w1(p, params).text())
    print()
    print("\n".join(worked.nielsen_lines(p, params)))
    print("\n" + _("Training on the one example, {count} updates:").format(count=args.iterations))
    for s in worked.SCHEDULES:
        outs = results[f"after_training.{s}.outputs"]
        print(f"  {s:<13} " + _("E after 1 update = {once}   E after {count} = {trained}   "
                                "outputs = {outputs}").format(
            once=fmt(results[f"after_one_update.{s}.E"]), count=args.iterations,
            trained=fmt(results[f"after_training.{s}.E"]),
            outputs=f"{fmt(outs[0])}, {fmt(outs[1])}"))  # fmt: skip
    print(_(
        "  The post's post-update figures come from the sequential schedule (w5..w8 updated\n"
        "  first, hidden deltas through the new w5..w8); its per-weight figures are the\n"
        "  simultaneous (plain gradient descent) ones."
    ))
    print()
    for line in files["notes"]:
        print(line)
    print(_("Derived one yourself? {command}").format(
        command=f'{PROG} check --worked --wrt w1 --claim "YOUR FORMULA"'))
    return 0


def _print_table(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """The computed-vs-published table for the chosen schedule, with a legend."""
    other = {r.key: r for r in worked.comparison(results)}
    biases = _("updated") if args.update_biases else _("frozen")
    print(_("The 2-2-2 sigmoid network of {source}: x = 0.05, 0.10; y = 0.01, 0.99.").format(
        source=_(_MAZUR)))
    print(_("Computed by the engine with lr = {lr}, biases {biases}, schedule {schedule}.").format(
        lr=args.lr, biases=biases, schedule=args.schedule))
    print(_("✓ rounds to the post's printed digits · ≈ one unit off in its last printed digit"))
    print(_("other schedule: the post made that figure under the other update schedule"))
    print(_("n/a: the post's figure was made with other settings · ✗ differs") + "\n")
    print(header((N_("quantity"), 30), (N_("engine"), -16), (N_("Mazur printed"), -14)))
    for r in worked.comparison(results, schedule=args.schedule):
        mark = shown_status(r.status)
        if r.status == "other schedule" and r.published_schedule is not None:
            twin = other[r.key.replace(f".{r.schedule}.", f".{r.published_schedule}.")]
            mark += f" ({r.published_schedule}: {fmt(twin.computed)} {shown_status(twin.status)})"
        print(f"{worked.shown_name(r.key, args.iterations):<30} {fmt(r.computed):>16} "
              f"{r.published:>14}  {mark}")  # fmt: skip
    if args.update_biases:
        b1, b2 = (results[f"updated.{args.schedule}.{b}"] for b in ("b1", "b2"))
        frozen = _("(the post keeps biases frozen)")
        print(f"{'b1⁺':<30} {fmt(b1):>16} {'—':>14}  {frozen}")
        print(f"{'b2⁺':<30} {fmt(b2):>16} {'—':>14}  {frozen}")


def _demo_files(out_dir: Path, net: Any, weight: Any, root: Any,
                dot_timeout: float, inputs: Sequence[float] = (0.05, 0.10),
                source: str = N_("as in Mazur's figure")) -> dict[str, Any]:  # fmt: skip
    """The worked example's pictures and step-through page, written into ``out_dir``; the
    paths to ``weight`` (Mazur's w1, or the first weight of an example) are drawn in red."""
    files: dict[str, Any] = {"notes": []}
    diagram, neurons = out_dir / "network.svg", out_dir / "neurons.svg"
    try:
        render(root, diagram, highlight=(root, weight), show_local_grads=True, model=net,
               rankdir="TB", dot_timeout=dot_timeout)  # fmt: skip
        files["diagram"] = str(diagram)
        files["notes"].append(_(
            "Computation graph (paths to {weight} in red, local derivatives on edges): {file}"
        ).format(weight=weight.label, file=diagram))
        render_network(net, neurons, list(inputs), show_grad=True, dot_timeout=dot_timeout)
        files["neurons"] = str(neurons)
        files["notes"].append(_("The network {source}, weights and gradients: {file}").format(
            source=_(source), file=neurons))
        page = render_steps(root, out_dir / "steps", model=net, rankdir="TB",
                            dot_timeout=dot_timeout)  # fmt: skip
        files["steps"] = str(page)
        files["notes"].append(_("Step-through of the backward pass: {file}").format(file=page))
    except GraphvizNotFound as e:
        files["diagram_source"] = str(diagram.with_suffix(".gv"))
        files["notes"].append(_("No SVG: {error}").format(error=e))
    return files
