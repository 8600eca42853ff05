"""Casework jobs for Celery: thin and idempotent."""
from __future__ import annotations

from datetime import date

from celery import shared_task

from . import rollup, services


@shared_task
def generate_weekly_voc_report(week_start: str | None = None) -> int:
    """Build the voice-of-customer report of last week (or of the ISO week of
    `week_start`, YYYY-MM-DD); running it twice rebuilds the same row."""
    week = date.fromisoformat(week_start) if week_start else None
    return services.generate_voc_report(week).pk


@shared_task
def sync_casework_rollup() -> int:
    """Fold the hours touched since the last run into the dashboard's rollup (rows)."""
    return rollup.sync()


@shared_task
def rebuild_casework_rollup(days: int = 120) -> int:
    """Recompute the whole rollup window (nightly)."""
    return rollup.rebuild(days)
