"""Assignment within a team: round robin, least loaded or skill based; away agents skipped.

Apps above `tickets` narrow the candidates further (workforce: off shift, on time off,
offline) by registering an availability filter; `tickets` never imports them.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from helpdesk.models import AssignmentStrategy, Membership, Team, User

from .models import OPEN_STATUS_VALUES, Ticket

AvailabilityFilter = Callable[[QuerySet[Membership], datetime], QuerySet[Membership]]

# Each filter takes the candidate memberships and "now" and returns them narrowed; it must
# stay a lazy queryset (subqueries, no per-row work) so assignment stays one query.
availability_filters: list[AvailabilityFilter] = []


def register_availability_filter(check: AvailabilityFilter) -> None:
    """Add a filter of the candidates (idempotent: registering twice keeps one)."""
    if check not in availability_filters:
        availability_filters.append(check)


def _available(team: Team):
    members = Membership.objects.filter(
        team=team, user__is_active=True, user__is_away=False
    ).select_related("user")
    now = timezone.now()
    for check in availability_filters:
        members = check(members, now)
    return members


def _open_load(memberships):
    return memberships.annotate(
        load=Count(
            "user__assigned_tickets",
            filter=Q(user__assigned_tickets__status__in=OPEN_STATUS_VALUES),
        )
    )


def pick_assignee(ticket: Ticket, team: Team) -> User | None:
    """Choose an agent for `ticket` in `team` by the team's strategy, or None (manual)."""
    strategy = team.assignment_strategy
    if strategy == AssignmentStrategy.MANUAL:
        return None
    members = _available(team)
    if strategy == AssignmentStrategy.ROUND_ROBIN:
        # Lock the team's rows so two simultaneous tickets do not go to the same agent.
        chosen = (members.select_for_update(of=("self",))
                  .order_by(F("last_assigned_at").asc(nulls_first=True), "id").first())
    elif strategy == AssignmentStrategy.LEAST_LOADED:
        chosen = _open_load(members).order_by(
            "load", F("last_assigned_at").asc(nulls_first=True), "id").first()
    else:  # skill based: agents holding every skill the ticket needs, least loaded first
        needed = [s for s in (
            getattr(ticket.category, "skill_id", None),
            getattr(ticket.product_area, "skill_id", None),
        ) if s]
        skilled = members
        for skill_id in needed:
            skilled = skilled.filter(user__skills=skill_id)
        chosen = _open_load(skilled).order_by(
            "load", F("last_assigned_at").asc(nulls_first=True), "id").first()
        if chosen is None:
            chosen = _open_load(members).order_by(
                "load", F("last_assigned_at").asc(nulls_first=True), "id").first()
    if chosen is None:
        return None
    chosen.last_assigned_at = timezone.now()
    # A bookkeeping column of the strategy, not a change to audit: the assignment itself
    # is audited on the ticket (one UPDATE, no admin audit entry per new ticket).
    Membership.objects.filter(pk=chosen.pk).update(last_assigned_at=chosen.last_assigned_at)
    user = chosen.user
    if not user.is_agent:
        return None
    return user
