"""Re-evaluation: new policy and targets when priority, team, tags or the tier change."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction

from tickets.models import OPEN_STATUS_VALUES, Ticket

from ..models import Clock, Policy
from ..policies import ResolvedTarget, active_policies, match_policy, targets_for
from .work import NOT_APPLICABLE, ClockWork, sync_ticket

if TYPE_CHECKING:
    from helpdesk.models import User

logger = logging.getLogger(__name__)


def reevaluate(ticket: Ticket, *, at: datetime, actor: User | int | None = None,
               reason: str = "", policies: Sequence[Policy] | None = None) -> list[Clock]:
    """Re-match the policy and recompute targets and due times from each clock's start.

    Called when priority, team, tags or the organization's tier change. Business time
    already used and the pauses are kept (recounted if the calendar changes). Clocks
    whose metric has no target any more become exempt ("not applicable: ..."); metrics
    that never had a clock and now have a target start from the ticket's original start.
    Returns the clocks whose targets changed (each with a "recomputed" event).
    """
    reason = reason or "ticket re-evaluated"
    with transaction.atomic():
        work = ClockWork(ticket.pk, at=at, actor=actor, ticket=ticket)
        policy = match_policy(ticket, policies=policies)
        changed: list[Clock] = []
        if policy is None:
            for clock in work.active():
                work.exempt(clock, reason=f"{NOT_APPLICABLE}no SLA policy matches")
            sync_ticket(ticket.pk)
            return changed
        cache: dict[datetime, dict[str, ResolvedTarget]] = {}

        def targets_at(start: datetime) -> dict[str, ResolvedTarget]:
            if start not in cache:
                cache[start] = targets_for(ticket, policy, at=start)
            return cache[start]

        for clock in work.active():
            target = targets_at(clock.started_at).get(clock.metric)
            if target is None:
                work.exempt(clock, reason=(
                    f"{NOT_APPLICABLE}no {clock.get_metric_display().lower()} target for "
                    f"P{ticket.priority} under {policy.name}"))
            elif work.recompute(clock, policy, target, reason=reason):
                changed.append(clock)
        work.backfill(policy, targets_at, reason=reason)
        work.apply_pausing(ticket.status, waiting_reason=ticket.waiting_reason)
        sync_ticket(ticket.pk)
    return changed


def reevaluate_organization(organization_id: int, *, at: datetime, batch_size: int = 200,
                            reason: str = "organization tier changed") -> int:
    """Re-evaluate the open tickets of an organization, in batches; returns how many.

    Each ticket is its own transaction, so a large organization never holds long locks;
    the active policies are loaded once.
    """
    policies = active_policies()
    base = (Ticket.objects.filter(organization_id=organization_id,
                                  status__in=OPEN_STATUS_VALUES)
            .select_related("organization").order_by("pk"))
    done, last_pk = 0, 0
    while True:
        batch = list(base.filter(pk__gt=last_pk)[:batch_size])
        if not batch:
            return done
        for ticket in batch:
            try:
                reevaluate(ticket, at=at, reason=reason, policies=policies)
            except Exception:  # one bad ticket must not stop the others
                logger.exception("SLA re-evaluation failed for ticket %s", ticket.pk)
            done += 1
        last_pk = batch[-1].pk
