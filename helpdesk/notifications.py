"""The one notification service: in-app rows, e-mail sent by Celery, each recorded once.

Per-user preferences (`NotificationPreference`) decide how a notification is delivered,
never whether it is recorded: every notification gets its row with its `source`, so the
record of what was sent and why stays complete.

- in-app disabled: the row is stored already read (`read_at` = creation time), so it
  neither counts on the bell nor shows under "unread";
- e-mail disabled: `email_wanted` is False, no e-mail is queued;
- muted source (an exact source such as ``sla.level``, or a prefix such as ``sla``
  that mutes every ``sla.*``): stored read and no e-mail;
- quiet hours (``quiet_start``–``quiet_end`` in the user's own time zone, possibly
  across midnight; start == end means none): the e-mail is deferred until the quiet
  period ends (Celery ``apply_async(eta=...)``), the in-app row appears at once;
- digest (``digest_minutes`` = N): e-mails are not sent one by one but collected, and
  `send_due_digests` (beat, every minute) sends one e-mail listing them once the oldest
  has waited N minutes (and the recipient is not in quiet hours);
- urgent notifications (P1, SEV1: ``urgent=True``) ignore mutes, quiet hours and the
  digest and go out at once. The channel switches stay the user's choice even for them.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from . import tasks
from .models import Notification, NotificationPreference, User
from .notification_mail import send_digest, send_due_digests, send_email
from .notification_rules import (
    Delivery,
    is_muted,
    plan_delivery,
    preferences_of,
    quiet_until,
    user_zone,
)

__all__ = ["Delivery", "in_language_of", "is_muted", "mark_read", "notify", "notify_bulk",
           "notify_many", "plan_delivery", "preferences_of", "quiet_until", "requeue_unsent_emails",
           "send_digest", "send_due_digests", "send_email", "unread_count", "user_zone"]

logger = logging.getLogger(__name__)


def _queue_email(note: Notification, when: dt.datetime | None) -> None:
    """After commit: send now, or at the end of the recipient's quiet hours."""
    pk = note.pk
    # robust: a broker that is down must not fail the request after its data committed;
    # the unsent e-mail is queued again by `requeue_unsent_emails` (beat, every 5 min).
    if when is None:
        transaction.on_commit(lambda: tasks.send_notification_email.delay(pk), robust=True)
    else:
        transaction.on_commit(lambda: tasks.send_notification_email.apply_async((pk,), eta=when),
                              robust=True)


def requeue_unsent_emails(*, now: dt.datetime | None = None, older_than_minutes: float = 5,
                          within_hours: int = 24, limit: int = 500) -> int:
    """Queue again the e-mails that should have gone out but did not; how many."""
    return tasks.requeue_unsent_notification_emails(
        now=now, older_than_minutes=older_than_minutes, within_hours=within_hours,
        limit=limit)


@contextmanager
def in_language_of(recipient: User | None) -> Iterator[None]:
    """Words written inside are in the recipient's language (their choice, else the
    site's): a notification's title and body are stored as written, so the caller
    composes them inside this block, whoever's request or job it runs in."""
    with translation.override(getattr(recipient, "language", "") or settings.LANGUAGE_CODE):
        yield


def notify(
    recipient: User,
    *,
    title: str,
    source: str,
    body: str = "",
    url: str = "",
    urgent: bool = False,
    dedupe_key: str | None = None,
    email: bool = True,
) -> Notification | None:
    """Record a notification (and queue its e-mail); None if `dedupe_key` was already used.

    The unique key, not a prior read, decides: two workers notifying at once insert
    one row between them, and only the one that inserted sends the e-mail.
    """
    if not recipient.is_active:
        return None
    now = timezone.now()
    plan = plan_delivery(preferences_of(recipient), recipient=recipient, source=source,
                         urgent=urgent, email=email, now=now)
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                recipient=recipient, title=title[:200], body=body, url=url[:500],
                source=source, urgent=urgent, dedupe_key=dedupe_key,
                created_at=now, email_wanted=plan.email, in_digest=plan.digest,
                read_at=None if plan.in_app else now,
            )
    except IntegrityError:
        if dedupe_key and Notification.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise
    if note.email_wanted and not note.in_digest:
        _queue_email(note, plan.email_at)
    return note


def notify_bulk(notes: list[Notification], *, email_batch: int | None = None) -> None:
    """Record many unsaved notifications at once and queue their e-mails after commit.

    For jobs that notify hundreds of people in one go. If one dedupe key was already
    used, every note goes through `notify`, which skips exactly the existing ones.
    Preferences apply as in `notify` (one query loads them for all recipients);
    `email_wanted` on a note is what the caller asks for. With `email_batch`, the e-mails
    due now are queued `email_batch` ids per task (`send_notification_emails`), for a
    request that writes hundreds (the bulk bar) and should not wait for the broker.
    """
    if not notes:
        return
    now = timezone.now()
    prefs = {p.user_id: p for p in NotificationPreference.objects.filter(
        user_id__in={n.recipient_id for n in notes})}
    plans = []
    for n in notes:
        plan = plan_delivery(prefs.get(n.recipient_id), recipient=n.recipient, source=n.source,
                             urgent=n.urgent, email=n.email_wanted, now=now)
        n.email_wanted = plan.email
        n.in_digest = plan.digest
        if not plan.in_app and n.read_at is None:
            n.read_at = n.created_at or now
        plans.append(plan)
    try:
        with transaction.atomic():
            Notification.objects.bulk_create(notes)
    except IntegrityError:
        for n in notes:
            notify(n.recipient, title=n.title, body=n.body, url=n.url, source=n.source,
                   urgent=n.urgent, dedupe_key=n.dedupe_key, email=n.email_wanted)
        return
    now_ids: list[int] = []
    for note, plan in zip(notes, plans, strict=True):
        if note.email_wanted and not note.in_digest:
            if email_batch and plan.email_at is None:
                now_ids.append(note.pk)
            else:
                _queue_email(note, plan.email_at)
    for i in range(0, len(now_ids), email_batch or 1):
        _queue_emails(now_ids[i:i + (email_batch or 1)])


def _queue_emails(ids: list[int]) -> None:
    """After commit: one task for a batch of e-mails due now (robust, as `_queue_email`)."""
    transaction.on_commit(lambda: tasks.send_notification_emails.delay(ids), robust=True)


def notify_many(recipients: Iterable[User], *, dedupe_prefix: str | None = None,
                **kwargs) -> list[Notification]:
    """Notify each distinct recipient once; the dedupe key gets the recipient's id."""
    sent = []
    for user in {u.pk: u for u in recipients if u is not None}.values():
        key = f"{dedupe_prefix}:{user.pk}" if dedupe_prefix else None
        note = notify(user, dedupe_key=key, **kwargs)
        if note is not None:
            sent.append(note)
    return sent


def unread_count(user: User) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def mark_read(user: User, ids: Iterable[int] | None = None) -> int:
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())
