"""The one notification service: in-app rows, e-mail sent by Celery, each recorded once."""
from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Notification, User


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
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                recipient=recipient, title=title[:200], body=body, url=url[:500],
                source=source, urgent=urgent, dedupe_key=dedupe_key,
                created_at=timezone.now(), email_wanted=email and bool(recipient.email),
            )
    except IntegrityError:
        if dedupe_key and Notification.objects.filter(dedupe_key=dedupe_key).exists():
            return None
        raise
    if note.email_wanted:
        from .tasks import send_notification_email

        transaction.on_commit(lambda: send_notification_email.delay(note.pk))
    return note


def notify_bulk(notes: list[Notification]) -> None:
    """Record many unsaved notifications at once and queue their e-mails after commit.

    For jobs that notify hundreds of people in one go. If one dedupe key was already
    used, every note goes through `notify`, which skips exactly the existing ones.
    """
    if not notes:
        return
    try:
        with transaction.atomic():
            Notification.objects.bulk_create(notes)
    except IntegrityError:
        for n in notes:
            notify(n.recipient, title=n.title, body=n.body, url=n.url, source=n.source,
                   urgent=n.urgent, dedupe_key=n.dedupe_key, email=n.email_wanted)
        return
    from .tasks import send_notification_email

    for note in notes:
        if note.email_wanted:
            transaction.on_commit(lambda pk=note.pk: send_notification_email.delay(pk))


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


def send_email(notification_id: int) -> bool:
    """Send the e-mail of one notification at most once (row lock + emailed_at)."""
    from django.conf import settings
    from django.core.mail import send_mail

    with transaction.atomic():
        note = (Notification.objects.select_for_update().select_related("recipient")
                .filter(pk=notification_id, emailed_at__isnull=True, email_wanted=True)
                .first())
        if note is None:
            return False
        link = f"\n\n{settings.HELPDESK_BASE_URL}{note.url}" if note.url else ""
        send_mail(note.title, f"{note.body}{link}", None, [note.recipient.email])
        note.emailed_at = timezone.now()
        note.save(update_fields=["emailed_at"])
    return True
