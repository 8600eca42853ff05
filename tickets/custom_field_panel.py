"""The custom fields card of the agent ticket page (a panel, so the page's template does
not change): every field that applies or has a value, shown and editable."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from . import field_definitions, panels
from .forms_custom import CustomFieldsForm
from .models import Ticket


def edit_form(ticket: Ticket, data: Any = None, *,
              shown: list[field_definitions.Shown] | None = None) -> CustomFieldsForm:
    """Every field the card shows, none required (agents may leave any empty)."""
    if shown is None:
        shown = field_definitions.shown_values(ticket, customer=False)
    return CustomFieldsForm(data, asked=[(s.field, False) for s in shown],
                            values=ticket.custom_fields)


def panel_context(ticket: Ticket, request: HttpRequest) -> dict[str, Any] | None:
    shown = field_definitions.shown_values(ticket, customer=False)
    if not shown:
        return None
    return {"custom_values": shown, "custom_form": edit_form(ticket, shown=shown)}


def connect() -> None:
    panels.register(panels.Panel("custom_fields", "tickets/agent/_custom_fields.html",
                                 context=panel_context, order=5))
