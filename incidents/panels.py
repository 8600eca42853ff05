"""The incident panel of the agent ticket page: banner when linked, declare / link actions."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tickets import panels

from . import permissions, selectors


def panel_context(ticket: Any, request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    if not permissions.can_view(user):
        return None
    links = selectors.incident_links_for_ticket(ticket.pk)
    linked_ids = {link.incident_id for link in links}
    can_declare = permissions.can_declare(user)
    others = [i for i in selectors.open_incidents()[:20] if i.pk not in linked_ids] \
        if can_declare else []
    return {"incident_links": links, "open_incidents": others, "can_declare": can_declare}


def register_all() -> None:
    panels.register(panels.Panel("incidents", "incidents/panel.html", context=panel_context,
                                 order=5, area="main"))
