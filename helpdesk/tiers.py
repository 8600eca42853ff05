"""Support tier names in the reader's language, wherever a page shows a stored tier code."""
from __future__ import annotations

from .models import SupportTier


def tier_label(value: str) -> str:
    """"free" -> "Free" (German: "Kostenlos"); an unknown code as is."""
    try:
        return str(SupportTier(value).label)
    except ValueError:
        return value
