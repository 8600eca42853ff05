"""Schedules: shifts planned from templates in the agent's time zone, conflict rules, time off,
agent status intervals, adherence, and the availability filter used by routing.

Every write goes through a function here, inside a transaction. Instants are stored in UTC and
made from the agent's local wall-clock time with zoneinfo, so a shift across a DST change has
its true length (a Berlin 22:00–06:00 night shift on 2026-03-28 lasts 7 hours).

Decisions:
- A split template makes two ScheduledShift rows (one per part); its break goes on the first.
- Weekly hours count whole shift lengths (breaks included) of shifts that start in the agent's
  local ISO week (Monday 00:00 to Monday 00:00 in their time zone).
- Time off may be requested over scheduled shifts; approving it cancels (deletes) the shifts
  that overlap it and returns them, so the lead sees exactly what was removed.
- Adherence counts time "available" inside scheduled shifts, capped at the scheduled
  productive time (shift minus break), for shifts starting on that local day.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from helpdesk.models import Membership, Team, User

from .models import (
    PRODUCTIVE_STATES,
    AgentState,
    AgentStatus,
    ScheduledShift,
    ShiftTemplate,
    TimeOff,
)

MAX_SHIFT = timedelta(hours=12)
DEFAULT_MAX_WEEKLY_HOURS = 48
AVAILABILITY_WINDOW = timedelta(days=7)

Interval = tuple[datetime, datetime]


# --- time zones -------------------------------------------------------------------------

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


# --- pure interval arithmetic -------------------------------------------------------------

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


# --- conflict rules -----------------------------------------------------------------------

def max_weekly_hours() -> float:
    return float(getattr(settings, "HELPDESK_MAX_WEEKLY_HOURS", DEFAULT_MAX_WEEKLY_HOURS))


def _fmt(agent: User, instant: datetime) -> str:
    return instant.astimezone(agent_zone(agent)).strftime("%a %Y-%m-%d %H:%M")


def check_shifts(agent: User, intervals: Sequence[Interval], *,
                 exclude_ids: Iterable[int] = ()) -> None:
    """Refuse new shifts for `agent` that break a rule, with one message per problem."""
    problems: list[str] = []
    zone = agent_zone(agent)
    for start, end in intervals:
        if end <= start:
            problems.append("A shift must end after it starts.")
        elif end - start > MAX_SHIFT:
            hours = (end - start).total_seconds() / 3600
            problems.append(f"A shift may last at most 12 hours; this one lasts {hours:g} h.")
    if problems:
        raise ValidationError(problems)
    existing = ScheduledShift.objects.filter(agent=agent).exclude(pk__in=list(exclude_ids))
    overlap_q = Q()
    for start, end in intervals:
        overlap_q |= Q(starts_at__lt=end, ends_at__gt=start)
    for shift in existing.filter(overlap_q)[:5]:
        problems.append(
            f"{agent} already has a shift {_fmt(agent, shift.starts_at)}–"
            f"{shift.ends_at.astimezone(zone):%H:%M} that overlaps this one.")
    off = TimeOff.objects.filter(agent=agent, status=TimeOff.Status.APPROVED)
    off_q = Q()
    for start, end in intervals:
        off_q |= Q(starts_at__lt=end, ends_at__gt=start)
    for item in off.filter(off_q)[:5]:
        problems.append(
            f"{agent} has approved time off {_fmt(agent, item.starts_at)} to "
            f"{_fmt(agent, item.ends_at)} during this shift.")
    limit = max_weekly_hours()
    weeks: dict[date, timedelta] = defaultdict(timedelta)
    for start, end in intervals:
        weeks[week_start(start.astimezone(zone).date())] += end - start
    for monday, added in weeks.items():
        lo = local_instant(monday, time(0), zone)
        hi = local_instant(monday + timedelta(days=7), time(0), zone)
        already = timedelta(0)
        for s, e in existing.filter(starts_at__gte=lo, starts_at__lt=hi).values_list(
                "starts_at", "ends_at"):
            already += e - s
        total = (already + added).total_seconds() / 3600
        if total > limit:
            iso = monday.isocalendar()
            problems.append(
                f"{agent} would be scheduled {total:g} h in week {iso.week} of {iso.year}; "
                f"the limit is {limit:g} h.")
    if problems:
        raise ValidationError(problems)


def _lock(agent: User) -> None:
    # Serialise schedule writes of one agent so two leads cannot double-book them.
    User.objects.select_for_update().filter(pk=agent.pk).first()


@transaction.atomic
def add_shift(*, agent: User, starts_at: datetime, ends_at: datetime, team: Team | None = None,
              break_minutes: int = 30, note: str = "",
              template: ShiftTemplate | None = None) -> ScheduledShift:
    """Schedule one shift at explicit UTC instants, after the conflict rules."""
    _lock(agent)
    check_shifts(agent, [(starts_at, ends_at)])
    return ScheduledShift.objects.create(agent=agent, team=team, template=template,
                                         starts_at=starts_at, ends_at=ends_at,
                                         break_minutes=break_minutes, note=note)


@transaction.atomic
def plan_shift(*, agent: User, template: ShiftTemplate, day: date, team: Team | None = None,
               note: str = "") -> list[ScheduledShift]:
    """Schedule `template` on the agent's local `day`; refused whole if any part conflicts."""
    _lock(agent)
    intervals = template_instants(template, day, agent_zone(agent))
    check_shifts(agent, intervals)
    return [
        ScheduledShift.objects.create(
            agent=agent, team=team, template=template, starts_at=start, ends_at=end,
            break_minutes=template.break_minutes if n == 0 else 0, note=note)
        for n, (start, end) in enumerate(intervals)
    ]


# --- time off -----------------------------------------------------------------------------

@transaction.atomic
def request_time_off(*, agent: User, starts_at: datetime, ends_at: datetime,
                     reason: str = "") -> TimeOff:
    """Ask for time off; allowed over scheduled shifts (approval cancels them)."""
    if ends_at <= starts_at:
        raise ValidationError("Time off must end after it starts.")
    _lock(agent)
    clash = TimeOff.objects.filter(
        agent=agent, status__in=[TimeOff.Status.REQUESTED, TimeOff.Status.APPROVED],
        starts_at__lt=ends_at, ends_at__gt=starts_at).first()
    if clash:
        raise ValidationError(
            f"This overlaps time off already {clash.get_status_display().lower()} "
            f"({_fmt(agent, clash.starts_at)} to {_fmt(agent, clash.ends_at)}).")
    return TimeOff.objects.create(agent=agent, starts_at=starts_at, ends_at=ends_at,
                                  reason=reason)


def time_off_for_days(*, agent: User, first: date, last: date, reason: str = "") -> TimeOff:
    """Whole local days `first`..`last` (inclusive) in the agent's time zone."""
    if last < first:
        raise ValidationError("The last day of time off is before the first.")
    zone = agent_zone(agent)
    return request_time_off(agent=agent, starts_at=local_instant(first, time(0), zone),
                            ends_at=local_instant(last + timedelta(days=1), time(0), zone),
                            reason=reason)


def conflicting_shifts(time_off: TimeOff) -> QuerySet[ScheduledShift]:
    return ScheduledShift.objects.filter(agent_id=time_off.agent_id,
                                         starts_at__lt=time_off.ends_at,
                                         ends_at__gt=time_off.starts_at)


def _decide(time_off: TimeOff, status: str, actor: User) -> TimeOff:
    locked = TimeOff.objects.select_for_update().get(pk=time_off.pk)
    if locked.status != TimeOff.Status.REQUESTED:
        raise ValidationError(
            f"This request was already {locked.get_status_display().lower()}.")
    if locked.agent_id == actor.pk and not actor.is_superuser:
        raise ValidationError("You cannot decide your own time off request.")
    locked.status = status
    locked.decided_by = actor
    locked.decided_at = timezone.now()
    locked.save(update_fields=["status", "decided_by", "decided_at"])
    return locked


@transaction.atomic
def approve_time_off(time_off: TimeOff, *, actor: User) -> tuple[TimeOff, list[ScheduledShift]]:
    """Approve; the shifts overlapping the time off are cancelled and returned."""
    decided = _decide(time_off, TimeOff.Status.APPROVED, actor)
    cancelled = list(conflicting_shifts(decided))
    ScheduledShift.objects.filter(pk__in=[s.pk for s in cancelled]).delete()
    return decided, cancelled


@transaction.atomic
def reject_time_off(time_off: TimeOff, *, actor: User) -> TimeOff:
    return _decide(time_off, TimeOff.Status.REJECTED, actor)


# --- agent status -------------------------------------------------------------------------

def current_status(agent: User) -> AgentStatus | None:
    return AgentStatus.objects.filter(agent=agent, ended_at__isnull=True).first()


@transaction.atomic
def set_status(*, agent: User, status: str) -> AgentStatus:
    """Switch the agent's status: the open interval is closed now and a new one opened.

    Setting the status the agent already has changes nothing.
    """
    if status not in AgentState.values:
        raise ValidationError(f"Unknown status {status!r}.")
    _lock(agent)
    now = timezone.now()
    current = AgentStatus.objects.select_for_update().filter(
        agent=agent, ended_at__isnull=True).first()
    if current is not None:
        if current.status == status:
            return current
        current.ended_at = max(now, current.started_at)
        current.save(update_fields=["ended_at"])
    return AgentStatus.objects.create(agent=agent, status=status, started_at=now)


# --- adherence ----------------------------------------------------------------------------

def adherence_week(agents: Sequence[User], monday: date) -> dict[int, list[Adherence]]:
    """Adherence per agent (by id) and local day of the week starting `monday` (two queries)."""
    if not agents:
        return {}
    lo = datetime.combine(monday - timedelta(days=1), time(0), UTC)
    hi = datetime.combine(monday + timedelta(days=9), time(0), UTC)
    ids = [a.pk for a in agents]
    shifts: dict[int, list[ScheduledShift]] = defaultdict(list)
    for s in ScheduledShift.objects.filter(agent_id__in=ids, starts_at__gte=lo,
                                           starts_at__lt=hi):
        shifts[s.agent_id].append(s)
    now = timezone.now()
    productive: dict[int, list[Interval]] = defaultdict(list)
    for st in AgentStatus.objects.filter(
            Q(ended_at__isnull=True) | Q(ended_at__gt=lo), agent_id__in=ids,
            status__in=PRODUCTIVE_STATES, started_at__lt=hi + timedelta(days=1)):
        productive[st.agent_id].append((st.started_at, st.ended_at or now))
    result: dict[int, list[Adherence]] = {}
    for agent in agents:
        zone = agent_zone(agent)
        per_day: dict[date, list[tuple[datetime, datetime, int]]] = defaultdict(list)
        for s in shifts[agent.pk]:
            per_day[s.starts_at.astimezone(zone).date()].append(
                (s.starts_at, s.ends_at, s.break_minutes))
        result[agent.pk] = [
            adherence_of(per_day[monday + timedelta(days=d)], productive[agent.pk])
            for d in range(7)
        ]
    return result


# --- routing ------------------------------------------------------------------------------

def available_members(members: QuerySet[Membership], now: datetime) -> QuerySet[Membership]:
    """Drop members on approved time off, offline, or off shift (only agents who have any
    shift within ±7 days are held to their schedule: no schedule means always on)."""
    user = OuterRef("user_id")
    on_time_off = TimeOff.objects.filter(agent=user, status=TimeOff.Status.APPROVED,
                                         starts_at__lte=now, ends_at__gt=now)
    offline = AgentStatus.objects.filter(agent=user, ended_at__isnull=True,
                                         status=AgentState.OFFLINE)
    shifts = ScheduledShift.objects.filter(agent=user)
    scheduled = shifts.filter(starts_at__lt=now + AVAILABILITY_WINDOW,
                              ends_at__gt=now - AVAILABILITY_WINDOW)
    on_shift = shifts.filter(starts_at__lte=now, ends_at__gt=now)
    return members.exclude(Exists(on_time_off)).exclude(Exists(offline)).exclude(
        Exists(scheduled) & ~Exists(on_shift))
