"""Weekly QA sample selection (pure Python): sizes by team size, stratified seeded draws.

The same inputs and seed always give the same sample, so a week's sample can be
re-derived and checked; `random.Random(str)` hashes string seeds with SHA-512, so the
result does not depend on PYTHONHASHSEED or the machine.
"""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

# (largest team size, tickets per agent per week). The reference guideline gives ranges
# (5 for 1–5 agents, 3–4 for 6–15, 2–3 for 16–30, 2 above); we take the upper end for the
# smaller half of each range so that smaller teams get more coverage per agent.
SIZE_STEPS: tuple[tuple[int, int], ...] = ((5, 5), (10, 4), (15, 3), (23, 3), (30, 2))
SIZE_ABOVE = 2


def sample_size(team_size: int) -> int:
    """Tickets to review per agent per week for a team of `team_size` agents."""
    if team_size < 1:
        raise ValueError("A team has at least one agent.")
    for largest, size in SIZE_STEPS:
        if team_size <= largest:
            return size
    return SIZE_ABOVE


def week_seed(week_start: date, agent_id: int, scorecard_name: str = "") -> str:
    """The seed of one agent's sample in one ISO week (and scorecard)."""
    year, week, _ = week_start.isocalendar()
    return f"qa:{scorecard_name}:{year}-W{week:02d}:agent-{agent_id}"


@dataclass(frozen=True)
class Candidate:
    """A ticket the agent handled that may be sampled: its id and its stratum."""

    ticket_id: int
    category: Hashable = None
    priority: Hashable = None

    @property
    def stratum(self) -> tuple[str, str]:
        return (str(self.category), str(self.priority))


def stratified_sample(candidates: Iterable[Candidate], n: int, *, seed: str | int,
                      exclude: Iterable[int] = ()) -> list[int]:
    """Up to `n` ticket ids drawn across (category, priority) strata, reproducibly.

    Strata are visited in a seeded random order, one ticket from each in turn (a seeded
    shuffle within each stratum), so the sample covers as many categories and priorities
    as `n` allows before any stratum gives a second ticket. Excluded ids (already
    reviewed, already flagged) are never drawn. The input order does not matter.
    """
    if n <= 0:
        return []
    excluded = set(exclude)
    unique = {c.ticket_id: c for c in candidates if c.ticket_id not in excluded}
    rng = random.Random(seed)
    strata: dict[tuple[str, str], list[int]] = defaultdict(list)
    for ticket_id in sorted(unique):
        strata[unique[ticket_id].stratum].append(ticket_id)
    order = sorted(strata)
    rng.shuffle(order)
    for key in order:
        rng.shuffle(strata[key])
    picked: list[int] = []
    depth = 0
    while len(picked) < n:
        took = False
        for key in order:
            bucket = strata[key]
            if depth < len(bucket):
                picked.append(bucket[depth])
                took = True
                if len(picked) == n:
                    break
        if not took:
            break
        depth += 1
    return picked


def pick_reviewer(agent_id: int, reviewers: Sequence[int], load: dict[int, int]) -> int | None:
    """The reviewer with the fewest open reviews (lowest id on ties), never the agent."""
    eligible = [r for r in reviewers if r != agent_id]
    if not eligible:
        return None
    return min(eligible, key=lambda r: (load.get(r, 0), r))
