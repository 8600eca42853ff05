"""Benchmark for workforce.erlang: ``.venv/bin/python -m workforce.bench_erlang``.

Times ``required_agents`` for a week of 30-minute intervals (7 x 48 = 336) for 10 teams with
realistic volumes (20-400 arrivals per interval, AHT 240-600 s, 80/20 service level, 85 %
occupancy cap, 30 % shrinkage) and a single 2,000-Erlang staffing call.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Callable

from workforce.erlang import required_agents

INTERVAL = 1800  # seconds
INTERVALS_PER_DAY = 48
DAYS = 7
TEAMS = 10
REPEATS = 7


def _week_of_volumes(rng: random.Random) -> list[tuple[float, float]]:
    """(arrivals, aht) for 336 intervals x 10 teams: a day-shaped curve, quieter weekends."""
    workload = []
    for _team in range(TEAMS):
        peak = rng.uniform(120, 400)
        aht = rng.uniform(240, 600)
        for day in range(DAYS):
            weekend = 0.45 if day >= 5 else 1.0
            for slot in range(INTERVALS_PER_DAY):
                hour = slot / 2
                # bell curve around early afternoon, never below the 20-arrival floor
                shape = math.exp(-(((hour - 13.5) / 4.5) ** 2))
                arrivals = max(20.0, peak * weekend * shape * rng.uniform(0.9, 1.1))
                workload.append((min(arrivals, 400.0), aht))
    return workload


def _time(fn: Callable[[], object], repeats: int) -> list[float]:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - start)
    return timings


def main() -> None:
    workload = _week_of_volumes(random.Random(20240601))
    totals: list[int] = []

    def week() -> None:
        totals.clear()
        for arrivals, aht in workload:
            totals.append(
                required_agents(arrivals, aht, INTERVAL, 0.8, 20, max_occupancy=0.85, shrinkage=0.3)
            )

    week_times = _time(week, REPEATS)
    traffic = [a * h / INTERVAL for a, h in workload]
    print(
        f"week x teams: {len(workload)} required_agents calls "
        f"({DAYS * INTERVALS_PER_DAY} intervals x {TEAMS} teams), "
        f"traffic {min(traffic):.1f}-{max(traffic):.1f} Erlangs, "
        f"scheduled agents {min(totals)}-{max(totals)} per interval"
    )
    print(
        f"  total: best {min(week_times) * 1e3:.1f} ms, "
        f"median {statistics.median(week_times) * 1e3:.1f} ms over {REPEATS} runs "
        f"({min(week_times) / len(workload) * 1e6:.1f} us per call)"
    )

    # 2,000 Erlangs: 12,000 arrivals per half hour at a 300 s AHT.
    big: list[int] = []
    big_times = _time(lambda: big.append(required_agents(12_000, 300, INTERVAL, 0.8, 20)), REPEATS)
    print(
        f"2,000 Erlangs: required_agents = {big[-1]} raw agents; "
        f"best {min(big_times) * 1e3:.2f} ms, median {statistics.median(big_times) * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()
