"""Schedules: shifts planned from templates in the agent's time zone, conflict rules,
time off and agent status. Every write of schedules goes through a function here, inside
a transaction; instants come from workforce.shift_time.

Decisions:
- A split template makes two ScheduledShift rows (one per part); its break goes on the first.
- Weekly hours count whole shift lengths (breaks included) of shifts that start in the agent's
  local ISO week (Monday 00:00 to Monday 00:00 in their time zone).
- Time off may be requested over scheduled shifts; approving it cancels (deletes) the shifts
  that overlap it and returns them, so the lead sees exactly what was removed.
- Adherence (workforce.selectors) counts time "available" inside scheduled shifts, capped
  at the scheduled productive time (shift minus break), for shifts starting on that day.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from helpdesk.models import Team, User

from ..models import (
    AgentState,
    AgentStatus,
    ScheduledShift,
    ShiftTemplate,
    TimeOff,
)
from ..selectors import conflicting_shifts
from ..shift_time import Interval, agent_zone, local_instant, template_instants, week_start

MAX_SHIFT = timedelta(hours=12)


DEFAULT_MAX_WEEKLY_HOURS = 48


def max_weekly_hours() -> float:
    return float(getattr(settings, "HELPDESK_MAX_WEEKLY_HOURS", DEFAULT_MAX_WEEKLY_HOURS))


def _hours(value: float) -> str:
    """Hours as the reader's locale writes them, whole when whole ("13", "12,5")."""
    return formats.number_format(value, 0 if value == int(value) else 1)


def _fmt(agent: User, instant: datetime) -> str:
    return formats.date_format(instant.astimezone(agent_zone(agent)), "D Y-m-d H:i")


def check_shifts(agent: User, intervals: Sequence[Interval], *,
                 exclude_ids: Iterable[int] = ()) -> None:
    """Refuse new shifts for `agent` that break a rule, with one message per problem."""
    problems: list[str] = []
    zone = agent_zone(agent)
    for start, end in intervals:
        if end <= start:
            problems.append(_("A shift must end after it starts."))
        elif end - start > MAX_SHIFT:
            hours = (end - start).total_seconds() / 3600
            problems.append(_("A shift may last at most 12 hours; this one lasts %(hours)s h.")
                            % {"hours": _hours(hours)})
    if problems:
        raise ValidationError(problems)
    existing = ScheduledShift.objects.filter(agent=agent).exclude(pk__in=list(exclude_ids))
    overlap_q = Q()
    for start, end in intervals:
        overlap_q |= Q(starts_at__lt=end, ends_at__gt=start)
    for shift in existing.filter(overlap_q)[:5]:
        problems.append(
            _("%(agent)s already has a shift %(start)s–%(end)s that overlaps this one.") % {
                "agent": agent, "start": _fmt(agent, shift.starts_at),
                "end": f"{shift.ends_at.astimezone(zone):%H:%M}"})
    off = TimeOff.objects.filter(agent=agent, status=TimeOff.Status.APPROVED)
    off_q = Q()
    for start, end in intervals:
        off_q |= Q(starts_at__lt=end, ends_at__gt=start)
    for item in off.filter(off_q)[:5]:
        problems.append(
            _("%(agent)s has approved time off %(start)s to %(end)s during this shift.") % {
                "agent": agent, "start": _fmt(agent, item.starts_at),
                "end": _fmt(agent, item.ends_at)})
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
                _("%(agent)s would be scheduled %(total)s h in week %(week)s of %(year)s; "
                  "the limit is %(limit)s h.") % {
                    "agent": agent, "total": _hours(total),
                    "week": iso.week, "year": iso.year,
                    "limit": _hours(limit)})
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


@transaction.atomic
def request_time_off(*, agent: User, starts_at: datetime, ends_at: datetime,
                     reason: str = "") -> TimeOff:
    """Ask for time off; allowed over scheduled shifts (approval cancels them)."""
    if ends_at <= starts_at:
        raise ValidationError(_("Time off must end after it starts."))
    _lock(agent)
    clash = TimeOff.objects.filter(
        agent=agent, status__in=[TimeOff.Status.REQUESTED, TimeOff.Status.APPROVED],
        starts_at__lt=ends_at, ends_at__gt=starts_at).first()
    if clash:
        raise ValidationError(
            _("This overlaps time off already %(status)s (%(start)s to %(end)s).") % {
                "status": clash.get_status_display().lower(),
                "start": _fmt(agent, clash.starts_at), "end": _fmt(agent, clash.ends_at)})
    return TimeOff.objects.create(agent=agent, starts_at=starts_at, ends_at=ends_at,
                                  reason=reason)


def time_off_for_days(*, agent: User, first: date, last: date, reason: str = "") -> TimeOff:
    """Whole local days `first`..`last` (inclusive) in the agent's time zone."""
    if last < first:
        raise ValidationError(_("The last day of time off is before the first."))
    zone = agent_zone(agent)
    return request_time_off(agent=agent, starts_at=local_instant(first, time(0), zone),
                            ends_at=local_instant(last + timedelta(days=1), time(0), zone),
                            reason=reason)


def _decide(time_off: TimeOff, status: str, actor: User) -> TimeOff:
    locked = TimeOff.objects.select_for_update().get(pk=time_off.pk)
    if locked.status != TimeOff.Status.REQUESTED:
        raise ValidationError(
            _("This request was already %(status)s.")
            % {"status": locked.get_status_display().lower()})
    if locked.agent_id == actor.pk and not actor.is_superuser:
        raise ValidationError(_("You cannot decide your own time off request."))
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


@transaction.atomic
def set_status(*, agent: User, status: str) -> AgentStatus:
    """Switch the agent's status: the open interval is closed now and a new one opened.

    Setting the status the agent already has changes nothing.
    """
    if status not in AgentState.values:
        raise ValidationError(_("Unknown status %(status)s.") % {"status": repr(status)})
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
