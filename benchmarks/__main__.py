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
import math
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autograd_bp._io import atomic_write_text

from . import engines as E

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ("autograd_bp", "micrograd", "torch")


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


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


# ----------------------------------------------------------------------------- workloads


def bench_chain(n: int, reps: int, engines: list[str]) -> dict[str, Any]:
    builders = {"autograd_bp": E.chain_ours, "micrograd": E.chain_micrograd, "torch": E.chain_torch}
    fwd: dict[str, list[float]] = {e: [] for e in engines}
    bwd: dict[str, list[float]] = {e: [] for e in engines}
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

            def run(e: str = e) -> tuple[float, float]:
                t_f, (x, y) = timed(lambda: builders[e](n))
                t_b, _ = timed(y.backward)
                return t_f, t_b

            try:
                if e == "micrograd":
                    t_f, t_b = in_big_stack(run, max(10_000, 4 * n))
                else:
                    t_f, t_b = run()
                fwd[e].append(t_f)
                bwd[e].append(t_b)
            except Exception as ex:  # noqa: BLE001 - reported as a failure
                notes[e] = f"failed: {type(ex).__name__}: {ex}"[:200]
            gc.collect()
    return {
        "nodes": 2 * n,
        "forward": {e: statistics.median(v) for e, v in fwd.items() if v},
        "backward": {e: statistics.median(v) for e, v in bwd.items() if v},
        "notes": notes,
    }


def _close(a: list[float], b: list[float], rel: float = 1e-12) -> float:
    """Largest relative difference between two gradient lists."""
    return max(abs(x - y) / max(abs(x), abs(y), 1e-300) if x != y else 0.0 for x, y in zip(a, b))


def bench_dag(n: int, reps: int, engines: list[str]) -> dict[str, Any]:
    spec = E.dag_spec(n)
    build = {"autograd_bp": E.dag_ours, "micrograd": E.dag_micrograd, "torch": E.dag_torch}
    times: dict[str, list[float]] = {e: [] for e in engines}
    grads: dict[str, list[float]] = {}
    for _ in range(reps):
        for e in engines:

            def run(e: str = e) -> tuple[float, list[float]]:
                start = time.perf_counter()
                leaves, out = build[e](spec)
                out.backward()
                elapsed = time.perf_counter() - start
                return elapsed, [0.0 if v.grad is None else float(v.grad) for v in leaves]

            t, g = in_big_stack(run, 4 * n) if e == "micrograd" else run()
            times[e].append(t)
            grads[e] = g
            gc.collect()
    agreement = {e: _close(grads["autograd_bp"], grads[e]) for e in grads if e != "autograd_bp"}
    return {"nodes": n + 100, "seconds": {e: statistics.median(v) for e, v in times.items()},
            "max_rel_grad_diff": agreement}  # fmt: skip


def bench_mlp(reps: int, engines: list[str]) -> dict[str, Any]:
    spec = E.mlp_spec()
    makers = {"autograd_bp": E.mlp_ours, "micrograd": E.mlp_micrograd,
              "torch": E.mlp_torch_scalar, "torch batched": E.mlp_torch_batched,
              "autograd_bp compiled": E.mlp_compiled}  # fmt: skip
    names = [*engines, "autograd_bp compiled"] + (["torch batched"] if "torch" in engines else [])
    steps, grads = {}, {}
    for e in names:
        _, step, get_grads = makers[e](spec)
        step()  # the first step's gradients are at the shared starting weights
        grads[e] = get_grads()
        steps[e] = step
    # Fast steps are timed as a run of consecutive steps (as in a training loop), so one
    # step's cold caches after another engine's run are not all that is measured.
    runs = {e: max(1, round(0.05 / max(timed(steps[e])[0], 1e-6))) for e in names}
    times: dict[str, list[float]] = {e: [] for e in names}
    for _ in range(reps):
        for e in names:

            def run(e: str = e) -> None:
                for _ in range(runs[e]):
                    steps[e]()

            times[e].append(timed(run)[0] / runs[e])
            gc.collect()
    agreement = {e: _close(grads["autograd_bp"], grads[e]) for e in names if e != "autograd_bp"}
    return {"seconds": {e: statistics.median(v) for e, v in times.items()},
            "max_rel_grad_diff": agreement}  # fmt: skip


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
    for e in engines:
        measured = {}
        for key, trace in (("tracemalloc_per_node", True), ("rss_per_node", False)):
            code = _MEMORY_PROBE.format(root=str(ROOT), n=n, engine=names[e], trace=trace)
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                  timeout=600)  # fmt: skip
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

    for n, c in results["chain"].items():
        total = {e: c["forward"][e] + c["backward"][e] for e in c["forward"] if e in c["backward"]}
        row(f"chain {int(n):,} steps: forward", c["forward"])
        row(f"chain {int(n):,} steps: backward", c["backward"])
        nodes_per_s = 2 * int(n) / total["autograd_bp"] if "autograd_bp" in total else 0
        row(f"chain {int(n):,} steps: total", total, f" ({nodes_per_s / 1e6:.2f} M nodes/s ours)")
    d = results["dag"]
    row(f"random DAG, {d['nodes']:,} nodes, forward+backward", d["seconds"])
    m = results["mlp"]
    row("MLP(2, [16, 16, 1]) step, 100 points", m["seconds"])
    g = results["digits"]
    row(f"digits MLP(64, [32, 10]) epoch, {g['examples']:,} examples", g["seconds"])
    lines = ["\n".join(rows), ""]
    t = m["seconds"]
    compiled = t["autograd_bp compiled"]
    line = (f"The same MLP step compiled (`autograd_bp.tape`: traced once, the batch replayed "
            f"with numpy): {fmt_s(compiled)}, {t['autograd_bp'] / compiled:.1f}× faster than "
            "the dynamic engine")  # fmt: skip
    if "torch batched" in t:
        line += (f"; written batched in PyTorch: {fmt_s(t['torch batched'])} "
                 f"(compiled / torch batched = {compiled / t['torch batched']:.2f})")  # fmt: skip
    lines.append(line + ".")
    if "compiled_training" in results:
        c = results["compiled_training"]
        lines.append(f"Digits `MLP(64, [32, 10])`, softmax cross-entropy, 30 epochs of "
                     f"mini-batches of 32 on the compiled tape: {c['seconds']:.1f} s in all, "
                     f"test accuracy {c['test_accuracy']:.3f}.")  # fmt: skip
    mem = results["memory"]
    mem_rows = ["| bytes per node (chain held) | Python allocations (tracemalloc) | RSS |",
                "|---|---:|---:|"]  # fmt: skip
    for e, v in mem.items():
        if "error" in v:
            mem_rows.append(f"| {e} | failed: {v['error']} | |")
        else:
            mem_rows.append(f"| {e} | {v['tracemalloc_per_node']:.0f} | {v['rss_per_node']:.0f} |")
    lines += ["", "\n".join(mem_rows), ""]
    notes = []
    for n, c in results["chain"].items():
        for e, note in c["notes"].items():
            notes.append(f"- chain {int(n):,}, {e}: {note}")
    for name in ("dag", "mlp"):
        for e, diff in results[name]["max_rel_grad_diff"].items():
            notes.append(f"- {name}: gradients, autograd_bp vs {e}: max relative difference "
                         f"{diff:.1e}{' ✓' if diff <= 1e-12 else ' ✗'}")  # fmt: skip
    lines += notes
    return "\n".join(lines)


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
            "cores": os.cpu_count(), "versions": versions}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (median taken)")
    parser.add_argument("--out", default=None, help="Markdown file to write")
    args = parser.parse_args(argv)
    engines = ["autograd_bp"] + [e for e in ("micrograd", "torch") if have(e)]
    # Every engine is imported by now (have() imported them). Freeze that heap: importing
    # torch leaves ~350k objects that every garbage collection during graph building would
    # otherwise rescan — a cost none of the engines pays in a process of its own.
    gc.collect()
    gc.freeze()
    reps = args.reps or (1 if args.quick else 5)
    chains = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "reps": reps}
    results["chain"] = {}
    for n in chains:
        print(f"chain {n:,} …", file=sys.stderr, flush=True)
        slow = n >= 1_000_000
        results["chain"][n] = bench_chain(n, 1 if slow else reps, engines)
    print("random DAG …", file=sys.stderr, flush=True)
    results["dag"] = bench_dag(2_000 if args.quick else 100_000, reps if args.quick else 3, engines)
    print("MLP step …", file=sys.stderr, flush=True)
    results["mlp"] = bench_mlp(reps, engines)
    print("memory …", file=sys.stderr, flush=True)
    results["memory"] = bench_memory(10_000 if args.quick else 1_000_000, engines)
    print("digits epoch …", file=sys.stderr, flush=True)
    results["digits"] = bench_digits(64 if args.quick else 300, 1 if args.quick else 3, engines)
    if not args.quick:
        print("compiled digits training …", file=sys.stderr, flush=True)
        seconds, accuracy = E.digits_compiled_training()
        results["compiled_training"] = {"seconds": seconds, "test_accuracy": accuracy}
    text = table(results)
    print(text)
    out = args.out or (None if args.quick else str(ROOT / "docs" / "performance.md"))
    if out:
        page = (
            "# Performance\n\nMeasured by `python -m benchmarks` (`make bench`): the engines "
            "run side by side in one process, interleaved, medians of the repetitions; "
            "the heap left by importing them is frozen first (`gc.freeze()`), so no engine "
            "pays for torch's import in its garbage collections. "
            "Ratios above 1× mean autograd_bp is faster. Machine and versions are in the JSON "
            "below.\n\n" + text + "\n\n```json\n" + json.dumps(results, indent=1) + "\n```\n"
        )
        atomic_write_text(out, page)
        print(f"written: {out}", file=sys.stderr)
    bad = [d for name in ("dag", "mlp") for d in results[name]["max_rel_grad_diff"].values()
           if not d <= 1e-12]  # fmt: skip
    return 1 if bad or any(math.isnan(d) for d in bad) else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        traceback.print_exc()
        raise SystemExit(130) from None
