"""The resolution cascade: each linked ticket moved through the ticket state machine
(run by a job)."""
from __future__ import annotations

import time

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tickets import events as ticket_events
from tickets import services as ticket_services
from tickets.models import EventKind as TicketEventKind
from tickets.models import TicketEvent
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
    links = list(IncidentTicket.objects.filter(incident_id=incident_id, cascaded_at__isnull=True)
                 .select_related("ticket").order_by("ticket_id")[:limit])
    if not links:
        return 0
    started = time.perf_counter()
    moved = skipped = 0
    reason = _cascade_reason(incident)
    mine: list[int] = []  # links this run marked (not another worker)
    with transaction.atomic():
        committed = _commit_clock()
        for link in links:
            ticket = link.ticket
            outcome, note = IncidentTicket.Outcome.MOVED, ""
            if ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED, target):
                outcome, note = IncidentTicket.Outcome.SKIPPED, f"already {ticket.status}"
            else:
                try:
                    with transaction.atomic():
                        ticket_services.transition(ticket, target, actor=actor, reason=reason)
                except (TransitionError, ValidationError, PermissionDenied) as exc:
                    outcome, note = IncidentTicket.Outcome.SKIPPED, str(exc)
            if outcome == IncidentTicket.Outcome.MOVED:
                moved += 1
            else:
                skipped += 1
            # Only a link still pending is marked: a second worker's write wins once.
            if IncidentTicket.objects.filter(pk=link.pk, cascaded_at__isnull=True).update(
                    cascade_outcome=outcome, cascade_note=note[:255],
                    cascaded_at=timezone.now()):
                mine.append(link.pk)
        _mark_after_handlers(IncidentTicket.objects.filter(pk__in=mine),
                             "cascade_dispatched_at")
    if stats is not None:
        stats.add(started=started, committed=committed, done=moved, skipped=skipped)
    return len(links)


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
        for ev in moves:
            ticket_events.dispatch(ticket_events.StatusChanged(
                ev.ticket_id, ev.actor_id, ev.created_at, ev.before, ev.after))
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
