"""Who may see and work incidents (views, panels, selectors and services ask here)."""
from __future__ import annotations

from helpdesk.models import User

from .models import (
    Incident,
    RoleKind,
)


def can_view(user: User) -> bool:
    """War rooms are for staff only; everybody else gets a 404."""
    return bool(user.is_authenticated and user.is_agent)


def can_declare(user: User) -> bool:
    return can_view(user) and user.has_perm("incidents.declare_incident")


def _role_user_ids(incident: Incident, *roles: str) -> set[int]:
    return set(incident.roles.filter(role__in=roles).values_list("user_id", flat=True))


def can_manage(user: User, incident: Incident) -> bool:
    """Leads and managers, or the incident's commander."""
    if not can_view(user):
        return False
    return (user.has_perm("incidents.manage_incident")
            or user.pk in _role_user_ids(incident, RoleKind.COMMANDER))


def can_publish(user: User, incident: Incident) -> bool:
    """Public updates: managers of the incident and its communications lead."""
    return can_manage(user, incident) or (
        can_view(user) and user.pk in _role_user_ids(incident, RoleKind.COMMS_LEAD))
