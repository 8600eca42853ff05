"""Panels of the agent ticket page: failed or retrying replies, and bouncing addresses."""
from __future__ import annotations

from typing import Any

from django.db.models import Count
from django.http import HttpRequest

from tickets import panels

from .models import BounceMark, OutboundEmail, OutboundStatus


def panel_context(ticket: Any, request: HttpRequest) -> dict[str, Any] | None:
    """Shown to agents only while some e-mail of the ticket failed or waits for a retry."""
    user = request.user
    if not (user.is_authenticated and user.is_agent) or ticket.channel != "email":
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


def bounce_context(ticket: Any, request: HttpRequest) -> dict[str, Any] | None:
    """Shown to agents while the requester's or a CC's address is marked as bouncing."""
    user = request.user
    if not (user.is_authenticated and user.is_agent):
        return None
    addresses = ticket_addresses(ticket)
    if not addresses:
        return None
    marks = list(BounceMark.objects.filter(address__in=addresses, cleared_at__isnull=True)
                 .annotate(held_count=Count("held")).order_by("address"))
    return {"bounce_marks": marks} if marks else None


def register_all() -> None:
    panels.register(panels.Panel("mailgate", "mailgate/panel.html", context=panel_context,
                                 order=5, area="main"))
    panels.register(panels.Panel("mailgate-bounces", "mailgate/bounce_panel.html",
                                 context=bounce_context, order=4, area="main"))
