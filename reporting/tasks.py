"""Scheduled reporting jobs: thin wrappers around the rollup, safe to run twice."""
from celery import shared_task

from . import rollups


@shared_task
def sync_metrics_rollup() -> int:
    """Fold the hours touched since the last run into the metrics rollup (rows written)."""
    return rollups.sync()


@shared_task
def rebuild_metrics_rollup(days: int = 120) -> int:
    """Recompute the whole rollup window (nightly): catches what `sync` cannot see."""
    return rollups.rebuild(days)
