"""Settings of the knowledge app, read from Django settings with defaults.

- KNOWLEDGE_COST_PER_TICKET (default 15.0): cost of one ticket, for "cost saved".
- KNOWLEDGE_CURRENCY (default "$").
- KNOWLEDGE_ATTRIBUTION_WINDOW_HOURS (default 24): a visit that viewed an article and
  filed no ticket within this many hours of its last help-center activity is deflected.
- KNOWLEDGE_SEARCH_BACKEND (default: by database vendor): "postgresql" or "sqlite".
"""
from __future__ import annotations

from datetime import timedelta

from django.conf import settings


def cost_per_ticket() -> float:
    return float(getattr(settings, "KNOWLEDGE_COST_PER_TICKET", 15.0))


def currency() -> str:
    return str(getattr(settings, "KNOWLEDGE_CURRENCY", "$"))


def attribution_window() -> timedelta:
    return timedelta(hours=float(getattr(settings, "KNOWLEDGE_ATTRIBUTION_WINDOW_HOURS", 24)))


def search_backend_name() -> str | None:
    return getattr(settings, "KNOWLEDGE_SEARCH_BACKEND", None)
