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

