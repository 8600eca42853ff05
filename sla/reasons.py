"""SLA clock event reasons in the reader's language.

The clock services (and the seeded history) store each event's reason once, in English
("ticket created", "75% of the target elapsed", "customer replied (after breach)"): the
SLA history is the record a dispute is settled on and reads the same for every reader.
The ticket page's SLA panel and the paused-time report show it through `reason_text`;
what people wrote (waiting reasons, exemption reasons) is shown as stored.
"""
from __future__ import annotations

import re
from functools import cache

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext, pgettext_lazy

from tickets.templatetags.helpdesk_tags import status_name
from tickets.timeline import note_text

# Their catalogue entries carry a context: short words such as "resolved" or "completed"
# mean something else elsewhere. Looked up by their English text (`_fixed_reasons`).
_FIXED_REASONS = (
    pgettext_lazy("SLA clock", "ticket created"),
    pgettext_lazy("SLA clock", "first public agent reply"),
    pgettext_lazy("SLA clock", "agent replied"),
    pgettext_lazy("SLA clock", "agent update"),
    pgettext_lazy("SLA clock", "customer replied"),
    pgettext_lazy("SLA clock", "ticket resolved"),
    pgettext_lazy("SLA clock", "ticket closed"),
    pgettext_lazy("SLA clock", "ticket reopened"),
    pgettext_lazy("SLA clock", "status changed"),
    pgettext_lazy("SLA clock", "team changed"),
    pgettext_lazy("SLA clock", "tags changed"),
    pgettext_lazy("SLA clock", "target passed"),
    pgettext_lazy("SLA clock", "target passed (found by the clock repair)"),
    pgettext_lazy("SLA clock", "no SLA policy matches"),
    pgettext_lazy("SLA clock", "waiting on customer"),
    pgettext_lazy("SLA clock", "waiting on third party"),
    # the seeded history's words
    pgettext_lazy("SLA clock", "waiting on the customer"),
    pgettext_lazy("SLA clock", "waiting on a third party"),
    pgettext_lazy("SLA clock", "target reached"),
    pgettext_lazy("SLA clock", "first response"),
    pgettext_lazy("SLA clock", "resolved"),
    pgettext_lazy("SLA clock", "completed"),
)


@cache
def _fixed_reasons() -> dict[str, Promise]:
    with translation.override(None):
        return {str(text): text for text in _FIXED_REASONS}


_AFTER_BREACH = re.compile(r"(?P<reason>.*) \(after breach\)", re.S)
_TARGET_PASSED = re.compile(r"target passed \((?P<reason>.*)\)", re.S)
_ELAPSED = re.compile(r"(?P<percent>\d+)% of the target elapsed(?: \((?P<note>.*)\))?", re.S)
_MERGED = re.compile(r"merged into (?P<ticket>#\d+)")
_PRIORITY = re.compile(r"priority changed from P(?P<before>\d) to P(?P<after>\d)")
_STATUS = re.compile(r"status: (?P<status>[a-z_]+)")
_NOT_APPLICABLE = re.compile(r"not applicable: (?P<reason>.*)", re.S)
_CORRECTED = re.compile(r"corrected: (?P<why>.*)", re.S)


def reason_text(reason: str) -> str:
    """A stored clock event reason as the reader's language says it."""
    if (fixed := _fixed_reasons().get(reason)) is not None:
        return str(fixed)
    if match := _AFTER_BREACH.fullmatch(reason):
        return gettext("%(reason)s (after breach)") % {"reason": reason_text(match["reason"])}
    if match := _TARGET_PASSED.fullmatch(reason):
        return gettext("target passed (%(reason)s)") % {"reason": reason_text(match["reason"])}
    if match := _ELAPSED.fullmatch(reason):
        text = gettext("%(percent)s%% of the target elapsed") % {"percent": match["percent"]}
        return f"{text} ({match['note']})" if match["note"] is not None else text
    if match := _MERGED.fullmatch(reason):
        return gettext("merged into %(ticket)s") % {"ticket": match["ticket"]}
    if match := _PRIORITY.fullmatch(reason):
        return gettext("priority changed from P%(before)s to P%(after)s") % match.groupdict()
    if match := _STATUS.fullmatch(reason):
        return gettext("status: %(status)s") % {"status": status_name(match["status"])}
    if match := _NOT_APPLICABLE.fullmatch(reason):
        return gettext("not applicable: %(reason)s") % {"reason": reason_text(match["reason"])}
    if match := _CORRECTED.fullmatch(reason):
        return gettext("corrected: %(why)s") % {"why": match["why"]}
    return note_text(reason)  # a waiting reason the system wrote ("INC-27 resolved")
