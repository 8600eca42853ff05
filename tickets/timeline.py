"""Words of the ticket timeline in the reader's language.

The audit rows keep what they stored (kind codes, field names, fixed English notes such as
"message 12"); the timeline translates them when it shows them, so the trail itself never
changes with the language of whoever wrote it.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from django.utils import translation
from django.utils.translation import gettext, gettext_noop, ngettext

from helpdesk.models import AssignmentStrategy

from .models import EventKind
from .state_machine import LABELS, Status

# The `field` names the services write (custom fields are "custom:<key>").
FIELD_WORDS: dict[str, str] = {
    "status": gettext_noop("Status"), "priority": gettext_noop("Priority"),
    "assignee": gettext_noop("Assignee"), "team": gettext_noop("Team"),
    "tags": gettext_noop("Tags"), "subject": gettext_noop("Subject"),
    "category": gettext_noop("Category"), "product_area": gettext_noop("Product area"),
    "merged_into": gettext_noop("Merged into"), "merged_from": gettext_noop("Merged from"),
    "trigger": gettext_noop("Trigger"),
}

_MESSAGE_NOTE = re.compile(r"message (\d+)")
_CARRIED_NOTE = re.compile(r"(\d+) messages carried over")
_DUPLICATE_NOTE = re.compile(r"duplicate of (#\d+)")
# `rules.engine.describe`: the kind word is ours, the rule's name is what the admin typed.
_RULE_NOTE = re.compile(r"(Trigger|Automation) \u201c(.*)\u201d", re.S)

# The reasons and notes the services (and the seeded history) store as they are, each a
# catalogue entry of its own. Kept here rather than translated where they are written: the
# audit row must read the same whoever wrote it, and the reader's language is known only
# when the timeline is shown (the agent ticket page, the QA review page).
FIXED_NOTES: frozenset[str] = frozenset({
    gettext_noop("no change"),
    gettext_noop("unassigned"),
    gettext_noop("customer replied"),
    gettext_noop("customer replied after resolution"),
    gettext_noop("marked as solved by the customer"),
    gettext_noop("escalated to another tier"),
    gettext_noop("escalation returned"),
    gettext_noop("escalation returned for missing context"),
    gettext_noop("closed automatically"),
    gettext_noop("closed from the admin"),
    gettext_noop("assigned by team strategy"),
})


# What a trigger or automation changed (`rules`: "priority → P1; tags + vip; notified 2"),
# stored on its "rule" audit row; each part is read on its own, names and values as stored.
_RULE_CHANGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"priority \u2192 P(?P<number>\d)"), gettext_noop("priority → P%(number)s")),
    (re.compile(r"team \u2192 (?P<name>.+)"), gettext_noop("team → %(name)s")),
    (re.compile(r"category \u2192 (?P<name>.+)"), gettext_noop("category → %(name)s")),
    (re.compile(r"product area \u2192 (?P<name>.+)"), gettext_noop("product area → %(name)s")),
    (re.compile(r"assignee \u2192 nobody"), gettext_noop("assignee → nobody")),
    (re.compile(r"assignee \u2192 (?P<name>.+)"), gettext_noop("assignee → %(name)s")),
    (re.compile(r"tags \+ (?P<names>.+)"), gettext_noop("tags + %(names)s")),
    (re.compile(r"tags \u2212 (?P<names>.+)"), gettext_noop("tags − %(names)s")),
    (re.compile(r"custom fields: (?P<values>.+)"), gettext_noop("custom fields: %(values)s")),
    (re.compile(r"internal note"), gettext_noop("internal note")),
]
_RULE_STATUS = re.compile(r"status \u2192 (?P<status>[a-z_]+)")
_RULE_NOTIFIED = re.compile(r"notified (?P<num>\d+)")


def _rule_change(part: str) -> str | None:
    if match := _RULE_STATUS.fullmatch(part):
        try:
            status = gettext(LABELS[Status(match["status"])])
        except ValueError:
            return None
        return gettext("status → %(status)s") % {"status": status}
    if match := _RULE_NOTIFIED.fullmatch(part):
        num = int(match["num"])
        return ngettext("notified %(num)s person", "notified %(num)s people", num) % {
            "num": num}
    for pattern, text in _RULE_CHANGES:
        if match := pattern.fullmatch(part):
            return gettext(text) % match.groupdict()
    return None


def _rule_changes(note: str) -> str | None:
    """A rule row's list of changes translated, or None unless every part is one."""
    parts = [_rule_change(part) for part in note.split("; ")]
    return None if None in parts else "; ".join(parts)  # type: ignore[arg-type]


# Apps above tickets store fixed reasons of their own on ticket events and waiting reasons
# (incidents: "INC-27 resolved"). They register how to read them, in their `ready()`, as
# they register panels: a reader returns the note in the reader's language, or None.
NoteReader = Callable[[str], str | None]
_note_readers: list[NoteReader] = []


def register_note_reader(reader: NoteReader) -> None:
    if reader not in _note_readers:
        _note_readers.append(reader)


@cache
def _strategy_by_label() -> dict[str, AssignmentStrategy]:
    """The English labels of the assignment strategies: `create_ticket` stores the team's
    strategy as the reason of the automatic "assigned" step."""
    with translation.override(None):
        return {str(s.label): s for s in AssignmentStrategy}


def kind_label(kind: str) -> str:
    """"note" -> "Internal note" in the reader's language; an unknown code as is."""
    try:
        return str(EventKind(kind).label)
    except ValueError:
        return kind


def field_label(field: str) -> str:
    """"assignee" -> "Assignee"; "custom:plan" -> "plan" (its label is the row's note)."""
    if field.startswith("custom:"):
        return field.removeprefix("custom:")
    word = FIELD_WORDS.get(field)
    return gettext(word) if word else field


def note_text(note: str) -> str:
    """The fixed notes the services store, translated; anything people wrote, as is."""
    if match := _MESSAGE_NOTE.fullmatch(note):
        return gettext("message %(id)s") % {"id": match[1]}
    if match := _CARRIED_NOTE.fullmatch(note):
        count = int(match[1])
        return ngettext("%(num)s message carried over", "%(num)s messages carried over",
                        count) % {"num": count}
    if match := _DUPLICATE_NOTE.fullmatch(note):
        return gettext("duplicate of %(reference)s") % {"reference": match[1]}
    if match := _RULE_NOTE.fullmatch(note):
        text = (gettext_noop("Trigger “%(name)s”") if match[1] == "Trigger"
                else gettext_noop("Automation “%(name)s”"))
        return gettext(text) % {"name": match[2]}
    if note in FIXED_NOTES:
        return gettext(note)
    if strategy := _strategy_by_label().get(note):
        return str(strategy.label)
    if (changes := _rule_changes(note)) is not None:
        return changes
    for reader in _note_readers:
        if (text := reader(note)) is not None:
            return text
    return note


def value_text(field: str, value: str) -> str:
    """A before/after value: a custom checkbox's stored "Yes"/"No" translated."""
    if field.startswith("custom:") and value in ("Yes", "No"):
        return gettext(value)
    return value
