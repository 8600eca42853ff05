"""Identity-level jobs: notification e-mail."""
from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from . import notification_mail


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_notification_email(self, notification_id: int) -> bool:
    try:
        return notification_mail.send_email(notification_id)
    except OSError as exc:  # SMTP down: try again later, the row stays unsent
        raise self.retry(exc=exc) from exc


@shared_task
def send_notification_emails(notification_ids: list[int]) -> int:
    """A batch of notification e-mails (a bulk change's notices), handed out one task each
    on the worker, so each is sent once and retried on its own; the request that wrote
    them published one message per batch instead of one per e-mail."""
    for pk in notification_ids:
        send_notification_email.delay(pk)
    return len(notification_ids)


@shared_task
def requeue_unsent_notification_emails(*, now: dt.datetime | None = None,
                                       older_than_minutes: float = 5, within_hours: int = 24,
                                       limit: int = 500) -> int:
    """Notification e-mails whose queueing failed are queued again (idempotent sends)."""
    due = notification_mail.emails_to_requeue(
        now=now or timezone.now(), older_than_minutes=older_than_minutes,
        within_hours=within_hours, limit=limit)
    for pk in due:
        send_notification_email.delay(pk)
    return len(due)


@shared_task
def send_notification_digests() -> int:
    """Digest e-mails that are due (each notice in exactly one digest)."""
    return notification_mail.send_due_digests()
