"""Benchmark of the weekly sample's selection step (pure Python, no database).

    python -m qa.bench_sampling [agents] [tickets_per_agent] [repeats]

Prints p50/p95 of the time to draw every agent's stratified sample for one week at the
design size (200 agents; 2,000 tickets an hour at peak ≈ 100–250 resolved per agent a week).
"""
from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import date

from qa.sampling import Candidate, sample_size, stratified_sample, week_seed


def run(agents: int = 200, per_agent: int = 250, repeats: int = 20) -> dict[str, float]:
    rng = random.Random(0)
    pools = {
        a: [Candidate(a * 100_000 + i, rng.randrange(40), rng.randrange(1, 6))
            for i in range(per_agent)]
        for a in range(agents)
    }
    n = sample_size(agents)
    week = date(2026, 11, 16)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        for agent, pool in pools.items():
            stratified_sample(pool, n, seed=week_seed(week, agent))
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    return {"p50_ms": statistics.median(timings),
            "p95_ms": timings[min(len(timings) - 1, int(0.95 * len(timings)))]}


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]]
    figures = run(*args)
    print(f"stratified samples for one week: p50 {figures['p50_ms']:.1f} ms, "
          f"p95 {figures['p95_ms']:.1f} ms")
