"""Constants and helpers shared by the sections of the incidents services."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation

from helpdesk.models import User
from tickets.state_machine import Status as TicketStatus

from ..models import (
    EntryKind,
    Fire,
    Incident,
    Severity,
    TimelineEntry,
)

# Tickets per chunk: each chunk is one transaction holding those tickets' row locks; its
# rows are written set-wise (a few statements per chunk), which keeps it well under a
# second at 200, and a worker killed mid-run loses at most one chunk's work.
CHUNK = 200


REVIEW_REMINDER_EVERY = timedelta(days=1)


RESOLVE_TARGETS = (TicketStatus.RESOLVED.value, TicketStatus.WAITING_ON_CUSTOMER.value)


MANUAL_KINDS = (EntryKind.NOTE, EntryKind.DECISION, EntryKind.ACTION)


MAX_ROLE_RECIPIENTS = 50


def _check(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def site_label(label: Any) -> str:
    """A choice label in the site's language: timeline entries are stored and read by every
    agent, whatever language the one who caused them reads."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(label)


def _entry(incident: Incident, kind: str, body: str, *, actor: User | None = None,
           at: datetime | None = None) -> TimelineEntry:
    return TimelineEntry.objects.create(incident=incident, kind=kind, body=body[:5000],
                                        author=actor, created_at=at or timezone.now())


def _lock(incident: Incident | int) -> Incident:
    pk = incident.pk if isinstance(incident, Incident) else incident
    return Incident.objects.select_for_update().select_related("severity").get(pk=pk)


def _fire(incident: Incident, key: str, at: datetime) -> bool:
    """Record that `key` fired; False if it already had (a retry or a second worker)."""
    try:
        with transaction.atomic():
            Fire.objects.create(incident=incident, key=key, created_at=at)
    except IntegrityError:
        return False
    return True


def _cadence(sev: Severity) -> timedelta | None:
    return timedelta(minutes=sev.update_every_minutes) if sev.update_every_minutes else None


def _next_escalation(incident: Incident) -> datetime | None:
    fired = set(incident.fires.filter(key__startswith="escalation:")
                .values_list("key", flat=True))
    for step in incident.severity.steps.order_by("after_minutes", "pk"):
        if f"escalation:{step.pk}" not in fired:
            return incident.declared_at + timedelta(minutes=step.after_minutes)
    return None


def _room_url(incident: Incident) -> str:
    return reverse("incidents:room", args=[incident.pk])


@dataclass
class FanOutStats:
    """Figures of a fan-out or cascade run, for the benchmark and the logs."""

    chunks: int = 0
    delivered: int = 0
    skipped: int = 0
    # A chunk's transaction: from BEGIN to COMMIT (what holds row locks).
    max_transaction_seconds: float = 0.0
    # The whole chunk, including the ticket-event handlers that run after commit
    # (SLA clocks, outbound e-mail): what the worker spends per chunk.
    max_chunk_seconds: float = 0.0
    chunk_seconds: list[float] = field(default_factory=list)

    def add(self, *, started: float, committed: list[float], done: int, skipped: int) -> None:
        ended = time.perf_counter()
        self.chunks += 1
        self.delivered += done
        self.skipped += skipped
        self.chunk_seconds.append(ended - started)
        self.max_chunk_seconds = max(self.max_chunk_seconds, ended - started)
        commit = committed[0] if committed else ended
        self.max_transaction_seconds = max(self.max_transaction_seconds, commit - started)


def _commit_clock() -> list[float]:
    """A list that gets the commit instant: our hook is the first one registered."""
    marks: list[float] = []
    transaction.on_commit(lambda: marks.append(time.perf_counter()))
    return marks
