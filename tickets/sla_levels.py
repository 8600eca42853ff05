"""Words for the SLA level colours of `Ticket.sla_level` (a column the sla app writes),
so the colour is never the only signal."""
from __future__ import annotations

LEVEL_WORDS = {
    "yellow": "on watch", "orange": "at risk", "red": "near breach",
    "breach": "breached", "severe": "severe breach",
}


def sla_level_label(level: str) -> str:
    return LEVEL_WORDS.get(level, "")
