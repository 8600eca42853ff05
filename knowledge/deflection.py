"""What counts as a deflected help-center visit. Pure rules, no Django.

A visit is followed from its first search to article views, votes and any ticket it files.

- deflected: the reader said "this solved my problem", or viewed at least one article
  and filed no ticket within the attribution window after their last help-center activity;
- ticket: a ticket was filed within the window (attributed to the visit);
- no answer: no article viewed, no ticket, window over (the reader gave up or went
  elsewhere: not counted as deflected);
- pending: the window is still open; left out of the rate until it closes.

Deflection rate = deflected ÷ (deflected + ticket + no answer). The rule itself runs in
SQL (knowledge/selectors.py), over every visit at once.
"""
from __future__ import annotations

from django.utils.translation import gettext_noop

DEFLECTED, TICKET, NO_ANSWER, PENDING = "deflected", "ticket", "no_answer", "pending"

DEFINITION = gettext_noop(
    "A help-center visit (anonymous cookie or signed-in user) counts as deflected when the "
    "reader clicked “this solved my problem”, or viewed at least one article and filed no "
    "ticket within the attribution window (%(window)s) after their last help-center activity. "
    "A visit followed by a ticket within the window is not deflected; a visit that viewed no "
    "article is not deflected either. Visits whose window is still open are left out until it "
    "closes. Deflection rate = deflected ÷ decided visits; tickets saved = deflected visits; "
    "cost saved = tickets saved × cost per ticket (%(cost)s)."
)


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None
