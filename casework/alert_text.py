"""At-risk alert details in the reader's language.

The signal handlers store each alert's detail once, as a fixed English sentence around
the ticket reference, the phrase found or the ratings (the alert is the record a CSM and
a manager both read). The at-risk list, the voice-of-customer report and the CSM's
notification show it through `detail_text`; a detail it does not recognise (a note an
agent wrote) is shown as stored.
"""
from __future__ import annotations

import re

from django.utils.translation import gettext

_EXECUTIVE = re.compile(r"(?P<ticket>#\d+) tagged as an executive complaint")
_INCIDENT = re.compile(r"(?P<ticket>#\d+) is affected by a major incident")
_CHURN = re.compile(r"\u201c(?P<phrase>.*)\u201d in (?P<ticket>#\d+)", re.S)
_RATINGS = re.compile(r"Latest ratings, oldest first: (?P<ratings>.*)")
_CHAMPION = re.compile(r"(?P<note>.*) \(flagged by (?P<name>[^()]+)\)", re.S)


def detail_text(detail: str) -> str:
    """A stored alert detail as the reader's language says it."""
    if match := _EXECUTIVE.fullmatch(detail):
        return gettext("%(ticket)s tagged as an executive complaint") % match.groupdict()
    if match := _INCIDENT.fullmatch(detail):
        return gettext("%(ticket)s is affected by a major incident") % match.groupdict()
    if match := _CHURN.fullmatch(detail):
        return gettext("“%(phrase)s” in %(ticket)s") % match.groupdict()
    if match := _RATINGS.fullmatch(detail):
        return gettext("Latest ratings, oldest first: %(ratings)s") % match.groupdict()
    if match := _CHAMPION.fullmatch(detail):
        return gettext("%(note)s (flagged by %(name)s)") % match.groupdict()
    return detail
