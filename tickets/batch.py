"""Writes to many tickets at once: the rows and domain events of the one-ticket services,
written set-wise (an incident's public update on a thousand tickets, the queue's bulk bar).

Each function keeps the one-ticket rules (`tickets.services.add_reply`, `update_ticket`,
`transition`: the state machine decides every move, one audit event per change) and
changes only the storage: the tickets are locked in one statement, the messages and
audit events inserted in bulk, the ticket rows updated in one statement per column set,
and the domain events dispatched together after commit (`events.emit_many`), so the
apps that react can do so set-wise too.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from helpdesk.models import User

from . import events
from .models import Channel, EventKind, Message, Ticket, TicketEvent
from .state_machine import Status


@dataclass
class BatchReplies:
    """What `add_public_replies` wrote: the message per ticket, and why others got none."""

    messages: dict[int, Message] = field(default_factory=dict)
    refused: dict[int, str] = field(default_factory=dict)


def closed_refusal(ticket: Ticket) -> str:
    """Why a closed ticket takes no reply (add_reply's words)."""
    return ("This ticket is closed. Please open a new request and mention "
            f"{ticket.reference}.")


def add_public_replies(ticket_ids: Iterable[int], *, author: User, body: str,
                       channel: str = Channel.WEB,
                       leave_out: Callable[[list[int]], Collection[int]] | None = None,
                       ) -> BatchReplies:
    """An agent's public reply, the same text, on many tickets: what `add_reply` writes
    for each (message, "reply" audit event, `updated_at`, the first response time if it
    had none, a PublicReply event after commit), in a fixed number of statements.

    A closed ticket is refused (listed in `refused` with add_reply's reason), a ticket
    that no longer exists is left out. `leave_out(locked ids)` is asked once the tickets
    are locked and returns those not to write to (e.g. already handled by another worker).
    Call inside a transaction to make it part of a larger unit (the incidents' delivery
    rows).
    """
    if not (author and author.is_agent):
        raise PermissionDenied("Only agents reply to many tickets at once.")
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "The message is empty."})
    ids = sorted(set(ticket_ids))
    result = BatchReplies()
    if not ids:
        return result
    with transaction.atomic():
        # Locked in id order, as every batch writer does, so two batches never deadlock.
        tickets = list(Ticket.objects.select_for_update().filter(pk__in=ids).order_by("pk")
                       .only("pk", "status", "first_response_at"))
        skip = set(leave_out([t.pk for t in tickets])) if leave_out else set()
        now = timezone.now()
        open_: list[Ticket] = []
        for ticket in tickets:
            if ticket.pk in skip:
                continue
            if ticket.status == Status.CLOSED:
                result.refused[ticket.pk] = closed_refusal(ticket)
            else:
                open_.append(ticket)
        if not open_:
            return result
        messages = Message.objects.bulk_create([
            Message(ticket_id=t.pk, author=author, is_public=True, by_agent=True, body=body,
                    channel=channel, created_at=now) for t in open_])
        TicketEvent.objects.bulk_create([
            TicketEvent(ticket_id=m.ticket_id, actor=author, kind=EventKind.REPLY,
                        note=f"message {m.pk}", is_public=True, created_at=now)
            for m in messages])
        pks = [t.pk for t in open_]
        Ticket.objects.filter(pk__in=pks).update(updated_at=now)
        first = [t.pk for t in open_ if t.first_response_at is None]
        if first:
            Ticket.objects.filter(pk__in=first).update(first_response_at=now)
        result.messages = {m.ticket_id: m for m in messages}
        events.emit_many([events.PublicReply(m.ticket_id, author.pk, now, m.pk, True)
                          for m in messages])
    return result
