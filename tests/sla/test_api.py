"""SLA state in the REST API: a ticket's clocks, and the approaching-breach list (agents)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from sla.models import Clock, ClockLevelFire, ClockState, Metric, Policy
from tickets.models import Ticket

from ..factories import make_ticket
from .test_views import keep_ticket_due_in_step

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 18, 10, 0, tzinfo=UTC)
MIN, H = timedelta(minutes=1), timedelta(hours=1)


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def put(ticket: Ticket, **fields) -> Ticket:
    Ticket.objects.filter(pk=ticket.pk).update(**fields)
    return Ticket.objects.get(pk=ticket.pk)


def running(ticket: Ticket, metric: str = Metric.FIRST_RESPONSE, *, due_in: timedelta,
            target: timedelta = H, **fields) -> Clock:
    start = NOW + due_in - target
    clock = Clock.objects.create(
        ticket=ticket, metric=metric, target=target, internal_target=target * 3 / 4,
        started_at=start, segment_started_at=start, due_at=start + target,
        internal_due_at=start + target * 3 / 4, policy=Policy.objects.first(), **fields)
    keep_ticket_due_in_step(ticket.pk)
    return clock


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ticket(customer_a, agent, l1):
    return put(make_ticket(customer_a, subject="API is slow"), team=l1, assignee=agent,
               sla_due_at=NOW + 15 * MIN, sla_level="orange")


@pytest.fixture
def clocks(ticket):
    first = running(ticket, due_in=15 * MIN)  # started 45 min ago, 24/7
    ClockLevelFire.objects.create(clock=first, percent=50, scheduled_at=NOW, fired_at=NOW)
    paused = Clock.objects.create(
        ticket=ticket, metric=Metric.RESOLUTION, target=8 * H, internal_target=6 * H,
        started_at=NOW - 3 * H, business_used=2 * H, state=ClockState.PAUSED,
        paused_at=NOW - 30 * MIN, policy=Policy.objects.first())
    return first, paused


def test_agent_reads_the_clocks_of_a_ticket(agent, ticket, clocks):
    first, paused = clocks

    response = api(agent).get(f"/api/v1/tickets/{ticket.pk}/sla/")

    assert response.status_code == 200
    body = response.json()
    assert body["ticket"] == ticket.pk
    assert body["sla_due_at"] == "2026-03-18T10:15:00Z"
    assert body["sla_level"] == "orange"
    by_metric = {c["metric"]: c for c in body["clocks"]}
    fr = by_metric["first_response"]
    assert fr["id"] == first.pk
    assert (fr["state"], fr["is_active"], fr["level"]) == ("running", True, "yellow")
    assert fr["due_at"] == "2026-03-18T10:15:00Z"
    assert fr["internal_due_at"] == "2026-03-18T10:00:00Z"
    assert (fr["target_seconds"], fr["internal_target_seconds"]) == (3600, 2700)
    assert fr["business_used_seconds"] == 45 * 60  # counted up to now
    assert fr["used_percent"] == 75
    assert fr["paused_since"] is None
    assert fr["met_at"] is None and fr["breached_at"] is None
    assert fr["policy"] == "Standard support" and fr["calendar"] is None
    res = by_metric["resolution"]
    assert (res["state"], res["due_at"]) == ("paused", None)
    assert res["paused_since"] == "2026-03-18T09:30:00Z"
    assert res["business_used_seconds"] == 2 * 3600  # nothing counts while paused


def test_completed_clock_shows_when_it_was_met_or_breached(agent, ticket):
    Clock.objects.create(
        ticket=ticket, metric=Metric.FIRST_RESPONSE, target=H, internal_target=45 * MIN,
        started_at=NOW - 3 * H, due_at=NOW - 2 * H, internal_due_at=NOW - 2 * H - 15 * MIN,
        business_used=90 * MIN, state=ClockState.BREACHED, breached_at=NOW - 2 * H,
        completed_at=NOW - 90 * MIN)

    clock = api(agent).get(f"/api/v1/tickets/{ticket.pk}/sla/").json()["clocks"][0]

    assert (clock["state"], clock["is_active"]) == ("breached", False)
    assert clock["breached_at"] == "2026-03-18T08:00:00Z"
    assert clock["completed_at"] == "2026-03-18T08:30:00Z"
    assert clock["level"] == ""  # not counting any more: no live colour
    assert clock["business_used_seconds"] == 90 * 60


@pytest.mark.parametrize("who", ["customer_a", "l2_agent"])
def test_customers_and_agents_who_cannot_see_the_ticket_get_404(request, who, ticket, clocks):
    user = request.getfixturevalue(who)
    assert api(user).get(f"/api/v1/tickets/{ticket.pk}/sla/").status_code == 404


def test_anonymous_and_unknown_ticket(agent, ticket):
    assert APIClient().get(f"/api/v1/tickets/{ticket.pk}/sla/").status_code in (401, 403)
    assert api(agent).get("/api/v1/tickets/999999/sla/").status_code == 404


def test_approaching_breach_list(agent, l2_agent, customer_a, ticket, clocks, l2):
    other = put(make_ticket(customer_a, subject="Other team"), team=l2, assignee=l2_agent)
    late = running(other, due_in=-10 * MIN, state=ClockState.BREACHED,
                   breached_at=NOW - 10 * MIN)
    running(other, Metric.RESOLUTION, due_in=3 * H, target=8 * H)  # not within the hour

    mine = api(agent).get("/api/v1/sla/approaching/").json()
    assert [c["id"] for c in mine["results"]] == [clocks[0].pk]
    assert mine["results"][0]["ticket"]["id"] == ticket.pk
    assert mine["results"][0]["ticket"]["assignee"]["name"] == agent.display_name

    theirs = api(l2_agent).get("/api/v1/sla/approaching/").json()
    assert [c["id"] for c in theirs["results"]] == [late.pk]
    assert theirs["results"][0]["level"] == "breach"  # overdue, level not fired yet

    wide = api(l2_agent).get("/api/v1/sla/approaching/", {"within": 240}).json()
    assert wide["count"] == 2
    assert api(l2_agent).get("/api/v1/sla/approaching/",
                             {"team": l2.pk + 1000}).json()["count"] == 0


def test_approaching_refuses_bad_input_and_customers(agent, customer_a):
    assert api(agent).get("/api/v1/sla/approaching/", {"within": 0}).status_code == 400
    assert api(agent).get("/api/v1/sla/approaching/", {"team": "x"}).status_code == 400
    assert api(customer_a).get("/api/v1/sla/approaching/").status_code == 404


def test_approaching_reads_in_constant_queries(manager, customer_a, l1):
    def build(n: int) -> None:
        for i in range(n):
            running(put(make_ticket(customer_a, subject=f"T{i}"), team=l1, assignee=None),
                    due_in=i * MIN)

    build(2)
    api(manager).get("/api/v1/sla/approaching/")  # warm-up: the user's permissions
    with CaptureQueriesContext(connection) as few:
        api(manager).get("/api/v1/sla/approaching/")
    build(5)
    with CaptureQueriesContext(connection) as many:
        body = api(manager).get("/api/v1/sla/approaching/").json()
    assert body["count"] == 7
    assert len(many) == len(few)


def test_schema_documents_the_sla_endpoints(client):
    schema = client.get("/api/schema/").content.decode()
    assert "/api/v1/tickets/{id}/sla/:" in schema
    assert "/api/v1/sla/approaching/:" in schema
    assert "business_used_seconds" in schema
