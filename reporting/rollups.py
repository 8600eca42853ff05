"""Hourly rollups of the manager dashboard's additive figures (see models.MetricsHour).

- `compute(start, end)` aggregates the raw tables per (UTC hour, team) with the same
  definitions as `reporting.metrics` (a test holds the two equal);
- `refresh(...)` writes those rows; `sync()` (Celery, every five minutes) folds in the
  hours touched since the last run and moves the covered window up to the current hour;
  `rebuild(days)` (nightly and `manage.py rebuild_metrics`) recomputes a whole window, which
  also picks up the rare change `sync` cannot see (a ticket re-resolved days later leaves
  its old resolution hour);
- `totals(start, end, team_id)` reads rows for the covered hours and computes the rest live,
  so a figure is never older than the last refresh of its hour and never missing;
- `manager_from_rollup(...)` gives the manager dashboard from those rows. It lives here, not
  in `metrics`, so that the import goes one way: rollups -> metrics.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import (
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncHour
from django.utils import timezone

from helpdesk.bulkload import RowWriter
from helpdesk.models import Team, User
from sla.models import Clock, ClockState, Metric
from tickets.models import (
    OPEN_STATUS_VALUES,
    Escalation,
    EventKind,
    Priority,
    Status,
    Survey,
    Ticket,
    TicketEvent,
    TimeEntry,
)

from . import durations, metrics
from .metrics import fcr_filter, handle_minutes, public_agent_replies
from .models import AgentMetricsHour, MetricsHour, MetricsRollupState, MetricsStaleHour

HOUR = timedelta(hours=1)
MEASURES = (
    "created", "responded", "frt_seconds", "escalated",
    "resolved", "ttr_seconds", "fcr", "reopened", "tracked", "handle_minutes",
    "responses", "satisfied", "nps_responses", "promoters", "detractors",
    "sla_met", "sla_breached",
)
Key = tuple[datetime, int]
Rows = dict[Key, dict[str, int]]


def floor_hour(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    return value.replace(minute=0, second=0, microsecond=0)


def ceil_hour(value: datetime) -> datetime:
    floor = floor_hour(value)
    return floor if floor == value else floor + HOUR


def _seconds(value: timedelta | int | None) -> int:
    if value is None:
        return 0
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)


def _elapsed(end: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F("created_at"), output_field=DurationField())


def _add(rows: Rows, key: Key, values: dict[str, Any]) -> None:
    row = rows.setdefault(key, dict.fromkeys(MEASURES, 0))
    for name, value in values.items():
        row[name] += _seconds(value) if name.endswith("_seconds") else (value or 0)


def _ranges(field: str, ranges: list[tuple[datetime, datetime]]) -> Q:
    q = Q()
    for start, end in ranges:
        q |= Q(**{f"{field}__gte": start, f"{field}__lt": end})
    return q


AGENT_MEASURES = (
    "created", "open", "responded", "frt_seconds", "escalated",
    "resolved", "ttr_seconds", "fcr", "reopened", "tracked", "handle_minutes",
    "responses", "satisfied", "nps_responses", "promoters", "detractors",
    "responses_elsewhere", "sla_met", "sla_breached",
)
# (hour, team id or 0, agent id or 0, priority or 0)
AgentKey = tuple[datetime, int, int, int]
AgentRows = dict[AgentKey, dict[str, int]]


def _add_agent(rows: AgentRows, key: AgentKey, values: dict[str, Any]) -> None:
    row = rows.setdefault(key, dict.fromkeys(AGENT_MEASURES, 0))
    for name, value in values.items():
        row[name] += _seconds(value) if name.endswith("_seconds") else (value or 0)


def compute_agents(ranges: list[tuple[datetime, datetime]], *, team_id: int | None = None
                   ) -> AgentRows:
    """Figures per (UTC hour, team, agent, priority) of the events inside `ranges`
    (hour-aligned [start, end) pairs), with the definitions of `reporting.metrics`. Four
    GROUP BY queries, whatever the number of tickets."""
    rows: AgentRows = {}
    if not ranges:
        return rows
    tickets: QuerySet[Ticket] = Ticket.objects.all()
    surveys: QuerySet[Survey] = Survey.objects.all()
    clocks = Clock.objects.filter(metric=Metric.FIRST_RESPONSE,
                                  state__in=[ClockState.MET, ClockState.BREACHED],
                                  completed_at__isnull=False)
    if team_id is not None:
        tickets = tickets.filter(team_id=team_id or None)
        surveys = surveys.filter(team_id=team_id or None)
        clocks = clocks.filter(ticket__team_id=team_id or None)
    escalated = Escalation.objects.filter(ticket=OuterRef("pk"))
    key = ("h", "team_id", "assignee_id", "priority")

    created = (tickets.filter(_ranges("created_at", ranges))
               .annotate(h=TruncHour("created_at", tzinfo=UTC)).values(*key)
               .annotate(created=Count("pk"),
                         open=Count("pk", filter=Q(status__in=OPEN_STATUS_VALUES)),
                         responded=Count("pk", filter=Q(first_response_at__isnull=False)),
                         frt_seconds=Sum(_elapsed("first_response_at")),
                         escalated=Count("pk", filter=Q(Exists(escalated))))
               .order_by())
    resolved = (tickets.filter(_ranges("resolved_at", ranges))
                .annotate(replies=public_agent_replies(), was_escalated=Exists(escalated),
                          handle=handle_minutes())
                .annotate(h=TruncHour("resolved_at", tzinfo=UTC)).values(*key)
                .annotate(resolved=Count("pk"), ttr_seconds=Sum(_elapsed("resolved_at")),
                          fcr=Count("pk", filter=fcr_filter("was_escalated")),
                          reopened=Count("pk", filter=Q(reopen_count__gt=0)),
                          tracked=Count("pk", filter=Q(handle__isnull=False)),
                          handle_minutes=Sum("handle"))
                .order_by())
    same_owner = ((Q(team_id=F("ticket__team_id"))
                   | Q(team_id__isnull=True, ticket__team_id__isnull=True))
                  & (Q(agent_id=F("ticket__assignee_id"))
                     | Q(agent_id__isnull=True, ticket__assignee_id__isnull=True)))
    answered = (surveys.filter(_ranges("responded_at", ranges))
                .annotate(h=TruncHour("responded_at", tzinfo=UTC))
                .values("h", "team_id", "agent_id", priority=F("ticket__priority"))
                .annotate(responses=Count("pk", filter=Q(rating__isnull=False)),
                          satisfied=Count("pk", filter=Q(rating__gte=4)),
                          nps_responses=Count("pk", filter=Q(nps__isnull=False)),
                          promoters=Count("pk", filter=Q(nps__gte=9)),
                          detractors=Count("pk", filter=Q(nps__lte=6)),
                          # A NULL comparison falls to the default: counted as elsewhere.
                          responses_elsewhere=Sum(Case(When(same_owner, then=Value(0)),
                                                       default=Value(1))))
                .order_by())
    sla = (clocks.filter(_ranges("started_at", ranges))
           .annotate(h=TruncHour("started_at", tzinfo=UTC))
           .values("h", team_id=F("ticket__team_id"), assignee_id=F("ticket__assignee_id"),
                   priority=F("ticket__priority"))
           .annotate(sla_met=Count("pk", filter=Q(state=ClockState.MET)),
                     sla_breached=Count("pk", filter=Q(state=ClockState.BREACHED)))
           .order_by())
    for source in (created, resolved, answered, sla):
        for r in source:
            agent = r.pop("assignee_id", None) if "assignee_id" in r else r.pop("agent_id")
            k = (r.pop("h").astimezone(UTC), r.pop("team_id") or 0, agent or 0,
                 r.pop("priority") or 0)
            _add_agent(rows, k, r)
    return rows


def team_rows(agent_rows: AgentRows) -> Rows:
    """The per-team rows of `MetricsHour` from the per-agent ones: the same measures summed
    over agents and priorities."""
    rows: Rows = {}
    for (h, team, _agent, _priority), values in agent_rows.items():
        _add(rows, (h, team), {name: values[name] for name in MEASURES})
    return rows


def compute(ranges: list[tuple[datetime, datetime]], *, team_id: int | None = None) -> Rows:
    """Figures per (UTC hour, team id or 0) of the events inside `ranges` (hour-aligned
    [start, end) pairs): `compute_agents` summed per team."""
    return team_rows(compute_agents(ranges, team_id=team_id))


def backlog_at_hours(hours: list[datetime]) -> dict[Key, int]:
    """Backlog per team at each of `hours`, reconstructed like metrics.backlog_at: created
    before the moment and neither resolved nor closed by then (open now counts as open).
    One query per 24 moments."""
    out: dict[Key, int] = {}
    hours = sorted(set(hours))
    for i in range(0, len(hours), 24):
        batch = hours[i:i + 24]
        first = batch[0]
        qs = Ticket.objects.filter(created_at__lt=batch[-1]).filter(
            Q(status__in=OPEN_STATUS_VALUES) | Q(resolved_at__gte=first)
            | Q(closed_at__gte=first))
        expressions = {}
        for j, at in enumerate(batch):
            expressions[f"b{j}"] = Count("pk", filter=(
                Q(created_at__lt=at)
                & (Q(status__in=OPEN_STATUS_VALUES) | Q(resolved_at__gte=at)
                   | Q(resolved_at__isnull=True))
                & (Q(closed_at__isnull=True) | Q(closed_at__gte=at))))
        for r in qs.values("team_id").annotate(**expressions).order_by():
            for j, at in enumerate(batch):
                if r[f"b{j}"]:
                    out[(at, r["team_id"] or 0)] = r[f"b{j}"]
    return out


FAR = datetime(9999, 1, 1, tzinfo=UTC)


def _left_at() -> Any:
    """When a ticket left the backlog, as metrics.backlog_at reconstructs it: open now →
    when closed (never, if not); otherwise the first of resolution and closing."""
    from django.db.models.functions import Coalesce, Least

    closed = Coalesce("closed_at", Value(FAR))
    return Case(When(status__in=OPEN_STATUS_VALUES, then=closed),
                default=Least(Coalesce("resolved_at", Value(FAR)), closed))


def backlog_series(start: datetime, end: datetime) -> dict[Key, int]:
    """Backlog per team at every hour start in [start, end): reconstructed once at `start`,
    then carried forward hour by hour (+ created, − left). Three queries."""
    anchor = backlog_at_hours([start])
    created: dict[Key, int] = defaultdict(int)
    left: dict[Key, int] = defaultdict(int)
    for r in (Ticket.objects.filter(created_at__gte=start, created_at__lt=end)
              .annotate(h=TruncHour("created_at", tzinfo=UTC)).values("h", "team_id")
              .annotate(n=Count("pk")).order_by()):
        created[(r["h"].astimezone(UTC), r["team_id"] or 0)] += r["n"]
    # A ticket counts at hour t while left_at >= t: it stops counting from the next hour on.
    for r in (Ticket.objects.annotate(left=_left_at())
              .filter(left__gte=start, left__lt=end - HOUR, created_at__lt=end)
              .annotate(h=TruncHour("left", tzinfo=UTC)).values("h", "team_id")
              .annotate(n=Count("pk")).order_by()):
        left[(r["h"].astimezone(UTC), r["team_id"] or 0)] += r["n"]
    teams = {team for _, team in anchor} | {team for _, team in created}
    out: dict[Key, int] = {}
    level = {team: anchor.get((start, team), 0) for team in teams}
    h = start
    while h < end:
        for team in teams:
            if level[team]:
                out[(h, team)] = level[team]
        for team in teams:
            # Hour h+1 counts tickets created before it, minus those gone before it.
            level[team] += created.get((h, team), 0) - left.get((h, team), 0)
        h += HOUR
    return out


def _split(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    return [(start, end)] if start < end else []


def refresh(hours: Iterable[datetime], *, now: datetime | None = None,
            backlog: dict[Key, int] | None = None) -> int:
    """Recompute and store the rows of `hours` (UTC hour starts). The backlog of an hour is
    taken from `backlog` when given, else kept as stored: it is a snapshot of that hour,
    not something later changes rewrite. Returns rows written."""
    now = now or timezone.now()
    hours = sorted({floor_hour(h) for h in hours})
    if not hours:
        return 0
    ranges = _merge([(h, h + HOUR) for h in hours])
    detailed = compute_agents(ranges)
    rows = team_rows(detailed)
    with transaction.atomic():
        stored = MetricsHour.objects.select_for_update().filter(_ranges("hour", ranges))
        if backlog is None:
            backlog = {(r.hour.astimezone(UTC), r.team_id): r.backlog for r in stored}
        for key, n in backlog.items():
            if key[0] in hours:
                rows.setdefault(key, dict.fromkeys(MEASURES, 0))["backlog"] = n
        stored.delete()
        MetricsHour.objects.bulk_create(
            [MetricsHour(hour=h, team_id=team, refreshed_at=now, **values)
             for (h, team), values in sorted(rows.items())], batch_size=2000)
        AgentMetricsHour.objects.filter(_ranges("hour", ranges)).delete()
        # About 300 rows an hour at a million tickets: COPY on PostgreSQL, not objects.
        RowWriter().write(
            AgentMetricsHour, ("hour", "team_id", "agent_id", "priority", *AGENT_MEASURES,
                               "refreshed_at"),
            [(h, team, agent, priority, *(values[m] for m in AGENT_MEASURES), now)
             for (h, team, agent, priority), values in sorted(detailed.items())])
        # The medians' daily histograms of the same hours' UTC days (whole days).
        durations.refresh_days({h.date() for h in hours})
    return len(rows)


def refresh_covered(moments: Iterable[datetime]) -> int:
    """Recompute the covered hours holding `moments`: for a correction of old rows that
    `sync` cannot see (it follows recent changes). Returns rows written."""
    state = MetricsRollupState.objects.filter(pk=1).first()
    if state is None or state.covered_from is None:
        return 0
    hours = {h for h in map(floor_hour, moments)
             if state.covered_from <= h < state.covered_to}
    return refresh(hours)


def _merge(ranges: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _state() -> MetricsRollupState:
    state = MetricsRollupState.objects.select_for_update().filter(pk=1).first()
    return state or MetricsRollupState.objects.create(pk=1)


def rebuild(days: int = 120, *, now: datetime | None = None) -> int:
    """Recompute the last `days` days up to the current hour, a week per transaction (the
    fixed cost of each aggregate is paid once a week, not once an hour)."""
    now = now or timezone.now()
    end = floor_hour(now)
    start = end - timedelta(days=days)
    written = 0
    series = backlog_series(start, end)
    day = start
    while day < end:
        stop = min(day + timedelta(days=7), end)
        hours = [day + HOUR * i for i in range(int((stop - day) / HOUR))]
        written += refresh(hours, now=now, backlog=series)
        day = stop
    with transaction.atomic():
        state = _state()
        state.covered_from, state.covered_to = start, end
        state.synced_at = state.rebuilt_at = now
        state.save()
    return written


# Hours touched by one sync are capped; the rest waits for the next run (oldest first).
MAX_HOURS_PER_SYNC = 500


def touched_hours(since: datetime, until: datetime) -> set[datetime]:
    """UTC hours whose figures may have changed between `since` and `until`."""
    hours: set[datetime] = set()
    updated = Q(updated_at__gte=since, updated_at__lt=until)
    reopened: list[int] = []
    for pk, created, resolved, reopens in (Ticket.objects.filter(updated)
                                           .values_list("pk", "created_at", "resolved_at",
                                                        "reopen_count").iterator()):
        hours.add(floor_hour(created))
        if resolved:
            hours.add(floor_hour(resolved))
        if reopens:
            reopened.append(pk)
    # A reopened (or re-resolved) ticket has left the hours of its earlier resolutions:
    # its audit trail says when they were.
    for i in range(0, len(reopened), 1000):
        for at in TicketEvent.objects.filter(
                ticket_id__in=reopened[i:i + 1000], kind=EventKind.STATUS,
                after=Status.RESOLVED).values_list("created_at", flat=True):
            hours.add(floor_hour(at))
    for responded in Survey.objects.filter(responded_at__gte=since, responded_at__lt=until) \
            .values_list("responded_at", flat=True):
        hours.add(floor_hour(responded))
    # The answered surveys of a changed ticket (its priority, team or assignee: keys and
    # the "elsewhere" count of the per-agent rows).
    for responded in Survey.objects.filter(responded_at__isnull=False) \
            .filter(ticket__in=Ticket.objects.filter(updated).values("pk")) \
            .values_list("responded_at", flat=True):
        hours.add(floor_hour(responded))
    for started in Clock.objects.filter(completed_at__gte=since, completed_at__lt=until) \
            .values_list("started_at", flat=True):
        hours.add(floor_hour(started))
    for resolved in TimeEntry.objects.filter(started_at__gte=since, started_at__lt=until,
                                             ticket__resolved_at__isnull=False) \
            .values_list("ticket__resolved_at", flat=True):
        hours.add(floor_hour(resolved))
    return hours


def sync(*, now: datetime | None = None) -> int:
    """Fold recent changes into the rollup and extend it to the current hour. Cheap when
    little changed: cost follows the number of touched hours, not of tickets."""
    now = now or timezone.now()
    with transaction.atomic():
        state = _state()
        never_built = state.covered_to is None
        since, covered_to = state.synced_at or state.covered_to, state.covered_to
    if never_built:
        return rebuild(now=now)  # first run after installing: the whole window
    current = floor_hour(now)
    stale = dict(MetricsStaleHour.objects.values_list("pk", "hour"))
    hours = {h for h in touched_hours(since, now) | {s.astimezone(UTC) for s in stale.values()}
             if state.covered_from <= h < current}
    # Hours that completed since the last run join the covered window.
    h = covered_to
    while h < current:
        hours.add(h)
        h += HOUR
    todo = sorted(hours)
    done = todo[:MAX_HOURS_PER_SYNC]
    fresh = [h for h in done if h >= covered_to]
    stored = {(r.hour.astimezone(UTC), r.team_id): r.backlog
              for r in MetricsHour.objects.filter(hour__in=[h for h in done if h < covered_to])}
    written = refresh(done, now=now, backlog={**stored, **backlog_at_hours(fresh)})
    done_set = set(done)
    # Markers folded in, or outside the window (older, or the current hour: recomputed live).
    MetricsStaleHour.objects.filter(pk__in=[
        pk for pk, h in stale.items() if h.astimezone(UTC) in done_set
        or not state.covered_from <= h < current]).delete()
    with transaction.atomic():
        state = _state()
        if len(done) == len(todo):
            state.synced_at = now
            state.covered_to = max(state.covered_to, current)
        else:
            # Resume from the oldest hour not yet done; nothing is skipped.
            state.covered_to = max(state.covered_to, min(current, todo[len(done)]))
        state.save()
    return written


# --- reading ----------------------------------------------------------------------------------

def covered(start: datetime, end: datetime) -> tuple[datetime, datetime] | None:
    """The part of [start, end) the rollup holds, or None if it cannot serve this range."""
    state = MetricsRollupState.objects.filter(pk=1).first()
    if not state or state.covered_from is None or start < state.covered_from:
        return None
    if floor_hour(start) != start or (floor_hour(end) != end and end < state.covered_to):
        return None
    return start, max(start, min(end, state.covered_to))


def read(start: datetime, end: datetime, *, team_id: int | None = None) -> Rows:
    """Rows per (hour, team) for [start, end): stored for covered hours, live for the rest."""
    span = covered(start, end)
    if span is None:
        raise LookupError("The metrics rollup does not cover this range.")
    stored_end = span[1]
    qs = MetricsHour.objects.filter(hour__gte=start, hour__lt=stored_end)
    if team_id is not None:
        qs = qs.filter(team_id=team_id)
    rows: Rows = {}
    for r in qs.values("hour", "team_id", *MEASURES):
        rows[(r.pop("hour").astimezone(UTC), r.pop("team_id"))] = r
    for key, values in compute(_split(stored_end, end), team_id=team_id).items():
        _add(rows, key, values)
    return rows


def read_by_week_and_team(start: datetime, end: datetime, *, zone: Any,
                          team_id: int | None = None
                          ) -> tuple[dict[Any, dict[str, int]], dict[int, dict[str, int]]]:
    """Sums per local week (Monday) and per team over [start, end): summed by the database
    for the stored hours (two GROUP BY over ~2,000 rows per team for 90 days), in Python
    for the few live hours after them."""
    from django.db.models.functions import TruncWeek

    span = covered(start, end)
    if span is None:
        raise LookupError("The metrics rollup does not cover this range.")
    stored_end = span[1]
    qs = MetricsHour.objects.filter(hour__gte=start, hour__lt=stored_end)
    if team_id is not None:
        qs = qs.filter(team_id=team_id)
    sums = {name: Sum(name) for name in MEASURES}
    weeks: dict[Any, dict[str, int]] = {}
    for r in qs.annotate(w=TruncWeek("hour", tzinfo=zone)).values("w").annotate(**sums) \
            .order_by():
        key = r.pop("w")
        weeks[key.date() if isinstance(key, datetime) else key] = {
            k: v or 0 for k, v in r.items()}
    teams = {r.pop("team_id"): {k: v or 0 for k, v in r.items()}
             for r in qs.values("team_id").annotate(**sums).order_by()}
    tail = compute(_split(stored_end, end), team_id=team_id)

    def week_of(key: Key) -> Any:
        local = timezone.localtime(key[0], zone).date()
        return local - timedelta(days=local.weekday())

    for target, key in ((weeks, week_of), (teams, lambda k: k[1])):
        for group_key, values in group(tail, key).items():
            row = target.setdefault(group_key, dict.fromkeys(MEASURES, 0))
            for name in MEASURES:
                row[name] += values[name]
    return weeks, teams


def backlog_at(moment: datetime, *, team_id: int | None = None) -> int | None:
    """Stored backlog at an hour start inside the rollup; None if not stored."""
    state = MetricsRollupState.objects.filter(pk=1).first()
    if (not state or state.covered_from is None or floor_hour(moment) != moment
            or not state.covered_from <= moment < state.covered_to):
        return None
    qs = MetricsHour.objects.filter(hour=moment)
    if team_id is not None:
        qs = qs.filter(team_id=team_id)
    return qs.aggregate(n=Sum("backlog"))["n"] or 0


def group(rows: Rows, key: Any) -> dict[Any, dict[str, int]]:
    """Sum rows by key((hour, team)) -> group."""
    out: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    for k, values in rows.items():
        target = out[key(k)]
        for name in MEASURES:
            target[name] += values.get(name, 0) or 0
    return dict(out)


def _mean(total_seconds: int, n: int) -> timedelta | None:
    return timedelta(seconds=total_seconds / n) if n else None


def manager_from_rollup(filters: metrics.MetricFilters, *, user: User, now: datetime
                        ) -> dict[str, Any] | None:
    """Every additive figure of the manager dashboard from `MetricsHour` rows (and live
    rows for the hours not rolled up yet): the same formulas, summed instead of scanned.
    Medians are not additive and are left to `medians` (loaded after the page). None
    when the rollup cannot serve these filters."""
    if not metrics.rollup_eligible(filters, user) or covered(filters.start, filters.end) is None:
        return None
    zone = timezone.get_current_timezone()
    by_week, by_team = read_by_week_and_team(filters.start, filters.end, zone=zone,
                                                      team_id=filters.team_id)
    t = dict.fromkeys(MEASURES, 0)
    for values in by_team.values():
        for name in MEASURES:
            t[name] += values[name]
    weeks = []
    for key, w in sorted(by_week.items()):
        row = {"created": w["created"], "frt_mean": _mean(w["frt_seconds"], w["responded"]),
               "resolved": w["resolved"], "fcr": w["fcr"], "reopened": w["reopened"],
               "tracked": w["tracked"], "handle_total": w["handle_minutes"] or None,
               "responses": w["responses"], "satisfied": w["satisfied"]}
        metrics._quality(row)
        year, number, _ = key.isocalendar()
        row.update(week=key, label=f"{year}-W{number:02d}",
                   csat=metrics.percent(row["satisfied"], row["responses"]))
        weeks.append(row)
    sla = {"met": t["sla_met"], "breached": t["sla_breached"]}
    sla["pct"] = metrics.percent(sla["met"], sla["met"] + sla["breached"])
    n = t["nps_responses"]
    csat = {"responses": t["responses"], "satisfied": t["satisfied"], "nps_responses": n,
            "promoters": t["promoters"], "detractors": t["detractors"],
            "csat": metrics.percent(t["satisfied"], t["responses"]),
            "nps": round(100 * (t["promoters"] - t["detractors"]) / n, 1) if n else None}
    quality = metrics._quality({"resolved": t["resolved"], "fcr": t["fcr"],
                                "reopened": t["reopened"], "tracked": t["tracked"],
                                "handle_total": t["handle_minutes"] or None})
    escalation = {"created": t["created"], "escalated": t["escalated"],
                  "rate": metrics.percent(t["escalated"], t["created"])}

    open_rows = {r["team"]: r for r in filters.tickets(user)
                 .filter(status__in=OPEN_STATUS_VALUES).values("team")
                 .annotate(open=Count("pk"), oldest=Min("created_at")).order_by("team")}
    open_now = sum(r["open"] for r in open_rows.values())
    names = dict(Team.objects.values_list("pk", "name"))
    teams = []
    for team in {r or 0 for r in open_rows} | set(by_team):
        if filters.team_id and team != filters.team_id:
            continue
        o = open_rows.get(team or None, {})
        f = by_team.get(team, {})
        row = {"team": team or None, "name": names.get(team, metrics.NO_TEAM),
               "open": o.get("open", 0),
               "oldest_age": (now - o["oldest"]) if o.get("oldest") else None,
               "created": f.get("created", 0), "resolved": f.get("resolved", 0)}
        row["net"] = row["created"] - row["resolved"]
        teams.append(row)
    teams.sort(key=lambda r: (r["team"] is None, r["name"].lower()))

    def backlog_then(moment: datetime) -> int:
        if moment >= now:
            return open_now
        stored = backlog_at(moment, team_id=filters.team_id)
        if stored is not None:
            return stored
        return metrics.backlog_at(filters, [moment], user=user)[0]

    end = min(filters.end, now)
    start_backlog = backlog_then(filters.start)
    end_backlog = backlog_then(max(end, filters.start))
    score = metrics.backlog_score(start_backlog, end_backlog)
    return {
        "sla": sla, "csat": csat, "quality": quality, "weeks": weeks,
        "frt": {"created": t["created"], "responded": t["responded"],
                "mean": _mean(t["frt_seconds"], t["responded"]), "median": None},
        "ttr": {"resolved": t["resolved"], "mean": _mean(t["ttr_seconds"], t["resolved"]),
                "median": None},
        "escalation": escalation,
        "backlog": {"open": open_now, "median_age": None},
        "productivity": metrics._productivity(filters, t["resolved"],
                                              metrics.active_agents(filters)),
        "teams": teams,
        "backlog_start": start_backlog, "backlog_end": end_backlog, "backlog_score": score,
        "health": metrics.health_score(sla=sla["pct"], csat=csat["csat"],
                                       fcr=quality["fcr_pct"], backlog=score),
        "from_rollup": True,
    }


# --- the team lead's and the agent's figures (AgentMetricsHour) -----------------------------

def agent_rollup_eligible(filters: metrics.MetricFilters, user: User) -> bool:
    """The per-agent rollup holds figures per hour, team, agent and priority: it serves
    those filters to a user who sees every ticket, or whose visibility adds nothing to
    them (their own team, their own tickets; see `metrics.MetricFilters.narrow`)."""
    if filters.tier or filters.channel or filters.category_id or not user.is_active:
        return False
    return bool(user.sees_all_tickets or metrics.sees_whole_team(user, filters.team_id)
                or metrics.own_tickets(user, filters.agent_id))


def read_agent_groups(filters: metrics.MetricFilters, by: str) -> dict[Any, dict[str, int]]:
    """Sums of every per-agent measure over the filters' period, teams, agents and
    priorities, grouped by `by` ("agent_priority": keys (agent, priority); "agent_id",
    "priority", or "" for one total under 0): the database sums the stored hours, Python
    the few live hours after them."""
    if by == "agent_id":
        return regroup(read_agent_groups(filters, "agent_priority"), 0)
    if by == "priority":
        return regroup(read_agent_groups(filters, "agent_priority"), 1)
    span = covered(filters.start, filters.end)
    if span is None:
        raise LookupError("The metrics rollup does not cover this range.")
    stored_end = span[1]
    qs = AgentMetricsHour.objects.filter(hour__gte=filters.start, hour__lt=stored_end)
    if filters.team_id:
        qs = qs.filter(team_id=filters.team_id)
    if filters.agent_id:
        qs = qs.filter(agent_id=filters.agent_id)
    if filters.priority:
        qs = qs.filter(priority=filters.priority)
    sums = {name: Sum(name) for name in AGENT_MEASURES}
    out: dict[Any, dict[str, int]] = {}
    if by:
        for r in qs.values("agent_id", "priority").annotate(**sums).order_by():
            out[(r.pop("agent_id"), r.pop("priority"))] = {k: v or 0 for k, v in r.items()}
    else:
        out[0] = {k: v or 0 for k, v in qs.aggregate(**sums).items()}
    tail = compute_agents(_split(stored_end, filters.end), team_id=filters.team_id)
    for (h, _team, agent, priority), values in tail.items():
        if filters.start <= h < filters.end and (
                (not filters.agent_id or agent == filters.agent_id)
                and (not filters.priority or priority == filters.priority)):
            group_key = (agent, priority) if by else 0
            row = out.setdefault(group_key, dict.fromkeys(AGENT_MEASURES, 0))
            for name in AGENT_MEASURES:
                row[name] += values[name]
    return out


def regroup(rows: dict[Any, dict[str, int]], index: int) -> dict[int, dict[str, int]]:
    """Rows per (agent, priority) summed per agent (index 0) or per priority (index 1)."""
    out: dict[int, dict[str, int]] = {}
    for key, values in rows.items():
        row = out.setdefault(key[index], dict.fromkeys(AGENT_MEASURES, 0))
        for name in AGENT_MEASURES:
            row[name] += values[name]
    return out


def _handle_total(row: dict[str, int]) -> int | None:
    # The live SUM is NULL when no resolved ticket has time logged.
    return row["handle_minutes"] if row["tracked"] else None


def _csat(row: dict[str, int]) -> dict[str, Any]:
    n = row["nps_responses"]
    return {"responses": row["responses"], "satisfied": row["satisfied"], "nps_responses": n,
            "promoters": row["promoters"], "detractors": row["detractors"],
            "csat": metrics.percent(row["satisfied"], row["responses"]),
            "nps": round(100 * (row["promoters"] - row["detractors"]) / n, 1) if n else None}


def _surveys_exact(filters: metrics.MetricFilters, user: User, total: dict[str, int]) -> bool:
    """Survey figures of the rows are what `user` sees, unless a survey in them is
    credited to another team or agent than its ticket's now and `user` does not see every
    ticket (then its ticket may be out of their sight: computed live)."""
    return user.sees_all_tickets or not total["responses_elsewhere"]


def team_from_rollup(filters: metrics.MetricFilters, *, user: User
                     ) -> dict[str, Any] | None:
    """The team lead's figures (per agent, resolution quality, by priority, CSAT) from
    `AgentMetricsHour` rows; the five oldest open tickets are read live. None when the
    rollup cannot serve these filters."""
    if not agent_rollup_eligible(filters, user) or covered(filters.start, filters.end) is None:
        return None
    # One pass over the rows (and the live hours) for both breakdowns.
    detailed = read_agent_groups(filters, "agent_priority")
    by_agent, by_priority_rows = regroup(detailed, 0), regroup(detailed, 1)
    total = dict.fromkeys(AGENT_MEASURES, 0)
    for values in by_agent.values():
        for name in AGENT_MEASURES:
            total[name] += values[name]
    quality = metrics._quality({"resolved": total["resolved"], "fcr": total["fcr"],
                                "reopened": total["reopened"], "tracked": total["tracked"],
                                "handle_total": _handle_total(total)})
    if _surveys_exact(filters, user, total):
        csat = _csat(total)
        surveys = {agent: {"responses": r["responses"], "satisfied": r["satisfied"]}
                   for agent, r in by_agent.items() if agent}
    else:
        csat = metrics.csat_nps(filters, user=user)
        surveys = metrics.agent_surveys(filters, user=user)
    names = {u["pk"]: u for u in User.objects.filter(
        pk__in=[a for a, r in by_agent.items() if a and r["resolved"]]).values(
        "pk", "username", "first_name", "last_name")}
    rows = []
    for agent, r in by_agent.items():
        if not agent or not r["resolved"] or agent not in names:
            continue
        u = names[agent]
        rows.append({"assignee": agent, "assignee__username": u["username"],
                     "assignee__first_name": u["first_name"],
                     "assignee__last_name": u["last_name"],
                     "resolved": r["resolved"], "fcr": r["fcr"], "reopened": r["reopened"],
                     "tracked": r["tracked"], "handle_total": _handle_total(r)})
    agents = metrics.agent_rows(rows, surveys)
    by_priority = []
    for p in Priority:
        r = by_priority_rows.get(p.value)
        if r is None or not (r["created"] or r["sla_met"] or r["sla_breached"]):
            continue
        by_priority.append({
            "priority": p.value, "label": p.label, "created": r["created"], "open": r["open"],
            "frt_mean": _mean(r["frt_seconds"], r["responded"]),
            "met": r["sla_met"], "breached": r["sla_breached"],
            "sla_pct": metrics.percent(r["sla_met"], r["sla_met"] + r["sla_breached"])})
    return {"agents": agents, "quality": quality, "by_priority": by_priority, "csat": csat,
            "from_rollup": True}


def agent_from_rollup(filters: metrics.MetricFilters, *, user: User
                      ) -> dict[str, Any] | None:
    """The agent's own CSAT, resolution quality and resolved count with the mean time to
    resolution, from `AgentMetricsHour` rows (`filters.agent_id` is the agent). None when
    the rollup cannot serve these filters."""
    if not agent_rollup_eligible(filters, user) or covered(filters.start, filters.end) is None:
        return None
    total = read_agent_groups(filters, "")[0]
    csat = (_csat(total) if _surveys_exact(filters, user, total)
            else metrics.csat_nps(filters, user=user))
    quality = metrics._quality({"resolved": total["resolved"], "fcr": total["fcr"],
                                "reopened": total["reopened"], "tracked": total["tracked"],
                                "handle_total": _handle_total(total)})
    return {"csat": csat, "quality": quality,
            "ttr": {"resolved": total["resolved"],
                    "mean": _mean(total["ttr_seconds"], total["resolved"])}}
