"""The clock services for many tickets at once, for ticket events written in batches (an
incident's public update on a thousand tickets, the queue's bulk bar).

Same rule as the one-ticket services (`lifecycle.record_agent_reply`,
`lifecycle.on_status_change`): each ticket gets a `ClockWork` and the very same
transitions run on its clocks; only the storage differs. The clocks of every ticket of
the batch are locked in one statement, their level fires and pauses read in one each,
and what the transitions write is kept in memory and written table by table at the end
(new clocks, pauses and events in bulk, changed clocks and pauses in one UPDATE each),
then the tickets' `sla_due_at` / `sla_level` by `sync_tickets`.
tests/sla/test_batched.py holds the two paths equal, row by row.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from helpdesk.bulkload import update_rows
from tickets.models import Ticket

from ..models import Clock, ClockEvent, ClockLevelFire, ClockPause, Level, Policy
from ..policies import ResolvedTarget, TargetBook
from .lifecycle import agent_reply_rule, status_change_rule
from .work import ClockWork, sync_tickets

# Every column a clock transition may change (ClockWork.save writes the whole row).
_CLOCK_COLUMNS = [f.attname for f in Clock._meta.concrete_fields
                  if not f.primary_key and f.attname not in ("ticket_id", "metric", "cycle",
                                                             "started_at")]


@dataclass(frozen=True)
class AgentReply:
    ticket_id: int
    at: datetime
    actor_id: int | None


@dataclass(frozen=True)
class StatusMove:
    ticket_id: int
    at: datetime
    actor_id: int | None
    before: str
    after: str


class _Batch:
    """The rows a batch reads once, and what its transitions write, until `write`."""

    def __init__(self, ticket_ids: Sequence[int]) -> None:
        self.clocks: dict[int, list[Clock]] = defaultdict(list)
        for clock in (Clock.objects.select_for_update(of=("self",))
                      .filter(ticket_id__in=ticket_ids).select_related("calendar", "policy")
                      .order_by("ticket_id", "pk")):
            self.clocks[clock.ticket_id].append(clock)
        by_pk = {c.pk: c for clocks in self.clocks.values() for c in clocks}
        self.fired: dict[int, set[int]] = defaultdict(set)
        self.pauses: dict[int, list[ClockPause]] = defaultdict(list)  # by id(clock)
        if by_pk:
            for clock_id, percent in ClockLevelFire.objects.filter(
                    clock_id__in=list(by_pk)).values_list("clock_id", "percent"):
                self.fired[clock_id].add(percent)
            for pause in ClockPause.objects.filter(clock_id__in=list(by_pk)).order_by(
                    "started_at", "pk"):
                pause.clock = by_pk[pause.clock_id]
                self.pauses[id(pause.clock)].append(pause)
        self.levels: dict[int | None, list[int]] = {}
        self.book = TargetBook()  # targets, tier multipliers, overrides: read once
        self.new_clocks: list[Clock] = []
        self.saved: dict[int, Clock] = {}  # by id(clock)
        self.new_pauses: list[ClockPause] = []
        self.ended_pauses: dict[int, ClockPause] = {}  # by pk
        self.events: list[ClockEvent] = []

    def level_percents(self, policy_id: int) -> list[int]:
        if policy_id not in self.levels:
            self.levels[policy_id] = list(Level.objects.filter(policy_id=policy_id)
                                          .values_list("percent", flat=True))
        return self.levels[policy_id]

    def write(self) -> None:
        if self.new_clocks:
            Clock.objects.bulk_create(self.new_clocks)  # ids for their events and pauses
        stamp = timezone.now()
        new = {id(c) for c in self.new_clocks}
        changed = [c for key, c in self.saved.items() if key not in new]
        for clock in changed:
            clock.updated_at = stamp
        update_rows(Clock, _CLOCK_COLUMNS,
                    [(c.pk, *(getattr(c, name) for name in _CLOCK_COLUMNS)) for c in changed])
        update_rows(ClockPause, ["ended_at", "business_time"],
                    [(p.pk, p.ended_at, p.business_time) for p in self.ended_pauses.values()])
        for row in (*self.new_pauses, *self.events):
            row.clock_id = row.clock.pk
        ClockPause.objects.bulk_create(self.new_pauses)
        ClockEvent.objects.bulk_create(self.events)


class _BatchWork(ClockWork):
    """A ClockWork whose reads come from the batch and whose writes go to it."""

    def __init__(self, ticket: Ticket, *, at: datetime, actor: Any, batch: _Batch) -> None:
        super().__init__(ticket.pk, at=at, actor=actor, ticket=ticket,
                         clocks=batch.clocks[ticket.pk])
        self.batch = batch

    def save(self, clock: Clock) -> None:
        self.batch.saved[id(clock)] = clock

    def insert(self, clock: Clock) -> bool:
        # Under the lock of the ticket's clocks; a clash with a concurrent start fails the
        # batch's insert, and the caller redoes the tickets one by one.
        self.batch.new_clocks.append(clock)
        self.batch.saved[id(clock)] = clock
        return True

    def fired_percents(self, clock: Clock) -> Iterable[int]:
        return self.batch.fired.get(clock.pk, set()) if clock.pk else ()

    def pause_spans(self, clock: Clock) -> list[tuple[datetime, datetime | None]]:
        return [(p.started_at, p.ended_at) for p in self.batch.pauses[id(clock)]]

    def add_pause(self, clock: Clock, *, at: datetime, reason: str,
                  actor_id: int | None) -> None:
        pause = ClockPause(clock=clock, ticket_id=clock.ticket_id, actor_id=actor_id,
                           reason=reason[:255], started_at=at)
        self.batch.pauses[id(clock)].append(pause)
        self.batch.new_pauses.append(pause)

    def end_pause(self, clock: Clock, *, at: datetime, business_time: timedelta) -> None:
        for pause in self.batch.pauses[id(clock)]:
            if pause.ended_at is None:
                pause.ended_at, pause.business_time = at, business_time
                if pause.pk is not None:
                    self.batch.ended_pauses[pause.pk] = pause

    def event(self, clock: Clock, kind: str, *, at: datetime | None = None, reason: str = "",
              data: dict[str, Any] | None = None, actor_id: int | None = None) -> None:
        self.batch.events.append(ClockEvent(
            clock=clock, ticket_id=clock.ticket_id, kind=kind, at=at or self.at,
            actor_id=actor_id or self.actor_id, reason=reason[:255], data=data or {}))

    def level_percents(self, policy_id: int | None) -> list[int]:
        return [] if policy_id is None else self.batch.level_percents(policy_id)

    def targets(self, policy: Policy, *, at: datetime) -> dict[str, ResolvedTarget]:
        return self.batch.book.targets(self.ticket, policy, at=at)


def _run(items: Sequence[AgentReply | StatusMove], apply) -> None:
    """Run `apply(work, item)` for each item's ticket on one batch, then write it.

    A ticket named twice keeps its later items for a second batch (the transitions of
    one ticket run in order, each on the clocks the previous one left).
    """
    first: dict[int, AgentReply | StatusMove] = {}
    later: list[AgentReply | StatusMove] = []
    for item in items:
        if item.ticket_id in first:
            later.append(item)
        else:
            first[item.ticket_id] = item
    ids = sorted(first)
    with transaction.atomic():
        tickets = (Ticket.objects.select_related("organization").defer("description")
                   .in_bulk(ids))
        batch = _Batch([pk for pk in ids if pk in tickets])
        for pk in ids:
            ticket = tickets.get(pk)
            if ticket is None or not batch.clocks[pk]:
                continue  # gone, or no SLA on it: the one-ticket services do nothing
            item = first[pk]
            apply(_BatchWork(ticket, at=item.at, actor=item.actor_id, batch=batch), item,
                  ticket)
        batch.write()
        sync_tickets([pk for pk in ids if batch.clocks[pk]])
    if later:
        _run(later, apply)


def record_agent_replies(replies: Sequence[AgentReply]) -> None:
    """`record_agent_reply` for many tickets: first and next response met, the next
    periodic-update cycle."""
    _run(replies, lambda work, item, ticket: agent_reply_rule(work))


def on_status_changes(moves: Sequence[StatusMove]) -> None:
    """`on_status_change` for many tickets: pause, resume, complete or restart clocks."""
    _run(moves, lambda work, item, ticket: status_change_rule(
        work, ticket, item.before, item.after))
