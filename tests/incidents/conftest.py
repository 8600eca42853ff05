"""Incident fixtures. Time stands still at START (Tuesday 10 March 2026, 11:00 UTC, inside
the on-call rotation's Berlin business hours) unless a test travels."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine

from helpdesk.roles import Role
from incidents import services
from tests.factories import make_ticket, make_user
from workforce.models import Rotation, RotationMember

START = datetime(2026, 3, 10, 11, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.fixture
def clock(db):
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller



@pytest.fixture
def oncall(db):
    people = {n: make_user(Role.AGENT, username=n) for n in ("ann", "bob", "cem")}
    rot = Rotation.objects.create(name="Platform", timezone="Europe/Berlin", handoff_weekday=0,
                                  handoff_time=time(9), starts_on=date(2026, 3, 2))
    for i, name in enumerate(("ann", "bob", "cem")):
        RotationMember.objects.create(rotation=rot, user=people[name], position=i)
    return rot  # week of 9 March: bob primary


@pytest.fixture
def tickets(clock, customer_a, customer_b):
    """Two tickets from Acme (enterprise), one from Globex (starter)."""
    return [make_ticket(customer_a, subject="Login fails"),
            make_ticket(customer_a, subject="Cannot sign in"),
            make_ticket(customer_b, subject="Login error 500")]


@pytest.fixture
def declare(run, lead):
    def make(*, users="multiple", impact="complete", actor=None, **kwargs):
        return run(services.declare, title=kwargs.pop("title", "Login outage"),
                   users_affected=users, impact=impact, actor=actor or lead, **kwargs)
    return make


def close(ticket, agent):
    """Resolve then close, through the state machine."""
    from tickets import services as ticket_services

    ticket_services.transition(ticket, "resolved", actor=agent)
    return ticket_services.transition(ticket, "closed", actor=agent)


def unassign(ticket, agent):
    """Back to the queue (triaged) if routing assigned it."""
    from tickets import services as ticket_services

    ticket.refresh_from_db()
    if ticket.status == "assigned":
        ticket = ticket_services.transition(ticket, "triaged", actor=agent, reason="test")
    return ticket
