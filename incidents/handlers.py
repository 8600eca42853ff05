"""Reactions to ticket events: suggest linking new tickets to open incidents."""
from __future__ import annotations

from tickets import events


def on_ticket_created(event: events.TicketCreated) -> None:
    from . import tasks

    tasks.suggest_links.delay(event.ticket_id)


def connect() -> None:
    events.subscribe(events.TicketCreated, on_ticket_created, deferred=True)
