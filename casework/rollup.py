"""The hourly rollup of the casework dashboard (see models.CaseworkHour).

- `compute(ranges)` counts, per opening hour, team and category, what the dashboard
  counts (the conditions of `selectors`: technical, engineering, playbooks, recurring);
- `refresh(hours)` writes those rows; `sync()` (Celery, every five minutes) folds in the
  hours of tickets changed since the last run and the hours casework's own writes marked
  (`mark_ticket`), and moves the window up to the current hour; `rebuild(days)` (nightly,
  after a playbook change, and `manage.py rebuild_casework_rollup`) recomputes a window;
- `dashboard_from_rollup(filters)` gives the dashboard from the rows of the covered hours
  and computes the hours after them live, so nothing is missing.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from helpdesk.bulkload import RowWriter
from helpdesk.models import Team, TeamTier
from tickets.models import Category, Escalation, Ticket

from . import metrics, selectors
from .models import CaseworkHour, CaseworkRollupState, CaseworkStaleHour, Playbook

HOUR = timedelta(hours=1)
TIERS = [tier for tier, _ in TeamTier.choices]
TICKET_MEASURES = ("technical", "resolved", "resolved_without_engineering",
                   "evidence_tickets", "ttfe_seconds", "followed", "recurring",
                   "recurring_followed")
ESCALATION_MEASURES = ("escalations", "returned")
TIER_MEASURES = tuple(f"handled_{t}" for t in TIERS) + tuple(f"escalated_{t}" for t in TIERS)
MEASURES = TICKET_MEASURES + ESCALATION_MEASURES + TIER_MEASURES
Key = tuple[datetime, int, int]
Rows = dict[Key, dict[str, int]]


def floor_hour(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ranges(field: str, ranges: list[tuple[datetime, datetime]]) -> Q:
    q = Q()
    for start, end in ranges:
        q |= Q(**{f"{field}__gte": start, f"{field}__lt": end})
    return q


def _merge(ranges: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _row(rows: Rows, key: Key) -> dict[str, int]:
    return rows.setdefault(key, dict.fromkeys(MEASURES, 0))


def compute(ranges: list[tuple[datetime, datetime]], *, team_id: int | None = None,
            category_id: int | None = None) -> Rows:
    """Counts per (UTC hour opened, team or 0, category or 0) of the tickets opened inside
    `ranges` (hour-aligned [start, end) pairs), narrowed like `selectors.Filters`. Four
    queries, whatever the number of tickets."""
    rows: Rows = {}
    if not ranges:
        return rows
    tickets = Ticket.objects.filter(_ranges("created_at", ranges)).order_by()
    escalations = Escalation.objects.filter(_ranges("ticket__created_at", ranges)).order_by()
    if team_id:
        tickets = tickets.filter(team_id=team_id)
    if category_id:
        tickets = tickets.filter(category_id=category_id)
        escalations = escalations.filter(ticket__category_id=category_id)
    aggregates = selectors.ticket_aggregates()
    aggregates["ttfe_seconds"] = Sum("investigation__first_evidence_seconds")
    for r in (tickets.filter(selectors.technical_q())
              .annotate(h=TruncHour("created_at", tzinfo=UTC))
              .values("h", "team_id", "category_id").annotate(**aggregates)):
        row = _row(rows, (r.pop("h").astimezone(UTC), r.pop("team_id") or 0,
                          r.pop("category_id") or 0))
        for name in TICKET_MEASURES:
            row[name] += r[name] or 0
    by_escalator = escalations.filter(from_team_id=team_id) if team_id else escalations
    for r in (by_escalator.annotate(h=TruncHour("ticket__created_at", tzinfo=UTC))
              .values("h", "from_team_id", "ticket__category_id")
              .annotate(**selectors.ESCALATION_AGGREGATES)):
        row = _row(rows, (r["h"].astimezone(UTC), r["from_team_id"] or 0,
                          r["ticket__category_id"] or 0))
        row["escalations"] += r["escalations"]
        row["returned"] += r["returned"]
    # Tiers, as selectors.escalation_rate_by_tier: held now, or escalated into or out of.
    for r in (tickets.annotate(h=TruncHour("created_at", tzinfo=UTC))
              .values("h", "team_id", "category_id", "team__tier").annotate(n=Count("pk"))):
        if r["team__tier"]:
            _row(rows, (r["h"].astimezone(UTC), r["team_id"] or 0, r["category_id"] or 0))[
                f"handled_{r['team__tier']}"] += r["n"]
    key_of: dict[int, Key] = {}
    own: dict[int, str | None] = {}
    touched: dict[int, set[str]] = defaultdict(set)
    out: dict[int, set[str]] = defaultdict(set)
    for ticket_id, created, team, category, tier, from_tier, to_tier in (
            escalations.filter(ticket__in=tickets).values_list(
                "ticket_id", "ticket__created_at", "ticket__team_id", "ticket__category_id",
                "ticket__team__tier", "from_team__tier", "to_team__tier")):
        key_of[ticket_id] = (floor_hour(created), team or 0, category or 0)
        own[ticket_id] = tier
        for t in (from_tier, to_tier):
            if t:
                touched[ticket_id].add(t)
        if from_tier:
            out[ticket_id].add(from_tier)
    for ticket_id, key in key_of.items():
        row = _row(rows, key)
        for t in touched[ticket_id]:
            if t != own[ticket_id]:
                row[f"handled_{t}"] += 1
        for t in out[ticket_id]:
            row[f"escalated_{t}"] += 1
    return rows


def refresh(hours: list[datetime], *, now: datetime | None = None) -> int:
    """Recompute and store the rows of `hours` (UTC hour starts). Returns rows written."""
    now = now or timezone.now()
    hours = sorted({floor_hour(h) for h in hours})
    if not hours:
        return 0
    ranges = _merge([(h, h + HOUR) for h in hours])
    rows = compute(ranges)
    with transaction.atomic():
        CaseworkHour.objects.filter(_ranges("hour", ranges)).delete()
        RowWriter().write(
            CaseworkHour, ("hour", "team_id", "category_id", *MEASURES, "refreshed_at"),
            [(h, team, category, *(values[m] for m in MEASURES), now)
             for (h, team, category), values in sorted(rows.items())])
    return len(rows)


def _state() -> CaseworkRollupState:
    state = CaseworkRollupState.objects.select_for_update().filter(pk=1).first()
    return state or CaseworkRollupState.objects.create(pk=1)


def rebuild(days: int = 120, *, now: datetime | None = None) -> int:
    """Recompute the last `days` days up to the current hour, a week per transaction."""
    now = now or timezone.now()
    end = floor_hour(now)
    start = end - timedelta(days=days)
    written = 0
    day = start
    while day < end:
        stop = min(day + timedelta(days=7), end)
        written += refresh([day + HOUR * i for i in range(int((stop - day) / HOUR))],
                           now=now)
        day = stop
    with transaction.atomic():
        state = _state()
        state.covered_from, state.covered_to = start, end
        state.synced_at, state.rebuild_requested = now, False
        state.save()
    CaseworkStaleHour.objects.all().delete()
    return written


MAX_HOURS_PER_SYNC = 500


def sync(*, now: datetime | None = None) -> int:
    """Fold in the opening hours of tickets changed since the last run and of the marked
    ones, and extend the window to the current hour (a rebuild when never built, or when
    a playbook changed). Cost follows the hours touched, not the tickets."""
    now = now or timezone.now()
    with transaction.atomic():
        state = _state()
    if state.covered_to is None or state.rebuild_requested:
        days = 120 if state.covered_from is None else max(
            1, (floor_hour(now) - state.covered_from).days)
        return rebuild(days, now=now)
    current = floor_hour(now)
    since = state.synced_at or state.covered_to
    hours = {floor_hour(c) for c in Ticket.objects.filter(
        updated_at__gte=since, updated_at__lt=now).values_list("created_at", flat=True)}
    stale = dict(CaseworkStaleHour.objects.values_list("pk", "hour"))
    hours |= {h.astimezone(UTC) for h in stale.values()}
    hours = {h for h in hours if state.covered_from <= h < current}
    h = state.covered_to
    while h < current:
        hours.add(h)
        h += HOUR
    todo = sorted(hours)
    done = todo[:MAX_HOURS_PER_SYNC]
    written = refresh(done, now=now)
    done_set = set(done)
    CaseworkStaleHour.objects.filter(pk__in=[
        pk for pk, h in stale.items() if h.astimezone(UTC) in done_set
        or not state.covered_from <= h < current]).delete()
    with transaction.atomic():
        state = _state()
        if len(done) == len(todo):
            state.synced_at = now
            state.covered_to = max(state.covered_to, current)
        else:
            state.covered_to = max(state.covered_to, min(current, todo[len(done)]))
        state.save()
    return written


def mark_ticket(ticket: Ticket) -> None:
    """The ticket's casework changed: its opening hour is recomputed by the next sync."""
    CaseworkStaleHour.objects.bulk_create(
        [CaseworkStaleHour(hour=floor_hour(ticket.created_at))], ignore_conflicts=True)


def request_rebuild() -> None:
    """A playbook changed: which tickets are recurring may change for every hour."""
    CaseworkRollupState.objects.filter(pk=1).update(rebuild_requested=True)


# --- reading ---------------------------------------------------------------------------------

def read(f: selectors.Filters) -> Rows | None:
    """Rows per (team, category) over the period: summed by the database for the covered
    hours, computed live for the hours after them. None when the rollup cannot serve the
    period (not built, older than its window, or not on hour boundaries)."""
    state = CaseworkRollupState.objects.filter(pk=1).first()
    if (state is None or state.covered_from is None or state.rebuild_requested
            or f.start < state.covered_from or floor_hour(f.start) != f.start
            or (floor_hour(f.end) != f.end and f.end < state.covered_to)):
        return None
    stored_end = max(f.start, min(f.end, state.covered_to))
    qs = CaseworkHour.objects.filter(hour__gte=f.start, hour__lt=stored_end)
    if f.category_id:
        qs = qs.filter(category_id=f.category_id)
    rows: Rows = {}
    sums = {name: Sum(name) for name in MEASURES}
    for r in qs.values("team_id", "category_id").annotate(**sums).order_by():
        rows[(f.start, r.pop("team_id"), r.pop("category_id"))] = {
            k: v or 0 for k, v in r.items()}
    tail = [(stored_end, f.end)] if stored_end < f.end else []
    for (_h, team, category), values in compute(tail, category_id=f.category_id).items():
        row = _row(rows, (f.start, team, category))
        for name in MEASURES:
            row[name] += values[name]
    return rows


def dashboard_from_rollup(f: selectors.Filters) -> dict[str, Any] | None:
    """The dashboard of `selectors.dashboard` from the rollup rows; None when it cannot."""
    rows = read(f)
    if rows is None:
        return None
    team_names: dict[int | None, str] = dict(Team.objects.values_list("pk", "name"))
    category_names: dict[int | None, str] = dict(Category.objects.values_list("pk", "name"))
    ticket_cells, escalation_cells = [], []
    tiers: dict[str, int] = dict.fromkeys(TIER_MEASURES, 0)
    for (_h, team, category), r in rows.items():
        # A team filter narrows tickets and tiers by the ticket's team, escalations by the
        # escalating team: the same key, as the rows store them.
        if f.team_id and team != f.team_id:
            continue
        if r["technical"]:
            cell = {name: r[name] for name in TICKET_MEASURES}
            cell["ttfe_seconds"] = (r["ttfe_seconds"] / r["evidence_tickets"]
                                    if r["evidence_tickets"] else None)
            ticket_cells.append({"team_id": team or None, "category_id": category or None,
                                 **cell})
        if r["escalations"]:
            escalation_cells.append({"from_team_id": team or None,
                                     "ticket__category_id": category or None,
                                     "escalations": r["escalations"],
                                     "returned": r["returned"]})
        for name in TIER_MEASURES:
            tiers[name] += r[name]
    by_team = selectors.fold(ticket_cells, escalation_cells, "team_id", "from_team_id",
                             team_names)
    by_category = selectors.fold(ticket_cells, escalation_cells, "category_id",
                                 "ticket__category_id", category_names)
    by_tier = []
    for tier, label in TeamTier.choices:
        handled, escalated = tiers[f"handled_{tier}"], tiers[f"escalated_{tier}"]
        share = metrics.rate(escalated, handled)
        by_tier.append({"tier": tier, "label": label, "handled": handled,
                        "escalated": escalated, "rate": share,
                        "rate_text": metrics.percent_text(share)})
    return {
        "totals": selectors.summed(by_team),
        "by_team": by_team,
        "by_category": by_category,
        "by_tier": by_tier,
        "playbooks_drafted": Playbook.objects.filter(
            source_ticket__isnull=False, created_at__gte=f.start, created_at__lt=f.end).count(),
        "from_rollup": True,
    }
