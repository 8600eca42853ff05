"""When a ticket is due to be answered, as told by whichever app owns the clocks.

`tickets` knows no SLA: the app that does registers a provider in its ready(), and
apps that tell customers (the e-mail notices) ask here without importing it.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

Provider = Callable[[int], datetime | None]
_first_response: list[Provider] = []


def register_first_response_due(provider: Provider) -> None:
    if provider not in _first_response:
        _first_response.append(provider)


def first_response_due(ticket_id: int) -> datetime | None:
    """The due time of the ticket's first answer, or None (no clock, already answered)."""
    for provider in _first_response:
        due = provider(ticket_id)
        if due is not None:
            return due
    return None
