"""SLA jobs for Celery: thin, idempotent wrappers around the escalation service and the
dashboard rollup."""
from __future__ import annotations

from celery import shared_task

from . import escalation, rollup

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


@shared_task
def sync_sla_rollup() -> int:
    """Fold the days touched since the last run into the SLA dashboard's rollup."""
    return rollup.sync()


@shared_task
def rebuild_sla_rollup(days: int = 190) -> int:
    """Recompute the SLA rollup's whole window (nightly): catches what `sync` cannot see."""
    return rollup.rebuild(days)
