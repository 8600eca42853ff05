"""Sending the e-mail of notifications: one at a time or as a digest, each at most
once. Called by the Celery tasks (helpdesk.tasks); the notifications service queues them."""
from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Min, QuerySet
from django.utils import timezone, translation
from django.utils.html import escape

from .mail import build_email
from .models import Notification, NotificationPreference, User
from .notice_templates import Block, render_notice
from .notification_rules import plan_delivery, preferences_of, quiet_until, user_zone

logger = logging.getLogger(__name__)


def emails_to_requeue(*, now: dt.datetime, older_than_minutes: float = 5,
                      within_hours: int = 24, limit: int = 500) -> list[int]:
    """The notifications whose e-mail should have gone out but did not (the broker was
    down when it was queued), and may go now: quiet hours are respected, so a note whose
    recipient is in quiet hours waits for a later run. Sending is idempotent (row lock +
    emailed_at), so a copy of a task still in the queue sends nothing twice."""
    pending = (Notification.objects.filter(
        email_wanted=True, emailed_at__isnull=True, in_digest=False,
        created_at__lt=now - dt.timedelta(minutes=older_than_minutes),
        created_at__gte=now - dt.timedelta(hours=within_hours))
        .select_related("recipient").order_by("created_at")[:limit])
    due = []
    for note in pending:
        plan = plan_delivery(preferences_of(note.recipient), recipient=note.recipient,
                             source=note.source, urgent=note.urgent, email=True, now=now)
        if plan.email and (plan.email_at is None or plan.email_at <= now):
            due.append(note.pk)
    return due


def send_email(notification_id: int) -> bool:
    """Send the e-mail of one notification at most once (row lock + emailed_at)."""
    with transaction.atomic():
        note = (Notification.objects.select_for_update().select_related("recipient")
                .filter(pk=notification_id, emailed_at__isnull=True, email_wanted=True,
                        in_digest=False)
                .first())
        if note is None:
            return False
        link = f"\n\n{settings.HELPDESK_BASE_URL}{note.url}" if note.url else ""
        html = ""
        if note.body_html:
            html = note.body_html + (
                f'<p><a href="{escape(settings.HELPDESK_BASE_URL + note.url)}">'
                f"{escape(settings.HELPDESK_BASE_URL + note.url)}</a></p>" if note.url else "")
        with translation.override(note.recipient.language or settings.LANGUAGE_CODE):
            build_email(kind="notification", key=f"notification:{note.pk}",
                        subject=note.title, text=f"{note.body}{link}", html=html,
                        to=[note.recipient.email], context={"notification": note}).send()
        note.emailed_at = timezone.now()
        note.save(update_fields=["emailed_at"])
    return True


# --- digests --------------------------------------------------------------------------

def _pending_digest(user_id: int) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient_id=user_id, in_digest=True,
                                       email_wanted=True, emailed_at__isnull=True)


def send_due_digests(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Send every digest that is due; the number sent. Safe to run twice at once."""
    now = now or timezone.now()
    # Longest waiting first, so recipients not due yet never hold back those who are.
    user_ids = list(Notification.objects.filter(
        in_digest=True, email_wanted=True, emailed_at__isnull=True)
        .values("recipient_id").annotate(oldest=Min("created_at")).order_by("oldest")
        .values_list("recipient_id", flat=True)[:limit])
    sent = 0
    for user_id in user_ids:
        try:
            sent += send_digest(user_id, now=now)
        except OSError:  # SMTP down: nothing was stamped, the next run sends it
            logger.warning("Digest e-mail to user %s failed; retried next run", user_id,
                           exc_info=True)
    return sent


def send_digest(user_id: int, *, now: dt.datetime | None = None) -> bool:
    """One e-mail listing the recipient's collected notices, if their digest is due.

    Due: the oldest waiting notice is `digest_minutes` old, and the recipient is not in
    quiet hours. Under row locks the notices are sent and stamped `emailed_at` in one
    transaction: a second worker waits, then finds nothing; a failed send stamps nothing
    and the next run tries again, so a notice is in exactly one digest.
    """
    now = now or timezone.now()
    with transaction.atomic():
        pref = (NotificationPreference.objects.select_for_update()
                .filter(user_id=user_id).first())
        notes = list(_pending_digest(user_id).select_for_update()
                     .filter(created_at__lte=now).order_by("created_at", "id"))
        if not notes:
            return False
        user = User.objects.get(pk=user_id)
        if not user.is_active or not user.email or (pref is not None
                                                    and not pref.email_enabled):
            # Nobody to send to any more: the notices stay in the bell, no e-mail.
            _pending_digest(user_id).filter(pk__in=[n.pk for n in notes]).update(
                email_wanted=False)
            return False
        minutes = pref.digest_minutes if pref is not None else 0
        # Switched off meanwhile (minutes 0): what was collected goes out now.
        if notes[0].created_at + dt.timedelta(minutes=minutes) > now:
            return False
        if quiet_until(pref, now, user_zone(user)) is not None:
            return False
        base = settings.HELPDESK_BASE_URL
        lines = [f"- {n.title}" + (f"\n  {base}{n.url}" if n.url else "") for n in notes]
        items_html = "".join(
            f'<li><a href="{escape(base + n.url)}">{escape(n.title)}</a></li>' if n.url
            else f"<li>{escape(n.title)}</li>" for n in notes)
        with translation.override(user.language or settings.LANGUAGE_CODE):
            rendered = render_notice("staff.digest", {
                "name": user.display_name, "count": str(len(notes)),
                "items": Block("\n".join(lines), f"<ul>{items_html}</ul>"),
            })
            build_email(kind="notification",
                        key=f"digest:{user_id}:{notes[0].pk}:{notes[-1].pk}",
                        subject=rendered.subject, text=rendered.text, html=rendered.html,
                        to=[user.email], context={"notifications": notes}).send()
        Notification.objects.filter(pk__in=[n.pk for n in notes]).update(emailed_at=now)
    return True
