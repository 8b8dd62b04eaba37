"""SymPy's word on a claim, in a worker process with a time and a memory limit.

SymPy can take minutes and gigabytes on a 50-character identity written in ugly decimals
(``tanh(0.123456789)`` against ``2*sigmoid(0.246913578) - 1``), so the proof never runs in
the caller's process: :func:`prove` forks a worker, caps its address space
(``RLIMIT_AS``), waits at most ``seconds`` and kills it after that. A worker that runs out
of time or memory, or dies for any other reason, leaves SymPy's answer *unknown*; nothing
is caught and turned into a verdict.

What the worker decides, for the difference d = claim − truth over real symbols:

* ``"proved"``: d is zero wherever the graph is defined, except possibly on the kinks
  themselves (where relu, abs, step, sign, leaky_relu switch branch; a set of measure zero,
  where the numbers at the points are compared as usual). Kinks are handled by splitting:
  every kink argument gets a sign (+ or −), each kink function its branch for that sign,
  and every combination must leave a smooth difference that is zero;
* ``"refuted"``: d is a non-zero number, or non-zero at one of the given points
  (with mpmath at 40 and 80 digits, each float read as its shortest decimal as a claim's
  numbers are; a non-zero value confirmed by SymPy's adaptive ``evalf``);
* ``"unknown"``: neither.

Example:
    >>> import sympy
    >>> x = sympy.Symbol("x", real=True)
    >>> decide(sympy, sympy.Max(x, 0) * 2 - (x * sympy.Heaviside(x, 0) + sympy.Max(x, 0)))
    'proved'
    >>> decide(sympy, 2 * sympy.Abs(x) - 2 * x)
    'unknown'
    >>> decide(sympy, 1 - sympy.Heaviside(x, 0) - sympy.Heaviside(-x, 0))  # 0 off x = 0
    'proved'
    >>> relu = sympy.Max(x, 0)   # relu(x) is 0 on all of x < 0: not a branch, the kink
    >>> decide(sympy, 1 - sympy.Heaviside(relu, 0) - sympy.Heaviside(-relu, 0))
    'unknown'
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import resource
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_KINKS", "MEMORY_BYTES", "SECONDS", "Job", "Proof", "decide", "prove"]

SECONDS = 4.0  # the worker's time; the whole check stays within 10 s
MEMORY_BYTES = 768 * 2**20  # address space the worker may add to what it inherits
MAX_KINKS = 6  # distinct kink arguments split on (2**6 = 64 smooth cases)
MAX_EXPAND_OPS = 3000  # beyond, expanding the difference to prove it zero is not attempted
MAX_SIMPLIFY_OPS = 40  # small leftovers get one sympy.simplify
CONFIRMED = 4  # points where a non-zero difference is confirmed by adaptive evalf
CONFIRM_DIGITS = 600  # the most digits evalf may work with there


@dataclass
class Proof:
    """SymPy's answer: ``status`` "proved", "refuted", "unknown" (SymPy could not decide) or
    "limit" (the worker ran out of time or memory, or died); ``values`` claim − truth at the
    points (by index, to 80 digits), ``nonzero`` those beyond the point's allowance."""

    status: str
    nonzero: dict[int, float] = field(default_factory=dict)
    values: dict[int, float] = field(default_factory=dict)

    @property
    def symbolic(self) -> bool | None:
        """True proved, False refuted, None otherwise (the report's ``symbolic``)."""
        return {"proved": True, "refuted": False}.get(self.status)


def prove(
    build: Callable[[Any], tuple[Any, Any, Any]],
    points: Sequence[Mapping[str, float]],
    allow: Sequence[float],
    seconds: float = SECONDS,
) -> Proof:
    """Run :func:`decide` on ``reference − truth`` in a bounded worker, and evaluate
    ``claim − truth`` at the points (:class:`Job` in one go).

    ``build(sympy)`` returns (claim, truth, reference) as SymPy expressions (it runs in the
    worker, so building them is bounded too; the reference is the claim itself, or for a
    number claim the truth's exact value at the given point: proved then means constant);
    ``points`` are leaf values by symbol name, ``allow`` how far from 0 the difference may
    be at each before it counts as non-zero.

    Example:
        >>> two = lambda sp: (sp.Integer(2), sp.Integer(2), sp.Integer(2))
        >>> prove(two, [{}], [1e-20]).status
        'proved'
    """
    return Job(build, seconds).finish(points, allow)


class Job:
    """A worker that starts on the proof at once, while the caller computes the points; it
    gets them with :meth:`finish`. ``seconds`` count from the start."""

    def __init__(self, build: Callable[[Any], tuple[Any, Any, Any]], seconds: float = SECONDS,
                 memory: int = MEMORY_BYTES) -> None:  # fmt: skip
        self.deadline = time.monotonic() + seconds
        self.worker: Any = None
        if "fork" not in multiprocessing.get_all_start_methods():
            return  # no cheap way to bound SymPy here: it stays unknown
        _warm_up()
        ctx = multiprocessing.get_context("fork")
        self.receive, send = ctx.Pipe(duplex=False)
        points_in, self.send = ctx.Pipe(duplex=False)
        self.worker = ctx.Process(target=_work, args=(send, points_in, build, memory),
                                  daemon=True)  # fmt: skip
        self.worker.start()
        send.close()
        points_in.close()

    def finish(self, points: Sequence[Mapping[str, float]], allow: Sequence[float]) -> Proof:
        """Hand the worker the points, wait for its answer until the deadline, end it."""
        left = self.deadline - time.monotonic()
        if self.worker is None or left <= 0:
            self.close()
            return Proof("limit")
        try:
            self.send.send((list(points), list(allow)))
            if self.receive.poll(left):
                status, nonzero, values = self.receive.recv()
                return Proof(status, nonzero, values)
            return Proof("limit")
        except (EOFError, BrokenPipeError):  # the worker died (out of memory, a recursion)
            return Proof("limit")
        finally:
            self.close()

    def close(self) -> None:
        """End the worker (killed if it still runs) and close the pipes."""
        if self.worker is None:
            return
        self.send.close()
        self.receive.close()
        if self.worker.is_alive():
            self.worker.kill()
        self.worker.join()
        self.worker = None


_warmed = threading.Lock()
_warm: list[bool] = []


def _warm_up() -> None:
    """Import SymPy and the parts it loads on first use, once, in this process: every worker
    forked afterwards starts with them (instead of spending 0.3 s importing each time). A
    fixed, tiny expression: bounded."""
    with _warmed:
        if _warm:
            return
        import sympy

        x = sympy.Symbol("x", real=True)
        e = sympy.tanh(x) * sympy.Max(x, 0) - sympy.Heaviside(x, 0) * sympy.sign(x)
        values_at(sympy, e, [{"x": 0.5}])
        decide(sympy, e - e.rewrite(sympy.exp))
        _warm.append(True)


def _work(send: Any, points_in: Any, build: Callable[[Any], tuple[Any, Any, Any]],
          memory: int) -> None:  # fmt: skip
    """The worker: limits first, then SymPy: the expressions; once the points come, the
    values there — a non-zero one refutes at once — and only then the proof. Anything it
    raises ends the worker silently (stderr goes nowhere), which the parent reads as
    "limit"."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    _limit_memory(memory)
    import sympy

    claim, truth, reference = build(sympy)
    points, allow = points_in.recv()
    values = values_at(sympy, claim - truth, points)
    nonzero = confirmed(sympy, claim - truth, points,
                        {k: v for k, v in values.items() if abs(v) > allow[k]})  # fmt: skip
    send.send(("refuted" if nonzero else decide(sympy, reference - truth), nonzero, values))
    send.close()


def _limit_memory(extra: int) -> None:
    """Cap the address space at what the process has now plus ``extra`` bytes."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    now = pages * os.sysconf("SC_PAGE_SIZE")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = now + extra
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def values_at(sympy: Any, expr: Any, points: Sequence[Mapping[str, float]]) -> dict[int, float]:
    """``expr`` at each point (by index) where it is a finite real number, from the points'
    values as written (0.05 is 1/20, as in a claim): with mpmath at 40 and at 80 digits
    (and 160 when they disagree) — a value that shrinks with the precision is rounding
    noise (0), one that stays is the value (see :func:`confirmed` for cancellations deeper
    than that).

    Example:
        >>> import sympy
        >>> x = sympy.Symbol("x", real=True)
        >>> values_at(sympy, (x + 1)**2 - x**2 - 2*x - 1, [{"x": 1e16}, {"x": 3.0}, {}])
        {0: 0.0, 1: 0.0}
        >>> values_at(sympy, sympy.log(x), [{"x": 1.0}, {"x": -1.0}])
        {0: 0.0}
    """
    import mpmath  # type: ignore[import-untyped,unused-ignore]

    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    try:
        f = sympy.lambdify(symbols, expr, "mpmath")
    except (NameError, TypeError, KeyError):  # a function mpmath lacks: SymPy's own evalf
        f = None
    out: dict[int, float] = {}
    for k, leaves in enumerate(points):
        if any(s.name not in leaves for s in symbols):
            continue
        rough = _at(sympy, mpmath, f, expr, symbols, leaves, 40)
        for digits in (80, 160):  # 160 when 40 digits were all cancelled (1 − σ(140) ≈ 1e-61)
            fine = _at(sympy, mpmath, f, expr, symbols, leaves, digits)
            if rough is None or fine is None:
                break
            if abs(fine - rough) <= 1e-6 * abs(fine):
                out[k] = float(fine)
                break
            if abs(fine) <= 1e-20 * abs(rough):
                out[k] = 0.0
                break
            rough = fine
    return out


def confirmed(sympy: Any, expr: Any, points: Sequence[Mapping[str, float]],
              candidates: dict[int, float], most: int = CONFIRMED) -> dict[int, float]:  # fmt: skip
    """The candidates (the first ``most``) whose value SymPy's adaptive ``evalf`` confirms
    non-zero: mpmath at a fixed precision can be fooled by a cancellation deeper than it
    (1 − 1/(1 + e⁻¹⁹⁵) is 0 at 80 digits); ``evalf`` raises the precision until it has
    correct digits, or gives up (``PrecisionExhausted``: not shown non-zero).

    Example:
        >>> import sympy
        >>> x = sympy.Symbol("x", real=True)
        >>> s = 1 / (1 + sympy.exp(-x))
        >>> confirmed(sympy, s * (1 - s) - sympy.exp(-x) * s**2 + x - 3, [{"x": 195.5}] * 2,
        ...           {0: 1e-85, 1: 1e-85})
        {}
    """
    from sympy.core.evalf import PrecisionExhausted

    out: dict[int, float] = {}
    for k in sorted(candidates)[:most]:
        leaves = points[k]
        exact = expr.xreplace({s: sympy.Rational(repr(leaves[s.name])) for s in expr.free_symbols})
        try:
            value = exact.evalf(15, maxn=CONFIRM_DIGITS, strict=True)
        except PrecisionExhausted:
            continue
        if value.is_real and value.is_finite and value != 0:
            out[k] = float(value)
    return out


def _at(sympy: Any, mpmath: Any, f: Any, expr: Any, symbols: list[Any],
        leaves: Mapping[str, float], digits: int) -> Any:  # fmt: skip
    """``expr`` at ``leaves`` with ``digits`` digits, or None where it is not a real number."""
    if f is None:
        value = expr.xreplace({s: sympy.Rational(repr(leaves[s.name])) for s in symbols})
        value = value.evalf(digits)
        return mpmath.mpf(value) if value.is_real and value.is_finite else None
    mpmath.mp.dps = digits
    try:
        value = f(*(mpmath.mpf(repr(leaves[s.name])) for s in symbols))
    except (ArithmeticError, ValueError):  # outside the domain of an op at this point
        return None
    if isinstance(value, mpmath.mpc):
        if abs(value.imag) > mpmath.mpf(10) ** (-digits) * (1 + abs(value.real)):
            return None
        value = value.real
    value = mpmath.mpf(value)
    return value if mpmath.isfinite(value) else None


# --- the proof ------------------------------------------------------------------------------


def decide(sympy: Any, difference: Any) -> str:
    """"proved" when ``difference`` is zero off the kinks, "refuted" when it is a non-zero
    number, else "unknown" (doctest in the module docstring)."""
    if difference == 0:
        return "proved"
    if not difference.free_symbols:  # a number: exactly zero, or clearly not (50 digits)
        if _smooth_zero(sympy, difference, simplify=False):
            return "proved"
        value = complex(difference.evalf(50))
        return "refuted" if abs(value) > 1e-30 else "unknown"
    cases = _kink_cases(sympy, difference)
    if cases is None:
        return "unknown"
    return "proved" if all(_smooth_zero(sympy, d) for d in cases) else "unknown"


def _small(sympy: Any, e: Any) -> bool:
    return bool(sympy.count_ops(e) <= MAX_SIMPLIFY_OPS)


KINKS = ("Heaviside", "sign", "Abs", "Max", "Min", "Piecewise")


def _kink_cases(sympy: Any, expr: Any) -> list[Any] | None:
    """``expr`` with every kink function replaced by its branch, one expression per sign
    pattern of the kink arguments; None when there are too many, one is not understood, or
    an argument is identically 0 in a pattern (relu(relu(x)) for x < 0: the kink function
    then takes its value *at* the kink on a whole region, which no branch stands for)."""
    kinds = tuple(getattr(sympy, k) for k in KINKS)
    kinks = list(expr.atoms(*kinds))
    arguments: list[Any] = []
    for k in kinks:
        a = _argument(sympy, k)
        if a is None:
            return None
        a = _canonical(a)
        if a not in arguments and -a not in arguments:
            arguments.append(a)
    if len(arguments) > MAX_KINKS:
        return None
    cases = []
    for signs in itertools.product((1, -1), repeat=len(arguments)):
        sign_of = dict(zip(arguments, signs))
        for a in arguments:
            on_kink = _branches(sympy, a, sign_of, kinds, len(kinks))
            if on_kink is None or not _seen_nonzero(sympy, on_kink):
                return None
        e = _branches(sympy, expr, sign_of, kinds, len(kinks))
        if e is None:
            return None
        cases.append(e)
    return cases


TEST_VALUES = ("7/10", "-13/10", "29/10", "-1/3", "11/2")  # where kink arguments are tried


def _seen_nonzero(sympy: Any, argument: Any) -> bool:
    """Whether the (smooth) kink argument is clearly non-zero at one of a few fixed points.

    Not proving it zero is not enough: ``softplus(x) − softplus(−x) − x`` is 0 everywhere,
    so ``sign`` of it is 0 on the whole line, which neither branch (+1, −1) stands for, and
    ``1 − sign(…)**2`` would be "proved" 0. An analytic argument non-zero at one point is
    zero only on a set of measure zero (of its domain's part around that point).

    Example:
        >>> import sympy
        >>> x = sympy.Symbol("x", real=True)
        >>> _seen_nonzero(sympy, x - 10), _seen_nonzero(sympy, sympy.log(1 + sympy.exp(x))
        ...     - sympy.log(1 + sympy.exp(-x)) - x)
        (True, False)
    """
    symbols = sorted(argument.free_symbols, key=lambda s: s.name)
    for shift in range(len(TEST_VALUES)):
        values = {s: sympy.Rational(TEST_VALUES[(shift + i) % len(TEST_VALUES)]) * (i + 1)
                  for i, s in enumerate(symbols)}  # fmt: skip
        value = argument.xreplace(values).evalf(30)
        if value.is_real and value.is_finite and abs(value) > 1e-12:
            return True
    return False


def _branches(sympy: Any, e: Any, sign_of: dict[Any, int], kinds: tuple[Any, ...],
              depth: int) -> Any:  # fmt: skip
    """``e`` with its kink functions replaced by their branches for ``sign_of``, outermost
    first (nested ones on the next pass); None when one is not understood."""
    for _ in range(depth + 1):
        found = e.atoms(*kinds)
        if not found:
            return e
        branch = {k: _branch(sympy, k, sign_of) for k in found}
        if any(b is None for b in branch.values()):
            return None
        e = e.xreplace(branch)
    return None


def _argument(sympy: Any, k: Any) -> Any:
    """The expression whose sign picks the branch of kink function ``k``."""
    if isinstance(k, (sympy.Heaviside, sympy.sign, sympy.Abs)):
        return k.args[0]
    if isinstance(k, (sympy.Max, sympy.Min)):
        return k.args[0] - k.args[1] if len(k.args) == 2 else None
    if isinstance(k, sympy.Piecewise) and len(k.args) == 2 and k.args[1].cond == True:  # noqa: E712
        cond = k.args[0].cond
        if isinstance(cond, (sympy.StrictGreaterThan, sympy.GreaterThan)):
            return cond.lhs - cond.rhs
        if isinstance(cond, (sympy.StrictLessThan, sympy.LessThan)):
            return cond.rhs - cond.lhs
    return None


def _canonical(a: Any) -> Any:
    return -a if a.could_extract_minus_sign() else a


def _branch(sympy: Any, k: Any, sign_of: dict[Any, int]) -> Any:
    """Kink function ``k`` where its argument has the sign the pattern gives (off the kink)."""
    a = _argument(sympy, k)
    if a is None:
        return None
    c = _canonical(a)
    s = sign_of.get(c) if c in sign_of else None
    if s is None:  # an argument that appeared only after an outer kink was replaced
        return None
    s = s if c == a else -s
    if isinstance(k, sympy.Heaviside):
        return sympy.Integer(1 if s > 0 else 0)
    if isinstance(k, sympy.sign):
        return sympy.Integer(s)
    if isinstance(k, sympy.Abs):
        return a if s > 0 else -a
    if isinstance(k, sympy.Max):
        return k.args[0] if s > 0 else k.args[1]
    if isinstance(k, sympy.Min):
        return k.args[1] if s > 0 else k.args[0]
    return k.args[0].expr if s > 0 else k.args[1].expr  # Piecewise: first branch where a > 0


def _smooth_zero(sympy: Any, difference: Any, simplify: bool = True) -> bool:
    """Zero as a rational function of the function applications (exp(·), log(·), …) taken
    as independent symbols — sound: a zero here is a zero everywhere — after writing tanh
    and sin, cos through exp, exp(a + b) as exp(a)·exp(b) and exp(ku) as a power of one
    symbol; small leftovers get one ``simplify``."""
    if difference == 0:
        return True
    if sympy.count_ops(difference) > MAX_EXPAND_OPS:
        return False
    e = sympy.expand_power_exp(difference.rewrite(sympy.exp))
    e = e.xreplace(_exp_powers(sympy, e))
    atoms: dict[Any, Any] = {}
    atomized = e.replace(
        lambda u: isinstance(u, sympy.Function) or (u.is_Pow and not u.exp.is_Integer),
        lambda u: atoms.setdefault(u, sympy.Dummy(f"a{len(atoms)}")),
    )
    numerator = sympy.together(atomized).as_numer_denom()[0]
    if sympy.expand(numerator) == 0:
        return True
    return simplify and _small(sympy, difference) and sympy.simplify(difference) == 0


def _exp_powers(sympy: Any, e: Any) -> dict[Any, Any]:
    """exp(−u), exp(u) and exp(2u) as powers of one symbol a: 1/a, a, a², so that the
    identities between them are seen (tanh(r) = 2σ(2r) − 1); only for integer ratios up to
    8, so the polynomial stays small."""
    groups: dict[Any, list[Any]] = {}
    for u in e.atoms(sympy.exp):
        coefficient, term = u.args[0].as_coeff_Mul()
        groups.setdefault(term, []).append(coefficient)
    out: dict[Any, Any] = {}
    for term, coefficients in groups.items():
        g = abs(coefficients[0])
        for c in coefficients[1:]:
            g = sympy.gcd(g, c)
        if g != 0 and all((c / g).is_Integer and abs(c / g) <= 8 for c in coefficients):
            a = sympy.Dummy("e")
            for c in coefficients:
                out[sympy.exp(c * term)] = a ** (c / g)
    return out
