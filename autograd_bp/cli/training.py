"""``train`` and ``verify``: networks trained on real data, and BP1–BP4 checked against the
engine."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

# The package's own modules load in a fraction of a second, so they are imported here.
# The heavy optional extras stay lazy, inside the modules that need them (``require``):
# scikit-learn (datasets), matplotlib (plots), torch (check, nn) and tqdm (train), so
# `--help` and `grad` start fast and work without them installed.
from ..check.gradcheck import verify
from ..locale import _
from ..nn.datasets import digits, moons, xor
from ..nn.modules import MLP, activation_name
from ..nn.optim import SGD, Adam
from ..nn.plots import plot_decision_boundary, plot_format, plot_history
from ..nn.train import History, TrainReport, evaluate, fit
from .line import MAX_VERIFY_PARAMETERS, PROG, UsageError, check_batch, check_fits, print_json

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
        raise UsageError(f"--loss {loss} " + _(
            "scores a single output; digits has 10 classes: use cross_entropy, or half_sse "
            "(Nielsen's quadratic cost)"))  # fmt: skip
    return table[loss]


def _training_data(args: argparse.Namespace, setup: _Setup) -> tuple[Any, Any, Any, Any]:
    """(X, targets for the loss, class labels for accuracy, test set or None)."""
    for option, used_by in (("samples", ("moons", "digits")), ("noise", ("moons",))):
        if getattr(args, option) is not None and args.dataset not in used_by:
            raise UsageError(f"--{option}: " + _(
                "{dataset} has no {option} to set; only {datasets} do").format(
                    dataset=args.dataset, option=option, datasets=_(" and ").join(used_by)))
    test, samples = None, args.samples or 100
    if args.dataset == "xor":
        X, labels = xor()
    elif args.dataset == "moons":
        X, labels = moons(samples, 0.1 if args.noise is None else args.noise, seed=args.seed)
    else:
        X, X_test, labels, y_test = digits(0.2, seed=args.seed)
        if samples > len(X):
            raise UsageError("--samples: " + _(
                "digits has {count} training examples, got {samples}").format(
                    count=len(X), samples=samples))  # fmt: skip
        X, labels, test = X[:samples], labels[:samples], (X_test, y_test)
    if setup.labels == "±1":
        labels = 2 * labels - 1
    targets = np.eye(setup.outputs)[labels] if setup.labels == "one-hot" else labels
    return X, targets, labels, test


def _model(args: argparse.Namespace, setup: _Setup, nin: int) -> MLP:
    """A new MLP from the options, or the --load one (whose architecture the file fixes)."""
    if args.load is None:
        hidden = args.hidden or [16, 16]
        check_fits("--hidden", [nin, *hidden, setup.outputs])
        return MLP(nin, [*hidden, setup.outputs], activation=args.activation or "tanh",
                   init=args.init or "uniform", output_activation=setup.output_activation,
                   seed=args.seed)  # fmt: skip
    given = [k for k in _ARCHITECTURE_OPTIONS if getattr(args, k) is not None]
    if given:
        raise UsageError("--load: " + _("the architecture comes from {file}; drop {option}").format(
            file=args.load, option="--" + given[0]))  # fmt: skip
    net = MLP.from_file(args.load)
    last = activation_name(net.activations[-1])
    if net.nin != nin or net.nouts[-1] != setup.outputs or last != setup.output_activation:
        raise UsageError("--load: " + _(
            "{file} holds {net}; {dataset} with {loss} needs {inputs} inputs and {outputs} "
            "{activation} output(s)").format(
                file=args.load, net=_describe(net), dataset=args.dataset, loss=args.loss,
                inputs=nin, outputs=setup.outputs, activation=setup.output_activation))
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
    check_batch([net.nin, *net.nouts], min(args.batch_size or len(X), len(X)))
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
        print_json(report.to_dict())
    else:
        print(report.text())
    if diverged:
        why = _("final loss {loss}, {count} parameters not finite").format(
            loss=history.loss[-1], count=broken)
        print(_("{prog}: training diverged ({why}); nothing plotted or saved; try a smaller --lr"
                ).format(prog=PROG, why=why), file=sys.stderr)  # fmt: skip
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
        raise UsageError(_("--sizes needs at least an input and an output size, e.g. 3,4,2"))
    check_fits("--sizes", sizes, MAX_VERIFY_PARAMETERS)
    out_act = "sigmoid" if args.cost == "cross_entropy" else args.output_activation
    net = MLP(sizes[0], sizes[1:], activation=args.activation, output_activation=out_act,
              init="normal", seed=args.seed)  # fmt: skip
    rng = np.random.default_rng(args.seed)
    x = rng.uniform(-1, 1, sizes[0]).tolist()
    y = rng.uniform(0.05, 0.95, sizes[-1]).tolist()
    report = verify(net, x, y, args.cost)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.text())
    worst = max(report.max_rel_matrix, report.max_rel_torch or 0.0)
    return 0 if worst < 1e-8 and report.max_abs_numeric < 1e-5 else 1
