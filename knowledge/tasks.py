"""Celery tasks of the knowledge app: thin and safe to run twice."""
from __future__ import annotations

from celery import shared_task

from . import services


@shared_task
def send_review_reminders() -> int:
    """Weekly freshness reminder; one notification per owner and ISO week (dedupe key)."""
    return services.send_review_reminders()
