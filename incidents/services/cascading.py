"""The resolution cascade: each linked ticket moved through the ticket state machine
(run by a job)."""
from __future__ import annotations

import time
from collections.abc import Callable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from helpdesk.bulkload import update_rows
from helpdesk.models import User
from tickets import batch as ticket_batch
from tickets import events as ticket_events
from tickets import services as ticket_services
from tickets.models import EventKind as TicketEventKind
from tickets.models import Ticket, TicketEvent
from tickets.state_machine import Status as TicketStatus
from tickets.state_machine import TransitionError

from .. import customer_mail
from ..models import (
    EntryKind,
    Incident,
    IncidentTicket,
    UpdateKind,
)
from ._base import CHUNK, FanOutStats, _commit_clock, _entry, _fire
from .delivery import _mark_after_handlers


def cascade_chunk(incident_id: int, *, limit: int = CHUNK,
                  stats: FanOutStats | None = None) -> int:
    """Move the next `limit` linked tickets not yet handled; returns how many it handled."""
    incident = Incident.objects.select_related("declared_by").get(pk=incident_id)
    target = incident.resolve_tickets_to or TicketStatus.RESOLVED.value
    actor = (incident.updates.filter(kind=UpdateKind.RESOLUTION)
             .select_related("created_by").first())
    actor = actor.created_by if actor else incident.declared_by
    ids = list(IncidentTicket.objects.filter(incident_id=incident_id, cascaded_at__isnull=True)
               .order_by("ticket_id").values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    started = time.perf_counter()
    reason = _cascade_reason(incident)
    with transaction.atomic():
        committed = _commit_clock()
        # Only links still pending, locked: a second worker's marks win once.
        links = list(IncidentTicket.objects.select_for_update()
                     .filter(pk__in=ids, cascaded_at__isnull=True).order_by("ticket_id"))
        if actor is None or actor.is_agent:
            outcomes = _move_batch(links, target, actor=actor, reason=reason)
        else:
            outcomes = _move_one_by_one(links, target, actor=actor, reason=reason)
        now = timezone.now()
        update_rows(IncidentTicket, ["cascade_outcome", "cascade_note", "cascaded_at"],
                    [(link.pk, *outcomes[link.pk], now) for link in links])
        _mark_after_handlers(IncidentTicket.objects.filter(pk__in=[link.pk for link in links]),
                             "cascade_dispatched_at")
    moved = sum(1 for outcome, _ in outcomes.values()
                if outcome == IncidentTicket.Outcome.MOVED)
    if stats is not None:
        stats.add(started=started, committed=committed, done=moved,
                  skipped=len(outcomes) - moved)
    return len(ids)


def _already(target: str) -> Callable[[Ticket], str]:
    """Tickets the cascade leaves as they are: resolved, closed, or at the target."""
    def check(ticket: Ticket) -> str:
        if ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED, target):
            return f"already {ticket.status}"
        return ""
    return check


def _move_batch(links: list[IncidentTicket], target: str, *, actor: User | None,
                reason: str) -> dict[int, tuple[str, str]]:
    """The links' tickets moved set-wise (tickets.batch); (outcome, note) per link."""
    result = ticket_batch.move_many([link.ticket_id for link in links], target, actor=actor,
                                    reason=reason, leave_alone=_already(target))
    moved = set(result.changed)
    notes = {**result.left, **result.refused}
    return {link.pk: (IncidentTicket.Outcome.MOVED, "") if link.ticket_id in moved else
            (IncidentTicket.Outcome.SKIPPED, notes.get(link.ticket_id, "ticket gone")[:255])
            for link in links}


def _move_one_by_one(links: list[IncidentTicket], target: str, *, actor: User | None,
                     reason: str) -> dict[int, tuple[str, str]]:
    """Each link's ticket through `transition`, in its own savepoint."""
    tickets = Ticket.objects.in_bulk([link.ticket_id for link in links])
    already = _already(target)
    outcomes = {}
    for link in links:
        ticket = tickets.get(link.ticket_id)
        outcome, note = IncidentTicket.Outcome.MOVED, ""
        if ticket is None:
            outcome, note = IncidentTicket.Outcome.SKIPPED, "ticket gone"
        elif why := already(ticket):
            outcome, note = IncidentTicket.Outcome.SKIPPED, why
        else:
            try:
                with transaction.atomic():
                    ticket_services.transition(ticket, target, actor=actor, reason=reason)
            except (TransitionError, ValidationError, PermissionDenied) as exc:
                outcome, note = IncidentTicket.Outcome.SKIPPED, str(exc)
        outcomes[link.pk] = (outcome, note[:255])
    return outcomes


def _cascade_reason(incident: Incident) -> str:
    """The reason on each moved ticket's status event (how a replay finds the event)."""
    return customer_mail.cascade_reason(incident)


def _replay_moves(incident_id: int, *, batch: int = CHUNK) -> int:
    """Hand the status changes a killed worker committed, but never handed to the
    ticket-event handlers (SLA clocks, the survey), to them now; returns how many."""
    reason = _cascade_reason(Incident.objects.get(pk=incident_id))
    replayed = 0
    while links := list(IncidentTicket.objects.filter(
            incident_id=incident_id, cascaded_at__isnull=False,
            cascade_dispatched_at__isnull=True)
            .order_by("ticket_id").values_list("pk", "ticket_id")[:batch]):
        # Only a move that is still the ticket's state: later changes had their own
        # handlers (a reopened ticket's resolution is void).
        moves = TicketEvent.objects.filter(
            ticket_id__in=[t for _, t in links], kind=TicketEventKind.STATUS, note=reason,
            ticket__status=F("after")).order_by("ticket_id", "created_at", "pk")
        ticket_events.dispatch_many([ticket_events.StatusChanged(
            ev.ticket_id, ev.actor_id, ev.created_at, ev.before, ev.after) for ev in moves])
        IncidentTicket.objects.filter(pk__in=[pk for pk, _ in links]).update(
            cascade_dispatched_at=timezone.now())
        replayed += len(links)
    return replayed


def cascade(incident_id: int, *, chunk: int = CHUNK) -> FanOutStats:
    """Move every linked ticket (chunk by chunk, resumable), then note the totals once."""
    stats = FanOutStats()
    _replay_moves(incident_id, batch=chunk)
    while cascade_chunk(incident_id, limit=chunk, stats=stats) == chunk:
        pass
    incident = Incident.objects.get(pk=incident_id)
    if not IncidentTicket.objects.filter(incident=incident, cascaded_at__isnull=True).exists():
        now = timezone.now()
        if _fire(incident, "cascade-summary", now):
            links = IncidentTicket.objects.filter(incident=incident)
            moved = links.filter(cascade_outcome=IncidentTicket.Outcome.MOVED).count()
            skipped = links.filter(cascade_outcome=IncidentTicket.Outcome.SKIPPED).count()
            _entry(incident, EntryKind.STATUS,
                   f"Resolution cascade: {moved} tickets moved, {skipped} skipped "
                   "(see the linked tickets).", at=now)
    return stats
