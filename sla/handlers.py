"""What moves SLA clocks: ticket domain events and organization tier changes.

`connect()` (called from SlaConfig.ready) subscribes to tickets.events; every handler
loads the ticket by id and calls one function of sla.services with the event's own
instant, so the clocks are exact however late the handler runs. Handlers are safe to
run twice: the services check state before acting.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from celery import shared_task
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.utils import timezone

from helpdesk.models import Organization
from tickets import events
from tickets.models import Ticket

from . import services
from .policies import active_policies

logger = logging.getLogger(__name__)


def _ticket(ticket_id: int) -> Ticket | None:
    ticket = Ticket.objects.select_related("organization").filter(pk=ticket_id).first()
    if ticket is None:
        logger.info("SLA: ticket %s is gone; event ignored", ticket_id)
    return ticket


def on_ticket_created(event: events.TicketCreated) -> None:
    # In the write that created it, the ticket is the object it inserted, with the
    # clocks planned before the INSERT (services.plan_clocks): no read, no lock, no UPDATE.
    planned = events.new_ticket(event.ticket_id)
    if planned is not None and services.start_planned(planned, at=event.at):
        return
    if ticket := planned or _ticket(event.ticket_id):
        services.start_clocks(ticket, at=event.at)


# The services below read the ticket together with its locked clocks (by id): one
# query, and none more for a ticket without clocks. A ticket gone meanwhile has none.

def on_public_reply(event: events.PublicReply) -> None:
    if events.created_in_this_write(event.ticket_id):
        return  # on_ticket_created starts the clocks from the ticket as it is now
    if event.by_agent:
        # The ticket as the write holds it, locked (the agent page's reply): no read.
        ticket = events.held_ticket(event.ticket_id) or event.ticket_id
        services.record_agent_reply(ticket, at=event.at, actor=event.actor_id)
    else:
        services.record_customer_reply(event.ticket_id, at=event.at, actor=event.actor_id)


def on_public_replies(batch: Sequence[events.PublicReply]) -> None:
    """Replies written together (an incident update): the agents' ones set-wise."""
    services.record_agent_replies([services.AgentReply(e.ticket_id, e.at, e.actor_id)
                                   for e in batch if e.by_agent])
    for event in batch:
        if not event.by_agent:
            on_public_reply(event)


def on_status_changes(batch: Sequence[events.StatusChanged]) -> None:
    """Status changes written together (the bulk bar, an incident's resolution)."""
    services.on_status_changes([services.StatusMove(e.ticket_id, e.at, e.actor_id, e.before,
                                                    e.after) for e in batch])


def on_status_changed(event: events.StatusChanged) -> None:
    if events.created_in_this_write(event.ticket_id):
        return  # on_ticket_created starts the clocks from the ticket as it is now
    services.on_status_change(event.ticket_id, event.before, event.after, at=event.at,
                              actor=event.actor_id)


def on_reopened(event: events.Reopened) -> None:
    if events.created_in_this_write(event.ticket_id):
        return  # on_ticket_created starts the clocks from the ticket as it is now
    services.record_reopen(event.ticket_id, at=event.at, actor=event.actor_id)


def on_merged(event: events.Merged) -> None:
    if Ticket.objects.filter(pk=event.ticket_id).exists():
        services.record_merge(event.ticket_id, into_id=event.into_id, at=event.at,
                              actor=event.actor_id)


def on_priority_changed(event: events.PriorityChanged) -> None:
    if events.created_in_this_write(event.ticket_id):
        return  # on_ticket_created starts the clocks from the ticket as it is now
    if ticket := _ticket(event.ticket_id):
        services.reevaluate(ticket, at=event.at, actor=event.actor_id,
                            reason=f"priority changed from P{event.before} to P{event.after}")


def _teams_matter() -> bool:
    """A team change can only change the policy when some active policy names teams."""
    return any(policy.teams.all() for policy in active_policies())


def on_team_changed(event: events.Assigned | events.Escalated) -> None:
    if events.created_in_this_write(event.ticket_id):
        return  # on_ticket_created starts the clocks from the ticket as it is now
    # Assigned also fires for assignee-only changes; assignees are no policy condition,
    # so only the team can matter, and re-evaluation is a no-op when nothing changed.
    on_teams_changed([event])


def on_teams_changed(batch: Sequence[events.Assigned | events.Escalated]) -> None:
    """Assignments written together (the bulk bar): whether teams matter is asked once."""
    if _teams_matter():
        for event in batch:
            if ticket := _ticket(event.ticket_id):
                services.reevaluate(ticket, at=event.at, actor=event.actor_id,
                                    reason="team changed")


def on_tags_changed(event: events.TagsChanged) -> None:
    if events.created_in_this_write(event.ticket_id):
        return  # on_ticket_created starts the clocks from the ticket as it is now
    if ticket := _ticket(event.ticket_id):
        services.reevaluate(ticket, at=event.at, actor=event.actor_id, reason="tags changed")


# --- organization tier -------------------------------------------------------------

def _remember_tier(sender: type[Organization], instance: Organization, raw: bool = False,
                   update_fields: Any = None, **kwargs: Any) -> None:
    instance._sla_tier_before = None
    if raw or instance.pk is None:
        return
    if update_fields is not None and "support_tier" not in update_fields:
        return
    instance._sla_tier_before = (
        Organization.objects.filter(pk=instance.pk).values_list("support_tier", flat=True)
        .first()
    )


def _on_organization_saved(sender: type[Organization], instance: Organization,
                           created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    before = getattr(instance, "_sla_tier_before", None)
    if created or raw or before is None or before == instance.support_tier:
        return
    org_id, at = instance.pk, timezone.now()
    reason = f"organization tier changed from {before} to {instance.support_tier}"
    # On a worker after commit, one transaction per ticket: a large organization's open
    # tickets must not hold the admin's request (and its locks) for the whole run.
    transaction.on_commit(
        lambda: reevaluate_organization_task.delay(org_id, at.isoformat(), reason))


@shared_task
def reevaluate_organization_task(organization_id: int, at: str, reason: str) -> int:
    """Re-evaluate an organization's open tickets after its tier changed (idempotent)."""
    return services.reevaluate_organization(
        organization_id, at=datetime.fromisoformat(at), reason=reason)


SUBSCRIPTIONS: list[tuple[type[events.TicketEvent], Any]] = [
    (events.TicketCreated, on_ticket_created),
    (events.PublicReply, on_public_reply),
    (events.StatusChanged, on_status_changed),
    (events.Reopened, on_reopened),
    (events.Merged, on_merged),
    (events.PriorityChanged, on_priority_changed),
    (events.Assigned, on_team_changed),
    (events.Escalated, on_team_changed),
    (events.TagsChanged, on_tags_changed),
]


# The set-wise form of a handler, for events dispatched together (same rule).
BATCH_FORMS: dict[Any, Any] = {
    on_public_reply: on_public_replies,
    on_status_changed: on_status_changes,
    on_team_changed: on_teams_changed,
}


def connect() -> None:
    """Subscribe the SLA handlers (idempotent)."""
    for event_type, handler in SUBSCRIPTIONS:
        events.subscribe(event_type, handler, many=BATCH_FORMS.get(handler))
    events.register_before_insert(services.plan_clocks)
    pre_save.connect(_remember_tier, sender=Organization, dispatch_uid="sla.remember_tier")
    post_save.connect(_on_organization_saved, sender=Organization,
                      dispatch_uid="sla.organization_tier")


def disconnect() -> None:
    for event_type, handler in SUBSCRIPTIONS:
        events.unsubscribe(event_type, handler)
    events.unregister_before_insert(services.plan_clocks)
    pre_save.disconnect(sender=Organization, dispatch_uid="sla.remember_tier")
    post_save.disconnect(sender=Organization, dispatch_uid="sla.organization_tier")
