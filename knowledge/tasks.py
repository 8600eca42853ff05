"""Celery tasks of the knowledge app: thin and safe to run twice."""
from __future__ import annotations

from celery import shared_task

from . import search, services


@shared_task
def send_review_reminders() -> int:
    """Weekly freshness reminder; one notification per owner and ISO week (dedupe key)."""
    return services.send_review_reminders()


@shared_task
def rebuild_search_vocabulary() -> int:
    """Nightly: words of archived articles, or of articles moved to another audience, leave
    the vocabulary that spelling corrections come from."""
    return search.rebuild_vocabulary()
