"""The incident roles: commander, communications lead and the others."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.models import User
from helpdesk.notifications import in_language_of, notify

from ..models import (
    EntryKind,
    Incident,
    IncidentRole,
    RoleKind,
)
from ..permissions import can_manage
from ._base import _check, _entry, _lock, _room_url, site_label


def assign_role(incident: Incident, *, role: str, user: User, actor: User) -> IncidentRole:
    """Give a role to an agent; the commander, leads and scribe are one person each."""
    _check(can_manage(actor, incident), _("Only the incident commander or a lead assigns roles."))
    if role not in RoleKind.values:
        raise ValidationError({"role": _("Unknown role.")})
    if not user.is_agent:
        raise ValidationError({"user": _("Incident roles go to agents.")})
    now = timezone.now()
    with transaction.atomic():
        incident = _lock(incident)
        if role == RoleKind.SME:
            row, created = IncidentRole.objects.get_or_create(
                incident=incident, role=role, user=user, defaults={"assigned_at": now})
            if not created:
                return row
        else:
            row = IncidentRole.objects.filter(incident=incident, role=role).first()
            if row and row.user_id == user.pk:
                return row
            if row:
                row.user, row.assigned_at = user, now
                row.save(update_fields=["user", "assigned_at"])
            else:
                row = IncidentRole.objects.create(incident=incident, role=role, user=user,
                                                  assigned_at=now)
        label = site_label(RoleKind(role).label)
        _entry(incident, EntryKind.ROLE, f"{user.display_name}: {label.lower()}.", actor=actor,
               at=now)
    with in_language_of(user):
        title = _("Your role in %(incident)s: %(role)s — %(title)s") % {
            "incident": incident.reference, "role": RoleKind(role).label,
            "title": incident.title}
    notify(user, title=title, source="incidents.role", url=_room_url(incident),
           urgent=incident.severity.level == 1,
           dedupe_key=f"incident:{incident.pk}:role:{row.pk}:{user.pk}:{now.isoformat()}")
    return row


def remove_role(row: IncidentRole, *, actor: User) -> None:
    incident = row.incident
    _check(can_manage(actor, incident), _("Only the incident commander or a lead assigns roles."))
    with transaction.atomic():
        _entry(incident, EntryKind.ROLE,
               f"{row.user.display_name} is no longer "
               f"{site_label(RoleKind(row.role).label).lower()}.",
               actor=actor)
        row.delete()
