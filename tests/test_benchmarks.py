"""The benchmark harness works end to end (a smoke test: no speed is asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_runs_and_writes_its_report(tmp_path) -> None:
    out = tmp_path / "performance.md"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    for row in ("chain 1,000 steps: total", "random DAG", "MLP(2, [16, 16, 1]) step",
                "digits MLP(64, [32, 10]) epoch", "bytes per node", "| 16 | 256 |",
                "µs per op", "autograd_bp compiled (`compile`, batch of 1)",
                "| transformer, 1 step |", "hidden-layer matmul alone",
                "A quick run (`--quick`)", "judged on *compiled / torch*",
                "three settings of the garbage collector", "| chain, 10,000 steps | micrograd |",
                "| MLP step: micrograd's own nn.py on autograd_bp's Value | micrograd |",
                "| microgpt-style model, 1 step(s) | microgpt-style Value |",
                "| transformer, 1 step(s) | micrograd design + exp/log |",
                "Targets (issue 26)", "is compiled by mypyc when the package is installed",
                "marks each node it reaches", "none of them calls a BLAS"):  # fmt: skip
        assert row in text, row
    for label in ("collector off (the interpreter alone)",
                  "collector paused, one collection per step (timed)",
                  "default settings (collector on)"):  # fmt: skip
        assert text.count(label) >= 1, label
    assert (tmp_path / "images" / "performance_scaling.png").read_bytes().startswith(b"\x89PNG")
    assert "![time per step against batch size, log-log](images/performance_scaling.png)" in text
    assert '"machine"' in text and '"python"' in text
    from autograd_bp.core import COMPILED  # the child ran with this environment too

    core = "compiled" if COMPILED else "pure"
    assert f'"node_core": "{core}"' in text and f"engine ran its node core {core}" in text
    # the memory table's row for the source, beside the compiled node (the source's own run
    # has only that one)
    assert ("| autograd_bp, Python source |" in text) == COMPILED
    assert "✗" not in text  # the gradient agreement checks all passed


def test_transformer_engines_agree_on_the_losses() -> None:
    """The transformer row's premise: the same model on micrograd's design gives our losses."""
    pytest = __import__("pytest")
    pytest.importorskip("micrograd")
    sys.path.insert(0, str(ROOT))
    from benchmarks import engines as E
    from benchmarks.__main__ import in_big_stack

    ours = E.transformer_ours(2)
    theirs = in_big_stack(lambda: E.transformer_micrograd(2), 1_000_000)
    assert len(ours) == 2 and all(abs(a - b) <= 1e-9 * abs(a) for a, b in zip(ours, theirs))


def test_unknown_sections_are_refused() -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "chain,nope"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 2 and "unknown section(s) nope" in proc.stderr


def test_bad_repetitions_and_an_empty_selection_are_refused() -> None:
    for args, words in ((["--reps", "0"], "--reps: must be at least 1, got 0"),
                        (["--reps", "-3"], "--reps: must be at least 1, got -3"),
                        (["--only", ","], "--only: no section named")):  # fmt: skip
        proc = subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
        assert proc.returncode == 2 and words in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_a_partial_run_prints_and_leaves_the_published_report_alone() -> None:
    report = ROOT / "docs" / "performance.md"
    before = report.read_bytes()
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "mlp", "--reps", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "MLP(2, [16, 16, 1]) step" in proc.stdout and "written:" not in proc.stderr
    assert report.read_bytes() == before


def test_a_section_run_alone_is_reported() -> None:
    """``--only random_graph`` or ``--only transformer`` prints its own table (each used to
    appear only when the other was run too)."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.__main__ import page

    machine = {"blas": {"numpy": None, "torch": None}}
    graph = {"ops": 1000, "examples": 3, "max_rel_grad_diff": 1e-15,
             "seconds_per_op": {"dynamic": 6e-7, "compiled": 3e-7}}  # fmt: skip
    transformer = {"steps": 2, "seconds": {"autograd_bp": 0.1, "micrograd": 0.7},
                   "max_rel_loss_diff": {"micrograd": 0.0}}  # fmt: skip
    alone = page({"machine": machine, "quick": True, "random_graph": graph}, None)
    assert "µs per op" in alone and "transformer" not in alone.split("```json")[0]
    alone = page({"machine": machine, "quick": True, "transformer": transformer}, None)
    assert "| transformer, 2 steps |" in alone and "µs per op" not in alone


def test_each_collector_setting_does_what_its_label_says() -> None:
    """"off" leaves a reference cycle made in the step uncollected, "paused" collects it inside
    the timed region, "on" runs the collector during the step."""
    import gc
    import weakref

    sys.path.insert(0, str(ROOT))
    from benchmarks.__main__ import timed

    class Node:
        pass

    def cycle() -> weakref.ref:
        a, b = Node(), Node()
        a.other, b.other = b, a  # freed only by the collector
        return weakref.ref(a)

    gc.collect()
    _, ref = timed(cycle, setting="off")
    assert ref() is not None  # still there: nothing collected it
    gc.collect()
    assert ref() is None
    _, ref = timed(cycle, setting="paused")
    assert ref() is None  # collected before the clock stopped
    seen = []
    _, enabled = timed(lambda: seen.append(gc.isenabled()) or gc.isenabled(), setting="on")
    assert enabled and seen == [True]
    _, enabled = timed(gc.isenabled, setting="paused")
    assert not enabled
    pytest = __import__("pytest")
    with pytest.raises(ValueError, match="setting must be one of off, paused, on"):
        timed(gc.isenabled, setting="sometimes")


def test_micrograd_nn_runs_unchanged_on_our_value_and_microgpt_style_agrees() -> None:
    """The nn.py row's premise (micrograd's own nn.py, only its import swapped, computes
    micrograd's gradients on our Value) and the microgpt row's (same losses on both Values)."""
    pytest = __import__("pytest")
    pytest.importorskip("micrograd")
    sys.path.insert(0, str(ROOT))
    from autograd_bp import Value
    from benchmarks import engines as E

    nn = E.micrograd_nn_on(Value)
    assert type(nn.MLP(2, [3, 1]).parameters()[0]) is Value
    spec = E.mlp_spec()
    steps = {}
    for make in (E.mlp_micrograd, E.mlp_micrograd_nn):
        _, step, grads = make(spec)
        step()
        steps[make.__name__] = grads()
    theirs, ours = steps["mlp_micrograd"], steps["mlp_micrograd_nn"]
    assert len(ours) == len(theirs) == 337
    assert all(abs(a - b) <= 1e-12 * max(abs(a), abs(b), 1.0) for a, b in zip(ours, theirs))
    gpt = E.gpt_spec(2)
    losses = {}
    for cls in (Value, E.MicroGPTValue):
        step, got = E.gpt_model(gpt, cls)
        step()
        step()
        losses[cls] = got
    assert len(losses[Value]) == 2 and losses[Value][1] != losses[Value][0]
    assert losses[Value] == pytest.approx(losses[E.MicroGPTValue], rel=1e-12)
