"""Nodes one matrix group makes for another live batch-first (compiled/batchfirst.py): the
attention layer reads q, k, v and its weighted sums as views, and every path — one example,
one position, an infinity, a backward pass that reads them from rows — gives the dynamic
engine's outputs and gradients."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp import Value, compile, dot, sum_values
from autograd_bp.compiled import schedule
from autograd_bp.compiled.batchfirst import Columns, Source
from autograd_bp.compiled.groups import SharedLayerGroup
from autograd_bp.compiled.rowdot import Pieces, RowDotGroup, batch_first
from benchmarks.attention_tape import attention, compiled_attention, data, weights


def engine(fn, params: list[Value], X: np.ndarray, output: int = 0):
    """The dynamic engine, example by example: outputs and the mean gradient of one output."""
    outs, grads = [], np.zeros(len(params))
    for row in X:
        for p in params:
            p.grad = 0.0
        out = fn(*[Value(float(v)) for v in row])
        out = out[output] if isinstance(out, list) else out
        out.backward()
        outs.append(out.data)
        grads += [p.grad for p in params]
    return np.array(outs), grads / len(X)


def ours(f, params: list[Value]) -> np.ndarray:
    position = {id(p): i for i, p in enumerate(f.parameters)}
    return np.array([f.flat_grad[position[id(p)]] if id(p) in position else 0.0 for p in params])


def rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-300))


def test_attention_keeps_q_k_v_and_the_weighted_sums_batch_first() -> None:
    T, D = 5, 4
    f = compiled_attention(T, D, weights(D), data(T, D, 2))
    layers = [g for g in f.tape.groups if isinstance(g, SharedLayerGroup)]
    products = [g for g in f.tape.groups if isinstance(g, RowDotGroup)]
    assert [g.bf_out for g in layers] == [True, False]  # q, k, v kept; the output in rows
    assert [g.bf_out for g in products] == [False, True]  # scores in rows (softmax reads them)
    assert set(products[0].sources) == {"left", "right"}  # q and k
    assert set(products[1].sources) == {"right"}  # v (the weights a are rows: softmax's)
    assert all(s.strides is not None for g in products for s in g.sources.values())  # views
    assert "S" in layers[1].sources  # the output projection reads the weighted sums
    backward = f.tape.backward_groups(0)
    assert [g.bf_grad for g in backward if isinstance(g, SharedLayerGroup)] == [True, False]
    assert not f.tape._backward_groups[0][3]  # nothing to copy back into rows
    assert not f.tape.inputs_in_rows  # nor the batch into rows: every reader takes it as it is
    assert not f.tape._backward_groups[0][4]
    blocks = f.tape.forward(data(T, D, 3))  # during a call: the batch is a buffer
    assert layers[0]._flat_S(blocks[0][1]) is not None  # the batch itself: one (B·T, D) product
    f.tape.release(blocks)


@pytest.mark.parametrize(("T", "D", "B"), [(1, 3, 4), (2, 2, 1), (4, 3, 1), (4, 3, 9), (7, 2, 130)])
def test_attention_equals_the_dynamic_engine(T: int, D: int, B: int) -> None:
    """One position (no row product), one example (flat rows), a batch over two blocks."""
    W = weights(D, seed=T + D)
    params = [w for M in W for row in M for w in row]
    X = data(T, D, max(B, 2), seed=B)[:B]
    f = compiled_attention(T, D, W, data(T, D, 2, seed=7))
    _, outs = f.backward(X, sync=False)
    want_out, want_grad = engine(lambda *x: attention(x, T, D, *W), params, X)
    assert rel(outs[:, 0], want_out) <= 1e-12
    assert rel(ours(f, params), want_grad) <= 1e-12


def _scores(T: int, D: int):
    """q_t and k_t of each of T positions by one shared layer each; every score q_t·k_u
    through relu, summed — and the first score alone (a second output)."""
    wq = [[Value(0.3 * (i - j) + 0.1) for j in range(D)] for i in range(D)]
    wk = [[Value(0.2 * (i + j) - 0.35) for j in range(D)] for i in range(D)]
    params = [w for M in (wq, wk) for row in M for w in row]

    def fn(*x: Value) -> list[Value]:
        rows = [list(x[t * D : (t + 1) * D]) for t in range(T)]
        q = [[dot(w, r) for w in wq] for r in rows]
        k = [[dot(w, r) for w in wk] for r in rows]
        s = [dot(q[t], k[u]) for t in range(T) for u in range(T)]
        return [sum_values([z.relu() for z in s]), s[0] * 2.0]

    return fn, params


def test_an_infinity_in_a_batch_first_product_runs_node_by_node() -> None:
    """An overflowing score (−inf, blocked by relu's gate) makes the product non-finite: the
    general path runs on rows copied out of the batch-first buffers, and the gradients go
    back into them — the engine's numbers."""
    T, D = 3, 2
    fn, params = _scores(T, D)
    X = np.random.default_rng(0).normal(size=(5, T * D))
    f = compile(fn, X[0], X[1])
    products = [g for g in f.tape.groups if isinstance(g, RowDotGroup)]
    assert products and set(products[0].sources) == {"left", "right"}
    Wq, Wk = (np.array([p.data for p in params[:4]]).reshape(2, 2),
              np.array([p.data for p in params[4:]]).reshape(2, 2))  # fmt: skip
    # every position the same huge x, with q·k < 0: each score of example 2 overflows to
    # −inf, and relu's gate stops its gradient (the others' stay finite)
    v = next(v for v in ([1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0])
             if (Wq @ v) @ (Wk @ v) < 0)  # fmt: skip
    X[2] = np.tile(np.array(v) * 1e160, T)
    for _ in range(2):  # twice: the buffers left by the general path are reused correctly
        _, outs = f.backward(X, sync=False)
        want_out, want_grad = engine(fn, params, X)
        assert np.isfinite(want_grad).all() and np.isfinite(want_out).all()
        np.testing.assert_allclose(outs[:, 0], want_out, rtol=1e-12)
        np.testing.assert_allclose(ours(f, params), want_grad, rtol=1e-12)
        values = f.tape.buffers(5, shared=True)[0][1]  # backward's
        assert not products[0].work[products[0].key, id(values)].finite
    X[2] = 0.5  # finite again: the fast path, from the same buffers
    f.backward(X, sync=False)
    np.testing.assert_allclose(ours(f, params), engine(fn, params, X)[1], rtol=1e-12)


def test_a_backward_pass_that_reads_batch_first_nodes_from_rows() -> None:
    """The gradient of the first score alone: its one dot node runs on rows, so the tape
    copies q and k out of their batch-first buffer for that pass; and its projections, one
    position's layers, read the inputs from rows, which the forward pass left unfilled (its
    projections read the batch itself), so that pass fills them."""
    fn, params = _scores(3, 2)
    X = np.random.default_rng(1).normal(size=(6, 6))
    f = compile(fn, X[0], X[1])
    assert not f.tape.inputs_in_rows
    f.backward(X, output=1, sync=False)
    assert f.tape._backward_groups[1][3]  # this pass copies into rows
    assert f.tape._backward_groups[1][4]  # and the inputs too
    np.testing.assert_allclose(ours(f, params), engine(fn, params, X, output=1)[1], rtol=1e-12)
    f.backward(X, output=0, sync=False)
    np.testing.assert_allclose(ours(f, params), engine(fn, params, X)[1], rtol=1e-12)


@pytest.mark.parametrize("layout", ["float32", "fortran", "strided"])
def test_float32_and_oddly_laid_out_batches(layout: str) -> None:
    """float32 is converted; a batch in Fortran order or a strided view of a larger array
    is read as it is (no single (B·T, D) product then), with the same gradients."""
    T, D = 3, 2
    W = weights(D, seed=1)
    params = [w for M in W for row in M for w in row]
    X = data(T, D, 8, seed=3)
    X = {"float32": X.astype(np.float32), "fortran": np.asfortranarray(X),
         "strided": X[::2]}[layout]  # fmt: skip
    f = compiled_attention(T, D, W, data(T, D, 2))
    f.backward(X, sync=False)
    want = engine(lambda *x: attention(x, T, D, *W), params, np.asarray(X, dtype=np.float64))[1]
    assert rel(ours(f, params), want) <= 1e-12


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 5), st.integers(0, 5),
       st.sampled_from(["contiguous", "strided rows", "fortran", "one row"]))  # fmt: skip
def test_a_source_reads_and_adds_exactly_its_columns(n1: int, n2: int, s1: int, s2: int,
                                                     layout: str) -> None:  # fmt: skip
    """A view (evenly spaced columns) or a gather: the same numbers either way, on a buffer
    laid out any way (a contiguous one is viewed straight on its memory)."""
    idx = 3 + s1 * np.arange(n1)[:, None] + s2 * np.arange(n2)[None, :]
    distinct = len(np.unique(idx)) == idx.size
    cols = Columns()
    cols.add("maker", list(range(100, 100 + int(idx.max()) + 1)))
    src = cols.source(idx + 100)
    if not distinct:
        assert src is None
        return
    assert src is not None and isinstance(src, Source)
    buf = np.arange(3.0 * (idx.max() + 1)).reshape(3, -1)
    if layout == "strided rows":  # every other row of a larger array (a caller's batch)
        buf = np.repeat(buf, 2, axis=0)[::2]
    elif layout == "fortran":
        buf = np.asfortranarray(buf)
    elif layout == "one row":
        buf = buf[1:2]
    assert buf.flags.c_contiguous == (layout in ("contiguous", "one row"))
    np.testing.assert_array_equal(src.read(buf), buf[:, idx])
    assert np.shares_memory(src.read(buf), buf) == (src.strides is not None)  # a view
    d = np.random.default_rng(0).normal(size=(len(buf), n1, n2))
    want = buf.copy()
    want[:, idx] += d
    src.add(buf, d)
    np.testing.assert_array_equal(buf, want)


def _projected_products(T: int, D: int, causal: bool, prefix: bool, leak: bool, mix: bool):
    """x_t (T positions of D) -> q_t = Wq·x_t, k_t = Wk·x_t by shared layers; products
    q_t·k_u (all pairs or u ≤ t, full or prefix rows), each weighted, summed through tanh;
    ``leak``: one q node also read by an op group (its maker must write rows); ``mix``: the
    weighted sums of k rows by the products' tanh (a second row product reading a maker)."""
    rng = np.random.default_rng(T * 31 + D)
    wq = [[Value(float(v)) for v in row] for row in rng.normal(0, 0.7, (D, D))]
    wk = [[Value(float(v)) for v in row] for row in rng.normal(0, 0.7, (D, D))]
    c = [Value(float(v)) for v in rng.normal(0, 1, T * T)]
    params = [w for M in (wq, wk) for row in M for w in row] + c

    def fn(*x: Value) -> list[Value]:
        rows = [list(x[t * D : (t + 1) * D]) for t in range(T)]
        q = [[dot(w, r) for w in wq] for r in rows]
        k = [[dot(w, r) for w in wk] for r in rows]
        terms, weights_ = [], []
        for t in range(T):
            row = []
            for u in range(T):
                if causal and u > t:
                    continue
                n = min(t + 1, D) if prefix else D
                s = dot(q[t][:n], k[u][:n]).tanh()
                row.append(s)
                terms.append(c[t * T + u] * s)
            weights_.append(row)
        if mix:  # Σ_u s_tu · k_u[j]: rows of weights against columns of k
            terms += [dot(w, [k[u][j] for u in range(len(w))]) * 0.1
                      for w in weights_ for j in range(D)]  # fmt: skip
        if leak:
            terms.append(q[0][0] * 0.5)
        total = sum_values(terms)
        return [total, terms[0] * 3.0]

    return fn, params


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 4), st.integers(1, 3), st.booleans(), st.booleans(), st.booleans(),
       st.booleans(), st.integers(1, 40), st.integers(0, 1), st.integers(0, 2**31))  # fmt: skip
def test_random_projected_products_equal_the_dynamic_engine(
    T, D, causal, prefix, leak, mix, batch, output, seed
) -> None:
    """Makers kept batch-first or not (``leak``), readers with views or gathers, padded or
    not, either output's gradient (the second reads one product alone), any batch."""
    fn, params = _projected_products(T, D, causal, prefix, leak, mix)
    X = np.random.default_rng(seed).normal(size=(batch, T * D))
    f = compile(fn, X[0], X[1] if batch > 1 else None)
    _, outs = f.backward(X, output=output, sync=False)
    want_out, want_grad = engine(fn, params, X, output=output)
    assert rel(outs[:, output], want_out) <= 1e-12
    assert rel(ours(f, params), want_grad) <= 1e-12


def test_the_tape_keeps_no_reference_to_a_batch_after_a_call() -> None:
    T, D = 3, 2
    f = compiled_attention(T, D, weights(D), data(T, D, 2))
    X = data(T, D, 5)
    f.backward(X, sync=False)
    f(X)
    assert not [k for k in f.tape.scratch if isinstance(k, tuple) and "inputs" in k]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=6), st.integers(1, 40), st.randoms())
def test_a_copy_run_by_run_writes_what_the_index_copy_writes(runs: list[int], width: int,
                                                           rnd: Any) -> None:  # fmt: skip
    """Pieces.runs (slices on both sides) and Pieces.cut (index arrays) copy the same entries,
    whatever the runs: short ones (cut's pieces), long ones, runs longer than a piece."""

    def runs_from(starts: list[int]) -> np.ndarray:
        return np.concatenate([np.arange(c, c + n) for c, n in zip(starts, runs)])

    n = sum(runs)
    cols = runs_from(rnd.sample(range(n + 10), len(runs)))
    slots = runs_from(rnd.sample(range(n + 10), len(runs)))
    if len(np.unique(cols)) != n or len(np.unique(slots)) != n:
        return
    pieces = Pieces(slots, cols)
    values = np.arange(float(slots.max() + 1) * width).reshape(-1, width)
    want = np.zeros((width, cols.max() + 1))
    for c, r in pieces.cut(width):
        want[:, c] = values[r].T
    assert np.array_equal(batch_first(values, pieces, np.zeros_like(want)), want)
    if pieces.runs(width) is not pieces.cut(width):  # runs taken: slices on both sides
        assert all(type(c) is slice and type(r) is slice for c, r in pieces.runs(width))


def test_a_causal_triangle_is_copied_run_by_run() -> None:
    """Attention's softmax weights (a triangle of rows) go into the weighted sums' L one
    position's row at a time: slices both sides, no column index (3× faster at T = 16)."""
    T, D = 8, 2  # runs of 1..8 rows: 4.5 on average
    f = compiled_attention(T, D, weights(D), data(T, D, 2))
    weighted = [g for g in f.tape.groups if isinstance(g, RowDotGroup) and g.left_pad is not None]
    assert len(weighted) == 1
    pieces = weighted[0].left_chunks.runs(8)
    assert len(pieces) == T
    assert all(isinstance(c, slice) and isinstance(r, slice) for c, r in pieces)


@pytest.mark.parametrize("output", [0, 1])
def test_block_by_block_forward_and_backward_is_the_same_as_one_after_the_other(
        output: int, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A batch of three blocks: forward then backward block by block, the two full blocks in
    the same arrays (what ``backward`` runs, each block still in the cache), gives the numbers
    of the whole forward pass then the whole backward pass in arrays of their own, bit for
    bit; for a second output too (its own backward groups)."""
    monkeypatch.setattr(schedule, "BLOCK_NUMBERS", 1)  # the smallest blocks: 128 examples
    fn, params = _scores(3, 2)
    X = np.random.default_rng(4).normal(size=(300, 6))
    f = compile(fn, X[0], X[1])
    assert len(f.tape.buffers(len(X))) == 3
    shared = f.tape.buffers(len(X), shared=True)
    assert shared[0][1] is shared[1][1] and shared[0][2] is shared[1][2]
    _, outs = f.backward(X, output=output, sync=False)
    fused = f.flat_grad.copy()
    blocks = f.tape.forward(X)
    f.tape.backward(blocks, output, 1.0 / len(X))
    assert f.flat_grad.tolist() == fused.tolist()
    assert f.tape.outputs(blocks).tolist() == outs.tolist()
    f.tape.release(blocks)
    np.testing.assert_allclose(fused, engine(fn, params, X, output=output)[1], rtol=1e-12)
