"""Shift time: instants from an agent's local wall-clock time (zoneinfo, so a shift across
a DST change has its true length: a Berlin 22:00-06:00 night shift on 2026-03-28 lasts 7
hours), local weeks and days, interval arithmetic and the adherence figure."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from helpdesk.models import User

from .models import (
    ShiftTemplate,
)

Interval = tuple[datetime, datetime]


def agent_zone(agent: User) -> ZoneInfo:
    try:
        return ZoneInfo(agent.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `at` on `day` in `zone`.

    A time that does not exist (skipped by a spring-forward) lands after the gap, as a clock
    would show it; an ambiguous one (fall-back) takes the first occurrence.
    """
    # fold=0 (PEP 495): a gap time is read with the offset before the change, i.e. after it.
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def local_day_bounds(day: date, zone: ZoneInfo) -> Interval:
    return local_instant(day, time(0), zone), local_instant(day + timedelta(days=1), time(0), zone)


def template_instants(template: ShiftTemplate, day: date, zone: ZoneInfo) -> list[Interval]:
    """The UTC intervals of `template` worked on local `day` (two for a split shift).

    An end at or before its start is on the next day (a night shift).
    """
    parts = [(template.start, template.end)]
    if template.second_start is not None and template.second_end is not None:
        parts.append((template.second_start, template.second_end))
    intervals: list[Interval] = []
    for start, end in parts:
        end_day = day + timedelta(days=1) if end <= start else day
        intervals.append((local_instant(day, start, zone), local_instant(end_day, end, zone)))
    return intervals


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping union of the intervals (empty ones dropped)."""
    merged: list[list[datetime]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def overlap(a: Iterable[Interval], b: Iterable[Interval]) -> timedelta:
    """Total time covered by both sets of intervals."""
    left, right = merge(a), merge(b)
    total, i, j = timedelta(0), 0, 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if end > start:
            total += end - start
        if left[i][1] <= right[j][1]:
            i += 1
        else:
            j += 1
    return total


@dataclass(frozen=True)
class Adherence:
    scheduled_minutes: int  # scheduled productive time: shifts minus breaks
    productive_minutes: int  # time available inside the shifts, capped at the above

    @property
    def fraction(self) -> float | None:
        if not self.scheduled_minutes:
            return None
        return self.productive_minutes / self.scheduled_minutes

    @property
    def percent(self) -> int | None:
        f = self.fraction
        return None if f is None else round(f * 100)


def adherence_of(shifts: Sequence[tuple[datetime, datetime, int]],
                 productive: Iterable[Interval]) -> Adherence:
    """Adherence of shifts (start, end, break minutes) against productive-state intervals."""
    scheduled = sum(max(0, int((e - s).total_seconds() // 60) - b) for s, e, b in shifts)
    inside = overlap([(s, e) for s, e, _ in shifts], productive)
    return Adherence(scheduled, min(scheduled, int(inside.total_seconds() // 60)))
