"""The SLA dashboard's daily rollup: `ClockDay` rows per UTC day, metric and ticket fields.

The dashboard's figures are counts and sums over the clocks started in a period (some
370,000 a month at a million tickets: over a second of SQL cold). They add up across
days, so a row per (UTC day, metric, team, tier, priority, channel) gives every filter
and every breakdown but the agent one from about 600 rows a day (18,500 a month). The
assignee is left out: with it there would be 240,000 rows a month, nearly one per clock;
the agent breakdown reads the clocks; an agent who sees only their teams' tickets and
their own reads their teams' rows and the clocks of their own tickets in other teams.

A period is in the user's time zone: the UTC days wholly inside it are read from the
rollup, the rest (the partial days at its edges, the days after `covered_to`, and for
the weekly breakdown the UTC days a local week starts inside) from the clocks.

A clock's figures change after its day (it completes, breaches, is repaired; its ticket
moves team, is reopened), so:

- `sync` (every five minutes, from beat) recomputes the days of the clocks and tickets
  changed since its last run, and adds the days that ended since;
- `rebuild` (nightly, and `manage.py rebuild_sla_rollup`) recomputes the whole window:
  it catches what `sync` cannot see (an organization's tier changed, a ticket deleted);
- a clock repair refreshes the days of the clocks it corrected at once.

`tests/sla/test_rollup.py` holds the rollup's figures equal to the clocks', before and
after late changes.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from helpdesk.models import Team, User
from helpdesk.rollup import day_of, day_ranges, midnight

from . import selectors
from .models import Clock, ClockDay, ClockRollupState

DEFAULT_DAYS = 190
# Changes written (updated_at stamped) just before a sync's start may commit after it
# read them: each sync looks back this far past its last run.
SYNC_OVERLAP = timedelta(minutes=10)
MAX_DAYS_PER_SYNC = 400
DAY = timedelta(days=1)

_MEASURES = (*selectors.CELL_COUNTS, *selectors.CELL_SUMS)
# ClockDay column -> the clock query's value name.
_GROUPS = {
    "metric": "metric",
    "team_id": "ticket__team_id",
    "tier": "ticket__organization__support_tier",
    "priority": "ticket__priority",
    "channel": "ticket__channel",
}


# --- writing ----------------------------------------------------------------------------------

def compute(start: date, end: date) -> list[ClockDay]:
    """The rows of the days [start, end), from the clocks (one GROUP BY)."""
    rows = (Clock.objects.filter(started_at__gte=midnight(start), started_at__lt=midnight(end))
            .annotate(day=TruncDate("started_at", tzinfo=UTC))
            .values("day", *_GROUPS.values()).annotate(**selectors.cell_sql()).order_by())
    return [ClockDay(day=r["day"], **{col: r[name] for col, name in _GROUPS.items()},
                     **{m: r[m] for m in _MEASURES}) for r in rows]


def _state() -> ClockRollupState:
    state = ClockRollupState.objects.select_for_update().filter(pk=1).first()
    return state or ClockRollupState.objects.create(pk=1)


def refresh(days: Iterable[date]) -> int:
    """Recompute and store the rows of `days`; returns rows written. Runs under the state
    row's lock, so two refreshes never interleave their delete and insert."""
    written = 0
    for start, end in day_ranges(days):
        with transaction.atomic():
            _state()
            rows = compute(start, end)
            ClockDay.objects.filter(day__gte=start, day__lt=end).delete()
            ClockDay.objects.bulk_create(rows, batch_size=2000)
            written += len(rows)
    return written


def refresh_covered(moments: Iterable[datetime]) -> int:
    """Recompute the stored days holding `moments` (clock starts): after a correction of
    old clocks, without waiting for the next sync."""
    state = ClockRollupState.objects.filter(pk=1).first()
    if state is None or state.covered_from is None:
        return 0
    return refresh(d for d in map(day_of, moments)
                   if state.covered_from <= d < state.covered_to)


def rebuild(days: int = DEFAULT_DAYS, *, now: datetime | None = None) -> int:
    """Recompute the last `days` UTC days before today, a week per transaction."""
    now = now or timezone.now()
    end = day_of(now)
    start = end - timedelta(days=days)
    written = 0
    day = start
    while day < end:
        stop = min(day + timedelta(days=7), end)
        written += refresh(start + timedelta(days=i) for i in range((day - start).days,
                                                                    (stop - start).days))
        day = stop
    with transaction.atomic():
        state = _state()
        ClockDay.objects.filter(Q(day__lt=start) | Q(day__gte=end)).delete()
        state.covered_from, state.covered_to = start, end
        state.synced_at = state.rebuilt_at = now
        state.save()
    return written


def touched_days(since: datetime) -> set[date]:
    """Start days of the clocks changed since `since`, and of the clocks of the tickets
    changed since then (reassigned, reprioritised, reopened...)."""
    days: set[date] = set()
    for qs in (Clock.objects.filter(updated_at__gte=since),
               Clock.objects.filter(ticket__updated_at__gte=since)):
        days.update(qs.annotate(day=TruncDate("started_at", tzinfo=UTC))
                    .values_list("day", flat=True).distinct().order_by())
    return days


def sync(*, now: datetime | None = None) -> int:
    """Fold recent changes into the rollup and extend it to yesterday (UTC). Cost follows the
    number of touched days, not of clocks; returns rows written."""
    now = now or timezone.now()
    with transaction.atomic():
        state = _state()
        never_built = state.covered_to is None
        since, covered_from, covered_to = state.synced_at, state.covered_from, state.covered_to
    if never_built:
        return rebuild(now=now)
    today = day_of(now)
    days = {d for d in touched_days(since - SYNC_OVERLAP) if covered_from <= d < today}
    day = covered_to
    while day < today:  # days that ended since the last run
        days.add(day)
        day += timedelta(days=1)
    todo = sorted(days)
    done = todo[:MAX_DAYS_PER_SYNC]
    written = refresh(done)
    with transaction.atomic():
        state = _state()
        if len(done) == len(todo):
            state.synced_at = now
            state.covered_to = max(state.covered_to, today)
        else:  # resume from the oldest day not done; nothing is skipped
            state.covered_to = max(state.covered_to, min(today, todo[len(done)]))
        state.save()
    return written


# --- reading ----------------------------------------------------------------------------------

def _team_names(ids: set[int]) -> dict[int, str]:
    return dict(Team.objects.filter(pk__in=ids).values_list("pk", "name"))


#: dimension -> (ClockDay column, the dimension's own field for it); not "agent".
_DIMENSION_COLUMN = {
    "tier": ("tier", "ticket__organization__support_tier"),
    "priority": ("priority", "ticket__priority"),
    "team": ("team_id", "ticket__team"),
    "channel": ("channel", "ticket__channel"),
    "week": ("day", "week"),
}


def _week_start(moment: datetime, zone: Any) -> datetime:
    """The start of the local week holding `moment`, as TruncWeek gives it."""
    local = moment.astimezone(zone).date()
    return datetime.combine(local - timedelta(days=local.weekday()), time.min, tzinfo=zone)


def _stored(filters: selectors.DashboardFilters, name: str, days: list[date],
            teams: frozenset[int] | None = None) -> list[dict[str, Any]]:
    """Cells of the stored `days` in the form of the dimension's own query; of `teams`
    only, when given."""
    if not days:
        return []
    within = Q()
    for start, end in day_ranges(days):
        within |= Q(day__gte=start, day__lt=end)
    qs: QuerySet[ClockDay] = ClockDay.objects.filter(within)
    if teams is not None:
        qs = qs.filter(team_id__in=teams)
    if filters.team_id:
        qs = qs.filter(team_id=filters.team_id)
    if filters.tier:
        qs = qs.filter(tier=filters.tier)
    if filters.priority:
        qs = qs.filter(priority=filters.priority)
    if filters.channel:
        qs = qs.filter(channel=filters.channel)
    column, field = _DIMENSION_COLUMN[name]
    rows = list(qs.values(column, "metric").annotate(**{m: Sum(m) for m in _MEASURES})
                .order_by())
    names = _team_names({r[column] for r in rows if r[column] is not None}) \
        if name == "team" else {}
    zone = timezone.get_current_timezone()
    out = []
    for r in rows:
        key = r.pop(column)
        cell = {m: r[m] or 0 for m in selectors.CELL_COUNTS}
        cell.update({m: r[m] for m in selectors.CELL_SUMS}, metric=r["metric"])
        if name == "week":
            cell["week"] = _week_start(midnight(key), zone)
        else:
            cell[field] = key
            if name == "team":
                cell["ticket__team__name"] = names.get(key)
        out.append(cell)
    return out


def _split(filters: selectors.DashboardFilters, stored: tuple[date, date], *, weekly: bool
           ) -> tuple[list[date], list[tuple[datetime, datetime]]]:
    """The stored UTC days wholly inside the period (for the weekly breakdown, also not
    holding the start of a local week inside them), and the rest of the period."""
    zone = timezone.get_current_timezone()
    days: list[date] = []
    day = max(stored[0], day_of(filters.start))
    while day < stored[1]:
        lo, hi = midnight(day), midnight(day + DAY)
        if hi > filters.end:
            break
        if lo >= filters.start and not (weekly and _week_start(hi - timedelta(microseconds=1),
                                                               zone) > lo):
            days.append(day)
        day += DAY
    parts: list[tuple[datetime, datetime]] = []
    cursor = filters.start
    for lo, hi in ((midnight(a), midnight(b)) for a, b in day_ranges(days)):
        if cursor < lo:
            parts.append((cursor, lo))
        cursor = hi
    if cursor < filters.end:
        parts.append((cursor, filters.end))
    return days, parts


def _own_elsewhere(filters: selectors.DashboardFilters, spec: selectors.Dimension, user: User,
                   days: list[date], teams: frozenset[int]) -> list[dict[str, Any]]:
    """Cells of the clocks of the stored `days` whose ticket is assigned to `user` but not
    in one of their teams (or in none): the part of an agent's sight the team rows lack.
    An index walk of the agent's own tickets."""
    ranges = tuple((midnight(a), midnight(b)) for a, b in day_ranges(days))
    qs = replace(filters, parts=ranges).apply(
        Clock.objects.filter(ticket__assignee=user).exclude(ticket__team_id__in=teams), user)
    if spec.expressions:
        qs = qs.annotate(**spec.expressions)
    return list(qs.values(*spec.fields, "metric").annotate(**selectors.cell_sql()).order_by())


def source(filters: selectors.DashboardFilters, user: User) -> selectors.CellSource:
    """A `selectors.CellSource` for `selectors.dashboard_figures`: the rollup's stored days
    plus the clocks of the rest of the period; the clocks alone when the rollup cannot
    serve (the agent breakdown, no rollup yet). An agent who sees only their teams' tickets
    and their own (`tickets.selectors.visible_tickets`) reads their teams' rows plus the
    clocks of their own tickets in other teams: the two are disjoint. Asks the rollup's
    coverage once."""
    if not (user.is_authenticated and user.is_active):
        return selectors.cells
    if user.sees_all_tickets:
        teams: frozenset[int] | None = None
    elif user.is_agent:
        teams = frozenset(user.team_ids)
    else:
        return selectors.cells
    state = ClockRollupState.objects.filter(pk=1).first()
    if state is None or state.covered_from is None:
        return selectors.cells
    stored = (state.covered_from, state.covered_to)

    def cells(filters: selectors.DashboardFilters, spec: selectors.Dimension, user: User
              ) -> list[dict[str, Any]]:
        name = next(k for k, v in selectors.DIMENSIONS.items() if v is spec)
        if name not in _DIMENSION_COLUMN:
            return selectors.cells(filters, spec, user)
        days, parts = _split(filters, stored, weekly=name == "week")
        out = _stored(filters, name, days, teams)
        if teams is not None and days:
            out += _own_elsewhere(filters, spec, user, days, teams)
        if parts:
            out += selectors.cells(replace(filters, parts=tuple(parts)), spec, user)
        return out

    return cells
