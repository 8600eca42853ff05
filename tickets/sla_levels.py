"""Words for the SLA level colours of `Ticket.sla_level` (a column the sla app writes),
so the colour is never the only signal."""
from __future__ import annotations

from django.utils.translation import gettext, gettext_noop

LEVEL_WORDS = {
    "yellow": gettext_noop("on watch"), "orange": gettext_noop("at risk"),
    "red": gettext_noop("near breach"), "breach": gettext_noop("breached"),
    "severe": gettext_noop("severe breach"),
}


def sla_level_label(level: str) -> str:
    word = LEVEL_WORDS.get(level, "")
    return gettext(word) if word else ""
