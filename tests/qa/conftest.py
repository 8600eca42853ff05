"""QA fixtures: reviewers, the default scorecard, resolved tickets, and score picks."""
from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from django.utils import timezone

from helpdesk.roles import Role
from qa.models import Scorecard
from qa.services import ScoreInput
from tests.factories import make_user
from tickets.models import Ticket

_n = itertools.count(1)


@pytest.fixture
def reviewer(db):
    return make_user(Role.QA_REVIEWER, username="quinn")


@pytest.fixture
def reviewer2(db):
    return make_user(Role.QA_REVIEWER, username="rita")


@pytest.fixture
def card(db):
    return Scorecard.objects.get(is_current=True)


def resolved(requester, agent, *, at: datetime | None = None, team=None, category=None,
             priority: int = 3, reopen_count: int = 0, sla_level: str = "",
             status: str = "resolved") -> Ticket:
    """A ticket the agent resolved at `at` (rows written directly: sampling reads fields)."""
    at = at or timezone.now()
    if team is None and agent is not None:
        team = agent.memberships.first().team if agent.memberships.exists() else None
    return Ticket.objects.create(
        subject=f"Ticket {next(_n)}", description="Help", requester=requester, assignee=agent,
        team=team, category=category, priority=priority, status=status, created_at=at,
        updated_at=at, status_changed_at=at, resolved_at=at, reopen_count=reopen_count,
        sla_level=sla_level,
    )


def picks(card: Scorecard, points: dict[str, int] | None = None, *, auto_fail: tuple = (),
          na: tuple = (), comments: dict[str, str] | None = None,
          checklist: tuple = (), summary: str = "") -> ScoreInput:
    """Levels by dimension name and points; unnamed dimensions get full marks."""
    points = points or {}
    data = ScoreInput(summary=summary)
    for dim in card.dimensions.all():
        if dim.name in na:
            data.not_applicable.add(dim.pk)
            continue
        wanted = points.get(dim.name, dim.weight)
        if wanted is None:
            continue
        data.levels[dim.pk] = dim.levels.get(points=wanted).pk
        if comments and dim.name in comments:
            data.comments[dim.pk] = comments[dim.name]
    data.auto_fail = set(card.auto_fail_items.filter(name__in=auto_fail)
                         .values_list("pk", flat=True))
    data.checklist = set(card.checklist_items.filter(name__in=checklist)
                         .values_list("pk", flat=True))
    return data
