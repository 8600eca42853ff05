"""Daily duration histograms behind the manager dashboard's medians (models.DurationDay).

A median is not additive, but a histogram is: per UTC day, metric and team, the durations
counted in buckets of one minute below a day and one hour above. A median read from the
buckets is the middle of the bucket holding the middle value, so it is within half a
bucket (plus the second the database rounds to) of the exact median: within a minute
below a day, within an hour above. Days wholly inside the period and inside the hourly
rollup's covered window come from the rows; the period's edges and the hours not rolled
up yet are bucketed live from the tickets, in the same query shape.

- first response time (`frt`): tickets created that day with a first public agent reply,
  `first_response_at − created_at`;
- time to resolution (`ttr`): tickets resolved that day, `resolved_at − created_at`.

Written by `rollups.refresh` for the UTC days of the hours it recomputes, so the five-minute
sync, the nightly rebuild, `manage.py rebuild_metrics` and the clock-repair hook keep it
current with the hourly rows, and late changes (a reopen, a deleted ticket: see
`rollups.touched_hours` and `handlers`) reach it the same way.

A median is found in two steps: the per-day hour (or day) totals say which coarse bucket
holds the middle rank; only that bucket's fine counts (a list of 60 minutes or 24 hours per
row) are then read. Both steps read a few hundred to a few thousand small rows for 90 days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import NotSupportedError
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    F,
    Func,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDay
from django.utils.translation import gettext_lazy as _

from helpdesk.models import User
from tickets.models import Ticket

from . import metrics
from .models import DurationDay, MetricsRollupState

DAY_SECONDS = 86400
MINUTE_BUCKETS = DAY_SECONDS // 60  # bucket numbers below this are minutes, above hours
METRICS = ("frt", "ttr")
PRECISION = _("Medians from the daily histograms: to the minute below a day, to the hour above.")


class WholeSeconds(Func):
    """Whole seconds from `start` to `end` (two datetime expressions), as an integer."""

    output_field = BigIntegerField()

    def __init__(self, end: Any, start: Any) -> None:
        super().__init__(end, start)

    def _operands(self, compiler: Any) -> tuple[str, str, list[Any]]:
        end, end_params = compiler.compile(self.source_expressions[0])
        start, start_params = compiler.compile(self.source_expressions[1])
        return end, start, [*end_params, *start_params]

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        end, start, params = self._operands(compiler)
        return f"FLOOR(EXTRACT(EPOCH FROM ({end} - {start})))::bigint", params

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        # Django stores "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC; %s gives whole seconds.
        end, start, params = self._operands(compiler)
        return (f"(CAST(strftime('%%s', {end}) AS INTEGER)"
                f" - CAST(strftime('%%s', {start}) AS INTEGER))", params)

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        # The project runs on PostgreSQL and SQLite only (design.md).
        raise NotSupportedError(f"WholeSeconds is not available on {connection.vendor}")


def _bucket(seconds: str) -> Case:
    """The bucket number of a duration in seconds: minutes below a day (0–1439), then hours
    (1440 = one day). Negative durations (clock skew) count as zero."""
    s = F(seconds)
    return Case(
        When(**{f"{seconds}__lt": 0}, then=Value(0)),
        When(**{f"{seconds}__lt": DAY_SECONDS}, then=s / Value(60)),
        default=Value(MINUTE_BUCKETS) + (s - Value(DAY_SECONDS)) / Value(3600),
        output_field=BigIntegerField(),
    )


def split(bucket: int) -> tuple[int, int]:
    """(coarse, fine) of a bucket: below a day the hour (0–23) and the minute in it; above,
    23 + whole days and the hour in that day. Ordered like the bucket numbers."""
    if bucket < MINUTE_BUCKETS:
        return bucket // 60, bucket % 60
    hours = bucket - MINUTE_BUCKETS
    return 24 + hours // 24, hours % 24


def bounds(coarse: int, fine: int) -> tuple[int, int]:
    """Lower bound and width in seconds of the bucket (coarse, fine)."""
    if coarse < 24:
        return coarse * 3600 + fine * 60, 60
    return DAY_SECONDS + ((coarse - 24) * 24 + fine) * 3600, 3600


def _source(metric: str, tickets: QuerySet[Ticket]) -> tuple[str, QuerySet[Ticket]]:
    """The moment a duration is counted at, and the tickets that have one."""
    if metric == "frt":
        return "created_at", tickets.filter(first_response_at__isnull=False).annotate(
            _s=WholeSeconds(F("first_response_at"), F("created_at"))
        )
    return "resolved_at", tickets.filter(resolved_at__isnull=False).annotate(
        _s=WholeSeconds(F("resolved_at"), F("created_at"))
    )


def _in(field: str, ranges: list[tuple[datetime, datetime]]) -> Q:
    q = Q()
    for start, end in ranges:
        q |= Q(**{f"{field}__gte": start, f"{field}__lt": end})
    return q


# --- writing ------------------------------------------------------------------------------


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _day_ranges(days: Iterable[date]) -> list[tuple[datetime, datetime]]:
    ranges: list[tuple[datetime, datetime]] = []
    for day in sorted(set(days)):
        start = day_start(day)
        if ranges and ranges[-1][1] == start:
            ranges[-1] = (ranges[-1][0], start + timedelta(days=1))
        else:
            ranges.append((start, start + timedelta(days=1)))
    return ranges


def compute_days(days: Iterable[date]) -> list[DurationDay]:
    """The rows of `days` (UTC dates), from the tickets: one GROUP BY (day, team, bucket)
    per metric."""
    ranges = _day_ranges(days)
    if not ranges:
        return []
    rows: dict[tuple[str, date, int, int], list[int]] = {}
    for metric in METRICS:
        field, qs = _source(metric, Ticket.objects.all())
        grouped = (
            qs.filter(_in(field, ranges))
            .annotate(_d=TruncDay(field, tzinfo=UTC), _b=_bucket("_s"))
            .values("_d", "team_id", "_b")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for r in grouped:
            coarse, fine = split(r["_b"])
            key = (metric, r["_d"].astimezone(UTC).date(), r["team_id"] or 0, coarse)
            counts = rows.setdefault(key, [0] * (60 if coarse < 24 else 24))
            counts[fine] += r["n"]
    return [
        DurationDay(metric=m, day=d, team_id=team, coarse=coarse, n=sum(counts), fine=_trim(counts))
        for (m, d, team, coarse), counts in sorted(rows.items())
    ]


def _trim(counts: list[int]) -> list[int]:
    while counts and not counts[-1]:
        counts.pop()
    return counts


def refresh_days(days: Iterable[date]) -> int:
    """Recompute and store the rows of `days` (call inside the hourly refresh's
    transaction). Returns rows written."""
    days = sorted(set(days))
    if not days:
        return 0
    rows = compute_days(days)
    DurationDay.objects.filter(day__in=days).delete()
    DurationDay.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


# --- reading ------------------------------------------------------------------------------


def stored_days(
    start: datetime, end: datetime, state: MetricsRollupState | None
) -> tuple[date, date] | None:
    """The UTC days [first, last) wholly inside [start, end) and inside the rollup's covered
    hours, or None when there are none."""
    if state is None or state.covered_from is None or state.covered_to is None:
        return None
    lo, hi = max(start, state.covered_from), min(end, state.covered_to)
    first = lo.astimezone(UTC).date()
    if day_start(first) < lo:
        first += timedelta(days=1)
    last = hi.astimezone(UTC).date()
    return (first, last) if first < last else None


class Histogram:
    """One metric's durations over a period: stored days plus live edges."""

    def __init__(
        self,
        metric: str,
        tickets: QuerySet[Ticket],
        start: datetime,
        end: datetime,
        days: tuple[date, date] | None,
        team_id: int | None,
    ) -> None:
        self.metric, self.team_id, self.days = metric, team_id, days
        field, qs = _source(metric, tickets)
        live = [(start, end)]
        if days is not None:
            live = [(start, day_start(days[0])), (day_start(days[1]), end)]
        live = [(a, b) for a, b in live if a < b]
        self.live: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        if live:
            for r in (
                qs.filter(_in(field, live))
                .annotate(_b=_bucket("_s"))
                .values("_b")
                .annotate(n=Count("pk"))
                .order_by()
            ):
                coarse, fine = split(r["_b"])
                self.live[coarse][fine] += r["n"]

    def _stored(self) -> QuerySet[DurationDay]:
        assert self.days is not None
        qs = DurationDay.objects.filter(
            metric=self.metric, day__gte=self.days[0], day__lt=self.days[1]
        )
        return qs.filter(team_id=self.team_id) if self.team_id else qs

    def coarse(self) -> dict[int, int]:
        totals: dict[int, int] = defaultdict(int)
        if self.days is not None:
            for c, n in (
                self._stored()
                .values("coarse")
                .annotate(t=Sum("n"))
                .values_list("coarse", "t")
                .order_by()
            ):
                totals[c] += n
        for c, fine in self.live.items():
            totals[c] += sum(fine.values())
        return totals

    def fine(self, coarse: int) -> dict[int, int]:
        counts: dict[int, int] = defaultdict(int)
        if self.days is not None:
            for row in self._stored().filter(coarse=coarse).values_list("fine", flat=True):
                for i, n in enumerate(row):
                    counts[i] += n
        for i, n in self.live.get(coarse, {}).items():
            counts[i] += n
        return counts

    def median(self) -> timedelta | None:
        """The middle of the bucket holding each middle rank (two for an even count)."""
        totals = self.coarse()
        n = sum(totals.values())
        if not n:
            return None
        estimates = []
        fine_cache: dict[int, dict[int, int]] = {}
        for rank in sorted({(n - 1) // 2, n // 2}):
            below = 0
            for c in sorted(totals):
                if below + totals[c] > rank:
                    break
                below += totals[c]
            fine = fine_cache.setdefault(c, self.fine(c))
            for f in sorted(fine):
                if below + fine[f] > rank:
                    break
                below += fine[f]
            lower, width = bounds(c, f)
            estimates.append(lower + width / 2)
        return timedelta(seconds=sum(estimates) / len(estimates))


def medians(filters: metrics.MetricFilters, *, user: User, now: datetime) -> dict[str, Any] | None:
    """The manager dashboard's three medians with first response and resolution from the
    histograms (backlog age stays exact: it is a median over the open tickets now). None
    when the histograms cannot serve these filters (the hourly rollup's filters)."""
    if not metrics.rollup_eligible(filters, user):
        return None
    state = MetricsRollupState.objects.filter(pk=1).first()
    if state is None or state.covered_from is None or filters.start < state.covered_from:
        return None
    days = stored_days(filters.start, filters.end, state)
    exact = metrics.medians(filters, user=user, now=now, only=("backlog_age",))
    tickets = filters.tickets(user)
    return {
        "frt": Histogram(
            "frt", tickets, filters.start, filters.end, days, filters.team_id
        ).median(),
        "ttr": Histogram(
            "ttr", tickets, filters.start, filters.end, days, filters.team_id
        ).median(),
        "backlog_age": exact["backlog_age"],
        "precision": True,
    }
