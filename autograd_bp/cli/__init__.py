"""The ``autograd-bp`` command (also ``python -m autograd_bp``).

Subcommands: ``demo`` (the worked example, the main job), ``grad`` (an expression's
gradients), ``steps`` (a step-through page of backward), ``train``, ``verify``, ``check``
(grade a hand-derived gradient), ``exercise`` (practice with it), ``grade`` (a learner's
own engine) and ``lab`` (a graph run under a classic engine bug beside the correct engine).
Bad input of any kind: one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import webbrowser
from collections.abc import Callable, Sequence

# The package's own modules load in a fraction of a second, so they are imported here.
# The heavy optional extras stay lazy, inside the modules that need them (``require``):
# scikit-learn (datasets), matplotlib (plots), torch (check, nn) and tqdm (train), so
# `--help` and `grad` start fast and work without them installed.
from .. import __version__
from .._io import require
from ..check.grade import Limits, grade_engine
from ..core.ops import DomainError
from ..lang.expr import ExpressionError
from ..locale import LANGUAGES, N_, _, say, use_language
from ..nn.losses import LOSSES
from ..nn.modules import ACTIVATIONS, INITS, ModelFileError
from ..show.viz import DOT_TIMEOUT, GraphvizNotFound
from ..textbook import worked
from ..textbook.answer_key import ANSWER_FORMATS
from .demo import cmd_demo
from .expressions import cmd_check, cmd_exercise, cmd_grad, cmd_steps, verdict_status
from .lab import lab_arguments
from .line import (
    PROG,
    Parser,
    UsageError,
    arrange,
    chosen_language,
    language_name,
    number,
    parse_sizes,
    positive_float,
    positive_int,
    print_json,
    seed_number,
)
from .training import cmd_train, cmd_verify

__all__ = ["UsageError", "arrange", "build_parser", "main", "verdict_status"]

# ---------------------------------------------------------------------------------------- serve

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def cmd_serve(args: argparse.Namespace) -> int:
    require("starlette", "serve")
    require("uvicorn", "serve")
    from ..serve.app import run  # the optional [serve] extra: imported only when asked for

    if args.host not in _LOOPBACK:
        print(_("warning: --host {host} lets every machine that can reach this one on port "
                "{port} use the playground (it computes whatever expression it is sent); the "
                "default 127.0.0.1 is this machine only").format(
                    host=args.host, port=args.port or _("the chosen port")),
              file=sys.stderr)  # fmt: skip

    def ready(url: str) -> None:
        print(_("autograd-bp playground: {url}  (Ctrl+C stops it)").format(url=url), flush=True)
        if not args.no_open:
            webbrowser.open(url)

    run(args.host, args.port, ready)
    return 0


# ------------------------------------------------------------------------------------- grade


def cmd_grade(args: argparse.Namespace) -> int:
    """Grade a learner's own engine: exit 0 pass, 1 fail or error (the engine could not be
    graded), 2 a usage error (raised as GradeInputError, a ValueError)."""
    limits = Limits(check_seconds=args.check_seconds, total_seconds=args.total_seconds,
                    memory=args.memory_mb * 2**20)  # fmt: skip
    report = grade_engine(args.path, args.class_name, seed=args.seed, limits=limits)
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.text())
    return 0 if report.verdict == "pass" else 1


def _grade_arguments(grade: argparse.ArgumentParser) -> None:
    grade.add_argument("path", metavar="PATH", help=N_("the learner's .py file with a Value class"))
    grade.add_argument("--class", dest="class_name", metavar="NAME",
                       help=N_("the class to grade (default: Value)"))  # fmt: skip
    grade.add_argument("--json", action="store_true", help=N_("machine-readable output"))
    grade.add_argument("--seed", type=seed_number, default=0, help=N_("the battery's leaf values"))
    grade.add_argument("--check-seconds", type=number(float, 0.1, 600), default=2.0,
                       help=N_("wall-clock limit per check (default 2)"))  # fmt: skip
    grade.add_argument("--total-seconds", type=number(float, 1, 3600), default=60.0,
                       help=N_("wall-clock limit for the whole run (default 60)"))  # fmt: skip
    grade.add_argument("--memory-mb", type=number(int, 128, 65536), default=1024,
                       help=N_("address-space limit of the sandbox in MiB "
                               "(default 1024)"))  # fmt: skip
    grade.set_defaults(run=cmd_grade)


# ---------------------------------------------------------------------------------------- main

# Each epilog is one message, translated where --help is printed (line.TranslatedHelp);
# the command in it is the same in every language.
_EXAMPLES = {
    "demo": N_("example: autograd-bp demo --out demo_out  (or --json, --schedule sequential)"),
    "grad": N_('example: autograd-bp grad "sigmoid(w*x + b)" w=0.4 x=0.5 b=0.1 --explain w '
               "--check"),
    "steps": N_('example: autograd-bp steps "tanh(a*b)" a=0.5 b=-1 --out steps/'),
    "train": N_("example: autograd-bp train moons --hidden 16,16 --activation relu --epochs 100"),
    "verify": N_("example: autograd-bp verify --sizes 3,5,2 --activation tanh --cost quadratic"),
    "check": N_("example: autograd-bp check --worked --wrt w1 "
                '--claim "(delta_o1*w5 + delta_o2*w7)*out_h1*(1-out_h1)*x1"'),
    "serve": N_("example: autograd-bp serve --port 8000 --no-open"),
    "exercise": N_('example: autograd-bp exercise --seed 7  (then --seed 7 --answer "FORMULA")'),
    "grade": N_("example: autograd-bp grade my_engine.py  (or --class Scalar, --json)"),
    "lab": N_('example: autograd-bp lab "tanh(a*b) + a" a=0.5 b=-1 --bug '
              "tanh-derivative-from-input --predict  (or --worked, --sizes 2,3,1; --list lists "
              "the bugs)"),
}


LANG_HELP = N_("the language of what is printed (default: $AUTOGRAD_BP_LANG, else en); JSON "
                "keys and verdicts stay as they are")
LANG_METAVAR = "|".join(LANGUAGES)


def _grad_options(grad: argparse.ArgumentParser) -> None:
    """The options of ``autograd-bp grad`` after the expression and its values."""
    grad.add_argument("--wrt", help=N_("comma-separated variables to report (default: all)"))
    grad.add_argument("--explain", metavar="NAME", help=N_("print the chain-rule trace for NAME"))
    grad.add_argument(
        "--formula",
        action="store_true",
        help=N_("print each partial derivative as a formula (needs the symbolic extra)"),
    )
    grad.add_argument(
        "--format",
        choices=["text", "latex", "markdown"],
        default="text",
        help=N_("how --explain and --formula print (default: text)"),
    )
    grad.add_argument("--draw", metavar="FILE", help=N_("render the graph (.svg/.png/.pdf)"))
    grad.add_argument("--steps", metavar="DIR", help=N_("write a backward step-through page"))
    grad.add_argument("--check", action="store_true", help=N_("compare with central differences"))
    grad.add_argument("--json", action="store_true", help=N_("machine-readable output"))
    grad.set_defaults(run=cmd_grad)  # fmt: skip


def _practice_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """The parsers of ``check`` and ``exercise`` (grading a hand derivation)."""
    chk = command("check", N_("grade a hand-derived partial derivative and say what is wrong"))
    chk.add_argument("expression", nargs="?", help=N_('e.g. "x*x*y" (or --worked, or --sizes)'))
    chk.add_argument("assignments", nargs="*", metavar="NAME=VALUE")
    chk.add_argument("--wrt", required=True, metavar="NAME",
                     help=N_("differentiate with respect to"))  # fmt: skip
    chk.add_argument("--claim", required=True, metavar="FORMULA", help=N_("your derivative"))
    chk.add_argument("--worked", action="store_true", help=N_("Mazur's worked example's names"))
    chk.add_argument(
        "--sizes", type=parse_sizes("--sizes"), help=N_("a Nielsen-notation MLP, e.g. 2,3,2")
    )
    chk.add_argument("--activation", choices=list(ACTIVATIONS), default="sigmoid")
    chk.add_argument("--points", type=positive_int("--points"), default=50,
                     help=N_("random points around the given one (at least 50)"))  # fmt: skip
    chk.add_argument(
        "--seed", type=seed_number, default=0, help=N_("random points (and --sizes weights)")
    )
    chk.add_argument("--json", action="store_true", help=N_("machine-readable output"))
    chk.set_defaults(run=cmd_check)

    exe = command("exercise", N_("a seeded exercise in deriving a gradient, graded by check"))
    exe.add_argument(
        "--seed", type=seed_number, default=None, help=N_("which exercise (default: a new one)")
    )
    exe.add_argument("--level", type=int, choices=[1, 2, 3], default=None)
    exe.add_argument("--answer", metavar="FORMULA", help=N_("grade this answer"))
    exe.add_argument("--markdown", metavar="FILE", help=N_("write a set with an answer key"))
    exe.add_argument("--count", type=positive_int("--count"), default=10)
    exe.add_argument("--json", action="store_true", help=N_("machine-readable grading"))
    exe.set_defaults(run=cmd_exercise)


def _train_options(train: argparse.ArgumentParser) -> None:
    """``train``'s arguments: every number bounded, every size bounded (see check_fits)."""
    train.add_argument("dataset", choices=["xor", "moons", "digits"])
    # default None: with --load the file fixes these, so giving one is refused, not ignored
    train.add_argument(
        "--hidden", type=parse_sizes("--hidden"), help=N_("hidden sizes (default 16,16)")
    )
    train.add_argument("--activation", choices=list(ACTIVATIONS), help=N_("default tanh"))
    train.add_argument("--init", choices=list(INITS), help=N_("default uniform"))
    train.add_argument("--loss", choices=list(LOSSES), default=None)
    train.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd")
    train.add_argument("--lr", type=positive_float("--lr"), default=0.1)
    train.add_argument("--momentum", type=number(float, 0, 1, open_high=True),
                       default=0.0)  # fmt: skip
    train.add_argument("--l2", type=number(float, 0, math.inf), default=0.0,
                       help=N_("L2 penalty weight"))  # fmt: skip
    train.add_argument("--epochs", type=positive_int("--epochs"), default=100)
    train.add_argument("--batch-size", type=positive_int("--batch-size"), default=None)
    # default None: xor has neither, digits no noise; giving one there is refused
    train.add_argument("--samples", type=positive_int("--samples", 100_000),
                       help=N_("moons: points; digits: training examples "
                               "(default 100)"))  # fmt: skip
    train.add_argument("--noise", type=number(float, 0, math.inf),
                       help=N_("moons noise (default 0.1)"))  # fmt: skip
    train.add_argument("--seed", type=seed_number, default=0)
    train.add_argument("--plot", metavar="FILE",
                       help=N_("decision boundary / loss curve "
                               "(.png .svg .pdf .jpg ...)"))  # fmt: skip
    train.add_argument("--save", metavar="FILE", help=N_("save the trained model (JSON)"))
    train.add_argument("--load", metavar="FILE", help=N_("start from a saved model"))
    train.add_argument(
        "--compiled", action="store_true", help=N_("trace once, replay each batch with numpy")
    )
    train.add_argument("--json", action="store_true", help=N_("machine-readable output"))


def _expression_args(p: argparse.ArgumentParser) -> None:
    """The expression, its NAME=VALUE values and --precision (grad, steps)."""
    p.add_argument("expression", help=N_('e.g. "sigmoid(w1*x1 + w2*x2 + b)"'))
    p.add_argument("assignments", nargs="*", metavar="NAME=VALUE")
    p.add_argument("--precision", type=positive_int("--precision", 17), default=6,
                   help=N_("significant digits, 1 to 17 (a float has 17)"))  # fmt: skip


def _verify_options(ver: argparse.ArgumentParser) -> None:
    """``verify``'s arguments (its network's size is bounded in cmd_verify)."""
    ver.add_argument("--sizes", type=parse_sizes("--sizes"), default=[3, 4, 2])
    ver.add_argument("--activation", choices=list(ACTIVATIONS), default="sigmoid")
    ver.add_argument("--output-activation", choices=list(ACTIVATIONS), default="sigmoid")
    ver.add_argument("--cost", choices=["quadratic", "cross_entropy"], default="quadratic")
    ver.add_argument("--seed", type=seed_number, default=0)
    ver.add_argument("--json", action="store_true", help=N_("machine-readable output"))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = Parser(prog=PROG, description=N_("Backpropagation, done for real and shown."),
                     epilog=N_("run 'autograd-bp COMMAND --help' for a command's "
                               "options"))  # fmt: skip
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--lang", type=language_name, default=None, metavar=LANG_METAVAR,
                        help=LANG_HELP)  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    def command(name: str, help: str) -> argparse.ArgumentParser:
        made = sub.add_parser(name, help=help, description=help, epilog=_EXAMPLES[name])
        assert isinstance(made, Parser)
        # SUPPRESS: a subcommand without --lang keeps the one given before it
        made.add_argument("--lang", type=language_name, default=argparse.SUPPRESS,
                          metavar=LANG_METAVAR, help=LANG_HELP)  # fmt: skip
        parser.commands[name] = made
        return made

    demo = command("demo", N_("Mazur's 2-2-2 worked example, every figure computed and compared"))
    _demo_options(demo)
    demo.set_defaults(run=cmd_demo)

    grad = command("grad", N_("value and every partial derivative of an expression"))
    _expression_args(grad)
    _grad_options(grad)

    steps = command("steps", N_("write a step-by-step page of the backward pass of an expression"))
    _expression_args(steps)
    steps.add_argument("--out", default="steps", help=N_("output directory"))
    steps.set_defaults(run=cmd_steps)

    train = command("train", N_("train an MLP on xor, moons or digits"))
    _train_options(train)
    train.set_defaults(run=cmd_train)

    ver = command("verify", N_("engine vs BP1-BP4 vs finite differences (vs torch) on a "
                               "random MLP"))
    _verify_options(ver)
    ver.set_defaults(run=cmd_verify)

    _practice_commands(command)
    _serve_arguments(command("serve", N_("a local playground in the browser: type, step, check")))
    for drawing in (demo, grad, steps):  # the subcommands that run Graphviz's dot
        drawing.add_argument(
            "--dot-timeout",
            type=positive_float("--dot-timeout"),
            default=DOT_TIMEOUT,
            metavar="SECONDS",
            help=N_("stop Graphviz after SECONDS (default %(default)g)"),
        )
    _grade_arguments(command("grade", N_("grade your own micrograd- or microgpt-style "
                                         "Value class")))
    lab_arguments(command)
    return parser


def _demo_options(demo: argparse.ArgumentParser) -> None:
    """``demo``'s options: the file's (or Mazur's) values unless given here."""
    demo.add_argument("--example", metavar="FILE", default=None,
                      help=N_("a worked example in TOML (e.g. examples/worked/nielsen-2-3-2.toml)"))
    demo.add_argument("--lr", type=positive_float("--lr"), default=None,
                      help=N_("learning rate (default: the example's; Mazur's 0.5)"))
    demo.add_argument("--iterations", type=positive_int("--iterations", 10**7), default=None,
                      help=N_("training updates (default: the example's; Mazur's 10,000)"))
    demo.add_argument("--schedule", choices=worked.SCHEDULES, default=None,
                      help=N_("which schedule the updated.* / after_*.* JSON keys follow"))
    demo.add_argument("--update-biases", action="store_true", help=N_("also update the biases"))
    demo.add_argument("--out", default=None,
                      help=N_("directory for the diagram files (default demo_out; "
                              "none with --json)"))
    demo.add_argument("--json", action="store_true", help=N_("machine-readable output"))
    demo.add_argument("--format", choices=("text", *ANSWER_FORMATS), default="text",
                      help=N_("latex|markdown: the whole derivation as an answer key (--example)"))


def _serve_arguments(srv: argparse.ArgumentParser) -> None:
    srv.add_argument("--port", type=number(int, 0, 65535), default=8000,
                     help=N_("TCP port (0: any free port; default 8000)"))  # fmt: skip
    srv.add_argument("--host", default="127.0.0.1",
                     help=N_("address to listen on (default 127.0.0.1: this machine)"))  # fmt: skip
    srv.add_argument("--no-open", action="store_true", help=N_("do not open a browser"))
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
    """The language first (``--lang`` anywhere, else $AUTOGRAD_BP_LANG), then the command in it."""
    # Built in English, before the language is known: a bad AUTOGRAD_BP_LANG must not stop
    # the building; its texts are msgids that --help says in the language chosen below
    # (line.TranslatedHelp formats them inside use_language(lang)).
    with use_language("en"):
        parser = build_parser()
    line = arrange(parser, sys.argv[1:] if argv is None else argv)
    try:
        lang = chosen_language(line)
    except UsageError as e:  # said in English: the language asked for is the problem
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    with use_language(lang):
        return _run_in(parser, line)


def _error(e: BaseException) -> None:
    print(_("{prog}: error: {message}").format(prog=PROG, message=say(e)), file=sys.stderr)


def _run_in(parser: argparse.ArgumentParser, line: list[str]) -> int:
    try:
        args, strays = parser.parse_known_args(line)
        if strays:  # named with the command they were given to
            raise UsageError(f"{args.command}: " + _("unrecognized arguments: {names}").format(
                names=" ".join(strays)))  # fmt: skip
        return int(args.run(args))
    except UsageError as e:
        _error(e)
    except (ExpressionError, DomainError, ZeroDivisionError, OverflowError) as e:
        _error(e)
    except BrokenPipeError:
        raise  # not an error of the input: main() stops quietly
    except (ModelFileError, GraphvizNotFound, ValueError, OSError, ImportError) as e:
        _error(e)
    except KeyboardInterrupt:
        print(_("{prog}: interrupted").format(prog=PROG), file=sys.stderr)
        return 130
    return 2
