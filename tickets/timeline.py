"""Words of the ticket timeline in the reader's language.

The audit rows keep what they stored (kind codes, field names, fixed English notes such as
"message 12"); the timeline translates them when it shows them, so the trail itself never
changes with the language of whoever wrote it.
"""
from __future__ import annotations

import re

from django.utils.translation import gettext, gettext_noop, ngettext

from .models import EventKind

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
    if note == "no change":
        return gettext("no change")
    return note


def value_text(field: str, value: str) -> str:
    """A before/after value: a custom checkbox's stored "Yes"/"No" translated."""
    if field.startswith("custom:") and value in ("Yes", "No"):
        return gettext(value)
    return value
