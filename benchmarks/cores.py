"""The compiled node core against the pure-Python one (and micrograd), interleaved A/B.

``python -m benchmarks.cores [--reps N]``: each workload of :mod:`benchmarks.engines` runs in
a fresh process per implementation (``AUTOGRAD_BP_PURE=1`` for the Python source), the
processes alternating, the collector off while timed; the median of the repetitions is
printed, and pure ÷ compiled. A quick check of one change, not the report: that is
``python -m benchmarks``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

WORKLOADS = ("chain", "dag", "mlp", "nn", "gpt")

# One measurement, in a child process: seconds of one step of the workload, collector off.
CHILD = r"""
import gc, json, sys, time
sys.setrecursionlimit(1_000_000)
import benchmarks.engines as E
from autograd_bp.core import COMPILED
name, engine = sys.argv[1], sys.argv[2]
if name == "chain":
    def step():
        x, y = (E.chain_micrograd if engine == "micrograd" else E.chain_ours)(100_000)
        y.backward()
elif name == "dag":
    spec = E.dag_spec(20_000)
    def step():
        leaves, out = (E.dag_micrograd if engine == "micrograd" else E.dag_ours)(spec)
        out.backward()
elif name in ("mlp", "nn"):
    spec = E.mlp_spec()
    if name == "nn":
        make = E.mlp_micrograd if engine == "micrograd" else E.mlp_micrograd_nn
    else:
        make = E.mlp_micrograd if engine == "micrograd" else E.mlp_ours
    step = make(spec)[1]
else:
    spec = E.gpt_spec(4)
    step = E.gpt_model(spec, E.MicroGPTValue if engine == "micrograd" else E.Value)[0]
times = []
def run():  # in a thread with a big stack: micrograd's backward recurses once per node
    for _ in range(5):
        gc.collect()
        gc.disable()
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
        gc.enable()
import threading
threading.stack_size(1 << 29)
thread = threading.Thread(target=run)
thread.start()
thread.join()
print(json.dumps({"seconds": min(times), "compiled": COMPILED}))
"""


def measure(name: str, engine: str) -> dict[str, float]:
    env = dict(os.environ, AUTOGRAD_BP_PURE="1" if engine == "pure" else "")
    out = subprocess.run([sys.executable, "-c", CHILD, name, engine], env=env, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return json.loads(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cores", description=__doc__)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", default=",".join(WORKLOADS))
    args = parser.parse_args(argv)
    for name in args.only.split(","):
        seconds: dict[str, list[float]] = {"compiled": [], "pure": [], "micrograd": []}
        for _ in range(args.reps):
            for engine in seconds:
                result = measure(name, engine)
                if engine == "compiled" and not result["compiled"]:
                    raise SystemExit("the compiled node core is not built: nothing to compare")
                seconds[engine].append(result["seconds"])
        med = {e: statistics.median(v) for e, v in seconds.items()}
        ref = "microgpt-style Value" if name == "gpt" else "micrograd"
        print(f"{name:6} compiled {med['compiled'] * 1e3:8.1f} ms  pure {med['pure'] * 1e3:8.1f} "
              f"ms  {ref} {med['micrograd'] * 1e3:8.1f} ms  pure/compiled "
              f"{med['pure'] / med['compiled']:.2f}x  vs {ref}: compiled "
              f"{med['micrograd'] / med['compiled']:.2f}x, pure "
              f"{med['micrograd'] / med['pure']:.2f}x", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
