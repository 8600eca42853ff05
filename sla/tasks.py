"""SLA jobs for Celery: thin, idempotent wrappers around the escalation service."""
from __future__ import annotations

from celery import shared_task

from . import escalation

# One run handles at most MAX_ROUNDS × BATCH clocks; the rest wait for the next beat
# (a minute later), so a huge backlog after downtime never makes one task run for ever.
BATCH = 500
MAX_ROUNDS = 20


@shared_task
def scan_due_clocks() -> int:
    """Fire the SLA levels that are due; safe to run twice or on two workers at once."""
    total = 0
    for _ in range(MAX_ROUNDS):
        handled = escalation.fire_due_levels(limit=BATCH)
        total += handled
        if handled < BATCH:
            break
    return total
