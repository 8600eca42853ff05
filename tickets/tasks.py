"""Scheduled ticket jobs: thin wrappers around services, safe to run twice."""
from celery import shared_task
from django.conf import settings

from . import services


@shared_task
def close_stale_resolved_tickets() -> int:
    return services.close_stale_resolved(days=settings.HELPDESK_AUTO_CLOSE_DAYS)


@shared_task
def send_due_surveys() -> int:
    """Beat, every minute: send (or skip) the surveys whose delay has passed."""
    from . import surveys

    return surveys.send_due_surveys()


@shared_task
def remind_overdue_survey_follow_ups() -> int:
    """Beat: one reminder for each low-score follow-up left unhandled past its due time."""
    from . import surveys

    return surveys.remind_overdue_follow_ups()


@shared_task
def sync_metrics_rollup() -> int:
    """Fold the hours touched since the last run into the metrics rollup (rows written)."""
    from . import rollups

    return rollups.sync()


@shared_task
def rebuild_metrics_rollup(days: int = 120) -> int:
    """Recompute the whole rollup window (nightly): catches what `sync` cannot see."""
    from . import rollups

    return rollups.rebuild(days)
