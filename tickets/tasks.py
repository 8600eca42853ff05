"""Scheduled ticket jobs: thin wrappers around services, safe to run twice."""
from celery import shared_task
from django.conf import settings

from . import services


@shared_task
def close_stale_resolved_tickets() -> int:
    return services.close_stale_resolved(days=settings.HELPDESK_AUTO_CLOSE_DAYS)
