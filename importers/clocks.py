"""SLA clocks of imported tickets: started or moved by the SLA services, at the original
instants, with nothing fired for the past.

- An open ticket imported for the first time gets its clocks the way a re-evaluation
  starts them (`sla.services.reevaluate` on a ticket without clocks): from its creation
  time, the first response met or breached at its own instant, breaches recorded at their
  due time. A ticket waiting on someone is evaluated at the moment it started waiting,
  so the wait does not count against it.
- A ticket that already had clocks and changed in the source gets what happened since,
  replayed through the same services the live event handlers call, each at its instant.
- Warning and breach levels the clocks crossed before the import are recorded as passed
  (their unique `ClockLevelFire` row and a "level" clock event saying nobody was told),
  so the escalation job never notifies, reassigns or re-prioritises for the past; levels
  still ahead fire as usual.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sla import clocks as arith
from sla import services
from sla.models import Clock, ClockEvent, ClockEventKind, ClockLevelFire, ClockState, Level
from sla.policies import active_policies
from tickets.models import Ticket
from tickets.state_machine import WAITING_STATUSES, Status

# Clocks that can owe levels: a paused one owes those its used time passed before it
# stopped (or below a shortened target), due at its pause (sla.clocks.next_level).
ACTIVE = (ClockState.RUNNING, ClockState.BREACHED, ClockState.PAUSED)
SILENT = "before the import: nobody was notified"


@dataclass(frozen=True)
class Happened:
    """Something since the last import that moves clocks, at its original instant."""

    at: datetime
    kind: str  # "agent reply", "customer reply", "status"
    actor: int | None = None
    before: str = ""
    after: str = ""


def evaluated_at(ticket: Ticket, *, now: datetime) -> datetime:
    """The instant an imported ticket's clocks are evaluated at: now, or for a ticket
    waiting on someone the moment it started waiting (the wait does not count)."""
    at = now
    if ticket.status in WAITING_STATUSES:
        at = max(ticket.status_changed_at, ticket.created_at)
    return min(at, now)


def start(ticket_ids: Iterable[int], *, now: datetime, reason: str) -> int:
    """Start the clocks of newly imported open tickets; returns how many got clocks.

    In batches (`sla.services.start_clocks_in_bulk`), the same clocks as
    `start_one_by_one`, which tests compare it with.
    """
    ids = list(ticket_ids)
    if not ids:
        return 0
    started = services.start_clocks_in_bulk(
        ids, at=lambda ticket: evaluated_at(ticket, now=now), reason=reason,
        passed=services.PassedLevels(until=now, note=SILENT, data={"imported": True}))
    silence_past_levels(ids, now=now)  # tickets that had clocks (a few queries otherwise)
    return started


def start_one_by_one(ticket_ids: Iterable[int], *, now: datetime, reason: str) -> int:
    """`start` through `sla.services.reevaluate`, ticket by ticket (the reference path)."""
    ids = list(ticket_ids)
    if not ids:
        return 0
    policies = active_policies()
    started = 0
    for ticket in Ticket.objects.filter(pk__in=ids).select_related("organization"):
        services.reevaluate(ticket, at=evaluated_at(ticket, now=now), reason=reason,
                            policies=policies)
        started += 1
    silence_past_levels(ids, now=now)
    return started


def replay(history: dict[int, list[Happened]], *, now: datetime) -> None:
    """Move existing clocks of changed tickets through what happened, in order."""
    if not history:
        return
    tickets = Ticket.objects.filter(pk__in=list(history)).select_related("organization")
    for ticket in tickets:
        for event in sorted(history[ticket.pk], key=lambda e: e.at):
            if event.kind == "agent reply":
                services.record_agent_reply(ticket, at=event.at, actor=event.actor)
            elif event.kind == "customer reply":
                services.record_customer_reply(ticket, at=event.at, actor=event.actor)
            elif event.kind == "status" and event.before != event.after:
                before = event.before or Status.NEW.value
                services.on_status_change(ticket, before, event.after, at=event.at,
                                          actor=event.actor)
    silence_past_levels(list(history), now=now)


def silence_past_levels(ticket_ids: list[int], *, now: datetime) -> int:
    """Record the levels these tickets' clocks crossed before `now` as passed, unnotified.

    The same arithmetic as the escalation job (`sla.clocks.next_level`, level after
    level), so the job finds each of these levels already claimed and the next one due in
    the future. Returns the number of levels recorded.
    """
    # A clock the services left running past its due time (e.g. a replayed history ending
    # before now) is breached at its due time, as the escalation job would record it.
    for clock in Clock.objects.filter(ticket_id__in=ticket_ids, completed_at__isnull=True,
                                      state=ClockState.RUNNING, due_at__lte=now):
        services.mark_breached(clock, at=now)
    due = list(Clock.objects.filter(ticket_id__in=ticket_ids, completed_at__isnull=True,
                                    state__in=ACTIVE, next_level_at__lte=now)
               .select_related("calendar"))
    if not due:
        return 0
    levels: dict[int, dict[int, Level]] = {}
    for level in Level.objects.filter(policy_id__in={c.policy_id for c in due}):
        levels.setdefault(level.policy_id, {})[level.percent] = level
    fired: dict[int, set[int]] = {c.pk: set() for c in due}
    for clock_id, percent in ClockLevelFire.objects.filter(
            clock_id__in=list(fired)).values_list("clock_id", "percent"):
        fired[clock_id].add(percent)
    fires, events = [], []
    for clock in due:
        mine = levels.get(clock.policy_id, {})
        done = fired[clock.pk]
        cal = arith.calendar_of(clock)
        nxt = arith.next_level(clock, mine.values(), done, cal=cal)
        while nxt is not None and nxt[1] <= now:
            percent, at = nxt
            fires.append(ClockLevelFire(clock=clock, percent=percent, scheduled_at=at,
                                        fired_at=now))
            events.append(ClockEvent(
                clock=clock, ticket_id=clock.ticket_id, kind=ClockEventKind.LEVEL, at=at,
                reason=f"{percent}% of the target elapsed ({SILENT})",
                data={"percent": percent, "colour": mine[percent].colour, "imported": True}))
            done.add(percent)
            nxt = arith.next_level(clock, mine.values(), done, cal=cal)
        clock.next_level_percent, clock.next_level_at = nxt if nxt else (None, None)
    ClockLevelFire.objects.bulk_create(fires, ignore_conflicts=True)
    ClockEvent.objects.bulk_create(events)
    Clock.objects.bulk_update(due, ["next_level_at", "next_level_percent"])
    services.sync_tickets({c.ticket_id for c in due})
    return len(fires)
