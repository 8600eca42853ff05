"""Email channel jobs for Celery: thin wrappers that take ids and are safe to run twice."""
from __future__ import annotations

from celery import shared_task

from . import imap, outbound, waiting
from .models import OutboundEmail


@shared_task
def poll_mailboxes() -> int:
    """Beat job: one polling task per active IMAP mailbox."""
    ids = imap.active_mailbox_ids()
    for pk in ids:
        poll_mailbox.delay(pk)
    return len(ids)


@shared_task
def poll_mailbox(mailbox_id: int) -> int:
    return imap.poll_one(mailbox_id)


@shared_task(bind=True, max_retries=outbound.MAX_SEND_ATTEMPTS)
def send_outbound_email(self, outbound_id: int) -> str:
    """Send once; on failure retry with backoff until the row is marked failed."""
    result = outbound.send_outbound(outbound_id)
    if result == "retry":
        if self.request.is_eager:  # no broker to wait on (tests): the next attempt now
            return self.run(outbound_id)
        attempts = OutboundEmail.objects.get(pk=outbound_id).attempts
        raise self.retry(countdown=outbound.backoff_seconds(attempts))
    return result


@shared_task
def requeue_stalled_outbound() -> int:
    """Beat job: e-mails whose send task was lost with the broker are queued again."""
    return outbound.requeue_stalled()


@shared_task
def scan_waiting_tickets() -> dict[str, int]:
    """Beat job: reminders and automatic resolutions of tickets waiting on customers."""
    return waiting.scan()
