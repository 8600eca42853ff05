"""Reactions to ticket events: the customer e-mails (agent replies, acknowledgement,
status notices) and the waiting-on-customer reminders."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from tickets import events
from tickets.models import Message, Ticket
from tickets.state_machine import Status

from . import notices, outbound, waiting

REPLY_WINDOW = timedelta(seconds=1)


def on_public_reply(event: events.PublicReply) -> None:
    if event.by_agent:
        outbound.queue_reply(event.message_id)


def on_public_replies(batch: Sequence[events.PublicReply]) -> None:
    """Replies written together: the agents' e-mails queued set-wise (same rule)."""
    outbound.queue_replies([e.message_id for e in batch if e.by_agent])


def on_created(event: events.TicketCreated) -> None:
    # The acknowledgement also goes to the requester who filed it: that is its point.
    notices.queue_ticket_notice("customer.created", event.ticket_id, at=event.at,
                                actor_id=event.actor_id, tell_actor=True)


def _status_notice(event: events.StatusChanged) -> str:
    """Keep the waiting record in step; the customer notice the change calls for ("")."""
    waited = None
    if event.before == Status.WAITING_ON_CUSTOMER and event.after != event.before:
        waited = waiting.stopped_waiting(event.ticket_id)
    if event.after == Status.WAITING_ON_CUSTOMER:
        waiting.started_waiting(event.ticket_id, event.at)
        if _asked_in_a_reply(event):
            return ""  # the reply that asked is the e-mail: one message, not two
        notice = "customer.waiting"
    elif event.after == Status.RESOLVED:
        auto = waited is not None and waited.auto_resolved_at is not None
        notice = "customer.auto_resolved" if auto else "customer.resolved"
    elif event.after == Status.CLOSED:
        if Ticket.objects.filter(pk=event.ticket_id, merged_into__isnull=False).exists():
            return ""  # the merge notice says where the conversation continues
        notice = "customer.closed"
    else:
        return ""
    return notice


def on_status_changed(event: events.StatusChanged) -> None:
    if notice := _status_notice(event):
        _queue_status_notice(notice, event)


def on_statuses_changed(batch: Sequence[events.StatusChanged]) -> None:
    """Status changes written together (an incident's cascade, the bulk bar): the
    suppressors are asked once per kind of notice for all of them (same rule)."""
    planned: dict[str, list[events.StatusChanged]] = {}
    for event in batch:
        if notice := _status_notice(event):
            planned.setdefault(notice, []).append(event)
    for notice, group in planned.items():
        told = notices.suppressed_many(notice, [(e.ticket_id, None, e.at) for e in group])
        for i, event in enumerate(group):
            if i not in told:
                _queue_status_notice(notice, event)


def _queue_status_notice(notice: str, event: events.StatusChanged) -> None:
    context = {"auto_resolve_days": waiting.auto_resolve_days()}
    notices.queue_ticket_notice(notice, event.ticket_id, at=event.at,
                                actor_id=event.actor_id, context=context)


def _asked_in_a_reply(event: events.StatusChanged) -> bool:
    """The status came with a public reply of the same person (the reply form's "and set
    status"): written a moment before, in the same request."""
    return event.actor_id is not None and Message.objects.filter(
        ticket_id=event.ticket_id, author_id=event.actor_id, by_agent=True, is_public=True,
        created_at__gte=event.at - REPLY_WINDOW, created_at__lte=event.at).exists()


def on_merged(event: events.Merged) -> None:
    notices.queue_ticket_notice("customer.merged", event.ticket_id, at=event.at,
                                actor_id=event.actor_id, context={"merged_into": event.into_id})


def connect() -> None:
    events.subscribe(events.PublicReply, on_public_reply, deferred=True,
                     many=on_public_replies)
    events.subscribe(events.TicketCreated, on_created, deferred=True)
    events.subscribe(events.StatusChanged, on_status_changed, deferred=True,
                     many=on_statuses_changed)
    events.subscribe(events.Merged, on_merged, deferred=True)
