"""Clocks for many tickets at once: what `reevaluate` does to a ticket without clocks, in
batches, for an import or a backfill of thousands of open tickets.

The transitions are the very ones the per-ticket services run (`ClockWork.backfill`,
`apply_pausing`: targets, waits replayed as pauses, breaches, a first response already
given); only the storage differs. Rows stay in memory while the tickets of a batch are
evaluated and are then written with one `bulk_create` per table, the inputs (tickets,
tags, status history, agent replies, targets, levels) are read once per batch, and the
tickets' denormalised `sla_due_at` / `sla_level` are written by `sync_tickets`.
tests/sla/test_bulk_start.py holds the two paths equal, field by field.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction

from tickets.models import EventKind, Message, Ticket, TicketEvent

from ..models import Clock, ClockEvent, ClockPause, Level, Policy
from ..policies import ResolvedTarget, TargetBook, active_policies, match_policy
from .reevaluation import reevaluate
from .work import ClockWork, sync_tickets

#: Tickets evaluated (and their rows written) per batch.
BATCH = 1000
#: Ids per IN (...) list: well under SQLite's limit on query parameters.
IN_BATCH = 500

History = list[tuple[datetime, str, str, int | None]]


def _chunks(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(ids), size):
        yield list(ids[i:i + size])


class _Rows:
    """The rows a batch produces, in the order the per-ticket services would write them."""

    def __init__(self) -> None:
        self.clocks: list[Clock] = []
        self.events: list[ClockEvent] = []
        self.pauses: dict[int, list[ClockPause]] = defaultdict(list)  # by id(clock)

    def write(self) -> None:
        Clock.objects.bulk_create(self.clocks, batch_size=IN_BATCH)  # gives them their ids
        ClockPause.objects.bulk_create(
            [p for c in self.clocks for p in self.pauses[id(c)]], batch_size=IN_BATCH)
        ClockEvent.objects.bulk_create(self.events, batch_size=IN_BATCH)


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
                         reason: str = "", batch_size: int = BATCH) -> int:
    """Start the clocks of open tickets that have none, as `reevaluate` would, in batches.

    `at(ticket)` is the instant each ticket is evaluated at (`reevaluate`'s `at`). Tickets
    that already have clocks are re-evaluated one by one instead. Returns how many tickets
    were evaluated.
    """
    ids = sorted(set(ticket_ids))
    if not ids:
        return 0
    policies = active_policies()
    book = TargetBook()
    levels: dict[int | None, list[int]] = {}
    for policy_id, percent in Level.objects.values_list("policy_id", "percent"):
        levels.setdefault(policy_id, []).append(percent)
    for policy in policies:
        levels.setdefault(policy.pk, [])
    with_tags = any(policy.tags.all() for policy in policies)
    done = 0
    for batch in _chunks(ids, batch_size):
        with transaction.atomic():
            done += _start_batch(batch, at=at, reason=reason, policies=policies, book=book,
                                 levels=levels, with_tags=with_tags)
    return done


def _start_batch(ids: list[int], *, at: Callable[[Ticket], datetime], reason: str,
                 policies: Sequence[Policy], book: TargetBook,
                 levels: dict[int | None, list[int]], with_tags: bool) -> int:
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
    for ticket in tickets:
        when = at(ticket)
        if ticket.pk in have_clocks:
            reevaluate(ticket, at=when, reason=reason, policies=policies)
            continue
        policy = match_policy(ticket, policies=policies, tag_ids=tags[ticket.pk])
        if policy is None:
            continue
        work = _BulkWork(ticket, at=when, rows=rows, history=history[ticket.pk],
                         agent_updates=updates[ticket.pk], levels=levels)
        cache: dict[datetime, dict[str, ResolvedTarget]] = {}

        def targets_at(start: datetime, ticket: Ticket = ticket, policy: Policy = policy,
                       cache: dict = cache) -> dict[str, ResolvedTarget]:
            if start not in cache:
                cache[start] = book.targets(ticket, policy, at=start)
            return cache[start]

        work.backfill(policy, targets_at, reason=reason or "ticket re-evaluated")
        work.apply_pausing(ticket.status, waiting_reason=ticket.waiting_reason)
    rows.write()
    sync_tickets(fresh)
    return len(tickets)
