"""QA jobs for Celery: thin, idempotent wrappers around qa.services."""
from __future__ import annotations

from celery import shared_task

from . import services


@shared_task
def sample_week() -> int:
    """Last week's sample; a second run for the same week creates nothing."""
    return services.run_weekly_sampling()


@shared_task
def sweep_sla_breaches() -> int:
    """Mark breached open tickets for QA before their clocks complete and clear the level."""
    return services.sweep_sla_breaches()
