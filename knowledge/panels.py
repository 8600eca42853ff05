"""The knowledge panel of the agent ticket page: articles suggested from the ticket's
subject and description, a search box, "insert link into reply", flag an article, and
"draft an article from this resolved ticket"."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tickets import panels


def panel_context(ticket: Any, request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    if not (user.is_authenticated and user.is_agent):
        return None
    # The suggestions load with htmx after the page, so they never slow the ticket page.
    return {
        "can_draft": ticket.status in ("resolved", "closed")
        and user.has_perm("knowledge.change_article"),
    }


def register_all() -> None:
    panels.register(panels.Panel("knowledge", "knowledge/panel.html", context=panel_context,
                                 order=30, area="side"))
