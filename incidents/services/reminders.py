"""Update reminders and escalation steps that are due (beat)."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.models import User
from helpdesk.notifications import in_language_of, notify

from ..models import (
    EntryKind,
    EscalationStep,
    Incident,
    RoleKind,
)
from ._base import MAX_ROLE_RECIPIENTS, _cadence, _entry, _fire, _lock, _next_escalation, _room_url
from .reviews import fire_review_reminder


def _comms_recipients(incident: Incident) -> list[User]:
    """The communications lead; else the commander; else the declarer."""
    for role in (RoleKind.COMMS_LEAD, RoleKind.COMMANDER):
        row = incident.roles.filter(role=role).select_related("user").first()
        if row:
            return [row.user]
    return [incident.declared_by] if incident.declared_by else []


def fire_update_reminder(incident_id: int, *, now: datetime | None = None) -> bool:
    """Remind the communications lead that a public update is due; once per due time."""
    now = now or timezone.now()
    with transaction.atomic():
        incident = _lock(incident_id)
        due = incident.next_update_due_at
        if not incident.is_open or due is None or due > now:
            return False
        cadence = _cadence(incident.severity)
        nxt = None
        if cadence:
            nxt = due + cadence
            while nxt <= now:  # after downtime: one reminder, not one per missed slot
                nxt += cadence
        incident.next_update_due_at = nxt
        incident.save(update_fields=["next_update_due_at"])
        key = f"update:{due.isoformat()}"
        if not _fire(incident, key, now):
            return False
        people = _comms_recipients(incident)
        names = ", ".join(p.display_name for p in people) or "nobody assigned"
        _entry(incident, EntryKind.REMINDER,
               f"Public update due at {timezone.localtime(due):%H:%M} "
               f"({incident.severity.label}: every {incident.severity.update_every_minutes} "
               f"min); reminded {names}.", at=now)
        for person in people:
            with in_language_of(person):
                title = _("Update due: %(incident)s %(title)s") % {
                    "incident": incident.reference, "title": incident.title}
            notify(person, title=title, source="incidents.reminder", url=_room_url(incident),
                   urgent=incident.severity.level == 1,
                   dedupe_key=f"incident:{incident.pk}:{key}:{person.pk}")
    return True


def _step_people(step: EscalationStep) -> list[User]:
    if step.target == EscalationStep.Target.USER:
        return [step.user] if step.user and step.user.is_active else []
    if step.target == EscalationStep.Target.ROLE and step.role:
        group = Group.objects.filter(name=step.role).first()
        if group is None:
            return []
        return list(group.user_set.filter(is_active=True).order_by("pk")[:MAX_ROLE_RECIPIENTS])
    return []


def _run_step(incident: Incident, step: EscalationStep, key: str, now: datetime) -> str:
    """Page or notify the step's target; returns what happened, for the timeline."""
    if step.target == EscalationStep.Target.ONCALL:
        from django.apps import apps

        # The one app on our layer we may call (pyproject.toml names this crossing).
        from workforce.services import oncall as services_oncall

        rotation = step.rotation or apps.get_model("workforce", "Rotation").objects.order_by(
            "name").first()
        if rotation is None:
            return f"{step.label}: no on-call rotation is configured."
        outcome = services_oncall.page(
            rotation, reason=f"{incident.reference} {incident.severity.label}: "
                             f"{incident.title}"[:255],
            priority=min(incident.severity.level, 5), at=now,
            dedupe_key=f"incident:{incident.pk}:{key}")
        if outcome.page is None:
            return f"{step.label}: page refused ({outcome.refused})."
        return f"{step.label}: paged {outcome.page.user.display_name} ({rotation.name})."
    people = _step_people(step)
    for person in people:
        with in_language_of(person):
            title = _("Escalation %(severity)s: %(incident)s %(title)s") % {
                "severity": incident.severity.label, "incident": incident.reference,
                "title": incident.title}
            body = _("You are on the %(severity)s escalation path (%(step)s, %(minutes)s min "
                     "after declaration).") % {"severity": incident.severity.label,
                                               "step": step.label,
                                               "minutes": step.after_minutes}
        notify(person, title=title, source="incidents.escalation",
               url=_room_url(incident), urgent=incident.severity.level == 1, body=body,
               dedupe_key=f"incident:{incident.pk}:{key}:{person.pk}")
    if not people:
        return f"{step.label}: nobody to notify."
    return f"{step.label}: notified {', '.join(p.display_name for p in people[:5])}" + (
        f" and {len(people) - 5} more." if len(people) > 5 else ".")


def fire_due_escalations(incident_id: int, *, now: datetime | None = None) -> int:
    """Fire the escalation steps whose time has come, once each; returns how many fired."""
    now = now or timezone.now()
    fired = 0
    with transaction.atomic():
        incident = _lock(incident_id)
        if not incident.is_open:
            return 0
        for step in incident.severity.steps.select_related("rotation", "user").order_by(
                "after_minutes", "pk"):
            if incident.declared_at + timedelta(minutes=step.after_minutes) > now:
                break
            key = f"escalation:{step.pk}"
            if not _fire(incident, key, now):
                continue
            what = _run_step(incident, step, key, now)
            _entry(incident, EntryKind.ESCALATION,
                   f"Escalation +{step.after_minutes} min: {what}", at=now)
            fired += 1
        incident.next_escalation_at = _next_escalation(incident)
        incident.save(update_fields=["next_escalation_at"])
    return fired


def _scan(column: str, fire, *, now: datetime, limit: int) -> int:
    ids = list(Incident.objects.filter(**{f"{column}__lte": now})
               .order_by(column).values_list("pk", flat=True)[:limit])
    return sum(1 for pk in ids if fire(pk, now=now))


def run_due(*, now: datetime | None = None, limit: int = 200) -> dict[str, int]:
    """What the beat job does each minute: scan the three indexed due columns."""
    now = now or timezone.now()
    return {
        "escalations": _scan("next_escalation_at", fire_due_escalations, now=now, limit=limit),
        "update_reminders": _scan("next_update_due_at", fire_update_reminder, now=now,
                                  limit=limit),
        "review_reminders": _scan("next_review_reminder_at", fire_review_reminder, now=now,
                                  limit=limit),
    }
