"""Identity-level jobs: notification e-mail."""
from celery import shared_task

from . import notifications


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def send_notification_email(self, notification_id: int) -> bool:
    try:
        return notifications.send_email(notification_id)
    except OSError as exc:  # SMTP down: try again later, the row stays unsent
        raise self.retry(exc=exc) from exc


@shared_task
def requeue_unsent_notification_emails() -> int:
    """Notification e-mails whose queueing failed are queued again (idempotent sends)."""
    return notifications.requeue_unsent_emails()


@shared_task
def send_notification_digests() -> int:
    """Digest e-mails that are due (each notice in exactly one digest)."""
    return notifications.send_due_digests()
