"""Thin Celery tasks of the privacy app: each reloads its request and calls a service."""
from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import jobs, retention


@shared_task
def build_export_task(request_id: int) -> None:
    jobs.run_export(request_id)


@shared_task
def erase_task(request_id: int) -> None:
    jobs.run_erasure(request_id)


@shared_task
def apply_retention(dry_run: bool = False) -> dict[str, int]:
    run = retention.apply_retention(dry_run=dry_run)
    return {"raw_emails": run.raw_emails, "attachments": run.attachments,
            "tickets": run.tickets}


@shared_task
def expire_exports() -> int:
    return jobs.expire_exports(
        timezone.now() - timedelta(hours=settings.PRIVACY_EXPORT_TTL_HOURS))
