"""The `data` part of each event's JSON payload (the schema is in README, "Webhooks").

Summaries only, never secrets. The SLA and incident builders read the objects their
callers pass (duck-typed: this app sits below sla and incidents and never imports them).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse

from tickets.models import Message, Survey, Ticket


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _person(user: Any) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "name": user.get_full_name() or user.get_username(),
            "email": user.email}


def ticket_summary(ticket: Ticket) -> dict:
    base = settings.HELPDESK_BASE_URL
    return {
        "id": ticket.pk,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "channel": ticket.channel,
        "team": ({"id": ticket.team.pk, "name": ticket.team.name} if ticket.team else None),
        "assignee": _person(ticket.assignee),
        "requester": _person(ticket.requester),
        "organization": ({"id": ticket.organization.pk, "name": ticket.organization.name}
                         if ticket.organization else None),
        "tags": sorted(t.name for t in ticket.tags.all()),
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "sla_due_at": _iso(ticket.sla_due_at),
        "url": base + reverse("agent:ticket", args=[ticket.pk]),
    }


def load_ticket(ticket_id: int) -> Ticket | None:
    return (Ticket.objects.select_related("team", "assignee", "requester", "organization")
            .prefetch_related("tags").filter(pk=ticket_id).first())


def message_summary(message: Message) -> dict:
    return {"id": message.pk, "author": _person(message.author), "public": message.is_public,
            "body": message.body, "created_at": _iso(message.created_at)}


def survey_summary(survey: Survey) -> dict:
    return {"id": survey.pk, "rating": survey.rating, "nps": survey.nps,
            "comment": survey.comment, "responded_at": _iso(survey.responded_at),
            "agent": _person(survey.agent)}


def sla_level(clock: Any, level: Any, at: datetime) -> dict:
    """An `sla.Clock` and the `sla.Level` it reached at `at`."""
    return {
        "ticket": ticket_summary(clock.ticket),
        "clock": {"id": clock.pk, "metric": clock.metric, "state": clock.state,
                  "due_at": _iso(clock.due_at)},
        "level": {"percent": level.percent, "colour": level.colour,
                  "breach": level.percent >= 100},
        "reached_at": _iso(at),
    }


def incident_update(update: Any) -> dict:
    """An `incidents.PublicUpdate` and its incident."""
    incident = update.incident
    base = settings.HELPDESK_BASE_URL
    return {
        "incident": {
            "id": incident.pk, "title": incident.title, "status": incident.status,
            "severity": {"level": incident.severity.level, "name": incident.severity.name},
            "is_public": incident.is_public, "declared_at": _iso(incident.declared_at),
            "resolved_at": _iso(incident.resolved_at),
            "url": base + reverse("incidents:room", args=[incident.pk]),
        },
        "update": {"id": update.pk, "kind": update.kind, "status": update.status,
                   "body": update.body, "created_at": _iso(update.created_at)},
    }
