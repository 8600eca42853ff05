"""What the knowledge app adds to the portal's new-ticket form: suggested articles that
follow the subject and description as the customer types (htmx)."""
from __future__ import annotations

from django.http import HttpRequest
from django.template.loader import render_to_string

from tickets.views import portal


def suggestions_block(request: HttpRequest) -> str:
    return render_to_string("knowledge/_ticket_form_hook.html", {}, request)


def register_all() -> None:
    portal.register_new_ticket_extra(suggestions_block)
