"""Webhook jobs: thin, idempotent (an attempt claims its delivery row first)."""
from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from . import delivery


@shared_task(ignore_result=True)
def deliver(delivery_id: int) -> None:
    delivery.attempt(delivery_id)


@shared_task(ignore_result=True)
def retry_due_deliveries(limit: int = 500) -> int:
    """Queue every delivery whose next attempt is due (retries, and any lost message)."""
    ids = delivery.due_ids(now=timezone.now(), limit=limit)
    for pk in ids:
        deliver.delay(pk)
    return len(ids)
