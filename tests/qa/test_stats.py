"""Spread, standard deviation, Pearson, slope and reviewer drift on known sets (pure)."""
import math

import pytest

from qa import stats


def test_spread_and_population_stdev_on_a_known_set():
    # 80, 85, 90: mean 85, deviations -5/0/5 → variance 50/3, stdev 4.0825.
    d = stats.describe([80, 85, 90])
    assert d.spread == 10
    assert d.stdev == pytest.approx(math.sqrt(50 / 3))
    assert d.stdev == pytest.approx(4.0825, abs=1e-4)
    assert d.mean == 85 and d.disagrees


def test_difference_of_exactly_five_points_is_not_highlighted():
    d = stats.describe([80, 85])
    assert d.spread == 5 and d.stdev == 2.5
    assert not d.disagrees


def test_one_value_and_none():
    assert stats.describe([70]).stdev == 0
    empty = stats.describe([])
    assert empty.spread is None and empty.stdev is None and not empty.disagrees


def test_pearson_perfect_and_known():
    assert stats.pearson([(1, 2), (2, 4), (3, 6)]) == pytest.approx(1.0)
    assert stats.pearson([(1, 3), (2, 2), (3, 1)]) == pytest.approx(-1.0)
    # x = 1..4, y = 1, 3, 2, 4: sxy = 4, sxx = 5, syy = 5 → r = 0.8.
    assert stats.pearson([(1, 1), (2, 3), (3, 2), (4, 4)]) == pytest.approx(0.8)


def test_pearson_undefined():
    assert stats.pearson([(1, 1)]) is None
    assert stats.pearson([(1, 5), (2, 5)]) is None


def test_slope():
    assert stats.slope([(0, 70), (1, 75), (2, 80)]) == pytest.approx(5)
    assert stats.slope([(0, 70)]) is None


def test_drift_signed_and_absolute():
    rows = [
        ("quinn", "2026-10", 90, 85),   # +5
        ("quinn", "2026-11", 80, 85),   # -5
        ("rita", "2026-10", 88, 85),    # +3
        ("rita", "2026-11", 90, 85),    # +5
    ]
    d = stats.drift(rows)
    assert d["quinn"].bias == 0 and d["quinn"].mean_abs == 5
    assert d["rita"].bias == 4 and d["rita"].mean_abs == 4
    assert d["rita"].by_period == {"2026-10": 3, "2026-11": 5}
