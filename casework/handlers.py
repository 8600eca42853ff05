"""At-risk signals detected from what happens to tickets (events dispatched after commit).

`connect()` is called from CaseworkConfig.ready(); tickets never imports casework.
Each handler is safe to run twice: an alert is raised once per signal, account and week.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from tickets import events
from tickets.models import Message, Survey, Ticket

from . import metrics, rollup, selectors, services
from .models import Playbook, Signal


def _ticket(ticket_id: int) -> Ticket | None:
    return Ticket.objects.select_related("organization", "requester").filter(
        pk=ticket_id).first()


def _tag_signals(ticket: Ticket, tags: set[str], at: Any) -> None:
    if tags & metrics.EXECUTIVE_TAGS:
        services.raise_signal(ticket.organization, Signal.EXECUTIVE, ticket=ticket, at=at,
                              detail=f"{ticket.reference} tagged as an executive complaint")
    if tags & metrics.INCIDENT_TAGS:
        services.raise_signal(ticket.organization, Signal.INCIDENT, ticket=ticket, at=at,
                              detail=f"{ticket.reference} is affected by a major incident")


def _churn(ticket: Ticket, text: str, at: Any) -> None:
    phrase = metrics.churn_phrase(text)
    if phrase:
        services.raise_signal(ticket.organization, Signal.CHURN, ticket=ticket, at=at,
                              detail=f"“{phrase}” in {ticket.reference}")


def on_created(event: events.TicketCreated) -> None:
    ticket = _ticket(event.ticket_id)
    if ticket is None or ticket.organization_id is None:
        return
    if not ticket.requester.is_agent:
        _churn(ticket, f"{ticket.subject}\n{ticket.description}", event.at)
    _tag_signals(ticket, set(ticket.tags.values_list("name", flat=True)), event.at)


def on_public_reply(event: events.PublicReply) -> None:
    if event.by_agent:
        return
    ticket = _ticket(event.ticket_id)
    body = Message.objects.filter(pk=event.message_id).values_list("body", flat=True).first()
    if ticket is not None and ticket.organization_id and body:
        _churn(ticket, body, event.at)


def on_public_replies(batch: Sequence[events.PublicReply]) -> None:
    """Replies written together (an incident update): only customers' ones are read."""
    for event in batch:
        if not event.by_agent:
            on_public_reply(event)


def on_tags_changed(event: events.TagsChanged) -> None:
    added = set(event.after) - set(event.before)
    ticket = _ticket(event.ticket_id) if added else None
    if ticket is not None and ticket.organization_id:
        _tag_signals(ticket, added, event.at)


def check_csat_trend(ticket_id: int) -> None:
    ticket = _ticket(ticket_id)
    if ticket is None or ticket.organization_id is None:
        return
    ratings = selectors.recent_ratings(ticket.organization_id)
    if metrics.csat_trend_negative(ratings):
        services.raise_signal(ticket.organization, Signal.CSAT, ticket=ticket,
                              detail=f"Latest ratings, oldest first: {ratings}")


def on_survey_saved(sender: Any, instance: Survey, **kwargs: Any) -> None:
    if instance.rating is None:
        return
    ticket_id = instance.ticket_id
    transaction.on_commit(lambda: check_csat_trend(ticket_id))


def on_playbook_changed(sender: Any, **kwargs: Any) -> None:
    # Which tickets are recurring follows the playbooks: every rolled-up hour may change.
    rollup.request_rebuild()


def connect() -> None:
    events.subscribe(events.TicketCreated, on_created, deferred=True)
    events.subscribe(events.PublicReply, on_public_reply, deferred=True,
                     many=on_public_replies)
    events.subscribe(events.TagsChanged, on_tags_changed, deferred=True)
    post_save.connect(on_survey_saved, sender=Survey, dispatch_uid="casework.csat_trend")
    for signal, sender, name in (
            (post_save, Playbook, "saved"), (post_delete, Playbook, "deleted"),
            (m2m_changed, Playbook.categories.through, "categories"),
            (m2m_changed, Playbook.product_areas.through, "areas")):
        signal.connect(on_playbook_changed, sender=sender,
                       dispatch_uid=f"casework.rollup.playbook_{name}")
