"""Ticket domain events become webhook events. Handlers only publish: the event id comes
from the event's own fields, so a handler run twice creates no second delivery."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from tickets import events
from tickets.models import Message, Survey

from . import payloads, publish

# Ticket events that count as "ticket updated", and the name of the change they carry.
UPDATES: dict[type[events.TicketEvent], str] = {
    events.StatusChanged: "status",
    events.PriorityChanged: "priority",
    events.Assigned: "assignment",
    events.AssigneeChanged: "assignee",
    events.TagsChanged: "tags",
    events.CustomFieldsChanged: "custom_fields",
    events.Escalated: "escalation",
    events.Merged: "merge",
    events.Reopened: "reopen",
}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def key_of(event: events.TicketEvent) -> str:
    """The event's identity from its fields (stable across processes and serialisation)."""
    parts = [f"{f.name}={_plain(getattr(event, f.name))}" for f in fields(event)]
    return f"{type(event).__name__}|" + "|".join(parts)


def _details(event: events.TicketEvent) -> dict:
    skip = {"ticket_id", "at"}
    return {f.name: _plain(getattr(event, f.name)) for f in fields(event) if f.name not in skip}


def on_created(event: events.TicketCreated) -> None:
    def build() -> dict | None:
        ticket = payloads.load_ticket(event.ticket_id)
        return {"ticket": payloads.ticket_summary(ticket)} if ticket else None

    publish("ticket.created", build, key=key_of(event), occurred_at=event.at)


def on_updated(event: events.TicketEvent) -> None:
    def build() -> dict | None:
        ticket = payloads.load_ticket(event.ticket_id)
        if ticket is None:
            return None
        return {"ticket": payloads.ticket_summary(ticket),
                "change": {"kind": UPDATES[type(event)], **_details(event)}}

    publish("ticket.updated", build, key=key_of(event), occurred_at=event.at)


def on_public_reply(event: events.PublicReply) -> None:
    def build() -> dict | None:
        ticket = payloads.load_ticket(event.ticket_id)
        message = Message.objects.select_related("author").filter(pk=event.message_id).first()
        if ticket is None or message is None:
            return None
        return {"ticket": payloads.ticket_summary(ticket),
                "message": payloads.message_summary(message)}

    publish("ticket.replied", build, key=key_of(event), occurred_at=event.at)


def on_survey_answered(event: events.SurveyAnswered) -> None:
    def build() -> dict | None:
        ticket = payloads.load_ticket(event.ticket_id)
        survey = Survey.objects.select_related("agent").filter(pk=event.survey_id).first()
        if ticket is None or survey is None:
            return None
        return {"ticket": payloads.ticket_summary(ticket),
                "survey": payloads.survey_summary(survey)}

    publish("survey.answered", build, key=key_of(event), occurred_at=event.at)


def _each(handler: Callable[[Any], None]) -> Callable[[Sequence[Any]], None]:
    """A batch form that publishes event by event: a batch write's events then cost one
    savepoint on the worker, not one each (publishing costs no query when no endpoint
    wants the event)."""
    def many(batch: Sequence[Any]) -> None:
        for event in batch:
            handler(event)
    return many


def connect() -> None:
    # Deferred: on a worker from the tickets outbox, never in the request; idempotent.
    for event_type, handler in [(events.TicketCreated, on_created),
                                (events.PublicReply, on_public_reply),
                                (events.SurveyAnswered, on_survey_answered),
                                *((event_type, on_updated) for event_type in UPDATES)]:
        events.subscribe(event_type, handler, deferred=True, many=_each(handler))
