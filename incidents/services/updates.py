"""Public updates and the resolution: written here, delivered by the jobs (delivery, cascade)."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.models import User
from tickets.state_machine import Status as TicketStatus
from webhooks import incident_updated

from ..models import (
    EntryKind,
    Incident,
    IncidentTicket,
    PublicUpdate,
    Status,
    UpdateKind,
)
from ..permissions import can_manage, can_publish
from ..selectors import BREACH_LEVELS
from ._base import (
    RESOLVE_TARGETS,
    REVIEW_REMINDER_EVERY,
    _cadence,
    _check,
    _entry,
    _lock,
    site_label,
)
from ._queue import _after_commit


def publish_update(incident: Incident, *, kind: str, body: str, actor: User) -> PublicUpdate:
    """Post a public update: status page now, every linked ticket's requester by a task."""
    _check(can_publish(actor, incident), _("Only the communications lead or the commander "
                                           "publishes updates."))
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("The update is empty.")})
    if kind not in (UpdateKind.INITIAL, UpdateKind.UPDATE):
        raise ValidationError({"kind": _("Resolve the incident to send the resolution.")})
    now = timezone.now()
    with transaction.atomic():
        incident = _lock(incident)
        if not incident.is_open:
            raise ValidationError(_("This incident is resolved."))
        update = PublicUpdate.objects.create(incident=incident, kind=kind,
                                             status=incident.status, body=body,
                                             created_by=actor, created_at=now)
        cadence = _cadence(incident.severity)
        incident.next_update_due_at = now + cadence if cadence else None
        incident.save(update_fields=["next_update_due_at"])
        # The kind in the site's language, whoever publishes: `entries` reads it back.
        kind_label = site_label(UpdateKind(kind).label).lower()
        _entry(incident, EntryKind.UPDATE, f"Public {kind_label}: {body}", actor=actor,
               at=now)
        _after_commit("fan_out_update", update.pk)
        incident_updated(update)  # webhooks, after commit
    return update


def resolve(incident: Incident, *, body: str, actor: User,
            ticket_status: str = TicketStatus.RESOLVED.value) -> PublicUpdate:
    """Resolve: stop reminders and escalations, post the resolution message, then (by a
    task) send it to every linked ticket and move the tickets to `ticket_status`."""
    _check(can_manage(actor, incident), _("Only the incident commander or a lead resolves."))
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write the resolution message.")})
    if ticket_status not in RESOLVE_TARGETS:
        raise ValidationError({"ticket_status": _("Linked tickets move to resolved or to waiting "
                                                  "on customer.")})
    now = timezone.now()
    with transaction.atomic():
        incident = _lock(incident)
        if not incident.is_open:
            raise ValidationError(_("This incident is already resolved."))
        before = site_label(Status(incident.status).label)
        incident.status = Status.RESOLVED
        incident.resolved_at = now
        incident.resolve_tickets_to = ticket_status
        incident.next_update_due_at = None
        incident.next_escalation_at = None
        needs_review = incident.severity.review_required
        incident.next_review_reminder_at = now + REVIEW_REMINDER_EVERY if needs_review else None
        incident.save()
        # Snapshot SLA breaches now: the SLA app clears the due time once clocks stop.
        breached = Q(ticket__sla_level__in=BREACH_LEVELS) | Q(ticket__sla_due_at__lte=now)
        links = IncidentTicket.objects.filter(incident=incident)
        IncidentTicket.objects.filter(pk__in=links.filter(breached).values("pk")).update(
            sla_breached=True)
        IncidentTicket.objects.filter(incident=incident, sla_breached__isnull=True).update(
            sla_breached=False)
        update = PublicUpdate.objects.create(incident=incident, kind=UpdateKind.RESOLUTION,
                                             status=Status.RESOLVED, body=body,
                                             created_by=actor, created_at=now)
        _entry(incident, EntryKind.STATUS, f"Status: {before} → Resolved. Linked tickets "
               f"move to {TicketStatus(ticket_status).value.replace('_', ' ')}.",
               actor=actor, at=now)
        _entry(incident, EntryKind.UPDATE, f"Public resolution: {body}", actor=actor, at=now)
        _after_commit("resolve_cascade", incident.pk, update.pk)
        incident_updated(update)  # webhooks, after commit
    return update
