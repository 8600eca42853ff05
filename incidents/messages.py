"""Customer-facing message templates (initial notification, update, resolution)."""
from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

TEMPLATES: dict[str, Any] = {
    "initial": _(
        "We are currently experiencing an issue affecting {title}.\n\n"
        "Status: our team is actively investigating.\n"
        "Next update: within {cadence}.\n\n"
        "We apologise for the inconvenience and will keep you updated."
    ),
    "update": _(
        "Update on the issue affecting {title}.\n\n"
        "Status: {status}.\n"
        "Next update: within {cadence}."
    ),
    "resolution": _(
        "The issue affecting {title} has been resolved.\n\n"
        "Duration: {started} to {ended}.\n"
        "Resolution: \n\n"
        "We apologise for any inconvenience caused."
    ),
}


def _cadence(incident: Any) -> str:
    minutes = incident.severity.update_every_minutes
    if not minutes:
        return gettext("the resolution")
    if minutes < 120:
        return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}
    return ngettext("%(n)d hour", "%(n)d hours", minutes // 60) % {"n": minutes // 60}


def draft(kind: str, incident: Any) -> str:
    """The template of `kind` filled with the incident's figures, for the agent to edit, in
    the agent's language (the status in the case of its label)."""
    local = timezone.localtime
    ended = local(incident.resolved_at or timezone.now())
    return str(TEMPLATES[kind]).format(
        title=incident.title, status=incident.get_status_display(),
        cadence=_cadence(incident), started=f"{local(incident.declared_at):%Y-%m-%d %H:%M}",
        ended=f"{ended:%Y-%m-%d %H:%M %Z}",
    )


def as_reply(update: Any) -> str:
    """The reply posted on each linked ticket: the update and where to follow it."""
    text = f"**{update.incident.title}** ({update.get_kind_display()})\n\n{update.body}"
    if update.incident.is_public:
        url = reverse("status:incident", args=[update.incident_id])
        text += "\n\n" + gettext("Follow this incident on our status page: %(url)s") % {
            "url": url}
    return text
