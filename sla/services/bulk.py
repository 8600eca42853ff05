"""Clocks for many tickets at once: what `reevaluate` does to a ticket without clocks, in
batches, for an import or a backfill of thousands of open tickets.

The transitions are the very ones the per-ticket services run (`ClockWork.backfill`,
`apply_pausing`: targets, waits replayed as pauses, breaches, a first response already
given); only the storage differs. The inputs (tickets, tags, status history, agent
replies, targets, levels) are read once per batch; rows stay in memory while its tickets
are evaluated and are then written table by table (COPY on PostgreSQL, bulk_create
elsewhere), and the tickets' denormalised `sla_due_at` / `sla_level` are computed as
`sync_ticket` computes them and written in one bulk update.
tests/sla/test_bulk_start.py holds the two paths equal, field by field.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from helpdesk.bulkload import RowWriter
from tickets.models import EventKind, Message, Ticket, TicketEvent

from .. import clocks as arith
from ..models import (
    ACTIVE_STATES,
    Clock,
    ClockEvent,
    ClockEventKind,
    ClockLevelFire,
    ClockPause,
    ClockState,
    Level,
    Policy,
)
from ..policies import ResolvedTarget, TargetBook, active_policies, match_policy
from .reevaluation import reevaluate
from .work import ClockWork

#: Tickets evaluated (and their rows written) per batch.
BATCH = 1000
#: Rows per INSERT where bulk_create writes them.
IN_BATCH = 500

History = list[tuple[datetime, str, str, int | None]]


def _chunks(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(ids), size):
        yield list(ids[i:i + size])


@dataclass(frozen=True)
class PassedLevels:
    """Levels due before `until` are recorded as fired, and nobody is told: for clocks of
    history brought in from elsewhere (an import). Each gets its `ClockLevelFire` row, so
    the escalation job never fires it, and a "level" event whose reason ends with `note`
    and whose data holds `data` too. A running clock due by then is breached first, as
    `mark_breached(clock, at=until)` records it."""

    until: datetime
    note: str
    data: dict[str, Any] = field(default_factory=dict)


class _Rows:
    """The rows a batch produces, in the order the per-ticket services would write them."""

    def __init__(self) -> None:
        self.clocks: list[Clock] = []
        self.events: list[ClockEvent] = []
        self.pauses: dict[int, list[ClockPause]] = defaultdict(list)  # by id(clock)
        self.fires: list[ClockLevelFire] = []
        self.fired: dict[int, int] = {}  # id(clock) -> highest percent fired

    def write(self) -> None:
        pauses = [p for c in self.clocks for p in self.pauses[id(c)]]
        if connection.vendor != "postgresql":
            Clock.objects.bulk_create(self.clocks, batch_size=IN_BATCH)  # gives them ids
            ClockPause.objects.bulk_create(pauses, batch_size=IN_BATCH)
            ClockEvent.objects.bulk_create(self.events, batch_size=IN_BATCH)
            ClockLevelFire.objects.bulk_create(self.fires, batch_size=IN_BATCH)
            return
        # PostgreSQL: COPY, a few times faster than bulk_create's INSERTs for these rows.
        writer = RowWriter()
        # Ids from the table's own sequence, so clocks other processes start meanwhile
        # never collide with these.
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))"
                           " FROM generate_series(1, %s)",
                           [Clock._meta.db_table, len(self.clocks)])
            ids = sorted(pk for (pk,) in cursor.fetchall())
        for clock, pk in zip(self.clocks, ids, strict=True):
            clock.pk = pk
        for row in (*pauses, *self.events, *self.fires):
            row.clock_id = row.clock.pk
        _copy(writer, Clock, self.clocks, with_id=True)
        _copy(writer, ClockPause, pauses)
        _copy(writer, ClockEvent, self.events)
        _copy(writer, ClockLevelFire, self.fires)


def _copy(writer: RowWriter, model: type[models.Model], objs: Sequence[models.Model], *,
          with_id: bool = False) -> None:
    """Write model instances with COPY, every column as bulk_create would save it."""
    if not objs:
        return
    fields = [f for f in model._meta.concrete_fields if with_id or not f.primary_key]
    now = timezone.now()
    prepare = []
    for f in fields:
        if isinstance(f, models.JSONField):
            prepare.append(lambda value, f=f: json.dumps(value, cls=f.encoder))
        elif getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            prepare.append(lambda value: now)
        else:
            prepare.append(None)
    names = [f.attname for f in fields]
    rows = [tuple(fn(getattr(obj, name)) if fn else getattr(obj, name)
                  for name, fn in zip(names, prepare, strict=True)) for obj in objs]
    writer.write(model, tuple(f.column for f in fields), rows)


class _BulkWork(ClockWork):
    """A ClockWork on a ticket without clocks whose rows are kept in `rows`."""

    def __init__(self, ticket: Ticket, *, at: datetime, rows: _Rows, history: History,
                 agent_updates: list[datetime], levels: dict[int | None, list[int]]) -> None:
        super().__init__(ticket.pk, at=at, actor=None, ticket=ticket, clocks=[])
        self.rows = rows
        self.history = history
        self.agent_updates = agent_updates
        self._levels = levels  # shared by the batch: one query per policy

    def save(self, clock: Clock) -> None:
        pass  # written by _Rows.write

    def insert(self, clock: Clock) -> bool:
        self.rows.clocks.append(clock)
        return True

    def fired_percents(self, clock: Clock) -> Iterable[int]:
        return ()  # a clock started here has fired nothing

    def pause_spans(self, clock: Clock) -> list[tuple[datetime, datetime | None]]:
        pauses = sorted(enumerate(self.rows.pauses[id(clock)]),
                        key=lambda ip: (ip[1].started_at, ip[0]))
        return [(p.started_at, p.ended_at) for _, p in pauses]

    def add_pause(self, clock: Clock, *, at: datetime, reason: str,
                  actor_id: int | None) -> None:
        self.rows.pauses[id(clock)].append(ClockPause(
            clock=clock, ticket_id=clock.ticket_id, actor_id=actor_id, reason=reason[:255],
            started_at=at))

    def end_pause(self, clock: Clock, *, at: datetime, business_time: timedelta) -> None:
        for pause in self.rows.pauses[id(clock)]:
            if pause.ended_at is None:
                pause.ended_at, pause.business_time = at, business_time

    def status_history(self, until: datetime) -> History:
        return [row for row in self.history if row[0] <= until]

    def last_agent_update(self) -> datetime | None:
        return max((at for at in self.agent_updates if at <= self.at), default=None)

    def event(self, clock: Clock, kind: str, *, at: datetime | None = None, reason: str = "",
              data: dict[str, Any] | None = None, actor_id: int | None = None) -> None:
        self.rows.events.append(ClockEvent(
            clock=clock, ticket_id=clock.ticket_id, kind=kind, at=at or self.at,
            actor_id=actor_id or self.actor_id, reason=reason[:255], data=data or {}))


def start_clocks_in_bulk(ticket_ids: Iterable[int], *, at: Callable[[Ticket], datetime],
                         reason: str = "", passed: PassedLevels | None = None,
                         batch_size: int = BATCH) -> int:
    """Start the clocks of open tickets that have none, as `reevaluate` would, in batches.

    `at(ticket)` is the instant each ticket is evaluated at (`reevaluate`'s `at`). With
    `passed`, the levels the new clocks crossed before `passed.until` are recorded as
    passed without notifying anyone (see PassedLevels). Tickets that already have clocks
    are re-evaluated one by one instead (and get no such levels). Returns how many tickets
    were evaluated.
    """
    ids = sorted(set(ticket_ids))
    if not ids:
        return 0
    policies = active_policies()
    book = TargetBook()
    levels: dict[int | None, list[int]] = {}
    colours: dict[int, dict[int, str]] = defaultdict(dict)
    for policy_id, percent, colour in Level.objects.values_list("policy_id", "percent",
                                                                "colour"):
        levels.setdefault(policy_id, []).append(percent)
        colours[policy_id][percent] = colour
    for policy in policies:
        levels.setdefault(policy.pk, [])
    with_tags = any(policy.tags.all() for policy in policies)
    done = 0
    for batch in _chunks(ids, batch_size):
        with transaction.atomic():
            done += _start_batch(batch, at=at, reason=reason, policies=policies, book=book,
                                 levels=levels, colours=colours, with_tags=with_tags,
                                 passed=passed)
    return done


def _start_batch(ids: list[int], *, at: Callable[[Ticket], datetime], reason: str,
                 policies: Sequence[Policy], book: TargetBook,
                 levels: dict[int | None, list[int]], colours: dict[int, dict[int, str]],
                 with_tags: bool, passed: PassedLevels | None) -> int:
    tickets = list(Ticket.objects.filter(pk__in=ids).select_related("organization")
                   .order_by("pk"))
    have_clocks = set(Clock.objects.filter(ticket_id__in=ids)
                      .values_list("ticket_id", flat=True).distinct())
    fresh = [t.pk for t in tickets if t.pk not in have_clocks]
    history: dict[int, History] = defaultdict(list)
    for ticket_id, *row in (
            TicketEvent.objects.filter(ticket_id__in=fresh, kind=EventKind.STATUS)
            .order_by("ticket_id", "created_at", "pk")
            .values_list("ticket_id", "created_at", "after", "note", "actor_id")):
        history[ticket_id].append(tuple(row))
    updates: dict[int, list[datetime]] = defaultdict(list)
    for ticket_id, created in Message.objects.filter(
            ticket_id__in=fresh, is_public=True, by_agent=True).values_list(
            "ticket_id", "created_at"):
        updates[ticket_id].append(created)
    tags: dict[int, set[int]] = defaultdict(set)
    if with_tags:
        for ticket_id, tag_id in Ticket.tags.through.objects.filter(
                ticket_id__in=fresh).values_list("ticket_id", "tag_id"):
            tags[ticket_id].add(tag_id)

    rows = _Rows()
    works: dict[int, _BulkWork] = {}
    for ticket in tickets:
        when = at(ticket)
        if ticket.pk in have_clocks:
            reevaluate(ticket, at=when, reason=reason, policies=policies)
            continue
        policy = match_policy(ticket, policies=policies, tag_ids=tags[ticket.pk])
        if policy is None:
            continue
        work = works[ticket.pk] = _BulkWork(
            ticket, at=when, rows=rows, history=history[ticket.pk],
            agent_updates=updates[ticket.pk], levels=levels)
        cache: dict[datetime, dict[str, ResolvedTarget]] = {}

        def targets_at(start: datetime, ticket: Ticket = ticket, policy: Policy = policy,
                       cache: dict = cache) -> dict[str, ResolvedTarget]:
            if start not in cache:
                cache[start] = book.targets(ticket, policy, at=start)
            return cache[start]

        work.backfill(policy, targets_at, reason=reason or "ticket re-evaluated")
        work.apply_pausing(ticket.status, waiting_reason=ticket.waiting_reason)
        if passed is not None:
            _pass_levels(work, passed, colours)
    rows.write()
    synced = []  # what sync_ticket writes, where it differs from the row
    for ticket in tickets:
        if ticket.pk in have_clocks:
            continue
        work = works.get(ticket.pk)
        values = _sync_values(work.clocks if work else [], rows.fired, colours)
        if values != (ticket.sla_due_at, ticket.sla_level):
            ticket.sla_due_at, ticket.sla_level = values
            synced.append(ticket)
    Ticket.objects.bulk_update(synced, ["sla_due_at", "sla_level"], batch_size=IN_BATCH)
    return len(tickets)


def _pass_levels(work: _BulkWork, passed: PassedLevels,
                 colours: dict[int, dict[int, str]]) -> None:
    """What `mark_breached` and the import's silencing of past levels do to fresh clocks:
    in the order they do it (the clocks' default order: metric, cycle)."""
    now = passed.until
    mine = sorted(work.clocks, key=lambda c: (c.metric, c.cycle))
    for clock in mine:
        # record_reached and refresh_level read only the instant they are given.
        if (clock.completed_at is None and clock.state == ClockState.RUNNING
                and clock.due_at is not None and clock.due_at <= now
                and work.record_reached(clock, now, inclusive=True)):
            work.refresh_level(clock, arith.calendar_of(clock))
    for clock in mine:
        if (clock.completed_at is not None or clock.state not in ACTIVE_STATES
                or clock.next_level_at is None or clock.next_level_at > now):
            continue
        percents = work.level_percents(clock.policy_id)
        done: set[int] = set()
        cal = arith.calendar_of(clock)
        nxt = arith.next_level(clock, percents, done, cal=cal)
        while nxt is not None and nxt[1] <= now:
            percent, when = nxt
            work.rows.fires.append(ClockLevelFire(clock=clock, percent=percent,
                                                  scheduled_at=when, fired_at=now))
            work.rows.events.append(ClockEvent(
                clock=clock, ticket_id=clock.ticket_id, kind=ClockEventKind.LEVEL, at=when,
                reason=f"{percent}% of the target elapsed ({passed.note})",
                data={"percent": percent, "colour": colours[clock.policy_id][percent],
                      **passed.data}))
            done.add(percent)
            work.rows.fired[id(clock)] = max(percent, work.rows.fired.get(id(clock), 0))
            nxt = arith.next_level(clock, percents, done, cal=cal)
        clock.next_level_percent, clock.next_level_at = nxt if nxt else (None, None)


def _sync_values(clocks: list[Clock], fired: dict[int, int],
                 colours: dict[int, dict[int, str]]) -> tuple[datetime | None, str]:
    """`sync_ticket` on clocks in memory: the earliest due active clock and its colour."""
    due = [c for c in clocks if c.completed_at is None and c.due_at is not None
           and c.state in (ClockState.RUNNING, ClockState.BREACHED)]
    if not due:
        return None, ""
    clock = min(due, key=lambda c: (c.due_at, c.pk))
    top = fired.get(id(clock))
    if top is None or clock.policy_id is None:
        return clock.due_at, ""
    below = [p for p in colours.get(clock.policy_id, {}) if p <= top]
    return clock.due_at, colours[clock.policy_id][max(below)] if below else ""
