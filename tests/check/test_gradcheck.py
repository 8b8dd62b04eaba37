"""gradcheck and verify report honestly, including failures."""

from __future__ import annotations

import math

from conftest import require_torch

from autograd_bp import Value
from autograd_bp.check.gradcheck import gradcheck, verify
from autograd_bp.textbook.worked import build_network


def test_gradcheck_passes_on_smooth_functions() -> None:
    report = gradcheck(lambda a, b: (a * b).sigmoid() * a.exp() / b, [0.3, 1.7])
    assert report.passed and bool(report) and report.max_error < 1e-7
    assert [r.name for r in report.rows] == ["x0", "x1"]


def test_gradcheck_fails_at_a_kink_and_says_so() -> None:
    report = gradcheck(lambda x: x.relu(), [0.0])  # engine takes 0; central difference 0.5
    assert not report.passed and "FAIL" in report.text()
    assert report.rows[0].analytic == 0.0 and abs(report.rows[0].numeric - 0.5) < 1e-9


def test_gradcheck_uses_value_labels() -> None:
    w = Value(0.4, label="w")
    assert gradcheck(lambda v: v * v, [w]).rows[0].name == "w"


def test_verify_on_the_seed_network_sums_shared_biases_everywhere() -> None:
    torch = require_torch()
    assert torch is not None
    net, params = build_network()
    report = verify(net, [0.05, 0.10], [0.01, 0.99])
    assert report.torch is not None
    assert report.max_rel_matrix < 1e-12 and report.max_rel_torch < 1e-12
    assert report.max_abs_numeric < 1e-9
    assert len(report.names) == 10
    assert "BP1-BP4" in report.text() and report.to_dict()["max_rel_torch"] < 1e-12


def test_gradcheck_at_the_edge_of_the_domain_says_so_instead_of_raising() -> None:
    report = gradcheck(lambda x, y: x.sqrt() * y, [Value(0.0, label="x"), 2.0])
    edge, other = report.rows
    assert not report.passed and edge.ok is False and other.ok is True
    assert "x = 0 is at the edge of the domain" in edge.note and "x − 1e-06" in edge.note
    assert math.isnan(edge.numeric) and report.max_error == other.error
    assert "edge of the domain" in report.text() and "-1e-06" not in report.text()
    doc = report.to_dict()
    assert doc["passed"] is False and doc["inputs"][0]["note"] == edge.note
    assert "note" not in doc["inputs"][1]
