"""Benchmark for the staffing plan: ``DEBUG=1 .venv/bin/python -m workforce.bench_staffing``.

1. Math only: a week's staffing plan (7 × 48 = 336 half-hours) for 10 teams from synthetic
   hourly forecasts (day-shaped curves with noise, so almost no two intervals repeat) and
   synthetic shifts -- ``scheduled_agents`` + ``plan_intervals`` (Erlang C for the queued share,
   the FTE model for the deferred share). Target: under 200 ms for all 10 teams.
2. Forecast math: the seasonal and trend forecasts of the week from 8 weeks of hourly history,
   for 10 teams × 2 channel groups.
3. With ``--db``: ``staffing_plan`` end to end against the configured database (history
   ``GROUP BY`` query, forecast, shifts query, math), 10 plans cycling over the existing teams.
   Set ``DATABASE_URL`` to the 1,000,000-ticket database to measure it at size.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

TEAMS = 10
REPEATS = 7
WEEK_START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
    import django

    django.setup()


def _time(fn: Callable[[], object], repeats: int = REPEATS) -> list[float]:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - start)
    return timings


def _report(label: str, timings: list[float]) -> None:
    print(f"{label}: best {min(timings) * 1e3:.1f} ms, "
          f"median {statistics.median(timings) * 1e3:.1f} ms over {len(timings)} runs")


def _hourly(rng: random.Random, peak: float, hours: int = 168) -> list[float]:
    out = []
    for h in range(hours):
        day, hour = divmod(h % 168, 24)
        weekend = 0.45 if day >= 5 else 1.0
        shape = math.exp(-(((hour - 13.5) / 4.5) ** 2))
        out.append(max(0.5, peak * weekend * shape * rng.uniform(0.9, 1.1)))
    return out


def _shifts(rng: random.Random) -> list[tuple[datetime, datetime, int]]:
    shifts = []
    for day in range(7):
        for start_hour in (6, 9, 9, 12, 12, 14):
            for _ in range(rng.randint(3, 12)):
                starts_at = WEEK_START + timedelta(days=day, hours=start_hour,
                                                   minutes=rng.choice((0, 15, 30)))
                shifts.append((starts_at, starts_at + timedelta(hours=8), 30))
    return shifts


def bench_math() -> None:
    from workforce import capacity

    rng = random.Random(20260302)
    teams = []
    for _ in range(TEAMS):
        settings = capacity.Capacity(
            utilization=rng.choice((0.55, 0.65, 0.70)), shrinkage=0.30, service_level=0.80,
            answer_target_seconds=rng.choice((20, 60)), max_occupancy=0.85,
            productive_minutes_per_fte=360, configured=True,
        )
        teams.append((_hourly(rng, rng.uniform(40, 400)), _hourly(rng, rng.uniform(20, 200)),
                      _shifts(rng), settings, rng.uniform(4, 12)))
    plans: list[list] = []

    def week() -> None:
        plans.clear()
        for queued, deferred, shifts, settings, handle in teams:
            scheduled = capacity.scheduled_agents(shifts, WEEK_START)
            plans.append(capacity.plan_intervals(queued, deferred, scheduled,
                                                 week_start=WEEK_START, capacity=settings,
                                                 handle_minutes=handle))

    timings = _time(week)
    intervals = [i for plan in plans for i in plan]
    required = [i.required for i in intervals]
    gaps = sum(1 for i in intervals if i.gap != "ok")
    print(f"staffing plan math: {len(plans)} teams × {len(plans[0])} half-hours = "
          f"{len(intervals)} intervals, {sum(len(t[2]) for t in teams)} shifts; "
          f"required {min(required):.1f}–{max(required):.1f} agents, {gaps} gap intervals")
    _report("  total (target < 200 ms)", timings)


def bench_forecast() -> None:
    from workforce import forecast as fc

    rng = random.Random(7)
    histories = [_hourly(rng, rng.uniform(20, 400), 8 * 168) for _ in range(2 * TEAMS)]
    start = WEEK_START - timedelta(weeks=8)
    for method in ("seasonal", "seasonal_trend"):
        _report(f"forecast {method}, {len(histories)} series × 8 weeks → 1 week",
                _time(lambda m=method: [fc.forecast(h, start, 168, m) for h in histories]))
    _report("backtest of 3 methods × 4 weeks on one 8-week series",
            _time(lambda: [fc.backtest(histories[0], start, m, 4) for m in fc.METHODS]))


def bench_db() -> None:
    from django.db import connection

    from helpdesk.models import Team
    from tickets.models import Ticket
    from workforce import capacity

    teams = list(Team.objects.order_by("id"))
    if not teams:
        print("database: no team, skipped")
        return
    latest = Ticket.objects.order_by("-created_at").values_list("created_at", flat=True).first()
    week_start = WEEK_START
    if latest is not None:
        day = latest.astimezone(UTC).date() - timedelta(days=7)
        week_start = datetime.combine(day - timedelta(days=day.weekday()),
                                      datetime.min.time(), tzinfo=UTC)
    picked = [teams[k % len(teams)] for k in range(TEAMS)]
    handles = {t.id: capacity.handle_minutes(t).minutes for t in teams}

    def plans() -> None:
        for team in picked:
            capacity.staffing_plan(team, week_start, handle=handles[team.id])

    print(f"database ({connection.vendor}, {Ticket.objects.count():,} tickets, "
          f"{len(teams)} teams, week of {week_start:%Y-%m-%d}): "
          f"{TEAMS} staffing plans incl. 8-week history query, forecast, shifts")
    _report("  total", _time(plans, 3))
    _report("  handle time (median of the last 5,000 resolved, one team)",
            _time(lambda: capacity.handle_minutes(teams[0]), 3))
    _report("  monthly staffing table (all teams)",
            _time(lambda: capacity.monthly_staffing(week_start.date()), 3))


def main() -> None:
    _setup_django()
    bench_math()
    bench_forecast()
    if "--db" in sys.argv[1:]:
        bench_db()


if __name__ == "__main__":
    main()
