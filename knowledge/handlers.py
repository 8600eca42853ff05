"""Reactions to ticket events: a filed ticket closes its help-center visit's window."""
from __future__ import annotations

from tickets import events
from tickets.models import Ticket

from . import services


def on_ticket_created(event: events.TicketCreated) -> None:
    ticket = Ticket.objects.filter(pk=event.ticket_id).only(
        "id", "requester_id", "created_at").first()
    if ticket is not None:
        services.attribute_ticket(ticket)


def connect() -> None:
    events.subscribe(events.TicketCreated, on_ticket_created, deferred=True)
