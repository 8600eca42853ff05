"""Workforce jobs for Celery: thin, idempotent wrappers around the services."""
from __future__ import annotations

from celery import shared_task

from . import rollup
from .services import oncall


@shared_task
def escalate_unacknowledged_pages() -> int:
    """Page the escalation steps now due for unacknowledged pages; each step pages once
    (unique dedupe keys), so a retry or a second worker never pages twice."""
    return oncall.escalate_due()


@shared_task
def sync_capacity_rollup() -> int:
    """Fold the days touched since the last run into the capacity page's rollup (rows)."""
    return rollup.sync()


@shared_task
def rebuild_capacity_rollup(days: int = rollup.DEFAULT_DAYS) -> int:
    """Recompute the whole rollup window (nightly)."""
    return rollup.rebuild(days)
