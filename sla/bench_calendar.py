"""Micro-benchmark of BusinessCalendar arithmetic.

Run with ``python -m sla.bench_calendar [runs]``.  Uses a Mon-Fri 09:00-17:00
Europe/Berlin calendar with the Berlin public holidays of 2026-2027 and prints
the mean cost of ``add`` / ``elapsed`` for 30-business-day spans -- with fresh
caches (cleared before every call) and with warm caches -- and for 1-year spans.
"""
from __future__ import annotations

import random
import sys
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from time import perf_counter
from zoneinfo import ZoneInfo

from sla.calendar import BusinessCalendar

BERLIN = ZoneInfo("Europe/Berlin")
BERLIN_HOLIDAYS = [
    # 2026
    date(2026, 1, 1), date(2026, 3, 8), date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 1),
    date(2026, 5, 14), date(2026, 5, 25), date(2026, 10, 3), date(2026, 12, 25),
    date(2026, 12, 26),
    # 2027
    date(2027, 1, 1), date(2027, 3, 8), date(2027, 3, 26), date(2027, 3, 29), date(2027, 5, 1),
    date(2027, 5, 6), date(2027, 5, 17), date(2027, 10, 3), date(2027, 12, 25),
    date(2027, 12, 26),
]
THIRTY_BUSINESS_DAYS = timedelta(hours=30 * 8)


def make_calendar() -> BusinessCalendar:
    return BusinessCalendar(
        "Europe/Berlin", {day: [(time(9), time(17))] for day in range(5)}, BERLIN_HOLIDAYS
    )


def random_starts(n: int, seed: int = 2026) -> list[datetime]:
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=BERLIN)
    return [
        base + timedelta(days=rng.randrange(365), minutes=rng.randrange(24 * 60),
                         microseconds=rng.randrange(1_000_000))
        for _ in range(n)
    ]


def mean_cold_us(cal: BusinessCalendar, calls: list[Callable[[], object]]) -> float:
    """Mean µs per call, clearing the calendar's caches before every call."""
    total = 0.0
    for call in calls:
        cal.cache_clear()
        began = perf_counter()
        call()
        total += perf_counter() - began
    return total / len(calls) * 1e6


def mean_warm_us(calls: list[Callable[[], object]], repeat: int = 3) -> float:
    """Best-of-``repeat`` mean µs per call once every span has been computed before."""
    for call in calls:
        call()
    best = float("inf")
    for _ in range(repeat):
        began = perf_counter()
        for call in calls:
            call()
        best = min(best, perf_counter() - began)
    return best / len(calls) * 1e6


def bench(runs: int) -> None:
    cal = make_calendar()
    starts = random_starts(runs)
    ends = [cal.add(start, THIRTY_BUSINESS_DAYS) for start in starts]
    for start, end in zip(starts, ends, strict=True):
        assert cal.elapsed(start, end) == THIRTY_BUSINESS_DAYS

    adds = [lambda s=s: cal.add(s, THIRTY_BUSINESS_DAYS) for s in starts]
    spans = [lambda s=s, e=e: cal.elapsed(s, e) for s, e in zip(starts, ends, strict=True)]

    print(f"{cal!r}")
    print(f"Python {sys.version.split()[0]}, {runs} runs, random starts in 2026\n")
    print("30 business days (240 h)          fresh caches    warm caches")
    print(f"  add(start, 240 h)             {mean_cold_us(cal, adds):10.1f} µs  "
          f"{mean_warm_us(adds):10.1f} µs")
    print(f"  elapsed(start, due)           {mean_cold_us(cal, spans):10.1f} µs  "
          f"{mean_warm_us(spans):10.1f} µs")

    year_runs = max(1, runs // 10)
    year_starts = starts[:year_runs]
    year = timedelta(days=365)
    year_business = [cal.elapsed(s, s + year) for s in year_starts]
    year_adds = [lambda s=s, d=d: cal.add(s, d) for s, d in zip(year_starts, year_business,
                                                                 strict=True)]
    year_spans = [lambda s=s: cal.elapsed(s, s + year) for s in year_starts]
    print(f"\n1-year span ({year_runs} runs, ~{year_business[0] / timedelta(hours=8):.0f} "
          "business days)")
    print(f"  add(start, 1 year of hours)   {mean_cold_us(cal, year_adds):10.1f} µs  "
          f"{mean_warm_us(year_adds):10.1f} µs")
    print(f"  elapsed(start, start + 365 d) {mean_cold_us(cal, year_spans):10.1f} µs  "
          f"{mean_warm_us(year_spans):10.1f} µs")

    five_years = [lambda s=s: cal.add(s, timedelta(hours=5 * 250 * 8)) for s in year_starts]
    print(f"\n5 years of business time (1,250 business days, {year_runs} runs)")
    print(f"  add(start, 10,000 h)          {mean_cold_us(cal, five_years):10.1f} µs  "
          f"{mean_warm_us(five_years):10.1f} µs")


if __name__ == "__main__":
    bench(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000)
