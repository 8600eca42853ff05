"""Weighted scoring with auto-fail, and bands (pure)."""
from decimal import Decimal

import pytest

from qa import scoring
from qa.scoring import DimensionScore as D

DEFAULT_WEIGHTS = (30, 25, 20, 15, 10)


def test_default_weights_score_is_the_sum_of_level_points():
    # Good (25) + Good (20) + Good (15) + Good (12) + Good (8) = 80 of 100.
    result = scoring.compute([D(30, 25), D(25, 20), D(20, 15), D(15, 12), D(10, 8)])
    assert result.score == Decimal("80.00")
    assert (result.earned, result.available, result.complete) == (80, 100, True)


def test_perfect_and_zero():
    assert scoring.compute([D(w, w) for w in DEFAULT_WEIGHTS]).score == Decimal("100.00")
    assert scoring.compute([D(w, 0) for w in DEFAULT_WEIGHTS]).score == Decimal("0.00")


def test_auto_fail_sets_zero_whatever_else_is_scored():
    result = scoring.compute([D(w, w) for w in DEFAULT_WEIGHTS], auto_fail=True)
    assert result.score == Decimal("0.00")
    assert result.auto_failed is True


def test_auto_fail_decides_even_an_incomplete_scorecard():
    result = scoring.compute([D(30, None), D(25, 25)], auto_fail=True)
    assert result.score == Decimal("0.00") and result.complete


def test_incomplete_scorecard_has_no_score():
    result = scoring.compute([D(30, 30), D(25, None)])
    assert result.score is None and not result.complete


def test_not_applicable_dimension_counts_neither_way():
    # Efficiency N/A: 25 + 20 + 15 + 8 = 68 of 85 → 80.00.
    result = scoring.compute([D(30, 25), D(25, 20), D(20, 15), D(15, None, True), D(10, 8)])
    assert result.score == Decimal("80.00")
    assert result.available == 85


def test_weights_not_adding_to_100_are_scaled_and_rounded_half_up():
    # 2 of 3 points → 66.666… → 66.67.
    assert scoring.compute([D(1, 1), D(2, 1)]).score == Decimal("66.67")
    # 1 of 8 → 12.5 exactly.
    assert scoring.compute([D(8, 1)]).score == Decimal("12.50")


def test_points_above_weight_are_refused():
    with pytest.raises(scoring.ScoringError):
        scoring.compute([D(10, 11)])


def test_all_not_applicable_is_refused():
    with pytest.raises(scoring.ScoringError):
        scoring.compute([D(10, None, True)])


@pytest.mark.parametrize(("score", "band"), [
    (100, "excellent"), (90, "excellent"), ("89.99", "good"), (80, "good"),
    ("79.99", "fair"), (70, "fair"), ("69.99", "poor"), (0, "poor"),
])
def test_bands(score, band):
    assert scoring.band(Decimal(str(score))) == band


def test_auto_failed_review_is_in_the_critical_fail_band():
    assert scoring.band(Decimal(0), auto_failed=True) == "critical_fail"


def test_distribution_counts_every_band():
    counts = scoring.distribution([(Decimal(95), False), (Decimal(85), False),
                                   (Decimal(85), False), (Decimal(0), True)])
    assert counts == {"excellent": 1, "good": 2, "fair": 0, "poor": 0, "critical_fail": 1}


def test_attainment():
    assert scoring.attainment(12, 15) == Decimal("80.00")
