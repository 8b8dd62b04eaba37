"""The ``autograd-bp`` command (also ``python -m autograd_bp``).

Subcommands: ``demo`` (the worked example, the main job), ``grad`` (an expression's
gradients), ``steps`` (a step-through page of backward), ``train``, ``verify``, ``check``
(grade a hand-derived gradient) and ``exercise`` (practice with it).
Bad input of any kind: one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import sys
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

# The package's own modules load in a fraction of a second, so they are imported here.
# The heavy optional extras stay lazy, inside the modules that need them (``require``):
# scikit-learn (datasets), matplotlib (plots), torch (check, nn) and tqdm (train), so
# `--help` and `grad` start fast and work without them installed.
from . import __version__
from ._io import atomic_write_text, dumps_strict, read_regular_file, require
from .check.exercise import exercise_set, make_exercise
from .check.gradcheck import verify
from .check.problems import nielsen_problem, worked_problem
from .core.ops import DomainError
from .lang.expr import ExpressionError
from .nn.datasets import digits, moons, xor
from .nn.losses import LOSSES
from .nn.modules import ACTIVATIONS, INITS, MLP, ModelFileError, activation_name
from .nn.optim import SGD, Adam
from .nn.plots import plot_decision_boundary, plot_format, plot_history
from .nn.train import History, TrainReport, evaluate, fit
from .reports import (
    InputError,
    check_report,
    expression_graph,
    expression_problem,
    grad_report,
    program_steps,
)
from .show.viz import GraphvizNotFound, render, render_network, render_steps
from .textbook import worked
from .textbook.answer_key import ANSWER_FORMATS, answer_key
from .textbook.example import build as build_example
from .textbook.example import compute_example
from .textbook.example import run_forward as run_example_forward
from .textbook.example_file import MAX_EXAMPLE_BYTES, Example, ExampleFileError, parse_example
from .textbook.example_file import MAX_ITERATIONS as MAX_EXAMPLE_ITERATIONS
from .textbook.example_report import compare, report_lines

PROG = "autograd-bp"


class UsageError(Exception):
    """Bad input from the command line: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, and which knows its options' arities
    (``options``) and its subcommands (``commands``), so :func:`arrange` can read a line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.options: dict[str, int] = {}  # option string -> values it takes (0 or 1)
        self.commands: dict[str, _Parser] = {}
        self.positionals = False
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        if not action.option_strings:
            self.positionals = True
        elif action.nargs not in (0, None):  # arrange() reads an option as a flag or 1 value
            raise TypeError(f"{action.option_strings[0]}: nargs={action.nargs!r} is not supported")
        for option in action.option_strings:
            self.options[option] = 0 if action.nargs == 0 else 1
        return action

    def error(self, message: str) -> NoReturn:  # one line, not usage + message
        command = self.prog.removeprefix(PROG).strip()
        raise UsageError(f"{command}: {message}" if command else message)


# A token that reads as a long option (`--wrt`, `--claim=...`): anything else that starts
# with "-" (`-x*y`, `-2*x`, `-3`) is a value, unless it is an option exactly (`-h`).
_LONG_OPTION = re.compile(r"--[A-Za-z][\w-]*(=|$)")


def _arity(parser: _Parser, token: str) -> int | None:
    """The number of values that follow ``token`` as an option of ``parser`` (0 or 1), or
    None when the token is a value. An unknown or ambiguous option counts as a flag: argparse
    then refuses it by name."""
    if token in parser.options:
        return parser.options[token]
    if not _LONG_OPTION.match(token):
        return None
    if "=" in token:
        return 0  # its value is attached
    found = [n for option, n in parser.options.items() if option.startswith(token)]
    return found[0] if len(found) == 1 else 0  # an abbreviation, as argparse allows


def arrange(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """The command line rewritten so argparse reads it as a person means it: each option
    with its value attached (``--claim=-2*x``, so a value may start with a minus), then
    ``--``, then every positional argument in the order given — an expression, a claim or a
    value may start with ``-`` and ``NAME=VALUE`` may come before or after the options. A
    ``--`` typed by the user still ends the options.

    Example:
        >>> arrange(build_parser(), ["check", "x*y", "--wrt", "x", "--claim", "-y", "x=1"])
        ['check', '--wrt=x', '--claim=-y', '--', 'x*y', 'x=1']
    """
    assert isinstance(parser, _Parser)
    if not argv or argv[0] not in parser.commands:
        return list(argv)  # --version, --help or an unknown command: argparse says so
    command, rest = parser.commands[argv[0]], list(argv[1:])
    options: list[str] = []
    values: list[str] = []
    i = 0
    while i < len(rest):
        token, arity = rest[i], _arity(command, rest[i])
        if token == "--":
            values += rest[i + 1 :]
            break
        if arity is None:
            values.append(token)
        elif arity == 1 and i + 1 < len(rest) and rest[i + 1] != "--" \
                and _arity(command, rest[i + 1]) is None:  # fmt: skip
            options.append(f"{token}={rest[i + 1]}")
            i += 1
        else:
            options.append(token)  # a flag, or an option missing its value: argparse says so
        i += 1
    if values and command.positionals:
        return [argv[0], *options, "--", *values]
    return [argv[0], *options, *values]  # no positionals: argparse names the strays


def _number(parse: type, low: float, high: float, *, open_low: bool = False,
            open_high: bool = False):  # fmt: skip
    """An argparse type: ``parse(text)``, finite and within [low, high] (ends excluded when
    open), or one line saying what the option needs and what it got (argparse prefixes
    the option's name)."""
    kind = "an integer" if parse is int else "a number"
    show = (lambda v: str(int(v))) if parse is int else (lambda v: f"{v:g}")
    if math.isinf(high):
        span = f"a finite {kind.split()[-1]} {'>' if open_low else '>='} {show(low)}"
    else:
        span = (f"{kind} in {'(' if open_low else '['}{show(low)}, "
                f"{show(high)}{')' if open_high else ']'}")  # fmt: skip

    def convert(text: str) -> Any:
        try:
            v = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {kind}, got {text!r}") from None
        inside = (low < v if open_low else low <= v) and (v < high if open_high else v <= high)
        if not (math.isfinite(v) and inside):
            raise argparse.ArgumentTypeError(f"must be {span}, got {text!r}")
        return v

    return convert


# The option's name at the call sites is for the reader: argparse puts it in the message.
def _positive_float(option: str):
    return _number(float, 0.0, math.inf, open_low=True)


def _positive_int(option: str, high: int = 10**6):
    return _number(int, 1, high)


_seed = _number(int, 0, 2**32 - 1)  # what numpy and scikit-learn both accept


def _sizes(option: str):
    def convert(text: str) -> list[int]:
        try:
            sizes = [int(s) for s in text.split(",") if s.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be comma-separated integers like 16,16, got {text!r}"
            ) from None
        if not sizes or any(s < 1 for s in sizes):
            raise argparse.ArgumentTypeError(f"needs positive sizes, got {text!r}")
        return sizes

    return convert


# A scalar engine builds one Python object per parameter use: beyond these a run cannot
# fit in memory (or finish) on an ordinary machine, so it is refused up front.
MAX_PARAMETERS = 1_000_000
MAX_VERIFY_PARAMETERS = 5_000  # verify's central differences cost 2 forward passes each
MAX_BATCH_BYTES = 2 * 2**30
# Graph memory per example, measured with tracemalloc on MLP(2, [64, 64, 1]) and
# MLP(64, [256, 10]) forward passes (256 kB and 754 kB an example): per parameter use (a
# dot node's operand/local slots) and per neuron (its nodes, tuples and lists).
_BYTES_PER_PARAMETER_USE = 24
_BYTES_PER_NEURON = 1200


def _parameter_count(sizes: Sequence[int]) -> int:
    return sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))


def _check_fits(option: str, sizes: Sequence[int], limit: int = MAX_PARAMETERS) -> None:
    """Refuse a network with more than ``limit`` parameters, in one line naming ``option``."""
    count = _parameter_count(sizes)
    if count > limit:
        raise UsageError(f"{option}: MLP({sizes[0]}, {list(sizes[1:])}) would have {count:,} "
                         f"parameters; this command takes at most {limit:,}")  # fmt: skip


def _check_batch(sizes: Sequence[int], batch: int) -> None:
    """Refuse a mini-batch whose graph cannot fit in memory, saying what batch size fits."""
    per_example = _BYTES_PER_PARAMETER_USE * _parameter_count(sizes)
    per_example += _BYTES_PER_NEURON * sum(sizes[1:])
    if batch * per_example > MAX_BATCH_BYTES:
        raise UsageError(
            f"--batch-size: a batch of {batch:,} examples through MLP({sizes[0]}, "
            f"{list(sizes[1:])}) would build about {batch * per_example / 2**30:.1f} GiB of "
            f"graph; use --batch-size {MAX_BATCH_BYTES // per_example:,} or less"
        )


def _print_json(doc: dict[str, Any]) -> None:
    """Strict JSON on stdout: a NaN or infinity becomes null, listed under "non_finite"."""
    print(dumps_strict(doc))


# --------------------------------------------------------------------------------------- demo


def _fmt(x: float) -> str:
    return f"{x:.9f}" if abs(x) >= 1e-4 or x == 0 else f"{x:.12f}"


_MAZUR = (
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
        raise ValueError(f"{path}: not UTF-8 text (byte {e.start})") from None
    try:
        return parse_example(text)
    except ExampleFileError as e:
        raise ValueError(f"{path}: {e}") from None


def _with_options(ex: Example, args: argparse.Namespace) -> Example:
    """The example with what the command line set explicitly in place of the file's."""
    given = {"lr": args.lr, "iterations": args.iterations, "schedule": args.schedule}
    changes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if changes.get("iterations", 0) > MAX_EXAMPLE_ITERATIONS:
        raise UsageError(f"demo: --iterations with --example is at most "
                         f"{MAX_EXAMPLE_ITERATIONS:,}")  # fmt: skip
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
        net, _ = build_example(ex)
        run = run_example_forward(net, ex)
        run.cost.backward()
        first = net.layers[0].neurons[0].w[0]
        files = _demo_files(out, net, {"w1": first}, run.cost, list(ex.inputs), ex.title)
    if args.format != "text":
        print(answer_key(ex, results, args.format), end="")
        return 0
    if args.json:
        _print_json({"results": results, "comparison": [_row_dict(r) for r in rows],
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
    if args.example is not None:
        return cmd_demo_example(args)
    if args.format != "text":
        raise UsageError("demo: --format latex|markdown needs --example FILE "
                         "(e.g. examples/worked/mazur.toml)")  # fmt: skip
    args.lr = worked.SEED_LR if args.lr is None else args.lr
    args.iterations = 10_000 if args.iterations is None else args.iterations
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
        files = _demo_files(out, net, params, p["E_total"])
    if args.json:
        rows = worked.comparison(results)
        _print_json({"results": results, "comparison": [_row_dict(r) for r in rows],
                     "files": files})  # fmt: skip
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
            f"  {s:<13} E after 1 update = {_fmt(results[f'after_one_update.{s}.E'])}   "
            f"E after {args.iterations} = {_fmt(results[f'after_training.{s}.E'])}   "
            f"outputs = {_fmt(outs[0])}, {_fmt(outs[1])}"
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
            mark += f" ({r.published_schedule}: {_fmt(twin.computed)} {twin.status})"
        print(f"{r.name:<30} {_fmt(r.computed):>16} {r.published:>14}  {mark}")
    if args.update_biases:
        b1, b2 = (results[f"updated.{args.schedule}.{b}"] for b in ("b1", "b2"))
        print(f"{'b1⁺':<30} {_fmt(b1):>16} {'—':>14}  (the post keeps biases frozen)")
        print(f"{'b2⁺':<30} {_fmt(b2):>16} {'—':>14}  (the post keeps biases frozen)")


def _demo_files(out_dir: Path, net: Any, params: dict[str, Any], root: Any,
                inputs: Sequence[float] = (0.05, 0.10),
                source: str = "Mazur's figure") -> dict[str, Any]:  # fmt: skip
    """The worked example's pictures and step-through page, written into ``out_dir``."""
    files: dict[str, Any] = {"notes": []}
    diagram, neurons = out_dir / "network.svg", out_dir / "neurons.svg"
    try:
        render(root, diagram, highlight=(root, params["w1"]), show_local_grads=True, model=net,
               rankdir="TB")  # fmt: skip
        files["diagram"] = str(diagram)
        files["notes"].append(
            f"Computation graph (paths to w1 in red, local derivatives on edges): {diagram}"
        )
        render_network(net, neurons, list(inputs), show_grad=True)
        files["neurons"] = str(neurons)
        files["notes"].append(f"The network as in {source}, weights and gradients: {neurons}")
        page = render_steps(root, out_dir / "steps", model=net, rankdir="TB")
        files["steps"] = str(page)
        files["notes"].append(f"Step-through of the backward pass: {page}")
    except GraphvizNotFound as e:
        files["diagram_source"] = str(diagram.with_suffix(".gv"))
        files["notes"].append(f"No SVG: {e}")
    return files


# --------------------------------------------------------------------------------------- grad


def _assignments(pairs: Sequence[str]) -> dict[str, float]:
    values: dict[str, float] = {}
    given: dict[str, str] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"expected NAME=VALUE, got {pair!r}")
        if name in given:
            raise UsageError(f"{name!r} is given twice ({given[name]} and {pair})")
        given[name] = pair
        try:
            values[name] = float(text)
        except ValueError:
            raise UsageError(f"value of {name!r} must be a number, got {text!r}") from None
        if not math.isfinite(values[name]):
            raise UsageError(
                f"value of {name!r} must be a finite number, got {text!r}"
                + (" (too large for a float)" if text.strip().lower()[-3:].isdigit() else "")
            )
    return values


def _build_expression(args: argparse.Namespace):
    return expression_graph(args.expression, _assignments(args.assignments))


def cmd_grad(args: argparse.Namespace) -> int:
    wrt = None if args.wrt is None else args.wrt.split(",")
    try:
        result = grad_report(args.expression, _assignments(args.assignments), wrt=wrt,
                             explain_wrt=args.explain, formula=args.formula, fmt=args.format,
                             check=args.check)  # fmt: skip
    except InputError as bad:
        raise UsageError(f"--{bad.field}: {bad.detail}") from None
    root, leaves, wrt, doc = result.root, result.leaves, result.wrt, result.doc
    if args.draw:
        doc["draw"] = str(render(root, args.draw, precision=args.precision))
    if args.steps:
        doc["steps"] = str(render_steps(root, args.steps, precision=args.precision))
    if args.json:
        _print_json(result.to_dict(args.format, args.precision))
        return 0 if result.passed else 1
    digits = args.precision
    if program_steps(args.expression):  # the steps as typed, then the output's value
        print(f"{args.expression}\n{root.label} = {root.data:.{digits}g}")
    else:
        name = f"{root.label} = " if root.label and root.label != args.expression else ""
        print(f"{name}{args.expression} = {root.data:.{digits}g}")
    width = max(len(n) for n in wrt) + 3 if wrt else 4
    for name in wrt:
        print(f"  ∂/∂{name:<{width}} {leaves[name].grad:.{digits}g}")
    for line in doc.get("formulas", {}).values():
        print(line)
    if "explain" in doc:
        trace = doc["explain"]
        print(trace.text(digits) if args.format == "text" else getattr(trace, args.format)(digits))
    if "check" in doc:
        print(doc["check"].text())
    for key in ("draw", "steps"):
        if key in doc:
            print(f"{key}: {doc[key]}")
    return 0 if result.passed else 1


def cmd_steps(args: argparse.Namespace) -> int:
    root = _build_expression(args)
    if not root.label:
        root.label = "f"
    given = ", ".join(args.assignments)
    text = f"{root.label} = {args.expression}" + (f"   at {given}" if given else "")
    page = render_steps(root, args.out, precision=args.precision, expression=text)
    print(page)
    return 0


# --------------------------------------------------------------------------------------- train


@dataclass(frozen=True)
class _Setup:
    """How ``train`` fits one loss to one dataset: the outputs, the output activation, the
    label encoding the loss reads ("0/1", "±1", "index", "one-hot") and the task."""

    outputs: int
    output_activation: str
    labels: str
    task: str


_TWO_CLASS = {  # xor and moons: labels 0/1
    "half_sse": _Setup(1, "sigmoid", "0/1", "binary"),
    "mse": _Setup(1, "sigmoid", "0/1", "binary"),
    # a sigmoid output: binary_cross_entropy reads its logit, so the loss stays finite
    "binary_cross_entropy": _Setup(1, "sigmoid", "0/1", "binary"),
    "cross_entropy": _Setup(2, "linear", "index", "multiclass"),  # two logits, softmax
    "hinge": _Setup(1, "linear", "±1", "sign"),
}
_DIGITS = {
    "cross_entropy": _Setup(10, "linear", "index", "multiclass"),
    # Nielsen's chapter-1/2 network: quadratic cost on one-hot targets, sigmoid outputs
    "half_sse": _Setup(10, "sigmoid", "one-hot", "multiclass"),
    "mse": _Setup(10, "sigmoid", "one-hot", "multiclass"),
}
_DEFAULT_LOSS = {"xor": "half_sse", "moons": "hinge", "digits": "cross_entropy"}
_ARCHITECTURE_OPTIONS = ("hidden", "activation", "init")  # what a --load file fixes


def _setup(dataset: str, loss: str) -> _Setup:
    table = _DIGITS if dataset == "digits" else _TWO_CLASS
    if loss not in table:
        raise UsageError(f"--loss {loss} scores a single output; digits has 10 classes: use "
                         f"cross_entropy, or half_sse (Nielsen's quadratic cost)")  # fmt: skip
    return table[loss]


def _training_data(args: argparse.Namespace, setup: _Setup) -> tuple[Any, Any, Any, Any]:
    """(X, targets for the loss, class labels for accuracy, test set or None)."""
    for option, used_by in (("samples", ("moons", "digits")), ("noise", ("moons",))):
        if getattr(args, option) is not None and args.dataset not in used_by:
            raise UsageError(f"--{option}: {args.dataset} has no {option} to set; "
                             f"only {' and '.join(used_by)} do")  # fmt: skip
    test, samples = None, args.samples or 100
    if args.dataset == "xor":
        X, labels = xor()
    elif args.dataset == "moons":
        X, labels = moons(samples, 0.1 if args.noise is None else args.noise, seed=args.seed)
    else:
        X, X_test, labels, y_test = digits(0.2, seed=args.seed)
        if samples > len(X):
            raise UsageError(f"--samples: digits has {len(X)} training examples, "
                             f"got {samples}")  # fmt: skip
        X, labels, test = X[:samples], labels[:samples], (X_test, y_test)
    if setup.labels == "±1":
        labels = 2 * labels - 1
    targets = np.eye(setup.outputs)[labels] if setup.labels == "one-hot" else labels
    return X, targets, labels, test


def _model(args: argparse.Namespace, setup: _Setup, nin: int) -> MLP:
    """A new MLP from the options, or the --load one (whose architecture the file fixes)."""
    if args.load is None:
        hidden = args.hidden or [16, 16]
        _check_fits("--hidden", [nin, *hidden, setup.outputs])
        return MLP(nin, [*hidden, setup.outputs], activation=args.activation or "tanh",
                   init=args.init or "uniform", output_activation=setup.output_activation,
                   seed=args.seed)  # fmt: skip
    given = [k for k in _ARCHITECTURE_OPTIONS if getattr(args, k) is not None]
    if given:
        raise UsageError(f"--load: the architecture comes from {args.load}; drop --{given[0]}")
    net = MLP.from_file(args.load)
    last = activation_name(net.activations[-1])
    if net.nin != nin or net.nouts[-1] != setup.outputs or last != setup.output_activation:
        raise UsageError(
            f"--load: {args.load} holds {_describe(net)}; {args.dataset} with {args.loss} needs "
            f"{nin} inputs and {setup.outputs} {setup.output_activation} output(s)"
        )
    return net


def _describe(net: MLP) -> str:
    names = [activation_name(a) for a in net.activations]
    return f"{net!r} ({', '.join(dict.fromkeys(str(n) for n in names))})"


def cmd_train(args: argparse.Namespace) -> int:
    args.loss = args.loss or _DEFAULT_LOSS[args.dataset]
    setup = _setup(args.dataset, args.loss)
    if args.plot:
        plot_format(args.plot, option="--plot")  # a bad extension fails before training
    X, targets, labels, test = _training_data(args, setup)
    net = _model(args, setup, X.shape[1])
    _check_batch([net.nin, *net.nouts], min(args.batch_size or len(X), len(X)))
    make = {"sgd": lambda ps: SGD(ps, lr=args.lr, momentum=args.momentum),
            "adam": lambda ps: Adam(ps, lr=args.lr)}  # fmt: skip
    history = fit(
        net, X, targets, loss=args.loss, optimizer=make[args.optimizer](net.parameters()),
        epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, l2=args.l2,
        compiled=args.compiled, task=setup.task, progress=not args.json and sys.stderr.isatty(),
    )  # fmt: skip
    report = TrainReport(args.dataset, _describe(net), net.nouts[:-1], args.loss, history)
    broken = sum(not math.isfinite(p.data) for p in net.parameters())
    diverged = not math.isfinite(history.loss[-1]) or broken > 0
    if not diverged:
        report.train_accuracy = evaluate(net, X, labels, setup.task)
        if test is not None:
            report.test_accuracy = evaluate(net, test[0], test[1], setup.task)
        _write_train_files(args, net, X, labels, history, report)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.text())
    if diverged:
        why = f"final loss {history.loss[-1]}, {broken} parameters not finite"
        print(f"{PROG}: training diverged ({why}); nothing plotted or saved; try a smaller --lr",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _write_train_files(args: argparse.Namespace, net: MLP, X: Any, labels: Any,
                       history: History, report: TrainReport) -> None:  # fmt: skip
    if args.plot:
        if args.dataset == "digits":
            report.plot = str(plot_history(history, args.plot))
        else:
            report.plot = str(plot_decision_boundary(net, X, labels, args.plot))
    if args.save:
        report.saved = str(net.save(args.save))


# -------------------------------------------------------------------------------------- verify


def cmd_verify(args: argparse.Namespace) -> int:
    sizes = args.sizes
    if len(sizes) < 2:
        raise UsageError("--sizes needs at least an input and an output size, e.g. 3,4,2")
    _check_fits("--sizes", sizes, MAX_VERIFY_PARAMETERS)
    out_act = "sigmoid" if args.cost == "cross_entropy" else args.output_activation
    net = MLP(sizes[0], sizes[1:], activation=args.activation, output_activation=out_act,
              init="normal", seed=args.seed)  # fmt: skip
    rng = np.random.default_rng(args.seed)
    x = rng.uniform(-1, 1, sizes[0]).tolist()
    y = rng.uniform(0.05, 0.95, sizes[-1]).tolist()
    report = verify(net, x, y, args.cost)
    if args.json:
        _print_json(report.to_dict())
    else:
        print(report.text())
    worst = max(report.max_rel_matrix, report.max_rel_torch or 0.0)
    return 0 if worst < 1e-8 and report.max_abs_numeric < 1e-5 else 1


# ------------------------------------------------------------------------------ check, exercise


def _check_problem(args: argparse.Namespace) -> Any:
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
    return expression_problem(args.expression, _assignments(args.assignments))


# The exit status of a grading. A verdict not listed here (such as "undecided": neither
# proved nor refuted) exits 3, so a script never reads it as correct or as wrong.
VERDICT_STATUS = {"correct": 0, "wrong": 1, "only_here": 1}
OTHER_VERDICT_STATUS = 3


def verdict_status(verdict: str) -> int:
    """The exit status ``check`` and ``exercise --answer`` give a verdict.

    Example:
        >>> verdict_status("correct"), verdict_status("only_here"), verdict_status("undecided")
        (0, 1, 3)
    """
    return VERDICT_STATUS.get(verdict, OTHER_VERDICT_STATUS)


@dataclass(frozen=True)
class _Graded:
    """What a grading graded: the f (an expression or a program; None for --worked and
    --sizes, whose graphs the report names) and the point."""

    expression: str | None
    values: dict[str, float] | None
    source: str = ""  # e.g. "exercise 7 (level 2)"

    def line(self, output: str) -> str:
        if self.expression is None:
            return ""
        named = self.expression if program_steps(self.expression) else \
            f"{output} = {self.expression}"  # fmt: skip
        at = ", ".join(f"{n} = {_shortest(v)}" for n, v in (self.values or {}).items())
        source = f"{self.source}: " if self.source else ""
        return f"graded: {source}{named}" + (f"   at {at}" if at else "") + "\n"


def _shortest(v: float) -> str:
    """The shortest text that reads back as ``v`` (3 for 3.0, 0.1 for 0.1)."""
    text = repr(float(v))
    return text[:-2] if text.endswith(".0") else text


def _report(report: Any, as_json: bool, graded: _Graded) -> int:
    if as_json:
        _print_json({**report.to_dict(), "expression": graded.expression,
                     "values": graded.values, "wrt": report.wrt})  # fmt: skip
    else:
        print(graded.line(report.output) + report.text())
    return verdict_status(report.verdict)


def cmd_check(args: argparse.Namespace) -> int:
    problem = _check_problem(args)
    report = check_report(problem, None, args.wrt, args.claim, points=args.points, seed=args.seed)
    values = None if args.expression is None else _assignments(args.assignments)
    return _report(report, args.json, _Graded(args.expression, values))


def cmd_exercise(args: argparse.Namespace) -> int:
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
    graded = _Graded(ex.expression, dict(ex.values), f"exercise {ex.seed} (level {ex.level})")
    return _report(ex.grade(args.answer), args.json, graded)


# ---------------------------------------------------------------------------------------- serve

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def cmd_serve(args: argparse.Namespace) -> int:
    require("starlette", "serve")
    require("uvicorn", "serve")
    from .serve.app import run  # the optional [serve] extra: imported only when asked for

    if args.host not in _LOOPBACK:
        print(f"warning: --host {args.host} lets every machine that can reach this one on "
              f"port {args.port or 'the chosen port'} use the playground (it computes "
              "whatever expression it is sent); the default 127.0.0.1 is this machine only",
              file=sys.stderr)  # fmt: skip

    def ready(url: str) -> None:
        print(f"autograd-bp playground: {url}  (Ctrl+C stops it)", flush=True)
        if not args.no_open:
            webbrowser.open(url)

    run(args.host, args.port, ready)
    return 0


# ---------------------------------------------------------------------------------------- main

_EXAMPLES = {
    "demo": "example: autograd-bp demo --out demo_out  (or --json, --schedule sequential)",
    "grad": 'example: autograd-bp grad "sigmoid(w*x + b)" w=0.4 x=0.5 b=0.1 --explain w --check',
    "steps": 'example: autograd-bp steps "tanh(a*b)" a=0.5 b=-1 --out steps/',
    "train": "example: autograd-bp train moons --hidden 16,16 --activation relu --epochs 100",
    "verify": "example: autograd-bp verify --sizes 3,5,2 --activation tanh --cost quadratic",
    "check": "example: autograd-bp check --worked --wrt w1 "
    '--claim "(delta_o1*w5 + delta_o2*w7)*out_h1*(1-out_h1)*x1"',
    "serve": "example: autograd-bp serve --port 8000 --no-open",
    "exercise": 'example: autograd-bp exercise --seed 7  (then --seed 7 --answer "FORMULA")',
}


def _grad_options(grad: argparse.ArgumentParser) -> None:
    """The options of ``autograd-bp grad`` after the expression and its values."""
    grad.add_argument("--wrt", help="comma-separated variables to report (default: all)")
    grad.add_argument("--explain", metavar="NAME", help="print the chain-rule trace for NAME")
    grad.add_argument(
        "--formula",
        action="store_true",
        help="print each partial derivative as a formula (needs the symbolic extra)",
    )
    grad.add_argument(
        "--format",
        choices=["text", "latex", "markdown"],
        default="text",
        help="how --explain and --formula print (default: text)",
    )
    grad.add_argument("--draw", metavar="FILE", help="render the graph (.svg/.png/.pdf)")
    grad.add_argument("--steps", metavar="DIR", help="write a backward step-through page")
    grad.add_argument("--check", action="store_true", help="compare with central differences")
    grad.add_argument("--json", action="store_true", help="machine-readable output")
    grad.set_defaults(run=cmd_grad)  # fmt: skip


def _practice_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """The parsers of ``check`` and ``exercise`` (grading a hand derivation)."""
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
    chk.add_argument("--seed", type=_seed, default=0, help="random points (and --sizes weights)")
    chk.add_argument("--json", action="store_true", help="machine-readable output")
    chk.set_defaults(run=cmd_check)

    exe = command("exercise", "a seeded exercise in deriving a gradient, graded by check")
    exe.add_argument("--seed", type=_seed, default=None, help="which exercise (default: a new one)")
    exe.add_argument("--level", type=int, choices=[1, 2, 3], default=None)
    exe.add_argument("--answer", metavar="FORMULA", help="grade this answer")
    exe.add_argument("--markdown", metavar="FILE", help="write a set with an answer key")
    exe.add_argument("--count", type=_positive_int("--count"), default=10)
    exe.add_argument("--json", action="store_true", help="machine-readable grading")
    exe.set_defaults(run=cmd_exercise)


def _train_options(train: argparse.ArgumentParser) -> None:
    """``train``'s arguments: every number bounded, every size bounded (see _check_fits)."""
    train.add_argument("dataset", choices=["xor", "moons", "digits"])
    # default None: with --load the file fixes these, so giving one is refused, not ignored
    train.add_argument("--hidden", type=_sizes("--hidden"), help="hidden sizes (default 16,16)")
    train.add_argument("--activation", choices=list(ACTIVATIONS), help="default tanh")
    train.add_argument("--init", choices=list(INITS), help="default uniform")
    train.add_argument("--loss", choices=list(LOSSES), default=None)
    train.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    train.add_argument("--lr", type=_positive_float("--lr"), default=0.1)
    train.add_argument("--momentum", type=_number(float, 0, 1, open_high=True),
                       default=0.0)  # fmt: skip
    train.add_argument("--l2", type=_number(float, 0, math.inf), default=0.0,
                       help="L2 penalty weight")  # fmt: skip
    train.add_argument("--epochs", type=_positive_int("--epochs"), default=100)
    train.add_argument("--batch-size", type=_positive_int("--batch-size"), default=None)
    # default None: xor has neither, digits no noise; giving one there is refused
    train.add_argument("--samples", type=_positive_int("--samples", 100_000),
                       help="moons: points; digits: training examples (default 100)")  # fmt: skip
    train.add_argument("--noise", type=_number(float, 0, math.inf),
                       help="moons noise (default 0.1)")  # fmt: skip
    train.add_argument("--seed", type=_seed, default=0)
    train.add_argument("--plot", metavar="FILE",
                       help="decision boundary / loss curve (.png .svg .pdf .jpg ...)")  # fmt: skip
    train.add_argument("--save", metavar="FILE", help="save the trained model (JSON)")
    train.add_argument("--load", metavar="FILE", help="start from a saved model")
    train.add_argument(
        "--compiled", action="store_true", help="trace once, replay each batch with numpy"
    )
    train.add_argument("--json", action="store_true", help="machine-readable output")


def _expression_args(p: argparse.ArgumentParser) -> None:
    """The expression, its NAME=VALUE values and --precision (grad, steps)."""
    p.add_argument("expression", help='e.g. "sigmoid(w1*x1 + w2*x2 + b)"')
    p.add_argument("assignments", nargs="*", metavar="NAME=VALUE")
    p.add_argument("--precision", type=_positive_int("--precision", 17), default=6,
                   help="significant digits, 1 to 17 (a float has 17)")  # fmt: skip


def _verify_options(ver: argparse.ArgumentParser) -> None:
    """``verify``'s arguments (its network's size is bounded in cmd_verify)."""
    ver.add_argument("--sizes", type=_sizes("--sizes"), default=[3, 4, 2])
    ver.add_argument("--activation", choices=list(ACTIVATIONS), default="sigmoid")
    ver.add_argument("--output-activation", choices=list(ACTIVATIONS), default="sigmoid")
    ver.add_argument("--cost", choices=["quadratic", "cross_entropy"], default="quadratic")
    ver.add_argument("--seed", type=_seed, default=0)
    ver.add_argument("--json", action="store_true", help="machine-readable output")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = _Parser(prog=PROG, description="Backpropagation, done for real and shown.",
                     epilog="run 'autograd-bp COMMAND --help' for a command's options")  # fmt: skip
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def command(name: str, help: str) -> argparse.ArgumentParser:
        made = sub.add_parser(name, help=help, description=help, epilog=_EXAMPLES[name])
        assert isinstance(made, _Parser)
        parser.commands[name] = made
        return made

    demo = command("demo", "Mazur's 2-2-2 worked example, every figure computed and compared")
    demo.add_argument(
        "--example",
        metavar="FILE",
        default=None,
        help="a worked example in TOML (e.g. examples/worked/nielsen-2-3-2.toml)",
    )
    demo.add_argument(
        "--lr",
        type=_positive_float("--lr"),
        default=None,
        help="learning rate (default: the example's; Mazur's 0.5)",
    )
    demo.add_argument(
        "--iterations",
        type=_positive_int("--iterations", 10**7),
        default=None,
        help="training updates (default: the example's; Mazur's 10,000)",
    )
    demo.add_argument("--schedule", choices=worked.SCHEDULES, default=None,
                      help="which schedule the updated.* / after_*.* JSON keys follow")  # fmt: skip
    demo.add_argument("--update-biases", action="store_true", help="also update the biases")
    demo.add_argument(
        "--out",
        default=None,
        help="directory for the diagram files (default demo_out; none with --json)",
    )
    demo.add_argument("--json", action="store_true", help="machine-readable output")
    demo.add_argument(
        "--format",
        choices=("text", *ANSWER_FORMATS),
        default="text",
        help="latex|markdown: the whole derivation as an answer key (--example)",
    )
    demo.set_defaults(run=cmd_demo)

    grad = command("grad", "value and every partial derivative of an expression")
    _expression_args(grad)
    _grad_options(grad)

    steps = command("steps", "write a step-by-step page of the backward pass of an expression")
    _expression_args(steps)
    steps.add_argument("--out", default="steps", help="output directory")
    steps.set_defaults(run=cmd_steps)

    train = command("train", "train an MLP on xor, moons or digits")
    _train_options(train)
    train.set_defaults(run=cmd_train)

    ver = command("verify", "engine vs BP1-BP4 vs finite differences (vs torch) on a random MLP")
    _verify_options(ver)
    ver.set_defaults(run=cmd_verify)

    _practice_commands(command)
    _serve_arguments(command("serve", "a local playground in the browser: type, step, check"))
    return parser


def _serve_arguments(srv: argparse.ArgumentParser) -> None:
    srv.add_argument("--port", type=_number(int, 0, 65535), default=8000,
                     help="TCP port (0: any free port; default 8000)")  # fmt: skip
    srv.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1: this machine)")  # fmt: skip
    srv.add_argument("--no-open", action="store_true", help="do not open a browser")
    srv.set_defaults(run=cmd_serve)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    try:
        status = _run(argv)
        sys.stdout.flush()  # a reader that left is noticed here, not at interpreter exit
        return status
    except BrokenPipeError:  # the reader left (`| head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a writer whose reader left


def _run(argv: Sequence[str] | None) -> int:
    try:
        parser = build_parser()
        args, strays = parser.parse_known_args(arrange(parser, sys.argv[1:] if argv is None
                                                       else argv))  # fmt: skip
        if strays:  # named with the command they were given to
            raise UsageError(f"{args.command}: unrecognized arguments: {' '.join(strays)}")
        return int(args.run(args))
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
    except (ExpressionError, DomainError, ZeroDivisionError, OverflowError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
    except BrokenPipeError:
        raise  # not an error of the input: main() stops quietly
    except (ModelFileError, GraphvizNotFound, ValueError, OSError, ImportError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 2
