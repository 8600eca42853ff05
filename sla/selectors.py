"""Reads shared by the SLA pages and API: clocks near breach, compliance figures, paused time.

Every figure is aggregated by the database (COUNT ... FILTER, AVG of durations) over
clocks chosen by an indexed range on `started_at`; nothing here loops over clocks.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Avg,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from helpdesk import formats as display
from helpdesk.models import SupportTier, User
from tickets.models import OPEN_STATUS_VALUES, Channel, Priority, Ticket
from tickets.selectors import visible_tickets

from .calendar import BusinessCalendar
from .models import (
    Clock,
    ClockEvent,
    ClockLevelFire,
    ClockPause,
    ClockState,
    Level,
    LevelColour,
    Metric,
)

SEVERE_PERCENT = 200
COUNTING_STATES = (ClockState.RUNNING, ClockState.BREACHED)


def _visible(qs: QuerySet, user: User, *, prefix: str = "ticket") -> QuerySet:
    """Narrow rows about tickets to those `user` may see (tickets.selectors decides)."""
    if user.is_authenticated and user.is_active and user.sees_all_tickets:
        return qs  # everything: no "IN (SELECT every ticket)" for managers
    return qs.filter(**{f"{prefix}__in": visible_tickets(user).values("pk")})


# --- the colour of a clock ----------------------------------------------------------------

def with_level(qs: QuerySet[Clock]) -> QuerySet[Clock]:
    """Annotate `level`: the colour of the highest level the clock has fired ('' if none),
    read as sla.services.sync_ticket reads it for the ticket's `sla_level`."""
    highest_fired = (ClockLevelFire.objects.filter(clock=OuterRef(OuterRef("pk")))
                     .order_by("-percent").values("percent")[:1])
    colour = (Level.objects.filter(policy=OuterRef("policy_id"),
                                   percent__lte=Subquery(highest_fired))
              .order_by("-percent").values("colour")[:1])
    return qs.annotate(level=Coalesce(Subquery(colour), Value("")))


def display_level(level: str, due_at: datetime | None, *, now: datetime,
                  counting: bool = True) -> str:
    """The colour to show for a counting clock: its fired level, or "breach" once overdue
    when the escalation job has not fired that level yet. A stopped clock has none."""
    if not counting:
        return ""
    if not level and due_at is not None and due_at <= now:
        return LevelColour.BREACH
    return level


# --- approaching breach -------------------------------------------------------------------

def approaching_breach(user: User, *, within: timedelta = timedelta(hours=1), team: Any = None,
                       at: datetime | None = None) -> QuerySet[Clock]:
    """Counting clocks due within `within` of now, or already overdue and not completed,
    on tickets `user` can see; most urgent first. One query (plus a COUNT when paged)."""
    at = at or timezone.now()
    horizon = at + within
    # The partial index `clock_counting_due` holds exactly the counting clocks in due
    # order: the page is a walk of its first rows. (A condition on the ticket's
    # sla_due_at, the same moment denormalised, made PostgreSQL misjudge the join and
    # sort every overdue clock.)
    qs = Clock.objects.filter(
        completed_at__isnull=True, state__in=COUNTING_STATES,
        due_at__isnull=False, due_at__lte=horizon,
        ticket__status__in=OPEN_STATUS_VALUES,
    )
    qs = _visible(qs, user)
    if team is not None:
        qs = qs.filter(ticket__team=team)
    return with_level(qs).select_related(
        "ticket", "ticket__team", "ticket__assignee", "ticket__organization",
        "ticket__requester", "policy",
    ).order_by("due_at", "pk")


# --- one ticket -------------------------------------------------------------------------------

def _calendar_of(clock: Clock, cache: dict[int | None, BusinessCalendar]) -> BusinessCalendar:
    if clock.calendar_id not in cache:
        cache[clock.calendar_id] = (clock.calendar.business_calendar() if clock.calendar_id
                                    else BusinessCalendar.always())
    return cache[clock.calendar_id]


def business_used_at(clock: Clock, at: datetime,
                     calendars: dict[int | None, BusinessCalendar] | None = None) -> timedelta:
    """Business time the clock has used by `at`, counting its open running segment."""
    used = clock.business_used or timedelta(0)
    if (clock.completed_at is None and clock.state in COUNTING_STATES
            and clock.segment_started_at is not None and clock.segment_started_at < at):
        calendar = _calendar_of(clock, {} if calendars is None else calendars)
        used += calendar.elapsed(clock.segment_started_at, at)
    return used


def human_duration(value: timedelta | None) -> str:
    """Business durations in hours and minutes ("40 h", "1 h 5 min", "42 min"): business
    days are not 24 hours long, so days would mislead."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    if value > timedelta(0) and minutes == 0:
        return _("< 1 min")
    hours, minutes = divmod(minutes, 60)
    hours_text = display.number(hours)  # "1,250 h" / "1.250 h" over weeks of backlog
    if hours and minutes:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours_text, "minutes": minutes}
    if hours:
        return _("%(hours)s h") % {"hours": hours_text}
    return _("%(minutes)s min") % {"minutes": minutes}


def add_live_figures(clocks: list[Clock], *, now: datetime) -> list[Clock]:
    """Give each clock its live figures for display: business time used now (and as
    text and percent of target), whether it is counting, and the colour to show."""
    calendars: dict[int | None, BusinessCalendar] = {}
    for clock in clocks:
        clock.used_now = business_used_at(clock, now, calendars)
        target = clock.target.total_seconds() if clock.target else 0
        used = clock.used_now.total_seconds()
        clock.used_percent = round(100 * used / target) if target else None
        clock.used_text = human_duration(clock.used_now)
        clock.target_text = human_duration(clock.target)
        clock.internal_target_text = human_duration(clock.internal_target)
        counting = clock.completed_at is None and clock.state in COUNTING_STATES
        clock.counting = counting
        clock.display_level = display_level(getattr(clock, "level", ""), clock.due_at, now=now,
                                            counting=counting)
    return clocks


def ticket_clocks(ticket: Ticket, *, now: datetime | None = None) -> list[Clock]:
    """The ticket's clocks (every metric and cycle) with their live figures."""
    now = now or timezone.now()
    clocks = list(with_level(Clock.objects.filter(ticket=ticket))
                  .select_related("policy", "calendar").order_by("metric", "cycle", "pk"))
    return add_live_figures(clocks, now=now)


def ticket_clock_events(ticket: Ticket, *, limit: int = 200) -> QuerySet[ClockEvent]:
    """The ticket's SLA audit trail, oldest first (the last `limit` entries)."""
    newest = (ClockEvent.objects.filter(ticket=ticket).order_by("-at", "-id")
              .values("pk")[:limit])
    return (ClockEvent.objects.filter(pk__in=Subquery(newest))
            .select_related("actor", "clock").order_by("at", "id"))


# --- dashboard --------------------------------------------------------------------------------

@dataclass(frozen=True)
class DashboardFilters:
    """Clocks started in [start, end), optionally narrowed by ticket fields."""

    start: datetime
    end: datetime
    team_id: int | None = None
    tier: str = ""
    priority: int | None = None
    channel: str = ""
    # Only these parts of the period, when given (sla.rollup reads the rest elsewhere).
    parts: tuple[tuple[datetime, datetime], ...] = ()

    def clocks(self, user: User) -> QuerySet[Clock]:
        return self.apply(Clock.objects.all(), user)

    def apply(self, qs: QuerySet, user: User) -> QuerySet:
        """Rows (clocks or pauses) started in the period, of matching visible tickets."""
        qs = qs.filter(started_at__gte=self.start, started_at__lt=self.end)
        if self.parts:
            within = Q()
            for lo, hi in self.parts:
                within |= Q(started_at__gte=lo, started_at__lt=hi)
            qs = qs.filter(within)
        if self.team_id:
            qs = qs.filter(ticket__team_id=self.team_id)
        if self.tier:
            qs = qs.filter(ticket__organization__support_tier=self.tier)
        if self.priority:
            qs = qs.filter(ticket__priority=self.priority)
        if self.channel:
            qs = qs.filter(ticket__channel=self.channel)
        return _visible(qs, user)


# Completed (met or breached; exempt clocks count neither way).
DONE = Q(completed_at__isnull=False, state__in=[ClockState.MET, ClockState.BREACHED])
# A breach: a clock in state breached, or a paused one whose used time reached its target
# (it stays "paused" until it resumes or completes; `breached_at` tells).
BREACHED = (Q(state=ClockState.BREACHED)
            | Q(state=ClockState.PAUSED, breached_at__isnull=False))
# Internal goal met: the used time never reached an internal target the clock had
# (`internal_breached_at`, recorded by sla.services), and, for rows completed before that
# column existed, completed by the internal due time (or, completed while paused, within
# the internal target).
INTERNAL_MET = Q(internal_breached_at__isnull=True) & (
    Q(completed_at__lte=F("internal_due_at"))
    | Q(internal_due_at__isnull=True, business_used__lte=F("internal_target")))


def _figures_sql() -> dict[str, Any]:
    """The aggregate expressions behind every dashboard figure."""
    done = DONE
    met = Q(state=ClockState.MET)
    breached = BREACHED
    internal_met = INTERNAL_MET
    severe = ClockLevelFire.objects.filter(clock=OuterRef("pk"), percent__gte=SEVERE_PERCENT)
    out: dict[str, Any] = {"clocks": Count("pk")}
    for key, metric in (("response", Metric.FIRST_RESPONSE), ("resolution", Metric.RESOLUTION)):
        this = Q(metric=metric) & done
        out[f"{key}_met"] = Count("pk", filter=this & met)
        out[f"{key}_breached"] = Count("pk", filter=this & breached)
        out[f"{key}_internal_met"] = Count("pk", filter=this & internal_met)
        out[f"{key}_avg_used"] = Avg("business_used", filter=this)
        out[f"{key}_avg_target"] = Avg("target", filter=this)
        out[f"{key}_avg_internal_target"] = Avg("internal_target", filter=this)
    out["breaches"] = Count("pk", filter=breached)
    out["severe"] = Count("pk", filter=Q(Exists(severe)) & ~Q(state=ClockState.EXEMPT))
    out["leading_met"] = Count("pk", filter=Q(metric=Metric.FIRST_RESPONSE) & done & met
                               & Q(business_used__lte=F("target") / 2))
    return out


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _finish(raw: dict[str, Any]) -> dict[str, Any]:
    """Add the ratios (computed from the counts the database returned)."""
    row = dict(raw)
    for key in ("response", "resolution"):
        completed = row[f"{key}_met"] + row[f"{key}_breached"]
        row[f"{key}_completed"] = completed
        row[f"{key}_compliance"] = _percent(row[f"{key}_met"], completed)
        row[f"{key}_internal_breached"] = completed - row[f"{key}_internal_met"]
        row[f"{key}_internal_compliance"] = _percent(row[f"{key}_internal_met"], completed)
    row["leading_indicator"] = _percent(row["leading_met"], row["response_completed"])
    return row


def compliance(filters: DashboardFilters, *, user: User) -> dict[str, Any]:
    """Totals of the period: compliance, averages against target, breaches, leading indicator.

    - compliance % = met ÷ (met + breached), over completed clocks (exempt ones excluded);
    - internal compliance % = completed without ever reaching an internal target they had
      ÷ the same completed clocks;
    - averages are of business time used by completed clocks, next to their average target;
    - breaches: clocks in state breached, or paused after reaching their target;
      severe: clocks that fired a 200 % level;
    - leading indicator = met first responses that used ≤ 50 % of their target
      ÷ completed first responses.
    """
    return _finish(filters.clocks(user).aggregate(**_figures_sql()))


@dataclass(frozen=True)
class Dimension:
    label: str  # lower case, to read in a sentence ("by support tier")
    fields: tuple[str, ...]
    name_of: Callable[[dict[str, Any]], str]
    expressions: dict[str, Any] = field(default_factory=dict)
    # Rows come back in the order of `fields`; a key here re-sorts them for reading.
    sort_key: Callable[[dict[str, Any]], Any] | None = None


_TIERS = list(SupportTier.values)
# Group names of the rows without one; lazy, so figures cached in one language read right
# in another (the proxies pickle as such).
NO_TEAM = gettext_lazy("No team")
UNASSIGNED = gettext_lazy("Unassigned")
NO_ORGANIZATION = gettext_lazy("No organization")
SYSTEM = gettext_lazy("System")


def _by_name(row: dict[str, Any]) -> tuple[bool, str]:
    """Alphabetical, with the "nobody" group last."""
    return (row["group"] in (NO_TEAM, UNASSIGNED), str(row["group"]).lower())


def _person(row: dict[str, Any]) -> str:
    if row["ticket__assignee"] is None:
        return UNASSIGNED
    full = f"{row['ticket__assignee__first_name']} {row['ticket__assignee__last_name']}".strip()
    return full or row["ticket__assignee__username"]


def _week(row: dict[str, Any]) -> str:
    year, week, _day = row["week"].isocalendar()
    return f"{year}-W{week:02d}"


DIMENSIONS: dict[str, Dimension] = {
    "tier": Dimension(
        gettext_lazy("support tier"), ("ticket__organization__support_tier",),
        lambda r: (SupportTier(r["ticket__organization__support_tier"]).label
                   if r["ticket__organization__support_tier"] else NO_ORGANIZATION),
        sort_key=lambda r: (_TIERS.index(t) if (t := r["ticket__organization__support_tier"])
                            in _TIERS else len(_TIERS)),
    ),
    "priority": Dimension(gettext_lazy("priority"), ("ticket__priority",),
                          lambda r: Priority(r["ticket__priority"]).label),
    "team": Dimension(gettext_lazy("team"), ("ticket__team", "ticket__team__name"),
                      lambda r: r["ticket__team__name"] or NO_TEAM, sort_key=_by_name),
    "agent": Dimension(
        gettext_lazy("agent (assignee)"),
        ("ticket__assignee", "ticket__assignee__username", "ticket__assignee__first_name",
         "ticket__assignee__last_name"),
        _person, sort_key=_by_name,
    ),
    "channel": Dimension(gettext_lazy("channel"), ("ticket__channel",),
                         lambda r: Channel(r["ticket__channel"]).label),
    "week": Dimension(gettext_lazy("week (ISO 8601, of the clock start)"), ("week",), _week,
                      {"week": TruncWeek("started_at")}),
}


def compliance_by(filters: DashboardFilters, dimension: str, *, user: User
                  ) -> list[dict[str, Any]]:
    """The figures of `compliance`, one row per group of `dimension` (one GROUP BY query)."""
    spec = DIMENSIONS[dimension]
    qs = filters.clocks(user)
    if spec.expressions:
        qs = qs.annotate(**spec.expressions)
    rows = qs.values(*spec.fields).annotate(**_figures_sql()).order_by(*spec.fields)
    out = []
    for raw in rows:
        row = _finish(raw)
        row["group"] = spec.name_of(raw)
        out.append(row)
    if spec.sort_key is not None:
        out.sort(key=spec.sort_key)
    return out


def compliance_by_metric(filters: DashboardFilters, *, user: User) -> list[dict[str, Any]]:
    """Contractual against internal for every metric (next response and updates included)."""
    done = DONE
    rows = (filters.clocks(user).values("metric").annotate(
        clocks=Count("pk"),
        met=Count("pk", filter=done & Q(state=ClockState.MET)),
        breached=Count("pk", filter=done & Q(state=ClockState.BREACHED)),
        internal_met=Count("pk", filter=done & INTERNAL_MET),
        exempt=Count("pk", filter=Q(state=ClockState.EXEMPT)),
        active=Count("pk", filter=Q(completed_at__isnull=True) & ~Q(state=ClockState.EXEMPT)),
        avg_used=Avg("business_used", filter=done),
        avg_target=Avg("target", filter=done),
        avg_internal_target=Avg("internal_target", filter=done),
    ).order_by("metric"))
    order = list(Metric.values)
    out = []
    for raw in sorted(rows, key=lambda r: order.index(r["metric"])):
        row = dict(raw)
        completed = row["met"] + row["breached"]
        row.update(
            label=Metric(row["metric"]).label, completed=completed,
            compliance=_percent(row["met"], completed),
            internal_breached=completed - row["internal_met"],
            internal_compliance=_percent(row["internal_met"], completed),
        )
        out.append(row)
    return out


# --- the dashboard in one pass ----------------------------------------------------------------
#
# `compliance`, `compliance_by_metric` and `compliance_by(..., "week")` each read every clock
# of the period (some 370,000 a month at a million tickets, over a second each). Their
# figures are counts and sums of one clock's metric, so one GROUP BY (group, metric)
# gives the three of them, folded here; averages are sums divided by their counts.

def cell_sql() -> dict[str, Any]:
    done = DONE
    severe = ClockLevelFire.objects.filter(clock=OuterRef("pk"), percent__gte=SEVERE_PERCENT)
    return {
        "clocks": Count("pk"),
        "met": Count("pk", filter=done & Q(state=ClockState.MET)),
        "breached": Count("pk", filter=done & Q(state=ClockState.BREACHED)),
        "internal_met": Count("pk", filter=done & INTERNAL_MET),
        "exempt": Count("pk", filter=Q(state=ClockState.EXEMPT)),
        "active": Count("pk", filter=Q(completed_at__isnull=True)
                        & ~Q(state=ClockState.EXEMPT)),
        "sum_used": Sum("business_used", filter=done),
        "sum_target": Sum("target", filter=done),
        "sum_internal_target": Sum("internal_target", filter=done),
        "breaches": Count("pk", filter=BREACHED),
        "severe": Count("pk", filter=Q(Exists(severe)) & ~Q(state=ClockState.EXEMPT)),
        "leading_met": Count("pk", filter=done & Q(state=ClockState.MET)
                             & Q(business_used__lte=F("target") / 2)),
    }


CELL_COUNTS = ("clocks", "met", "breached", "internal_met", "exempt", "active", "breaches",
                "severe", "leading_met")
CELL_SUMS = ("sum_used", "sum_target", "sum_internal_target")


def _add_cells(cells: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = dict.fromkeys(CELL_COUNTS, 0)
    out.update(dict.fromkeys(CELL_SUMS))
    for cell in cells:
        for name in CELL_COUNTS:
            out[name] += cell[name]
        for name in CELL_SUMS:
            if cell[name] is not None:
                out[name] = cell[name] if out[name] is None else out[name] + cell[name]
    return out


def _mean(total: timedelta | None, n: int) -> timedelta | None:
    return total / n if total is not None and n else None


def _row_of(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of `_figures_sql` (then `_finish`) from the cells of one group."""
    row: dict[str, Any] = {name: sum(c[name] for c in cells)
                           for name in ("clocks", "breaches", "severe")}
    for key, metric in (("response", Metric.FIRST_RESPONSE), ("resolution", Metric.RESOLUTION)):
        m = _add_cells([c for c in cells if c["metric"] == metric])
        completed = m["met"] + m["breached"]
        row.update({f"{key}_met": m["met"], f"{key}_breached": m["breached"],
                    f"{key}_internal_met": m["internal_met"],
                    f"{key}_avg_used": _mean(m["sum_used"], completed),
                    f"{key}_avg_target": _mean(m["sum_target"], completed),
                    f"{key}_avg_internal_target": _mean(m["sum_internal_target"], completed)})
        if metric == Metric.FIRST_RESPONSE:
            row["leading_met"] = m["leading_met"]
    return _finish(row)


def _metric_rows(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`compliance_by_metric` from the cells."""
    out = []
    for metric in Metric.values:
        mine = [c for c in cells if c["metric"] == metric]
        if not mine:
            continue
        m = _add_cells(mine)
        completed = m["met"] + m["breached"]
        out.append({
            "metric": metric, "clocks": m["clocks"], "met": m["met"],
            "breached": m["breached"], "internal_met": m["internal_met"],
            "exempt": m["exempt"], "active": m["active"],
            "avg_used": _mean(m["sum_used"], completed),
            "avg_target": _mean(m["sum_target"], completed),
            "avg_internal_target": _mean(m["sum_internal_target"], completed),
            "label": Metric(metric).label, "completed": completed,
            "compliance": _percent(m["met"], completed),
            "internal_breached": completed - m["internal_met"],
            "internal_compliance": _percent(m["internal_met"], completed),
        })
    return out


def _grouped_rows(cells: list[dict[str, Any]], spec: Dimension) -> list[dict[str, Any]]:
    """`compliance_by` from the cells of (the dimension's fields, metric)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault(tuple(cell[f] for f in spec.fields), []).append(cell)
    out = []
    # In the order of the fields (none last, as PostgreSQL sorts them), then `sort_key`.
    for key in sorted(groups, key=lambda k: tuple((v is None, v) for v in k)):
        row = {**dict(zip(spec.fields, key, strict=True)), **_row_of(groups[key])}
        row["group"] = spec.name_of(row)
        out.append(row)
    if spec.sort_key is not None:
        out.sort(key=spec.sort_key)
    return out


def cells(filters: DashboardFilters, spec: Dimension, user: User) -> list[dict[str, Any]]:
    qs = filters.clocks(user)
    if spec.expressions:
        qs = qs.annotate(**spec.expressions)
    return list(qs.values(*spec.fields, "metric").annotate(**cell_sql()).order_by())


#: Where the cells come from: `cells` (the clocks) or `sla.rollup.cells` (the rollup).
CellSource = Callable[[DashboardFilters, Dimension, User], list[dict[str, Any]]]


def dashboard_figures(filters: DashboardFilters, *, by: str, user: User,
                      source: CellSource | None = None) -> dict[str, Any]:
    """Totals (`compliance`), the per-metric table (`compliance_by_metric`), the chosen
    breakdown and the weekly series (`compliance_by`): one pass over the period's clocks
    for the weekly breakdown, two for any other (or over the rollup's rows: `source`)."""
    source = source or cells
    weekly = source(filters, DIMENSIONS["week"], user)
    chosen = weekly if by == "week" else source(filters, DIMENSIONS[by], user)
    weeks = _grouped_rows(weekly, DIMENSIONS["week"])
    return {
        "totals": _row_of(weekly),
        "by_metric": _metric_rows(weekly),
        "rows": weeks if by == "week" else _grouped_rows(chosen, DIMENSIONS[by]),
        "weeks": weeks,
    }


# --- paused time ------------------------------------------------------------------------------

def _pauses(filters: DashboardFilters, user: User) -> QuerySet[ClockPause]:
    return filters.apply(ClockPause.objects.all(), user)


_PAUSE_FIGURES = {
    "pauses": Count("pk"),
    "ongoing": Count("pk", filter=Q(ended_at__isnull=True)),
    "total": Sum("business_time"),
    "average": Avg("business_time"),
    "tickets": Count("ticket", distinct=True),
}


def paused_time(filters: DashboardFilters, *, user: User, by: str,
                limit: int | None = None) -> list[dict[str, Any]]:
    """Pauses started in the period, grouped by "agent" (who paused), "reason" or both;
    count, business time kept off the clocks (total and average), and still-open pauses.
    Largest total first, so heavy pausing stands out."""
    groups = {
        "agent": ("actor", "actor__username", "actor__first_name", "actor__last_name"),
        "reason": ("reason",),
        "agent_reason": ("actor", "actor__username", "actor__first_name", "actor__last_name",
                         "reason"),
    }[by]
    rows = (_pauses(filters, user).values(*groups).annotate(**_PAUSE_FIGURES)
            .order_by(F("total").desc(nulls_last=True), *groups))
    if limit is not None:
        rows = rows[:limit]
    out = []
    for raw in rows:
        row = dict(raw)
        if "actor" in row:
            if row["actor"] is None:
                row["agent"] = SYSTEM
            else:
                full = f"{row['actor__first_name']} {row['actor__last_name']}".strip()
                row["agent"] = full or row["actor__username"]
        out.append(row)
    return out


def paused_totals(filters: DashboardFilters, *, user: User) -> dict[str, Any]:
    return _pauses(filters, user).aggregate(**_PAUSE_FIGURES)


def _agent_name(row: dict[str, Any], names: dict[int, tuple[str, str, str]]) -> str:
    if row["actor"] is None:
        return SYSTEM
    username, first, last = names.get(row["actor"], ("", "", ""))
    return f"{first} {last}".strip() or username


def paused_report(filters: DashboardFilters, *, user: User, pairs: int) -> dict[str, Any]:
    """The paused-time report (`paused_totals`, then `paused_time` by agent, by reason and
    by both, the first `pairs` of those): on PostgreSQL one pass over the period's pauses
    (GROUPING SETS: distinct tickets do not add up across groups, so the four figures
    cannot be summed from one grouping), elsewhere four queries."""
    if connection.vendor != "postgresql":
        return {
            "totals": paused_totals(filters, user=user),
            "by_agent": paused_time(filters, user=user, by="agent"),
            "by_reason": paused_time(filters, user=user, by="reason"),
            "by_agent_reason": paused_time(filters, user=user, by="agent_reason", limit=pairs),
        }
    base = _pauses(filters, user).values("actor_id", "reason", "ticket_id", "ended_at",
                                         "business_time")
    sql, params = base.query.sql_with_params()
    with connection.cursor() as cursor:
        # `sql` is Django's own SQL of the filtered pauses, its values in `params`.
        query = (
            "SELECT actor_id, reason, GROUPING(actor_id), GROUPING(reason), COUNT(*),"  # noqa: S608
            " COUNT(*) FILTER (WHERE ended_at IS NULL), SUM(business_time),"
            " AVG(business_time), COUNT(DISTINCT ticket_id)"
            f" FROM ({sql}) AS p"
            " GROUP BY GROUPING SETS ((actor_id, reason), (actor_id), (reason), ())")
        cursor.execute(query, params)
        cells = cursor.fetchall()
    out: dict[str, Any] = {"by_agent": [], "by_reason": [], "by_agent_reason": []}
    for actor, reason, no_actor, no_reason, n, ongoing, total, average, tickets in cells:
        row = {"pauses": n, "ongoing": ongoing, "total": total, "average": average,
               "tickets": tickets}
        if no_actor and no_reason:
            out["totals"] = row
        elif no_reason:
            out["by_agent"].append({"actor": actor, **row})
        elif no_actor:
            out["by_reason"].append({"reason": reason, **row})
        else:
            out["by_agent_reason"].append({"actor": actor, "reason": reason, **row})
    out.setdefault("totals", {"pauses": 0, "ongoing": 0, "total": None, "average": None,
                              "tickets": 0})
    actors = {r["actor"] for r in out["by_agent"] if r["actor"] is not None}
    names = {pk: (username, first, last) for pk, username, first, last in
             User.objects.filter(pk__in=actors).values_list(
                 "pk", "username", "first_name", "last_name")}

    def largest_first(row: dict[str, Any]) -> tuple:
        # As the four-query path orders on PostgreSQL: total descending (none last), then
        # the group (the system's pauses, with no actor, last).
        total = row["total"]
        return (total is None, -(total or timedelta(0)), row.get("actor") is None,
                row.get("actor") or 0, row.get("reason") or "")

    for key in ("by_agent", "by_reason", "by_agent_reason"):
        out[key].sort(key=largest_first)
        if key != "by_reason":
            for row in out[key]:
                row["agent"] = _agent_name(row, names)
    out["by_agent_reason"] = out["by_agent_reason"][:pairs]
    return out


def first_response_due(ticket_id: int) -> datetime | None:
    """The due time of the ticket's running first-response clock (for the customer's
    acknowledgement e-mail, through tickets.deadlines)."""
    return (Clock.objects.filter(ticket_id=ticket_id, metric=Metric.FIRST_RESPONSE,
                                 completed_at__isnull=True, due_at__isnull=False)
            .order_by("-cycle").values_list("due_at", flat=True).first())
