"""Retention: raw e-mail, attachments and closed tickets' conversation text are purged once
older than their period (an organization's own policy, else the global one), in batches, by
a beat job. A legal hold on the organization or the ticket stops it. A dry run counts what a
run would purge and changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.utils import timezone

from mailgate.models import InboundMessage, Quarantine
from tickets.models import Attachment, Message, Ticket
from tickets.state_machine import Status

from .models import LegalHold, RetentionPolicy, RetentionRun

PURGED_TEXT = "[removed after the retention period]"
PURGED_FILENAME = "removed-after-retention"


@dataclass(frozen=True)
class Periods:
    raw_email_days: int
    attachment_days: int
    closed_ticket_days: int


def global_periods() -> Periods:
    row = RetentionPolicy.objects.filter(organization__isnull=True).first()

    def pick(field: str, setting: str) -> int:
        value = getattr(row, field, None) if row else None
        return getattr(settings, setting) if value is None else value

    return Periods(pick("raw_email_days", "PRIVACY_RETAIN_RAW_EMAIL_DAYS"),
                   pick("attachment_days", "PRIVACY_RETAIN_ATTACHMENT_DAYS"),
                   pick("closed_ticket_days", "PRIVACY_RETAIN_CLOSED_TICKET_DAYS"))


def _held() -> tuple[models.QuerySet, models.QuerySet]:
    active = LegalHold.objects.filter(released_at__isnull=True)
    return (active.exclude(organization=None).values("organization_id"),
            active.exclude(ticket=None).values("ticket_id"))


def _due(field: str, org_path: str, ticket_path: str, time_field: str) -> models.Q:
    """Rows older than their organization's period (or the global one), not on hold."""
    now = timezone.now()
    fallback = getattr(global_periods(), field)
    held_orgs, held_tickets = _held()
    condition = models.Q(pk__in=[])
    own = RetentionPolicy.objects.exclude(organization=None)
    for policy in own.exclude(**{f"{field}__isnull": True}).exclude(**{field: 0}):
        condition |= models.Q(**{org_path: policy.organization_id,
                                 f"{time_field}__lt": now - timedelta(
                                     days=getattr(policy, field))})
    if fallback:
        custom = own.exclude(**{f"{field}__isnull": True}).values("organization_id")
        condition |= (models.Q(**{f"{time_field}__lt": now - timedelta(days=fallback)})
                      & ~models.Q(**{f"{org_path}__in": custom}))
    return (condition & ~models.Q(**{f"{org_path}__in": held_orgs})
            & ~models.Q(**{f"{ticket_path}__in": held_tickets}))


def raw_emails_due() -> models.QuerySet[InboundMessage]:
    return InboundMessage.objects.exclude(raw="").filter(
        _due("raw_email_days", "ticket__organization_id", "ticket_id", "received_at"))


def quarantined_due() -> models.QuerySet[Quarantine]:
    """Unparseable mail belongs to no organization: the global period applies."""
    days = global_periods().raw_email_days
    if not days:
        return Quarantine.objects.none()
    return Quarantine.objects.exclude(raw="").filter(
        received_at__lt=timezone.now() - timedelta(days=days))


def attachments_due() -> models.QuerySet[Attachment]:
    return Attachment.objects.exclude(filename=PURGED_FILENAME).filter(
        _due("attachment_days", "message__ticket__organization_id", "message__ticket_id",
             "created_at"))


def tickets_due() -> models.QuerySet[Ticket]:
    return Ticket.objects.filter(status=Status.CLOSED.value).exclude(
        description=PURGED_TEXT).filter(
        _due("closed_ticket_days", "organization_id", "pk", "closed_at"))


def apply_retention(*, dry_run: bool = False, batch: int | None = None) -> RetentionRun:
    """One pass: at most `batch` rows of each kind (a dry run counts every one due)."""
    batch = batch or settings.PRIVACY_RETENTION_BATCH
    run = RetentionRun(dry_run=dry_run)
    if dry_run:
        run.raw_emails = raw_emails_due().count() + quarantined_due().count()
        run.attachments = attachments_due().count()
        run.tickets = tickets_due().count()
        run.save()
        return run
    with transaction.atomic():
        emails = list(raw_emails_due().order_by("received_at")[:batch])
        names = [m.raw.name for m in emails]
        InboundMessage.objects.filter(pk__in=[m.pk for m in emails]).update(raw="")
        quarantined = list(quarantined_due().order_by("received_at")[:batch])
        names += [q.raw.name for q in quarantined]
        Quarantine.objects.filter(pk__in=[q.pk for q in quarantined]).update(raw="")
        run.raw_emails = len(emails) + len(quarantined)

        attachments = list(attachments_due().order_by("created_at")[:batch])
        names += [a.file.name for a in attachments if a.file]
        Attachment.objects.filter(pk__in=[a.pk for a in attachments]).update(
            file="", filename=PURGED_FILENAME, size=0)
        run.attachments = len(attachments)

        ticket_ids = list(tickets_due().order_by("closed_at").values_list("pk", flat=True)
                          [:batch])
        Message.objects.filter(ticket_id__in=ticket_ids).update(body=PURGED_TEXT)
        Ticket.objects.filter(pk__in=ticket_ids).update(description=PURGED_TEXT)
        run.tickets = len(ticket_ids)
        run.save()
        # Files go only once the rows no longer point at them.
        transaction.on_commit(lambda: [default_storage.delete(n) for n in names if n])
    return run
