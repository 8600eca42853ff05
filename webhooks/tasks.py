"""Webhook jobs: thin, idempotent (an attempt claims its delivery row first)."""
from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
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


@shared_task(ignore_result=True)
def prune_delivery_log() -> int:
    """Keep the delivery log to WEBHOOK_LOG_DAYS (finished deliveries only)."""
    return delivery.prune_log(now=timezone.now(),
                              keep=timedelta(days=settings.WEBHOOK_LOG_DAYS))
