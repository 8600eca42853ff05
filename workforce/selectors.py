"""Reads of the workforce app that pages, services and routing share: agent status,
adherence, the availability filter used by routing, and the teams and time off a user
sees on the schedule pages."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.auth.models import Group
from django.db import connections
from django.db.models import BooleanField, Count, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from helpdesk.models import Membership, Team, User
from helpdesk.roles import Role

from . import oncall as rota
from .models import (
    PRODUCTIVE_STATES,
    AgentState,
    AgentStatus,
    OnCallOverride,
    Page,
    Rotation,
    ScheduledShift,
    TimeOff,
)
from .shift_time import Adherence, Interval, adherence_of, agent_zone

AVAILABILITY_WINDOW = timedelta(days=7)


def conflicting_shifts(time_off: TimeOff) -> QuerySet[ScheduledShift]:
    return ScheduledShift.objects.filter(agent_id=time_off.agent_id,
                                         starts_at__lt=time_off.ends_at,
                                         ends_at__gt=time_off.starts_at)


def current_status(agent: User) -> AgentStatus | None:
    return AgentStatus.objects.filter(agent=agent, ended_at__isnull=True).first()


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


def available_members(members: QuerySet[Membership], now: datetime) -> QuerySet[Membership]:
    """Drop members on approved time off, offline, or off shift (only agents who have any
    shift within ±7 days are held to their schedule: no schedule means always on).

    One SQL condition with the four correlated EXISTS the ORM wrote before: built
    from Exists/OuterRef querysets it cost about 3 ms of CPU per new ticket to build and
    compile, a fifth of an API create (issue 21); this costs a few microseconds.
    """
    ops = connections[members.db].ops
    q = ops.quote_name
    user = f"{q(Membership._meta.db_table)}.{q('user_id')}"

    def exists(model: type, condition: str) -> str:
        return (f"EXISTS (SELECT 1 FROM {q(model._meta.db_table)} w "  # noqa: S608
                f"WHERE w.{q('agent_id')} = {user} AND {condition})")

    at = ops.adapt_datetimefield_value
    sql = (f"NOT {exists(TimeOff, 'w.status = %s AND w.starts_at <= %s AND w.ends_at > %s')}"
           f" AND NOT {exists(AgentStatus, 'w.ended_at IS NULL AND w.status = %s')}"
           f" AND (NOT {exists(ScheduledShift, 'w.starts_at < %s AND w.ends_at > %s')}"
           f" OR {exists(ScheduledShift, 'w.starts_at <= %s AND w.ends_at > %s')})")
    params = [TimeOff.Status.APPROVED.value, at(now), at(now), AgentState.OFFLINE.value,
              at(now + AVAILABILITY_WINDOW), at(now - AVAILABILITY_WINDOW), at(now), at(now)]
    # Table names from the models and values as parameters: nothing from a caller.
    return members.filter(RawSQL(sql, params, output_field=BooleanField()))  # noqa: S611


# --- schedule pages -----------------------------------------------------------------------

def led_team_ids(user: User) -> set[int]:
    return set(Membership.objects.filter(user=user, is_lead=True)
               .values_list("team_id", flat=True))


def manages_all(user: User) -> bool:
    """Managers see and edit every team's schedule."""
    return user.is_superuser or (user.has_perm("workforce.change_scheduledshift")
                                 and user.has_perm("tickets.view_all_tickets"))


def can_manage_team(user: User, team: Team) -> bool:
    """May edit the schedules of others in `team`: a manager, or its lead."""
    if manages_all(user):
        return True
    return user.has_perm("workforce.change_scheduledshift") and team.pk in led_team_ids(user)


def visible_teams(user: User) -> QuerySet[Team]:
    if manages_all(user):
        return Team.objects.all()
    return Team.objects.filter(memberships__user=user)


def team_agents(team: Team, user: User, *, manager: bool) -> list[User]:
    """The active agents of a team whose schedule `user` sees (only themselves unless
    they manage the team)."""
    members = Membership.objects.filter(team=team, user__is_active=True).select_related(
        "user").order_by("user__first_name", "user__username")
    if not manager:
        members = members.filter(user=user)
    return [m.user for m in members]


def shifts_between(agent_ids: Sequence[int], lo: datetime,
                   hi: datetime) -> QuerySet[ScheduledShift]:
    return ScheduledShift.objects.filter(agent_id__in=agent_ids, starts_at__gte=lo,
                                         starts_at__lt=hi).select_related("template")


def time_off_between(agent_ids: Sequence[int], lo: datetime, hi: datetime) -> QuerySet[TimeOff]:
    """Requested or approved time off overlapping [lo, hi)."""
    return TimeOff.objects.filter(agent_id__in=agent_ids, starts_at__lt=hi, ends_at__gt=lo,
                                  status__in=[TimeOff.Status.REQUESTED, TimeOff.Status.APPROVED])


def pending_time_off(user: User) -> QuerySet[TimeOff]:
    """Requests `user` may decide: every team's for managers, their teams' for leads."""
    pending = TimeOff.objects.filter(status=TimeOff.Status.REQUESTED).exclude(agent=user)
    if not manages_all(user):
        if not user.has_perm("workforce.change_scheduledshift"):
            return pending.none()
        pending = pending.filter(agent__memberships__team_id__in=led_team_ids(user))
    return pending.select_related("agent").order_by("starts_at").distinct()


def own_time_off(user: User, *, limit: int = 50) -> QuerySet[TimeOff]:
    return TimeOff.objects.filter(agent=user).select_related("decided_by")[:limit]


# --- on-call pages ------------------------------------------------------------------------

def staff() -> QuerySet[User]:
    """Who can cover an on-call turn.

    The role groups' ids as literals (one small query now): joined by name, PostgreSQL
    cannot tell the few hundred staff from the quarter of a million customers, and
    hashes every user."""
    groups = list(Group.objects.filter(name__in=Role.STAFF).values_list("pk", flat=True))
    members = User.groups.through.objects.filter(group_id__in=groups).values("user_id")
    return (User.objects.filter(pk__in=members, is_active=True)
            .order_by("first_name", "last_name", "username"))


def handoffs(rotation: Rotation) -> rota.Handoffs:
    """The hand-off clock of a rotation (its weeks, in its time zone)."""
    return rota.Handoffs(timezone=rotation.timezone, starts_on=rotation.starts_on,
                         handoff_weekday=rotation.handoff_weekday,
                         handoff_time=rotation.handoff_time)


def rotations() -> QuerySet[Rotation]:
    return Rotation.objects.select_related("team").order_by("name")


def active_overrides(rotation: Rotation, now: datetime) -> QuerySet[OnCallOverride]:
    return (OnCallOverride.objects.filter(rotation=rotation, ends_at__gt=now)
            .select_related("user", "created_by").order_by("starts_at"))


def page_log(rotation: Rotation) -> QuerySet[Page]:
    """The rotation's pages, newest first, with who was paged (the log links the ticket
    by its id: no ticket row is read)."""
    return (Page.objects.filter(rotation=rotation).select_related("user")
            .order_by("-created_at"))


def pages_this_turn(rotation: Rotation, *, at: datetime | None = None) -> dict[int, int]:
    """Pages per user id in the current turn (what the paged-twice rule will look at)."""
    start, end = handoffs(rotation).window(handoffs(rotation).week_at(at or timezone.now()))
    return dict(Page.objects.filter(rotation=rotation, created_at__gte=start, created_at__lt=end)
                .values_list("user_id").annotate(n=Count("pk")).values_list("user_id", "n"))


