"""Declaring an incident and working its war room: timeline, status and severity."""
from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.models import User
from tickets.models import Ticket

from .. import severity
from ..models import (
    EntryKind,
    Incident,
    IncidentRole,
    RoleKind,
    Severity,
    Status,
    TimelineEntry,
)
from ..permissions import can_declare, can_manage
from ._base import (
    MANUAL_KINDS,
    _cadence,
    _check,
    _entry,
    _lock,
    _next_escalation,
    site_label,
)
from ._queue import _after_commit
from .links import link_tickets


def declare(*, title: str, users_affected: str, impact: str, actor: User,
            level: int | None = None, reason: str = "", description: str = "",
            keywords: str = "", tickets: Iterable[Ticket] = (),
            is_public: bool = True) -> Incident:
    """Open an incident; the severity is the matrix's unless overridden with a reason."""
    _check(can_declare(actor), _("You are not allowed to declare incidents."))
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("Give the incident a title.")})
    try:
        suggested = severity.suggest(users_affected, impact)
    except (KeyError, ValueError) as exc:
        raise ValidationError(_("Choose who is affected and how badly.")) from exc
    chosen = int(level or suggested)
    reason = (reason or "").strip()
    if severity.needs_reason(suggested, chosen) and not reason:
        raise ValidationError({"reason": _("The matrix suggests %(suggested)s; say why you "
                                           "chose %(chosen)s.")
                                         % {"suggested": severity.label(suggested),
                                            "chosen": severity.label(chosen)}})
    sev = Severity.objects.filter(level=chosen).first()
    if sev is None:
        raise ValidationError({"level": _("SEV%(chosen)s is not configured.") % {"chosen": chosen}})
    now = timezone.now()
    with transaction.atomic():
        cadence = _cadence(sev)
        incident = Incident.objects.create(
            title=title[:200], description=description, keywords=keywords[:255],
            users_affected=users_affected, impact=impact, suggested_level=int(suggested),
            severity=sev, severity_reason=reason[:255] if chosen != suggested else "",
            is_public=is_public, declared_by=actor, declared_at=now,
            next_update_due_at=now + cadence if cadence else None,
        )
        IncidentRole.objects.create(incident=incident, role=RoleKind.COMMANDER, user=actor,
                                    assigned_at=now)
        note = f"Incident declared as {sev} (matrix: {severity.label(suggested)}"
        note += f"; override: {reason})" if chosen != suggested else ")"
        _entry(incident, EntryKind.STATUS, note + ". Status: investigating.", actor=actor,
               at=now)
        _entry(incident, EntryKind.ROLE, f"{actor.display_name} is incident commander.",
               actor=actor, at=now)
        incident.next_escalation_at = _next_escalation(incident)
        incident.save(update_fields=["next_escalation_at"])
        tickets = list(tickets)
        if tickets:
            link_tickets(incident, tickets, actor=actor)
        if incident.next_escalation_at and incident.next_escalation_at <= now:
            _after_commit("escalate_incident", incident.pk)  # "on-call at once"
    return incident


def add_entry(incident: Incident, *, kind: str, body: str, actor: User) -> TimelineEntry:
    """A note, decision or action written in the room; the server stamps the time."""
    _check(can_declare(actor), _("You cannot write in this war room."))
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write something first.")})
    if kind not in MANUAL_KINDS:
        raise ValidationError({"kind": _("Choose note, decision or action.")})
    return _entry(incident, kind, body, actor=actor)


def change_status(incident: Incident, *, status: str, actor: User, note: str = "") -> Incident:
    """Investigating → identified → monitoring (any order); resolving goes through resolve."""
    _check(can_declare(actor), _("You cannot change this incident."))
    if status not in (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING):
        raise ValidationError({"status": _("Use Resolve to resolve the incident.")})
    with transaction.atomic():
        incident = _lock(incident)
        if not incident.is_open:
            raise ValidationError(_("This incident is resolved."))
        if incident.status == status:
            return incident
        before = site_label(Status(incident.status).label)
        incident.status = status
        incident.save(update_fields=["status"])
        text = f"Status: {before} → {site_label(Status(status).label)}."
        _entry(incident, EntryKind.STATUS, f"{text} {note.strip()}".strip(), actor=actor)
    return incident


def change_severity(incident: Incident, *, level: int, reason: str, actor: User) -> Incident:
    _check(can_manage(actor, incident), _("Only the incident commander or a lead can do this."))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the severity changes.")})
    sev = Severity.objects.filter(level=level).first()
    if sev is None:
        raise ValidationError({"level": _("SEV%(level)s is not configured.") % {"level": level}})
    with transaction.atomic():
        incident = _lock(incident)
        if not incident.is_open:
            raise ValidationError(_("This incident is resolved."))
        if incident.severity_id == sev.pk:
            return incident
        before = incident.severity
        incident.severity = sev
        incident.severity_reason = reason[:255]
        last = incident.updates.order_by("-created_at").values_list("created_at", flat=True)
        cadence = _cadence(sev)
        base = last.first() or incident.declared_at
        incident.next_update_due_at = base + cadence if cadence else None
        incident.next_escalation_at = _next_escalation(incident)
        incident.save(update_fields=["severity", "severity_reason", "next_update_due_at",
                                     "next_escalation_at"])
        _entry(incident, EntryKind.SEVERITY, f"Severity {before.label} → {sev.label}: {reason}",
               actor=actor)
        if incident.next_escalation_at and incident.next_escalation_at <= timezone.now():
            _after_commit("escalate_incident", incident.pk)
    return incident
