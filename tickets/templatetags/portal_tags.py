"""Template filters for the customer portal: status in customer words, safe Markdown."""
from __future__ import annotations

from django import template
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from tickets.rendering import render_markdown
from tickets.state_machine import Status

register = template.Library()

# Customers do not need our internal workflow: several statuses read the same to them.
# Each entry: (group used for styling, label, one-line explanation).
CUSTOMER_STATUS: dict[Status, tuple[str, str, str]] = {
    Status.NEW: (
        "received", _("Received"), _("We have received your request and will reply soon.")
    ),
    Status.TRIAGED: (
        "received", _("Received"), _("We have received your request and will reply soon.")
    ),
    Status.ASSIGNED: ("progress", _("In progress"), _("Our support team is working on it.")),
    Status.IN_PROGRESS: ("progress", _("In progress"), _("Our support team is working on it.")),
    Status.ESCALATED: ("progress", _("In progress"), _("Our support team is working on it.")),
    Status.ENGINEERING: (
        "progress", _("In progress"), _("Our engineers are looking into it.")
    ),
    Status.WAITING_ON_THIRD_PARTY: (
        "progress", _("In progress"), _("We are waiting on a partner and will update you.")
    ),
    Status.WAITING_ON_CUSTOMER: (
        "waiting", _("Awaiting your reply"), _("We need more information from you to continue.")
    ),
    Status.RESOLVED: (
        "solved", _("Solved"),
        _("We believe this is solved. Reply or reopen it if the problem is still there."),
    ),
    Status.CLOSED: ("closed", _("Closed"), _("This request is closed.")),
}


def _entry(status: str) -> tuple[str, str, str]:
    try:
        return CUSTOMER_STATUS[Status(status)]
    except ValueError:
        return ("received", str(status), "")


@register.filter
def customer_status(status: str) -> str:
    """The status as a customer reads it ("Awaiting your reply", not "waiting_on_customer")."""
    return str(_entry(status)[1])


@register.filter
def customer_status_group(status: str) -> str:
    return _entry(status)[0]


@register.filter
def customer_status_help(status: str) -> str:
    return str(_entry(status)[2])


@register.filter
def portal_markdown(text: str) -> SafeString:
    """Markdown rendered without raw HTML and sanitised (tickets.rendering)."""
    return render_markdown(text)
