"""The war room's timeline entries in the reader's language.

The services write the system's entries once, in the site's language (English), so every
reader sees the same record. This module recognises those fixed sentences and shows them
translated; what people wrote, and anything it does not recognise, is shown as stored.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from django.utils.translation import gettext, gettext_noop

from tickets.templatetags.helpdesk_tags import status_name


def _label(value: str) -> str:
    """A stored English label ("Investigating", "waiting on customer", "scribe")
    translated through its catalogue entry, which starts with a capital; as stored when
    the reader's language has no other word for it (English)."""
    word = value[:1].upper() + value[1:]
    translated = gettext(word)
    return value if translated == word else translated


def _nobody(value: str) -> str:
    return gettext(value) if value in ("nobody", "nobody assigned") else value


# What an escalation step did (`services.reminders._run_step`), after "Escalation +N min: ".
# The step's label and the people's names are data; a refused page's reason is kept as the
# on-call service gave it.
_STEP_OUTCOMES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(?P<label>.+?): no on-call rotation is configured\."),
     gettext_noop("%(label)s: no on-call rotation is configured.")),
    (re.compile(r"(?P<label>.+?): page refused \((?P<why>.*)\)\.", re.S),
     gettext_noop("%(label)s: page refused (%(why)s).")),
    (re.compile(r"(?P<label>.+?): paged (?P<name>.+) \((?P<rotation>[^()]+)\)\."),
     gettext_noop("%(label)s: paged %(name)s (%(rotation)s).")),
    (re.compile(r"(?P<label>.+?): nobody to notify\."),
     gettext_noop("%(label)s: nobody to notify.")),
    (re.compile(r"(?P<label>.+?): notified (?P<names>.+) and (?P<more>\d+) more\."),
     gettext_noop("%(label)s: notified %(names)s and %(more)s more.")),
    (re.compile(r"(?P<label>.+?): notified (?P<names>.+)\."),
     gettext_noop("%(label)s: notified %(names)s.")),
]


def _step_outcome(value: str) -> str:
    for pattern, text in _STEP_OUTCOMES:
        if match := pattern.fullmatch(value):
            return gettext(text) % match.groupdict()
    return value


# (stored sentence, catalogue text, how each group is translated)
_NOBODY = (gettext_noop("nobody"), gettext_noop("nobody assigned"))
_ROLES = "incident commander|technical lead|communications lead|scribe|subject-matter expert"
PATTERNS: list[tuple[re.Pattern[str], str, dict[str, Callable[[str], str]]]] = [
    (re.compile(r"Incident declared as (?P<severity>.+?) \(matrix: (?P<matrix>SEV\d)\)\. "
                r"Status: investigating\."),
     gettext_noop("Incident declared as %(severity)s (matrix: %(matrix)s). "
                  "Status: investigating."), {}),
    (re.compile(r"Incident declared as (?P<severity>.+?) \(matrix: (?P<matrix>SEV\d); "
                r"override: (?P<reason>.*)\)\. Status: investigating\.", re.S),
     gettext_noop("Incident declared as %(severity)s (matrix: %(matrix)s; override: "
                  "%(reason)s). Status: investigating."), {}),
    (re.compile(r"(?P<name>.+) is incident commander\."),
     gettext_noop("%(name)s is incident commander."), {}),
    (re.compile(r"Status: (?P<before>[A-Za-z ]+) → Resolved\. Linked tickets move to "
                r"(?P<status>[a-z ]+)\."),
     gettext_noop("Status: %(before)s → Resolved. Linked tickets move to %(status)s."),
     {"before": _label, "status": _label}),
    (re.compile(r"Status: (?P<before>[A-Za-z ]+) → (?P<after>[A-Za-z ]+)\.(?P<note>.*)", re.S),
     gettext_noop("Status: %(before)s → %(after)s.%(note)s"),
     {"before": _label, "after": _label}),
    (re.compile(r"Severity (?P<before>SEV\d) → (?P<after>SEV\d): (?P<reason>.*)", re.S),
     gettext_noop("Severity %(before)s → %(after)s: %(reason)s"), {}),
    (re.compile(r"Linked (?P<refs>.+?) and (?P<more>\d+) more\."),
     gettext_noop("Linked %(refs)s and %(more)s more."), {}),
    (re.compile(r"Linked (?P<refs>.+)\."), gettext_noop("Linked %(refs)s."), {}),
    (re.compile(r"Unlinked (?P<ref>\S+)\."), gettext_noop("Unlinked %(ref)s."), {}),
    (re.compile(r"Post-incident review completed\."),
     gettext_noop("Post-incident review completed."), {}),
    (re.compile(r"Post-incident review not written yet; reminded (?P<name>.+)\."),
     gettext_noop("Post-incident review not written yet; reminded %(name)s."),
     {"name": _nobody}),
    (re.compile(r"Resolution cascade: (?P<moved>\d+) tickets moved, (?P<skipped>\d+) skipped "
                r"\(see the linked tickets\)\."),
     gettext_noop("Resolution cascade: %(moved)s tickets moved, %(skipped)s skipped (see the "
                  "linked tickets)."), {}),
    (re.compile(r"Public update due at (?P<time>\d\d:\d\d) \((?P<severity>SEV\d): every "
                r"(?P<minutes>\d+) min\); reminded (?P<names>.+)\."),
     gettext_noop("Public update due at %(time)s (%(severity)s: every %(minutes)s min); "
                  "reminded %(names)s."), {"names": _nobody}),
    (re.compile(r"Escalation \+(?P<minutes>\d+) min: (?P<what>.*)", re.S),
     gettext_noop("Escalation +%(minutes)s min: %(what)s"), {"what": _step_outcome}),
    (re.compile(r"Public (?P<kind>initial notification|update|resolution): (?P<body>.*)",
                re.S),
     gettext_noop("Public %(kind)s: %(body)s"), {"kind": _label}),
    (re.compile(rf"(?P<name>.+) is no longer (?P<role>{_ROLES})\."),
     gettext_noop("%(name)s is no longer %(role)s."), {"role": _label}),
    (re.compile(rf"(?P<name>.+): (?P<role>{_ROLES})\."),
     gettext_noop("%(name)s: %(role)s."), {"role": _label}),
]


def entry_text(body: str) -> str:
    """A stored entry as the reader's language says it."""
    for pattern, text, translate in PATTERNS:
        if match := pattern.fullmatch(body):
            values = {k: translate.get(k, str)(v or "") for k, v in match.groupdict().items()}
            return gettext(text) % values
    return body


# Why the resolution cascade left a linked ticket as it was (`services.cascading`); a
# refused move keeps the state machine's own words.
_ALREADY = re.compile(r"already (?P<status>[a-z_]+)")


def link_note_text(note: str) -> str:
    """A linked ticket's stored cascade note as the reader's language says it."""
    if note == "ticket gone":
        return gettext("ticket gone")
    if match := _ALREADY.fullmatch(note):
        return gettext("already “%(status)s”") % {"status": status_name(match["status"])}
    return note


# `customer_mail.cascade_reason`: the reason on each ticket the resolution cascade moved,
# and its waiting reason when it moves to "waiting on customer" (the customer reads it).
_CASCADE_REASON = re.compile(r"(?P<incident>INC-\d+) resolved")


def ticket_note_text(note: str) -> str | None:
    """A ticket event's note (or waiting reason) this app wrote, translated; else None."""
    if match := _CASCADE_REASON.fullmatch(note):
        return gettext("%(incident)s resolved") % {"incident": match["incident"]}
    return None
