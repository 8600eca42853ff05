"""Surveys follow the tickets' domain events, and add a satisfaction panel to the ticket page.

`connect()` is called from TicketsConfig.ready(). A resolution schedules its survey;
the handler is safe to run twice (one survey per ticket resolution).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest

from . import events, panels
from .models import Survey, Ticket
from .state_machine import Status


def on_status_changed(event: events.StatusChanged) -> None:
    if event.after != Status.RESOLVED:
        return
    from . import surveys

    ticket = Ticket.objects.filter(pk=event.ticket_id).first()
    if ticket is not None:
        surveys.schedule_survey(ticket, resolved_at=event.at)


def on_statuses_changed(batch: Sequence[events.StatusChanged]) -> None:
    """Resolutions written together (an incident's cascade): their surveys set-wise."""
    from . import surveys

    surveys.schedule_surveys([(e.ticket_id, e.at) for e in batch
                              if e.after == Status.RESOLVED])


def panel_context(ticket: Any, request: HttpRequest) -> dict[str, Any] | None:
    """Agents see the ticket's surveys: latest answer first, with rating, NPS and comment."""
    user = request.user
    if not (user.is_authenticated and user.is_agent):
        return None
    survey_list = list(Survey.objects.filter(ticket=ticket)
                       .select_related("follow_up").order_by("-resolution")[:5])
    if not survey_list:
        return None
    answered = [s for s in survey_list if s.rating is not None]
    return {"surveys": survey_list, "latest_answer": answered[0] if answered else None}


def connect() -> None:
    events.subscribe(events.StatusChanged, on_status_changed, deferred=True,
                     many=on_statuses_changed)
    panels.register(panels.Panel("satisfaction", "tickets/surveys/panel.html",
                                 context=panel_context, order=40))
