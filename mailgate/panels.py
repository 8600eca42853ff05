"""The email delivery panel of the agent ticket page: failed or retrying replies."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tickets import panels

from .models import OutboundEmail, OutboundStatus


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


def register_all() -> None:
    panels.register(panels.Panel("mailgate", "mailgate/panel.html", context=panel_context,
                                 order=5, area="main"))
