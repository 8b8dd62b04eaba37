"""The compiled tape on a causal self-attention layer, against the same layer batched in PyTorch.

``python -m benchmarks.attention_tape [--quick] [--reps N] [--cells T/D/B,...]`` prints a
table: per (T, D, B),
seconds per forward + backward step of the compiled tape and of batched PyTorch (float64,
one thread each), their ratio (the median of the ratios of each repetition, whose two steps
run back to back), the same ratio for the layer's matrix products alone (numpy against
PyTorch: the part of the gap that is the BLAS library's, :func:`products_alone`),
the tracing time (outside the timed region) and the largest relative gradient difference.
:func:`attention_rows` returns the same as a list of dicts (``python -m benchmarks`` adds it
to the report).

The layer is written once, on scalar Values, the way microgpt writes it (:func:`attention`):
each q, k and v a list of Values, scores by ``dot``, softmax by ``exp`` and a division, the
output a weighted sum of the value rows, then an output projection. Tests import it from here.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograd_bp import Value, dot, sum_values

Matrix = list[list[Value]]


def attention(x: Sequence[Value], T: int, D: int, Wq: Matrix, Wk: Matrix, Wv: Matrix,
              Wo: Matrix) -> Value:  # fmt: skip
    """One causal self-attention head on T positions of D features (``x`` row after row),
    returning the mean square of its output (a number to take the gradient of).

    Example:
        >>> W = weights(2, seed=0)
        >>> x = [Value(v) for v in (0.1, -0.2, 0.3, 0.4)]
        >>> round(attention(x, 2, 2, *W).data, 6)
        0.053817
    """
    rows = [list(x[t * D : (t + 1) * D]) for t in range(T)]
    q = [[dot(w, r) for w in Wq] for r in rows]
    k = [[dot(w, r) for w in Wk] for r in rows]
    v = [[dot(w, r) for w in Wv] for r in rows]
    squares = []
    for t in range(T):
        logits = [dot(q[t], k[u]) / math.sqrt(D) for u in range(t + 1)]  # position t sees 0..t
        e = [z.exp() for z in logits]
        total = sum_values(e)
        a = [ei / total for ei in e]
        head = [dot(a, [v[u][j] for u in range(t + 1)]) for j in range(D)]
        out = [dot(w, head) for w in Wo]
        squares += [y * y for y in out]
    return sum_values(squares) / (T * D)


def weights(D: int, seed: int = 0) -> tuple[Matrix, Matrix, Matrix, Matrix]:
    """Wq, Wk, Wv, Wo: D × D matrices of Values, normal with standard deviation 1/√D.

    Example:
        >>> [len(W) for W in weights(3)]
        [3, 3, 3, 3]
    """
    rng = np.random.default_rng(seed)
    mats = rng.normal(0.0, 1.0 / math.sqrt(D), size=(4, D, D))
    Wq, Wk, Wv, Wo = ([[Value(float(a)) for a in row] for row in m] for m in mats)
    return Wq, Wk, Wv, Wo


def data(T: int, D: int, B: int, seed: int = 1) -> np.ndarray:
    """B examples of T positions × D features, one example a row of T·D numbers."""
    return np.random.default_rng(seed).normal(size=(B, T * D))


def compiled_attention(T: int, D: int, W: tuple[Matrix, ...], X: np.ndarray) -> Any:
    """The layer traced and compiled (on the first two examples of X)."""
    from autograd_bp.compiled import compile

    return compile(lambda *x: attention(x, T, D, *W), X[0], X[1] if len(X) > 1 else None)


def torch_attention(T: int, D: int, W: tuple[Matrix, ...], X: np.ndarray
                    ) -> tuple[Callable[[], Any], Callable[[], list[Any]]]:  # fmt: skip
    """The same layer batched in PyTorch (float64): (step, gradients [Wq, Wk, Wv, Wo])."""
    import torch

    Ws = [torch.tensor([[w.data for w in row] for row in M], dtype=torch.float64,
                       requires_grad=True) for M in W]  # fmt: skip
    Xt = torch.tensor(X).reshape(len(X), T, D)
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)

    def step() -> None:
        Wq, Wk, Wv, Wo = Ws
        q, k, v = Xt @ Wq.T, Xt @ Wk.T, Xt @ Wv.T
        e = (q @ k.transpose(1, 2) / math.sqrt(D)).masked_fill(future, -math.inf).exp()
        out = (e / e.sum(dim=2, keepdim=True)) @ v @ Wo.T
        loss = (out**2).sum(dim=(1, 2)).mean() / (T * D)
        for p in Ws:
            p.grad = None
        loss.backward()

    return step, lambda: [np.asarray(p.grad).ravel() for p in Ws]


def products_alone(T: int, D: int, B: int) -> dict[str, Callable[[], Any]]:
    """The layer's matrix products and nothing else, batch-first, once with numpy and once
    with PyTorch (float64): forward the q/k/v projection (one (B·T × D)·(D × 3D) product),
    the scores q·kᵀ and the weighted sums a·v (batched per example), the output projection;
    backward the two products of each. Their time ratio is how much of *compiled / torch*
    the BLAS library each one calls accounts for (numpy's openblas, PyTorch's mkl).

    Example:
        >>> sorted(products_alone(2, 2, 3))
        ['numpy', 'torch']
    """
    import torch

    rng = np.random.default_rng(2)
    X, W3, Wo = (rng.normal(size=s) for s in ((B * T, D), (D, 3 * D), (D, D)))
    A = np.tril(rng.random((B, T, T)))

    def run(mm: Callable[[Any, Any], Any], t: Callable[[Any], Any], X: Any, W3: Any, Wo: Any,
            A: Any) -> None:  # fmt: skip
        qkv = mm(X, W3).reshape(B, T, 3 * D)
        q, k, v = qkv[:, :, :D], qkv[:, :, D : 2 * D], qkv[:, :, 2 * D :]
        S = mm(q, t(k))
        H = mm(A, v)
        G = mm(H.reshape(B * T, D), Wo)  # the output, standing in for its gradient (same
        # shape: the products' cost is all this times)
        dH, _ = mm(G, t(Wo)), mm(t(H.reshape(B * T, D)), G)
        dH = dH.reshape(B, T, D)
        dA, dv = mm(dH, t(v)), mm(t(A), dH)
        dq, dk = mm(S, k), mm(t(S), q)
        mm(t(X), qkv.reshape(B * T, 3 * D)), mm(qkv.reshape(B * T, 3 * D), t(W3))
        del dA, dv, dq, dk

    def np_t(a: Any) -> Any:
        return np.swapaxes(a, -1, -2)

    def torch_t(a: Any) -> Any:
        return a.transpose(-1, -2)

    Xt, W3t, Wot, At = (torch.tensor(a) for a in (X, W3, Wo, A))
    return {"numpy": lambda: run(np.matmul, np_t, X, W3, Wo, A),
            "torch": lambda: run(torch.matmul, torch_t, Xt, W3t, Wot, At)}  # fmt: skip


def max_rel_grad_diff(f: Any, W: tuple[Matrix, ...], torch_grads: list[np.ndarray]) -> float:
    """max |compiled − torch| / max |torch| over every weight's gradient (both already run)."""
    position = {id(p): i for i, p in enumerate(f.parameters)}
    ours = np.array([f.flat_grad[position[id(w)]] for M in W for row in M for w in row])
    want = np.concatenate(torch_grads)
    return float(np.abs(ours - want).max() / np.abs(want).max())


def _times(steps: dict[str, Callable[[], Any]], reps: int) -> dict[str, list[float]]:
    """Seconds per step of each, one per repetition, interleaved within each repetition, each
    timed over a run of about 50 ms of consecutive steps, the collector held off inside the
    timed region."""
    runs = {}
    for name, step in steps.items():
        start = time.perf_counter()
        step()
        runs[name] = max(1, round(0.05 / max(time.perf_counter() - start, 1e-6)))
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(reps):
        for name, step in steps.items():
            gc.disable()
            try:
                start = time.perf_counter()
                for _ in range(runs[name]):
                    step()
                times[name].append((time.perf_counter() - start) / runs[name])
            finally:
                gc.enable()
    return times


def _median_ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """The median over the repetitions of a's time over b's, each pair timed back to back: on
    a machine whose load changes from second to second, steadier than a ratio of medians."""
    return statistics.median(x / y for x, y in zip(times[a], times[b]))


def attention_cell(T: int, D: int, B: int, reps: int) -> dict[str, Any]:
    """One (T, D, B): seconds per step of each, the tracing time and the gradient check."""
    W = weights(D)
    X = data(T, D, B if B > 1 else 2)[:B]
    start = time.perf_counter()
    f = compiled_attention(T, D, W, data(T, D, 2))
    trace_seconds = time.perf_counter() - start

    def compiled_step() -> None:
        f.backward(X, sync=False)

    torch_step, torch_grads = torch_attention(T, D, W, X)
    compiled_step()
    torch_step()
    diff = max_rel_grad_diff(f, W, torch_grads())
    steps = {"compiled": compiled_step, "torch batched": torch_step}
    alone = products_alone(T, D, B)
    steps.update({"numpy matmuls": alone["numpy"], "torch matmuls": alone["torch"]})
    times = _times(steps, reps)
    seconds = {name: statistics.median(v) for name, v in times.items()}
    ratios = {"compiled / torch": _median_ratio(times, "compiled", "torch batched"),
              "matmuls numpy / torch": _median_ratio(times, "numpy matmuls", "torch matmuls")}
    return {"T": T, "D": D, "batch": B, "seconds": seconds, "ratios": ratios,
            "trace_seconds": trace_seconds, "max_rel_grad_diff": diff}  # fmt: skip


def attention_rows(quick: bool, reps: int = 5, cells: Sequence[tuple[int, int, int]] = ()
                   ) -> list[dict[str, Any]]:  # fmt: skip
    """The grid: T ∈ {8, 16, 32}, D ∈ {16, 32, 64}, B ∈ {1, 32, 256, 1024} (``quick``: T ∈
    {8, 16}, D = 16, B ∈ {1, 64}; ``cells``: those (T, D, B) only), one
    :func:`attention_cell` each."""
    full = [(T, D, B) for T in (8, 16, 32) for D in (16, 32, 64) for B in (1, 32, 256, 1024)]
    grid = list(cells) or ([(T, 16, B) for T in (8, 16) for B in (1, 64)] if quick else full)
    rows = []
    for T, D, B in grid:
        print(f"  attention T={T} D={D} B={B} …", file=sys.stderr, flush=True)
        rows.append(attention_cell(T, D, B, 1 if quick else reps))
        gc.collect()
    return rows


def attention_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table (compiled / torch below 1 means the tape is faster). The
    two ratios are medians of per-repetition ratios (each pair timed back to back); the two
    time columns are medians of the times."""
    out = ["| T | D | batch | compiled | torch batched | compiled / torch | "
           "matrix products alone, numpy / torch | tracing | gradients (max diff / max) |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        s, q = r["seconds"], r.get("ratios", {})
        ratio = q.get("compiled / torch", s["compiled"] / s["torch batched"])
        alone = q.get("matmuls numpy / torch")
        out.append(f"| {r['T']} | {r['D']} | {r['batch']:,} | {s['compiled'] * 1e3:.3f} ms | "
                   f"{s['torch batched'] * 1e3:.3f} ms | {ratio:.2f} | "
                   f"{'–' if alone is None else f'{alone:.2f}'} | "
                   f"{r['trace_seconds']:.2f} s | {r['max_rel_grad_diff']:.1e} |")  # fmt: skip
    return "\n".join(out)


def attention_summary(rows: list[dict[str, Any]], target: float = 1.5) -> str:
    """One sentence on the rows: how many cells are within ``target``× of PyTorch, the worst,
    and for each miss the matrix products' own numpy / torch ratio (the BLAS's share).

    Example:
        >>> row = {"T": 8, "D": 16, "batch": 1, "ratios": {"compiled / torch": 0.5,
        ...        "matmuls numpy / torch": 0.4}}
        >>> attention_summary([row])
        'Compiled / PyTorch time: within 1.5× in 1 of 1 cells (worst 0.50 at T=8, D=16, B=1).'
    """

    def ratio(r: dict[str, Any]) -> float:
        return float(r["ratios"]["compiled / torch"])

    worst = max(rows, key=ratio)
    misses = [r for r in rows if ratio(r) > target]
    text = (f"Compiled / PyTorch time: within {target}× in {len(rows) - len(misses)} of "
            f"{len(rows)} cells (worst {ratio(worst):.2f} at T={worst['T']}, D={worst['D']}, "
            f"B={worst['batch']:,}).")  # fmt: skip
    if misses:
        text += " Missed, with the matrix products alone numpy / torch: " + "; ".join(
            f"T={r['T']}, D={r['D']}, B={r['batch']:,}: {ratio(r):.2f} "
            f"({r['ratios']['matmuls numpy / torch']:.2f})" for r in misses) + "."
    return text


def _cells(text: str) -> list[tuple[int, int, int]]:
    """``--cells``: T/D/B triples, comma-separated, each a positive integer."""
    cells = []
    for cell in text.split(","):
        parts = cell.strip().split("/")
        if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise argparse.ArgumentTypeError(f"a cell is T/D/B, three positive integers: {cell!r}")
        T, D, B = map(int, parts)
        cells.append((T, D, B))
    return cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.attention_tape",
                                     description=__doc__.splitlines()[0])  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="a small grid: a smoke test")
    parser.add_argument("--reps", type=int, default=5, help="repetitions (median taken)")
    parser.add_argument("--cells", type=_cells, default=(),
                        help="only these cells, e.g. 8/64/1024,16/16/1024 (T/D/B)")  # fmt: skip
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    rows = attention_rows(args.quick, args.reps, args.cells)
    print(attention_table(rows))
    print()
    print(attention_summary(rows))
    return 0 if all(r["max_rel_grad_diff"] <= 1e-12 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
