"""Arithmetic of one SLA clock on its business calendar (no database access).

A clock runs in *segments*: business time of the segments already closed by a pause
is summed in `business_used`; the current segment started at `segment_started_at`
(None while paused or once completed). So, for a running (or breached) clock,

    business time used at t = business_used + cal.elapsed(segment_started_at, t)
    due_at                  = cal.add(segment_started_at, target - business_used)

and a level at p % of the target is crossed at
cal.add(segment_started_at, target * p / 100 - business_used) when that amount is still
ahead of `business_used`; otherwise it was crossed before the current segment
("already passed"). A paused clock has no due time: nothing is consumed while it waits;
but the levels its used time already passed (before the pause, or because a re-evaluation
shortened the target) are still due, at the pause, so they fire as they would have.

The functions read (and, for `pause` / `resume`, set) attributes of a `sla.models.Clock`
but never save it: `sla.services` does the writing, the locking and the audit trail.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from .calendar import BusinessCalendar
from .models import ClockState

if TYPE_CHECKING:
    from .models import Clock

__all__ = [
    "Segment", "calendar_of", "is_counting", "fires_levels", "used_at", "remaining_at", "due_times",
    "level_amount", "level_instant", "next_level", "usage_instant", "pause", "resume",
]

_US = timedelta(microseconds=1)
#: (start, end) of a stretch during which the clock ran; end None = still running.
Segment = tuple[datetime, datetime | None]


class _HasPercent(Protocol):
    percent: int


def calendar_of(clock: Clock) -> BusinessCalendar:
    """The clock's business calendar (24/7 when the clock has no calendar row)."""
    if clock.calendar_id is None:
        return BusinessCalendar.always()
    return clock.calendar.business_calendar()


def is_counting(clock: Clock) -> bool:
    """Running or breached (a breached clock keeps counting until it completes)."""
    return (
        clock.completed_at is None
        and clock.state in (ClockState.RUNNING, ClockState.BREACHED)
        and clock.segment_started_at is not None
    )


def fires_levels(clock: Clock) -> bool:
    """Counting, or paused (a paused clock may still owe the levels it passed)."""
    return is_counting(clock) or (
        clock.completed_at is None and clock.state == ClockState.PAUSED
        and clock.paused_at is not None
    )


def used_at(clock: Clock, cal: BusinessCalendar, at: datetime) -> timedelta:
    """Business time the clock has consumed by `at`."""
    if is_counting(clock):
        return clock.business_used + cal.elapsed(clock.segment_started_at, at)
    return clock.business_used


def remaining_at(clock: Clock, cal: BusinessCalendar, at: datetime) -> timedelta:
    """Business time left before the contractual target (negative once overrun)."""
    return clock.target - used_at(clock, cal, at)


def _add(cal: BusinessCalendar, start: datetime, amount: timedelta) -> datetime | None:
    try:
        return cal.add(start, amount)
    except ValueError:  # a calendar without any business hours never comes due
        return None


def usage_instant(cal: BusinessCalendar, segments: Sequence[Segment],
                  amount: timedelta) -> datetime | None:
    """The instant at which the clock's consumption reached `amount`, walking its segments.

    Used when that instant lies before the current segment (a target shortened by a
    re-evaluation, or a breach before a pause). None if `amount` is not reached within
    closed segments and there is no open one.
    """
    if not segments:
        return None
    if amount <= timedelta(0):
        return _add(cal, segments[0][0], timedelta(0))
    consumed = timedelta(0)
    for start, end in segments:
        # Invariant: consumed < amount, so what is left to find is positive.
        if end is None:
            return _add(cal, start, amount - consumed)
        part = cal.elapsed(start, end)
        if consumed + part >= amount:
            return _add(cal, start, amount - consumed)
        consumed += part
    return None


def _instant_of(clock: Clock, cal: BusinessCalendar, amount: timedelta,
                segments: Sequence[Segment] | None) -> datetime | None:
    if amount > clock.business_used:
        return _add(cal, clock.segment_started_at, amount - clock.business_used)
    if segments is not None:
        return usage_instant(cal, segments, amount)
    return None


def due_times(clock: Clock, cal: BusinessCalendar, *,
              segments: Sequence[Segment] | None = None
              ) -> tuple[datetime | None, datetime | None]:
    """(due_at, internal_due_at) of a counting clock; (None, None) when paused or done.

    When a target is already used up before the current segment the instant lies in an
    earlier segment: pass `segments` (see sla.services) to find it; without them the
    current value is kept.
    """
    if not is_counting(clock):
        return None, None
    due = _instant_of(clock, cal, clock.target, segments)
    internal = _instant_of(clock, cal, clock.internal_target, segments)
    return (due if due is not None else clock.due_at,
            internal if internal is not None else clock.internal_due_at)


def level_amount(target: timedelta, percent: int) -> timedelta:
    """`percent` % of the target, exact (rounded up to the microsecond)."""
    whole, rest = divmod(target // _US * percent, 100)
    return timedelta(microseconds=whole + (1 if rest else 0))


def level_instant(clock: Clock, cal: BusinessCalendar, percent: int) -> datetime | None:
    """When `percent` % of the target is used in the current segment; None if already passed
    (or if the clock is not counting)."""
    if not is_counting(clock):
        return None
    amount = level_amount(clock.target, percent)
    if amount <= clock.business_used:
        return None
    return _add(cal, clock.segment_started_at, amount - clock.business_used)


def next_level(clock: Clock, levels: Iterable[int | _HasPercent],
               fired_percents: Iterable[int], *,
               cal: BusinessCalendar | None = None) -> tuple[int, datetime] | None:
    """The smallest level not fired yet and when it is (or was) crossed.

    Running or breached clocks that are not completed have one; completed and exempt
    clocks return None. A level already passed before the current segment (crossed
    before a pause and never fired) is due at once: the segment's start. A paused clock
    has one only for a level its used time has passed (a target shortened while it
    waited, or a level crossed just before the pause): due at the pause.
    """
    if not fires_levels(clock):
        return None
    fired = set(fired_percents)
    percents = sorted({lv if isinstance(lv, int) else lv.percent for lv in levels} - fired)
    if not percents:
        return None
    percent = percents[0]
    if not is_counting(clock):  # paused
        if level_amount(clock.target, percent) > clock.business_used:
            return None
        return percent, clock.paused_at
    cal = cal or calendar_of(clock)
    at = level_instant(clock, cal, percent)
    if at is None:
        amount = level_amount(clock.target, percent)
        if amount > clock.business_used:  # calendar without hours: never crossed
            return None
        at = clock.segment_started_at
    return percent, at


def pause(clock: Clock, cal: BusinessCalendar, at: datetime) -> timedelta:
    """Close the current segment at `at` and return the business time it added."""
    part = cal.elapsed(clock.segment_started_at, at)
    clock.business_used += part
    clock.segment_started_at = None
    clock.paused_at = at
    clock.state = ClockState.PAUSED
    clock.due_at = clock.internal_due_at = None
    clock.next_level_at = clock.next_level_percent = None
    return part


def resume(clock: Clock, cal: BusinessCalendar, at: datetime, *,
           segments: Sequence[Segment] | None = None) -> timedelta:
    """Open a new segment at `at`; return the business time the pause kept off the clock."""
    kept_off = cal.elapsed(clock.paused_at, at)
    clock.paused_at = None
    clock.segment_started_at = at
    clock.state = ClockState.BREACHED if clock.breached_at else ClockState.RUNNING
    clock.due_at, clock.internal_due_at = due_times(clock, cal, segments=segments)
    return kept_off
