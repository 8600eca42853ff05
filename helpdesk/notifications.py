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
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import IntegrityError, transaction
from django.db.models import Min, QuerySet
from django.utils import timezone
from django.utils.html import escape

from .models import Notification, NotificationPreference, User

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """How one notification reaches its recipient."""

    in_app: bool  # False: recorded as already read
    email: bool
    email_at: dt.datetime | None = None  # None: at once
    digest: bool = False  # True: in the next digest e-mail instead of on its own


def user_zone(user: User) -> dt.tzinfo:
    try:
        return ZoneInfo(user.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def is_muted(pref: NotificationPreference | None, source: str) -> bool:
    if pref is None:
        return False
    for muted in pref.muted_sources or []:
        muted = str(muted).strip()
        if muted and (source == muted or source.startswith(f"{muted}.")):
            return True
    return False


def quiet_until(pref: NotificationPreference | None, now: dt.datetime,
                zone: dt.tzinfo) -> dt.datetime | None:
    """When the quiet period that `now` falls in ends (aware, UTC); None outside one."""
    if pref is None or pref.quiet_start is None or pref.quiet_end is None:
        return None
    start, end = pref.quiet_start.replace(tzinfo=None), pref.quiet_end.replace(tzinfo=None)
    if start == end:
        return None
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    if start < end:  # e.g. 12:00–13:00, within one day
        if not start <= t < end:
            return None
        end_day = local.date()
    else:  # e.g. 22:00–07:00, across midnight
        if start <= t:
            end_day = local.date() + dt.timedelta(days=1)
        elif t < end:
            end_day = local.date()
        else:
            return None
    until = dt.datetime.combine(end_day, end, tzinfo=zone).astimezone(dt.UTC)
    return until if until > now else None


def plan_delivery(pref: NotificationPreference | None, *, recipient: User, source: str,
                  urgent: bool, email: bool, now: dt.datetime) -> Delivery:
    """Apply the recipient's preferences (see the module docstring)."""
    wants_email = email and bool(recipient.email)
    if pref is None:
        return Delivery(in_app=True, email=wants_email)
    if not urgent and is_muted(pref, source):
        return Delivery(in_app=False, email=False)
    wants_email = wants_email and pref.email_enabled
    if wants_email and not urgent and pref.digest_minutes:
        return Delivery(in_app=pref.in_app_enabled, email=True, digest=True)
    email_at = None
    if wants_email and not urgent:
        email_at = quiet_until(pref, now, user_zone(recipient))
    return Delivery(in_app=pref.in_app_enabled, email=wants_email, email_at=email_at)


def preferences_of(user: User) -> NotificationPreference | None:
    try:
        return user.notification_preference
    except NotificationPreference.DoesNotExist:
        return None


def _queue_email(note: Notification, when: dt.datetime | None) -> None:
    """After commit: send now, or at the end of the recipient's quiet hours."""
    from .tasks import send_notification_email

    pk = note.pk
    # robust: a broker that is down must not fail the request after its data committed;
    # the unsent e-mail is queued again by `requeue_unsent_emails` (beat, every 5 min).
    if when is None:
        transaction.on_commit(lambda: send_notification_email.delay(pk), robust=True)
    else:
        transaction.on_commit(lambda: send_notification_email.apply_async((pk,), eta=when),
                              robust=True)


def requeue_unsent_emails(*, now: dt.datetime | None = None, older_than_minutes: int = 5,
                          within_hours: int = 24, limit: int = 500) -> int:
    """Queue again the e-mails of notifications that should have gone out but did not
    (the broker was down when they were queued). Sending is idempotent (row lock +
    emailed_at), so a copy of a task still in the queue sends nothing twice. Quiet hours
    are respected: a note whose recipient is in quiet hours now waits for a later run."""
    from .tasks import send_notification_email

    now = now or timezone.now()
    pending = (Notification.objects.filter(
        email_wanted=True, emailed_at__isnull=True, in_digest=False,
        created_at__lt=now - dt.timedelta(minutes=older_than_minutes),
        created_at__gte=now - dt.timedelta(hours=within_hours))
        .select_related("recipient").order_by("created_at")[:limit])
    queued = 0
    for note in pending:
        plan = plan_delivery(preferences_of(note.recipient), recipient=note.recipient,
                             source=note.source, urgent=note.urgent, email=True, now=now)
        if plan.email and (plan.email_at is None or plan.email_at <= now):
            send_notification_email.delay(note.pk)
            queued += 1
    return queued


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


def notify_bulk(notes: list[Notification]) -> None:
    """Record many unsaved notifications at once and queue their e-mails after commit.

    For jobs that notify hundreds of people in one go. If one dedupe key was already
    used, every note goes through `notify`, which skips exactly the existing ones.
    Preferences apply as in `notify` (one query loads them for all recipients);
    `email_wanted` on a note is what the caller asks for.
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
    for note, plan in zip(notes, plans, strict=True):
        if note.email_wanted and not note.in_digest:
            _queue_email(note, plan.email_at)


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

    from .mail import build_email

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
        build_email(kind="notification", key=f"notification:{note.pk}", subject=note.title,
                    text=f"{note.body}{link}", html=html, to=[note.recipient.email],
                    context={"notification": note}).send()
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
    from django.conf import settings

    from .mail import build_email
    from .notice_templates import Block, render_notice

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
        rendered = render_notice("staff.digest", {
            "name": user.display_name, "count": str(len(notes)),
            "items": Block("\n".join(lines), f"<ul>{items_html}</ul>"),
        })
        build_email(kind="notification", key=f"digest:{user_id}:{notes[0].pk}:{notes[-1].pk}",
                    subject=rendered.subject, text=rendered.text, html=rendered.html,
                    to=[user.email], context={"notifications": notes}).send()
        Notification.objects.filter(pk__in=[n.pk for n in notes]).update(emailed_at=now)
    return True
