"""Small pieces the apps' rollups share: UTC day and hour arithmetic, runs of consecutive
days, and the work list of a sync (the days touched since the last run inside the stored
window, plus the days that ended since), so each app writes only what it counts."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def floor_hour(value: datetime) -> datetime:
    """The start of the UTC hour holding `value`."""
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def midnight(day: date) -> datetime:
    """The start of the UTC day `day`."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_of(moment: datetime) -> date:
    """The UTC day holding `moment`."""
    return moment.astimezone(UTC).date()


def day_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as [first, after-last) ranges, in order."""
    out: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if out and out[-1][1] == day:
            out[-1] = (out[-1][0], day + DAY)
        else:
            out.append((day, day + DAY))
    return out


def sync_days(touched: Iterable[date], covered_from: date, covered_to: date, today: date
              ) -> list[date]:
    """What a sync recomputes: the touched days inside the stored window (up to today,
    which is never stored: it is still being written), and the days that ended since the
    window's end. Sorted, oldest first, so a sync cut short resumes where it stopped."""
    days = {d for d in touched if covered_from <= d < today}
    day = covered_to
    while day < today:
        days.add(day)
        day += DAY
    return sorted(days)
