"""Support metrics: every figure of the metrics dashboards, each one aggregated by the database.

Each function below computes one formula (documented in its docstring and, in the same
words, next to its chart) with COUNT ... FILTER / AVG / SUM in SQL over tickets chosen by an
indexed range: `created_at` for arrival figures (first response, escalation rate),
`resolved_at` for resolution figures (time to resolution, FCR, reopen rate, handle time,
productivity), `responded_at` for survey figures (CSAT, NPS). Nothing loops over tickets.

Durations are wall clock (not business hours: the SLA dashboard shows those).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy

from helpdesk.models import User
from sla.models import Clock, ClockState, Metric
from tickets.models import (
    OPEN_STATUS_VALUES,
    Escalation,
    Message,
    Priority,
    Survey,
    Ticket,
    TimeEntry,
)
from tickets.selectors import visible_tickets

# --- filters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricFilters:
    """The period [start, end) and the ticket fields that narrow every figure."""

    start: datetime
    end: datetime
    team_id: int | None = None
    agent_id: int | None = None
    tier: str = ""
    priority: int | None = None
    channel: str = ""
    category_id: int | None = None

    def narrow(self, qs: QuerySet, user: User, *, prefix: str = "",
               agent_field: str | None = None, team_field: str | None = None) -> QuerySet:
        """Rows about tickets (prefix "" for tickets, "ticket__" for related rows) matching
        the filters and visible to `user`. Surveys credit their own agent and team."""
        p = prefix
        if self.team_id:
            qs = qs.filter(**{team_field or f"{p}team_id": self.team_id})
        if self.agent_id:
            qs = qs.filter(**{agent_field or f"{p}assignee_id": self.agent_id})
        if self.tier:
            qs = qs.filter(**{f"{p}organization__support_tier": self.tier})
        if self.priority:
            qs = qs.filter(**{f"{p}priority": self.priority})
        if self.channel:
            qs = qs.filter(**{f"{p}channel": self.channel})
        if self.category_id:
            qs = qs.filter(**{f"{p}category_id": self.category_id})
        if not (user.is_active and user.sees_all_tickets) and not (
                team_field is None and sees_whole_team(user, self.team_id)) and not (
                agent_field is None and own_tickets(user, self.agent_id)):
            qs = qs.filter(**{f"{p}pk__in" if not p else f"{p[:-2]}__in":
                              visible_tickets(user).values("pk")})
        return qs

    def tickets(self, user: User) -> QuerySet[Ticket]:
        return self.narrow(Ticket.objects.all(), user)

    def created(self, user: User) -> QuerySet[Ticket]:
        return self.tickets(user).filter(created_at__gte=self.start, created_at__lt=self.end)

    def resolved(self, user: User) -> QuerySet[Ticket]:
        return self.tickets(user).filter(resolved_at__gte=self.start, resolved_at__lt=self.end)

    def responses(self, user: User) -> QuerySet[Survey]:
        qs = Survey.objects.filter(responded_at__gte=self.start, responded_at__lt=self.end)
        return self.narrow(qs, user, prefix="ticket__", agent_field="agent_id",
                           team_field="team_id")


def sees_whole_team(user: User, team_id: int | None) -> bool:
    """An agent sees every ticket of their own teams (tickets.selectors.visible_tickets):
    narrowed to one of them, the visibility filter adds nothing but a scan of every
    ticket of the team, in each query of the page."""
    return bool(team_id and user.is_active and user.is_agent and team_id in user.team_ids)


def own_tickets(user: User, agent_id: int | None) -> bool:
    """An agent sees every ticket assigned to them: narrowed to their own, likewise."""
    return bool(agent_id and agent_id == user.pk and user.is_active and user.is_agent)


def percent(part: int | None, whole: int | None) -> float | None:
    return round(100 * part / whole, 1) if whole else None


# --- medians ------------------------------------------------------------------------------


class _PercentileCont(Aggregate):
    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"


def median(qs: QuerySet, expression: Any, output_field: Any) -> Any:
    """The median of `expression` over `qs`: PERCENTILE_CONT on PostgreSQL; elsewhere the
    middle row(s) of the ordered values (one COUNT and one ORDER BY ... LIMIT 2)."""
    if connection.vendor == "postgresql":
        return qs.aggregate(m=_PercentileCont(expression, output_field=output_field))["m"]
    values = qs.annotate(_m=ExpressionWrapper(expression, output_field=output_field)) \
        .filter(_m__isnull=False).order_by("_m").values_list("_m", flat=True)
    n = values.count()
    if not n:
        return None
    middle = list(values[(n - 1) // 2:(n - 1) // 2 + 2])
    if n % 2:
        return middle[0]
    return middle[0] + (middle[1] - middle[0]) / 2


def _elapsed(end: str, start: str = "created_at") -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


# --- the formulas -------------------------------------------------------------------------


def csat_nps(filters: MetricFilters, *, user: User) -> dict[str, Any]:
    """Survey responses received in the period (by `responded_at`).

    - CSAT % = responses rated 4–5 ÷ all responses with a rating (1–5);
    - NPS = % promoters (9–10) − % detractors (0–6), over responses with an NPS answer.
    """
    row = filters.responses(user).aggregate(
        responses=Count("pk", filter=Q(rating__isnull=False)),
        satisfied=Count("pk", filter=Q(rating__gte=4)),
        nps_responses=Count("pk", filter=Q(nps__isnull=False)),
        promoters=Count("pk", filter=Q(nps__gte=9)),
        detractors=Count("pk", filter=Q(nps__lte=6)),
    )
    row["csat"] = percent(row["satisfied"], row["responses"])
    n = row["nps_responses"]
    row["nps"] = (round(100 * (row["promoters"] - row["detractors"]) / n, 1) if n else None)
    return row


def first_response_time(filters: MetricFilters, *, user: User) -> dict[str, Any]:
    """Tickets created in the period that have a first public agent reply:
    first response time = first_response_at − created_at (wall clock), mean and median."""
    qs = filters.created(user)
    expr = _elapsed("first_response_at")
    row = qs.aggregate(created=Count("pk"),
                       responded=Count("pk", filter=Q(first_response_at__isnull=False)),
                       mean=Avg(expr, filter=Q(first_response_at__isnull=False)))
    row["median"] = median(qs.filter(first_response_at__isnull=False), expr, DurationField())
    return row


def time_to_resolution(filters: MetricFilters, *, user: User) -> dict[str, Any]:
    """Tickets resolved in the period: time to resolution = resolved_at − created_at
    (wall clock), mean and median."""
    qs = filters.resolved(user)
    expr = _elapsed("resolved_at")
    row = qs.aggregate(resolved=Count("pk"), mean=Avg(expr))
    row["median"] = median(qs, expr, DurationField())
    return row


def resolution_median(filters: MetricFilters, *, user: User) -> timedelta | None:
    """The median of resolved_at − created_at over the tickets resolved in the period."""
    return median(filters.resolved(user), _elapsed("resolved_at"), DurationField())


def public_agent_replies() -> Subquery:
    replies = (Message.objects.filter(ticket=OuterRef("pk"), by_agent=True, is_public=True)
               .order_by().values("ticket").annotate(n=Count("pk")).values("n")[:1])
    return Coalesce(Subquery(replies, output_field=IntegerField()), Value(0))


def fcr_filter(escalated: str = "escalated") -> Q:
    """First contact: exactly one public agent reply, never escalated, never reopened."""
    return Q(replies=1, reopen_count=0, **{escalated: False})


def handle_minutes() -> Subquery:
    minutes = (TimeEntry.objects.filter(ticket=OuterRef("pk"), minutes__isnull=False)
               .order_by().values("ticket").annotate(m=Sum("minutes")).values("m")[:1])
    return Subquery(minutes, output_field=IntegerField())


def resolution_quality(filters: MetricFilters, *, user: User) -> dict[str, Any]:
    """Tickets resolved in the period (the denominator of every rate here):

    - first-contact resolution % = resolved tickets with exactly one public agent reply,
      no escalation and no reopen ÷ resolved tickets;
    - reopen rate % = resolved tickets with reopen_count > 0 ÷ resolved tickets;
    - handle time = Σ TimeEntry minutes of each resolved ticket, mean over the resolved
      tickets that have time logged (`tracked`, shown beside it as coverage).
    """
    escalated = Escalation.objects.filter(ticket=OuterRef("pk"))
    qs = filters.resolved(user).annotate(
        replies=public_agent_replies(), escalated=Exists(escalated),
        handle=handle_minutes(),
    )
    row = qs.aggregate(
        resolved=Count("pk"),
        fcr=Count("pk", filter=fcr_filter()),
        reopened=Count("pk", filter=Q(reopen_count__gt=0)),
        tracked=Count("pk", filter=Q(handle__isnull=False)),
        handle_total=Sum("handle"),
    )
    return _quality(row)


def _quality(row: dict[str, Any]) -> dict[str, Any]:
    row["fcr_pct"] = percent(row["fcr"], row["resolved"])
    row["reopen_pct"] = percent(row["reopened"], row["resolved"])
    row["handle_mean"] = (round(row["handle_total"] / row["tracked"], 1)
                          if row["tracked"] else None)
    return row


def escalation_rate(filters: MetricFilters, *, user: User) -> dict[str, Any]:
    """Escalation rate % = tickets created in the period that have at least one Escalation
    ÷ tickets created in the period."""
    escalated = Escalation.objects.filter(ticket=OuterRef("pk"))
    row = filters.created(user).aggregate(
        created=Count("pk"), escalated=Count("pk", filter=Q(Exists(escalated))))
    row["rate"] = percent(row["escalated"], row["created"])
    return row


def backlog(filters: MetricFilters, *, user: User, now: datetime | None = None
            ) -> dict[str, Any]:
    """Backlog = open tickets now (any open status, whatever their creation date);
    backlog age = median of (now − created_at) over those tickets."""
    now = now or timezone.now()
    qs = filters.tickets(user).filter(status__in=OPEN_STATUS_VALUES)
    open_now = qs.count()
    age = ExpressionWrapper(Value(now) - F("created_at"), output_field=DurationField())
    return {"open": open_now, "median_age": median(qs, age, DurationField()) if open_now
            else None}


def backlog_at(filters: MetricFilters, moments: list[datetime], *, user: User
               ) -> list[int]:
    """Backlog at each moment: at or after now, the open tickets now; before now,
    reconstructed: tickets created before it and neither resolved nor closed by then (a
    ticket resolved, reopened and still open counts as open). At most two queries."""
    now = timezone.now()
    past = sorted({m for m in moments if m < now})
    counts: dict[datetime, int] = {}
    if any(m >= now for m in moments):
        open_now = filters.tickets(user).filter(status__in=OPEN_STATUS_VALUES).count()
        counts.update({m: open_now for m in moments if m >= now})
    if past:
        qs = filters.tickets(user).filter(created_at__lt=past[-1]).filter(
            Q(status__in=OPEN_STATUS_VALUES) | Q(resolved_at__gte=past[0])
            | Q(closed_at__gte=past[0]))
        expressions = {}
        for i, at in enumerate(past):
            open_then = (Q(created_at__lt=at)
                         & (Q(status__in=OPEN_STATUS_VALUES)
                            | Q(resolved_at__gte=at) | Q(resolved_at__isnull=True))
                         & (Q(closed_at__isnull=True) | Q(closed_at__gte=at)))
            expressions[f"b{i}"] = Count("pk", filter=open_then)
        row = qs.aggregate(**expressions)
        counts.update({at: row[f"b{i}"] for i, at in enumerate(past)})
    return [counts[m] for m in moments]


def working_days(start: date, end: date) -> int:
    """Monday–Friday days in [start, end] (local dates, both inclusive)."""
    days = (end - start).days + 1
    if days <= 0:
        return 0
    weeks, extra = divmod(days, 7)
    return weeks * 5 + sum(1 for i in range(extra) if (start.weekday() + i) % 7 < 5)


def productivity(filters: MetricFilters, *, user: User) -> dict[str, Any]:
    """Tickets per agent per day = resolved tickets ÷ (active agents × working days), where
    active agents = distinct assignees of the tickets resolved in the period and working days
    = Monday–Friday days of the period."""
    row = filters.resolved(user).aggregate(
        resolved=Count("pk"), agents=Count("assignee", distinct=True))
    return _productivity(filters, row["resolved"], row["agents"])


def _first_response_clocks(filters: MetricFilters, user: User) -> QuerySet:
    qs = Clock.objects.filter(metric=Metric.FIRST_RESPONSE,
                              state__in=[ClockState.MET, ClockState.BREACHED],
                              completed_at__isnull=False,
                              started_at__gte=filters.start, started_at__lt=filters.end)
    return filters.narrow(qs, user, prefix="ticket__")


def sla_compliance(filters: MetricFilters, *, user: User) -> dict[str, Any]:
    """SLA % = first-response clocks met ÷ (met + breached), clocks started in the period."""
    row = _first_response_clocks(filters, user).aggregate(
        met=Count("pk", filter=Q(state=ClockState.MET)),
        breached=Count("pk", filter=Q(state=ClockState.BREACHED)))
    row["pct"] = percent(row["met"], row["met"] + row["breached"])
    return row


def sla_from_priorities(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """`sla_compliance` from the rows of `by_priority` (every clock's ticket has one)."""
    row = {"met": sum(r["met"] for r in rows), "breached": sum(r["breached"] for r in rows)}
    row["pct"] = percent(row["met"], row["met"] + row["breached"])
    return row


def by_priority(filters: MetricFilters, *, user: User) -> list[dict[str, Any]]:
    """Per priority: tickets created, still open of those, mean first response time, and the
    SLA % of the first-response clocks (met ÷ met + breached). Two GROUP BY queries."""
    rows = {r["priority"]: r for r in filters.created(user).values("priority").annotate(
        created=Count("pk"),
        open=Count("pk", filter=Q(status__in=OPEN_STATUS_VALUES)),
        frt_mean=Avg(_elapsed("first_response_at"), filter=Q(first_response_at__isnull=False)),
    ).order_by("priority")}
    clocks = {r["ticket__priority"]: r for r in _first_response_clocks(filters, user)
              .values("ticket__priority").annotate(
                  met=Count("pk", filter=Q(state=ClockState.MET)),
                  breached=Count("pk", filter=Q(state=ClockState.BREACHED)))
              .order_by("ticket__priority")}
    out = []
    for p in Priority:
        if p.value not in rows and p.value not in clocks:
            continue
        row = {"priority": p.value, "label": p.label, "created": 0, "open": 0,
               "frt_mean": None, "met": 0, "breached": 0}
        row.update({k: v for k, v in rows.get(p.value, {}).items() if k != "priority"})
        row.update({k: v for k, v in clocks.get(p.value, {}).items()
                    if k != "ticket__priority"})
        row["sla_pct"] = percent(row["met"], row["met"] + row["breached"])
        out.append(row)
    return out


def oldest_open(filters: MetricFilters, *, user: User, limit: int = 5) -> list[Ticket]:
    """The `limit` oldest open tickets (by created_at), oldest first."""
    return list(filters.tickets(user).filter(status__in=OPEN_STATUS_VALUES)
                .select_related("assignee", "team").order_by("created_at", "pk")[:limit])


HIGH_HANDLE_FACTOR = 1.5


def agent_quality(filters: MetricFilters, *, user: User) -> list[dict[str, Any]]:
    """Per agent (assignee of tickets resolved in the period): resolved tickets, handle time
    (mean Σ minutes per resolved ticket with time logged), reopen rate and first-contact
    resolution, next to the CSAT % of the surveys credited to the agent in the period, so
    speed never hides quality problems. `high` flags handle time above 1.5 × the mean of all
    rows. Highest handle time first. Two GROUP BY queries."""
    rows = _per_assignee(filters.resolved(user).filter(assignee__isnull=False))
    return _agent_rows(rows, filters, user=user)


def agent_and_resolution_quality(filters: MetricFilters, *, user: User
                                 ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`agent_quality` and `resolution_quality` from one pass over the resolved tickets
    (grouped by assignee, unassigned included, then summed): each pass counts the public
    agent replies of every resolved ticket, seconds on a month of a big team."""
    rows = _per_assignee(filters.resolved(user))
    handles = [r["handle_total"] for r in rows if r["handle_total"] is not None]
    total = {name: sum(r[name] for r in rows)
             for name in ("resolved", "fcr", "reopened", "tracked")}
    total["handle_total"] = sum(handles) if handles else None
    agents = _agent_rows([r for r in rows if r["assignee"] is not None], filters, user=user)
    return agents, _quality(total)


def _per_assignee(resolved: QuerySet[Ticket]) -> list[dict[str, Any]]:
    escalated = Escalation.objects.filter(ticket=OuterRef("pk"))
    return list(resolved.annotate(
        replies=public_agent_replies(), escalated=Exists(escalated), handle=handle_minutes(),
    ).values("assignee", "assignee__username", "assignee__first_name", "assignee__last_name")
        .annotate(
        resolved=Count("pk"),
        fcr=Count("pk", filter=fcr_filter()),
        reopened=Count("pk", filter=Q(reopen_count__gt=0)),
        tracked=Count("pk", filter=Q(handle__isnull=False)),
        handle_total=Sum("handle"),
    ).order_by("assignee"))


def agent_surveys(filters: MetricFilters, *, user: User) -> dict[int, dict[str, int]]:
    """Per agent: survey responses credited to them in the period, and those rated 4–5."""
    return {r.pop("agent"): r for r in filters.responses(user).filter(agent__isnull=False)
            .values("agent").annotate(
                responses=Count("pk", filter=Q(rating__isnull=False)),
                satisfied=Count("pk", filter=Q(rating__gte=4))).order_by("agent")}


def _agent_rows(rows: list[dict[str, Any]], filters: MetricFilters, *, user: User
                ) -> list[dict[str, Any]]:
    return agent_rows(rows, agent_surveys(filters, user=user))


def agent_rows(rows: list[dict[str, Any]], surveys: dict[int, dict[str, int]]
               ) -> list[dict[str, Any]]:
    """The per-agent table from per-assignee counts and per-agent survey counts: rates,
    CSAT, the "high handle time" flag, highest handle time first."""
    for row in rows:
        _quality(row)
        full = f"{row['assignee__first_name']} {row['assignee__last_name']}".strip()
        row["agent"] = full or row["assignee__username"]
        s = surveys.get(row["assignee"], {"responses": 0, "satisfied": 0})
        row["responses"], row["satisfied"] = s["responses"], s["satisfied"]
        row["csat"] = percent(s["satisfied"], s["responses"])
    total = sum(r["handle_total"] or 0 for r in rows)
    tracked = sum(r["tracked"] for r in rows)
    overall = total / tracked if tracked else None
    for row in rows:
        row["high"] = bool(overall and row["handle_mean"] is not None
                           and row["handle_mean"] > HIGH_HANDLE_FACTOR * overall)
    rows.sort(key=lambda r: (-(r["handle_mean"] or 0), r["agent"].lower()))
    return rows


def own_open(user: User) -> int:
    """Open tickets assigned to `user` now."""
    return Ticket.objects.filter(assignee=user, status__in=OPEN_STATUS_VALUES).count()


# --- trends and health ------------------------------------------------------------------


def _week_key(value: datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def weekly_trends(filters: MetricFilters, *, user: User) -> list[dict[str, Any]]:
    """Per week (ISO, Monday start, of the event's own date): tickets created and their mean
    first response time; tickets resolved, FCR % and reopen %; CSAT % of responses received.
    Three GROUP BY queries."""
    created = filters.created(user).annotate(week=TruncWeek("created_at")).values("week") \
        .annotate(created=Count("pk"),
                  frt_mean=Avg(_elapsed("first_response_at"),
                               filter=Q(first_response_at__isnull=False))).order_by("week")
    escalated = Escalation.objects.filter(ticket=OuterRef("pk"))
    resolved = filters.resolved(user).annotate(
        week=TruncWeek("resolved_at"), replies=public_agent_replies(),
        escalated=Exists(escalated), handle=handle_minutes(),
    ).values("week").annotate(
        resolved=Count("pk"),
        fcr=Count("pk", filter=fcr_filter()),
        reopened=Count("pk", filter=Q(reopen_count__gt=0)),
        tracked=Count("pk", filter=Q(handle__isnull=False)),
        handle_total=Sum("handle"),
    ).order_by("week")
    surveys = filters.responses(user).annotate(week=TruncWeek("responded_at")).values("week") \
        .annotate(responses=Count("pk", filter=Q(rating__isnull=False)),
                  satisfied=Count("pk", filter=Q(rating__gte=4))).order_by("week")
    weeks: dict[date, dict[str, Any]] = {}

    def week(key: datetime) -> dict[str, Any]:
        return weeks.setdefault(_week_key(key), {
            "created": 0, "frt_mean": None, "resolved": 0, "fcr": 0, "reopened": 0,
            "tracked": 0, "handle_total": None, "responses": 0, "satisfied": 0})

    for source in (created, resolved, surveys):
        for r in source:
            week(r.pop("week")).update(r)
    out = []
    for key in sorted(weeks):
        row = _quality(weeks[key])
        year, number, _ = key.isocalendar()
        row.update(week=key, label=f"{year}-W{number:02d}",
                   csat=percent(row["satisfied"], row["responses"]))
        out.append(row)
    return out


def team_health(filters: MetricFilters, *, user: User,
                now: datetime | None = None) -> list[dict[str, Any]]:
    """Queue health per team: open tickets now and their mean age, tickets created and
    resolved in the period (net flow = created − resolved). Two GROUP BY queries."""
    now = now or timezone.now()
    open_rows = {r["team"]: r for r in filters.tickets(user)
                 .filter(status__in=OPEN_STATUS_VALUES).values("team", "team__name")
                 .annotate(open=Count("pk"), oldest=Min("created_at"))
                 .order_by("team")}
    flow = {r["team"]: r for r in filters.tickets(user).filter(
        Q(created_at__gte=filters.start, created_at__lt=filters.end)
        | Q(resolved_at__gte=filters.start, resolved_at__lt=filters.end))
        .values("team", "team__name").annotate(
            created=Count("pk", filter=Q(created_at__gte=filters.start,
                                         created_at__lt=filters.end)),
            resolved=Count("pk", filter=Q(resolved_at__gte=filters.start,
                                          resolved_at__lt=filters.end)))
        .order_by("team")}
    out = []
    for team in set(open_rows) | set(flow):
        o = open_rows.get(team, {})
        f = flow.get(team, {})
        name = o.get("team__name") or f.get("team__name") or NO_TEAM
        row = {"team": team, "name": name, "open": o.get("open", 0),
               "oldest_age": (now - o["oldest"]) if o.get("oldest") else None,
               "created": f.get("created", 0), "resolved": f.get("resolved", 0)}
        row["net"] = row["created"] - row["resolved"]
        out.append(row)
    out.sort(key=lambda r: (r["team"] is None, r["name"].lower()))
    return out


# The group of tickets without a team; lazy, so cached figures read in any language.
NO_TEAM = gettext_lazy("No team")

HEALTH_WEIGHTS = (("sla", gettext_lazy("SLA %"), 0.30), ("csat", gettext_lazy("CSAT %"), 0.30),
                  ("fcr", gettext_lazy("FCR %"), 0.20),
                  ("backlog", gettext_lazy("Backlog score"), 0.20))


def backlog_score(start: int, end: int) -> float:
    """100 − growth penalty: the backlog's growth over the period in % of where it started
    (0 when it shrank, capped at 100). An empty start counts any growth as 100 %."""
    if end <= start:
        return 100.0
    growth = 100.0 if start == 0 else 100 * (end - start) / start
    return round(max(0.0, 100 - min(growth, 100.0)), 1)


def health_score(*, sla: float | None, csat: float | None, fcr: float | None,
                 backlog: float | None) -> dict[str, Any]:
    """Support health score = Σ weight × component ÷ Σ weights of the components that have a
    value (SLA 30 %, CSAT 30 %, FCR 20 %, backlog score 20 %); None when none has."""
    values = {"sla": sla, "csat": csat, "fcr": fcr, "backlog": backlog}
    parts, total, weights = [], 0.0, 0.0
    for key, label, weight in HEALTH_WEIGHTS:
        value = values[key]
        parts.append({"key": key, "label": label, "weight": weight, "value": value,
                      "points": None if value is None else round(weight * value, 1)})
        if value is not None:
            total += weight * value
            weights += weight
    return {"score": round(total / weights, 1) if weights else None, "parts": parts,
            "weights_used": round(weights, 2)}


# --- what the hourly rollup can serve (the figures: rollups.manager_from_rollup) -------------


def rollup_eligible(filters: MetricFilters, user: User) -> bool:
    """The rollup holds figures per hour and team only: it serves a user who sees every
    ticket, filtered by period and team; any other filter is computed live."""
    return bool(user.is_active and user.sees_all_tickets and not (
        filters.agent_id or filters.tier or filters.priority or filters.channel
        or filters.category_id))


def active_agents(filters: MetricFilters) -> int:
    """Distinct assignees of the tickets resolved in the period: one indexed probe
    (assignee, resolved_at) per staff account instead of a scan of the period's tickets.
    Only staff can be assignees, and there are a thousand customers to an agent."""
    from helpdesk.selectors import agent_ids

    resolved = Ticket.objects.filter(assignee=OuterRef("pk"), resolved_at__gte=filters.start,
                                     resolved_at__lt=filters.end)
    if filters.team_id:
        resolved = resolved.filter(team_id=filters.team_id)
    return User.objects.filter(pk__in=agent_ids()).filter(Exists(resolved)).count()


def _productivity(filters: MetricFilters, resolved: int, agents: int) -> dict[str, Any]:
    zone = timezone.get_current_timezone()
    days = working_days(timezone.localtime(filters.start, zone).date(),
                        timezone.localtime(filters.end, zone).date() - timedelta(days=1))
    capacity = agents * days
    return {"resolved": resolved, "agents": agents, "working_days": days,
            "per_agent_day": round(resolved / capacity, 2) if capacity else None}


def medians(filters: MetricFilters, *, user: User, now: datetime,
            only: tuple[str, ...] = ("frt", "ttr", "backlog_age")) -> dict[str, Any]:
    """The three medians of the manager dashboard (first response, resolution, backlog age),
    or those named in `only`: not additive, so computed from the tickets themselves."""
    # Only the medians: the counts and means beside them on the other cards come from the
    # rollup, and each would be another pass over 90 days of tickets.
    age = ExpressionWrapper(Value(now) - F("created_at"), output_field=DurationField())
    compute = {
        "frt": lambda: median(filters.created(user).filter(first_response_at__isnull=False),
                              _elapsed("first_response_at"), DurationField()),
        "ttr": lambda: median(filters.resolved(user), _elapsed("resolved_at"),
                              DurationField()),
        "backlog_age": lambda: median(
            filters.tickets(user).filter(status__in=OPEN_STATUS_VALUES), age,
            DurationField()),
    }
    return {name: compute[name]() for name in only}
