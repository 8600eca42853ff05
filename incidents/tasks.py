"""Incident jobs for Celery: thin and idempotent (unique rows decide what already ran)."""
from __future__ import annotations

from celery import shared_task

from .services import cascading, delivery, links, reminders  # the sections jobs run


@shared_task
def fan_out_update(update_id: int) -> int:
    """Send a public update to every linked ticket; a retry resumes where it stopped."""
    return delivery.fan_out(update_id).delivered


@shared_task
def resolve_cascade(incident_id: int, update_id: int) -> int:
    """The resolution message to every linked ticket, then move the tickets."""
    delivery.fan_out(update_id)
    return cascading.cascade(incident_id).delivered


@shared_task
def escalate_incident(incident_id: int) -> int:
    return reminders.fire_due_escalations(incident_id)


@shared_task
def run_due() -> dict[str, int]:
    """Each minute: escalation steps, update reminders and review reminders now due."""
    return reminders.run_due()


@shared_task
def suggest_links(ticket_id: int) -> int:
    return len(links.suggest_links(ticket_id))
