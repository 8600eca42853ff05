"""Domain events: what happened to a ticket, dispatched after the transaction commits.

Apps above `tickets` subscribe in their AppConfig.ready(); `tickets` never imports them.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TicketEvent:
    ticket_id: int
    actor_id: int | None
    at: datetime


@dataclass(frozen=True)
class TicketCreated(TicketEvent):
    pass


@dataclass(frozen=True)
class PublicReply(TicketEvent):
    message_id: int
    by_agent: bool


@dataclass(frozen=True)
class StatusChanged(TicketEvent):
    before: str
    after: str


@dataclass(frozen=True)
class PriorityChanged(TicketEvent):
    before: int
    after: int


@dataclass(frozen=True)
class Assigned(TicketEvent):
    assignee_id: int | None
    team_id: int | None


@dataclass(frozen=True)
class TagsChanged(TicketEvent):
    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True)
class Escalated(TicketEvent):
    escalation_id: int


@dataclass(frozen=True)
class Merged(TicketEvent):
    into_id: int


@dataclass(frozen=True)
class Reopened(TicketEvent):
    pass


@dataclass(frozen=True)
class AssigneeChanged(TicketEvent):
    """The ticket went from one assignee to another (either may be None)."""

    before_id: int | None
    after_id: int | None
    record_id: int  # the audit row, so each change has its own identity


@dataclass(frozen=True)
class NoteAdded(TicketEvent):
    """An internal note written by an agent (never by the system)."""

    message_id: int


E = TypeVar("E", bound=TicketEvent)
Handler = Callable[[TicketEvent], None]
_handlers: dict[type[TicketEvent], list[Handler]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)  # type: ignore[arg-type]


def unsubscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    if handler in _handlers[event_type]:
        _handlers[event_type].remove(handler)  # type: ignore[arg-type]


def dispatch(event: TicketEvent) -> None:
    """Call every handler now; one failing handler does not stop the others."""
    for handler in list(_handlers[type(event)]):
        try:
            handler(event)
        except Exception:
            logger.exception("Handler %r failed for %r", handler, event)


def emit(event: TicketEvent) -> None:
    """Dispatch once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: dispatch(event))
