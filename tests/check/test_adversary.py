"""Attacks on the checker's soundness found by an adversarial pass (issue 22): each was, or
could be, graded ✓ correct for a wrong claim."""

from __future__ import annotations

from autograd_bp import Value, parse
from autograd_bp.check.derivation import check_derivation


def test_two_leaves_with_one_label_are_not_one_symbol() -> None:
    # SymPy named both leaves x: x claimed for ∂(x₁·x₂)/∂x₁ (= x₂ = 5) was "proved" although
    # the claim is x₁ = 3 at the point
    a, b = Value(3.0, label="x"), Value(5.0, label="x")
    r = check_derivation(a * b, a, "x")
    assert r.verdict == "wrong" and (r.engine, r.claimed) == (5.0, 3.0)
    assert (a.label, b.label) == ("x", "x")  # the caller's graph is left as it was
    assert check_derivation(a * b, b, "x").verdict == "correct"  # x names a: right for b


def test_sign_of_an_argument_zero_everywhere_is_not_a_branch() -> None:
    # softplus(x) − softplus(−x) − x is 0 on the whole line: sign of it is 0, so the claim is
    # 2x + 1; splitting on its sign (+1 or −1, both squaring to 1) "proved" it equal to 2x
    f = parse("x*x", x=3.0)
    r = check_derivation(f, "x", "2*x + 1 - sign(softplus(x) - softplus(-x) - x)**2")
    assert r.verdict != "correct" and r.symbolic is not True


def test_a_hat_between_two_kinks_1e9_apart_is_seen_without_sympy() -> None:
    # a bump of height 1 and width 2e-9 at x = 1e4: the bisection stopped 6e-4 short of the
    # kinks, every point missed the bump, and symbolic=False said "correct"
    f = parse("x*x", x=3.0)
    hat = "2*x + 1e9*(relu(x-1e4) - 2*relu(x-1e4-1e-9) + relu(x-1e4-2e-9))"
    for symbolic in (False, True):
        assert check_derivation(f, "x", hat, symbolic=symbolic).verdict == "only_here"


def test_kinks_far_out_are_reached() -> None:
    # beyond the 1e6 the design moved a variable by, these were undecided
    f = parse("x*x", x=3.0)
    for claim in ("2*x + relu(x - 1e7)", "2*x*step(x + 1e6)", "2*x + relu(1e-9 - abs(x))"):
        r = check_derivation(f, "x", claim, symbolic=False)
        assert r.verdict == "only_here", claim


def test_a_number_is_held_to_its_digits_not_to_the_floats_atol() -> None:
    # 0.0000000000000 (± 5e-14) for 1e-13 was proved "correct": SymPy allowed atol = 1e-12
    f = parse("1e-13*x", x=2.0)
    assert check_derivation(f, "x", "0.0000000000000").verdict == "wrong"
    assert check_derivation(f, "x", "0.0000000000001").verdict == "correct"
    assert check_derivation(f, "x", "0").verdict == "correct"  # ± 0.5


def test_a_leaf_the_points_cannot_name_is_its_number_for_sympy() -> None:
    # c's label is no name, so no point gave SymPy a value for it: 7 claimed for ∂(x·c)/∂x = c
    # was "proved" (the truth, symbol c, is constant) and never compared with c = 2
    x, c = Value(3.0, label="x"), Value(2.0, label="c.1")
    assert check_derivation(x * c, x, "7").verdict == "wrong"
    assert check_derivation(x * c, x, "2").verdict == "correct"
    y = Value(3.0, label="foo")  # a variable named otherwise than its label
    assert check_derivation(y * y, y, "6", names={"x": y}).verdict == "only_here"
    assert check_derivation(y * y, y, "2*x", names={"x": y}).verdict == "correct"


def test_without_sympy_a_claim_wrong_where_two_kinks_are_both_open_is_not_correct() -> None:
    # each kink was crossed alone, never both at once: symbolic=False said "correct"
    f = parse("x*y", x=3.0, y=2.0)
    for claim in ("y + relu(x-1e4)*relu(y-1e4)", "y + step(x-10)*step(y-10)*step(25-x-y)"):
        assert check_derivation(f, "x", claim, symbolic=False).verdict != "correct", claim
    assert check_derivation(f, "x", "y", symbolic=False).verdict == "correct"


def test_a_difference_that_cancels_all_40_digits_is_still_seen() -> None:
    # the gate step(x + 1e3) cuts a path where 1 − σ(140) ≈ 1e-61: 40 digits said 0, 80 said
    # 1e-61, the point was dropped, and the claim was undecided instead of refuted
    from autograd_bp.check.exercise import make_exercise

    ex = make_exercise(2, level=3)
    r = ex.grade(f"({ex.answer})*step(x + 1e3)")
    assert r.verdict == "only_here" and r.symbolic is False


def test_deltas_in_a_relu_network_keep_their_gates_for_sympy() -> None:
    # SymPy read each δ as the create_graph derivative, which holds relu's local derivative
    # as its number at the given point: the textbook BP4 answer δ·a was refuted ("only here")
    from autograd_bp.check.problems import nielsen_problem

    p = nielsen_problem([2, 3, 2], activation="relu")
    for claim in ("delta2_1*a1_1", "(delta3_1*w3_1_1 + delta3_2*w3_2_1)*step(z2_1)*a1_1"):
        r = check_derivation(p, "w2_1_1", claim)
        assert (r.verdict, r.symbolic) == ("correct", True), claim
    assert check_derivation(p, "z2_1", "delta2_1").verdict == "correct"
    missing_gate = "(delta3_1*w3_1_1 + delta3_2*w3_2_1)*a1_1"
    assert check_derivation(p, "w2_1_1", missing_gate).verdict == "only_here"
