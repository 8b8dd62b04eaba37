"""The ``autograd-bp`` command (also ``python -m autograd_bp``).

Subcommands: ``demo`` (the worked example, the main job), ``grad`` (an expression's
gradients), ``steps`` (a step-through page of backward), ``train``, ``verify``, ``check``
(grade a hand-derived gradient) and ``exercise`` (practice with it).
Bad input of any kind: one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__

PROG = "autograd-bp"


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + message
        command = self.prog.removeprefix(PROG).strip()
        raise UsageError(f"{command}: {message}" if command else message)


def _positive(name: str, parse: type, kind: str):
    """An argparse type: ``parse(text)``, finite and > 0, or a message naming the option."""

    def convert(text: str) -> Any:
        try:
            v = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {kind}, got {text!r}") from None
        if not (math.isfinite(v) and v > 0):
            raise argparse.ArgumentTypeError(f"{name} must be a positive {kind.split()[-1]}, "
                                             f"got {text!r}")  # fmt: skip
        return v

    return convert


def _positive_float(name: str):
    return _positive(name, float, "a number")


def _positive_int(name: str):
    return _positive(name, int, "an integer")


def _sizes(name: str):
    def convert(text: str) -> list[int]:
        try:
            sizes = [int(s) for s in text.split(",") if s.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be comma-separated integers like 16,16, got {text!r}"
            ) from None
        if not sizes or any(s < 1 for s in sizes):
            raise argparse.ArgumentTypeError(f"{name} needs positive sizes, got {text!r}")
        return sizes

    return convert


# --------------------------------------------------------------------------------------- demo


def _fmt(x: float) -> str:
    return f"{x:.9f}" if abs(x) >= 1e-4 or x == 0 else f"{x:.12f}"


def cmd_demo(args: argparse.Namespace) -> int:
    from . import worked

    results = worked.compute(
        lr=args.lr,
        iterations=args.iterations,
        schedule=args.schedule,
        update_biases=args.update_biases,
    )
    rows = worked.comparison(results)
    net, params = worked.build_network()
    p = worked.forward(net)
    p["E_total"].backward()
    files = _demo_files(Path(args.out), net, params, p["E_total"])
    if args.json:
        doc = {
            "results": results,
            "comparison": [
                {
                    "quantity": r.key,
                    "computed": r.computed,
                    "published": r.published,
                    "applies": r.applies,
                    "matches": r.matches if r.applies else None,
                }
                for r in rows
            ],  # fmt: skip
            "files": files,
        }
        print(json.dumps(doc, indent=1))
        return 0
    print("Seed 000's 2-2-2 sigmoid network (x = 0.05, 0.10; y = 0.01, 0.99), computed by")
    print(
        f"the engine with lr = {args.lr}, biases {'updated' if args.update_biases else 'frozen'}."
    )
    print("✓ rounds to the seed's printed digits · ≈ off by one in the last printed digit")
    print("✗ differs · n/a: the seed's figure was made with other settings\n")
    print(f"{'quantity':<40} {'engine':>18} {'seed printed':>14}  match")
    for r in rows:
        if not r.applies:
            mark = "n/a"
        elif r.matches:
            mark = "✓"
        elif abs(r.difference) <= 10.0**-r.decimals * 1.0000001:
            mark = "≈"
        else:
            mark = f"✗ ({r.difference:+.2e})"
        print(f"{r.key:<40} {_fmt(r.computed):>18} {r.published:>14}  {mark}")
    print("\nThe chain rule, factor by factor (backward undresses T(G(S(F(x)))) from the outside):")
    print(worked.trace_w5(p, params).text())
    print(worked.trace_w1(p, params).text())
    print(f"\nTraining on the one example, {args.iterations} updates:")
    for s in worked.SCHEDULES:
        outs = results[f"after_training.{s}.outputs"]
        print(
            f"  {s:<13} E after 1 update = {_fmt(results[f'after_one_update.{s}.E'])}   "
            f"E after {args.iterations} = {_fmt(results[f'after_training.{s}.E'])}   "
            f"outputs = {_fmt(outs[0])}, {_fmt(outs[1])}"
        )
    print(
        "  The seed's post-update figures come from the sequential schedule (w5..w8 updated\n"
        "  first, hidden deltas through the new w5..w8); its per-weight figures are the\n"
        "  simultaneous (plain gradient descent) ones."
    )
    print()
    for line in files["notes"]:
        print(line)
    print(f'Derived one yourself? {PROG} check --worked --wrt w1 --claim "YOUR FORMULA"')
    return 0


def _demo_files(out_dir: Path, net: Any, params: dict[str, Any], root: Any) -> dict[str, Any]:
    """The worked example's diagram and step-through page, written into ``out_dir``."""
    from .viz import GraphvizNotFound, render, render_steps

    files: dict[str, Any] = {"notes": []}
    diagram = out_dir / "network.svg"
    try:
        render(root, diagram, highlight=(root, params["w1"]), show_local_grads=True, model=net)
        files["diagram"] = str(diagram)
        files["notes"].append(
            f"Diagram (paths to w1 in red, local derivatives on edges): {diagram}"
        )
        page = render_steps(root, out_dir / "steps", model=net)
        files["steps"] = str(page)
        files["notes"].append(f"Step-through of the backward pass: {page}")
    except GraphvizNotFound as e:
        files["diagram_source"] = str(diagram.with_suffix(".gv"))
        files["notes"].append(f"No SVG: {e}")
    return files


# --------------------------------------------------------------------------------------- grad


def _assignments(pairs: Sequence[str]) -> dict[str, float]:
    values: dict[str, float] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"expected NAME=VALUE, got {pair!r}")
        try:
            values[name.strip()] = float(text)
        except ValueError:
            raise UsageError(f"value of {name.strip()!r} must be a number, got {text!r}") from None
    return values


def _build_expression(args: argparse.Namespace):
    """The expression's graph, its output named the one way every command names it
    (``f``; see :func:`autograd_bp.expr.output_name`) — in grad, steps and diagrams alike."""
    from .expr import output_name, parse

    root = parse(args.expression, **_assignments(args.assignments))
    if not root.is_leaf:
        root.label = output_name(args.expression)
    return root


def _leaves(root) -> dict[str, Any]:
    from .engine import backward_order

    return {n.label: n for n in reversed(backward_order(root)) if n.is_leaf and n.label}


def cmd_grad(args: argparse.Namespace) -> int:
    from .explain import explain
    from .expr import variables

    root = _build_expression(args)
    root.backward()
    found = _leaves(root)
    leaves = {name: found[name] for name in variables(args.expression) if name in found}
    wrt = list(leaves) if args.wrt is None else [w.strip() for w in args.wrt.split(",") if w]
    for name in wrt:
        if name not in leaves:
            raise UsageError(f"--wrt: {name!r} is not a variable of the expression")
    doc: dict[str, Any] = {
        "expression": args.expression,
        "output": root.label or args.expression,
        "value": root.data,
        "gradients": {n: leaves[n].grad for n in wrt},
    }
    if args.explain is not None:
        if args.explain not in leaves:
            raise UsageError(f"--explain: {args.explain!r} is not a variable of the expression")
        doc["explain"] = explain(root, leaves[args.explain])  # one factor per op
    if args.formula:
        doc["formulas"] = _formulas(root, {n: leaves[n] for n in wrt}, args.format)
    if args.check:
        from .check import gradcheck
        from .expr import parse

        names = list(leaves)
        report = gradcheck(
            lambda *vs: parse(args.expression, **dict(zip(names, vs))),
            [leaves[n] for n in names],
        )
        doc["check"] = report
    if args.draw:
        from .viz import render

        doc["draw"] = str(render(root, args.draw, precision=args.precision))
    if args.steps:
        from .viz import render_steps

        doc["steps"] = str(render_steps(root, args.steps, precision=args.precision))

    if args.json:
        out = dict(doc)
        if "explain" in out:
            out["explain"] = out["explain"].to_dict()
            if args.format != "text":
                out["explain"][args.format] = getattr(doc["explain"], args.format)(args.precision)
        if "check" in out:
            rep = out["check"]
            out["check"] = {
                "passed": rep.passed,
                "max_error": rep.max_error,
                "inputs": [
                    {"name": r.name, "analytic": r.analytic, "numeric": r.numeric,
                     "error": r.error, "ok": r.ok}
                    for r in rep.rows
                ],
            }  # fmt: skip
        print(json.dumps(out, indent=1))
        return 0
    digits = args.precision
    name = f"{root.label} = " if root.label and root.label != args.expression else ""
    print(f"{name}{args.expression} = {root.data:.{digits}g}")
    width = max(len(n) for n in wrt) + 3 if wrt else 4
    for name in wrt:
        print(f"  ∂/∂{name:<{width}} {leaves[name].grad:.{digits}g}")
    for line in doc.get("formulas", {}).values():
        print(line)
    if "explain" in doc:
        e = doc["explain"]
        print(e.text(digits) if args.format == "text" else getattr(e, args.format)(digits))
    if "check" in doc:
        print(doc["check"].text())
    for key in ("draw", "steps"):
        if key in doc:
            print(f"{key}: {doc[key]}")
    return 0 if "check" not in doc or doc["check"].passed else 1


def _formulas(root: Any, leaves: dict[str, Any], fmt: str) -> dict[str, str]:
    """Each partial derivative's formula (SymPy, from the op table), one line per variable."""
    from .explain import latex_name
    from .symbolic import derivative, sympy_module

    sp = sympy_module()
    out = {}
    for name, leaf in leaves.items():
        expr = derivative(root, leaf)
        if fmt == "text":
            out[name] = f"  ∂{root.label}/∂{name} = {sp.sstr(expr)}"
            continue
        tex = (f"\\frac{{\\partial {latex_name(root.label)}}}{{\\partial {latex_name(name)}}} "
               f"= {sp.latex(expr)}")  # fmt: skip
        out[name] = f"$$ {tex} $$" if fmt == "markdown" else tex
    return out


def cmd_steps(args: argparse.Namespace) -> int:
    from .viz import render_steps

    root = _build_expression(args)
    page = render_steps(root, args.out, precision=args.precision)
    print(page)
    return 0


# --------------------------------------------------------------------------------------- train


def cmd_train(args: argparse.Namespace) -> int:
    from .datasets import digits, moons, xor
    from .nn import MLP
    from .optim import SGD, Adam
    from .train import evaluate, fit, infer_task

    test = None
    if args.dataset == "xor":
        X, y = xor()
        nout, default_loss = 1, "half_sse"
    elif args.dataset == "moons":
        X, y = moons(args.samples, args.noise, seed=args.seed, signed=args.loss in (None, "hinge"))
        nout, default_loss = 1, "hinge"
    else:
        X, X_test, y, y_test = digits(0.2, seed=args.seed)
        if args.samples:
            X, y = X[: args.samples], y[: args.samples]
        test = (X_test, y_test)
        nout, default_loss = 10, "cross_entropy"
    loss = args.loss or default_loss
    output_activation = "sigmoid" if loss == "half_sse" and args.dataset == "xor" else "linear"
    if args.load:
        net = MLP.from_file(args.load)
        if net.nin != X.shape[1] or net.nouts[-1] != nout:
            raise UsageError(
                f"--load: {args.load} is an MLP({net.nin}, {net.nouts}); {args.dataset} needs "
                f"{X.shape[1]} inputs and {nout} outputs"
            )
    else:
        net = MLP(X.shape[1], [*args.hidden, nout], activation=args.activation,
                  output_activation=output_activation, init=args.init, seed=args.seed)  # fmt: skip
    make = {"sgd": lambda ps: SGD(ps, lr=args.lr, momentum=args.momentum),
            "adam": lambda ps: Adam(ps, lr=args.lr)}  # fmt: skip
    optimizer = make[args.optimizer](net.parameters())
    task = infer_task(loss, y)
    history = fit(
        net, X, y, loss=loss, optimizer=optimizer, epochs=args.epochs,
        batch_size=args.batch_size, seed=args.seed, l2=args.l2, compiled=args.compiled,
        progress=not args.json and sys.stderr.isatty(),
    )  # fmt: skip
    result: dict[str, Any] = {
        "dataset": args.dataset,
        "hidden": args.hidden,
        "loss": loss,
        "history": history.to_dict(),
        "final_loss": history.loss[-1],
        "train_accuracy": evaluate(net, X, y, task) if task != "regression" else None,
        "seconds_per_epoch": sum(history.seconds) / len(history.seconds),
    }
    if test is not None:
        result["test_accuracy"] = evaluate(net, *test, task)
    if args.plot:
        from .plots import plot_decision_boundary, plot_history

        if args.dataset == "digits":
            result["plot"] = str(plot_history(history, args.plot))
        else:
            result["plot"] = str(plot_decision_boundary(net, X, y, args.plot))
    if args.save:
        result["saved"] = str(net.save(args.save))
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(
        f"{args.dataset}: MLP({X.shape[1]}, {[*args.hidden, nout]}), {loss}, {args.epochs} epochs"
    )
    print(f"  final training loss  {result['final_loss']:.6g}")
    if result["train_accuracy"] is not None:
        print(f"  training accuracy    {result['train_accuracy']:.4f}")
    if "test_accuracy" in result:
        print(f"  test accuracy        {result['test_accuracy']:.4f}")
    print(f"  seconds per epoch    {result['seconds_per_epoch']:.3f}")
    for key in ("plot", "saved"):
        if key in result:
            print(f"  {key}: {result[key]}")
    return 0


# -------------------------------------------------------------------------------------- verify


def cmd_verify(args: argparse.Namespace) -> int:
    import numpy as np

    from .check import verify
    from .nn import MLP

    sizes = args.sizes
    if len(sizes) < 2:
        raise UsageError("--sizes needs at least an input and an output size, e.g. 3,4,2")
    out_act = "sigmoid" if args.cost == "cross_entropy" else args.output_activation
    net = MLP(sizes[0], sizes[1:], activation=args.activation, output_activation=out_act,
              init="normal", seed=args.seed)  # fmt: skip
    rng = np.random.default_rng(args.seed)
    x = rng.uniform(-1, 1, sizes[0]).tolist()
    y = rng.uniform(0.05, 0.95, sizes[-1]).tolist()
    report = verify(net, x, y, args.cost)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        print(report.text())
    worst = max(report.max_rel_matrix, report.max_rel_torch or 0.0)
    return 0 if worst < 1e-8 and report.max_abs_numeric < 1e-5 else 1


# ------------------------------------------------------------------------------ check, exercise


def _check_problem(args: argparse.Namespace):
    from .derivation import Problem, _default_names
    from .problems import nielsen_problem, worked_problem

    if (args.worked or args.sizes) and args.expression and "=" in args.expression:
        args.assignments, args.expression = [args.expression, *args.assignments], None
    given = [args.expression is not None, args.worked, args.sizes is not None]
    if sum(given) != 1:
        raise UsageError("check: give exactly one of an EXPRESSION, --worked or --sizes")
    if args.expression is None:
        if args.assignments:
            raise UsageError("check: NAME=VALUE values go with an EXPRESSION, not with "
                             "--worked or --sizes")  # fmt: skip
        if args.worked:
            return worked_problem()
        if len(args.sizes) < 2:
            raise UsageError("check: --sizes needs at least an input and an output size")
        return nielsen_problem(args.sizes, seed=args.seed, activation=args.activation)
    root = _build_expression(args)
    return Problem(root, _default_names(root))


def _report(report: Any, as_json: bool) -> int:
    if as_json:
        print(json.dumps(report.to_dict(), indent=1, allow_nan=False))
    else:
        print(report.text())
    return 0 if report.verdict == "correct" else 1


def cmd_check(args: argparse.Namespace) -> int:
    from .derivation import check_derivation

    problem = _check_problem(args)
    report = check_derivation(problem, args.wrt, args.claim, points=args.points, seed=args.seed)
    return _report(report, args.json)


def cmd_exercise(args: argparse.Namespace) -> int:
    import random

    from ._io import atomic_write_text
    from .exercise import exercise_set, make_exercise

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(100_000)
    if args.markdown:
        if args.answer is not None:
            raise UsageError(
                "exercise: --markdown writes a set; grade one with --seed and --answer"
            )
        path = atomic_write_text(args.markdown, exercise_set(args.count, seed, args.level))
        print(f"{args.count} exercises with an answer key: {path}")
        return 0
    ex = make_exercise(seed, args.level)
    if args.answer is None:
        print(ex.text())
        level = f" --level {args.level}" if args.level is not None else ""
        print(f'\nCheck your answer: {PROG} exercise --seed {seed}{level} --answer "FORMULA"')
        return 0
    return _report(ex.grade(args.answer), args.json)


# ---------------------------------------------------------------------------------------- main

_EXAMPLES = {
    "demo": "example: autograd-bp demo --out demo_out  (or --json, --schedule sequential)",
    "grad": 'example: autograd-bp grad "sigmoid(w*x + b)" w=0.4 x=0.5 b=0.1 --explain w --check',
    "steps": 'example: autograd-bp steps "tanh(a*b)" a=0.5 b=-1 --out steps/',
    "train": "example: autograd-bp train moons --hidden 16,16 --activation relu --epochs 100",
    "verify": "example: autograd-bp verify --sizes 3,5,2 --activation tanh --cost quadratic",
    "check": "example: autograd-bp check --worked --wrt w1 "
    '--claim "(delta_o1*w5 + delta_o2*w7)*out_h1*(1-out_h1)*x1"',
    "exercise": 'example: autograd-bp exercise --seed 7  (then --seed 7 --answer "FORMULA")',
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    from . import worked
    from .losses import LOSSES
    from .nn import ACTIVATIONS, INITS

    parser = _Parser(prog=PROG, description="Backpropagation, done for real and shown.",
                     epilog="run 'autograd-bp COMMAND --help' for a command's options")  # fmt: skip
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, epilog=_EXAMPLES[name])

    demo = command("demo", "the seed's 2-2-2 worked example, every figure computed and compared")
    demo.add_argument("--lr", type=_positive_float("--lr"), default=worked.SEED_LR)
    demo.add_argument("--iterations", type=_positive_int("--iterations"),
                      default=worked.SEED_ITERATIONS)  # fmt: skip
    demo.add_argument("--schedule", choices=worked.SCHEDULES, default="simultaneous",
                      help="which schedule the updated.* / after_*.* JSON keys follow")  # fmt: skip
    demo.add_argument("--update-biases", action="store_true", help="also update b1, b2")
    demo.add_argument("--out", default="demo_out", help="directory for the diagram files")
    demo.add_argument("--json", action="store_true", help="machine-readable output")
    demo.set_defaults(run=cmd_demo)

    def expression_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("expression", help='e.g. "sigmoid(w1*x1 + w2*x2 + b)"')
        p.add_argument("assignments", nargs="*", metavar="NAME=VALUE")
        p.add_argument("--precision", type=_positive_int("--precision"), default=6)

    grad = command("grad", "value and every partial derivative of an expression")
    expression_args(grad)
    grad.add_argument("--wrt", help="comma-separated variables to report (default: all)")
    grad.add_argument("--explain", metavar="NAME", help="print the chain-rule trace for NAME")
    grad.add_argument(
        "--formula",
        action="store_true",
        help="print each partial derivative as a formula (needs the symbolic extra)",
    )
    grad.add_argument("--format", choices=["text", "latex", "markdown"], default="text",
                      help="how --explain and --formula print (default: text)")  # fmt: skip
    grad.add_argument("--draw", metavar="FILE", help="render the graph (.svg/.png/.pdf)")
    grad.add_argument("--steps", metavar="DIR", help="write a backward step-through page")
    grad.add_argument("--check", action="store_true", help="compare with central differences")
    grad.add_argument("--json", action="store_true", help="machine-readable output")
    grad.set_defaults(run=cmd_grad)

    steps = command("steps", "write a step-by-step page of the backward pass of an expression")
    expression_args(steps)
    steps.add_argument("--out", default="steps", help="output directory")
    steps.set_defaults(run=cmd_steps)

    train = command("train", "train an MLP on xor, moons or digits")
    train.add_argument("dataset", choices=["xor", "moons", "digits"])
    train.add_argument("--hidden", type=_sizes("--hidden"), default=[16, 16])
    train.add_argument("--activation", choices=list(ACTIVATIONS), default="tanh")
    train.add_argument("--init", choices=list(INITS), default="uniform")
    train.add_argument("--loss", choices=list(LOSSES), default=None)
    train.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    train.add_argument("--lr", type=_positive_float("--lr"), default=0.1)
    train.add_argument("--momentum", type=float, default=0.0)
    train.add_argument("--l2", type=float, default=0.0, help="L2 penalty weight")
    train.add_argument("--epochs", type=_positive_int("--epochs"), default=100)
    train.add_argument("--batch-size", type=_positive_int("--batch-size"), default=None)
    train.add_argument("--samples", type=_positive_int("--samples"), default=100,
                       help="moons: points; digits: training examples to use")  # fmt: skip
    train.add_argument("--noise", type=float, default=0.1, help="moons noise")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--plot", metavar="FILE", help="decision boundary / loss curve PNG")
    train.add_argument("--save", metavar="FILE", help="save the trained model (JSON)")
    train.add_argument("--load", metavar="FILE", help="start from a saved model")
    train.add_argument(
        "--compiled", action="store_true", help="trace once, replay each batch with numpy"
    )
    train.add_argument("--json", action="store_true", help="machine-readable output")
    train.set_defaults(run=cmd_train)

    ver = command("verify", "engine vs BP1-BP4 vs finite differences (vs torch) on a random MLP")
    ver.add_argument("--sizes", type=_sizes("--sizes"), default=[3, 4, 2])
    ver.add_argument("--activation", choices=list(ACTIVATIONS), default="sigmoid")
    ver.add_argument("--output-activation", choices=list(ACTIVATIONS), default="sigmoid")
    ver.add_argument("--cost", choices=["quadratic", "cross_entropy"], default="quadratic")
    ver.add_argument("--seed", type=int, default=0)
    ver.add_argument("--json", action="store_true", help="machine-readable output")
    ver.set_defaults(run=cmd_verify)

    chk = command("check", "grade a hand-derived partial derivative and say what is wrong")
    chk.add_argument("expression", nargs="?", help='e.g. "x*x*y" (or --worked, or --sizes)')
    chk.add_argument("assignments", nargs="*", metavar="NAME=VALUE")
    chk.add_argument("--wrt", required=True, metavar="NAME", help="differentiate with respect to")
    chk.add_argument("--claim", required=True, metavar="FORMULA", help="your derivative")
    chk.add_argument("--worked", action="store_true", help="Mazur's worked example's names")
    chk.add_argument("--sizes", type=_sizes("--sizes"), help="a Nielsen-notation MLP, e.g. 2,3,2")
    chk.add_argument("--activation", choices=list(ACTIVATIONS), default="sigmoid")
    chk.add_argument("--points", type=_positive_int("--points"), default=50,
                     help="random points around the given one (at least 50)")  # fmt: skip
    chk.add_argument("--seed", type=int, default=0, help="random points (and --sizes weights)")
    chk.add_argument("--json", action="store_true", help="machine-readable output")
    chk.set_defaults(run=cmd_check)

    exe = command("exercise", "a seeded exercise in deriving a gradient, graded by check")
    exe.add_argument("--seed", type=int, default=None, help="which exercise (default: a new one)")
    exe.add_argument("--level", type=int, choices=[1, 2, 3], default=None)
    exe.add_argument("--answer", metavar="FORMULA", help="grade this answer")
    exe.add_argument("--markdown", metavar="FILE", help="write a set with an answer key")
    exe.add_argument("--count", type=_positive_int("--count"), default=10)
    exe.add_argument("--json", action="store_true", help="machine-readable grading")
    exe.set_defaults(run=cmd_exercise)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    from .expr import ExpressionError
    from .nn import ModelFileError
    from .ops import DomainError
    from .viz import GraphvizNotFound

    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args))
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
    except (ExpressionError, DomainError, ZeroDivisionError, OverflowError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
    except (ModelFileError, GraphvizNotFound, ValueError, OSError, ImportError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 2
