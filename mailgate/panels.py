"""Panels of the agent ticket page: failed or retrying replies, and bouncing addresses."""
from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.http import HttpRequest
from django.utils.translation import gettext

from tickets import panels

from .models import BounceMark, CustomerMailPreference, OutboundEmail, OutboundStatus


def panel_context(ticket: Any, request: HttpRequest) -> dict[str, Any] | None:
    """Shown to agents only while some e-mail of the ticket failed or waits for a retry."""
    user = request.user
    if not (user.is_authenticated and user.is_agent):
        return None
    problems = list(OutboundEmail.objects.filter(ticket=ticket, kind="reply")
                    .filter(status__in=[OutboundStatus.FAILED, OutboundStatus.QUEUED])
                    .exclude(status=OutboundStatus.QUEUED, attempts=0)
                    .order_by("-created_at", "-pk")[:10])
    if not problems:
        return None
    return {"mail_problems": problems}


def ticket_addresses(ticket: Any) -> list[str]:
    """The requester's and CCs' addresses (both prefetched on the ticket page)."""
    people = [ticket.requester, *ticket.ccs.all()]
    return [p.email.lower() for p in people if p is not None and p.email]


def opted_out(ticket: Any) -> list[dict[str, Any]]:
    """The ticket's people who turned some customer e-mail off, and what they miss."""
    people = {p.pk: p for p in [ticket.requester, *ticket.ccs.all()] if p is not None}
    rows = []
    for pref in CustomerMailPreference.objects.filter(user_id__in=people).order_by("user_id"):
        if not pref.all_email:
            off = [gettext("all e-mail")]
        else:
            off = [label for field, label in (("status_updates", gettext("status updates")),
                                              ("reminders", gettext("reminders")),
                                              ("incident_updates", gettext("incident updates")))
                   if not getattr(pref, field)]
        if off:
            person = people[pref.user_id]
            rows.append({"person": person, "email": person.email, "off": off,
                         "all_off": not pref.all_email})
    return rows


def bounce_context(ticket: Any, request: HttpRequest) -> dict[str, Any] | None:
    """Shown to agents while the requester's or a CC's address is marked as bouncing, or
    someone of the ticket turned (some) customer e-mail off."""
    user = request.user
    if not (user.is_authenticated and user.is_agent):
        return None
    addresses = ticket_addresses(ticket)
    if not addresses:
        return None
    marks = list(BounceMark.objects.filter(address__in=addresses, cleared_at__isnull=True)
                 .annotate(held_count=Count("held")).order_by("address"))
    unsubscribed = opted_out(ticket)
    if not marks and not unsubscribed:
        return None
    return {"bounce_marks": marks, "unsubscribed": unsubscribed}


def register_all() -> None:
    panels.register(panels.Panel("mailgate", "mailgate/panel.html", context=panel_context,
                                 order=5, area="main"))
    panels.register(panels.Panel("mailgate-bounces", "mailgate/bounce_panel.html",
                                 context=bounce_context, order=4, area="main"))
