"""Arrival forecasts on synthetic series with known seasonality and trend, MAPE arithmetic and
backtests (pure module, no database)."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from workforce import forecast as fc

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday, 00:00 UTC
WEEK = fc.HOURS_PER_WEEK

# Known factors, normalised so that each averages 1: busy weekdays, quiet weekends; night,
# morning peak, afternoon, evening.
_DOW = [1.2, 1.1, 1.0, 1.0, 1.3, 0.7, 0.7]
_HOD = [0.2] * 7 + [1.0] * 2 + [2.0] * 8 + [1.0] * 2 + [0.4] * 5
DOW = [d * 7 / sum(_DOW) for d in _DOW]
HOD = [h * 24 / sum(_HOD) for h in _HOD]


def series(hours: int, *, level: float = 10.0, trend: float = 0.0,
           start: datetime = START) -> list[float]:
    """(level + trend·t) × dow factor × hod factor, hour by hour from ``start``."""
    out = []
    for t in range(hours):
        moment = start + timedelta(hours=t)
        out.append((level + trend * t) * DOW[moment.weekday()] * HOD[moment.hour])
    return out


def truth_after(history_hours: int, hours: int, **kwargs) -> list[float]:
    return series(history_hours + hours, **kwargs)[history_hours:]


# --- mape ---------------------------------------------------------------------------------

def test_mape_is_the_mean_of_absolute_percentage_errors():
    # |100-90|/100 = 0.10, |50-60|/50 = 0.20, |20-20|/20 = 0 -> mean 0.10
    assert fc.mape([100, 50, 20], [90, 60, 20]) == pytest.approx(0.10)


def test_mape_ignores_hours_without_arrivals():
    # The zero actual has no percentage error; only |10-15|/10 = 0.5 counts.
    assert fc.mape([0, 10], [5, 15]) == pytest.approx(0.5)


def test_mape_is_none_when_every_actual_is_zero():
    assert fc.mape([0, 0], [1, 2]) is None


def test_mape_refuses_series_of_different_lengths():
    with pytest.raises(ValueError, match="lengths differ"):
        fc.mape([1, 2], [1])


# --- helpers ------------------------------------------------------------------------------

def test_densify_places_sparse_hours_and_fills_zeros():
    points = [(START + timedelta(hours=2), 5), (START, 1), (START + timedelta(hours=9), 7)]
    assert fc.densify(points, START, 4) == [1, 0, 5, 0]


def test_hour_of_week_counts_from_monday_midnight():
    assert fc.hour_of_week(START) == 0
    assert fc.hour_of_week(START + timedelta(days=6, hours=23)) == 167


def test_forecasts_need_a_whole_week_of_history():
    with pytest.raises(ValueError, match="whole week"):
        fc.seasonal([1.0] * 100, START, 24)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown forecast method"):
        fc.forecast([1.0] * WEEK, START, 24, "crystal_ball")


# --- methods on known seasonality ------------------------------------------------------------

@pytest.mark.parametrize("method", sorted(fc.METHODS))
def test_every_method_reproduces_a_stationary_seasonal_series(method):
    history = series(8 * WEEK)
    expected = truth_after(8 * WEEK, WEEK)
    got = fc.forecast(history, START, WEEK, method)
    assert got == pytest.approx(expected, rel=1e-9)


def test_seasonal_recovers_the_factors_whatever_weekday_the_history_starts():
    start = START + timedelta(days=3, hours=5)  # Thursday 05:00
    history = series(6 * WEEK + 30, start=start)  # also a partial week at the front
    expected = series(6 * WEEK + 30 + 48, start=start)[-48:]
    assert fc.seasonal(history, start, 48) == pytest.approx(expected, rel=1e-9)


def test_seasonal_peak_is_weekday_morning_and_trough_weekend_night():
    got = fc.seasonal(series(4 * WEEK), START, WEEK)
    # Friday (dow 1.3) 09:00 (hod 2.0) is the busiest hour; weekend nights the quietest.
    assert got.index(max(got)) == 4 * 24 + 9
    assert min(got) == pytest.approx(10 * DOW[5] * HOD[0])


def test_seasonal_is_close_on_a_noisy_series():
    rng = random.Random(7)
    clean = series(9 * WEEK, level=50)
    noisy = [max(0.0, v * rng.uniform(0.9, 1.1)) for v in clean]
    got = fc.seasonal(noisy[:8 * WEEK], START, WEEK)
    assert fc.mape(clean[8 * WEEK:], got) < 0.05


def test_trend_method_follows_a_linear_trend_within_one_percent():
    history = series(8 * WEEK, trend=0.02)
    expected = truth_after(8 * WEEK, WEEK, trend=0.02)
    assert fc.mape(expected, fc.seasonal_trend(history, START, WEEK)) < 0.01


def test_with_a_trend_the_trend_method_beats_the_moving_average():
    history = series(8 * WEEK, trend=0.02)
    expected = truth_after(8 * WEEK, WEEK, trend=0.02)
    by_trend = fc.mape(expected, fc.seasonal_trend(history, START, WEEK))
    by_average = fc.mape(expected, fc.moving_average(history, START, WEEK))
    by_seasonal = fc.mape(expected, fc.seasonal(history, START, WEEK))
    assert by_trend < by_average / 10
    assert by_trend < by_seasonal / 10


def test_moving_average_is_the_mean_of_the_same_hour_over_the_last_k_weeks():
    history = [0.0] * (3 * WEEK)
    history[5], history[WEEK + 5], history[2 * WEEK + 5] = 30.0, 60.0, 90.0
    assert fc.moving_average(history, START, WEEK, weeks=2)[5] == pytest.approx(75.0)
    assert fc.moving_average(history, START, WEEK, weeks=4)[5] == pytest.approx(60.0)
    # Beyond one week the weekly pattern repeats.
    assert fc.moving_average(history, START, 2 * WEEK, weeks=3)[WEEK + 5] == pytest.approx(60.0)


def test_forecasts_are_never_negative():
    history = series(4 * WEEK, level=100, trend=-0.2)  # falling towards zero
    assert min(fc.seasonal_trend(history, START, 4 * WEEK)) >= 0.0


# --- backtest ------------------------------------------------------------------------------

def test_backtest_is_zero_for_a_perfectly_seasonal_series():
    for method in fc.METHODS:
        assert fc.backtest(series(8 * WEEK), START, method, weeks=4) == pytest.approx(0, abs=1e-9)


def test_backtest_ranks_the_trend_method_first_on_a_trending_series():
    history = series(10 * WEEK, trend=0.03)
    scores = {m: fc.backtest(history, START, m, weeks=4) for m in fc.METHODS}
    assert min(scores, key=scores.get) == "seasonal_trend"


def test_backtest_of_one_week_forecasts_the_last_week_from_the_ones_before():
    history = series(5 * WEEK, trend=0.05)
    expected = fc.mape(history[4 * WEEK:], fc.moving_average(history[:4 * WEEK], START, WEEK))
    assert fc.backtest(history, START, "moving_average", weeks=1) == pytest.approx(expected)


def test_backtest_needs_a_week_before_the_tested_one():
    assert fc.backtest(series(WEEK), START, "seasonal") is None
