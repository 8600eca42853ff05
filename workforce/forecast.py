"""Arrival forecasts per hour of week from hourly history, and their accuracy (MAPE).

Pure Python (no Django) so the math is cheap to test and to benchmark.

History is a *dense* list of hourly arrival counts, ``history[i]`` being the count of the hour
that starts at ``start + i hours`` (UTC); ``densify`` turns sparse ``(hour, count)`` pairs -- what
a ``GROUP BY`` hour query returns -- into that form. A forecast covers the ``hours`` that follow
the history, i.e. it starts at ``start + len(history) hours``.

Three methods, named like ``ForecastRun.Method``:

* ``moving_average`` -- each hour of the week is the mean of the same hour of the week over the
  last ``weeks`` weeks of history (default 4). No trend, no smoothing across hours.
* ``seasonal`` -- multiplicative day-of-week × hour-of-day seasonality::

      forecast(t) = level × dow_factor[weekday(t)] × hod_factor[hour(t)]

  with ``level`` the mean hourly count of the whole weeks of history, ``dow_factor[d]`` the mean
  of the hours on weekday ``d`` divided by the level and ``hod_factor[h]`` likewise for the hour
  of day. A series built exactly this way (factors averaging 1) is reproduced exactly.
* ``seasonal_trend`` -- the same factors around a linear trend: a least-squares line through the
  weekly totals gives the level of every hour (``total(week) / 168``, the line evaluated at the
  hour's fractional week position), the factors are estimated on the de-trended ratios
  ``count / level`` and the line is extrapolated into the forecast.

The seasonal methods use the most recent *whole* weeks of history (the 168-hour blocks that end
where the forecast starts), so that every weekday and hour weighs the same.

Forecasts are never negative.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

__all__ = [
    "HOURS_PER_WEEK",
    "METHODS",
    "backtest",
    "densify",
    "forecast",
    "hour_of_week",
    "mape",
    "moving_average",
    "seasonal",
    "seasonal_trend",
]

HOURS_PER_WEEK = 168
HOUR = timedelta(hours=1)


# --------------------------------------------------------------------------- helpers


def hour_of_week(moment: datetime) -> int:
    """0 = Monday 00:00–01:00, 167 = Sunday 23:00–24:00 (in the timezone of ``moment``)."""
    return moment.weekday() * 24 + moment.hour


def densify(points: Iterable[tuple[datetime, float]], start: datetime, hours: int) -> list[float]:
    """Dense hourly list for ``hours`` hours from ``start``; hours without a point count 0.

    Points outside the range are ignored; ``start`` must be the start of an hour.
    """
    dense = [0.0] * hours
    for moment, count in points:
        i = int((moment - start) // HOUR)
        if 0 <= i < hours:
            dense[i] += count
    return dense


def _check(history: Sequence[float], hours: int) -> None:
    if hours < 0:
        raise ValueError(f"hours must be >= 0, got {hours!r}")
    if len(history) < HOURS_PER_WEEK:
        raise ValueError(
            f"at least one whole week ({HOURS_PER_WEEK} hours) of history is needed, "
            f"got {len(history)} hours"
        )


def _whole_weeks(history: Sequence[float]) -> tuple[int, Sequence[float]]:
    """(offset of the first kept hour, the most recent whole weeks of history)."""
    offset = len(history) % HOURS_PER_WEEK
    return offset, history[offset:]


def _factors(ratios: Sequence[float], first_how: int) -> tuple[list[float], list[float]]:
    """Day-of-week and hour-of-day factors from whole weeks of ratios (mean 1 when exact).

    ``first_how`` is the hour of week of ``ratios[0]``. Each factor is the mean ratio of its
    weekday (hour of day) divided by the overall mean ratio.
    """
    dow_sum = [0.0] * 7
    hod_sum = [0.0] * 24
    for i, r in enumerate(ratios):
        how = (first_how + i) % HOURS_PER_WEEK
        dow_sum[how // 24] += r
        hod_sum[how % 24] += r
    total = sum(dow_sum)
    if total <= 0:
        return [0.0] * 7, [0.0] * 24
    weeks = len(ratios) / HOURS_PER_WEEK
    mean = total / len(ratios)
    dow = [s / (weeks * 24) / mean for s in dow_sum]
    hod = [s / (weeks * 7) / mean for s in hod_sum]
    return dow, hod


# --------------------------------------------------------------------------- methods


def moving_average(
    history: Sequence[float], start: datetime, hours: int, *, weeks: int = 4
) -> list[float]:
    """Mean of the same hour of the week over the last ``weeks`` weeks (fewer if not available).

    ``start`` is the start of ``history[0]``; only hour-of-week alignment matters, so the
    forecast of hour ``j`` after the history uses the hours ``n + j - 168·w`` brought back into
    the last ``weeks`` weeks of history.
    """
    _check(history, hours)
    if weeks < 1:
        raise ValueError(f"weeks must be >= 1, got {weeks!r}")
    n = len(history)
    available = min(weeks, n // HOURS_PER_WEEK)
    out = []
    for j in range(hours):
        # The latest history hour with the same hour of week as n + j.
        last = n - HOURS_PER_WEEK + (j % HOURS_PER_WEEK)
        total = sum(history[last - HOURS_PER_WEEK * w] for w in range(available))
        out.append(max(0.0, total / available))
    return out


def seasonal(history: Sequence[float], start: datetime, hours: int) -> list[float]:
    """``level × dow_factor × hod_factor`` from the whole weeks of history (see module doc)."""
    _check(history, hours)
    offset, weeks = _whole_weeks(history)
    first_how = hour_of_week(start + offset * HOUR)
    level = sum(weeks) / len(weeks)
    dow, hod = _factors(weeks, first_how)
    how0 = (first_how + len(weeks)) % HOURS_PER_WEEK
    out = []
    for j in range(hours):
        how = (how0 + j) % HOURS_PER_WEEK
        out.append(max(0.0, level * dow[how // 24] * hod[how % 24]))
    return out


def _trend_line(weekly_totals: Sequence[float]) -> tuple[float, float]:
    """Least squares ``total = a + b·week`` (week 0, 1, ...); flat when there is one week."""
    m = len(weekly_totals)
    if m == 1:
        return weekly_totals[0], 0.0
    mean_x = (m - 1) / 2
    mean_y = sum(weekly_totals) / m
    sxx = sum((i - mean_x) ** 2 for i in range(m))
    sxy = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(weekly_totals))
    b = sxy / sxx
    return mean_y - b * mean_x, b


def seasonal_trend(history: Sequence[float], start: datetime, hours: int) -> list[float]:
    """Seasonality around a least-squares linear trend on weekly totals (see module doc).

    A week's total is the sum of its hourly levels, so with hourly level ``L(t)`` linear in the
    hour ``t`` (counted from the first whole week), ``total(week i) = 168·L(168·i + 83.5)``:
    the hourly level at ``t`` is the weekly line at ``(t − 83.5) / 168``, divided by 168.
    """
    _check(history, hours)
    offset, weeks = _whole_weeks(history)
    first_how = hour_of_week(start + offset * HOUR)
    m = len(weeks) // HOURS_PER_WEEK
    totals = [sum(weeks[i * HOURS_PER_WEEK:(i + 1) * HOURS_PER_WEEK]) for i in range(m)]
    a, b = _trend_line(totals)
    centre = (HOURS_PER_WEEK - 1) / 2

    def level(t: int) -> float:
        return (a + b * (t - centre) / HOURS_PER_WEEK) / HOURS_PER_WEEK

    ratios = []
    for t, y in enumerate(weeks):
        lv = level(t)
        ratios.append(y / lv if lv > 0 else 0.0)
    dow, hod = _factors(ratios, first_how)
    out = []
    for j in range(hours):
        t = len(weeks) + j
        how = (first_how + t) % HOURS_PER_WEEK
        out.append(max(0.0, level(t) * dow[how // 24] * hod[how % 24]))
    return out


METHODS = {
    "moving_average": moving_average,
    "seasonal": seasonal,
    "seasonal_trend": seasonal_trend,
}


def forecast(
    history: Sequence[float], start: datetime, hours: int, method: str = "seasonal"
) -> list[float]:
    """Forecast the ``hours`` after ``history`` (which starts at ``start``) by ``method``."""
    try:
        fn = METHODS[method]
    except KeyError:
        raise ValueError(
            f"unknown forecast method {method!r}; use one of {sorted(METHODS)}"
        ) from None
    return fn(history, start, hours)


# --------------------------------------------------------------------------- accuracy


def mape(actual: Sequence[float], predicted: Sequence[float]) -> float | None:
    """Mean absolute percentage error, as a fraction (0.1 = 10 %).

    ``mean(|actual − predicted| / actual)`` over the pairs whose actual is **not zero**: an hour
    with no arrivals has no defined percentage error (division by zero), so it is left out rather
    than counted as 0 % or ∞ %. Returns ``None`` when no actual is above zero.
    """
    if len(actual) != len(predicted):
        raise ValueError(f"lengths differ: {len(actual)} actual vs {len(predicted)} predicted")
    errors = [abs(a - p) / abs(a) for a, p in zip(actual, predicted, strict=True) if a != 0]
    if not errors:
        return None
    return sum(errors) / len(errors)


def backtest(
    history: Sequence[float], start: datetime, method: str, weeks: int = 4
) -> float | None:
    """MAPE of ``method`` forecasting each of the last ``weeks`` weeks from the weeks before it.

    Week ``k`` from the end is forecast from all the history before it, then compared with what
    happened; the errors of every tested hour are pooled into one MAPE (``None`` if nothing could
    be tested). A week is only tested when at least one whole week of history precedes it, so
    ``weeks`` is reduced for short histories. Comparing the result across ``METHODS`` on the same
    history shows which method has been most accurate.
    """
    if weeks < 1:
        raise ValueError(f"weeks must be >= 1, got {weeks!r}")
    n = len(history)
    weeks = min(weeks, n // HOURS_PER_WEEK - 1)
    actual: list[float] = []
    predicted: list[float] = []
    for k in range(weeks, 0, -1):
        cut = n - k * HOURS_PER_WEEK
        actual.extend(history[cut:cut + HOURS_PER_WEEK])
        predicted.extend(forecast(history[:cut], start, HOURS_PER_WEEK, method))
    if not actual:
        return None
    return mape(actual, predicted)
