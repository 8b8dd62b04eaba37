"""Run the benchmark suite: ``python -m benchmarks [--quick] [--reps N] [--out FILE]``.

Engines are interleaved within each repetition and medians reported, so a slow moment of
a shared machine hits every engine alike. Writes a Markdown table plus the raw JSON
(machine, versions, date) to ``docs/performance.md`` unless ``--quick`` (then only if
``--out`` is given).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from autograd_bp._io import atomic_write_text
from autograd_bp.core import COMPILED

from . import engines as E

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("autograd_bp", "micrograd", "torch")
# The memory table's row for autograd_bp's node when its Python source runs (the fallback).
PURE_ROW = "autograd_bp, Python source"


def have(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def in_big_stack(fn: Callable[[], Any], recursion_limit: int) -> Any:
    """Run fn in a thread with a large C stack and a raised recursion limit (micrograd's
    recursive topological sort needs both for deep graphs)."""
    result: dict[str, Any] = {}
    old = sys.getrecursionlimit()
    threading.stack_size(1 << 30)
    sys.setrecursionlimit(recursion_limit)

    def run() -> None:
        try:
            result["value"] = fn()
        except BaseException as e:  # reported, not raised: the suite goes on
            result["error"] = e

    try:
        t = threading.Thread(target=run)
        t.start()
        t.join()
    finally:
        sys.setrecursionlimit(old)
        threading.stack_size(0)
    if "error" in result:
        raise result["error"]
    return result.get("value")


# The three ways the cyclic garbage collector is set while a workload is timed, the same
# for every engine: each table comparing engines with micrograd (or microgpt) shows all three.
SETTINGS = {
    "off": "collector off (the interpreter alone)",
    "paused": "collector paused, one collection per step (timed)",
    "on": "default settings (collector on)",
}


def timed(fn: Callable[[], Any], gc_on: bool = False, setting: str | None = None
          ) -> tuple[float, Any]:  # fmt: skip
    """Seconds and result of fn(), the collector set as ``setting`` says (one of
    ``SETTINGS``; ``gc_on=True`` is ``"on"``). "off" holds it off while fn runs, for every
    engine alike (the loops collect between runs, outside the timed region): the
    interpreter's work alone. "paused" holds it off and collects once when fn (one step)
    is done, inside the timed region, as a program that pauses it around each training step
    does. "on" leaves it running, as in a program that never touches it, so each engine
    also pays for the collections its allocations trigger."""
    setting = setting or ("on" if gc_on else "off")
    if setting not in SETTINGS:
        raise ValueError(f"timed: setting must be one of {', '.join(SETTINGS)}, got {setting!r}")
    was_enabled = gc.isenabled()
    if setting == "on":
        gc.enable()
    else:
        gc.disable()
    try:
        start = time.perf_counter()
        value = fn()
        if setting == "paused":
            gc.collect()
        return time.perf_counter() - start, value
    finally:
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


# ----------------------------------------------------------------------------- workloads


def bench_chain(n: int, reps: int, engines: list[str]) -> dict[str, Any]:
    """Build x → x·1.0001 + 0.0001 n times, then backward: forward and backward timed with
    the collector off, and the total again with it on (as users run it)."""
    builders = {"autograd_bp": E.chain_ours, "micrograd": E.chain_micrograd, "torch": E.chain_torch}
    fwd: dict[str, list[float]] = {e: [] for e in engines}
    bwd: dict[str, list[float]] = {e: [] for e in engines}
    with_gc: dict[str, list[float]] = {e: [] for e in engines}
    paused: dict[str, list[float]] = {e: [] for e in engines}
    notes: dict[str, str] = {}
    if "micrograd" in engines:  # at default settings first: the documented failure
        x, y = E.chain_micrograd(n)
        try:
            y.backward()
        except RecursionError:
            notes["micrograd"] = (
                f"RecursionError at the default recursion limit ({sys.getrecursionlimit()}); "
                "timed with a raised limit"
            )
        del x, y
        gc.collect()
    for _ in range(reps):
        for e in engines:

            def run(e: str = e) -> tuple[float, float, float, float]:
                t_f, (x, y) = timed(lambda: builders[e](n))
                t_b, _ = timed(y.backward)
                del x, y
                gc.collect()

                def both() -> None:  # one step: build, backward, drop the graph
                    builders[e](n)[1].backward()

                t_paused = timed(both, setting="paused")[0]
                gc.collect()
                return t_f, t_b, t_paused, timed(both, setting="on")[0]

            try:
                if e == "micrograd":
                    t_f, t_b, t_p, t_gc = in_big_stack(run, max(10_000, 4 * n))
                else:
                    t_f, t_b, t_p, t_gc = run()
                fwd[e].append(t_f)
                bwd[e].append(t_b)
                paused[e].append(t_p)
                with_gc[e].append(t_gc)
            except Exception as ex:  # noqa: BLE001 - reported as a failure
                notes[e] = f"failed: {type(ex).__name__}: {ex}"[:200]
            gc.collect()
    return {
        "nodes": 2 * n,
        "forward": {e: statistics.median(v) for e, v in fwd.items() if v},
        "backward": {e: statistics.median(v) for e, v in bwd.items() if v},
        "total_paused": {e: statistics.median(v) for e, v in paused.items() if v},
        "total_gc_on": {e: statistics.median(v) for e, v in with_gc.items() if v},
        "notes": notes,
    }


def _close(a: list[float], b: list[float], rel: float = 1e-12) -> float:
    """Largest relative difference between two gradient lists."""
    return max(abs(x - y) / max(abs(x), abs(y), 1e-300) if x != y else 0.0 for x, y in zip(a, b))


def _close_scaled(a: list[float], b: list[float]) -> float:
    """Largest difference between two gradient vectors, relative to the largest gradient
    (a sum taken in another order differs in its last bits, also where it is near 0)."""
    scale = max(max(map(abs, b), default=0.0), 1e-300)
    return max((abs(x - y) / scale for x, y in zip(a, b)), default=0.0)


def bench_dag(n: int, reps: int, engines: list[str]) -> dict[str, Any]:
    spec = E.dag_spec(n)
    build = {"autograd_bp": E.dag_ours, "micrograd": E.dag_micrograd, "torch": E.dag_torch}
    times: dict[str, list[float]] = {e: [] for e in engines}
    with_gc: dict[str, list[float]] = {e: [] for e in engines}
    paused: dict[str, list[float]] = {e: [] for e in engines}
    grads: dict[str, list[float]] = {}
    for _ in range(reps):
        for e in engines:

            def run(e: str = e) -> tuple[float, float, float, list[float]]:
                def once() -> list[Any]:
                    leaves, out = build[e](spec)
                    out.backward()
                    return leaves

                elapsed, leaves = timed(once)
                grads = [0.0 if v.grad is None else float(v.grad) for v in leaves]
                del leaves
                gc.collect()
                t_paused = timed(once, setting="paused")[0]
                gc.collect()
                return elapsed, t_paused, timed(once, setting="on")[0], grads

            t, t_p, t_gc, g = in_big_stack(run, 4 * n) if e == "micrograd" else run()
            times[e].append(t)
            paused[e].append(t_p)
            with_gc[e].append(t_gc)
            grads[e] = g
            gc.collect()
    agreement = {e: _close(grads["autograd_bp"], grads[e]) for e in grads if e != "autograd_bp"}
    return {"nodes": n + 100, "seconds": {e: statistics.median(v) for e, v in times.items()},
            "seconds_paused": {e: statistics.median(v) for e, v in paused.items()},
            "seconds_gc_on": {e: statistics.median(v) for e, v in with_gc.items()},
            "max_rel_grad_diff": agreement}  # fmt: skip


def bench_mlp(reps: int, engines: list[str]) -> dict[str, Any]:
    spec = E.mlp_spec()
    makers = {"autograd_bp": E.mlp_ours, "micrograd": E.mlp_micrograd,
              "torch": E.mlp_torch_scalar, "torch batched": E.mlp_torch_batched,
              "autograd_bp compiled": E.mlp_compiled,
              NN_ON_OURS: E.mlp_micrograd_nn}  # fmt: skip
    names = [*engines, "autograd_bp compiled"] + (["torch batched"] if "torch" in engines else [])
    if "micrograd" in engines:  # micrograd's own nn.py, its import swapped for our Value
        names.append(NN_ON_OURS)
    steps, grads = {}, {}
    for e in names:
        _, step, get_grads = makers[e](spec)
        step()  # the first step's gradients are at the shared starting weights
        grads[e] = get_grads()
        steps[e] = step
    # Fast steps are timed as a run of consecutive steps (as in a training loop), so one
    # step's cold caches after another engine's run are not all that is measured.
    seconds = _interleaved(steps, reps)
    dynamic = {e: steps[e] for e in [*engines, NN_ON_OURS] if e in steps}
    seconds_paused = _interleaved(dynamic, reps, setting="paused")
    seconds_gc_on = _interleaved(dynamic, reps, setting="on")
    agreement = {e: _close(grads["autograd_bp"], grads[e]) for e in names if e != "autograd_bp"}
    return {"seconds": seconds, "seconds_paused": seconds_paused, "seconds_gc_on": seconds_gc_on,
            "max_rel_grad_diff": agreement}  # fmt: skip


NN_ON_OURS = "micrograd nn.py on autograd_bp"  # micrograd's nn.py, its Value ours


_MEMORY_PROBE = """
import gc, json, sys, tracemalloc
sys.setrecursionlimit(10**7)
sys.path.insert(0, {root!r})
from benchmarks import engines as E
n = {n}
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
gc.collect()
if {trace}:
    tracemalloc.start()
    x, y = E.chain_{engine}(n)
    print(json.dumps(tracemalloc.get_traced_memory()[0]))
else:  # RSS without tracemalloc, whose own bookkeeping would be counted otherwise
    before = rss()
    x, y = E.chain_{engine}(n)
    print(json.dumps(rss() - before))
"""


def bench_memory(n: int, engines: list[str]) -> dict[str, Any]:
    """Bytes per graph node while a chain of n steps (2n op nodes) is held, each measured
    in a fresh process: Python allocations (tracemalloc) and resident memory (RSS)."""
    out: dict[str, Any] = {}
    names = {"autograd_bp": "ours", "micrograd": "micrograd", "torch": "torch"}
    runs = [(e, names[e], {}) for e in engines]
    if "autograd_bp" in engines and COMPILED:  # the fallback's node too: the same source
        runs.insert(1, (PURE_ROW, "ours", {"AUTOGRAD_BP_PURE": "1"}))
    for e, engine, env in runs:
        measured = {}
        for key, trace in (("tracemalloc_per_node", True), ("rss_per_node", False)):
            code = _MEMORY_PROBE.format(root=str(ROOT), n=n, engine=engine, trace=trace)
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  timeout=600, env=dict(os.environ, **env))  # fmt: skip
            if proc.returncode != 0:
                measured = {"error": proc.stderr.strip().splitlines()[-1:]}
                break
            measured[key] = json.loads(proc.stdout) / (2 * n)
        out[e] = measured
    return out


def bench_digits(n_examples: int | None, reps: int, engines: list[str]) -> dict[str, Any]:
    data = E.digits_data(n_examples)
    run = {"autograd_bp": E.digits_epoch_ours, "micrograd": E.digits_epoch_micrograd,
           "torch": E.digits_epoch_torch}  # fmt: skip
    times: dict[str, list[float]] = {e: [] for e in engines}
    for _ in range(reps):
        for e in engines:
            times[e].append(timed(lambda e=e: run[e](data))[0])
            gc.collect()
    return {
        "examples": len(data[0]),
        "seconds": {e: statistics.median(v) for e, v in times.items()},
    }


def _run_length(step: Callable[[], Any], target: float = 0.05) -> int:
    """How many consecutive steps make one timed run of about ``target`` seconds."""
    return max(1, round(target / max(timed(step)[0], 1e-6)))


def _interleaved(steps: dict[str, Callable[[], Any]], reps: int, gc_on: bool = False,
                 setting: str | None = None) -> dict[str, float]:  # fmt: skip
    """Median seconds per step of each engine, engines interleaved within each repetition,
    each timed over a run of consecutive steps (as in a training loop); under ``"paused"``
    each step is followed by one collection, timed."""
    setting = setting or ("on" if gc_on else "off")
    runs = {e: _run_length(step) for e, step in steps.items()}
    times: dict[str, list[float]] = {e: [] for e in steps}
    for _ in range(reps):
        for e, step in steps.items():

            def run(step: Callable[[], Any] = step, n: int = runs[e]) -> None:
                for _ in range(n):
                    step()
                    if setting == "paused":
                        gc.collect()

            # "paused" collects inside run, after each step: timed as "off" around it
            times[e].append(timed(run, setting="off" if setting == "paused" else setting)[0]
                            / runs[e])  # fmt: skip
            gc.collect()
    return {e: statistics.median(v) for e, v in times.items()}


def bench_scaling(widths: list[int], batches: list[int], reps: int) -> list[dict[str, Any]]:
    """MLP(3, [w, w, 1]) tanh, squared loss, forward + backward: the compiled tape (flat
    parameters, and with .data/.grad traffic) against PyTorch batched, same thread count."""
    rows = []
    for w in widths:
        for b in batches:
            print(f"  width {w}, batch {b} …", file=sys.stderr, flush=True)
            step, grads, net, params = E.scaling_ours(w, b)
            step_sync = E.scaling_ours(w, b, sync=True)[0]
            steps = {"compiled": step, "compiled (Values synced)": step_sync}
            row: dict[str, Any] = {"width": w, "batch": b}
            if have("torch"):
                t_step, t_grads = E.scaling_torch(net, b)
                steps["torch batched"] = t_step
                step()
                t_step()
                want = t_grads()
                row["max_rel_grad_diff"] = _close_scaled(grads(), [want[id(p)] for p in params])
                steps["numpy matmul"], steps["torch matmul"] = E.scaling_gemm(w, b)
            row["seconds"] = _interleaved(steps, reps)
            rows.append(row)
            del steps, step, step_sync, net, params
            gc.collect()
    return rows


def bench_random_graph(n_ops: int, n_examples: int, reps: int) -> dict[str, Any]:
    """A fixed random graph of n_ops scalar ops replayed one example at a time."""
    spec = E.random_graph(n_ops)
    dynamic, compiled = E.random_graph_runs(spec, n_examples)
    agreement = _close(dynamic(), compiled())
    seconds = _interleaved({"dynamic": dynamic, "compiled": compiled}, reps)
    per_op = {e: t / (n_examples * n_ops) for e, t in seconds.items()}
    return {"ops": n_ops, "examples": n_examples, "seconds_per_op": per_op,
            "max_rel_grad_diff": agreement}  # fmt: skip


def _three_settings(runs: dict[str, Callable[[Callable[[], None] | None], Any]], reps: int,
                    big_stack: tuple[str, ...] = ()) -> tuple[dict[str, dict[str, float]], dict]:
    """Time each engine's ``run(after_step)`` under the three collector settings, engines
    interleaved within each repetition: ({setting: {engine: median seconds}}, {engine: what
    its last run returned}). ``after_step`` is the collection "paused" makes after each step;
    an engine named in ``big_stack`` runs with a deep recursion limit (a recursive backward)."""
    times: dict[str, dict[str, list[float]]] = {s: {e: [] for e in runs} for s in SETTINGS}
    results: dict[str, Any] = {}
    for _ in range(reps):
        for setting in SETTINGS:
            for e, run in runs.items():
                after = gc.collect if setting == "paused" else None

                def fn(run: Any = run, after: Any = after) -> Any:
                    return run(after)

                # "paused" collects inside run, after each step: timed as "off" around it
                outer = "off" if setting == "paused" else setting
                def measured(fn: Any = fn, outer: str = outer) -> tuple[float, Any]:
                    return timed(fn, setting=outer)

                deep = e in big_stack  # a recursive backward: a deep recursion limit
                t, results[e] = in_big_stack(measured, 1_000_000) if deep else measured()
                times[setting][e].append(t)
                gc.collect()
    return ({s: {e: statistics.median(v) for e, v in t.items()} for s, t in times.items()},
            results)  # fmt: skip


def bench_transformer(steps: int, reps: int, engines: list[str]) -> dict[str, Any]:
    """The tiny transformer of examples/transformer.py trained for ``steps`` Adam steps."""
    make = {"autograd_bp": E.transformer_ours, "micrograd": E.transformer_micrograd}
    runs = {e: (lambda after, e=e: make[e](steps, after)) for e in engines if e in make}
    seconds, losses = _three_settings(runs, reps, big_stack=("micrograd",))
    diff = {e: max(abs(a - b) / abs(b) for a, b in zip(losses[e], losses["autograd_bp"]))
            for e in losses if e != "autograd_bp"}  # fmt: skip
    return {"steps": steps, "seconds": seconds["off"], "seconds_paused": seconds["paused"],
            "seconds_gc_on": seconds["on"], "losses": losses,
            "max_rel_loss_diff": diff}  # fmt: skip


MICROGPT = "microgpt-style Value"
BARE = "autograd_bp, bare compiled nodes"


def bench_microgpt(steps: int, reps: int) -> dict[str, Any]:
    """A microgpt-style model (``benchmarks/engines.py``) on our Value and on a
    microgpt-style Value, ``steps`` SGD steps each, the very same model code."""
    spec = E.gpt_spec(steps)

    def runner(model: Callable[[], Any]) -> Callable[[Any], list[float]]:
        def run(after: Any) -> list[float]:
            step, losses = model()
            for _ in range(steps):
                step()
                if after is not None:
                    after()
            return losses

        return run

    runs = {"autograd_bp": runner(lambda: E.gpt_model(spec, E.Value)),
            MICROGPT: runner(lambda: E.gpt_model(spec, E.MicroGPTValue))}
    if COMPILED:  # what Value's being a Python subclass of the compiled node costs
        runs[BARE] = runner(lambda: E.gpt_model_bare(spec))
    seconds, losses = _three_settings(runs, reps, big_stack=(MICROGPT,))
    diff = max(abs(a - b) / abs(b) for a, b in zip(losses[MICROGPT], losses["autograd_bp"]))
    if BARE in losses and losses[BARE] != losses["autograd_bp"]:
        raise AssertionError(f"{BARE}: other losses than Value's")
    return {"steps": steps, "seconds": seconds["off"], "seconds_paused": seconds["paused"],
            "seconds_gc_on": seconds["on"], "losses": losses,
            "max_rel_loss_diff": {MICROGPT: diff}}  # fmt: skip


def bench_attention_tape(quick: bool, reps: int) -> list[dict[str, Any]] | None:
    """The compiled tape's causal self-attention rows, from ``benchmarks/attention_tape.py``
    when that module is there (it is written beside the tape's attention lowering)."""
    import importlib.util

    if importlib.util.find_spec("benchmarks.attention_tape") is None:
        return None
    from . import attention_tape

    return attention_tape.attention_rows(quick, reps)


# ------------------------------------------------------------------------------- report


def ratio(other: float | None, ours: float | None) -> str:
    if other is None or ours is None or ours == 0:
        return "—"
    return f"{other / ours:.1f}×"


def fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x * 1000:.2f} ms" if x < 1 else f"{x:.2f} s"


def table(results: dict[str, Any]) -> str:
    rows = ["| workload | autograd_bp | micrograd | torch 0-d | micrograd / ours | torch / ours |",
            "|---|---:|---:|---:|---:|---:|"]  # fmt: skip

    def row(name: str, t: dict[str, float], extra: str = "") -> None:
        ours = t.get("autograd_bp")
        rows.append(f"| {name}{extra} | {fmt_s(ours)} | {fmt_s(t.get('micrograd'))} | "
                    f"{fmt_s(t.get('torch'))} | {ratio(t.get('micrograd'), ours)} | "
                    f"{ratio(t.get('torch'), ours)} |")  # fmt: skip

    for n, c in results.get("chain", {}).items():
        total = {e: c["forward"][e] + c["backward"][e] for e in c["forward"] if e in c["backward"]}
        row(f"chain {int(n):,} steps: forward", c["forward"])
        row(f"chain {int(n):,} steps: backward", c["backward"])
        nodes_per_s = 2 * int(n) / total["autograd_bp"] if "autograd_bp" in total else 0
        row(f"chain {int(n):,} steps: total", total, f" ({nodes_per_s / 1e6:.2f} M nodes/s ours)")
    if "dag" in results:
        d = results["dag"]
        row(f"random DAG, {d['nodes']:,} nodes, forward+backward", d["seconds"])
    if "mlp" in results:
        row("MLP(2, [16, 16, 1]) step, 100 points", results["mlp"]["seconds"])
    if "digits" in results:
        g = results["digits"]
        row(f"digits MLP(64, [32, 10]) epoch, {g['examples']:,} examples", g["seconds"])
    lines = ["\n".join(rows), ""]
    if "mlp" in results:
        lines.append(compiled_mlp_line(results["mlp"]["seconds"]))
    if "compiled_training" in results:
        c = results["compiled_training"]
        lines.append(f"Digits `MLP(64, [32, 10])`, softmax cross-entropy, 30 epochs of "
                     f"mini-batches of 32 on the compiled tape: {c['seconds']:.1f} s in all, "
                     f"test accuracy {c['test_accuracy']:.3f}.")  # fmt: skip
    if "memory" in results:
        lines += ["", memory_table(results["memory"]), ""]
    notes = []
    for n, c in results.get("chain", {}).items():
        for e, note in c["notes"].items():
            notes.append(f"- chain {int(n):,}, {e}: {note}")
    for name in ("dag", "mlp"):
        for e, diff in results.get(name, {}).get("max_rel_grad_diff", {}).items():
            notes.append(f"- {name}: gradients, autograd_bp vs {e}: max relative difference "
                         f"{diff:.1e}{' ✓' if diff <= 1e-12 else ' ✗'}")  # fmt: skip
    lines += notes
    return "\n".join(lines)


def compiled_mlp_line(t: dict[str, float]) -> str:
    """One sentence: the MLP step compiled, against the dynamic engine and batched PyTorch."""
    compiled = t["autograd_bp compiled"]
    line = (f"The same MLP step compiled (`autograd_bp.compiled`: traced once, the batch replayed "
            f"with numpy): {fmt_s(compiled)}, {t['autograd_bp'] / compiled:.1f}× faster than "
            "the dynamic engine")  # fmt: skip
    if "torch batched" in t:
        line += (f"; written batched in PyTorch: {fmt_s(t['torch batched'])} "
                 f"(compiled / torch batched = {compiled / t['torch batched']:.2f})")  # fmt: skip
    return line + "."


def memory_table(mem: dict[str, Any]) -> str:
    """Bytes per node for each engine, as Python allocations and as resident memory."""
    rows = ["| bytes per node (chain held) | Python allocations (tracemalloc) | RSS |",
            "|---|---:|---:|"]  # fmt: skip
    for e, v in mem.items():
        if "error" in v:
            rows.append(f"| {e} | failed: {v['error']} | |")
        else:
            rows.append(f"| {e} | {v['tracemalloc_per_node']:.0f} | {v['rss_per_node']:.0f} |")
    return "\n".join(rows)


def scaling_table(rows: list[dict[str, Any]]) -> str:
    """Compiled tape vs PyTorch batched, per width and batch."""
    out = ["| width | batch | compiled | compiled, Values synced | torch batched | "
           "compiled / torch | hidden-layer matmul alone, numpy / torch | "
           "gradients (max diff / max) |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        t = r["seconds"]
        torch_t = t.get("torch batched")
        rel = f"{t['compiled'] / torch_t:.2f}" if torch_t else "—"
        blas = f"{t['numpy matmul'] / t['torch matmul']:.2f}" if "torch matmul" in t else "—"
        diff = f"{r['max_rel_grad_diff']:.1e}" if "max_rel_grad_diff" in r else "—"
        synced = fmt_s(t["compiled (Values synced)"])
        out.append(f"| {r['width']} | {r['batch']:,} | {fmt_s(t['compiled'])} | {synced} | "
                   f"{fmt_s(torch_t)} | {rel} | {blas} | {diff} |")  # fmt: skip
    return "\n".join(out)


def scaling_summary(rows: list[dict[str, Any]]) -> str:
    """The issue's targets, checked against the measured rows."""
    pairs = [(r["width"], r["batch"], r["seconds"]["compiled"] / r["seconds"]["torch batched"])
             for r in rows if "torch batched" in r["seconds"]]  # fmt: skip
    if not pairs:
        return "PyTorch is not installed: no comparison."
    within = [p for p in pairs if p[2] <= 1.5]
    small = [p for p in pairs if p[1] <= 32]
    faster = [p for p in small if p[2] < 1.0]
    worst = max(pairs, key=lambda p: p[2])
    best = min(pairs, key=lambda p: p[2])
    text = (f"Compiled / PyTorch time: within 1.5× in {len(within)} of {len(pairs)} "
            f"configurations (worst {worst[2]:.2f} at width {worst[0]}, batch {worst[1]:,}; "
            f"best {best[2]:.2f} at width {best[0]}, batch {best[1]:,}); faster than PyTorch in "
            f"{len(faster)} of the {len(small)} configurations with batch ≤ 32.")
    blas = {(r["width"], r["batch"]): r["seconds"]["numpy matmul"] / r["seconds"]["torch matmul"]
            for r in rows if "torch matmul" in r["seconds"]}  # fmt: skip
    missed = [p for p in pairs if p[2] > 1.5 or (p[1] <= 32 and p[2] >= 1.0)]
    if missed and blas:
        text += " Where a target is missed, the same matrix product alone, numpy / PyTorch: " + \
            "; ".join(f"width {w}, batch {b:,}: {ratio:.2f} (matmul alone {blas[(w, b)]:.2f})"
                      for w, b, ratio in missed) + "."  # fmt: skip
    return text


def plot_scaling(rows: list[dict[str, Any]], path: Path, widths: tuple[int, ...] = (16, 64, 256)
                 ) -> Path | None:  # fmt: skip
    """Seconds per forward + backward against batch size, log-log, ours vs PyTorch."""
    from autograd_bp.nn.plots import _pyplot, _save

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    drawn = False
    for k, w in enumerate(widths):
        r = [x for x in rows if x["width"] == w]
        if not r:
            continue
        b = [x["batch"] for x in r]
        color = f"C{k}"
        ax.loglog(b, [x["seconds"]["compiled"] for x in r], "o-", color=color,
                  label=f"autograd_bp compiled, width {w}")  # fmt: skip
        if all("torch batched" in x["seconds"] for x in r):
            ax.loglog(b, [x["seconds"]["torch batched"] for x in r], "s--", color=color,
                      label=f"PyTorch batched, width {w}")  # fmt: skip
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("batch size")
    ax.set_ylabel("seconds per forward + backward")
    ax.set_title("MLP(3, [w, w, 1]), tanh, squared loss, float64, one thread")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    return _save(fig, path)


def _comparisons(results: dict[str, Any]) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(workload, ours, theirs, theirs' name, {setting: {engine: seconds}}) for every
    comparison timed under the three collector settings."""
    rows = []
    chain = results.get("chain", {})
    sizes = [int(n) for n, c in chain.items() if "total_paused" in c and int(n) <= 100_000]
    if sizes:
        n = max(sizes)
        c = chain[n] if n in chain else chain[str(n)]
        off = {e: c["forward"][e] + c["backward"][e] for e in c["forward"] if e in c["backward"]}
        rows.append((f"chain, {n:,} steps", "autograd_bp", "micrograd", "micrograd",
                     {"off": off, "paused": c["total_paused"], "on": c["total_gc_on"]}))
    for key, name, ours, theirs, label in (
        ("dag", "random DAG, {nodes:,} nodes", "autograd_bp", "micrograd", "micrograd"),
        ("mlp", "MLP(2, [16, 16, 1]) step", "autograd_bp", "micrograd", "micrograd"),
        ("mlp", "MLP step: micrograd's own nn.py on autograd_bp's Value", NN_ON_OURS,
         "micrograd", "micrograd"),
        ("transformer", "transformer, {steps} step(s)", "autograd_bp", "micrograd",
         "micrograd design + exp/log"),
        ("microgpt", "microgpt-style model, {steps} step(s)", "autograd_bp", MICROGPT,
         MICROGPT),
    ):  # fmt: skip
        r = results.get(key, {})
        if "seconds_paused" not in r or ours not in r["seconds"] or theirs not in r["seconds"]:
            continue
        rows.append((name.format(nodes=r.get("nodes", 0), steps=r.get("steps", 0)), ours,
                     theirs, label, {"off": r["seconds"], "paused": r["seconds_paused"],
                                     "on": r["seconds_gc_on"]}))  # fmt: skip
    return rows


def settings_table(results: dict[str, Any]) -> str:
    """autograd_bp against micrograd and microgpt under the three collector settings."""
    rows = _comparisons(results)
    if not rows:
        return ""
    head = "| workload | against |" + "".join(
        f" {label}: ours | theirs | theirs / ours |" for label in SETTINGS.values())
    out = ["## Against micrograd and microgpt, three settings of the garbage collector", "",
           head, "|---|---|" + "---:|---:|---:|" * len(SETTINGS)]  # fmt: skip
    for name, ours, theirs, label, t in rows:
        cells = "".join(f" {fmt_s(t[s].get(ours))} | {fmt_s(t[s].get(theirs))} | "
                        f"{ratio(t[s].get(theirs), t[s].get(ours))} |" for s in SETTINGS)
        out.append(f"| {name} | {label} |{cells}")
    return "\n".join(out)


# The issue's targets (issue 26), judged on the collector-off column unless said otherwise.
TARGETS = (("chain", 6.0, ("off",)), ("random DAG", 4.0, ("off",)),
           ("MLP(2, [16, 16, 1]) step", 6.0, ("off",)),
           ("MLP step: micrograd's own", 2.0, ("off",)),
           ("microgpt-style model", 4.0, ("off", "on")))  # fmt: skip


def targets_summary(results: dict[str, Any]) -> str:
    """Each target against what was measured: met or missed, with the ratio."""
    parts = []
    for name, ours, theirs, label, t in _comparisons(results):
        for prefix, goal, settings in TARGETS:
            if not name.startswith(prefix):
                continue
            for s in settings:
                if ours in t[s] and theirs in t[s]:
                    r = t[s][theirs] / t[s][ours]
                    parts.append(f"{name} against {label}, {SETTINGS[s]}: {r:.1f}× "
                                 f"({'meets' if r >= goal else 'misses'} ≥ {goal:g}×)")  # fmt: skip
    if not parts:
        return ""
    return ("Targets (issue 26): " + "; ".join(parts) + ". With the collector off what remains "
            "is the interpreter's work per node: autograd_bp builds a node in one method "
            "that runs the op table's code inline, folds a number operand into its node "
            "(micrograd and microgpt wrap it as a node of its own), stores each derivative as "
            "a number instead of a closure, and sorts the graph with an explicit stack "
            "instead of recursion, marking each node it reaches instead of keeping a set.")


def node_core_text(results: dict[str, Any]) -> str:
    """What the report says about the compiled node core, and which one this run timed."""
    core = results.get("machine", {}).get("node_core", "pure")
    ran = ("This run timed the compiled core." if core == "compiled" else
           "**This run timed the pure-Python core** (no compiled module was built, or "
           "`AUTOGRAD_BP_PURE=1` was set): the ratios above are the interpreter's alone.")
    return (
        "The node core — `autograd_bp/core/node.py`: a node's fields, the op table's methods "
        "(rendered from the table's code into that file), the backward order and the chain "
        "rule — is compiled by mypyc when the package is installed with a C compiler at hand "
        "(`setup.py`); without one the same source runs as Python, and a test runs both and "
        "compares every gradient bit for bit. `Value` is a Python subclass of the compiled "
        "node, so attributes attached to a node, subclassing, pickling and `register` work "
        "as before. `AUTOGRAD_BP_PURE=1` runs the Python source; `autograd_bp.core.COMPILED` "
        f"says which runs. {ran} `python -m benchmarks.cores` times the two cores against "
        "each other. The backward walk marks each node it reaches with the walk's number "
        "(one field, 8 bytes a node) instead of keeping a set of the nodes reached, and a "
        "local derivative an op computes by plain arithmetic (`x * y`'s, `tanh`'s) is kept "
        "as a number of the node's own (two fields, 16 bytes a node), so the compiled core "
        "makes no float object for it; the "
        f"memory table's *{PURE_ROW}* row is the same node when the source runs, where "
        "CPython also gives each new object of a class with a `__dict__` an array for its "
        "attributes' values."
    )


def _steps(n: int) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"


def extra_lines(results: dict[str, Any]) -> list[str]:
    """The random-graph µs/op table and the transformer row, each when it was run."""
    lines: list[str] = []
    if "random_graph" in results:
        lines += random_graph_lines(results["random_graph"])
    if "transformer" in results:
        lines += transformer_lines(results["transformer"])
    if "microgpt" in results:
        lines += microgpt_lines(results["microgpt"])
    return lines


def microgpt_lines(g: dict[str, Any]) -> list[str]:
    """What the microgpt-style row runs, and that both engines gave the same losses."""
    sec, diff = g["seconds"], g["max_rel_loss_diff"][MICROGPT]
    return ["", f"The microgpt-style row ({_steps(g['steps'])} of plain SGD): a one-layer "
            "model in the style of Karpathy's microgpt (token and position embeddings, "
            "RMSNorm, 4-head causal attention over 8 positions with keys and values cached, "
            "a ReLU MLP, softmax cross-entropy), written once with operators only "
            "(`benchmarks/engines.py`), run on autograd_bp's `Value` and on a microgpt-style "
            "`Value` (children and local derivatives kept in the node, no closures, a number "
            "operand wrapped as a node, a recursive topological sort). Collector off: "
            f"{fmt_s(sec.get('autograd_bp'))} against {fmt_s(sec.get(MICROGPT))} "
            f"({ratio(sec.get(MICROGPT), sec.get('autograd_bp'))}); the losses agree to a "
            f"relative {diff:.1e}{' ✓' if diff <= 1e-9 else ' ✗'}."] + bare_lines(g)  # fmt: skip


def bare_lines(g: dict[str, Any]) -> list[str]:
    """The same model on nodes of the compiled type itself: what the subclass costs."""
    if BARE not in g["seconds"]:
        return []
    cells = []
    for key, setting in (("seconds", "off"), ("seconds_gc_on", "on")):
        t = g[key]
        cells.append(f"{SETTINGS[setting]}: Value {fmt_s(t['autograd_bp'])}, bare nodes "
                     f"{fmt_s(t[BARE])}, microgpt-style {fmt_s(t[MICROGPT])} — "
                     f"{ratio(t[MICROGPT], t['autograd_bp'])} with Value, "
                     f"{ratio(t[MICROGPT], t[BARE])} with bare nodes")  # fmt: skip
    return ["", "The same model on *bare compiled nodes* (`benchmarks/engines.py`, "
            "`gpt_model_bare`): every node an instance of the compiled class itself, "
            "`core.node.Node`, instead of `Value`, the Python subclass of it that users get — "
            "the same ops, walk and chain rule, the same losses. " + "; ".join(cells) + ". "
            "The difference is what a Python subclass costs at every node: its allocation "
            "and deallocation through CPython's generic routines and a subtype check "
            "wherever compiled code takes a node. mypyc gives a compiled class no "
            "`__dict__` and refuses `__getattr__`/`__setattr__` on a class that allows "
            "Python subclasses, so Value stays a subclass as long as attributes of one's own "
            "(`p.m`, `p.v`) and subclassing are kept."]


def random_graph_lines(g: dict[str, Any]) -> list[str]:
    """The random-graph µs/op table and its verdict."""
    lines = []
    per_op = g["seconds_per_op"]
    lines += ["", f"A fixed random graph of {g['ops']:,} scalar ops (+, −, ×, tanh, sigmoid, "
              f"sin on random earlier nodes), forward + backward, one example at a time "
              f"({g['examples']} examples):", "",
              "| engine | µs per op |", "|---|---:|",
              f"| autograd_bp dynamic (graph built per example) | {per_op['dynamic'] * 1e6:.3f} |",
              f"| autograd_bp compiled (`compile`, batch of 1) | {per_op['compiled'] * 1e6:.3f} |",
              "", f"Gradients, dynamic vs compiled: max relative difference "
              f"{g['max_rel_grad_diff']:.1e}. Compiled: {per_op['compiled'] * 1e6:.3f} µs/op "
              f"({'within' if per_op['compiled'] <= 0.4e-6 else 'above'} the 0.4 µs/op target); "
              f"{per_op['dynamic'] / per_op['compiled']:.1f}× the dynamic engine."]  # fmt: skip
    return lines


def transformer_lines(t: dict[str, Any]) -> list[str]:
    """The transformer row: ours against micrograd's design, same model, same losses."""
    sec = t["seconds"]
    rows = ["", f"The tiny transformer of `examples/transformer.py` ({_steps(t['steps'])} of "
            "Adam, each on one 8-character window). micrograd has no `exp` or `log`: its "
            "column runs micrograd's design (a closure per node) with those two added "
            "(`benchmarks/engines.py`), on the very same model code:", "",
            "| workload | autograd_bp | micrograd design + exp/log | micrograd / ours | losses |",
            "|---|---:|---:|---:|---:|"]  # fmt: skip
    diff = t["max_rel_loss_diff"].get("micrograd")
    agree = f"max relative difference {diff:.1e}" if diff is not None else "—"
    rows.append(f"| transformer, {_steps(t['steps'])} | {fmt_s(sec.get('autograd_bp'))} | "
                f"{fmt_s(sec.get('micrograd'))} | "
                f"{ratio(sec.get('micrograd'), sec.get('autograd_bp'))} "
                f"| {agree} |")  # fmt: skip
    if sec.get("micrograd") and sec.get("autograd_bp"):
        r = sec["micrograd"] / sec["autograd_bp"]
        verdict = "meets" if r >= 6 else "misses"
        rows += ["", f"The transformer on autograd_bp is {r:.1f}× faster than on micrograd's "
                 f"design ({verdict} the ≥ 6× target), with the same losses."]  # fmt: skip
    return rows


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for mod in ("autograd_bp", "micrograd", "torch", "numpy"):
        try:
            from importlib.metadata import version

            versions[mod] = version(mod)
        except Exception:  # noqa: BLE001
            versions[mod] = None
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "platform": platform.platform(), "cpu": cpu,
            "cores": os.cpu_count(), "versions": versions, "blas": blas_libraries(),
            # which node core autograd_bp ran: compiled by mypyc, or the Python source
            "node_core": "compiled" if COMPILED else "pure",
            # how busy the machine was when the run began (1, 5, 15 minutes): a shared
            # machine slows every engine, and ratios interleaved in one run are what count
            "load_average": list(os.getloadavg())}  # fmt: skip


def blas_libraries() -> dict[str, str | None]:
    """The BLAS behind numpy's and PyTorch's matrix multiplies (they differ, and the
    compiled tape's large-batch ratio follows theirs)."""
    out: dict[str, str | None] = {"numpy": None, "torch": None}
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        out["numpy"] = f"{deps.get('name')} {deps.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - a numpy without build info: reported as unknown
        pass
    if have("torch"):
        import torch

        setting = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
        out["torch"] = setting.group(1) if setting else None
    return out


SECTIONS = ("chain", "dag", "mlp", "memory", "digits", "scaling", "random_graph", "transformer",
            "microgpt", "attention_tape")


def run(sections: tuple[str, ...], quick: bool, reps: int, engines: list[str]) -> dict[str, Any]:
    """Every benchmark asked for, in one process (so their ratios are comparable)."""
    results: dict[str, Any] = {"machine": machine(), "quick": quick, "reps": reps}

    def section(name: str, fn: Callable[[], Any]) -> None:
        if name in sections:
            print(f"{name} …", file=sys.stderr, flush=True)
            results[name] = fn()

    chains = [1_000, 10_000] if quick else [1_000, 10_000, 100_000, 1_000_000]
    section("chain", lambda: {n: bench_chain(n, 1 if n >= 1_000_000 else reps, engines)
                              for n in chains})  # fmt: skip
    section("dag", lambda: bench_dag(2_000 if quick else 100_000, reps if quick else 3, engines))
    section("mlp", lambda: bench_mlp(reps, engines))
    section("memory", lambda: bench_memory(10_000 if quick else 1_000_000, engines))
    section("digits", lambda: bench_digits(64 if quick else 300, 1 if quick else 3, engines))
    if not quick and "digits" in sections:
        seconds, accuracy = E.digits_compiled_training()
        results["compiled_training"] = {"seconds": seconds, "test_accuracy": accuracy}
    widths = [4, 16] if quick else [4, 16, 64, 128, 256]
    batches = [1, 32, 256] if quick else [1, 10, 32, 100, 1_000, 10_000]
    section("scaling", lambda: bench_scaling(widths, batches, reps))
    section("random_graph", lambda: bench_random_graph(1_000 if quick else 10_000,
                                                       3 if quick else 20, reps))  # fmt: skip
    section("transformer", lambda: bench_transformer(1 if quick else 5, 1 if quick else 3,
                                                     engines))  # fmt: skip
    # 9 repetitions: the median of 3 moved by ±10 % from run to run
    section("microgpt", lambda: bench_microgpt(1 if quick else 3, 1 if quick else 9))
    # The compiled tape's attention row: benchmarks/attention_tape.py, where present.
    section("attention_tape", lambda: bench_attention_tape(quick, 1 if quick else reps))
    return results


def page(results: dict[str, Any], image: str | None) -> str:
    """The Markdown report."""
    blas = results.get("machine", {}).get("blas", {})
    parts = [
        "# Performance\n\nMeasured by `python -m benchmarks` (`make bench`): the engines run "
        "side by side in one process, interleaved, medians of the repetitions, and the heap "
        "left by importing them frozen first (`gc.freeze()`), so no engine pays for torch's "
        "import in its garbage collections. The first table holds the cyclic garbage "
        "collector off inside every timed region, for every engine alike: the interpreter's "
        "work alone. *torch 0-d* is PyTorch on 0-dimensional tensors, one per scalar node, "
        "the way a scalar engine works. The comparisons with micrograd and microgpt are then "
        "timed under three settings of the collector, each the same for both engines: "
        "*collector off* (the interpreter alone), *paused, one collection per step* (off "
        "during a step, then `gc.collect()`, inside the timed region: what a program that "
        "pauses it around each step pays) and *default settings* (automatic collections, "
        "as a program that never touches it runs). micrograd's nodes sit in reference cycles "
        "(each `_backward` closure holds its node), so only the collector frees them; "
        "autograd_bp's and microgpt's nodes are freed by reference counting. micrograd and "
        "microgpt are pure Python; autograd_bp's dynamic engine ran its node core "
        f"{results.get('machine', {}).get('node_core', 'pure')} (compiled by mypyc, or the "
        "Python source; see below); none of them calls a BLAS. numpy "
        f"(the compiled tape) uses {blas.get('numpy')}, PyTorch {blas.get('torch')}, each "
        "on one thread. Ratios above 1× mean autograd_bp is faster. Machine and versions "
        "are in the JSON below."
    ]
    if results.get("quick"):
        parts.append("*A quick run (`--quick`): smaller sizes and fewer repetitions than the "
                     "full run the targets are set for, so its meets/misses verdicts are a "
                     "smoke test, not a judgement.*")
    if any(k in results for k in ("chain", "dag", "mlp", "memory", "digits")):
        parts.append(table(results))
    settings = settings_table(results)
    if settings:
        parts.append(settings)
        parts.append(targets_summary(results))
        parts.append(node_core_text(results))
    if "scaling" in results:
        parts.append(
            "## The compiled tape against PyTorch, as the work grows\n\n"
            "`MLP(3, [w, w, 1])`, tanh, squared loss, float64, forward + backward of a batch; "
            "each layer's `dot` nodes run as one matrix multiply forward and two backward "
            "(`autograd_bp.compiled`). *compiled* keeps the parameters as one vector "
            "(`sync=False`, as PyTorch keeps tensors); *Values synced* also reads every "
            "`.data` and adds to every `.grad` — one Python step per parameter. "
            "The targets (the sentence after the table) are judged on *compiled / torch*, "
            "the compiled column over *torch batched*: a time ratio, so here below 1 means "
            "the tape is faster (the other way round from the micrograd / ours columns). "
            "*hidden-layer matmul alone, numpy / torch* times nothing but the hidden layer's "
            "forward (w × w)·(w × batch) product, once with numpy and once with PyTorch, and "
            "gives numpy's time over PyTorch's: how much of *compiled / torch* is the "
            "BLAS library each one calls (here numpy uses "
            f"{results['machine']['blas']['numpy']}, PyTorch {results['machine']['blas']['torch']})"
            " rather than the tape. Where the two ratios are close, the gap to PyTorch is the "
            "BLAS's."
        )
        if image:
            parts.append(f"![time per step against batch size, log-log]({image})")
        parts.append(scaling_table(results["scaling"]))
        parts.append(scaling_summary(results["scaling"]))
    if "random_graph" in results or "transformer" in results:
        parts.append("\n".join(extra_lines(results)).strip())
    if results.get("attention_tape"):
        from . import attention_tape

        parts.append("## The compiled tape on causal self-attention, against PyTorch\n\n"
                     + attention_tape.attention_table(results["attention_tape"]))
    elif "attention_tape" in results:  # asked for, but benchmarks/attention_tape.py is absent
        parts.append("*The compiled tape's attention row: `benchmarks/attention_tape.py` is "
                     "not in this checkout.*")
    parts.append("```json\n" + json.dumps(results, indent=1) + "\n```")
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (median taken)")
    parser.add_argument("--out", default=None,
                        help="Markdown file to write (default: docs/performance.md for a full "
                             "run; a quick or --only run is printed only)")  # fmt: skip
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections (default all: {','.join(SECTIONS)})")
    args = parser.parse_args(argv)
    sections = tuple(x.strip() for x in args.only.split(",") if x.strip())
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(unknown)}; "
                     f"known: {', '.join(SECTIONS)}")
    if not sections:
        parser.error(f"--only: no section named; known: {', '.join(SECTIONS)}")
    if args.reps is not None and args.reps < 1:
        parser.error(f"--reps: must be at least 1, got {args.reps}")
    engines = ["autograd_bp"] + [e for e in ("micrograd", "torch") if have(e)]
    if "torch" in engines:
        import torch

        torch.set_num_threads(1)
    # Every engine is imported by now (have() imported them). Freeze that heap: importing
    # torch leaves ~350k objects that every garbage collection during graph building would
    # otherwise rescan — a cost none of the engines pays in a process of its own.
    gc.collect()
    gc.freeze()
    reps = args.reps or (1 if args.quick else 5)
    results = run(sections, args.quick, reps, engines)
    # Only a full run replaces the published report; a partial or quick one is printed
    # (or written where --out says), so it never overwrites the full table with part of it.
    full = not args.quick and set(sections) == set(SECTIONS)
    out = args.out or (str(ROOT / "docs" / "performance.md") if full else None)
    image = None
    if out and "scaling" in results:
        png = Path(out).parent / "images" / "performance_scaling.png"
        image = "images/performance_scaling.png" if plot_scaling(results["scaling"], png) else None
    text = page(results, image)
    print(text)
    if out:
        atomic_write_text(out, text)
        print(f"written: {out}", file=sys.stderr)
    return 0 if agreement_ok(results) else 1


def agreement_ok(results: dict[str, Any]) -> bool:
    """Every engine computed the same gradients (and the transformer the same losses)."""
    diffs = [d for name in ("dag", "mlp") if name in results
             for d in results[name]["max_rel_grad_diff"].values()]  # fmt: skip
    diffs += [r["max_rel_grad_diff"] for r in results.get("scaling", [])
              if "max_rel_grad_diff" in r]  # fmt: skip
    if "random_graph" in results:
        diffs.append(results["random_graph"]["max_rel_grad_diff"])
    losses = list(results.get("transformer", {}).get("max_rel_loss_diff", {}).values())
    losses += list(results.get("microgpt", {}).get("max_rel_loss_diff", {}).values())
    return all(d <= 1e-12 for d in diffs) and all(d <= 1e-9 for d in losses)


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        traceback.print_exc()
        raise SystemExit(130) from None
