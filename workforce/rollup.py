"""The capacity page's rollups: arrivals per (UTC hour, team, channel) in `ArrivalHour`
and the monthly staffing table's handle-time counts per (UTC day opened, team, priority)
in `HandleDay`.

At a million tickets the capacity page read 8 weeks of a team's tickets for the arrival
history (280,000 rows) and a month of tickets with their time entries for the staffing
table (1.3 to 1.8 s of SQL). Both add up across hours and days, so:

- `arrival_cells(parts)` and `handle_cells(parts)` are the live definitions (the queries
  the page ran), the rollup's rows are the same queries grouped by hour or day as well;
- `refresh(days)` writes the rows of UTC days; `sync()` (Celery, every five minutes)
  recomputes the opening days of the tickets changed since its last run (a team move, a
  resolution, a reopen) and of the marked ones (`CapacityStaleDay`: a time entry logged,
  edited or deleted, a ticket deleted; see `workforce.handlers`), and adds the days that
  ended since; `rebuild(days)` (nightly, `manage.py rebuild_capacity_rollup`, the seed)
  recomputes the whole window;
- `arrivals(...)` and `handle_stats(...)` read the stored days of a period from the rows
  and the rest of it (today, and anything outside the window) live, so nothing is
  missing and nothing is older than the last sync.

`tests/workforce/test_capacity_rollup.py` holds the rollup's figures equal to the live
ones, before and after late changes.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Trunc, TruncDate
from django.utils import timezone

from helpdesk.rollup import DAY, day_of, day_ranges, midnight, sync_days
from tickets.models import Ticket, TimeEntry

from .models import ArrivalHour, CapacityRollupState, CapacityStaleDay, HandleDay

DEFAULT_DAYS = 190
# Changes stamped (updated_at) just before a sync started may commit after it read them:
# each sync looks back this far past its last run.
SYNC_OVERLAP = timedelta(minutes=10)
MAX_DAYS_PER_SYNC = 120
HANDLE_MEASURES = ("tickets", "tracked", "tracked_minutes", "untracked", "untracked_elapsed_us")
Parts = list[tuple[datetime, datetime]]
# (UTC hour, team id or 0, channel) -> tickets
ArrivalCells = dict[tuple[datetime, int, str], int]
# (UTC day or None, team id or 0, priority) -> HANDLE_MEASURES
HandleCells = dict[tuple[date | None, int, int], dict[str, int]]


def _within(field: str, parts: Parts) -> Q:
    q = Q()
    for start, end in parts:
        q |= Q(**{f"{field}__gte": start, f"{field}__lt": end})
    return q


def _microseconds(value: timedelta | int | None) -> int:
    if value is None:
        return 0
    if isinstance(value, timedelta):
        return (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    return int(value)  # some backends return a sum of durations as microseconds


# --- the live definitions -----------------------------------------------------------------

def _team_channel(team: int | None, channels: Iterable[str] | None) -> Q:
    q = Q()
    if team is not None:
        q &= Q(team_id=team)
    if channels is not None:
        q &= Q(channel__in=list(channels))
    return q


def arrival_cells(parts: Parts, *, team: int | None = None,
                  channels: Iterable[str] | None = None) -> ArrivalCells:
    """Tickets opened per (UTC hour, team, channel) inside `parts` ([start, end) pairs).
    One query; with a team, an index-only scan of (team, created_at) INCLUDE (channel)."""
    if not parts:
        return {}
    rows = (Ticket.objects.filter(_within("created_at", parts), _team_channel(team, channels))
            .annotate(hour=Trunc("created_at", "hour", tzinfo=UTC))
            .values("hour", "team_id", "channel")
            # COUNT(*), not COUNT(id): the covering index answers it alone.
            .annotate(n=Count("*")).order_by()
            .values_list("hour", "team_id", "channel", "n"))
    return {(hour.astimezone(UTC), team_id or 0, channel): n
            for hour, team_id, channel, n in rows}


def _elapsed() -> ExpressionWrapper:
    return ExpressionWrapper(F("resolved_at") - F("created_at"), output_field=DurationField())


def handle_cells(parts: Parts, *, by_day: bool = False) -> HandleCells:
    """What the monthly staffing table counts of the tickets opened inside `parts`, per
    (UTC day opened when `by_day`, else None; team; priority): tickets, and of the
    resolved ones those with logged minutes (and the minutes) and those without (and their
    elapsed time). Two queries."""
    cells: HandleCells = {}
    if not parts:
        return cells

    def cell(day: date | None, team_id: int | None, priority: int) -> dict[str, int]:
        return cells.setdefault((day, team_id or 0, priority), dict.fromkeys(HANDLE_MEASURES, 0))

    tickets = Ticket.objects.filter(_within("created_at", parts)).order_by()
    has_time = Exists(TimeEntry.objects.filter(ticket_id=OuterRef("pk"), minutes__isnull=False))
    untracked = Q(resolved_at__isnull=False) & ~Q(has_time)
    stats = tickets
    group = ["team_id", "priority"]
    if by_day:
        stats = stats.annotate(day=TruncDate("created_at", tzinfo=UTC))
        group.append("day")
    for r in stats.values(*group).annotate(
            n=Count("id"), untracked_n=Count("id", filter=untracked),
            elapsed=Sum(_elapsed(), filter=untracked)).order_by():
        c = cell(r.get("day"), r["team_id"], r["priority"])
        c["tickets"] += r["n"]
        c["untracked"] += r["untracked_n"]
        c["untracked_elapsed_us"] += _microseconds(r["elapsed"])
    logged = TimeEntry.objects.filter(ticket__in=tickets.filter(resolved_at__isnull=False),
                                      minutes__isnull=False)
    group = ["ticket__team_id", "ticket__priority"]
    if by_day:
        logged = logged.annotate(day=TruncDate("ticket__created_at", tzinfo=UTC))
        group.append("day")
    for r in logged.values(*group).annotate(
            minutes=Sum("minutes"), with_time=Count("ticket_id", distinct=True)).order_by():
        c = cell(r.get("day"), r["ticket__team_id"], r["ticket__priority"])
        c["tracked"] += r["with_time"]
        c["tracked_minutes"] += r["minutes"] or 0
    return cells


# --- writing ------------------------------------------------------------------------------

def _state() -> CapacityRollupState:
    state = CapacityRollupState.objects.select_for_update().filter(pk=1).first()
    return state or CapacityRollupState.objects.create(pk=1)


def refresh(days: Iterable[date]) -> int:
    """Recompute and store the rows of the UTC `days`; returns rows written. Runs under
    the state row's lock, so two refreshes never interleave their delete and insert."""
    written = 0
    for first, after in day_ranges(days):
        parts = [(midnight(first), midnight(after))]
        with transaction.atomic():
            _state()
            arrivals = [ArrivalHour(hour=hour, team_id=team, channel=channel, tickets=n)
                        for (hour, team, channel), n in arrival_cells(parts).items()]
            handle = [HandleDay(day=day, team_id=team, priority=priority, **values)
                      for (day, team, priority), values in handle_cells(parts, by_day=True).items()]
            ArrivalHour.objects.filter(hour__gte=parts[0][0], hour__lt=parts[0][1]).delete()
            HandleDay.objects.filter(day__gte=first, day__lt=after).delete()
            ArrivalHour.objects.bulk_create(arrivals, batch_size=2000)
            HandleDay.objects.bulk_create(handle, batch_size=2000)
            written += len(arrivals) + len(handle)
    return written


def rebuild(days: int = DEFAULT_DAYS, *, now: datetime | None = None) -> int:
    """Recompute the last `days` UTC days before today, a week per transaction; returns
    rows written. Also what catches anything a sync could not see."""
    now = now or timezone.now()
    end = day_of(now)
    start = end - timedelta(days=days)
    # The marks made before the rebuild are folded in by it; later ones wait for a sync.
    marked = list(CapacityStaleDay.objects.values_list("pk", flat=True))
    written = 0
    day = start
    while day < end:
        stop = min(day + timedelta(days=7), end)
        written += refresh(day + DAY * i for i in range((stop - day).days))
        day = stop
    with transaction.atomic():
        state = _state()
        ArrivalHour.objects.filter(Q(hour__lt=midnight(start)) | Q(hour__gte=midnight(end))
                                   ).delete()
        HandleDay.objects.filter(Q(day__lt=start) | Q(day__gte=end)).delete()
        state.covered_from, state.covered_to = start, end
        state.synced_at = state.rebuilt_at = now
        state.save()
    CapacityStaleDay.objects.filter(pk__in=marked).delete()
    return written


def touched_days(since: datetime) -> set[date]:
    """Opening days of the tickets changed since `since` (moved team, reprioritised,
    resolved, reopened: `updated_at` is indexed)."""
    return set(Ticket.objects.filter(updated_at__gte=since)
               .annotate(day=TruncDate("created_at", tzinfo=UTC))
               .values_list("day", flat=True).distinct().order_by())


def sync(*, now: datetime | None = None) -> int:
    """Fold recent changes into the rollup and extend it to yesterday (UTC); a rebuild
    when it was never built. Cost follows the days touched, not the tickets."""
    now = now or timezone.now()
    with transaction.atomic():
        state = _state()
        since, covered_from, covered_to = state.synced_at, state.covered_from, state.covered_to
    if covered_from is None or covered_to is None or since is None:
        return rebuild(now=now)
    today = day_of(now)
    stale = dict(CapacityStaleDay.objects.values_list("pk", "day"))
    todo = sync_days(touched_days(since - SYNC_OVERLAP) | set(stale.values()),
                     covered_from, covered_to, today)
    done = todo[:MAX_DAYS_PER_SYNC]
    written = refresh(done)
    done_set = set(done)
    # Days outside the window are read live: their marks are of no use.
    CapacityStaleDay.objects.filter(pk__in=[
        pk for pk, day in stale.items()
        if day in done_set or not covered_from <= day < today]).delete()
    with transaction.atomic():
        state = _state()
        if len(done) == len(todo):
            state.synced_at = now
            state.covered_to = max(state.covered_to, today)
        else:  # resume from the oldest day not done; nothing is skipped
            state.covered_to = max(state.covered_to, min(today, todo[len(done)]))
        state.save()
    return written


def mark_days(moments: Iterable[datetime]) -> None:
    """The tickets opened at `moments` changed in a way `sync` cannot find by itself:
    their days are recomputed by the next sync."""
    days = {day_of(m) for m in moments}
    if days:
        CapacityStaleDay.objects.bulk_create([CapacityStaleDay(day=d) for d in sorted(days)],
                                             ignore_conflicts=True)


# --- reading ------------------------------------------------------------------------------

def _split(start: datetime, end: datetime) -> tuple[tuple[date, date] | None, Parts]:
    """The stored UTC days wholly inside [start, end), and the rest of the period."""
    state = CapacityRollupState.objects.filter(pk=1).first()
    if state is None or state.covered_from is None or state.covered_to is None:
        return None, [(start, end)] if start < end else []
    first = max(state.covered_from, day_of(start))
    if midnight(first) < start:
        first += DAY
    after = min(state.covered_to, day_of(end))
    if after <= first:
        return None, [(start, end)] if start < end else []
    lo, hi = midnight(first), midnight(after)
    live = [(a, b) for a, b in ((start, lo), (hi, end)) if a < b]
    return (first, after), live


def arrivals(start: datetime, end: datetime, *, team: int | None = None,
             channels: Iterable[str] | None = None, queued: Iterable[str] | None = None
             ) -> list[tuple[datetime, bool | None, int]]:
    """(UTC hour, group, tickets) opened in [start, end), for one team or all, one set of
    channels or all: the stored days from `ArrivalHour`, the rest live. The group is
    whether the channel is one of `queued` when it is given, else None (all channels
    summed): the database adds the channels up, so 8 weeks are 1,344 or 2,688 rows."""
    channels = list(channels) if channels is not None else None
    queued = list(queued) if queued is not None else None
    stored, live = _split(start, end)
    out: list[tuple[datetime, bool | None, int]] = []
    if stored:
        qs = ArrivalHour.objects.filter(hour__gte=midnight(stored[0]),
                                        hour__lt=midnight(stored[1]))
        if team is not None:
            qs = qs.filter(team_id=team)
        if channels is not None:
            qs = qs.filter(channel__in=channels)
        group = Value(None, output_field=BooleanField())
        if queued is not None:
            group = Case(When(channel__in=queued, then=Value(True)), default=Value(False),
                         output_field=BooleanField())
        out += [(hour.astimezone(UTC), grouped, n) for hour, grouped, n in
                qs.annotate(grouped=group).values("hour", "grouped")
                .annotate(n=Sum("tickets")).order_by().values_list("hour", "grouped", "n")]
    out += [(hour, channel in queued if queued is not None else None, n)
            for (hour, _team, channel), n in
            arrival_cells(live, team=team, channels=channels).items()]
    return out


def handle_stats(start: datetime, end: datetime) -> dict[tuple[int, int], dict[str, int]]:
    """`handle_cells` of the tickets opened in [start, end) per (team or 0, priority):
    the stored days summed from `HandleDay`, the rest live."""
    stored, live = _split(start, end)
    out: dict[tuple[int, int], dict[str, int]] = {}
    if stored:
        for r in (HandleDay.objects.filter(day__gte=stored[0], day__lt=stored[1])
                  .values("team_id", "priority")
                  .annotate(**{m: Sum(m) for m in HANDLE_MEASURES}).order_by()):
            out[(r["team_id"], r["priority"])] = {m: r[m] or 0 for m in HANDLE_MEASURES}
    for (_day, team, priority), values in handle_cells(live).items():
        row = out.setdefault((team, priority), dict.fromkeys(HANDLE_MEASURES, 0))
        for m in HANDLE_MEASURES:
            row[m] += values[m]
    return out
