"""The SLA panel of the agent ticket page: the ticket's clocks, their history, exemption."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from tickets import panels

from . import selectors


def panel_context(ticket: Any, request: HttpRequest) -> dict[str, Any] | None:
    """Clocks with live figures and the SLA audit trail; hidden when the ticket has none."""
    user = request.user
    if not (user.is_authenticated and user.is_agent):
        return None
    now = timezone.now()
    clocks = selectors.ticket_clocks(ticket, now=now)
    if not clocks:  # clock events exist only for clocks
        return None
    events = list(selectors.ticket_clock_events(ticket))
    return {
        "now": now,
        "sla_clocks": clocks,
        "sla_events": events,
        "exemptable": [c for c in clocks if c.is_active],
    }


def register_all() -> None:
    """Called from SlaConfig.ready(): the panel sits at the top of the ticket's main column."""
    panels.register(panels.Panel("sla", "sla/panel.html", context=panel_context, order=10,
                                 area="main"))
