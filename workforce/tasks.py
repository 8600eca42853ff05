"""Workforce jobs for Celery: thin, idempotent wrappers around the services."""
from __future__ import annotations

from celery import shared_task

from .services import oncall


@shared_task
def escalate_unacknowledged_pages() -> int:
    """Page the escalation steps now due for unacknowledged pages; each step pages once
    (unique dedupe keys), so a retry or a second worker never pages twice."""
    return oncall.escalate_due()
