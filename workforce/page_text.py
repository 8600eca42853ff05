"""On-call page reasons and override reasons in the reader's language.

A Page keeps the reason it was sent with, as the system wrote it (English), so the log of
a rotation reads the same for every reader and a retry finds the same row. The rotation
page and the paged person's notification show it through `reason_text`, which recognises
the fixed sentences and translates them; the ticket subjects, incident titles and
anything people typed stay as written.
"""
from __future__ import annotations

import re

from django.utils.translation import gettext

# A ticket's escalation paging the receiving team's on-call person (the seeded history).
_TICKET_ESCALATED = re.compile(r"P(?P<priority>\d) escalated: (?P<subject>.*)", re.S)
# `services.oncall.escalate`: the next step of a chain; the first page's reason follows.
_NOT_ACKNOWLEDGED = re.compile(
    r"Escalated \(not acknowledged after (?P<minutes>\d+) min\): (?P<reason>.*)", re.S)
# `services.oncall.swap_turns` when the manager gave no reason.
_SWAP = re.compile(r"Swap between (?P<first>.+) and (?P<second>.+)", re.S)


def escalated_reason(priority: int, subject: str) -> str:
    """The stored reason of a page for a ticket escalated at `priority` (never translated)."""
    return f"P{priority} escalated: {subject}"


def reason_text(reason: str) -> str:
    """A page's stored reason as the reader's language says it."""
    if match := _NOT_ACKNOWLEDGED.fullmatch(reason):
        return gettext(
            "Escalated (not acknowledged after %(minutes)s min): %(reason)s") % {
            "minutes": match["minutes"], "reason": reason_text(match["reason"])}
    if match := _TICKET_ESCALATED.fullmatch(reason):
        return gettext("P%(priority)s escalated: %(subject)s") % {
            "priority": match["priority"], "subject": match["subject"]}
    return reason


def override_reason_text(reason: str) -> str:
    """An override's stored reason: the swap's default sentence translated, else as typed."""
    if match := _SWAP.fullmatch(reason):
        return gettext("Swap between %(first)s and %(second)s") % {
            "first": match["first"], "second": match["second"]}
    return reason
