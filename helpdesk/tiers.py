"""Support tier names in the reader's language, wherever a page shows a stored tier code."""
from __future__ import annotations

from django.utils.translation import gettext, gettext_noop

from .models import SupportTier

# The labels of SupportTier, marked for the catalogue where pages show them.
TIER_WORDS: dict[str, str] = {
    SupportTier.ENTERPRISE: gettext_noop("Enterprise"),
    SupportTier.BUSINESS: gettext_noop("Business"),
    SupportTier.PROFESSIONAL: gettext_noop("Professional"),
    SupportTier.STARTER: gettext_noop("Starter"),
    SupportTier.FREE: gettext_noop("Free"),
}


def tier_label(value: str) -> str:
    """"free" -> "Free" (German: "Kostenlos"); an unknown code as is."""
    word = TIER_WORDS.get(value)
    return gettext(word) if word else value
