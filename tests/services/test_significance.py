"""What "a clear winner" means: probabilities that add up, intervals that hold the rate,
no winner declared from noise, a real difference found, and the same figures always giving
the same answer."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from webapp.services import significance
from webapp.services.significance import (
    CLEAR_PROBABILITY,
    Amounts,
    Proportion,
    compare_amounts,
    compare_rates,
    say_verdict,
    two_proportion_p_value,
    wilson_interval,
)

pytestmark = pytest.mark.no_database

groups = st.lists(st.integers(0, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
                  min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(groups)
def test_probabilities_to_be_best_add_up_and_intervals_hold_the_rate(figures):
    verdict = compare_rates([Proportion(s, n) for s, n in figures], draws=2000)
    assert math.isclose(sum(g.probability_best for g in verdict.groups), 1.0, abs_tol=1e-9)
    for group, (s, n) in zip(verdict.groups, figures, strict=True):
        assert 0.0 <= group.low <= group.value <= group.high <= 1.0
        assert group.value == (s / n if n else 0.0)
    assert verdict.chosen in (0, verdict.leader)
    assert not verdict.clear or verdict.groups[verdict.leader].probability_best >= CLEAR_PROBABILITY


def test_the_same_figures_give_the_same_probabilities():
    figures = [Proportion(120, 1000), Proportion(131, 1000)]
    first = compare_rates(figures)
    significance._compare_rates.cache_clear()  # drawn again, not remembered
    again = compare_rates(figures)
    assert again is not first and again.groups == first.groups


def test_a_verdict_is_remembered_for_the_same_figures_and_cannot_be_changed():
    """A report's page asks again at every view; the figures seed the draws, so the verdict
    of figures already seen is the one drawn before (60-80 ms of draws saved)."""
    rates = compare_rates([Proportion(31, 400), Proportion(44, 400)])
    assert compare_rates((Proportion(31, 400), Proportion(44, 400))) is rates
    assert compare_rates([Proportion(31, 400), Proportion(45, 400)]) is not rates
    assert compare_rates([Proportion(31, 400), Proportion(44, 400)], draws=1000) is not rates
    amounts = compare_amounts([Amounts(100, 950.0, 20_000.0), Amounts(100, 1010.0, 21_000.0)])
    assert compare_amounts([Amounts(100, 950.0, 20_000.0), Amounts(100, 1010.0, 21_000.0)]) is amounts
    assert isinstance(rates.groups, tuple) and isinstance(amounts.groups, tuple)  # shared: read-only


def test_identical_variants_are_not_called_a_winner_in_most_trials():
    """Two variants with the same true rate: a clear winner appears in few simulated tests
    (about the 5% a 95% threshold allows on each side, not a coin toss)."""
    rng = random.Random(7)
    clear = 0
    trials = 200
    for _ in range(trials):
        a = sum(rng.random() < 0.2 for _ in range(500))
        b = sum(rng.random() < 0.2 for _ in range(500))
        clear += compare_rates([Proportion(a, 500), Proportion(b, 500)], draws=4000).clear
    assert clear / trials < 0.15


def test_a_real_difference_is_found_and_chosen():
    verdict = compare_rates([Proportion(100, 1000), Proportion(160, 1000)])
    assert verdict.clear and verdict.chosen == 1
    assert verdict.groups[1].probability_best > 0.99
    assert verdict.p_value is not None and verdict.p_value < 0.001


def test_too_few_people_keeps_the_control_and_says_why():
    verdict = compare_rates([Proportion(0, 10), Proportion(9, 10)])
    assert not verdict.clear and verdict.chosen == 0
    said = say_verdict(verdict, ["Variant A", "Variant B"], metric="opens")
    assert said.startswith("No clear winner on opens: too few people")
    assert "Variant A, the control, stands" in said


def test_a_close_race_says_it_is_not_significant():
    verdict = compare_rates([Proportion(200, 1000), Proportion(210, 1000)])
    said = say_verdict(verdict, ["Variant A", "Variant B"], metric="unique clicks")
    assert not verdict.clear
    assert "not significant" in said and "Variant A, the control, stands" in said


def test_wilson_interval_at_the_edges():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    low, high = wilson_interval(0, 100)
    assert low == 0.0 and 0.0 < high < 0.05
    low, high = wilson_interval(100, 100)
    assert 0.95 < low < 1.0 and high == 1.0


def test_p_value_matches_the_textbook_example():
    # 30/100 vs 45/100: z = -2.19, two-sided p = 0.028
    assert math.isclose(two_proportion_p_value(Proportion(30, 100), Proportion(45, 100)), 0.0285, abs_tol=0.001)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.floats(0, 1e7, allow_nan=False)), min_size=1, max_size=4))
def test_amounts_never_break_on_any_figures(figures):
    amounts = [Amounts(n, total if n else 0.0, (total * total) if n else 0.0) for n, total in figures]
    verdict = compare_amounts(amounts, draws=500)
    assert math.isclose(sum(g.probability_best for g in verdict.groups), 1.0, abs_tol=1e-9)
    assert all(g.low <= g.value <= g.high for g in verdict.groups)


def test_revenue_per_recipient_difference_is_found():
    # 1,000 recipients each; 5% buy at 80 in A, 9% buy at 80 in B.
    a = Amounts(1000, 50 * 80.0, 50 * 80.0**2)
    b = Amounts(1000, 90 * 80.0, 90 * 80.0**2)
    verdict = compare_amounts([a, b])
    assert verdict.clear and verdict.chosen == 1
