"""Email channel jobs for Celery: thin wrappers that take ids and are safe to run twice."""
from __future__ import annotations

from celery import shared_task
from django.core.cache import cache

from . import imap, outbound, waiting
from .models import Mailbox, OutboundEmail

POLL_LOCK_SECONDS = 300  # longer than a batch takes; a crashed run frees it by expiry


@shared_task
def poll_mailboxes() -> int:
    """Beat job: one polling task per active IMAP mailbox."""
    ids = list(Mailbox.objects.filter(is_active=True).exclude(imap_host="")
               .values_list("pk", flat=True))
    for pk in ids:
        poll_mailbox.delay(pk)
    return len(ids)


@shared_task
def poll_mailbox(mailbox_id: int) -> int:
    """Poll one mailbox; an overlapping run of the same mailbox steps aside (the
    Message-ID dedupe would absorb it anyway, this just saves the double fetch)."""
    mailbox = Mailbox.objects.filter(pk=mailbox_id, is_active=True).first()
    if mailbox is None:
        return 0
    lock = f"mailgate:poll:{mailbox_id}"
    if not cache.add(lock, 1, timeout=POLL_LOCK_SECONDS):
        return 0
    try:
        return imap.poll(mailbox)
    finally:
        cache.delete(lock)


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
