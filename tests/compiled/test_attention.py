"""Attention-shaped dot products (rows against rows) run as batched matrix multiplies, with the
gradients of the dynamic engine and of PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import require_torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_bp import Value, compile, dot, sum_values
from autograd_bp.compiled.rowdot import RowDotGroup, row_products
from autograd_bp.compiled.trace import Flat
from benchmarks.attention_tape import (
    attention,
    compiled_attention,
    data,
    max_rel_grad_diff,
    torch_attention,
    weights,
)


def engine_mean_grads(fn, params: list[Value], X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The dynamic engine, example by example: outputs and the mean gradient of output 0."""
    outs, grads = [], np.zeros(len(params))
    for row in X:
        for p in params:
            p.grad = 0.0
        out = fn(*[Value(float(v)) for v in row])
        out.backward()
        outs.append(out.data)
        grads += [p.grad for p in params]
    return np.array(outs), grads / len(X)


def compiled_grads(f, params: list[Value]) -> np.ndarray:
    """The compiled gradient of each parameter, in ``params`` order (0 where the traced
    graph does not read it, as the engine leaves its .grad)."""
    position = {id(p): i for i, p in enumerate(f.parameters)}
    return np.array([f.flat_grad[position[id(p)]] if id(p) in position else 0.0 for p in params])


def rel(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.abs(b).max()), 1e-300)
    return float(np.abs(a - b).max() / scale)


@pytest.mark.parametrize(("T", "D", "B"), [(2, 2, 1), (4, 3, 5), (8, 16, 33), (5, 8, 300)])
def test_attention_gradients_equal_pytorchs(T: int, D: int, B: int) -> None:
    require_torch()
    W = weights(D, seed=T)
    X = data(T, D, max(B, 2), seed=D)[:B]
    f = compiled_attention(T, D, W, data(T, D, 2, seed=D))
    loss, _ = f.backward(X, sync=False)
    step, grads = torch_attention(T, D, W, X)
    step()
    assert max_rel_grad_diff(f, W, grads()) <= 1e-12


def test_attention_runs_its_products_as_matrix_products() -> None:
    """The scores and the weighted sums are one RowDotGroup each, both ways; no dot node is
    left to the general path."""
    T, D = 6, 4
    f = compiled_attention(T, D, weights(D), data(T, D, 2))
    kinds = [type(g).__name__ for g in f.tape.groups]
    assert kinds.count("RowDotGroup") == 2
    assert not [g for g in f.tape.groups if type(g).__name__ == "OpGroup" and g.rule.name == "dot"]
    assert sum(isinstance(g, RowDotGroup) for g in f.tape.backward_groups(0)) == 2


def test_attention_equals_the_dynamic_engine_example_by_example() -> None:
    T, D = 4, 3
    W = weights(D, seed=3)
    params = [w for M in W for row in M for w in row]
    X = data(T, D, 7, seed=2)
    f = compiled_attention(T, D, W, X[:2])
    _, outs = f.backward(X, sync=False)
    want_out, want_grad = engine_mean_grads(lambda *x: attention(x, T, D, *W), params, X)
    position = {id(p): i for i, p in enumerate(f.parameters)}
    ours = f.flat_grad[[position[id(p)] for p in params]]
    assert rel(outs[:, 0], want_out) <= 1e-12
    assert rel(ours, want_grad) <= 1e-12


def _products(n_rows: int, n_cols: int, width: int, causal: bool, prefix: bool):
    """A function on (n_rows + n_cols) · width inputs: left rows · right rows (every pair, or
    only r ≤ l), each right row optionally read as a prefix of length l + 1, mixed by tanh."""
    w = [Value(0.3 + 0.1 * k) for k in range(n_rows * n_cols)]

    def fn(*x: Value) -> Value:
        rows = [list(x[i * width : (i + 1) * width]) for i in range(n_rows + n_cols)]
        left, right = rows[:n_rows], rows[n_rows:]
        terms = [sum_values(x) * 0.01]  # every input read, whatever the products read
        for i in range(n_rows):
            for j in range(n_cols):
                if causal and j > i:
                    continue
                n = min(i + 1, width) if prefix else width
                terms.append(w[i * n_cols + j] * dot(left[i][:n], right[j][:n]).tanh())
        return sum_values(terms)

    return fn, w


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 6), st.booleans(), st.booleans(),
       st.integers(1, 40), st.integers(0, 2**31))  # fmt: skip
def test_random_row_products_equal_the_dynamic_engine(n_rows, n_cols, width, causal, prefix,
                                                      batch, seed) -> None:  # fmt: skip
    fn, w = _products(n_rows, n_cols, width, causal, prefix)
    X = np.random.default_rng(seed).normal(size=(batch, (n_rows + n_cols) * width))
    f = compile(fn, X[0], X[1] if batch > 1 else None)
    loss, outs = f.backward(X, sync=False)
    want_out, want_grad = engine_mean_grads(fn, w, X)
    assert rel(outs[:, 0], want_out) <= 1e-12
    assert rel(compiled_grads(f, w), want_grad) <= 1e-12


def test_an_infinity_runs_the_general_path_and_gives_the_engines_numbers() -> None:
    """Padding and unused entries add exact zeros only for finite numbers (0 · inf is NaN):
    a block with an infinity runs node by node, as the dynamic engine does."""
    fn, w = _products(3, 3, 3, causal=True, prefix=True)
    X = np.random.default_rng(0).normal(size=(4, 18))
    f = compile(fn, X[0], X[1])
    assert any(isinstance(g, RowDotGroup) for g in f.tape.groups)
    X[1, 17] = math.inf  # the last right row's last entry: read only by the longest product
    loss, outs = f.backward(X, sync=False)
    want_out, want_grad = engine_mean_grads(fn, w, X)
    np.testing.assert_array_equal(np.isnan(outs[:, 0]), np.isnan(want_out))
    np.testing.assert_allclose(outs[:, 0], want_out, rtol=1e-12)
    np.testing.assert_allclose(compiled_grads(f, w), want_grad, rtol=1e-12)


def test_row_products_refuses_what_is_no_matrix_product() -> None:
    x = [Value(float(k)) for k in range(12)]
    one = Flat([dot(x[0:2], x[2:4])], x[:4]).instructions
    assert row_products(one) is None  # a single node: nothing to batch
    twice = Flat([dot(x[0:2], x[2:4]), dot(x[0:2], x[2:4]) * 2.0], x[:4]).instructions
    assert row_products([i for i in twice if i.rule.name == "dot"]) is None  # one entry twice
    # a diagonal of 6 products out of a 6 × 6 product: too much computed for nothing
    diagonal = [dot([x[k]], [x[k + 6]]) for k in range(6)]
    assert row_products(Flat(diagonal, x).instructions) is None
    f = compile(lambda *v: sum_values([dot([a], [b]) for a, b in zip(v[:6], v[6:])]),
                list(range(12)))  # fmt: skip
    assert not any(isinstance(g, RowDotGroup) for g in f.tape.groups)
    assert f(np.arange(12.0)[None, :]).tolist() == [sum(k * (k + 6) for k in range(6))]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=6), min_size=1, max_size=6),
       st.booleans(), st.integers(1, 20), st.integers(0, 2**31))  # fmt: skip
def test_random_sums_of_any_length_equal_the_dynamic_engine(picks, constant, batch, seed) -> None:
    """Sums of one level with any number of terms, a term repeated or shared between sums, a
    constant among them: one reduceat forward, every term its sum's gradient backward."""
    w = [Value(0.5 + 0.25 * k) for k in range(len(picks))]

    def fn(*x: Value) -> Value:
        terms = [v.tanh() for v in x]
        sums = [
            sum_values([terms[i] for i in pick] + ([1.5] if constant else [])) for pick in picks
        ]
        return sum_values([wk * s * s for wk, s in zip(w, sums)]) + sum_values(x) * 0.01

    X = np.random.default_rng(seed).normal(size=(batch, 6))
    f = compile(fn, X[0], X[1] if batch > 1 else None)
    assert any(type(g).__name__ == "RowSumGroup" for g in f.tape.groups)
    loss, outs = f.backward(X, sync=False)
    want_out, want_grad = engine_mean_grads(fn, w, X)
    assert rel(outs[:, 0], want_out) <= 1e-12
    assert rel(compiled_grads(f, w), want_grad) <= 1e-12


def test_the_table_shows_the_blas_share_computed_from_the_products_alone() -> None:
    """The ``matrix products alone`` column is numpy's time over PyTorch's for the layer's
    own products, measured in the same cell (not typed in)."""
    require_torch()
    from benchmarks.attention_tape import attention_cell, attention_table

    row = attention_cell(3, 2, 4, reps=1)
    s = row["seconds"]
    assert s["numpy matmuls"] > 0 and s["torch matmuls"] > 0
    line = attention_table([row]).splitlines()[-1].split("|")
    ratios = row["ratios"]
    assert line[7].strip() == f"{ratios['matmuls numpy / torch']:.2f}"
    assert line[6].strip() == f"{ratios['compiled / torch']:.2f}"
    assert 0 < ratios["compiled / torch"] < float("inf")
    from benchmarks.attention_tape import attention_summary

    missed = attention_summary([row], target=0.0)  # every cell misses a target of 0
    assert "within 0.0× in 0 of 1 cells" in missed and f"{ratios['compiled / torch']:.2f}" in missed
    assert row["max_rel_grad_diff"] <= 1e-12



def test_the_benchmark_runs_the_cells_asked_for(capsys: pytest.CaptureFixture[str]) -> None:
    """``--cells T/D/B,...`` measures those cells only; a malformed cell is refused in one
    line (argparse's exit status 2)."""
    require_torch()
    from benchmarks.attention_tape import main

    assert main(["--cells", "2/2/3,3/2/1", "--reps", "1"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    assert [r.split("|")[1:4] for r in rows[1:]] == [[" 2 ", " 2 ", " 3 "], [" 3 ", " 2 ", " 1 "]]
    for bad in ("8/16", "8/0/1", "a/b/c"):
        with pytest.raises(SystemExit) as stop:
            main(["--cells", bad])
        assert stop.value.code == 2
        assert "a cell is T/D/B" in capsys.readouterr().err

def _blas_layout(a: np.ndarray) -> bool:
    """Whether numpy's matmul can hand this matrix (the last two axes) to BLAS: a unit step
    along one of them and a step along the other no shorter than a row (numpy's
    is_blasable2d, either way round); else numpy runs its own, several times slower, loop."""
    *_, rows, cols = a.shape
    s_rows, s_cols = (s // a.itemsize for s in a.strides[-2:])
    return (s_cols == 1 and s_rows >= cols) or (s_rows == 1 and s_cols >= rows)


@pytest.mark.parametrize(("T", "D", "B"), [(8, 16, 300), (16, 8, 40), (5, 3, 1)])
def test_attention_matrix_products_stay_on_the_blas_path(T: int, D: int, B: int,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:  # fmt: skip
    """Every matrix product of a forward and backward pass (the layers', the row products',
    on views of batch-first buffers) gives numpy operands and an output laid out for BLAS."""
    f = compiled_attention(T, D, weights(D), data(T, D, 2))
    X = data(T, D, max(B, 2))[:B]
    f.backward(X, sync=False)  # buffers allocated
    seen: list[tuple[tuple[int, ...], ...]] = []
    matmul = np.matmul

    def checked(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        arrays = [x for x in (a, b, out) if isinstance(x, np.ndarray)]
        if all(x.ndim >= 2 and min(x.shape[-2:]) > 1 for x in arrays):  # not a vector case
            seen.append(tuple(x.shape for x in arrays))
            assert all(_blas_layout(x) for x in arrays), [(x.shape, x.strides) for x in arrays]
        return matmul(a, b, out=out)

    monkeypatch.setattr(np, "matmul", checked)
    f.backward(X, sync=False)
    assert len(seen) >= 8  # the projections, scores and weighted sums, both ways
