"""Clock services that react to the ticket's life, and the escalation job's writes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from tickets import events as ticket_events
from tickets.models import Ticket
from tickets.state_machine import Status

from .. import clocks as arith
from ..models import Clock, Metric
from ..policies import active_policies, match_policy, targets_for
from .work import START_METRICS, ClockWork, _pause_reason, sync_ticket

if TYPE_CHECKING:
    from helpdesk.models import User


def _work(ticket: Ticket | int, *, at: datetime, actor: User | int | None,
          current: bool = False) -> ClockWork:
    """The ticket's locked clocks (`current`: see ClockWork); given an id, the ticket is
    read with them (or not at all when it has none)."""
    buffered = ticket_events.before_commit()
    if isinstance(ticket, int):
        return ClockWork(ticket, at=at, actor=actor, buffered=buffered, current=current)
    return ClockWork(ticket.pk, at=at, actor=actor, ticket=ticket, buffered=buffered,
                     current=current)


# Inside the write's own transaction (tickets.events) these run without a savepoint of
# their own: a failure fails the write, so the ticket and its clocks commit together.


def start_clocks(ticket: Ticket, *, at: datetime) -> list[Clock]:
    """Ticket created: start first response, resolution and (with a target) periodic update.

    No matching policy, or clocks already started: nothing happens.
    """
    with transaction.atomic(savepoint=False):
        work = _work(ticket, at=at, actor=None)
        if work.clocks:
            return []
        policy = match_policy(ticket)
        if policy is None:
            return []
        targets = targets_for(ticket, policy, at=at)
        started = [
            clock for metric in START_METRICS if metric in targets
            if (clock := work.open_clock(metric, 1, policy, targets[metric], started_at=at,
                                         reason="ticket created")) is not None
        ]
        work.sync()
    return started


@dataclass(frozen=True)
class _Plan:
    at: datetime
    work: ClockWork | None  # None: no policy matched, no clocks


def plan_clocks(ticket: Ticket, at: datetime) -> None:
    """Before a new ticket's INSERT (`tickets.events.register_before_insert`): start its
    clocks in memory, as `start_clocks` would, and set its `sla_due_at` / `sla_level`, so
    the INSERT carries them and no UPDATE follows. Nothing is written: `start_planned`
    writes the clocks once the row exists. No plan (the clocks are started from the row
    after the INSERT) when a policy tests tags (added after the INSERT) or the new ticket
    waits (a paused clock writes its pause row)."""
    policies = active_policies()
    if any(policy.tags.all() for policy in policies):
        return
    policy = match_policy(ticket, policies=policies)
    if policy is None:
        ticket._sla_plan = _Plan(at, None)
        return
    if _pause_reason(ticket.status, ticket.waiting_reason, policy) is not None:
        return
    work = ClockWork(ticket.pk, at=at, actor=None, ticket=ticket, clocks=[], buffered=True)
    targets = targets_for(ticket, policy, at=at)
    for metric in START_METRICS:
        if metric in targets:
            work.open_clock(metric, 1, policy, targets[metric], started_at=at,
                            reason="ticket created")
    ticket.sla_due_at, ticket.sla_level = work.due_and_colour()
    ticket._sla_plan = _Plan(at, work)


def start_planned(ticket: Ticket, *, at: datetime) -> bool:
    """Write the clocks `plan_clocks` started for this ticket, now inserted as planned
    (the caller knows nothing changed it since: `tickets.events.new_ticket`). False when
    there is no plan for this instant: call `start_clocks`."""
    plan = ticket.__dict__.pop("_sla_plan", None)
    if plan is None or plan.at != at:
        return False
    if plan.work is not None:
        # A ticket inserted in this very transaction has no clocks yet, and nobody else
        # can add any before it commits: no lock to take, nothing to check.
        plan.work.bind(ticket.pk)
        plan.work.flush()
    return True


def record_agent_reply(ticket: Ticket | int, *, at: datetime, actor: User | int | None) -> None:
    """A public agent reply: first and next response met, next periodic-update cycle."""
    with transaction.atomic(savepoint=False):
        # The rule reads only the running clocks and the latest periodic cycle.
        work = _work(ticket, at=at, actor=actor, current=True)
        if not work.clocks:
            return
        agent_reply_rule(work)
        work.sync()


def agent_reply_rule(work: ClockWork) -> None:
    """What a public agent reply does to a ticket's clocks (one ticket or a batch)."""
    for clock in work.active(Metric.FIRST_RESPONSE):
        work.complete(clock, met=True, reason="first public agent reply")
    for clock in work.active(Metric.NEXT_RESPONSE):
        work.complete(clock, met=True, reason="agent replied")
    work.restart_periodic(reason="agent update")


def record_customer_reply(ticket: Ticket | int, *, at: datetime,
                          actor: User | int | None) -> Clock | None:
    """A customer message after an agent reply starts a next-response clock (one at a time)."""
    with transaction.atomic(savepoint=False):
        work = _work(ticket, at=at, actor=actor)
        if not work.clocks:
            return None
        cycles = work.of_metric(Metric.NEXT_RESPONSE)
        if any(c.started_at >= at or c.completed_at is None or c.completed_at > at
               for c in cycles):
            return None  # one was running at `at`, or this message was already handled
        if work.ticket.first_response_at is None or work.ticket.first_response_at > at:
            return None  # still waiting for the first response: its own clock runs
        clock = work.start_cycle(Metric.NEXT_RESPONSE, reason="customer replied")
        work.sync()
    return clock


def on_status_change(ticket: Ticket | int, before: str, after: str, *, at: datetime,
                     actor: User | int | None) -> None:
    """Pause, resume, complete or restart clocks for a status change."""
    with transaction.atomic(savepoint=False):
        work = _work(ticket, at=at, actor=actor)
        if not work.clocks:
            return
        status_change_rule(work, work.ticket, before, after)
        work.sync()


def status_change_rule(work: ClockWork, ticket: Ticket, before: str, after: str) -> None:
    """What a status change does to a ticket's clocks (one ticket or a batch)."""
    if after == Status.RESOLVED:
        for clock in work.active():
            work.complete(clock, met=clock.metric == Metric.RESOLUTION,
                          reason="ticket resolved")
    elif after == Status.CLOSED:
        if ticket.merged_into_id:
            for clock in work.active():
                work.exempt(clock, reason=f"merged into #{ticket.merged_into_id}")
        else:
            for clock in work.active():
                work.complete(clock, met=False, reason="ticket closed")
    else:
        if before in (Status.RESOLVED, Status.CLOSED):
            work.reopen()
        work.apply_pausing(after, waiting_reason=ticket.waiting_reason)


def record_reopen(ticket: Ticket | int, *, at: datetime, actor: User | int | None) -> None:
    """Ticket reopened: a new resolution cycle with the full target from `at`."""
    with transaction.atomic(savepoint=False):
        work = _work(ticket, at=at, actor=actor)
        if not work.clocks:
            return
        work.reopen()
        work.apply_pausing(work.ticket.status, waiting_reason=work.ticket.waiting_reason)
        work.sync()


def record_merge(ticket: Ticket | int, *, into_id: int, at: datetime,
                 actor: User | int | None) -> None:
    """The ticket was merged into #into_id: its active clocks become exempt."""
    with transaction.atomic(savepoint=False):
        work = _work(ticket, at=at, actor=actor)
        for clock in work.active():
            work.exempt(clock, reason=f"merged into #{into_id}")
        work.sync()


def exempt(clock: Clock, *, reason: str, actor: User | int | None,
           at: datetime | None = None) -> Clock:
    """Take a clock out of SLA measurement (out of scope...), with a mandatory reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ValueError("A reason is required to exempt a clock.")
    with transaction.atomic():
        locked = (Clock.objects.select_for_update(of=("self",))
                  .select_related("calendar", "policy").get(pk=clock.pk))
        work = ClockWork(locked.ticket_id, at=at or timezone.now(), actor=actor, clocks=[locked])
        work.exempt(locked, reason=reason)
        sync_ticket(locked.ticket_id)
    return locked


def mark_breached(clock: Clock, *, at: datetime | None = None,
                  actor: User | int | None = None) -> bool:
    """Record the breach of a clock whose used time has reached its target by `at`.

    A running clock breaches at its due time (inclusive: as the escalation job does when
    the 100 % level fires), a paused one at the instant its history crossed the target.
    Idempotent: False when no breach was recorded now.
    """
    at = at or timezone.now()
    with transaction.atomic():
        locked = (Clock.objects.select_for_update(of=("self",))
                  .select_related("calendar", "policy").get(pk=clock.pk))
        work = ClockWork(locked.ticket_id, at=at, actor=actor, clocks=[locked])
        before = locked.breached_at
        if not work.record_reached(locked, at, inclusive=True):
            return False
        work.refresh_level(locked, arith.calendar_of(locked))
        locked.save()
        sync_ticket(locked.ticket_id)
    clock.state, clock.breached_at = locked.state, locked.breached_at
    return before is None and locked.breached_at is not None


def refresh_next_level(clock: Clock) -> Clock:
    """Recompute the clock's next level (after one fired) and re-sync its ticket.

    Reads the ClockLevelFire rows: the next level is the smallest percent not fired yet.
    Updates `clock` in place too.
    """
    with transaction.atomic():
        locked = (Clock.objects.select_for_update(of=("self",))
                  .select_related("calendar", "policy").get(pk=clock.pk))
        work = ClockWork(locked.ticket_id, at=timezone.now(), actor=None, clocks=[locked])
        work.refresh_level(locked, arith.calendar_of(locked))
        Clock.objects.filter(pk=locked.pk).update(
            next_level_at=locked.next_level_at, next_level_percent=locked.next_level_percent)
        sync_ticket(locked.ticket_id)
    clock.next_level_at = locked.next_level_at
    clock.next_level_percent = locked.next_level_percent
    return locked

