"""Scheduled ticket jobs: thin wrappers around services, safe to run twice."""
from celery import shared_task
from django.conf import settings

from . import changes, services


@shared_task
def close_stale_resolved_tickets() -> int:
    return services.close_stale_resolved(days=settings.HELPDESK_AUTO_CLOSE_DAYS)


@shared_task
def run_automations() -> int:
    """Beat, every 5 minutes: the automations on the tickets that became due."""
    from .rules import runner

    return runner.scan_automations()


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


@shared_task(acks_late=True)
def handle_pending_events(pending_id: int) -> bool:
    """The deferred handlers of one outbox row (tickets.events); a redelivered or
    duplicated message finds the row gone and does nothing."""
    from . import events

    return events.handle_pending(pending_id)


@shared_task
def requeue_pending_events() -> int:
    """Beat, every minute: queue again the outbox rows whose task was lost."""
    from . import events

    return events.requeue_pending()


@shared_task
def prune_ticket_changes() -> int:
    """Beat, hourly: drop the export's change log past its retention (batched)."""
    return changes.prune(days=settings.HELPDESK_TICKET_CHANGES_RETENTION_DAYS)
